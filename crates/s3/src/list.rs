//! ListObjects (v1 and v2) over the tree, in S3's order: UTF-8 binary order of the whole
//! key. A folder's keys all start with `name/`, so among its siblings a folder sorts as
//! `name/` — after `name+1` or `name.txt` (`+` and `.` sort before `/`), though its name
//! sorts before theirs. The walk lists each folder in name order (the engine's order) and
//! holds back a folder until every sibling that sorts before `name/` has come: those are
//! exactly the names that follow it and extend it with a byte below `/`, so a small stack
//! suffices. The continuation token is the last key or common prefix returned; a page
//! resumes with every key above it, seeking to it level by level (skipping whole subtrees),
//! so every key comes exactly once across pages even while objects are added and removed.
//! With the `/` delimiter folders are not entered: each becomes one common prefix. Other
//! delimiters group keys as S3 does. A common prefix at or below the resume point is not
//! repeated.

use crate::keys::{blocking, bucket_path};
use crate::objects::etag_for_list;
use crate::service::{NasS3, need_bucket, owner_of, timestamp};
use nas_engine::{EngineError, Entry, Home, NodeKind};
use nas_types::NasPath;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

struct Walk<'a> {
    home: &'a Home,
    prefix: String,
    delimiter: Option<String>,
    /// Keys and common prefixes at or below this were returned already (exclusive bound).
    after: Option<String>,
    max: usize,
    contents: Vec<Object>,
    prefixes: Vec<String>,
    last: Option<String>,
    truncated: bool,
    /// The page is full, or the walk passed every key the prefix allows.
    stop: bool,
}

/// Whether a sibling named `next` comes before folder `dir` in S3's order (`next` extends
/// `dir` with a byte below `/`, so `next…` < `dir/`).
fn before_folder(next: &str, dir: &str) -> bool {
    next.len() > dir.len() && next.starts_with(dir) && next.as_bytes()[dir.len()] < b'/'
}

