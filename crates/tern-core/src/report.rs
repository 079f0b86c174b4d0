//! Turning a recorded status change ([`StatusFact`]) into the webhook body the account asks for,
//! when the report is sent.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tern_proto::cm::status_report::StatusReport;

use crate::account::ReportFormat;
use crate::error_code::DeliveryError;
use crate::message::MessageId;
use crate::outbox::StatusFact;

/// A rendered webhook body.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedReport {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// CM's report timestamp: `yyyy-MM-ddTHH:mm:ss` in CE(S)T, as the spec says reports are given.
pub fn cm_local_time(at: Timestamp) -> String {
    let zone = TimeZone::get("Europe/Amsterdam").unwrap_or(TimeZone::UTC);
    zone.to_datetime(at)
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// The stable id of the report of a message's `seq`-th status change (1-based, in the order the
/// changes were recorded): every delivery of that report carries it, and no other report has it,
/// so a receiver that gets a report twice (delivery is at-least-once) can tell.
pub fn report_id(message_id: MessageId, seq: u32) -> String {
    format!("{message_id}-{seq}")
}

/// The fields of the report of a status change: its `received` is when the change was recorded,
/// its id [`report_id`] of the message and the change's number. The same fact gives the same
/// report, whenever it is rendered (every retry sends the same bytes while the account's format
/// stays the same).
pub fn status_report(fact: &StatusFact) -> StatusReport {
    let report = &fact.report;
    let description = match &report.detail {
        Some(detail) => detail.clone(),
        None => report
            .error_code
            .map_or_else(|| report.status.description(), DeliveryError::description)
            .to_owned(),
    };
    StatusReport {
        received: cm_local_time(fact.at),
        to: fact.recipient.clone(),
        reference: fact.reference.clone(),
        status_code: report.status.code(),
        error_code: report.error_code.map(DeliveryError::code),
        description,
        channel: report.channel.as_str().to_owned(),
        operator: report.operator.clone(),
        custom_groupings: fact.custom_groupings.clone(),
        message_id: fact.message_id.to_string(),
        report_id: report_id(fact.message_id, fact.seq),
    }
}

/// Render in the account's format.
pub fn render(report: &StatusReport, format: ReportFormat) -> RenderedReport {
    match format {
        ReportFormat::Json => RenderedReport {
            content_type: "application/json",
            body: report.to_json(),
        },
        ReportFormat::Xml => RenderedReport {
            content_type: "application/xml",
            body: report.to_xml(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_is_cet_or_cest() {
        assert_eq!(
            cm_local_time("2026-07-01T10:00:00Z".parse().unwrap()),
            "2026-07-01T12:00:00"
        );
        assert_eq!(
            cm_local_time("2026-01-01T10:00:00Z".parse().unwrap()),
            "2026-01-01T11:00:00"
        );
    }
}
