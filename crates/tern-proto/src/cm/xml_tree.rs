//! A small, bounded XML reader on quick-xml. It refuses DTDs (so no external or custom entities
//! can exist), resolves only the five predefined entities and character references, and bounds
//! depth, element count, names, attributes and text to what CM's XML interfaces can carry, so a
//! hostile document is refused early and costs little more than its own size.
//!
//! One reader enforces the bounds; what it reads goes to a sink. [`parse`] builds the element
//! tree; [`fields`] only keeps the texts of a few elements (a product token, a conversion's
//! fields) without building anything, so a request can be authenticated, or a small document
//! read, before (or without) building a tree. Both refuse exactly the same documents.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 16;
/// Most elements accepted in one document: 1,000 `MSG` (the spec's limit per request) with their
/// dozen or so fields each, and 100,000 `TO` (Tern's default cap on recipients per request).
pub const MAX_ELEMENTS: usize = 120_000;
/// Longest text of one element, in bytes: a `BODY` of 255 SMS parts of 153 GSM characters, each
/// at most 2 bytes in UTF-8 (78,030 bytes), fits. Whitespace-only runs between child elements do
/// not count.
pub const MAX_TEXT_BYTES: usize = 128 * 1024;
/// Most attributes in one document (the interface uses one, `BODY TYPE`, per `MSG`).
pub const MAX_ATTRIBUTES: usize = 4_000;
/// Longest attribute value, in bytes.
pub const MAX_ATTRIBUTE_BYTES: usize = 1024;
/// Longest element or attribute name, in bytes (the longest the interface uses has 27).
pub const MAX_NAME_BYTES: usize = 128;

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
    #[error("an element's text is longer than {MAX_TEXT_BYTES} bytes")]
    TextTooLong,
    #[error("the XML has more than {MAX_ATTRIBUTES} attributes")]
    TooManyAttributes,
    #[error("an attribute value is longer than {MAX_ATTRIBUTE_BYTES} bytes")]
    AttributeTooLong,
    #[error("a name is longer than {MAX_NAME_BYTES} bytes")]
    NameTooLong,
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

/// What the bounded reader finds, in document order.
trait Sink {
    /// An element starts (upper-cased name and attributes); every `open` is followed by its
    /// `close`.
    fn open(&mut self, name: String, attributes: Vec<(String, String)>);
    /// Text of the innermost open element.
    fn text(&mut self, text: &str);
    /// The innermost open element ends.
    fn close(&mut self);
}

/// The counters behind the bounds.
struct Bounds {
    elements: usize,
    attributes: usize,
    /// Text bytes of each open element so far.
    text_bytes: Vec<usize>,
}

impl Bounds {
    fn open(
        &mut self,
        start: &BytesStart<'_>,
    ) -> Result<(String, Vec<(String, String)>), XmlError> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(XmlError::TooManyElements);
        }
        if self.text_bytes.len() >= MAX_DEPTH {
            return Err(XmlError::TooDeep);
        }
        if start.name().as_ref().len() > MAX_NAME_BYTES {
            return Err(XmlError::NameTooLong);
        }
        let name = start.local_name().as_ref().to_ascii_uppercase();
        let mut attributes = Vec::new();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(syntax)?;
            self.attributes += 1;
            if self.attributes > MAX_ATTRIBUTES {
                return Err(XmlError::TooManyAttributes);
            }
            if attribute.key.as_ref().len() > MAX_NAME_BYTES {
                return Err(XmlError::NameTooLong);
            }
            if attribute.value.len() > MAX_ATTRIBUTE_BYTES {
                return Err(XmlError::AttributeTooLong);
            }
            let key = attribute.key.local_name().as_ref().to_ascii_uppercase();
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(syntax)?
                .into_owned();
            attributes.push((key, value));
        }
        Ok((name, attributes))
    }

    /// Count `text` added to the innermost open element.
    fn text(&mut self, text: &str) -> Result<(), XmlError> {
        if let Some(bytes) = self.text_bytes.last_mut()
            && !text.trim().is_empty()
        {
            *bytes += text.len();
            if *bytes > MAX_TEXT_BYTES {
                return Err(XmlError::TextTooLong);
            }
        }
        Ok(())
    }
}

