//! CM's app SDK (CMPush, Android and iOS) on the wire, so that Tern can stand where CM's Push
//! back end stands: the registration a device posts to `…/push/v2/accounts/{appKey}/register`
//! ([`Registration`], answered `201 {"installationId":…}`, [`Registered`]), the events it posts
//! to `…/profiles/{installationId}/events` (a delivery confirmation or an interaction,
//! [`DeviceEvent`]), and the payload Tern sends it inside an FCM data message under the key
//! `cm` ([`CmPayload`]).
//!
//! Field names are the SDK's. Keys are read case-insensitively and unknown fields are ignored,
//! as elsewhere in CM's API; bad input is a typed [`PushSdkError`], never a panic. Numbers
//! (`msisdn`) are normalised to CM's canonical `00` form ([`normalise_msisdn`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cm::wire::normalize_keys;

/// The longest push token kept, in bytes (FCM's are about 160, APNs' 64 hex digits).
pub const MAX_TOKEN_BYTES: usize = 4096;
/// The longest other text field kept, in characters.
pub const MAX_FIELD_CHARS: usize = 256;
/// The most preferred languages kept.
pub const MAX_LANGUAGES: usize = 32;

/// Why a body from the SDK cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushSdkError {
    #[error("the body is not JSON")]
    NotJson,
    #[error("the body is not a JSON object")]
    NotAnObject,
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{0} must be text")]
    NotText(&'static str),
    #[error("{field} is longer than {limit}")]
    TooLong { field: &'static str, limit: usize },
    #[error("msisdn '{0}' is not an international number (00… or +…)")]
    InvalidMsisdn(String),
    #[error("the body has neither statusReport nor event")]
    UnknownEvent,
}

/// A number in CM's `00` form: `00…` as given, `+…` with the plus made `00`; 1 to 15 digits
/// after the prefix, the first not 0. Anything else is `None`.
pub fn normalise_msisdn(text: &str) -> Option<String> {
    let text = text.trim();
    let digits = text.strip_prefix('+').or_else(|| text.strip_prefix("00"))?;
    (!digits.is_empty()
        && digits.len() <= 15
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit()))
    .then(|| format!("00{digits}"))
}

/// What a device registers (or updates, with `PUT …/register/{installationId}`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Registration {
    /// The FCM registration token (or APNs device token).
    pub push_token: String,
    /// `Android` or `iOS`, as the SDK says.
    pub device_os: String,
    pub device_os_version: Option<String>,
    pub device_model: Option<String>,
    /// The app's package name or bundle id.
    pub app_id: Option<String>,
    pub app_version: Option<String>,
    pub lib_id: Option<String>,
    pub lib_version: Option<String>,
    /// `Unknown`, `NotAuthorized`, `Authorized` or `Provisional` (notification permission).
    pub push_authorization: Option<String>,
    pub preferred_languages: Vec<String>,
    /// The device's number in the `00` form, when the app gives it.
    pub msisdn: Option<String>,
}

impl Registration {
    /// Read a registration body: `pushToken` and `deviceOs` are required, the rest optional
    /// (`null` counts as absent); `msisdn` must be `00…` or `+…`.
    pub fn parse(body: &[u8]) -> Result<Registration, PushSdkError> {
        let object = object_of(body)?;
        let required = |key: &str, field: &'static str, limit: usize| {
            text(&object, key, field, limit)?.ok_or(PushSdkError::Missing(field))
        };
        let optional = |key: &str, field: &'static str| text(&object, key, field, MAX_FIELD_CHARS);
        let push_token = required("pushtoken", "pushToken", MAX_TOKEN_BYTES)?;
        if push_token.len() > MAX_TOKEN_BYTES {
            return Err(PushSdkError::TooLong {
                field: "pushToken",
                limit: MAX_TOKEN_BYTES,
            });
        }
        let msisdn = match optional("msisdn", "msisdn")? {
            Some(text) => Some(normalise_msisdn(&text).ok_or(PushSdkError::InvalidMsisdn(text))?),
            None => None,
        };
        Ok(Registration {
            push_token,
            device_os: required("deviceos", "deviceOs", MAX_FIELD_CHARS)?,
            device_os_version: optional("deviceosversion", "deviceOsVersion")?,
            device_model: optional("devicemodel", "deviceModel")?,
            app_id: optional("appid", "appId")?,
            app_version: optional("appversion", "appVersion")?,
            lib_id: optional("libid", "libId")?,
            lib_version: optional("libversion", "libVersion")?,
            push_authorization: optional("pushauthorization", "pushAuthorization")?,
            preferred_languages: languages(object.get("preferredlanguages"))?,
            msisdn,
        })
    }

    /// The body as the SDK sends it (absent fields left out).
    pub fn to_json(&self) -> String {
        let mut object = Map::new();
        let mut put = |key: &str, value: Option<&String>| {
            if let Some(value) = value {
                object.insert(key.to_owned(), Value::String(value.clone()));
            }
        };
        put("pushToken", Some(&self.push_token));
        put("deviceOs", Some(&self.device_os));
        put("deviceOsVersion", self.device_os_version.as_ref());
        put("deviceModel", self.device_model.as_ref());
        put("appId", self.app_id.as_ref());
        put("appVersion", self.app_version.as_ref());
        put("libId", self.lib_id.as_ref());
        put("libVersion", self.lib_version.as_ref());
        put("pushAuthorization", self.push_authorization.as_ref());
        put("msisdn", self.msisdn.as_ref());
        if !self.preferred_languages.is_empty() {
            object.insert(
                "preferredLanguages".to_owned(),
                Value::from(self.preferred_languages.clone()),
            );
        }
        Value::Object(object).to_string()
    }
}

