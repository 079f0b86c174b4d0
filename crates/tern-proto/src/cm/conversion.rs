//! CM's Conversion API body (`POST /v1.0/conversion`): JSON `{"ProductToken","Msisdn","Reference",
//! "ConvertedTimestamp"}` or XML `<Conversion>` with the same fields (names without case), where
//! XML may authenticate with Customer/Login/Password instead of a product token.

use serde_json::Value;

use crate::cm::json::InvalidJson;
use crate::cm::wire::{ConversionBody, Lenient, Text, normalize_keys};
use crate::cm::xml_tree::{XmlError, fields};

/// A conversion as sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConversionRequest {
    pub product_token: Option<String>,
    /// Whether Customer/Login/Password authentication was used.
    pub login_authentication: bool,
    pub msisdn: Option<String>,
    pub reference: Option<String>,
    pub converted_timestamp: Option<String>,
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Parse the JSON form.
pub fn parse_json(body: &[u8]) -> Result<ConversionRequest, InvalidJson> {
    let root: Value = serde_json::from_slice(body).map_err(|_| InvalidJson)?;
    if !root.is_object() {
        return Err(InvalidJson);
    }
    let wire: ConversionBody =
        serde_json::from_value(normalize_keys(root)).map_err(|_| InvalidJson)?;
    let field = |value: Lenient<Text>| non_empty(value.ok().map(|t| t.0));
    Ok(ConversionRequest {
        product_token: field(wire.product_token),
        login_authentication: field(wire.login).is_some() || field(wire.customer).is_some(),
        msisdn: field(wire.msisdn),
        reference: field(wire.reference),
        converted_timestamp: field(wire.converted_timestamp),
    })
}

/// Parse the XML form. It is read without building an element tree: only the few fields are
/// kept.
pub fn parse_xml(text: &str) -> Result<ConversionRequest, XmlError> {
    const NAMES: [&str; 6] = [
        "PRODUCTTOKEN",
        "LOGIN",
        "CUSTOMER",
        "MSISDN",
        "REFERENCE",
        "CONVERTEDTIMESTAMP",
    ];
    // Fields directly under <Conversion>, or authentication nested in <Authentication>.
    let direct = NAMES.map(|name| [name]);
    let nested = NAMES.map(|name| ["AUTHENTICATION", name]);
    let wanted: Vec<&[&str]> = direct
        .iter()
        .map(|path| path.as_slice())
        .chain(nested.iter().map(|path| path.as_slice()))
        .collect();
    let mut found = fields(text, &wanted)?.texts;
    let mut field = |name: &str| {
        let index = NAMES
            .iter()
            .position(|n| *n == name)
            .expect("a wanted name");
        let direct = found[index].take();
        let nested = found[NAMES.len() + index].take();
        non_empty(direct.or(nested))
    };
    Ok(ConversionRequest {
        product_token: field("PRODUCTTOKEN"),
        login_authentication: field("LOGIN").is_some() || field("CUSTOMER").is_some(),
        msisdn: field("MSISDN"),
        reference: field("REFERENCE"),
        converted_timestamp: field("CONVERTEDTIMESTAMP"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_xml_forms() {
        let json = parse_json(
            br#"{"productToken":"t","Msisdn":"0031612345678","Reference":"r1","ConvertedTimestamp":"2026-11-25T10:00:00"}"#,
        )
        .unwrap();
        assert_eq!(json.product_token.as_deref(), Some("t"));
        assert_eq!(json.msisdn.as_deref(), Some("0031612345678"));
        let xml = parse_xml(
            "<Conversion><Customer>1</Customer><Login>a</Login><Password>b</Password><Msisdn>1</Msisdn><Reference>r</Reference></Conversion>",
        )
        .unwrap();
        assert!(xml.login_authentication);
        assert_eq!(xml.product_token, None);
        assert_eq!(xml.reference.as_deref(), Some("r"));
        // A direct field wins over the nested one, even when empty; only the first of a name
        // counts.
        let xml = parse_xml(
            "<conversion><authentication><producttoken>nested</producttoken><login>l</login></authentication><ProductToken> </ProductToken><Msisdn>1</Msisdn><Msisdn>2</Msisdn></conversion>",
        )
        .unwrap();
        assert_eq!(xml.product_token, None);
        assert!(xml.login_authentication);
        assert_eq!(xml.msisdn.as_deref(), Some("1"));
        let xml = parse_xml(
            "<Conversion><Authentication><ProductToken>nested</ProductToken></Authentication></Conversion>",
        )
        .unwrap();
        assert_eq!(xml.product_token.as_deref(), Some("nested"));
    }
}
