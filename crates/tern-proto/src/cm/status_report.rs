//! CM's status report webhook bodies, JSON and XML. The JSON form carries `msg` as an object, not
//! an array (CM's documented quirk); dates are `yyyy-MM-ddTHH:mm:ss`.

use serde_json::json;

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
    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        let body = json!({"messages": {"msg": {
            "received": self.received,
            "to": self.to,
            "reference": self.reference.clone().unwrap_or_default(),
            "status": {
                "code": self.status_code.to_string(),
                "errorCode": self.error_code.map(|c| c.to_string()).unwrap_or_default(),
                "errorDescription": self.description,
            },
            "operator": self.operator.clone().unwrap_or_default(),
            "channel": self.channel,
            "customGrouping": self.custom_groupings[0].clone().unwrap_or_default(),
            "customGrouping2": self.custom_groupings[1].clone().unwrap_or_default(),
            "customGrouping3": self.custom_groupings[2].clone().unwrap_or_default(),
            "messageId": self.message_id,
            "reportId": self.report_id,
        }}});
        serde_json::to_vec(&body).expect("report serializes")
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

    #[test]
    fn xml_is_escaped() {
        let xml = String::from_utf8(sample().to_xml()).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><MESSAGES><MSG RECEIVED=\"2026-11-24T12:00:00\" REPORTID=\"m1-2\"><TO>0031612345678</TO><REFERENCE>ref1</REFERENCE><STATUS><CODE>2</CODE><ERRORCODE></ERRORCODE><ERRORDESCRIPTION>Delivered</ERRORDESCRIPTION></STATUS>"));
        assert!(xml.contains("<CUSTOMGROUPING>a&amp;b</CUSTOMGROUPING>"));
    }
}
