//! The CM.com Business Messaging API on the wire: submissions (JSON today; XML and GET map into
//! the same [`submission`] types), rich content, the JSON response shape clients parse, and the
//! webhook bodies (status reports, inbound messages).

pub mod conversion;
pub mod get;
pub mod inbound;
pub mod json;
pub mod json_ci;
pub mod response;
pub mod rich;
pub mod status_report;
pub mod submission;
pub mod wire;
pub mod wire_stream;
pub mod xml;
pub mod xml_tree;
