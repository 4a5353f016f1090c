//! The door's guard on XML request bodies (PROPFIND, PROPPATCH, LOCK, and any other body
//! dav-server would parse): a size limit and an element-depth limit, checked before
//! dav-server's recursive parser (xmltree) sees the bytes, so no body can overflow a
//! worker's stack.
//!
//! The depth scan is a single forward pass over the bytes with a counter (no recursion,
//! no allocation): comments, CDATA sections and processing instructions are skipped,
//! attribute values may hold `>`, and `<x/>` counts as one level without staying open.
//! A document type declaration is refused outright (WebDAV bodies never carry one, and
//! its internal subset could declare entities). The scan does not validate the XML: a
//! malformed body that passes is refused by the parser afterwards, which stops at the
//! first error, so it never sees more nesting than the scan counted.

use thiserror::Error;

/// Largest XML body the door accepts (dav-server's own limit on non-PUT bodies).
pub const MAX_XML_BODY: usize = 64 * 1024;

/// Deepest element nesting the door accepts; real WebDAV bodies are about 5 deep.
pub const MAX_XML_DEPTH: usize = 64;

/// Why an XML body is refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum XmlGuardError {
    /// Elements nest deeper than the limit.
    #[error("XML body nests elements deeper than {limit} levels")]
    TooDeep {
        /// The limit that was passed.
        limit: usize,
    },
    /// The body carries a document type declaration.
    #[error("XML body carries a document type declaration")]
    Doctype,
}

