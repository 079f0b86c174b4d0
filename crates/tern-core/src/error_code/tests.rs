//! Every row of the error table: code, HTTP status, each text, SMPP status.

use super::*;
use crate::short_message::SmsBodyError;
use tern_proto::cm::xml_tree::XmlError;

const XML: Surface = Surface::Xml;
const GET: Surface = Surface::Get;

/// (error, code, HTTP status, JSON text, XML text, GET text, SMPP status)
type RequestRow = (
    RequestError,
    u32,
    u16,
    &'static str,
    &'static str,
    &'static str,
    u32,
);

#[test]
fn request_error_rows() {
    let rows: Vec<RequestRow> = vec![
        (
            RequestError::NoAccount,
            101,
            400,
            "No account found for the given authentication",
            "No account found for the given authentication",
            "No account found for the given authentication",
            0x0D,
        ),
        (
            RequestError::InvalidProductToken,
            103,
            400,
            "Invalid product token.",
            "Invalid product token.",
            "Parameter 'producttoken' contains an invalid value: 'abc'",
            0x0E,
        ),
        (
            RequestError::InsufficientBalance,
            102,
            400,
            "Insufficient balance.",
            "Insufficient balance.",
            "Insufficient balance.",
            0x45,
        ),
        (
            RequestError::Unroutable,
            203,
            400,
            "Message is unroutable.",
            "Message is unrouteable.",
            "Message is unrouteable.",
            0x45,
        ),
        (
            RequestError::NoMsg,
            203,
            400,
            "A MESSAGES object requires at least one MSG object",
            "A MESSAGES node requires at least one MSG node",
            "A MESSAGES node requires at least one MSG node",
            0x45,
        ),
        (
            RequestError::MsgNotArray,
            203,
            400,
            "msg object is an invalid type, must be an array",
            "A MESSAGES node requires at least one MSG node",
            "A MESSAGES node requires at least one MSG node",
            0x45,
        ),
        (
            RequestError::TooManyMsgs { limit: 7 },
            203,
            400,
            "Too many msg objects: one request can carry up to 7",
            "Too many MSG nodes: one request can carry up to 7",
            "Too many MSG nodes: one request can carry up to 7",
            0x33,
        ),
        (
            RequestError::TooManyRecipients { limit: 5 },
            203,
            400,
            "Too many recipients: one request can carry up to 5",
            "Too many recipients: one request can carry up to 5",
            "Too many recipients: one request can carry up to 5",
            0x33,
        ),
        (
            RequestError::InvalidJson,
            202,
            400,
            "Invalid JSON",
            "Invalid JSON",
            "Invalid JSON",
            0x45,
        ),
        (
            RequestError::InvalidXml(XmlError::Dtd),
            202,
            400,
            "Invalid XML: DTDs are not accepted",
            "Invalid XML: DTDs are not accepted",
            "Invalid XML: DTDs are not accepted",
            0x45,
        ),
        (
            RequestError::XmlNotUtf8,
            202,
            400,
            "Invalid XML: the body is not UTF-8",
            "Invalid XML: the body is not UTF-8",
            "Invalid XML: the body is not UTF-8",
            0x45,
        ),
        (
            RequestError::BodyTooLarge { limit_bytes: 9 },
            202,
            413,
            "Request body too large: the limit is 9 bytes",
            "Request body too large: the limit is 9 bytes",
            "Request body too large: the limit is 9 bytes",
            0x02,
        ),
        (
            RequestError::InvalidIdempotencyKey,
            202,
            400,
            "Invalid Idempotency-Key header: use 1 to 255 printable ASCII characters",
            "Invalid Idempotency-Key header: use 1 to 255 printable ASCII characters",
            "Invalid Idempotency-Key header: use 1 to 255 printable ASCII characters",
            0x45,
        ),
        (
            RequestError::IdempotencyKeyReused,
            204,
            409,
            "Idempotency-Key already used for a different request body",
            "Idempotency-Key already used for a different request body",
            "Idempotency-Key already used for a different request body",
            0x45,
        ),
        (
            RequestError::Unknown,
            999,
            500,
            "Unknown Error",
            "Unknown error",
            "Unknown error",
            0x14,
        ),
    ];
    for (error, code, http, json, xml, get, smpp) in rows {
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(error.http_status(), http, "{error:?}");
        assert_eq!(error.details(), json, "{error:?}");
        assert_eq!(
            error.plain_text(XML, Some("abc")),
            format!("Error: ERROR {xml}")
        );
        assert_eq!(
            error.plain_text(GET, Some("abc")),
            format!("Error: ERROR {get}")
        );
        assert_eq!(error.smpp_status().value(), smpp, "{error:?}");
    }
}

