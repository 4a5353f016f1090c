//! The drop page's form: `POST /s/{token}/` with `multipart/form-data` (a browser's plain
//! `<form enctype="multipart/form-data">` with `<input type="file" multiple>`), each file
//! part stored as a new file of the drop share through the same path as a `PUT`
//! (`public_share::drop_writer`: the one upload bridge, never an overwrite).
//!
//! The body is parsed as it streams, in bounded memory: file bytes go on to the upload as
//! they arrive, and the parser keeps at most one delimiter's length back (plus one part's
//! headers, at most 8 KiB). Parts without a file name (other fields, an empty file input)
//! are read and discarded. At most [`MAX_PARTS`] parts. A body that breaks off stores
//! nothing of the file it was in (the files before it are stored).

use crate::public_page;
use crate::public_share::{drop_writer, engine_refusal};
use axum::extract::Request;
use axum::response::Response;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode, header};
use nas_engine::{EngineError, FileAttrs, OpenShare, Upload};
use std::collections::VecDeque;

/// Most parts in one form.
pub const MAX_PARTS: usize = 1_000;
/// Largest headers of one part.
const MAX_HEAD: usize = 8 * 1024;

/// Whether a request's body is `multipart/form-data`.
pub(crate) fn is_multipart(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// Why a form was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FormError {
    /// No usable boundary in `Content-Type`.
    #[error("the form has no multipart boundary")]
    NoBoundary,
    /// The body does not follow the multipart syntax.
    #[error("the form is malformed")]
    Malformed,
    /// A part's headers are too long, or there are too many parts.
    #[error("the form is too large: at most {MAX_PARTS} parts with 8 KiB of headers each")]
    TooLarge,
    /// The body ended before the closing delimiter.
    #[error("the upload broke off; the file it was in was not stored")]
    Truncated,
}

/// What the parser found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A file part begins: its file name (the last segment of what the browser sent) and
    /// content type.
    File(String, Option<String>),
    /// Bytes of the current file.
    Data(Bytes),
    /// The current file is complete.
    End,
}

enum State {
    Preamble,
    AfterDelimiter,
    Headers,
    Body { file: bool },
    Done,
}

/// A push parser of `multipart/form-data`.
pub(crate) struct Parser {
    /// `\r\n--boundary` (the body is read as if it began with `\r\n`).
    delim: Vec<u8>,
    buf: BytesMut,
    state: State,
    parts: usize,
    out: VecDeque<Event>,
}

fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        (1..=70).contains(&v.len()).then(|| v.to_owned())
    })
}

