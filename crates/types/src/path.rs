//! [`NasPath`]: the one place where path rules are enforced.
//!
//! Rules (documented for users in `docs/design/namespace.md`):
//! - `/` separates segments; a leading `/` is optional and one trailing `/` is tolerated.
//! - No empty segment (`a//b`), no `.` or `..` segment: paths are never resolved, only refused.
//! - No NUL and no other control character (U+0000–U+001F, U+007F) in a name.
//! - Every segment is stored in Unicode NFC: names that differ only in normalization
//!   (precomposed `é` vs `e` + combining acute) are the *same* name. Case is significant.
//! - A segment is at most [`MAX_NAME_BYTES`] UTF-8 bytes, a path at most [`MAX_PATH_BYTES`].
//!
//! Doors percent-decode before parsing, so `%2e%2e` arrives here as `..` and is refused.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;
use unicode_normalization::{UnicodeNormalization, is_nfc_quick};

/// Longest name (one segment) in UTF-8 bytes, after NFC normalization.
pub const MAX_NAME_BYTES: usize = 255;
/// Longest path in UTF-8 bytes, after NFC normalization.
pub const MAX_PATH_BYTES: usize = 4096;

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    /// `a//b`.
    #[error("path {0:?} has an empty segment")]
    EmptySegment(String),
    /// `.` or `..`.
    #[error("path {0:?} has a '.' or '..' segment")]
    DotSegment(String),
    /// NUL or another control character.
    #[error("path {0:?} contains a control character")]
    ControlChar(String),
    /// A segment longer than [`MAX_NAME_BYTES`].
    #[error("a name in path {0:?} is longer than {MAX_NAME_BYTES} bytes")]
    NameTooLong(String),
    /// A path longer than [`MAX_PATH_BYTES`].
    #[error("path is longer than {MAX_PATH_BYTES} bytes")]
    PathTooLong,
    /// A single name was expected (no `/`).
    #[error("{0:?} is not a single name")]
    NotAName(String),
}

/// A normalized, confined path inside a home: `/` or `/a/b`, NFC, no dot segments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NasPath(String);

impl NasPath {
    /// The root of a home.
    pub fn root() -> Self {
        NasPath("/".to_owned())
    }

    /// Parses and normalizes `input` under the rules of this module.
    pub fn parse(input: &str) -> Result<Self, PathError> {
        let trimmed = input.strip_prefix('/').unwrap_or(input);
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Ok(Self::root());
        }
        let mut out = String::with_capacity(input.len() + 1);
        for seg in trimmed.split('/') {
            let name = normalize_name(seg).map_err(|e| e.with_path(input))?;
            out.push('/');
            out.push_str(&name);
        }
        if out.len() > MAX_PATH_BYTES {
            return Err(PathError::PathTooLong);
        }
        Ok(NasPath(out))
    }

    /// The normalized text, always starting with `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The segments, root first; empty for `/`.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }

    /// Last segment; `None` for `/`.
    pub fn name(&self) -> Option<&str> {
        if self.is_root() {
            None
        } else {
            self.0.rsplit('/').next()
        }
    }

    /// The enclosing folder; `None` for `/`.
    pub fn parent(&self) -> Option<NasPath> {
        if self.is_root() {
            return None;
        }
        match self.0.rfind('/') {
            Some(0) | None => Some(Self::root()),
            Some(i) => Some(NasPath(self.0[..i].to_owned())),
        }
    }

    /// `self/name`, where `name` must be a single valid segment.
    pub fn join(&self, name: &str) -> Result<NasPath, PathError> {
        if name.contains('/') {
            return Err(PathError::NotAName(name.to_owned()));
        }
        let name = normalize_name(name).map_err(|e| e.with_path(name))?;
        let mut s = if self.is_root() {
            String::new()
        } else {
            self.0.clone()
        };
        s.push('/');
        s.push_str(&name);
        if s.len() > MAX_PATH_BYTES {
            return Err(PathError::PathTooLong);
        }
        Ok(NasPath(s))
    }

    /// True when `self` is `other` or lies below it.
    pub fn is_within(&self, other: &NasPath) -> bool {
        if other.is_root() || self == other {
            return true;
        }
        self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/')
    }
}

