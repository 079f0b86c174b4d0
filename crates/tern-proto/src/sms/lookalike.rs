//! Look-alike substitutions for text sent as GSM 7-bit without being GSM.
//!
//! Exists because CM's default (no `body.type`, `dcs` absent or 0, or `TEXT`)
//! sends GSM 7-bit whatever the text holds: a character with no GSM form is
//! replaced by the GSM character(s) it most resembles, and by `?` when nothing
//! resembles it. One table serves both encoding and counting, so the part count
//! reported to the client always matches what is sent.

/// (character with no GSM form, GSM replacement), sorted by character.
/// Every replacement consists of GSM characters (unit-tested); `¦` becomes the
/// extension-table `|` (two septets), `…` becomes `...` (three septets) and
/// `Œ`/`œ` become `OE`/`oe`; all others are one septet.
pub const LOOKALIKES: &[(char, &str)] = &[
    ('\t', " "),
    ('`', "'"),
    ('\u{A0}', " "), // no-break space
    ('¢', "c"),
    ('¦', "|"), // becomes the extension-table '|': two septets
    ('¨', "\""),
    ('«', "\""),
    ('\u{AD}', "-"), // soft hyphen
    ('´', "'"),
    ('·', "."),
    ('»', "\""),
    ('À', "A"),
    ('Á', "A"),
    ('Â', "A"),
    ('Ã', "A"),
    ('È', "E"),
    ('Ê', "E"),
    ('Ë', "E"),
    ('Ì', "I"),
    ('Í', "I"),
    ('Î', "I"),
    ('Ï', "I"),
    ('Ð', "D"),
    ('Ò', "O"),
    ('Ó', "O"),
    ('Ô', "O"),
    ('Õ', "O"),
    ('×', "x"),
    ('Ù', "U"),
    ('Ú', "U"),
    ('Û', "U"),
    ('Ý', "Y"),
    ('á', "a"),
    ('â', "a"),
    ('ã', "a"),
    ('ç', "Ç"),
    ('ê', "e"),
    ('ë', "e"),
    ('í', "i"),
    ('î', "i"),
    ('ï', "i"),
    ('ð', "d"),
    ('ó', "o"),
    ('ô', "o"),
    ('õ', "o"),
    ('÷', "/"),
    ('ú', "u"),
    ('û', "u"),
    ('ý', "y"),
    ('ÿ', "y"),
    ('Ā', "A"),
    ('ā', "a"),
    ('Ă', "A"),
    ('ă', "a"),
    ('Ą', "A"),
    ('ą', "a"),
    ('Ć', "C"),
    ('ć', "c"),
    ('Ĉ', "C"),
    ('ĉ', "c"),
    ('Ċ', "C"),
    ('ċ', "c"),
    ('Č', "C"),
    ('č', "c"),
    ('Ď', "D"),
    ('ď', "d"),
    ('Đ', "D"),
    ('đ', "d"),
    ('Ē', "E"),
    ('ē', "e"),
    ('Ĕ', "E"),
    ('ĕ', "e"),
    ('Ė', "E"),
    ('ė', "e"),
    ('Ę', "E"),
    ('ę', "e"),
    ('Ě', "E"),
    ('ě', "e"),
    ('Ĝ', "G"),
    ('ĝ', "g"),
    ('Ğ', "G"),
    ('ğ', "g"),
    ('Ġ', "G"),
    ('ġ', "g"),
    ('Ģ', "G"),
    ('ģ', "g"),
    ('Ĥ', "H"),
    ('ĥ', "h"),
    ('Ĩ', "I"),
    ('ĩ', "i"),
    ('Ī', "I"),
    ('ī', "i"),
    ('Ĭ', "I"),
    ('ĭ', "i"),
    ('Į', "I"),
    ('į', "i"),
    ('İ', "I"),
    ('ı', "i"),
    ('Ĵ', "J"),
    ('ĵ', "j"),
    ('Ķ', "K"),
    ('ķ', "k"),
    ('Ĺ', "L"),
    ('ĺ', "l"),
    ('Ļ', "L"),
    ('ļ', "l"),
    ('Ľ', "L"),
    ('ľ', "l"),
    ('Ł', "L"),
    ('ł', "l"),
    ('Ń', "N"),
    ('ń', "n"),
    ('Ņ', "N"),
    ('ņ', "n"),
    ('Ň', "N"),
    ('ň', "n"),
    ('Ō', "O"),
    ('ō', "o"),
    ('Ŏ', "O"),
    ('ŏ', "o"),
    ('Ő', "O"),
    ('ő', "o"),
    ('Œ', "OE"),
    ('œ', "oe"),
    ('Ŕ', "R"),
    ('ŕ', "r"),
    ('Ŗ', "R"),
    ('ŗ', "r"),
    ('Ř', "R"),
    ('ř', "r"),
    ('Ś', "S"),
    ('ś', "s"),
    ('Ŝ', "S"),
    ('ŝ', "s"),
    ('Ş', "S"),
    ('ş', "s"),
    ('Š', "S"),
    ('š', "s"),
    ('Ţ', "T"),
    ('ţ', "t"),
    ('Ť', "T"),
    ('ť', "t"),
    ('Ũ', "U"),
    ('ũ', "u"),
    ('Ū', "U"),
    ('ū', "u"),
    ('Ŭ', "U"),
    ('ŭ', "u"),
    ('Ů', "U"),
    ('ů', "u"),
    ('Ű', "U"),
    ('ű', "u"),
    ('Ų', "U"),
    ('ų', "u"),
    ('Ŵ', "W"),
    ('ŵ', "w"),
    ('Ŷ', "Y"),
    ('ŷ', "y"),
    ('Ÿ', "Y"),
    ('Ź', "Z"),
    ('ź', "z"),
    ('Ż', "Z"),
    ('ż', "z"),
    ('Ž', "Z"),
    ('ž', "z"),
    ('Ș', "S"),
    ('ș', "s"),
    ('Ț', "T"),
    ('ț', "t"),
    ('Ά', "A"), // Greek capitals with tonos, and those shaped like Latin letters
    ('Έ', "E"),
    ('Ή', "H"),
    ('Ί', "I"),
    ('Ό', "O"),
    ('Ύ', "Y"),
    ('Ώ', "Ω"),
    ('Α', "A"),
    ('Β', "B"),
    ('Ε', "E"),
    ('Ζ', "Z"),
    ('Η', "H"),
    ('Ι', "I"),
    ('Κ', "K"),
    ('Μ', "M"),
    ('Ν', "N"),
    ('Ο', "O"),
    ('Ρ', "P"),
    ('Τ', "T"),
    ('Υ', "Y"),
    ('Χ', "X"),
    ('Ϊ', "I"),
    ('Ϋ', "Y"),
    ('\u{2000}', " "), // typographic spaces U+2000..U+200A
    ('\u{2001}', " "),
    ('\u{2002}', " "),
    ('\u{2003}', " "),
    ('\u{2004}', " "),
    ('\u{2005}', " "),
    ('\u{2006}', " "),
    ('\u{2007}', " "),
    ('\u{2008}', " "),
    ('\u{2009}', " "),
    ('\u{200A}', " "),
    ('‐', "-"), // hyphens and dashes U+2010..U+2015
    ('‑', "-"),
    ('‒', "-"),
    ('–', "-"),
    ('—', "-"),
    ('―', "-"),
    ('‘', "'"),
    ('’', "'"),
    ('‚', "'"),
    ('‛', "'"),
    ('“', "\""),
    ('”', "\""),
    ('„', "\""),
    ('‟', "\""),
    ('•', "-"),
    ('…', "..."),
    ('\u{202F}', " "), // narrow no-break space
    ('′', "'"),
    ('″', "\""),
    ('‹', "'"),
    ('›', "'"),
    ('\u{205F}', " "), // medium mathematical space
    ('−', "-"),        // minus sign
    ('\u{3000}', " "), // ideographic space
];

