//! [`NatsServer`]: a real `nats-server` for tests (Debian's package), on a free port of
//! 127.0.0.1, killed when dropped; it can be stopped and started again on the same port
//! (a bus that goes away and comes back). It answers the plain NATS protocol, so a test
//! can subscribe with a raw TCP connection ([`Subscriber`]) and see exactly what was
//! published.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `nats-server`.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    /// `nats://127.0.0.1:PORT`.
    pub url: String,
}

/// The nats-server binary (Debian puts it in /usr/sbin, off a user's PATH).
pub fn nats_server() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("nats-server"))
            .find(|f| f.is_file())
    });
    on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"))
}

impl NatsServer {
    /// Starts a server, waiting until it accepts connections.
    pub fn start() -> std::io::Result<NatsServer> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut s = NatsServer {
            child: None,
            port,
            url: format!("nats://127.0.0.1:{port}"),
        };
        s.restart()?;
        Ok(s)
    }

    /// Starts the stopped server again, on the same port.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        let child = Command::new(nats_server())
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                std::io::Error::other(format!(
                    "cannot run {} (Debian package nats-server): {e}",
                    nats_server().display()
                ))
            })?;
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > until {
                self.stop();
                return Err(std::io::Error::other("nats-server did not listen"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Kills the server (it stays stopped until [`restart`](NatsServer::restart)).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A subscription to `subject` (wildcards allowed), ready when this returns.
    pub fn subscribe(&self, subject: &str) -> std::io::Result<Subscriber> {
        Subscriber::connect(self.port, subject)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A plain-protocol NATS subscriber: `CONNECT`, `SUB`, then `MSG` lines.
pub struct Subscriber {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// One message received.
#[derive(Debug, Clone)]
pub struct Message {
    /// Its subject.
    pub subject: String,
    /// Its payload.
    pub payload: Vec<u8>,
}

impl Subscriber {
    fn connect(port: u16, subject: &str) -> std::io::Result<Subscriber> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        let mut writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        let mut info = String::new();
        reader.read_line(&mut info)?; // INFO {...}
        writer.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")?;
        writer.write_all(format!("SUB {subject} 1\r\nPING\r\n").as_bytes())?;
        let mut s = Subscriber { reader, writer };
        // the PONG means the server has the subscription
        loop {
            let line = s.line()?;
            if line == "PONG" {
                return Ok(s);
            }
        }
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut l = String::new();
        if self.reader.read_line(&mut l)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(l.trim_end().to_owned())
    }

    /// The next message, waiting up to `timeout`; `None` when none came.
    pub fn next(&mut self, timeout: Duration) -> std::io::Result<Option<Message>> {
        let until = Instant::now() + timeout;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.reader.get_ref().set_read_timeout(Some(left))?;
            let line = match self.line() {
                Ok(l) => l,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            if line == "PING" {
                self.writer.write_all(b"PONG\r\n")?;
                continue;
            }
            // MSG <subject> <sid> [reply-to] <#bytes>
            let parts: Vec<&str> = line.split(' ').collect();
            if parts.first() != Some(&"MSG") || parts.len() < 4 {
                continue;
            }
            let len: usize = parts[parts.len() - 1]
                .parse()
                .map_err(|_| std::io::Error::other(format!("bad MSG line {line}")))?;
            let mut payload = vec![0u8; len + 2];
            self.reader.read_exact(&mut payload)?;
            payload.truncate(len);
            return Ok(Some(Message {
                subject: parts[1].to_owned(),
                payload,
            }));
        }
    }
}