fn object_of(body: &[u8]) -> Result<Map<String, Value>, PushSdkError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| PushSdkError::NotJson)?;
    match normalize_keys(value) {
        Value::Object(object) => Ok(object),
        _ => Err(PushSdkError::NotAnObject),
    }
}

/// A text field: absent, `null` or blank is `None`; a number or a boolean is its text; anything
/// else is an error, as is text longer than `limit` characters.
fn text(
    object: &Map<String, Value>,
    key: &str,
    field: &'static str,
    limit: usize,
) -> Result<Option<String>, PushSdkError> {
    let text = match object.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => text.trim().to_owned(),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::Bool(flag)) => flag.to_string(),
        Some(_) => return Err(PushSdkError::NotText(field)),
    };
    if text.chars().count() > limit {
        return Err(PushSdkError::TooLong { field, limit });
    }
    Ok(Some(text).filter(|t| !t.is_empty()))
}

/// `preferredLanguages`: an array of texts, or one text (comma-separated).
fn languages(value: Option<&Value>) -> Result<Vec<String>, PushSdkError> {
    const FIELD: &str = "preferredLanguages";
    let items: Vec<String> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => text.split(',').map(|t| t.trim().to_owned()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.trim().to_owned()),
                _ => Err(PushSdkError::NotText(FIELD)),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(PushSdkError::NotText(FIELD)),
    };
    let items: Vec<String> = items.into_iter().filter(|t| !t.is_empty()).collect();
    if items.len() > MAX_LANGUAGES {
        return Err(PushSdkError::TooLong {
            field: FIELD,
            limit: MAX_LANGUAGES,
        });
    }
    if items.iter().any(|t| t.chars().count() > MAX_FIELD_CHARS) {
        return Err(PushSdkError::TooLong {
            field: FIELD,
            limit: MAX_FIELD_CHARS,
        });
    }
    Ok(items)
}

/// The answer to a registration: `201 {"installationId":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    #[serde(rename = "installationId")]
    pub installation_id: String,
}

impl Registered {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an answer always serialises")
    }
}

/// What a device posts to `…/profiles/{installationId}/events`.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceEvent {
    /// `{"statusReport":{"status":"Delivered","messageId":…,"timestamp":"yyyy-MM-ddTHH:mm:ssZ"}}`.
    StatusReport {
        status: String,
        message_id: String,
        timestamp: Option<String>,
    },
    /// `{"event":{"type":"MessageOpened|MessageDismissed|…","reference":…,"custom":{…}}}`.
    Interaction {
        event_type: String,
        reference: Option<String>,
        custom: Option<Value>,
    },
}

