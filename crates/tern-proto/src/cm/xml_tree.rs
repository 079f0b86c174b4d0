//! A small, bounded XML element tree on quick-xml. It refuses DTDs (so no external or custom
//! entities can exist), resolves only the five predefined entities and character references, and
//! bounds depth and element count, so a hostile document costs at most its (already bounded) size.

use quick_xml::Reader;
use quick_xml::events::Event;

/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 16;
/// Most elements accepted in one document.
pub const MAX_ELEMENTS: usize = 1_000_000;

/// An element: upper-cased name, attributes (upper-cased names), text and children.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the body is not well-formed XML: {0}")]
    Syntax(String),
    #[error("DTDs are not accepted")]
    Dtd,
    #[error("unknown entity '&{0};'")]
    Entity(String),
    #[error("the XML is nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("the XML has more than {MAX_ELEMENTS} elements")]
    TooManyElements,
    #[error("the XML has no root element")]
    Empty,
}

impl Element {
    /// Children named `name` (compared without case).
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children
            .iter()
            .filter(move |child| child.name.eq_ignore_ascii_case(name))
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children
            .iter()
            .find(|child| child.name.eq_ignore_ascii_case(name))
    }

    /// An attribute (name without case).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

fn syntax(error: impl std::fmt::Display) -> XmlError {
    XmlError::Syntax(error.to_string())
}

fn predefined(entity: &str) -> Option<char> {
    Some(match entity {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => return None,
    })
}

fn element_of(start: &quick_xml::events::BytesStart<'_>) -> Result<Element, XmlError> {
    let name = start.local_name().as_ref().to_ascii_uppercase();
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(syntax)?;
        let key = attribute.key.local_name().as_ref().to_ascii_uppercase();
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(syntax)?
            .into_owned();
        attributes.push((key, value));
    }
    Ok(Element {
        name,
        attributes,
        ..Element::default()
    })
}

/// Parse a whole document into its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(syntax)?;
        match event {
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(XmlError::Syntax("content after the root element".into()));
            }
            Event::Start(start) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(element_of(&start)?);
            }
            Event::Empty(start) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                let element = element_of(&start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| syntax("unexpected end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                match stack.last_mut() {
                    Some(element) => element.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(syntax("text outside the root element")),
                }
            }
            Event::CData(data) => {
                let content = data.into_inner().into_owned();
                if let Some(element) = stack.last_mut() {
                    element.text.push_str(&content);
                }
            }
            Event::GeneralRef(reference) => {
                let name = reference.as_ref().to_owned();
                let resolved = match reference.resolve_char_ref().map_err(syntax)? {
                    Some(character) => character,
                    None => predefined(&name).ok_or(XmlError::Entity(name))?,
                };
                if let Some(element) = stack.last_mut() {
                    element.text.push(resolved);
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(syntax("the document ends inside an element"));
    }
    root.ok_or(XmlError::Empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_without_case_and_resolves_entities() {
        let root = parse(
            r#"<?xml version="1.0"?><messages><msg><body type="AUTO">a &amp; b &#x3A9;</body></msg></messages>"#,
        )
        .unwrap();
        let body = root.child("MSG").unwrap().child("Body").unwrap();
        assert_eq!(body.text, "a & b Ω");
        assert_eq!(body.attribute("type"), Some("AUTO"));
    }

    #[test]
    fn refuses_dtds_unknown_entities_depth_and_garbage() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><m>&x;</m>"#;
        assert_eq!(parse(xxe), Err(XmlError::Dtd));
        assert_eq!(parse("<m>&x;</m>"), Err(XmlError::Entity("x".into())));
        let deep = "<a>".repeat(17) + &"</a>".repeat(17);
        assert_eq!(parse(&deep), Err(XmlError::TooDeep));
        assert!(matches!(parse("<a><b></a>"), Err(XmlError::Syntax(_))));
        assert!(matches!(parse("<a></a></a>"), Err(XmlError::Syntax(_))));
        assert_eq!(parse(""), Err(XmlError::Empty));
    }
}
