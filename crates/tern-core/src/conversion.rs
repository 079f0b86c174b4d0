//! Conversions: a client reports that the recipient of a message acted on it. The rules that turn
//! a [`ConversionRequest`] into a [`Conversion`]; their refusals are rows of the error table.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use tern_proto::cm::conversion::ConversionRequest;

use crate::account::ProductToken;
pub use crate::error_code::ConversionError;

/// A valid conversion, before the store matches it to messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    pub recipient: String,
    pub reference: String,
    pub converted_at: Timestamp,
}

/// The product token, or why the request is not authenticated.
pub fn token(request: &ConversionRequest) -> Result<ProductToken, ConversionError> {
    match &request.product_token {
        Some(text) => text
            .parse()
            .map_err(|_| ConversionError::InvalidProductToken),
        None if request.login_authentication => Err(ConversionError::LoginAuthentication),
        None => Err(ConversionError::Unauthenticated),
    }
}

/// Check the fields; `ConvertedTimestamp` defaults to `now`, and without a zone is CE(S)T.
pub fn validate(
    request: &ConversionRequest,
    now: Timestamp,
) -> Result<Conversion, ConversionError> {
    let recipient = request
        .msisdn
        .clone()
        .ok_or(ConversionError::MissingField("Msisdn"))?;
    let reference = request
        .reference
        .clone()
        .ok_or(ConversionError::MissingField("Reference"))?;
    let converted_at = match request.converted_timestamp.as_deref() {
        None => now,
        Some(text) => {
            parse_time(text).ok_or_else(|| ConversionError::InvalidTimestamp(text.to_owned()))?
        }
    };
    Ok(Conversion {
        recipient,
        reference,
        converted_at,
    })
}

fn parse_time(text: &str) -> Option<Timestamp> {
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Some(timestamp);
    }
    let civil: DateTime = text.parse().ok()?;
    let zone = TimeZone::get("Europe/Amsterdam").ok()?;
    zone.to_ambiguous_timestamp(civil).compatible().ok()
}

/// The forms of a number the store should match: as sent, and `+` / `00` swapped.
pub fn number_forms(number: &str) -> Vec<String> {
    let trimmed = number.trim();
    let mut forms = vec![trimmed.to_owned()];
    if let Some(rest) = trimmed.strip_prefix('+') {
        forms.push(format!("00{rest}"));
    } else if let Some(rest) = trimmed.strip_prefix("00") {
        forms.push(format!("+{rest}"));
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        token: Option<&str>,
        msisdn: Option<&str>,
        reference: Option<&str>,
        at: Option<&str>,
    ) -> ConversionRequest {
        ConversionRequest {
            product_token: token.map(str::to_owned),
            login_authentication: false,
            msisdn: msisdn.map(str::to_owned),
            reference: reference.map(str::to_owned),
            converted_timestamp: at.map(str::to_owned),
        }
    }

    #[test]
    fn rules() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        assert_eq!(
            token(&request(None, None, None, None)),
            Err(ConversionError::Unauthenticated)
        );
        assert_eq!(
            token(&request(Some("x"), None, None, None))
                .unwrap_err()
                .http_status(),
            403
        );
        let valid = validate(
            &request(
                None,
                Some("0031612345678"),
                Some("r"),
                Some("2026-11-25T10:00:00"),
            ),
            now,
        )
        .unwrap();
        assert_eq!(
            valid.converted_at,
            "2026-11-25T09:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            validate(&request(None, None, Some("r"), None), now)
                .unwrap_err()
                .http_status(),
            400
        );
        assert_eq!(
            validate(&request(None, Some("1"), Some("r"), Some("soon")), now)
                .unwrap_err()
                .http_status(),
            400
        );
        assert_eq!(
            number_forms("+3161"),
            vec!["+3161".to_string(), "003161".to_string()]
        );
    }
}