/// Validates and NFC-normalizes a single name.
pub fn normalize_name(seg: &str) -> Result<String, PathError> {
    if seg.is_empty() {
        return Err(PathError::EmptySegment(String::new()));
    }
    if seg == "." || seg == ".." {
        return Err(PathError::DotSegment(String::new()));
    }
    if seg.chars().any(|c| c.is_ascii_control()) {
        return Err(PathError::ControlChar(String::new()));
    }
    let name: String = if is_nfc_quick(seg.chars()) == unicode_normalization::IsNormalized::Yes {
        seg.to_owned()
    } else {
        seg.nfc().collect()
    };
    if name.len() > MAX_NAME_BYTES {
        return Err(PathError::NameTooLong(String::new()));
    }
    Ok(name)
}

impl PathError {
    fn with_path(self, p: &str) -> Self {
        let p = p.to_owned();
        match self {
            PathError::EmptySegment(_) => PathError::EmptySegment(p),
            PathError::DotSegment(_) => PathError::DotSegment(p),
            PathError::ControlChar(_) => PathError::ControlChar(p),
            PathError::NameTooLong(_) => PathError::NameTooLong(p),
            other => other,
        }
    }
}

impl fmt::Display for NasPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for NasPath {
    type Error = PathError;
    fn try_from(s: String) -> Result<Self, PathError> {
        NasPath::parse(&s)
    }
}

impl From<NasPath> for String {
    fn from(p: NasPath) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_normalizes() {
        assert_eq!(NasPath::parse("").unwrap().as_str(), "/");
        assert_eq!(NasPath::parse("/").unwrap().as_str(), "/");
        assert_eq!(NasPath::parse("a/b").unwrap().as_str(), "/a/b");
        assert_eq!(NasPath::parse("/a/b/").unwrap().as_str(), "/a/b");
        assert_eq!(
            NasPath::parse("/with space/%41 #?+ 😀").unwrap().as_str(),
            "/with space/%41 #?+ 😀"
        );
    }

    #[test]
    fn refuses_bad_paths() {
        assert!(matches!(
            NasPath::parse("a//b"),
            Err(PathError::EmptySegment(_))
        ));
        assert!(matches!(
            NasPath::parse("/a/../b"),
            Err(PathError::DotSegment(_))
        ));
        assert!(matches!(
            NasPath::parse("./a"),
            Err(PathError::DotSegment(_))
        ));
        assert!(matches!(
            NasPath::parse("a\0b"),
            Err(PathError::ControlChar(_))
        ));
        assert!(matches!(
            NasPath::parse("a\nb"),
            Err(PathError::ControlChar(_))
        ));
        let long = "x".repeat(256);
        assert!(matches!(
            NasPath::parse(&long),
            Err(PathError::NameTooLong(_))
        ));
        let deep = vec!["abcdefghij"; 400].join("/");
        assert_eq!(NasPath::parse(&deep), Err(PathError::PathTooLong));
        assert!(NasPath::root().join("a/b").is_err());
    }

    #[test]
    fn unicode_forms_are_one_name() {
        let nfc = NasPath::parse("/caf\u{e9}").unwrap();
        let nfd = NasPath::parse("/cafe\u{301}").unwrap();
        assert_eq!(nfc, nfd);
        assert_ne!(
            NasPath::parse("/Cafe").unwrap(),
            NasPath::parse("/cafe").unwrap()
        );
    }

    #[test]
    fn parent_name_join_within() {
        let p = NasPath::parse("/a/b/c").unwrap();
        assert_eq!(p.name(), Some("c"));
        assert_eq!(p.parent().unwrap().as_str(), "/a/b");
        assert_eq!(
            NasPath::parse("/a").unwrap().parent().unwrap(),
            NasPath::root()
        );
        assert_eq!(NasPath::root().parent(), None);
        assert_eq!(p.parent().unwrap().join("c").unwrap(), p);
        assert!(p.is_within(&NasPath::parse("/a").unwrap()));
        assert!(
            !NasPath::parse("/ab")
                .unwrap()
                .is_within(&NasPath::parse("/a").unwrap())
        );
        assert_eq!(p.segments().collect::<Vec<_>>(), vec!["a", "b", "c"]);
    }

    proptest! {
        #[test]
        fn parse_is_idempotent(s in "[a-zé\u{301}/. ]{0,40}") {
            if let Ok(p) = NasPath::parse(&s) {
                let again = NasPath::parse(p.as_str()).unwrap();
                prop_assert_eq!(&again, &p);
                prop_assert!(p.segments().all(|seg| seg != "." && seg != ".." && !seg.is_empty()));
                prop_assert!(p.as_str().starts_with('/'));
            }
        }

        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = NasPath::parse(&s);
        }
    }
}
