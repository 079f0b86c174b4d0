//! CM's HTTP GET interface (`GET /gateway.ashx?producttoken=…&body=…&to=…&from=…`): decoded query
//! parameters (names without case) mapped into a [`SubmitRequest`] with one message.

use crate::cm::submission::{SubmitRequest, SubmittedBody, SubmittedMsg};

/// Build the request from decoded `(name, value)` pairs. Repeated `to` parameters are kept so
/// the domain can refuse more than one number.
pub fn parse_submit(pairs: &[(String, String)]) -> SubmitRequest {
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    };
    let to: Vec<_> = pairs
        .iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case("to"))
        .map(|(_, number)| Ok(Some(number.trim().to_owned())))
        .collect();
    let msg = SubmittedMsg {
        from: Ok(value("from").filter(|f| !f.trim().is_empty())),
        to: Ok((!to.is_empty()).then_some(to)),
        body: Ok(value("body").map(|content| SubmittedBody {
            content: Ok(Some(content)),
            body_type: Ok(None),
        })),
        reference: Ok(value("reference").filter(|r| !r.is_empty())),
        app_key: Ok(value("appkey").filter(|k| !k.is_empty())),
        ..SubmittedMsg::default()
    };
    SubmitRequest {
        product_token: value("producttoken"),
        messages: Ok(Some(vec![msg])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive() {
        let pairs: Vec<(String, String)> = [
            ("PRODUCTTOKEN", "t"),
            ("Body", "Example message text"),
            ("to", "00447911123456"),
            ("From", "SenderName"),
            ("reference", "your_reference"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let request = parse_submit(&pairs);
        assert_eq!(request.product_token.as_deref(), Some("t"));
        let msg = &request.messages.unwrap().unwrap()[0];
        assert_eq!(msg.from, Ok(Some("SenderName".into())));
        assert_eq!(msg.reference, Ok(Some("your_reference".into())));
        assert_eq!(msg.to, Ok(Some(vec![Ok(Some("00447911123456".into()))])));
    }
}
