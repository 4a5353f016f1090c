//! Upload integrity: `Content-MD5` and the `x-amz-checksum-*` family, claimed in headers
//! or in `aws-chunked` trailers. The digests a request claims are computed while its body
//! streams and compared before anything is committed; a mismatch is `BadDigest` and
//! stores nothing. The computed values are kept with the version as user metadata
//! (`s3:checksum-<algo>`) and returned when a client asks with `x-amz-checksum-mode`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderMap;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
use s3s::dto::Checksum;
use s3s::{S3Error, S3ErrorCode, S3Result};
use std::collections::BTreeMap;

/// The algorithms S3 defines, by their lowercase names.
pub const ALGOS: [&str; 5] = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

/// Prefix of the user-metadata keys holding checksums.
const ATTR_PREFIX: &str = "s3:checksum-";

/// What a request says its body digests to.
#[derive(Debug, Default, Clone)]
pub struct Claims {
    /// `Content-MD5` (base64 of the 16-byte digest).
    pub content_md5: Option<String>,
    /// `x-amz-checksum-*` header values.
    pub values: Checksum,
    /// The algorithm the client asked for (`x-amz-sdk-checksum-algorithm`), lowercase.
    pub algorithm: Option<String>,
    /// The algorithm whose value comes as a trailer (`x-amz-trailer`), lowercase.
    pub trailer: Option<String>,
}

/// The `x-amz-checksum-*` values an S3 input carries (every input with checksums has the
/// same five fields).
macro_rules! claimed {
    ($x:expr) => {
        s3s::dto::Checksum {
            checksum_crc32: $x.checksum_crc32.clone(),
            checksum_crc32c: $x.checksum_crc32c.clone(),
            checksum_crc64nvme: $x.checksum_crc64nvme.clone(),
            checksum_sha1: $x.checksum_sha1.clone(),
            checksum_sha256: $x.checksum_sha256.clone(),
            ..Default::default()
        }
    };
}
pub(crate) use claimed;

/// The value of algorithm `algo` in `c`.
pub fn get<'a>(c: &'a Checksum, algo: &str) -> Option<&'a String> {
    match algo {
        "crc32" => c.checksum_crc32.as_ref(),
        "crc32c" => c.checksum_crc32c.as_ref(),
        "crc64nvme" => c.checksum_crc64nvme.as_ref(),
        "sha1" => c.checksum_sha1.as_ref(),
        "sha256" => c.checksum_sha256.as_ref(),
        _ => None,
    }
}

/// Sets the value of algorithm `algo` in `c`.
pub fn set(c: &mut Checksum, algo: &str, v: String) {
    match algo {
        "crc32" => c.checksum_crc32 = Some(v),
        "crc32c" => c.checksum_crc32c = Some(v),
        "crc64nvme" => c.checksum_crc64nvme = Some(v),
        "sha1" => c.checksum_sha1 = Some(v),
        "sha256" => c.checksum_sha256 = Some(v),
        _ => {}
    }
}

/// The algorithm `name` names (any case), if S3 defines it.
pub fn algo_named(name: &str) -> Option<&'static str> {
    let lower = name.trim().to_ascii_lowercase();
    let lower = lower.strip_prefix("x-amz-checksum-").unwrap_or(&lower);
    ALGOS.iter().copied().find(|a| *a == lower)
}