impl Walk<'_> {
    fn full(&self) -> bool {
        self.contents.len() + self.prefixes.len() >= self.max
    }

    fn above_resume(&self, key: &str) -> bool {
        self.after.as_deref().is_none_or(|a| key > a)
    }

    /// Returns false once the page is full (and marks it truncated).
    fn emit_key(&mut self, key: String, obj: Object) -> bool {
        if self.full() {
            self.truncated = true;
            self.stop = true;
            return false;
        }
        self.last = Some(key);
        self.contents.push(obj);
        true
    }

    fn emit_prefix(&mut self, cp: String) -> bool {
        if self.prefixes.last() == Some(&cp) || !self.above_resume(&cp) {
            return true;
        }
        if self.full() {
            self.truncated = true;
            self.stop = true;
            return false;
        }
        self.last = Some(cp.clone());
        self.prefixes.push(cp);
        true
    }

    /// The common prefix a key falls under, for a non-`/` delimiter.
    fn group(&self, key: &str) -> Option<String> {
        let d = self.delimiter.as_deref()?;
        let rest = key.strip_prefix(&self.prefix)?;
        rest.find(d)
            .map(|i| format!("{}{}", self.prefix, &rest[..i + d.len()]))
    }

    /// Where the walk of the folder with key `dir_key` starts: the resume point or the
    /// prefix, whichever is further, when it lies inside that folder.
    fn seek(&self, dir_key: &str) -> Option<String> {
        let p = self.prefix.as_str();
        let from = match self.after.as_deref() {
            Some(a) if a > p => a,
            _ => p,
        };
        from.strip_prefix(dir_key)
            .and_then(|r| r.split('/').next())
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
    }

    /// Walks folder `dir` (whose key is `dir_key`, ending in `/` or empty) in S3's order.
    fn walk(&mut self, dir: &NasPath, dir_key: &str) -> Result<(), EngineError> {
        // folders held back until the siblings that sort before them have come
        let mut held: Vec<Entry> = Vec::new();
        let mut after = None;
        if let Some(f) = self.seek(dir_key) {
            // the siblings before `f` by name that may sort after it: folders whose name
            // `f` extends with a byte below `/` (shortest first, as the stack wants)
            for (i, b) in f.bytes().enumerate().skip(1) {
                if b < b'/'
                    && let Ok(p) = dir.join(&f[..i])
                    && let Ok(e) = self.home.stat(&p)
                    && e.kind == NodeKind::Dir
                {
                    held.push(e);
                }
            }
            if let Ok(p) = dir.join(&f)
                && let Ok(e) = self.home.stat(&p)
            {
                self.next(e, &mut held, dir_key)?;
            }
            after = Some(f);
        }
        // Pages grow from what the answer still needs (one more tells it is truncated)
        // to 1,000: a small listing of a large folder reads a few rows, not a thousand.
        let mut size = (self.max + 1)
            .saturating_sub(self.contents.len() + self.prefixes.len())
            .clamp(16, 1000);
        while !self.stop {
            let page = self.home.list(dir, after.as_deref(), size)?;
            size = (size * 4).min(1000);
            for e in page.entries {
                self.next(e, &mut held, dir_key)?;
                if self.stop {
                    return Ok(());
                }
            }
            match page.next_after {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        while let Some(d) = held.pop()
            && !self.stop
        {
            self.visit(&d, dir_key)?;
        }
        Ok(())
    }

    /// The next child of a folder in name order: visits the held-back folders that sort
    /// before it, then it (or holds it back, if a folder).
    fn next(&mut self, e: Entry, held: &mut Vec<Entry>, dir_key: &str) -> Result<(), EngineError> {
        while !self.stop
            && held
                .last()
                .is_some_and(|d| !before_folder(e.name(), d.name()))
        {
            if let Some(d) = held.pop() {
                self.visit(&d, dir_key)?;
            }
        }
        if self.stop {
            return Ok(());
        }
        if e.kind == NodeKind::Dir {
            held.push(e);
            Ok(())
        } else {
            self.visit(&e, dir_key)
        }
    }

    /// One child, in S3's order.
    fn visit(&mut self, e: &Entry, dir_key: &str) -> Result<(), EngineError> {
        let is_dir = e.kind == NodeKind::Dir;
        let key = if is_dir {
            format!("{dir_key}{}/", e.name())
        } else {
            format!("{dir_key}{}", e.name())
        };
        let matches = key.starts_with(&self.prefix) || (is_dir && self.prefix.starts_with(&key));
        if !matches {
            if key.as_str() > self.prefix.as_str() {
                self.stop = true; // keys come in order: nothing further matches
            }
            return Ok(());
        }
        if is_dir {
            // a folder wholly at or below the resume point is skipped
            if let Some(a) = self.after.as_deref()
                && key.as_str() < a
                && !a.starts_with(&key)
            {
                return Ok(());
            }
            // a folder strictly below the prefix is one common prefix; the folder the
            // prefix names (or leads into) is entered
            if self.delimiter.as_deref() == Some("/")
                && key.starts_with(&self.prefix)
                && key.len() > self.prefix.len()
            {
                self.emit_prefix(key);
                return Ok(());
            }
            return self.walk(&e.path, &key);
        }
        if !self.above_resume(&key) {
            return Ok(());
        }
        if let Some(cp) = self.group(&key) {
            self.emit_prefix(cp);
            return Ok(());
        }
        let obj = Object {
            key: Some(key.clone()),
            size: Some(e.size as i64),
            last_modified: Some(timestamp(e.mtime_ns)),
            e_tag: Some(etag_for_list(e)),
            storage_class: Some(ObjectStorageClass::from_static(
                ObjectStorageClass::STANDARD,
            )),
            ..Default::default()
        };
        self.emit_key(key, obj);
        Ok(())
    }
}

/// URL-encodes a key for `encoding-type=url` (everything but unreserved characters and `/`;
/// so `+` comes back as `%2B` and a space as `%20`).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One page of the walk: objects, common prefixes, whether more follow, the last key or
/// prefix returned (the resume point).
pub struct Page {
    pub contents: Vec<Object>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    pub last: Option<String>,
}

/// Walks bucket `root` for up to `max` keys and prefixes after `resume`.
pub fn walk_page(
    home: &Home,
    root: &NasPath,
    prefix: String,
    delimiter: Option<String>,
    max: usize,
    resume: Option<String>,
) -> Result<Page, EngineError> {
    let mut w = Walk {
        home,
        prefix,
        delimiter,
        after: resume,
        max,
        contents: Vec::new(),
        prefixes: Vec::new(),
        last: None,
        truncated: false,
        stop: false,
    };
    if max > 0 {
        w.walk(root, "")?;
    }
    Ok(Page {
        contents: w.contents,
        prefixes: w.prefixes,
        truncated: w.truncated,
        last: w.last,
    })
}

/// Key encoding as the request asked (`encoding-type=url` or none).
pub fn encoder(t: Option<&EncodingType>) -> impl Fn(String) -> String + use<> {
    let url = t.is_some_and(|e| e.as_str() == EncodingType::URL);
    move |s: String| if url { url_encode(&s) } else { s }
}

/// Common prefixes as S3 lists them (absent when there are none).
pub fn common(prefixes: Vec<String>, enc: &impl Fn(String) -> String) -> Option<Vec<CommonPrefix>> {
    (!prefixes.is_empty()).then(|| {
        prefixes
            .into_iter()
            .map(|p| CommonPrefix {
                prefix: Some(enc(p)),
            })
            .collect()
    })
}

pub async fn list_v2(
    s3: &NasS3,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let r = s3.reader(&req, &req.input.bucket, None, false).await?;
    let (home, who) = (r.home, r.owner);
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let owner = input.fetch_owner.unwrap_or(false).then(|| owner_of(&who));
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let max = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
    let resume = input
        .continuation_token
        .clone()
        .or_else(|| input.start_after.clone());
    let root = bucket_path(&input.bucket)?;
    let (p2, d2) = (prefix.clone(), delimiter.clone());
    let page = blocking(move || walk_page(&home, &root, p2, d2, max, resume)).await?;
    let enc = encoder(input.encoding_type.as_ref());
    let contents: Vec<Object> = page
        .contents
        .into_iter()
        .map(|mut o| {
            o.key = o.key.map(&enc);
            o.owner = owner.clone();
            o
        })
        .collect();
    let common = common(page.prefixes, &enc);
    let key_count = (contents.len() + common.as_ref().map_or(0, Vec::len)) as i32;
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(enc(prefix)),
        delimiter: delimiter.map(&enc),
        max_keys: Some(max as i32),
        key_count: Some(key_count),
        is_truncated: Some(page.truncated),
        next_continuation_token: if page.truncated { page.last } else { None },
        continuation_token: input.continuation_token,
        start_after: input.start_after.map(&enc),
        encoding_type: input.encoding_type,
        contents: Some(contents),
        common_prefixes: common,
        ..Default::default()
    }))
}