/// Checks that `body` nests elements at most `max_depth` deep and has no DOCTYPE.
///
/// ```
/// use nas_webdav::xml_guard::{XmlGuardError, check_xml_depth};
/// assert!(check_xml_depth(b"<a><b/><!-- <c> --></a>", 2).is_ok());
/// assert_eq!(
///     check_xml_depth(b"<a><b><c/></b></a>", 2),
///     Err(XmlGuardError::TooDeep { limit: 2 })
/// );
/// ```
pub fn check_xml_depth(body: &[u8], max_depth: usize) -> Result<(), XmlGuardError> {
    let mut depth: usize = 0;
    let mut i = 0;
    while let Some(off) = find(body, i, b"<") {
        let at = off;
        let rest = &body[at..];
        if rest.starts_with(b"<!--") {
            i = skip_past(body, at + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = skip_past(body, at + 9, b"]]>");
        } else if rest.starts_with(b"<?") {
            i = skip_past(body, at + 2, b"?>");
        } else if rest.starts_with(b"<!") {
            // <!DOCTYPE …> (any case) or other markup declarations: never in WebDAV
            return Err(XmlGuardError::Doctype);
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = skip_past(body, at + 2, b">");
        } else {
            let (end, self_closing) = tag_end(body, at + 1);
            if depth + 1 > max_depth {
                return Err(XmlGuardError::TooDeep { limit: max_depth });
            }
            if !self_closing {
                depth += 1;
            }
            i = end;
        }
    }
    Ok(())
}

/// The first index of `needle` in `hay` at or after `from`.
fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The index just past the next `needle` at or after `from` (the end when absent).
fn skip_past(hay: &[u8], from: usize, needle: &[u8]) -> usize {
    find(hay, from, needle).map_or(hay.len(), |p| p + needle.len())
}

/// Scans a start tag from just after its `<`: the index past its `>` (quoted attribute
/// values may hold `>`) and whether it closes itself (`/>`).
fn tag_end(body: &[u8], from: usize) -> (usize, bool) {
    let mut quote: Option<u8> = None;
    let mut prev = 0u8;
    for (k, &b) in body.iter().enumerate().skip(from) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return (k + 1, prev == b'/'),
            None => {}
        }
        prev = b;
    }
    (body.len(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(n: usize) -> Vec<u8> {
        let mut v = b"<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\">".to_vec();
        for _ in 0..n {
            v.extend_from_slice(b"<a>");
        }
        for _ in 0..n {
            v.extend_from_slice(b"</a>");
        }
        v.extend_from_slice(b"</D:propfind>");
        v
    }

    #[test]
    fn counts_nesting_exactly() {
        assert!(check_xml_depth(&nested(63), 64).is_ok());
        assert_eq!(
            check_xml_depth(&nested(64), 64),
            Err(XmlGuardError::TooDeep { limit: 64 })
        );
        assert!(check_xml_depth(&nested(3000), 64).is_err());
        // siblings do not add up
        let flat = [&b"<r>"[..], &b"<a></a>".repeat(1000), b"</r>"].concat();
        assert!(check_xml_depth(&flat, 2).is_ok());
        assert!(check_xml_depth(b"", 1).is_ok());
        assert!(check_xml_depth(b"plain text, no tags", 0).is_ok());
    }

    #[test]
    fn self_closing_tags_count_but_do_not_stay_open() {
        assert!(check_xml_depth(b"<a><b/><b/><b /></a>", 2).is_ok());
        assert!(check_xml_depth(b"<a><b/></a>", 1).is_err());
        assert!(check_xml_depth(b"<a x='1/'><b/></a>", 2).is_ok());
    }

    #[test]
    fn comments_cdata_pis_and_attributes_hide_no_tags() {
        let body = b"<?xml version='1.0'?><a><!-- <b><b><b> --><![CDATA[<c><c><c>]]>\
                     <?pi <d><d> ?><e k=\"<f><f>\" j='>'/></a>";
        assert!(check_xml_depth(body, 2).is_ok());
        // but tags after a closed comment count again
        assert!(check_xml_depth(b"<a><!-- x --><b><c/></b></a>", 2).is_err());
        // an attribute value holding "/>" does not close the tag
        assert!(check_xml_depth(b"<a k=\"/>\"><b><c/></b></a>", 2).is_err());
    }

    #[test]
    fn doctypes_are_refused() {
        for body in [
            &b"<!DOCTYPE a [<!ENTITY x \"<b><b>\">]><a>&x;</a>"[..],
            b"<?xml version='1.0'?><!doctype a><a/>",
            b"<a><!ENTITY x 'y'></a>",
        ] {
            assert_eq!(check_xml_depth(body, 64), Err(XmlGuardError::Doctype));
        }
    }

    proptest::proptest! {
        /// Arbitrary bytes never panic the scan.
        #[test]
        fn never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = check_xml_depth(&body, 3);
        }

        /// For well-formed nestings with comments, CDATA and attributes in between, the
        /// scan's verdict matches the true depth.
        #[test]
        fn agrees_with_the_true_depth(
            steps in proptest::collection::vec(0u8..6, 0..200),
            limit in 1usize..12,
        ) {
            let (mut body, mut depth, mut deepest) = (Vec::new(), 0usize, 0usize);
            for s in steps {
                match s {
                    0 | 1 => {
                        body.extend_from_slice(b"<e k=\"<x>/\">");
                        depth += 1;
                        deepest = deepest.max(depth);
                    }
                    2 if depth > 0 => {
                        body.extend_from_slice(b"</e>");
                        depth -= 1;
                    }
                    3 => {
                        body.extend_from_slice(b"<s a='>'/>");
                        deepest = deepest.max(depth + 1);
                    }
                    4 => body.extend_from_slice(b"<!-- <a><a> --><![CDATA[<b><b>]]>"),
                    _ => body.extend_from_slice(b"text &amp; <?pi <c> ?>"),
                }
            }
            body.extend(b"</e>".repeat(depth));
            proptest::prop_assert_eq!(check_xml_depth(&body, limit).is_ok(), deepest <= limit);
        }
    }

    #[test]
    fn unterminated_constructs_end_the_scan() {
        for body in [
            &b"<a><!-- never closed <b><b><b>"[..],
            b"<a><![CDATA[ <b><b><b>",
            b"<a k=\"never closed <b><b><b>",
            b"<a><",
            b"<",
            b"</",
        ] {
            assert!(check_xml_depth(body, 2).is_ok(), "{body:?}");
        }
    }
}
