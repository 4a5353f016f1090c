//! One keep-alive HTTP/1.1 connection: write a request, read its answer to the end (a
//! `Content-Length` body or a chunked one), keep nothing of the body.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Conn {
    tcp: TcpStream,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

/// What the generator keeps of an answer.
pub struct Answer {
    pub status: u16,
    /// False when the server said `Connection: close`.
    pub keep_alive: bool,
}

enum Body {
    Length(usize),
    Chunked,
}

const MAX_HEAD: usize = 64 * 1024;

impl Conn {
    pub async fn open(addr: &str) -> io::Result<Conn> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        Ok(Conn {
            tcp,
            buf: vec![0; 64 * 1024],
            pos: 0,
            len: 0,
        })
    }

    /// Sends `request` and reads its answer. Takes and gives back the connection so a
    /// caller can bound the exchange with a timeout.
    pub async fn exchange(mut self, request: &[u8]) -> io::Result<(Conn, Answer)> {
        self.tcp.write_all(request).await?;
        let (status, keep_alive, body) = self.head().await?;
        match body {
            Body::Length(n) => self.skip(n).await?,
            Body::Chunked => self.chunks().await?,
        }
        Ok((self, Answer { status, keep_alive }))
    }

    /// Reads and parses the status line and headers.
    async fn head(&mut self) -> io::Result<(u16, bool, Body)> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut res = httparse::Response::new(&mut headers);
            match res.parse(&self.buf[self.pos..self.len]) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = res.code.unwrap_or(0);
                    let mut keep_alive = true;
                    let mut body = Body::Length(0);
                    for h in res.headers.iter() {
                        let v = std::str::from_utf8(h.value).unwrap_or("").trim();
                        if h.name.eq_ignore_ascii_case("content-length") {
                            body = Body::Length(v.parse().map_err(|_| bad("content-length"))?);
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
                            && v.eq_ignore_ascii_case("chunked")
                        {
                            body = Body::Chunked;
                        } else if h.name.eq_ignore_ascii_case("connection")
                            && v.eq_ignore_ascii_case("close")
                        {
                            keep_alive = false;
                        }
                    }
                    // 1xx, 204 and 304 have no body whatever the headers say.
                    if status < 200 || status == 204 || status == 304 {
                        body = Body::Length(0);
                    }
                    self.pos += n;
                    return Ok((status, keep_alive, body));
                }
                Ok(httparse::Status::Partial) if self.len - self.pos < MAX_HEAD => {
                    self.fill().await?
                }
                Ok(httparse::Status::Partial) => return Err(bad("head too long")),
                Err(e) => return Err(bad(&e.to_string())),
            }
        }
    }

    /// Reads more bytes after the unread ones (moved to the front first).
    async fn fill(&mut self) -> io::Result<()> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.len, 0);
            self.len -= self.pos;
            self.pos = 0;
        }
        let n = self.tcp.read(&mut self.buf[self.len..]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed mid-answer",
            ));
        }
        self.len += n;
        Ok(())
    }

    async fn skip(&mut self, mut n: usize) -> io::Result<()> {
        while n > 0 {
            if self.pos == self.len {
                self.pos = 0;
                self.len = 0;
                self.fill().await?;
            }
            let take = n.min(self.len - self.pos);
            self.pos += take;
            n -= take;
        }
        Ok(())
    }

    /// The next CRLF-ended line (without the CRLF).
    async fn line(&mut self) -> io::Result<String> {
        loop {
            let unread = &self.buf[self.pos..self.len];
            if let Some(i) = unread.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&unread[..i]).into_owned();
                self.pos += i + 2;
                return Ok(line);
            }
            if self.len - self.pos >= MAX_HEAD {
                return Err(bad("chunk line too long"));
            }
            self.fill().await?;
        }
    }

    async fn chunks(&mut self) -> io::Result<()> {
        loop {
            let line = self.line().await?;
            let hex = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(hex, 16).map_err(|_| bad("chunk size"))?;
            if size == 0 {
                // Trailers, then the blank line.
                while !self.line().await?.is_empty() {}
                return Ok(());
            }
            self.skip(size + 2).await?;
        }
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad answer: {what}"))
}