impl DeviceEvent {
    /// Read an events body: `statusReport` (with `status` and `messageId`) or `event` (with
    /// `type`).
    pub fn parse(body: &[u8]) -> Result<DeviceEvent, PushSdkError> {
        let object = object_of(body)?;
        if let Some(report) = object.get("statusreport").and_then(Value::as_object) {
            return Ok(DeviceEvent::StatusReport {
                status: text(report, "status", "statusReport.status", MAX_FIELD_CHARS)?
                    .ok_or(PushSdkError::Missing("statusReport.status"))?,
                message_id: text(
                    report,
                    "messageid",
                    "statusReport.messageId",
                    MAX_FIELD_CHARS,
                )?
                .ok_or(PushSdkError::Missing("statusReport.messageId"))?,
                timestamp: text(
                    report,
                    "timestamp",
                    "statusReport.timestamp",
                    MAX_FIELD_CHARS,
                )?,
            });
        }
        if let Some(event) = object.get("event").and_then(Value::as_object) {
            return Ok(DeviceEvent::Interaction {
                event_type: text(event, "type", "event.type", MAX_FIELD_CHARS)?
                    .ok_or(PushSdkError::Missing("event.type"))?,
                reference: text(event, "reference", "event.reference", MAX_FIELD_CHARS)?,
                custom: event.get("custom").filter(|v| !v.is_null()).cloned(),
            });
        }
        Err(PushSdkError::UnknownEvent)
    }

    /// Whether it confirms delivery of a message (`statusReport.status` `Delivered`, in any
    /// case): the message id when it does.
    pub fn delivered(&self) -> Option<&str> {
        match self {
            DeviceEvent::StatusReport {
                status, message_id, ..
            } if status.eq_ignore_ascii_case("delivered") => Some(message_id),
            _ => None,
        }
    }

    /// The body of a delivery confirmation of `message_id`, as the SDK sends it.
    pub fn delivered_json(message_id: &str, timestamp: &str) -> String {
        serde_json::json!({"statusReport": {
            "status": "Delivered", "messageId": message_id, "timestamp": timestamp,
        }})
        .to_string()
    }
}

/// The JSON under the data key `cm`: what CM's SDK shows and confirms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CmPayload {
    /// The id the device confirms delivery of.
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default)]
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<PayloadMedia>,
    #[serde(default)]
    pub suggestions: Vec<PayloadSuggestion>,
    /// What tapping the notification itself does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<PayloadSuggestion>,
}

/// `media`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadMedia {
    #[serde(default)]
    pub media_name: String,
    #[serde(default)]
    pub media_uri: String,
    #[serde(default)]
    pub mime_type: String,
}

/// One of `suggestions[]`: `action` is `OpenUrl` (with `url`), `Reply` (with `postbackData`)
/// or `OpenAppPage` (with `page`). The SDK reads `postbackData`; `postbackdata` is read too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadSuggestion {
    pub action: String,
    #[serde(default)]
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    #[serde(
        rename = "postbackData",
        alias = "postbackdata",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub postback_data: Option<String>,
}

