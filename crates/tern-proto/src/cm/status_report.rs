//! CM's status report webhook bodies, JSON and XML. The JSON form carries `msg` as an object, not
//! an array (CM's documented quirk); dates are `yyyy-MM-ddTHH:mm:ss`.

use std::borrow::Cow;

use serde::Serialize;

/// The status codes as the JSON body writes them (a string), without formatting each.
const STATUS_CODES: [&str; 5] = ["0", "1", "2", "3", "4"];

/// The JSON body's shape; fields in alphabetical order, the order of the body's keys.
#[derive(Serialize)]
struct JsonBody<'a> {
    messages: JsonMessages<'a>,
}

#[derive(Serialize)]
struct JsonMessages<'a> {
    msg: JsonMsg<'a>,
}

#[derive(Serialize)]
struct JsonMsg<'a> {
    channel: &'a str,
    #[serde(rename = "customGrouping")]
    custom_grouping: &'a str,
    #[serde(rename = "customGrouping2")]
    custom_grouping2: &'a str,
    #[serde(rename = "customGrouping3")]
    custom_grouping3: &'a str,
    #[serde(rename = "messageId")]
    message_id: &'a str,
    operator: &'a str,
    received: &'a str,
    reference: &'a str,
    #[serde(rename = "reportId")]
    report_id: &'a str,
    status: JsonStatus<'a>,
    to: &'a str,
}

#[derive(Serialize)]
struct JsonStatus<'a> {
    code: Cow<'a, str>,
    #[serde(rename = "errorCode")]
    error_code: &'a str,
    #[serde(rename = "errorDescription")]
    error_description: &'a str,
}

/// Everything one report says.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    /// When the status was registered, already formatted `yyyy-MM-ddTHH:mm:ss`.
    pub received: String,
    pub to: String,
    pub reference: Option<String>,
    /// CM status code 0-4.
    pub status_code: u8,
    /// Standard error code (5-37), if any.
    pub error_code: Option<u16>,
    /// The error's description, or the status description when there is no error.
    pub description: String,
    pub channel: String,
    pub operator: Option<String>,
    pub custom_groupings: [Option<String>; 3],
    /// Tern's message id.
    pub message_id: String,
    /// Tern's id of this report: the same on every retry of it, different for every status
    /// change, so receivers can drop a report they have already processed.
    pub report_id: String,
}

impl StatusReport {
    /// The JSON body. Written through borrowed fields rather than a `serde_json::Value` tree
    /// (which copied every string and sorted the keys in a map for every report, a tenth of the
    /// notifier's work per report); the bytes are the same: keys in alphabetical order, as the
    /// tree wrote them (checked against it in the tests).
    pub fn to_json(&self) -> Vec<u8> {
        let error_code = self.error_code.map(|code| code.to_string());
        let body = JsonBody {
            messages: JsonMessages {
                msg: JsonMsg {
                    channel: &self.channel,
                    custom_grouping: self.custom_groupings[0].as_deref().unwrap_or_default(),
                    custom_grouping2: self.custom_groupings[1].as_deref().unwrap_or_default(),
                    custom_grouping3: self.custom_groupings[2].as_deref().unwrap_or_default(),
                    message_id: &self.message_id,
                    operator: self.operator.as_deref().unwrap_or_default(),
                    received: &self.received,
                    reference: self.reference.as_deref().unwrap_or_default(),
                    report_id: &self.report_id,
                    status: JsonStatus {
                        code: STATUS_CODES
                            .get(usize::from(self.status_code))
                            .copied()
                            .map_or_else(|| self.status_code.to_string().into(), Cow::Borrowed),
                        error_code: error_code.as_deref().unwrap_or_default(),
                        error_description: &self.description,
                    },
                    to: &self.to,
                },
            },
        };
        let mut out = Vec::with_capacity(512);
        serde_json::to_writer(&mut out, &body).expect("report serializes");
        out
    }