/// The GSM replacement for `c`, if the table has one. Characters that already
/// have a GSM form are not in the table.
#[inline]
pub fn lookalike(c: char) -> Option<&'static str> {
    if (c as u32) < 0x80 {
        // Only two ASCII characters lack a GSM form and have a look-alike.
        return match c {
            '\t' => Some(" "),
            '`' => Some("'"),
            _ => None,
        };
    }
    LOOKALIKES
        .binary_search_by_key(&c, |&(k, _)| k)
        .ok()
        .map(|i| LOOKALIKES[i].1)
}

#[cfg(test)]
mod tests {
    use super::super::gsm7;
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in LOOKALIKES.windows(2) {
            assert!(w[0].0 < w[1].0, "{:?} before {:?}", w[0].0, w[1].0);
        }
    }

    #[test]
    fn keys_are_not_gsm_and_replacements_are() {
        for &(c, r) in LOOKALIKES {
            assert!(!gsm7::is_gsm(c), "{c:?} is GSM already");
            assert!(!r.is_empty());
            assert!(r.chars().all(gsm7::is_gsm), "{c:?} -> {r:?}");
            assert_eq!(lookalike(c), Some(r));
        }
    }

    #[test]
    fn issue_examples() {
        assert_eq!(lookalike('ç'), Some("Ç"));
        assert_eq!(lookalike('á'), Some("a"));
        assert_eq!(lookalike('é'), None, "é is GSM");
        assert_eq!(lookalike('“'), Some("\""));
        assert_eq!(lookalike('’'), Some("'"));
        assert_eq!(lookalike('—'), Some("-"));
        assert_eq!(lookalike('\u{A0}'), Some(" "));
        assert_eq!(lookalike('Ж'), None);
        assert_eq!(lookalike('a'), None);
    }
}