impl CmPayload {
    /// The JSON text that is the value of the data key `cm`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a payload always serialises")
    }

    /// Read a `cm` value (as the stand-in and tests do).
    pub fn parse(text: &str) -> Result<CmPayload, PushSdkError> {
        serde_json::from_str(text).map_err(|_| PushSdkError::NotJson)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msisdns_are_normalised_to_the_00_form() {
        assert_eq!(
            normalise_msisdn("0031612345678").as_deref(),
            Some("0031612345678")
        );
        assert_eq!(
            normalise_msisdn(" +31612345678 ").as_deref(),
            Some("0031612345678")
        );
        for bad in [
            "31612345678",
            "06123",
            "+",
            "00",
            "+0123",
            "+31 6",
            "+1234567890123456",
            "0 031",
        ] {
            assert_eq!(normalise_msisdn(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_registration_as_the_android_sdk_sends_it() {
        let body = br#"{"pushToken":"fcm-token-1","deviceOs":"Android","deviceOsVersion":"14 (34)",
            "deviceModel":"Pixel 8","appId":"com.acme.app","appVersion":"1.2","libId":"com.cm.cmpush",
            "libVersion":"2.0.0","pushAuthorization":"Authorized","preferredLanguages":["nl-NL","en"],
            "msisdn":"+31612345678","otpCode":"1234","extra":{"x":1}}"#;
        let registration = Registration::parse(body).unwrap();
        assert_eq!(
            registration,
            Registration {
                push_token: "fcm-token-1".into(),
                device_os: "Android".into(),
                device_os_version: Some("14 (34)".into()),
                device_model: Some("Pixel 8".into()),
                app_id: Some("com.acme.app".into()),
                app_version: Some("1.2".into()),
                lib_id: Some("com.cm.cmpush".into()),
                lib_version: Some("2.0.0".into()),
                push_authorization: Some("Authorized".into()),
                preferred_languages: vec!["nl-NL".into(), "en".into()],
                msisdn: Some("0031612345678".into()),
            }
        );
        assert_eq!(
            Registration::parse(registration.to_json().as_bytes()).unwrap(),
            registration
        );
    }

    #[test]
    fn bad_registrations_say_why() {
        let cases: &[(&[u8], PushSdkError)] = &[
            (b"nope", PushSdkError::NotJson),
            (b"[1]", PushSdkError::NotAnObject),
            (
                br#"{"deviceOs":"Android"}"#,
                PushSdkError::Missing("pushToken"),
            ),
            (
                br#"{"pushToken":" ","deviceOs":"Android"}"#,
                PushSdkError::Missing("pushToken"),
            ),
            (br#"{"pushToken":"t"}"#, PushSdkError::Missing("deviceOs")),
            (
                br#"{"pushToken":["t"],"deviceOs":"iOS"}"#,
                PushSdkError::NotText("pushToken"),
            ),
            (
                br#"{"pushToken":"t","deviceOs":"iOS","msisdn":"0612345678"}"#,
                PushSdkError::InvalidMsisdn("0612345678".into()),
            ),
            (
                br#"{"pushToken":"t","deviceOs":"iOS","preferredLanguages":[1]}"#,
                PushSdkError::NotText("preferredLanguages"),
            ),
        ];
        for (body, error) in cases {
            assert_eq!(
                Registration::parse(body).as_ref(),
                Err(error),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let long = format!(r#"{{"pushToken":"t","deviceOs":"{}"}}"#, "x".repeat(257));
        assert_eq!(
            Registration::parse(long.as_bytes()),
            Err(PushSdkError::TooLong {
                field: "deviceOs",
                limit: 256
            })
        );
        // Keys in another case and nulls are read as CM's API reads them.
        let loose = Registration::parse(
            br#"{"PUSHTOKEN":"t","deviceos":"iOS","msisdn":null,"preferredLanguages":"nl, en"}"#,
        )
        .unwrap();
        assert_eq!(
            (loose.msisdn, loose.preferred_languages),
            (None, vec!["nl".to_owned(), "en".to_owned()])
        );
    }

    #[test]
    fn events_are_status_reports_or_interactions() {
        let delivered = DeviceEvent::parse(
            br#"{"statusReport":{"status":"Delivered","messageId":"m-1","timestamp":"2026-12-01T04:00:00Z"}}"#,
        )
        .unwrap();
        assert_eq!(delivered.delivered(), Some("m-1"));
        assert_eq!(
            DeviceEvent::parse(
                DeviceEvent::delivered_json("m-1", "2026-12-01T04:00:00Z").as_bytes()
            )
            .unwrap(),
            delivered
        );
        let opened = DeviceEvent::parse(
            br#"{"event":{"type":"MessageOpened","reference":"m-1","custom":{"a":"b"}}}"#,
        )
        .unwrap();
        assert_eq!(
            opened,
            DeviceEvent::Interaction {
                event_type: "MessageOpened".into(),
                reference: Some("m-1".into()),
                custom: Some(serde_json::json!({"a": "b"})),
            }
        );
        assert_eq!(opened.delivered(), None);
        assert_eq!(
            DeviceEvent::parse(br#"{"statusReport":{"status":"Delivered"}}"#),
            Err(PushSdkError::Missing("statusReport.messageId"))
        );
        assert_eq!(
            DeviceEvent::parse(br#"{"other":{}}"#),
            Err(PushSdkError::UnknownEvent)
        );
    }

    #[test]
    fn the_payload_uses_the_sdks_field_names() {
        let payload = CmPayload {
            message_id: "m".into(),
            title: Some("T".into()),
            body: "B".into(),
            media: Some(PayloadMedia {
                media_name: "n".into(),
                media_uri: "https://x/i.png".into(),
                mime_type: "image/png".into(),
            }),
            suggestions: vec![PayloadSuggestion {
                action: "Reply".into(),
                label: "Yes".into(),
                url: None,
                page: None,
                postback_data: Some("yes".into()),
            }],
            default_action: None,
        };
        let json = payload.to_json();
        assert_eq!(
            json,
            r#"{"messageId":"m","title":"T","body":"B","media":{"mediaName":"n","mediaUri":"https://x/i.png","mimeType":"image/png"},"suggestions":[{"action":"Reply","label":"Yes","postbackData":"yes"}]}"#
        );
        assert_eq!(CmPayload::parse(&json).unwrap(), payload);
        let lower = CmPayload::parse(r#"{"messageId":"m","body":"B","suggestions":[{"action":"Reply","label":"Y","postbackdata":"y"}]}"#).unwrap();
        assert_eq!(lower.suggestions[0].postback_data.as_deref(), Some("y"));
    }
}