/// The `filename` parameter of a `Content-Disposition: form-data; …` value.
fn file_name(disposition: &str) -> Option<String> {
    let mut rest = disposition;
    while let Some(i) = rest.find(';') {
        rest = rest[i + 1..].trim_start();
        let (k, v) = rest.split_once('=')?;
        let (value, after) = if let Some(q) = v.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((j, c)) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = j + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            (out, &q[end..])
        } else {
            let end = v.find(';').unwrap_or(v.len());
            (v[..end].trim().to_owned(), &v[end..])
        };
        if k.trim().eq_ignore_ascii_case("filename") {
            // browsers send the base name; older ones sent a whole Windows path
            let base = value.rsplit(['/', '\\']).next().unwrap_or("").to_owned();
            return Some(base);
        }
        rest = after;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

impl Parser {
    pub(crate) fn new(content_type: &str) -> Result<Self, FormError> {
        let b = boundary(content_type).ok_or(FormError::NoBoundary)?;
        let mut buf = BytesMut::with_capacity(64 * 1024);
        buf.extend_from_slice(b"\r\n");
        Ok(Parser {
            delim: [b"\r\n--".as_slice(), b.as_bytes()].concat(),
            buf,
            state: State::Preamble,
            parts: 0,
            out: VecDeque::new(),
        })
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The next event; `None` when more bytes are needed (or the form is done).
    /// `eof`: no more bytes will come.
    pub(crate) fn next(&mut self, eof: bool) -> Result<Option<Event>, FormError> {
        loop {
            if let Some(e) = self.out.pop_front() {
                return Ok(Some(e));
            }
            let keep = self.delim.len() - 1;
            match self.state {
                State::Done => return Ok(None),
                State::Preamble => match find(&self.buf, &self.delim) {
                    Some(i) => {
                        self.buf.advance(i + self.delim.len());
                        self.state = State::AfterDelimiter;
                    }
                    None => {
                        let drop = self.buf.len().saturating_sub(keep);
                        self.buf.advance(drop);
                        return if eof {
                            Err(FormError::Truncated)
                        } else {
                            Ok(None)
                        };
                    }
                },
                State::AfterDelimiter => {
                    if self.buf.len() < 2 {
                        return if eof {
                            Err(FormError::Truncated)
                        } else {
                            Ok(None)
                        };
                    }
                    if self.buf.starts_with(b"--") {
                        self.state = State::Done;
                        self.buf.clear();
                    } else if self.buf.starts_with(b"\r\n") {
                        self.buf.advance(2);
                        self.state = State::Headers;
                    } else {
                        return Err(FormError::Malformed);
                    }
                }
                State::Headers => {
                    let (end, skip) = if self.buf.starts_with(b"\r\n") {
                        (0, 2) // a part without headers
                    } else {
                        match find(&self.buf, b"\r\n\r\n") {
                            Some(i) => (i, 4),
                            None if self.buf.len() > MAX_HEAD => return Err(FormError::TooLarge),
                            None if eof => return Err(FormError::Truncated),
                            None => return Ok(None),
                        }
                    };
                    if end > MAX_HEAD {
                        return Err(FormError::TooLarge);
                    }
                    self.parts += 1;
                    if self.parts > MAX_PARTS {
                        return Err(FormError::TooLarge);
                    }
                    let head = self.buf.split_to(end + skip);
                    let head = std::str::from_utf8(&head).map_err(|_| FormError::Malformed)?;
                    let (mut name, mut ctype) = (None, None);
                    for line in head.split("\r\n") {
                        let Some((k, v)) = line.split_once(':') else {
                            continue;
                        };
                        if k.trim().eq_ignore_ascii_case("content-disposition") {
                            name = file_name(v.trim());
                        } else if k.trim().eq_ignore_ascii_case("content-type") {
                            ctype = Some(v.trim().to_owned());
                        }
                    }
                    let file = name.as_deref().is_some_and(|n| !n.is_empty());
                    if let (true, Some(n)) = (file, name) {
                        self.out.push_back(Event::File(n, ctype));
                    }
                    self.state = State::Body { file };
                }
                State::Body { file } => match find(&self.buf, &self.delim) {
                    Some(i) => {
                        let data = self.buf.split_to(i).freeze();
                        self.buf.advance(self.delim.len());
                        self.state = State::AfterDelimiter;
                        if file {
                            if !data.is_empty() {
                                self.out.push_back(Event::Data(data));
                            }
                            self.out.push_back(Event::End);
                        }
                    }
                    None => {
                        let n = self.buf.len().saturating_sub(keep);
                        let data = self.buf.split_to(n).freeze();
                        if eof {
                            return Err(FormError::Truncated);
                        }
                        if file && !data.is_empty() {
                            return Ok(Some(Event::Data(data)));
                        }
                        return Ok(None);
                    }
                },
            }
        }
    }
}

fn refused(e: &FormError, h: &HeaderMap) -> Response {
    public_page::error(StatusCode::BAD_REQUEST, &e.to_string(), h)
}

/// Stores every file of the form; answers how many and how many bytes (not their names).
pub(crate) async fn upload(
    open: &OpenShare,
    token: &str,
    req: Request,
) -> Result<Response, Response> {
    let h = req.headers().clone();
    let ctype = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut parser = Parser::new(ctype).map_err(|e| refused(&e, &h))?;
    let mut data = req.into_body().into_data_stream();
    let mut current: Option<(Upload, Option<String>)> = None;
    let (mut files, mut size) = (0u64, 0u64);
    let mut eof = false;
    loop {
        while let Some(ev) = parser.next(eof).map_err(|e| refused(&e, &h))? {
            match ev {
                Event::File(name, ctype) => {
                    if nas_types::NasPath::parse(&format!("/{name}")).is_err() {
                        return Err(public_page::error(
                            StatusCode::BAD_REQUEST,
                            "a file name is not allowed here",
                            &h,
                        ));
                    }
                    current = Some((drop_writer(open, &name, &h).await?, ctype));
                }
                Event::Data(b) => {
                    if let Some((up, _)) = current.as_mut() {
                        up.push(b).await.map_err(|e| engine_refusal(&e, &h))?;
                    }
                }
                Event::End => {
                    if let Some((up, content_type)) = current.take() {
                        let attrs = FileAttrs {
                            content_type,
                            ..FileAttrs::default()
                        };
                        let v = up
                            .finish(Some(attrs), None)
                            .await
                            .map_err(|e| engine_refusal(&e, &h))?;
                        files += 1;
                        size += v.size;
                    }
                }
            }
        }
        if eof || parser.done() {
            break;
        }
        match data.next().await {
            Some(Ok(b)) => parser.push(&b),
            Some(Err(_)) => {
                return Err(engine_refusal(
                    &EngineError::Incomplete("the body broke off".into()),
                    &h,
                ));
            }
            None => eof = true,
        }
    }
    // the epilogue after the closing delimiter, if any, is not read
    if files == 0 {
        return Err(public_page::error(
            StatusCode::BAD_REQUEST,
            "choose one or more files to send",
            &h,
        ));
    }
    Ok(public_page::dropped_files(Some(token), files, size, &h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(ct: &str, body: &[u8], step: usize) -> Result<Vec<Event>, FormError> {
        let mut p = Parser::new(ct)?;
        let mut out = Vec::new();
        for chunk in body.chunks(step) {
            p.push(chunk);
            while let Some(e) = p.next(false)? {
                out.push(e);
            }
        }
        while let Some(e) = p.next(true)? {
            out.push(e);
        }
        assert!(p.done());
        // join the data of each file
        let mut joined: Vec<Event> = Vec::new();
        for e in out {
            match (joined.last_mut(), e) {
                (Some(Event::Data(a)), Event::Data(b)) => {
                    *a = Bytes::from([a.as_ref(), b.as_ref()].concat());
                }
                (_, e) => joined.push(e),
            }
        }
        Ok(joined)
    }

    const CT: &str = "multipart/form-data; boundary=----WebKitFormBoundaryX1";

    fn form() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"------WebKitFormBoundaryX1\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n");
        b.extend_from_slice(b"------WebKitFormBoundaryX1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".txt\"\r\nContent-Type: text/plain\r\n\r\n");
        b.extend_from_slice(b"line one\r\n--not the boundary\r\n------WebKitFormBoundaryX");
        b.extend_from_slice(b"\r\n------WebKitFormBoundaryX1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"C:\\\\Users\\\\x\\\\z.bin\"\r\n\r\n");
        b.extend_from_slice(&[0u8, 13, 10, 45, 45, 255]);
        b.extend_from_slice(b"\r\n------WebKitFormBoundaryX1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n------WebKitFormBoundaryX1--\r\n");
        b
    }

    #[test]
    fn files_come_out_whole_however_the_body_is_cut() {
        let want = vec![
            Event::File("a \"b\".txt".into(), Some("text/plain".into())),
            Event::Data(Bytes::from_static(
                b"line one\r\n--not the boundary\r\n------WebKitFormBoundaryX",
            )),
            Event::End,
            Event::File("z.bin".into(), None),
            Event::Data(Bytes::from_static(&[0, 13, 10, 45, 45, 255])),
            Event::End,
        ];
        for step in [1, 2, 3, 7, 16, 41, 1000] {
            assert_eq!(events(CT, &form(), step).unwrap(), want, "step {step}");
        }
    }

    #[test]
    fn broken_forms_are_refused() {
        let body = form();
        assert_eq!(
            events(CT, &body[..body.len() - 10], 5).unwrap_err(),
            FormError::Truncated
        );
        assert_eq!(
            events("multipart/form-data", &body, 5).unwrap_err(),
            FormError::NoBoundary
        );
        let mut long = b"------WebKitFormBoundaryX1\r\nX: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 10_000));
        assert_eq!(events(CT, &long, 100).unwrap_err(), FormError::TooLarge);
        let many = "------WebKitFormBoundaryX1\r\n\r\nx\r\n".repeat(MAX_PARTS + 1);
        assert_eq!(
            events(CT, many.as_bytes(), 64).unwrap_err(),
            FormError::TooLarge
        );
        assert_eq!(
            events(CT, b"------WebKitFormBoundaryX1junk", 4).unwrap_err(),
            FormError::Malformed
        );
    }
}