/// Read a whole document within the bounds, telling `sink` what it holds.
fn read(text: &str, sink: &mut impl Sink) -> Result<(), XmlError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut bounds = Bounds {
        elements: 0,
        attributes: 0,
        text_bytes: Vec::new(),
    };
    let mut had_root = false;
    loop {
        let event = reader.read_event().map_err(syntax)?;
        match event {
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Start(_) | Event::Empty(_) if had_root && bounds.text_bytes.is_empty() => {
                return Err(XmlError::Syntax("content after the root element".into()));
            }
            Event::Start(start) => {
                let (name, attributes) = bounds.open(&start)?;
                bounds.text_bytes.push(0);
                had_root = true;
                sink.open(name, attributes);
            }
            Event::Empty(start) => {
                let (name, attributes) = bounds.open(&start)?;
                had_root = true;
                sink.open(name, attributes);
                sink.close();
            }
            Event::End(_) => {
                bounds
                    .text_bytes
                    .pop()
                    .ok_or_else(|| syntax("unexpected end tag"))?;
                sink.close();
            }
            Event::Text(content) => {
                let content = content.xml10_content();
                if bounds.text_bytes.is_empty() {
                    if !content.trim().is_empty() {
                        return Err(syntax("text outside the root element"));
                    }
                } else {
                    bounds.text(&content)?;
                    sink.text(&content);
                }
            }
            Event::CData(data) => {
                if !bounds.text_bytes.is_empty() {
                    let content = data.into_inner();
                    bounds.text(&content)?;
                    sink.text(&content);
                }
            }
            Event::GeneralRef(reference) => {
                let name = reference.as_ref().to_owned();
                let resolved = match reference.resolve_char_ref().map_err(syntax)? {
                    Some(character) => character,
                    None => predefined(&name).ok_or(XmlError::Entity(name))?,
                };
                if !bounds.text_bytes.is_empty() {
                    let mut buffer = [0u8; 4];
                    let resolved = resolved.encode_utf8(&mut buffer);
                    bounds.text(resolved)?;
                    sink.text(resolved);
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !bounds.text_bytes.is_empty() {
        return Err(syntax("the document ends inside an element"));
    }
    if had_root {
        Ok(())
    } else {
        Err(XmlError::Empty)
    }
}

/// Builds the element tree.
#[derive(Default)]
struct TreeSink {
    stack: Vec<Element>,
    root: Option<Element>,
}

impl Sink for TreeSink {
    fn open(&mut self, name: String, attributes: Vec<(String, String)>) {
        self.stack.push(Element {
            name,
            attributes,
            ..Element::default()
        });
    }

    fn text(&mut self, text: &str) {
        if let Some(element) = self.stack.last_mut() {
            element.text.push_str(text);
        }
    }

    fn close(&mut self) {
        if let Some(mut element) = self.stack.pop() {
            element.children.shrink_to_fit();
            match self.stack.last_mut() {
                Some(parent) => parent.children.push(element),
                None => self.root = Some(element),
            }
        }
    }
}

/// Parse a whole document into its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut tree = TreeSink::default();
    read(text, &mut tree)?;
    tree.root.ok_or(XmlError::Empty)
}

/// The texts [`fields`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fields {
    /// The root element's name, upper-cased.
    pub root: String,
    /// For each wanted path, the text of the element it names, if there is one.
    pub texts: Vec<Option<String>>,
}

/// One open element, as [`FieldSink`] follows it.
struct Frame {
    /// Its names from below the root down to it, while every step is the first child of its
    /// name and leads towards a wanted path; otherwise `None`.
    path: Option<Vec<String>>,
    /// Names of its children met so far, among those that lead towards a wanted path.
    seen: Vec<String>,
    /// Its text, when its path is wanted.
    text: Option<String>,
}

struct FieldSink<'w> {
    wanted: &'w [&'w [&'w str]],
    stack: Vec<Frame>,
    fields: Fields,
}

impl FieldSink<'_> {
    fn leads_to_wanted(&self, path: &[String]) -> bool {
        self.wanted.iter().any(|wanted| {
            wanted.len() >= path.len() && wanted.iter().zip(path).all(|(w, p)| w == p)
        })
    }
}

impl Sink for FieldSink<'_> {
    fn open(&mut self, name: String, _attributes: Vec<(String, String)>) {
        let path = match self.stack.last() {
            None => {
                self.fields.root = name.clone();
                Some(Vec::new())
            }
            Some(parent) => parent.path.as_ref().and_then(|parent_path| {
                let mut path = parent_path.clone();
                path.push(name.clone());
                (self.leads_to_wanted(&path) && !parent.seen.contains(&name)).then_some(path)
            }),
        };
        if path.as_ref().is_some_and(|p| !p.is_empty())
            && let Some(parent) = self.stack.last_mut()
        {
            parent.seen.push(name);
        }
        let text = path
            .as_ref()
            .filter(|path| self.wanted.iter().any(|wanted| wanted == path))
            .map(|_| String::new());
        self.stack.push(Frame {
            path,
            seen: Vec::new(),
            text,
        });
    }

    fn text(&mut self, text: &str) {
        if let Some(collected) = self.stack.last_mut().and_then(|f| f.text.as_mut()) {
            collected.push_str(text);
        }
    }

    fn close(&mut self) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        if let (Some(path), Some(text)) = (frame.path, frame.text)
            && let Some(index) = self.wanted.iter().position(|wanted| *wanted == path)
        {
            self.fields.texts[index].get_or_insert(text);
        }
    }
}

