//! A guard for S3 XML request bodies, run on the bytes before s3s parses them: element
//! nesting deeper than a limit and document type declarations (the door of entity tricks;
//! no S3 request body has one) are refused. One pass over the bytes with a counter, no
//! recursion and no allocation, so a body of any shape costs time linear in its length and
//! constant stack. It does not validate XML: what it lets through, s3s still parses (and
//! refuses with `MalformedXML` when it is not well-formed).
//!
//! ```
//! use nas_s3::{XmlRefusal, check_xml};
//! assert!(check_xml(b"<Delete><Object><Key>a</Key></Object></Delete>", 32).is_ok());
//! let deep = "<a>".repeat(40);
//! assert_eq!(check_xml(deep.as_bytes(), 32), Err(XmlRefusal::TooDeep { limit: 32 }));
//! ```

/// How deep the elements of an S3 request body may nest (the deepest S3 document,
/// a lifecycle rule's `And` filter with tags, nests 6 levels).
pub const MAX_XML_DEPTH: usize = 32;

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlRefusal {
    /// Elements nest deeper than the limit.
    #[error("XML elements nest deeper than {limit} levels")]
    TooDeep {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The body declares a document type (`<!DOCTYPE`), which no S3 body has.
    #[error("XML document type declarations are not accepted")]
    Doctype,
}

/// Index of the first occurrence of `needle` in `hay` at or after `from`.
fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| from + i)
}

/// Checks that `xml`'s elements nest at most `max_depth` deep and that it declares no
/// document type. Comments, processing instructions and CDATA sections are skipped; a
/// `>` inside a quoted attribute value does not end its tag. An unterminated construct
/// ends the scan (the parser reports it).
pub fn check_xml(xml: &[u8], max_depth: usize) -> Result<(), XmlRefusal> {
    let mut depth = 0usize;
    let mut i = 0usize;
    while let Some(off) = xml.get(i..).and_then(|s| s.iter().position(|&b| b == b'<')) {
        let at = i + off;
        let rest = &xml[at..];
        let skip_to = |end: &[u8]| find(xml, at + 1, end).map(|e| e + end.len());
        let next = if rest.starts_with(b"<?") {
            skip_to(b"?>")
        } else if rest.starts_with(b"<!--") {
            skip_to(b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            skip_to(b"]]>")
        } else if rest.starts_with(b"<!") {
            return Err(XmlRefusal::Doctype);
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            skip_to(b">")
        } else {
            // a start tag: find its end outside quoted attribute values
            let mut quote = None;
            let mut end = None;
            for (j, &b) in rest.iter().enumerate().skip(1) {
                match (quote, b) {
                    (Some(q), _) if b == q => quote = None,
                    (Some(_), _) => {}
                    (None, b'"' | b'\'') => quote = Some(b),
                    (None, b'>') => {
                        end = Some(j);
                        break;
                    }
                    (None, _) => {}
                }
            }
            match end {
                Some(j) => {
                    if rest[j - 1] != b'/' {
                        depth += 1;
                        if depth > max_depth {
                            return Err(XmlRefusal::TooDeep { limit: max_depth });
                        }
                    }
                    Some(at + j + 1)
                }
                None => None,
            }
        };
        match next {
            Some(n) => i = n,
            None => return Ok(()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_bodies_pass() {
        let complete = br#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Part><ETag>"abc"</ETag><PartNumber>1</PartNumber></Part>
  <!-- a comment with <unbalanced> tags -->
  <Part><ETag>&quot;def&quot;</ETag><PartNumber>2</PartNumber></Part>
</CompleteMultipartUpload>"#;
        assert_eq!(check_xml(complete, 3), Ok(()));
        assert_eq!(check_xml(b"", 1), Ok(()));
        assert_eq!(check_xml(b"not xml at all", 1), Ok(()));
    }

    #[test]
    fn depth_counts_open_elements_only() {
        assert_eq!(check_xml(b"<a><b/><b/><b></b></a>", 2), Ok(()));
        assert_eq!(
            check_xml(b"<a><b><c/></b></a>", 1),
            Err(XmlRefusal::TooDeep { limit: 1 })
        );
        // siblings never add up
        let wide = "<a>".to_owned() + &"<b></b>".repeat(10_000) + "</a>";
        assert_eq!(check_xml(wide.as_bytes(), 2), Ok(()));
    }

    #[test]
    fn ten_thousand_levels_are_refused_without_recursion() {
        let deep = "<a>".repeat(10_000) + &"</a>".repeat(10_000);
        assert_eq!(
            check_xml(deep.as_bytes(), MAX_XML_DEPTH),
            Err(XmlRefusal::TooDeep {
                limit: MAX_XML_DEPTH
            })
        );
    }

    #[test]
    fn quoted_gt_comments_cdata_and_pis_do_not_confuse_it() {
        assert_eq!(
            check_xml(
                br#"<a x="1>2" y='<b>'><![CDATA[<c><c><c>]]><?pi <d>?></a>"#,
                1
            ),
            Ok(())
        );
        assert_eq!(check_xml(b"<a><!-- <b><b><b> --></a>", 1), Ok(()));
    }

    /// Why the guard is defence in depth: s3s's own deserializer skips unknown elements
    /// with a counter, not recursion, so 100,000 levels fit in a 256 KiB stack.
    #[test]
    fn s3s_skips_deep_unknown_elements_without_recursion() {
        use s3s::xml::{Deserialize, Deserializer};
        let n = 100_000;
        let deep = "<a>".repeat(n) + &"</a>".repeat(n);
        let bodies = [
            format!("<Delete><Object><Key>k</Key><X>{deep}</X></Object></Delete>"),
            format!("<Delete>{deep}<Object><Key>k</Key></Object></Delete>"),
        ];
        let done = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                bodies
                    .iter()
                    .map(|b| {
                        s3s::dto::Delete::deserialize(&mut Deserializer::new(b.as_bytes())).is_ok()
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(done.len(), 2);
    }

    #[test]
    fn doctype_is_refused() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>"#;
        assert_eq!(check_xml(bomb, 32), Err(XmlRefusal::Doctype));
    }

    #[test]
    fn unterminated_input_ends_the_scan() {
        for s in [
            &b"<a"[..],
            b"<a x=\"",
            b"<!--",
            b"<?x",
            b"<![CDATA[",
            b"</a",
            b"<",
        ] {
            assert_eq!(check_xml(s, 1), Ok(()), "{:?}", String::from_utf8_lossy(s));
        }
    }
}