impl Claims {
    /// Reads the claims of a request from its headers plus the typed checksum fields.
    pub fn from_request(
        headers: &HeaderMap,
        content_md5: Option<String>,
        values: Checksum,
    ) -> S3Result<Claims> {
        let named = |h: &str| -> S3Result<Option<String>> {
            match headers.get(h).map(|v| v.to_str()) {
                None => Ok(None),
                Some(Ok(v)) => match algo_named(v) {
                    Some(a) => Ok(Some(a.to_owned())),
                    None => Err(S3Error::with_message(
                        S3ErrorCode::InvalidRequest,
                        format!("{h}: unknown checksum algorithm {v:?}"),
                    )),
                },
                Some(Err(_)) => Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    format!("{h} is not valid text"),
                )),
            }
        };
        Ok(Claims {
            content_md5,
            values,
            algorithm: named("x-amz-sdk-checksum-algorithm")?,
            trailer: named("x-amz-trailer")?,
        })
    }

    /// A hasher for every algorithm the request names.
    pub fn hasher(&self) -> ChecksumHasher {
        let wants = |a: &str| {
            get(&self.values, a).is_some()
                || self.algorithm.as_deref() == Some(a)
                || self.trailer.as_deref() == Some(a)
        };
        ChecksumHasher {
            crc32: wants("crc32").then(Crc32::new),
            crc32c: wants("crc32c").then(Crc32c::new),
            crc64nvme: wants("crc64nvme").then(Crc64Nvme::new),
            sha1: wants("sha1").then(Sha1::new),
            sha256: wants("sha256").then(Sha256::new),
        }
    }

    /// Compares what was computed with what was claimed (headers, then the trailers the
    /// body ended with).
    pub fn verify(
        &self,
        md5: &[u8],
        computed: &Checksum,
        trailers: Option<&HeaderMap>,
    ) -> S3Result<()> {
        if let Some(claimed) = &self.content_md5 {
            let ok = B64.decode(claimed.trim()).is_ok_and(|d| d == md5);
            if !ok {
                return Err(S3Error::with_message(
                    S3ErrorCode::BadDigest,
                    "the Content-MD5 you specified did not match what was received",
                ));
            }
        }
        for algo in ALGOS {
            let mut claimed = get(&self.values, algo).cloned();
            if self.trailer.as_deref() == Some(algo) {
                let header = format!("x-amz-checksum-{algo}");
                let Some(v) = trailers
                    .and_then(|t| t.get(header.as_str()))
                    .and_then(|v| v.to_str().ok())
                else {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidRequest,
                        format!("the body ended without the announced {header} trailer"),
                    ));
                };
                claimed = Some(v.trim().to_owned());
            }
            if let Some(c) = claimed
                && get(computed, algo) != Some(&c)
            {
                return Err(S3Error::with_message(
                    S3ErrorCode::BadDigest,
                    format!(
                        "the {} you specified did not match the calculated checksum",
                        algo.to_ascii_uppercase()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Stores the checksums of `c` in user metadata.
pub fn to_attrs(c: &Checksum, user: &mut BTreeMap<String, String>) {
    for algo in ALGOS {
        if let Some(v) = get(c, algo) {
            user.insert(format!("{ATTR_PREFIX}{algo}"), v.clone());
        }
    }
}

/// The checksums kept in user metadata.
pub fn from_attrs(user: &BTreeMap<String, String>) -> Checksum {
    let mut c = Checksum::default();
    for algo in ALGOS {
        if let Some(v) = user.get(&format!("{ATTR_PREFIX}{algo}")) {
            set(&mut c, algo, v.clone());
        }
    }
    c
}

/// The checksum of a multipart object made of parts with these checksums: the digest of
/// the parts' binary digests, then `-N` (S3's COMPOSITE type). `None` when a part lacks
/// a value for `algo`, or for CRC64NVME, which S3 only defines as a full-object checksum.
pub fn composite(algo: &str, parts: &[Option<String>]) -> Option<String> {
    let mut h = Claims {
        algorithm: Some(algo.to_owned()),
        ..Default::default()
    }
    .hasher();
    if algo == "crc64nvme" {
        return None;
    }
    for p in parts {
        h.update(&B64.decode(p.as_ref()?).ok()?);
    }
    let c = h.finalize();
    Some(format!("{}-{}", get(&c, algo)?, parts.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc32_of(data: &[u8]) -> String {
        let mut h = Claims {
            algorithm: Some("crc32".into()),
            ..Default::default()
        }
        .hasher();
        h.update(data);
        h.finalize().checksum_crc32.unwrap()
    }

    #[test]
    fn a_matching_claim_passes_and_a_wrong_one_is_bad_digest() {
        let good = Claims {
            values: Checksum {
                checksum_crc32: Some(crc32_of(b"hello")),
                ..Default::default()
            },
            ..Default::default()
        };
        let mut h = good.hasher();
        h.update(b"hello");
        let computed = h.finalize();
        good.verify(&[], &computed, None).unwrap();
        let mut h = good.hasher();
        h.update(b"hellO");
        let err = good.verify(&[], &h.finalize(), None).unwrap_err();
        assert_eq!(*err.code(), S3ErrorCode::BadDigest);
    }

    #[test]
    fn an_announced_trailer_must_arrive_and_match() {
        let c = Claims {
            trailer: Some("crc32".into()),
            ..Default::default()
        };
        let mut h = c.hasher();
        h.update(b"abc");
        let computed = h.finalize();
        assert_eq!(
            *c.verify(&[], &computed, None).unwrap_err().code(),
            S3ErrorCode::InvalidRequest
        );
        let mut t = HeaderMap::new();
        t.insert("x-amz-checksum-crc32", crc32_of(b"abc").parse().unwrap());
        c.verify(&[], &computed, Some(&t)).unwrap();
        t.insert("x-amz-checksum-crc32", crc32_of(b"abd").parse().unwrap());
        assert_eq!(
            *c.verify(&[], &computed, Some(&t)).unwrap_err().code(),
            S3ErrorCode::BadDigest
        );
    }

    #[test]
    fn content_md5_is_compared_in_binary() {
        let md5 = [7u8; 16];
        let c = Claims {
            content_md5: Some(B64.encode(md5)),
            ..Default::default()
        };
        c.verify(&md5, &Checksum::default(), None).unwrap();
        assert!(c.verify(&[8u8; 16], &Checksum::default(), None).is_err());
    }

    #[test]
    fn composite_is_digest_of_digests_with_count() {
        let parts = vec![Some(crc32_of(b"a")), Some(crc32_of(b"b"))];
        let v = composite("crc32", &parts).unwrap();
        assert!(v.ends_with("-2"), "{v}");
        assert_eq!(composite("crc32", &[Some(crc32_of(b"a")), None]), None);
    }
}