/// Read a whole document within the same bounds as [`parse`], keeping only the root's name and
/// the text of each `wanted` element without building a tree. A wanted path lists upper-case
/// names below the root and follows the first child of each name, as chained
/// [`Element::child`] calls do: `["AUTHENTICATION", "PRODUCTTOKEN"]` is
/// `root.child("AUTHENTICATION")?.child("PRODUCTTOKEN")`.
pub fn fields(text: &str, wanted: &[&[&str]]) -> Result<Fields, XmlError> {
    let mut sink = FieldSink {
        wanted,
        stack: Vec::new(),
        fields: Fields {
            root: String::new(),
            texts: vec![None; wanted.len()],
        },
    };
    read(text, &mut sink)?;
    Ok(sink.fields)
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

    /// Bytes a tree holds on the heap (an estimate that counts capacities, not allocator
    /// overhead).
    fn heap_bytes(element: &Element) -> usize {
        element.name.capacity()
            + element.text.capacity()
            + element.attributes.capacity() * std::mem::size_of::<(String, String)>()
            + element
                .attributes
                .iter()
                .map(|(k, v)| k.capacity() + v.capacity())
                .sum::<usize>()
            + element.children.capacity() * std::mem::size_of::<Element>()
            + element.children.iter().map(heap_bytes).sum::<usize>()
    }

    fn both(document: &str) -> Result<(), XmlError> {
        let tree = parse(document).map(|_| ());
        let fields = fields(document, &[&["A"]]).map(|_| ());
        assert_eq!(tree, fields, "parse and fields refuse the same documents");
        tree
    }

    #[test]
    fn bounds_of_the_interface() {
        let elements = |n: usize| format!("<M>{}</M>", "<X/>".repeat(n - 1));
        assert_eq!(both(&elements(MAX_ELEMENTS)), Ok(()));
        assert_eq!(
            both(&elements(MAX_ELEMENTS + 1)),
            Err(XmlError::TooManyElements)
        );
        let text = |n: usize| format!("<M><B>{}</B></M>", "é".repeat(n / 2));
        assert_eq!(both(&text(MAX_TEXT_BYTES)), Ok(()));
        assert_eq!(both(&text(MAX_TEXT_BYTES + 2)), Err(XmlError::TextTooLong));
        // Entities and CDATA count as the text they stand for.
        let cdata = format!(
            "<M><![CDATA[{}]]>{}</M>",
            "a".repeat(MAX_TEXT_BYTES),
            "&amp;"
        );
        assert_eq!(both(&cdata), Err(XmlError::TextTooLong));
        // Formatting whitespace between many children does not count.
        let pretty = format!("<M>{}</M>", "\n    <TO>1</TO>".repeat(40_000));
        assert_eq!(both(&pretty), Ok(()));
        let attributes = |n: usize| format!("<M>{}</M>", r#"<X a="1"/>"#.repeat(n));
        assert_eq!(both(&attributes(MAX_ATTRIBUTES)), Ok(()));
        assert_eq!(
            both(&attributes(MAX_ATTRIBUTES + 1)),
            Err(XmlError::TooManyAttributes)
        );
        let value = |n: usize| format!(r#"<M a="{}"/>"#, "v".repeat(n));
        assert_eq!(both(&value(MAX_ATTRIBUTE_BYTES)), Ok(()));
        assert_eq!(
            both(&value(MAX_ATTRIBUTE_BYTES + 1)),
            Err(XmlError::AttributeTooLong)
        );
        let name = |n: usize| format!("<{0}></{0}>", "N".repeat(n));
        assert_eq!(both(&name(MAX_NAME_BYTES)), Ok(()));
        assert_eq!(both(&name(MAX_NAME_BYTES + 1)), Err(XmlError::NameTooLong));
        let attribute_name = format!(r#"<M {}="1"/>"#, "n".repeat(MAX_NAME_BYTES + 1));
        assert_eq!(both(&attribute_name), Err(XmlError::NameTooLong));
    }

    #[test]
    fn the_largest_tree_stays_small() {
        // The most elements, as many children of one element (the worst case for the
        // children's vectors): a 480 KB document.
        let document = format!("<M>{}</M>", "<X/>".repeat(MAX_ELEMENTS - 1));
        let tree = parse(&document).unwrap();
        let bytes = heap_bytes(&tree);
        assert!(bytes < 16 * 1024 * 1024, "{bytes} bytes");
        // Nested MSG and TO, as a full request: also bounded.
        let msg = format!(
            "<MSG><FROM>f</FROM>{}<BODY>b</BODY></MSG>",
            "<TO>0031612345678</TO>".repeat(100)
        );
        let document = format!("<MESSAGES>{}</MESSAGES>", msg.repeat(1000));
        let tree = parse(&document).unwrap();
        let bytes = heap_bytes(&tree);
        assert!(bytes < 16 * 1024 * 1024, "{bytes} bytes");
    }
}
