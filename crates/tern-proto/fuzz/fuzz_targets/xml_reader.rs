//! The bounded XML reader (`cm::xml_tree`) on arbitrary bytes: never a panic; the tree pass
//! (`parse`) and the pass that keeps only a few fields (`fields`, used to read the product token
//! before a tree is built) refuse exactly the same documents and find the same token; and every
//! accepted tree is within the bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_proto::cm::xml_tree::{
    Element, MAX_ATTRIBUTE_BYTES, MAX_ATTRIBUTES, MAX_DEPTH, MAX_ELEMENTS, MAX_TEXT_BYTES, fields,
    parse,
};
use tern_proto::cm::{conversion, xml};

/// Elements, attributes and depth of a tree; checks each text and attribute value.
fn measure(element: &Element, depth: usize, totals: &mut (usize, usize, usize)) {
    totals.0 += 1;
    totals.1 += element.attributes.len();
    totals.2 = totals.2.max(depth);
    assert!(element.attributes.iter().all(|(_, v)| v.len() <= MAX_ATTRIBUTE_BYTES));
    for child in &element.children {
        measure(child, depth + 1, totals);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let tree = parse(text);
    let found = fields(text, &[&["AUTHENTICATION", "PRODUCTTOKEN"], &["MSG"]]);
    assert_eq!(
        tree.as_ref().err(),
        found.as_ref().err(),
        "both passes refuse the same documents"
    );
    if let (Ok(tree), Ok(found)) = (&tree, &found) {
        assert_eq!(tree.name, found.root);
        let token = tree
            .child("AUTHENTICATION")
            .and_then(|auth| auth.child("PRODUCTTOKEN"))
            .map(|token| token.text.clone());
        assert_eq!(token, found.texts[0]);
        let mut totals = (0, 0, 0);
        measure(tree, 1, &mut totals);
        assert!(totals.0 <= MAX_ELEMENTS && totals.1 <= MAX_ATTRIBUTES && totals.2 <= MAX_DEPTH);
        // A text is over the bound only through whitespace-only runs, which do not count.
        if tree.children.is_empty() && tree.text.trim() == tree.text {
            assert!(tree.text.len() <= MAX_TEXT_BYTES);
        }
    }
    let submit = xml::parse_submit(text);
    let token = xml::product_token(text);
    assert_eq!(
        submit.as_ref().map(|request| request.product_token.clone()).ok(),
        token.clone().ok()
    );
    assert_eq!(submit.is_ok(), token.is_ok());
    let _ = conversion::parse_xml(text);
});
