//! Object tagging: Put/Get/DeleteObjectTagging, the `x-amz-tagging` header of PutObject,
//! CreateMultipartUpload and CopyObject (with `x-amz-tagging-directive`), and the
//! `x-amz-tagging-count` of GET and HEAD.
//!
//! A version's tags are kept in its attributes under the reserved key [`TAGS_KEY`] (a JSON
//! list of `[key, value]` pairs, in the order given), so each version has its own tags, as
//! on AWS. Changing tags changes that version's attributes in place
//! (`Home::set_version_attrs`, or `Home::trash_set_version_attrs` for a version behind a
//! delete marker): no new version is made. A new PUT of a key without tags
//! makes a version without tags. Limits are AWS's ([`check`]).

use crate::keys::{blocking, object_path};
use crate::read::named_version;
use crate::service::NasS3;
use crate::version_id;
use nas_engine::FileAttrs;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

/// Attribute key under which a version's tags are kept.
pub const TAGS_KEY: &str = "s3:tags";

/// Most tags an object may have (AWS's limit).
pub const MAX_TAGS: usize = 10;
/// Longest tag key, in Unicode characters.
pub const MAX_TAG_KEY: usize = 128;
/// Longest tag value, in Unicode characters.
pub const MAX_TAG_VALUE: usize = 256;

/// A tag set: `(key, value)` pairs, keys unique.
pub type Tags = Vec<(String, String)>;

fn invalid(msg: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidTag, msg.into())
}

/// Refuses a tag set AWS refuses (`InvalidTag`, 400): more than [`MAX_TAGS`] tags, a key
/// empty or over [`MAX_TAG_KEY`] characters, a value over [`MAX_TAG_VALUE`], a key given
/// twice, or a key in the reserved `aws:` namespace.
pub fn check(tags: &Tags) -> S3Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(invalid(format!(
            "Object tags cannot be greater than {MAX_TAGS}"
        )));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        let klen = k.chars().count();
        if klen == 0 || klen > MAX_TAG_KEY {
            return Err(invalid(format!(
                "The TagKey you have provided is invalid: a key has 1 to {MAX_TAG_KEY} characters"
            )));
        }
        if v.chars().count() > MAX_TAG_VALUE {
            return Err(invalid(format!(
                "The TagValue you have provided is invalid: a value has at most {MAX_TAG_VALUE} characters"
            )));
        }
        if k.starts_with("aws:") {
            return Err(invalid("System tags cannot be added/updated by requester"));
        }
        if tags[..i].iter().any(|(other, _)| other == k) {
            return Err(invalid("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

/// The tags of a `Tagging` body, checked.
pub fn from_body(t: Tagging) -> S3Result<Tags> {
    let tags = t
        .tag_set
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    check(&tags)?;
    Ok(tags)
}

/// The tags of an `x-amz-tagging` header (URL query form: `k1=v1&k2=v2`), checked.
pub fn from_header(h: &str) -> S3Result<Tags> {
    let bad = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query \
             parameters without tag name duplicates.",
        )
    };
    let mut tags = Tags::new();
    for pair in h.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        tags.push((
            url_decode(k).ok_or_else(bad)?,
            url_decode(v).ok_or_else(bad)?,
        ));
    }
    check(&tags)?;
    Ok(tags)
}

/// Decodes `%XX` escapes and `+` (a space), as a URL query's values; `None` when an escape
/// is malformed or the bytes are not UTF-8.
fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The tags kept in a version's attributes.
pub fn tags_of(attrs: &FileAttrs) -> Tags {
    attrs
        .user
        .get(TAGS_KEY)
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default()
}

/// How many tags a version has (`x-amz-tagging-count`; `None` for none).
pub fn count(attrs: &FileAttrs) -> Option<i32> {
    let n = tags_of(attrs).len();
    (n > 0).then_some(n as i32)
}

/// Sets the tags in attributes (an empty set removes the key).
pub fn set(attrs: &mut FileAttrs, tags: &Tags) {
    match serde_json::to_string(tags) {
        Ok(j) if !tags.is_empty() => {
            attrs.user.insert(TAGS_KEY.into(), j);
        }
        _ => {
            attrs.user.remove(TAGS_KEY);
        }
    }
}

