//! Every S3 error answer carries a `<Message>`: s3s and our own code often raise an error
//! by its code alone, and clients then print `BucketNotEmpty …: Unknown`. The listener
//! passes each small XML error answer through [`with_message`], which adds AWS's text for
//! the code (or a plain description from the HTTP status) where the message is missing.

/// AWS's message for `code`, for the codes this door answers.
pub fn aws_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "AccessDenied" => "Access Denied",
        "BadDigest" => "The Content-MD5 or checksum you specified did not match what we received.",
        "BucketAlreadyExists" => {
            "The requested bucket name is not available. Please select a different name and try again."
        }
        "BucketAlreadyOwnedByYou" => {
            "Your previous request to create the named bucket succeeded and you already own it."
        }
        "BucketNotEmpty" => "The bucket you tried to delete is not empty",
        "EntityTooSmall" => "Your proposed upload is smaller than the minimum allowed object size.",
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed object size.",
        "IncompleteBody" => {
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        }
        "InternalError" => "We encountered an internal error. Please try again.",
        "InvalidAccessKeyId" => "The AWS Access Key Id you provided does not exist in our records.",
        "InvalidArgument" => "Invalid Argument",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "InvalidDigest" => "The Content-MD5 you specified is not valid.",
        "InvalidPart" => {
            "One or more of the specified parts could not be found. The part may not have been \
             uploaded, or the specified entity tag may not match the part's entity tag."
        }
        "InvalidPartOrder" => {
            "The list of parts was not in ascending order. Parts must be ordered by part number."
        }
        "InvalidRange" => "The requested range is not satisfiable",
        "InvalidRequest" => "Invalid Request",
        "MalformedXML" => {
            "The XML you provided was not well-formed or did not validate against our published schema"
        }
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchCORSConfiguration" => "The CORS configuration does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "NoSuchUpload" => {
            "The specified multipart upload does not exist. The upload ID may be invalid, or the \
             upload may have been aborted or completed."
        }
        "NoSuchVersion" => "The specified version does not exist.",
        "NotImplemented" => {
            "A header or operation you provided implies functionality that is not implemented."
        }
        "PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
        "RequestTimeTooSkewed" => {
            "The difference between the request time and the server's time is too large."
        }
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method."
        }
        "SlowDown" => "Please reduce your request rate.",
        _ => return None,
    })
}

/// `body` (an XML error answer with this `status`) with a `<Message>` added after its
/// `<Code>` if it has none; `None` when nothing needs to change.
pub fn with_message(body: &[u8], status: u16) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(body).ok()?;
    if !text.contains("<Error>") || text.contains("<Message>") {
        return None;
    }
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    let code = &text[start..end];
    let message = match aws_message(code) {
        Some(m) => m.to_owned(),
        None => {
            let reason = http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error");
            format!("{reason} ({code})")
        }
    };
    let at = end + "</Code>".len();
    let mut out = Vec::with_capacity(body.len() + message.len() + 20);
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(b"<Message>");
    out.extend_from_slice(escape(&message).as_bytes());
    out.extend_from_slice(b"</Message>");
    out.extend_from_slice(&body[at..]);
    Some(out)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_added_only_where_missing() {
        let bare = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>BucketNotEmpty</Code><RequestId>1</RequestId></Error>";
        let out = String::from_utf8(with_message(bare, 409).unwrap()).unwrap();
        assert!(out.contains(
            "<Code>BucketNotEmpty</Code><Message>The bucket you tried to delete is not empty</Message><RequestId>"
        ));
        let has = b"<Error><Code>X</Code><Message>m</Message></Error>";
        assert!(with_message(has, 400).is_none());
        let odd = b"<Error><Code>XNasSomething</Code></Error>";
        let out = String::from_utf8(with_message(odd, 507).unwrap()).unwrap();
        assert!(out.contains("<Message>Insufficient Storage (XNasSomething)</Message>"));
        assert!(with_message(b"not xml", 400).is_none());
    }
}
