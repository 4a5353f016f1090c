//! GetObjectAttributes: the attributes asked for (`x-amz-object-attributes`: ETag,
//! ObjectSize, StorageClass, Checksum, ObjectParts) of the current version or the one
//! `versionId` names (also one behind a delete marker), without the content. Signed requests only (`public`).

use crate::checksums;
use crate::objects::{PARTS_KEY, etag_of_version};
use crate::read::named_version;
use crate::service::{NasS3, timestamp};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

/// Most parts one answer lists (AWS's default and limit).
const MAX_PARTS: i32 = 1000;

pub async fn get(
    s3: &NasS3,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let (home, _) = s3.caller(&req).await?;
    let input = req.input;
    // one header, comma-separated (s3s may hand it over as one element)
    let asked: Vec<String> = input
        .object_attributes
        .iter()
        .flat_map(|x| x.as_str().split(',').map(|a| a.trim().to_owned()))
        .collect();
    let want = |a: &str| asked.iter().any(|x| x == a);
    if input.object_attributes.is_empty() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "x-amz-object-attributes must name at least one attribute",
        ));
    }
    // the current version, or the one `versionId` names (also behind a delete marker)
    let (e, _) = named_version(
        &home,
        &input.bucket,
        &input.key,
        input.version_id.as_deref(),
    )
    .await?;
    let (num, size, mtime, attrs, hash) = (e.version, e.size, e.mtime_ns, e.attrs, e.hash);
    let parts: Option<Vec<u64>> = attrs
        .user
        .get(PARTS_KEY)
        .map(|l| l.split(',').filter_map(|s| s.parse().ok()).collect());
    let mut out = GetObjectAttributesOutput {
        version_id: num.map(|n| n.to_string()),
        last_modified: Some(timestamp(mtime)),
        ..Default::default()
    };
    if want(ObjectAttributes::ETAG) {
        out.e_tag = Some(etag_of_version(&attrs, hash.as_ref()));
    }
    if want(ObjectAttributes::OBJECT_SIZE) {
        out.object_size = Some(size as i64);
    }
    if want(ObjectAttributes::STORAGE_CLASS) {
        out.storage_class = Some(StorageClass::from_static(StorageClass::STANDARD));
    }
    if want(ObjectAttributes::CHECKSUM) {
        let mut c = checksums::from_attrs(&attrs.user);
        let any = [
            &c.checksum_crc32,
            &c.checksum_crc32c,
            &c.checksum_crc64nvme,
            &c.checksum_sha1,
            &c.checksum_sha256,
        ]
        .into_iter()
        .flatten()
        .next()
        .cloned();
        if let Some(v) = any {
            // a multipart object's composite checksum ends in `-N`
            let composite = v
                .rsplit_once('-')
                .is_some_and(|(_, n)| n.parse::<u32>().is_ok());
            c.checksum_type = Some(ChecksumType::from_static(if composite {
                ChecksumType::COMPOSITE
            } else {
                ChecksumType::FULL_OBJECT
            }));
            out.checksum = Some(c);
        }
    }
    if want(ObjectAttributes::OBJECT_PARTS)
        && let Some(sizes) = parts
    {
        let max = input.max_parts.unwrap_or(MAX_PARTS).clamp(0, MAX_PARTS) as usize;
        let after = input.part_number_marker.unwrap_or(0).max(0) as usize;
        let page: Vec<ObjectPart> = sizes
            .iter()
            .enumerate()
            .skip(after)
            .take(max)
            .map(|(i, s)| ObjectPart {
                part_number: Some(i as i32 + 1),
                size: Some(*s as i64),
                ..Default::default()
            })
            .collect();
        let last = page.last().and_then(|p| p.part_number);
        let truncated = after + page.len() < sizes.len();
        out.object_parts = Some(GetObjectAttributesParts {
            total_parts_count: Some(sizes.len() as i32),
            part_number_marker: Some(after as i32),
            next_part_number_marker: last,
            max_parts: Some(max as i32),
            is_truncated: Some(truncated),
            parts: Some(page),
        });
    }
    Ok(S3Response::new(out))
}
