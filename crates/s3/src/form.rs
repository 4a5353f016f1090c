//! A `multipart/form-data` body read as a browser POST upload needs it: the fields before
//! the `file` part are read into memory (at most [`MAX_PRE_DATA`] bytes, AWS's limit), then
//! the file's content is a stream that ends at the next boundary, read as it arrives
//! (memory bounded by a frame plus the boundary). Fields after the file are not read, as
//! on AWS.

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use std::pin::Pin;

/// Most bytes of form data before the file's content (AWS's limit for POST uploads).
pub const MAX_PRE_DATA: usize = 20 * 1024;

/// Why a form could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// Not a form S3 can read (the message says where).
    Malformed(String),
    /// More than [`MAX_PRE_DATA`] bytes before the file.
    TooLarge,
    /// The body ended or failed.
    Body(String),
}

pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// The fields before the file part, and the file part's own headers.
pub struct Form {
    /// Field names (lower-cased, as S3 compares them) and values, in order.
    pub fields: Vec<(String, String)>,
    /// The file part's `filename`.
    pub filename: String,
}

impl Form {
    /// The value of a field (its name in any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

/// A `name="value"` parameter of a `Content-Disposition` header.
fn param(disposition: &str, name: &str) -> Option<String> {
    disposition.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Reads a body up to its file part: the fields before it, and the stream of the file's
/// content (which yields an error if the body ends before the closing boundary).
pub async fn read(mut body: ByteStream, boundary: &str) -> Result<(Form, ByteStream), FormError> {
    let first = format!("--{boundary}");
    let delim = format!("\r\n--{boundary}");
    let mut buf = BytesMut::new();
    let mut fields = Vec::new();
    // fill `buf` until `pred` holds, within the pre-data limit
    async fn more(body: &mut ByteStream, buf: &mut BytesMut) -> Result<bool, FormError> {
        match body.next().await {
            Some(Ok(b)) => {
                buf.extend_from_slice(&b);
                Ok(true)
            }
            Some(Err(e)) => Err(FormError::Body(e.to_string())),
            None => Ok(false),
        }
    }
    let mut consumed = 0usize;
    // the opening boundary
    while buf.len() < first.len() + 2 {
        if !more(&mut body, &mut buf).await? {
            return Err(FormError::Malformed(
                "the form ends before its first part".into(),
            ));
        }
    }
    if !buf.starts_with(first.as_bytes()) {
        return Err(FormError::Malformed(
            "the form does not start with its boundary".into(),
        ));
    }
    buf.advance(first.len());
    loop {
        // after a boundary: "--" ends the form, CRLF starts a part
        while buf.len() < 2 {
            if !more(&mut body, &mut buf).await? {
                return Err(FormError::Malformed(
                    "the form ends after a boundary".into(),
                ));
            }
        }
        if buf.starts_with(b"--") {
            return Err(FormError::Malformed("the form has no file part".into()));
        }
        if !buf.starts_with(b"\r\n") {
            return Err(FormError::Malformed(
                "a boundary is not followed by a line end".into(),
            ));
        }
        buf.advance(2);
        // the part's headers (each byte is searched once: a client sending one byte at a
        // time costs no more than one sending it all)
        let mut from = 0;
        let end = loop {
            if let Some(i) = find_from(&buf, b"\r\n\r\n", &mut from) {
                break i;
            }
            if consumed + buf.len() > MAX_PRE_DATA {
                return Err(FormError::TooLarge);
            }
            if !more(&mut body, &mut buf).await? {
                return Err(FormError::Malformed("a part's headers never end".into()));
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        consumed += end + 4;
        buf.advance(end + 4);
        let disposition = head
            .split("\r\n")
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-disposition")
                    .then(|| v.trim().to_owned())
            })
            .ok_or_else(|| FormError::Malformed("a part has no Content-Disposition".into()))?;
        let name = param(&disposition, "name")
            .ok_or_else(|| FormError::Malformed("a part has no name".into()))?;
        if name.eq_ignore_ascii_case("file") {
            let filename = param(&disposition, "filename").unwrap_or_default();
            let stream = file_stream(body, buf, delim);
            return Ok((Form { fields, filename }, stream));
        }
        // a field's value, up to the next boundary
        let mut from = 0;
        let end = loop {
            if let Some(i) = find_from(&buf, delim.as_bytes(), &mut from) {
                break i;
            }
            if consumed + buf.len() > MAX_PRE_DATA {
                return Err(FormError::TooLarge);
            }
            if !more(&mut body, &mut buf).await? {
                return Err(FormError::Malformed("a field never ends".into()));
            }
        };
        let value = String::from_utf8(buf[..end].to_vec())
            .map_err(|_| FormError::Malformed(format!("field {name:?} is not UTF-8")))?;
        consumed += end + delim.len();
        if consumed > MAX_PRE_DATA {
            return Err(FormError::TooLarge);
        }
        buf.advance(end + delim.len());
        fields.push((name.to_ascii_lowercase(), value));
    }
}

/// Where `needle` starts in `hay`, searching from `*from`; when absent, `*from` moves to
/// the first place a match could still start once more bytes come.
fn find_from(hay: &[u8], needle: &[u8], from: &mut usize) -> Option<usize> {
    let start = (*from).min(hay.len());
    match hay[start..].windows(needle.len()).position(|w| w == needle) {
        Some(i) => Some(start + i),
        None => {
            *from = hay.len().saturating_sub(needle.len() - 1).max(start);
            None
        }
    }
}

/// The file's content: the bytes up to `delim`, as they arrive. Only the last
/// `delim.len()` bytes are held back (they may be the start of the boundary).
fn file_stream(body: ByteStream, buf: BytesMut, delim: String) -> ByteStream {
    struct St {
        body: ByteStream,
        buf: BytesMut,
        delim: Vec<u8>,
        /// Bytes of `buf` known not to start the delimiter.
        from: usize,
        done: bool,
    }
    let st = St {
        body,
        buf,
        delim: delim.into_bytes(),
        from: 0,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            if let Some(i) = find_from(&st.buf, &st.delim, &mut st.from) {
                st.done = true;
                let out = st.buf.split_to(i).freeze();
                if out.is_empty() {
                    return None;
                }
                return Some((Ok(out), st));
            }
            let keep = st.delim.len();
            if st.buf.len() > keep + 64 * 1024 {
                let n = st.buf.len() - keep;
                st.from = st.from.saturating_sub(n);
                let out = st.buf.split_to(n).freeze();
                return Some((Ok(out), st));
            }
            match st.body.next().await {
                Some(Ok(b)) => st.buf.extend_from_slice(&b),
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                None => {
                    st.done = true;
                    let e = std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the form ends inside the file (no closing boundary)",
                    );
                    return Some((Err(e), st));
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(body: &[u8], size: usize) -> ByteStream {
        let parts: Vec<Result<Bytes, std::io::Error>> = body
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Box::pin(futures_util::stream::iter(parts))
    }

    async fn collect(mut s: ByteStream) -> Result<Vec<u8>, std::io::Error> {
        let mut out = Vec::new();
        while let Some(b) = s.next().await {
            out.extend_from_slice(&b?);
        }
        Ok(out)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn fields_then_a_streamed_file_at_any_chunking() {
        block_on(fields_then_file())
    }

    async fn fields_then_file() {
        let file: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nup/${filename}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"Policy\"\r\n\r\nabc\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
        body.extend_from_slice(&file);
        body.extend_from_slice(b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"submit\"\r\n\r\nUpload\r\n--XyZ--\r\n");
        for size in [1, 7, 1000, 65_536, body.len()] {
            let (form, stream) = read(chunks(&body, size), "XyZ").await.unwrap();
            assert_eq!(form.get("key"), Some("up/${filename}"));
            assert_eq!(form.get("policy"), Some("abc"));
            assert_eq!(form.filename, "a.bin");
            assert_eq!(collect(stream).await.unwrap(), file, "chunks of {size}");
        }
    }

    #[test]
    fn broken_forms_are_refused() {
        block_on(broken_forms())
    }

    async fn broken_forms() {
        let cut =
            b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nabc";
        let (_, s) = read(chunks(cut, 3), "b").await.unwrap();
        assert!(collect(s).await.is_err(), "no closing boundary");
        let no_file = b"--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--b--\r\n";
        assert!(matches!(
            read(chunks(no_file, 5), "b").await,
            Err(FormError::Malformed(_))
        ));
        let mut big = b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_PRE_DATA + 1));
        assert!(matches!(
            read(chunks(&big, 4096), "b").await,
            Err(FormError::TooLarge)
        ));
        assert_eq!(
            boundary("multipart/form-data; boundary=\"q\""),
            Some("q".into())
        );
        assert_eq!(boundary("text/plain; boundary=q"), None);
    }
}
