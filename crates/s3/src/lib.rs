//! The S3-compatible door of Silent-NAS. `s3s` provides the protocol (routing, XML,
//! SigV4 with presigned URLs and `aws-chunked` bodies); this crate implements its service
//! trait on the engine. One namespace: a bucket is a top-level folder of the signed-in
//! user's home and an object key is a path below it, so what WebDAV writes S3 lists and
//! the other way round. Rules for keys that cannot map onto a tree: `docs/compat/s3.md`.
//!
//! Operations not implemented here answer `NotImplemented` (s3s's default), never a fake
//! success.
//!
//! Requests are signed, except the public reads a bucket's or object's ACL or the
//! anonymous-download policy grants (GetObject, HeadObject, ListObjects): see `public`.

mod acl;
mod attributes;
mod auth;
mod checksums;
mod complete;
mod conditions;
mod cors;
mod delete;
mod digest;
mod form;
mod guard;
mod keys;
mod lifecycle;
mod list;
mod listener;
mod lock_integrity;
mod markers;
mod messages;
mod multipart;
mod object_lock;
mod object_retention;
mod objects;
mod part_copy;
mod policy;
mod post_upload;
mod public;
mod read;
mod service;
mod sigv2;
mod staging;
mod tagging;
mod upload;
mod version_id;
mod versioning;
mod versions;
mod xml_body;
mod xml_guard;

pub use auth::KeyAuth;
pub use guard::{MAX_PRESIGN_SECS, REGION};
pub use listener::{S3Options, router};
pub use service::NasS3;
pub use xml_body::{MAX_CORS_BODY, MAX_XML_BODY};
pub use xml_guard::{MAX_XML_DEPTH, XmlRefusal, check_xml};