/// Replaces the tags of the version named (in place: the current one without `versionId`,
/// else that version, also one behind a delete marker) and answers its id.
async fn retag(
    home: nas_engine::Home,
    bucket: &str,
    key: &str,
    id: Option<&str>,
    tags: Tags,
) -> S3Result<String> {
    let (e, trashed) = named_version(&home, bucket, key, id).await?;
    let num = e.version.ok_or_else(|| s3s::s3_error!(NoSuchKey))?;
    let mut attrs = e.attrs;
    set(&mut attrs, &tags);
    let p = object_path(bucket, key)?;
    blocking(move || version_id::set_attrs(&home, &p, num, trashed, &attrs)).await?;
    Ok(num.to_string())
}

pub async fn put(
    s3: &NasS3,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    let tags = from_body(input.tagging)?;
    let v = retag(
        home,
        &input.bucket,
        &input.key,
        input.version_id.as_deref(),
        tags,
    )
    .await?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: Some(v),
    }))
}

pub async fn get(
    s3: &NasS3,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let (home, _) = s3.caller(&req).await?;
    let input = req.input;
    let (e, _) = named_version(
        &home,
        &input.bucket,
        &input.key,
        input.version_id.as_deref(),
    )
    .await?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: tags_of(&e.attrs)
            .into_iter()
            .map(|(k, v)| Tag {
                key: Some(k),
                value: Some(v),
            })
            .collect(),
        version_id: e.version.map(|n| n.to_string()),
    }))
}

pub async fn delete(
    s3: &NasS3,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let (home, _) = s3.writer(&req).await?;
    let input = req.input;
    let v = retag(
        home,
        &input.bucket,
        &input.key,
        input.version_id.as_deref(),
        Tags::new(),
    )
    .await?;
    Ok(S3Response::new(DeleteObjectTaggingOutput {
        version_id: Some(v),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: S3Result<Tags>) -> S3ErrorCode {
        r.unwrap_err().code().clone()
    }

    #[test]
    fn the_header_is_a_url_query() {
        assert_eq!(
            from_header("a=1&b%20c=d+e&empty=&x=%E2%9C%93").unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("b c".into(), "d e".into()),
                ("empty".into(), "".into()),
                ("x".into(), "✓".into()),
            ]
        );
        assert!(from_header("").unwrap().is_empty());
        assert_eq!(code(from_header("a=%zz")), S3ErrorCode::InvalidArgument);
        assert_eq!(code(from_header("a=%FF")), S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn aws_limits_are_invalid_tag() {
        let many: String = (0..11).map(|i| format!("k{i}=v&")).collect();
        assert_eq!(code(from_header(&many)), S3ErrorCode::InvalidTag);
        assert_eq!(code(from_header("a=1&a=2")), S3ErrorCode::InvalidTag);
        assert_eq!(code(from_header("=v")), S3ErrorCode::InvalidTag);
        assert_eq!(code(from_header("aws:x=1")), S3ErrorCode::InvalidTag);
        // limits count characters, not bytes
        let key: String = "é".repeat(MAX_TAG_KEY);
        let value: String = "é".repeat(MAX_TAG_VALUE);
        assert!(check(&vec![(key.clone(), value.clone())]).is_ok());
        assert!(check(&vec![(key.clone() + "x", value.clone())]).is_err());
        assert!(check(&vec![(key, value + "x")]).is_err());
    }

    #[test]
    fn tags_round_trip_through_attributes() {
        let mut a = FileAttrs::default();
        let tags: Tags = vec![("b".into(), "2".into()), ("a".into(), "1".into())];
        set(&mut a, &tags);
        assert_eq!(tags_of(&a), tags, "order kept");
        assert_eq!(count(&a), Some(2));
        set(&mut a, &Tags::new());
        assert!(!a.user.contains_key(TAGS_KEY));
        assert_eq!(count(&a), None);
    }
}