    /// The XML body.
    pub fn to_xml(&self) -> Vec<u8> {
        let field = |name: &str, value: &str| format!("<{name}>{}</{name}>", escape(value));
        let optional = |value: &Option<String>| value.clone().unwrap_or_default();
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><MESSAGES><MSG RECEIVED=\"{}\" REPORTID=\"{}\">{}{}<STATUS>{}{}{}</STATUS>{}{}{}{}{}{}</MSG></MESSAGES>",
            escape(&self.received),
            escape(&self.report_id),
            field("TO", &self.to),
            field("REFERENCE", &optional(&self.reference)),
            field("CODE", &self.status_code.to_string()),
            field(
                "ERRORCODE",
                &self.error_code.map(|c| c.to_string()).unwrap_or_default()
            ),
            field("ERRORDESCRIPTION", &self.description),
            field("OPERATOR", &optional(&self.operator)),
            field("CHANNEL", &self.channel),
            field("CUSTOMGROUPING", &optional(&self.custom_groupings[0])),
            field("CUSTOMGROUPING2", &optional(&self.custom_groupings[1])),
            field("CUSTOMGROUPING3", &optional(&self.custom_groupings[2])),
            field("MESSAGEID", &self.message_id),
        );
        xml.into_bytes()
    }
}

/// XML text escaping of the five special characters.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> StatusReport {
        StatusReport {
            received: "2026-11-24T12:00:00".into(),
            to: "0031612345678".into(),
            reference: Some("ref1".into()),
            status_code: 2,
            error_code: None,
            description: "Delivered".into(),
            channel: "SMS".into(),
            operator: Some("20416".into()),
            custom_groupings: [Some("a&b".into()), None, None],
            message_id: "m1".into(),
            report_id: "m1-2".into(),
        }
    }

    #[test]
    fn json_matches_cm_shape() {
        let body: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
        assert_eq!(
            body,
            json!({"messages":{"msg":{"received":"2026-11-24T12:00:00","to":"0031612345678","reference":"ref1",
                "status":{"code":"2","errorCode":"","errorDescription":"Delivered"},"operator":"20416",
                "channel":"SMS","customGrouping":"a&b","customGrouping2":"","customGrouping3":"","messageId":"m1",
                "reportId":"m1-2"}}})
        );
    }

    /// The body as it was written before, through a `serde_json::Value` tree.
    fn json_through_a_value(report: &StatusReport) -> Vec<u8> {
        serde_json::to_vec(&json!({"messages": {"msg": {
            "received": report.received,
            "to": report.to,
            "reference": report.reference.clone().unwrap_or_default(),
            "status": {
                "code": report.status_code.to_string(),
                "errorCode": report.error_code.map(|c| c.to_string()).unwrap_or_default(),
                "errorDescription": report.description,
            },
            "operator": report.operator.clone().unwrap_or_default(),
            "channel": report.channel,
            "customGrouping": report.custom_groupings[0].clone().unwrap_or_default(),
            "customGrouping2": report.custom_groupings[1].clone().unwrap_or_default(),
            "customGrouping3": report.custom_groupings[2].clone().unwrap_or_default(),
            "messageId": report.message_id,
            "reportId": report.report_id,
        }}}))
        .unwrap()
    }

    #[test]
    fn json_bytes_are_those_of_the_value_tree() {
        let mut reports = vec![sample()];
        let mut odd = sample();
        odd.reference = None;
        odd.operator = None;
        odd.status_code = 3;
        odd.error_code = Some(24);
        odd.description = "Quote \" backslash \\ tab \t nul \u{0} é \u{1F600} </script>".into();
        odd.custom_groupings = [None, Some("\n".into()), Some("x".repeat(300))];
        reports.push(odd);
        let mut unknown_code = sample();
        unknown_code.status_code = 17;
        reports.push(unknown_code);
        for report in &reports {
            assert_eq!(
                String::from_utf8(report.to_json()).unwrap(),
                String::from_utf8(json_through_a_value(report)).unwrap()
            );
        }
        assert_eq!(
            String::from_utf8(sample().to_json()).unwrap(),
            r#"{"messages":{"msg":{"channel":"SMS","customGrouping":"a&b","customGrouping2":"","customGrouping3":"","messageId":"m1","operator":"20416","received":"2026-11-24T12:00:00","reference":"ref1","reportId":"m1-2","status":{"code":"2","errorCode":"","errorDescription":"Delivered"},"to":"0031612345678"}}}"#
        );
    }

    #[test]
    fn xml_is_escaped() {
        let xml = String::from_utf8(sample().to_xml()).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><MESSAGES><MSG RECEIVED=\"2026-11-24T12:00:00\" REPORTID=\"m1-2\"><TO>0031612345678</TO><REFERENCE>ref1</REFERENCE><STATUS><CODE>2</CODE><ERRORCODE></ERRORCODE><ERRORDESCRIPTION>Delivered</ERRORDESCRIPTION></STATUS>"));
        assert!(xml.contains("<CUSTOMGROUPING>a&amp;b</CUSTOMGROUPING>"));
    }
}
