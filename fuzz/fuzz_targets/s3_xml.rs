//! An S3 XML request body as the S3 door gets it: the door's guard (`check_xml`: depth,
//! DOCTYPE) never panics, and whatever it lets through, s3s's deserializers of every body
//! the door reads parse without a panic or a stack overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3s::xml::{Deserialize, Deserializer};

fuzz_target!(|data: &[u8]| {
    if nas_s3::check_xml(data, nas_s3::MAX_XML_DEPTH).is_err() {
        return;
    }
    let _ = s3s::dto::Delete::deserialize(&mut Deserializer::new(data));
    let _ = s3s::dto::CompletedMultipartUpload::deserialize(&mut Deserializer::new(data));
    let _ = s3s::dto::CORSConfiguration::deserialize(&mut Deserializer::new(data));
    let _ = s3s::dto::VersioningConfiguration::deserialize(&mut Deserializer::new(data));
    let _ = s3s::dto::Tagging::deserialize(&mut Deserializer::new(data));
    let _ = s3s::dto::CreateBucketConfiguration::deserialize(&mut Deserializer::new(data));
});