/// ListObjects (v1): the same walk, resumed from `marker`.
pub async fn list_v1(
    s3: &NasS3,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let r = s3.reader(&req, &req.input.bucket, None, false).await?;
    let (home, who) = (r.home, r.owner);
    let input = req.input;
    need_bucket(&home, &input.bucket).await?;
    let owner = owner_of(&who); // v1 always names it
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let max = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
    let resume = input.marker.clone().filter(|m| !m.is_empty());
    let root = bucket_path(&input.bucket)?;
    let (p2, d2) = (prefix.clone(), delimiter.clone());
    let page = blocking(move || walk_page(&home, &root, p2, d2, max, resume)).await?;
    let enc = encoder(input.encoding_type.as_ref());
    let contents: Vec<Object> = page
        .contents
        .into_iter()
        .map(|mut o| {
            o.key = o.key.map(&enc);
            o.owner = Some(owner.clone());
            o
        })
        .collect();
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        prefix: Some(enc(prefix)),
        delimiter: delimiter.map(&enc),
        marker: Some(input.marker.map(&enc).unwrap_or_default()),
        max_keys: Some(max as i32),
        is_truncated: Some(page.truncated),
        // given always (S3 gives it only with a delimiter; clients fall back to the last key)
        next_marker: if page.truncated {
            page.last.map(&enc)
        } else {
            None
        },
        encoding_type: input.encoding_type,
        contents: Some(contents),
        common_prefixes: common(page.prefixes, &enc),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_encoding_of_keys() {
        assert_eq!(super::url_encode("a b+c/é"), "a%20b%2Bc/%C3%A9");
    }
}