/// (rejection, code, JSON text, XML text, GET text, SMPP status)
type RejectionRow = (
    Rejection,
    u32,
    &'static str,
    &'static str,
    &'static str,
    u32,
);

fn rich(path: RichPath, rule: RichRule) -> Rejection {
    Rejection::RichContent(RichContentError { path, rule })
}

#[test]
fn rejection_rows() {
    let conversation = RichPath::root().member("conversation").item(2);
    let suggestion = RichPath::root().member("suggestions").item(0);
    let same = |text: &'static str| (text, text, text);
    let row = |rejection: Rejection,
               code,
               (json, xml, get): (&'static str, &'static str, &'static str),
               smpp|
     -> RejectionRow { (rejection, code, json, xml, get, smpp) };
    let rows: Vec<RejectionRow> = vec![
        row(
            Rejection::NoFrom,
            301,
            (
                "No FROM field found in a MSG object.",
                "No FROM field found in a MSG node.",
                "No sender name provided",
            ),
            0x0A,
        ),
        row(
            Rejection::InvalidFrom,
            301,
            same("Invalid FROM field: use at most 11 alphanumeric characters or 16 digits."),
            0x0A,
        ),
        row(
            Rejection::EmptyNumber,
            302,
            (
                "Empty mobilenumber field, MT ignored",
                "No phone numbers found. Message will not be sent.",
                "Parameter 'to' contains an invalid value: ''",
            ),
            0x0B,
        ),
        row(
            Rejection::NotANumber("12a".into()),
            303,
            (
                "Gsm '12a' is not a number.",
                "Rejected: Gsm '12a' is not a number.",
                "Parameter 'to' contains an invalid value: '12a'",
            ),
            0x0B,
        ),
        row(
            Rejection::NotAnArray("to"),
            302,
            same("to object is an invalid type, must be an array"),
            0x0B,
        ),
        row(
            Rejection::NotAnArray("allowedChannels"),
            305,
            same("allowedChannels object is an invalid type, must be an array"),
            0x45,
        ),
        row(
            Rejection::NotAString(Field::ToNumber),
            305,
            same("to.number must be a string"),
            0x0B,
        ),
        row(
            Rejection::NotAString(Field::BodyContent),
            304,
            same("body.content must be a string"),
            0x45,
        ),
        row(
            Rejection::NotAString(Field::BodyType),
            305,
            same("body.type must be a string"),
            0x45,
        ),
        row(
            Rejection::NotAString(Field::Reference),
            305,
            same("reference must be a string"),
            0x45,
        ),
        row(
            Rejection::NotAString(Field::CustomGrouping2),
            305,
            same("customGrouping2 must be a string"),
            0x45,
        ),
        row(
            Rejection::NotAString(Field::Validity),
            305,
            same("validity must be a string"),
            0x62,
        ),
        row(
            Rejection::NotAString(Field::AppKey),
            305,
            same("appKey must be a string"),
            0x45,
        ),
        row(
            Rejection::NotAnInteger(Field::Dcs),
            305,
            same("dcs must be an integer"),
            0x45,
        ),
        row(
            Rejection::NotAnInteger(Field::MinimumParts),
            305,
            same("minimumNumberOfMessageParts must be an integer"),
            0x45,
        ),
        row(
            Rejection::NotAnInteger(Field::MaximumParts),
            305,
            same("maximumNumberOfMessageParts must be an integer"),
            0x45,
        ),
        row(
            Rejection::BodyNotAnObject,
            304,
            same("body must be an object with a content field"),
            0x45,
        ),
        row(
            Rejection::RichContentNotAnObject,
            305,
            same("richContent must be an object"),
            0x45,
        ),
        row(
            Rejection::NoBody,
            304,
            (
                "No body field was found",
                "No body field was found",
                "Parameter 'body' is required",
            ),
            0x01,
        ),
        row(
            Rejection::EmptyBody,
            304,
            (
                "A body without content was found",
                "A body without content was found",
                "Parameter 'body' is required",
            ),
            0x01,
        ),
        row(
            Rejection::UnknownBodyType("HEX".into()),
            305,
            same("body.type 'HEX' must be AUTO, TEXT or BINARY"),
            0x45,
        ),
        row(
            Rejection::BodyEncoding(BodyError::InvalidBinary),
            304,
            same(
                "BINARY content must be hexadecimal: an even number of the digits 0-9, A-F (e.g. \"48656C6C6F\")",
            ),
            0x45,
        ),
        row(
            Rejection::BodyTooLong { limit: 160 },
            304,
            (
                "The body is longer than 160 characters",
                "The body is longer than 160 characters",
                "Parameter 'body' contains an invalid value: it is longer than 160 characters",
            ),
            0x01,
        ),
        row(
            Rejection::TextTooLong {
                channel: Channel::WhatsApp,
                limit_chars: 4096,
            },
            304,
            same("The text is longer than the 4096 characters the WhatsApp channel carries"),
            0x01,
        ),
        row(
            Rejection::PayloadTooLarge {
                channel: Channel::Push,
                limit_bytes: 4096,
            },
            304,
            same(
                "The body and rich content are larger than the 4096 bytes the Push channel carries",
            ),
            0x01,
        ),
        row(
            Rejection::InvalidReference,
            305,
            same("reference must be 1 to 32 characters: letters, digits, '-' or '_'"),
            0x45,
        ),
        row(
            Rejection::TooLong {
                field: Field::CustomGrouping3,
                limit_chars: 100,
            },
            305,
            same("customGrouping3 must be at most 100 characters"),
            0x45,
        ),
        row(
            Rejection::InvalidValidity("soon".into()),
            305,
            same(
                "validity 'soon' is not a valid time: use e.g. '2017-04-20 11:50:05 GMT', '2017-04-20 11:50:05+8', '2h' or '30m'",
            ),
            0x62,
        ),
        row(
            Rejection::NoAppKeyForPush,
            305,
            same("appKey is required for the Push channel"),
            0x45,
        ),
        row(
            Rejection::DcsOutOfRange,
            305,
            same("dcs must be between 0 and 255"),
            0x45,
        ),
        row(
            Rejection::PartLimit(PartLimitError::MinimumOutOfRange(0)),
            305,
            same("minimumNumberOfMessageParts must be between 1 and 255, got 0"),
            0x01,
        ),
        row(
            Rejection::PartLimit(PartLimitError::MaximumOutOfRange(256)),
            305,
            same("maximumNumberOfMessageParts must be between 1 and 255, got 256"),
            0x01,
        ),
        row(
            Rejection::PartLimit(PartLimitError::MaximumBelowMinimum {
                minimum: 3,
                maximum: 2,
            }),
            305,
            same("maximumNumberOfMessageParts (2) is less than minimumNumberOfMessageParts (3)"),
            0x01,
        ),
        row(
            Rejection::PartLimit(PartLimitError::MinimumAboveDefaultMaximum { minimum: 9 }),
            305,
            same(
                "minimumNumberOfMessageParts (9) is more than the default maximumNumberOfMessageParts (8); send maximumNumberOfMessageParts too",
            ),
            0x01,
        ),
        row(
            Rejection::PartLimit(PartLimitError::TooManyParts {
                needed: 4,
                maximum: 3,
            }),
            305,
            same("Message needs 4 parts but maximumNumberOfMessageParts is 3"),
            0x01,
        ),
        row(
            Rejection::UnknownChannel("Fax".into()),
            305,
            same("allowedChannels: unknown channel 'Fax'"),
            0x45,
        ),
        row(
            rich(
                RichPath::root().member("conversation"),
                RichRule::NotAnArray,
            ),
            305,
            same("richContent.conversation must be an array"),
            0x45,
        ),
        row(
            rich(conversation.clone(), RichRule::EmptyPart),
            305,
            same(
                "richContent.conversation[2] must contain text, media, location, contacts, template or interactive",
            ),
            0x45,
        ),
        row(
            rich(
                conversation.member("media").member("mediaUri"),
                RichRule::Required,
            ),
            305,
            same("richContent.conversation[2].media.mediaUri is required"),
            0x45,
        ),
        row(
            rich(
                conversation.member("media").member("mimeType"),
                RichRule::UnsupportedMediaType("image/gif".into()),
            ),
            305,
            same(
                "richContent.conversation[2].media.mimeType 'image/gif' is not a supported media type",
            ),
            0x45,
        ),
        row(
            rich(conversation.member("location"), RichRule::NoPlace),
            305,
            same(
                "richContent.conversation[2].location needs a searchQuery or both latitude and longitude",
            ),
            0x45,
        ),
        row(
            rich(
                conversation.member("location").member("latitude"),
                RichRule::InvalidCoordinate {
                    coordinate: Coordinate::Latitude,
                    value: "91".into(),
                },
            ),
            305,
            same("richContent.conversation[2].location.latitude '91' is not a valid latitude"),
            0x45,
        ),
        row(
            rich(
                conversation.member("location").member("longitude"),
                RichRule::InvalidCoordinate {
                    coordinate: Coordinate::Longitude,
                    value: "x".into(),
                },
            ),
            305,
            same("richContent.conversation[2].location.longitude 'x' is not a valid longitude"),
            0x45,
        ),
        row(
            rich(conversation.member("contacts"), RichRule::NoContacts),
            305,
            same("richContent.conversation[2].contacts must hold at least one contact"),
            0x45,
        ),
        row(
            rich(
                conversation
                    .member("template")
                    .member("whatsapp")
                    .member("language")
                    .member("policy"),
                RichRule::InvalidLanguagePolicy("any".into()),
            ),
            305,
            same(
                "richContent.conversation[2].template.whatsapp.language.policy 'any' must be 'fallback' or 'deterministic'",
            ),
            0x45,
        ),
        row(
            rich(
                RichPath::root().member("suggestions"),
                RichRule::TooManySuggestions {
                    count: 12,
                    limit: 11,
                },
            ),
            305,
            same("richContent.suggestions has 12 suggestions; at most 11 are allowed"),
            0x45,
        ),
        row(
            rich(
                suggestion.member("url"),
                RichRule::RequiredForAction("OpenUrl"),
            ),
            305,
            same("richContent.suggestions[0].url is required for action OpenUrl"),
            0x45,
        ),
        row(
            rich(suggestion.member("calendar"), RichRule::CalendarNeedsTimes),
            305,
            same("richContent.suggestions[0].calendar needs startTime and endTime"),
            0x45,
        ),
        row(
            rich(
                suggestion.member("action"),
                RichRule::UnknownAction("Jump".into()),
            ),
            305,
            same(
                "richContent.suggestions[0].action 'Jump' must be OpenUrl, CreateCalendarEvent, Dial, ViewLocation or Reply",
            ),
            0x45,
        ),
        row(
            rich(RichPath::root(), RichRule::NotAViberCombination),
            305,
            same(
                "richContent is not a combination Viber supports: text; image; text and button; or text, image and button (one OpenUrl suggestion)",
            ),
            0x45,
        ),
        row(
            Rejection::SmsBody(SmsBodyError::UnsupportedDataCoding(5)),
            304,
            same(
                "data_coding 5 is not supported: use 0 (GSM), 1 (IA5), 3 (Latin-1), 2 or 4 (8-bit), 8 (UCS2), or 0xC0-0xFF",
            ),
            0x45,
        ),
        row(
            Rejection::SmsBody(SmsBodyError::OddUcs2Length(3)),
            304,
            same("UCS2 user data must be an even number of octets, got 3"),
            0x01,
        ),
        row(
            Rejection::SmsBody(SmsBodyError::InvalidUdh),
            304,
            same("the user data header's length octet does not match its length"),
            0x01,
        ),
        row(
            Rejection::SmsBody(SmsBodyError::NotOnePart),
            304,
            same(
                "a message with a user data header must fit one part: at most 140 octets with its header",
            ),
            0x01,
        ),
        row(
            Rejection::SmsBody(SmsBodyError::InvalidConcatenation {
                sequence: 4,
                total: 3,
            }),
            304,
            same("the concatenation header says segment 4 of 3: the number must be 1 to the total"),
            0x45,
        ),
        row(
            Rejection::Unroutable,
            305,
            (
                "Message is unroutable.",
                "Message is unrouteable.",
                "Message is unrouteable.",
            ),
            0x0B,
        ),
    ];
    for (rejection, code, json, xml, get, smpp) in rows {
        assert_eq!(rejection.code(), code, "{rejection:?}");
        assert_eq!(rejection.details(), json, "{rejection:?}");
        assert_eq!(rejection.plain_text(XML), format!("Error: ERROR {xml}"));
        assert_eq!(rejection.plain_text(GET), format!("Error: ERROR {get}"));
        assert_eq!(rejection.smpp_status().value(), smpp, "{rejection:?}");
    }
}

#[test]
fn smpp_statuses_have_their_spec_names() {
    let named = [
        (SmppStatus::InvalidMessageLength, 0x01, "ESME_RINVMSGLEN"),
        (SmppStatus::InvalidCommandLength, 0x02, "ESME_RINVCMDLEN"),
        (SmppStatus::SystemError, 0x08, "ESME_RSYSERR"),
        (SmppStatus::MessageQueueFull, 0x14, "ESME_RMSGQFUL"),
        (SmppStatus::InvalidSourceAddress, 0x0A, "ESME_RINVSRCADR"),
        (
            SmppStatus::InvalidDestinationAddress,
            0x0B,
            "ESME_RINVDSTADR",
        ),
        (SmppStatus::BindFailed, 0x0D, "ESME_RBINDFAIL"),
        (SmppStatus::InvalidPassword, 0x0E, "ESME_RINVPASWD"),
        (
            SmppStatus::InvalidNumberOfDestinations,
            0x33,
            "ESME_RINVNUMDESTS",
        ),
        (SmppStatus::SubmitFailed, 0x45, "ESME_RSUBMITFAIL"),
        (SmppStatus::Throttled, 0x58, "ESME_RTHROTTLED"),
        (SmppStatus::InvalidExpiry, 0x62, "ESME_RINVEXPIRY"),
    ];
    for (status, value, name) in named {
        assert_eq!((status.value(), status.name()), (value, name));
    }
}

#[test]
fn conversion_error_rows() {
    let rows = [
        (
            ConversionError::Unauthenticated,
            401,
            "a product token is required",
        ),
        (
            ConversionError::InvalidProductToken,
            403,
            "Invalid product token.",
        ),
        (
            ConversionError::NoAccount,
            403,
            "No account found for the given authentication",
        ),
        (
            ConversionError::LoginAuthentication,
            403,
            "Customer/Login/Password authentication is not available in Tern: use a product token",
        ),
        (ConversionError::InvalidJson, 400, "Invalid JSON"),
        (
            ConversionError::UnreadableXml(RequestError::InvalidXml(XmlError::Empty)),
            400,
            "Invalid XML: the XML has no root element",
        ),
        (
            ConversionError::MissingField("Msisdn"),
            400,
            "Msisdn is required",
        ),
        (
            ConversionError::InvalidTimestamp("x".into()),
            400,
            "ConvertedTimestamp 'x' is not a time such as 2026-11-25T10:00:00 or 2026-11-25T09:00:00Z",
        ),
        (
            ConversionError::NoSuchMessage {
                reference: "r".into(),
                recipient: "0031".into(),
            },
            404,
            "no message with reference 'r' was sent to 0031",
        ),
        (ConversionError::Unknown, 500, "Unknown error"),
    ];
    for (error, http, text) in rows {
        assert_eq!(error.http_status(), http, "{error:?}");
        assert_eq!(error.text(), text);
        assert_eq!(error.to_string(), text);
    }
}

#[test]
fn message_log_error_rows() {
    let rows = [
        (
            MessageLogError::Unauthenticated(RequestError::NoAccount),
            101,
            401,
            "No account found for the given authentication",
        ),
        (
            MessageLogError::Unauthenticated(RequestError::InvalidProductToken),
            103,
            401,
            "Invalid product token.",
        ),
        (
            MessageLogError::Unauthenticated(RequestError::Unknown),
            999,
            500,
            "Unknown Error",
        ),
        (
            MessageLogError::RepeatedParameter("to".into()),
            202,
            400,
            "to is given more than once",
        ),
        (
            MessageLogError::InvalidStatus("x".into()),
            202,
            400,
            "status 'x' must be one of queued, sent, accepted, delivered, read, failed, rejected, expired, cancelled",
        ),
        (
            MessageLogError::InvalidSince("x".into()),
            202,
            400,
            "since 'x' must be an RFC 3339 time such as 2026-11-25T10:00:00Z",
        ),
        (
            MessageLogError::InvalidAfter("x".into()),
            202,
            400,
            "after 'x' is not a message id",
        ),
        (
            MessageLogError::InvalidLimit { max: 1000 },
            202,
            400,
            "limit must be between 1 and 1000",
        ),
        (
            MessageLogError::MethodNotAllowed,
            202,
            405,
            "Use HTTP GET to read the message log",
        ),
        (MessageLogError::Unknown, 999, 500, "Unknown Error"),
    ];
    for (error, code, http, text) in rows {
        assert_eq!(
            (error.code(), error.http_status()),
            (code, http),
            "{error:?}"
        );
        assert_eq!(error.details(), text);
    }
}

#[test]
fn delivery_error_rows() {
    let rows = [
        (5, "Message not delivered at third party"),
        (
            7,
            "Message not delivered at operator because recipient has insufficient credit",
        ),
        (8, "Message expired at third party"),
        (20, "Message not delivered because of a malformed request"),
        (21, "Message expired at operator"),
        (
            22,
            "Message not delivered at operator because recipient has insufficient credit",
        ),
        (
            23,
            "Message not delivered because of an incorrect recipient number (invalid/blacklisted/barred)",
        ),
        (
            24,
            "Message not delivered because the recipient was unreachable",
        ),
        (25, "Message not delivered at third party"),
        (
            26,
            "Message not delivered because of a temporary handset issue (sim card full/memory exceeded/SME busy)",
        ),
        (
            27,
            "Message not delivered because of a permanent handset issue (unable to receive SMS)",
        ),
        (
            28,
            "Message not delivered because submission speed is too high (throttling errors)",
        ),
        (29, "Message not delivered because content is not permitted"),
        (
            30,
            "Message not delivered because the set spend limit is reached",
        ),
        (
            31,
            "Message not delivered because the recipient was suspended from premium services",
        ),
        (33, "Message not delivered because of parental lock"),
        (34, "Message not delivered because age check failure"),
        (35, "Message not delivered because age check missing"),
        (36, "Message not delivered because age check unavailable"),
        (
            37,
            "Message not delivered because recipient is in national Do-Not-Call Register (for example, the Dutch SMS DienstenFilter and Chinese DnD list)",
        ),
    ];
    assert_eq!(rows.len(), DeliveryError::ALL.len());
    for (code, description) in rows {
        let error = DeliveryError::from_code(code).expect("a row of the spec's table");
        assert_eq!(error.code(), code);
        assert_eq!(error.description(), description);
    }
    for missing in [0, 4, 6, 9, 19, 32, 38] {
        assert_eq!(DeliveryError::from_code(missing), None);
    }
}

#[test]
fn every_smpp_status_is_the_codec_status_of_its_name() {
    use tern_proto::smpp::CommandStatus as C;
    let table = [
        (SmppStatus::InvalidMessageLength, C::ESME_RINVMSGLEN),
        (SmppStatus::InvalidCommandLength, C::ESME_RINVCMDLEN),
        (SmppStatus::SystemError, C::ESME_RSYSERR),
        (SmppStatus::MessageQueueFull, C::ESME_RMSGQFUL),
        (SmppStatus::InvalidSourceAddress, C::ESME_RINVSRCADR),
        (SmppStatus::InvalidDestinationAddress, C::ESME_RINVDSTADR),
        (SmppStatus::BindFailed, C::ESME_RBINDFAIL),
        (SmppStatus::InvalidPassword, C::ESME_RINVPASWD),
        // ESME_RINVNUMDESTS: SMPP 3.4's value, not named by the codec.
        (SmppStatus::InvalidNumberOfDestinations, C(0x33)),
        (SmppStatus::SubmitFailed, C::ESME_RSUBMITFAIL),
        (SmppStatus::Throttled, C::ESME_RTHROTTLED),
        (SmppStatus::InvalidExpiry, C::ESME_RINVEXPIRY),
    ];
    for (status, expected) in table {
        assert_eq!(status.command_status(), expected, "{}", status.name());
    }
}
