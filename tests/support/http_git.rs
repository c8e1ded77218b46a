//! Git's smart HTTP protocol on 127.0.0.1: a small HTTP/1.1 server (plain, or HTTPS with a
//! certificate from a test CA) that demands basic authentication and hands every request to the
//! real `git http-backend` (CGI). It records the requests it saw, so tests can check what was
//! sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use base64::Engine as _;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub status: u16,
}

/// The server; its threads end with the test process.
pub struct HttpGit {
    pub port: u16,
    pub root: PathBuf,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// PEM of the CA that signed the server's certificate (HTTPS only).
    pub ca_pem: Option<String>,
    tls: bool,
}

impl HttpGit {
    /// Serves the bare repositories under `root` over plain HTTP, accepting only
    /// `user`/`password`.
    pub fn start(root: &Path, user: &str, password: &str) -> HttpGit {
        Self::start_with(root, user, password, false)
    }

    /// The same over HTTPS; trust [`HttpGit::ca_pem`] to connect.
    pub fn start_tls(root: &Path, user: &str, password: &str) -> HttpGit {
        Self::start_with(root, user, password, true)
    }

    fn start_with(root: &Path, user: &str, password: &str, tls: bool) -> HttpGit {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let root_owned = root.to_path_buf();
        let seen_thread = Arc::clone(&seen);
        let (ca_pem, server_config) = if tls {
            let (pem, config) = super::pki::test_pki();
            (Some(pem), Some(config))
        } else {
            (None, None)
        };
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let root = root_owned.clone();
                let expected = expected.clone();
                let seen = Arc::clone(&seen_thread);
                let server_config = server_config.clone();
                std::thread::spawn(move || {
                    let _ = match server_config {
                        Some(config) => match rustls::ServerConnection::new(config) {
                            Ok(conn) => serve(
                                rustls::StreamOwned::new(conn, stream),
                                &root,
                                &expected,
                                &seen,
                            ),
                            Err(_) => Ok(()),
                        },
                        None => serve(stream, &root, &expected, &seen),
                    };
                });
            }
        });
        HttpGit {
            port,
            root: root.to_path_buf(),
            seen,
            ca_pem,
            tls,
        }
    }

    pub fn url(&self, name: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/{name}", self.port)
    }

    /// Writes the CA certificate into `dir` and returns the file's path, for `SSL_CERT_FILE`.
    pub fn ca_file(&self, dir: &Path) -> String {
        let path = dir.join("ca.pem");
        std::fs::write(&path, self.ca_pem.as_deref().expect("an HTTPS server")).unwrap();
        path.display().to_string()
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(
    stream: impl Read + Write,
    root: &Path,
    expected: &str,
    seen: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end().to_string();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            read_chunked(&mut reader)?
        } else {
            let len: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body)?;
            body
        };
        let authorization = header("authorization");
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        if authorization.as_deref() != Some(expected) {
            seen.lock().unwrap().push(Seen {
                method,
                path: path.to_string(),
                authorization,
                status: 401,
            });
            let writer = reader.get_mut();
            writer.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\n\r\n",
            )?;
            writer.flush()?;
            continue;
        }
        let mut command = Command::new("git");
        command
            .arg("http-backend")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GIT_PROJECT_ROOT", root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("REQUEST_METHOD", &method)
            .env("PATH_INFO", path)
            .env("QUERY_STRING", query)
            .env("REMOTE_USER", "reader")
            .env("REMOTE_ADDR", "127.0.0.1")
            .env("CONTENT_LENGTH", body.len().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(v) = header("content-type") {
            command.env("CONTENT_TYPE", v);
        }
        if let Some(v) = header("git-protocol") {
            command.env("GIT_PROTOCOL", v);
        }
        if let Some(v) = header("content-encoding") {
            command.env("HTTP_CONTENT_ENCODING", v);
        }
        let mut child = command.spawn()?;
        {
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(&body)?;
        }
        let output = child.wait_with_output()?;
        let raw = output.stdout;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| (i, 4))
            .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
        let (head, content) = match split {
            Some((i, n)) => (
                String::from_utf8_lossy(&raw[..i]).to_string(),
                &raw[i + n..],
            ),
            None => (String::new(), &raw[..]),
        };
        let mut status = 200u16;
        let mut response_headers = String::new();
        for line in head.lines() {
            if let Some(rest) = line.strip_prefix("Status:") {
                status = rest
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(500);
            } else if !line.trim().is_empty() {
                response_headers.push_str(line.trim());
                response_headers.push_str("\r\n");
            }
        }
        seen.lock().unwrap().push(Seen {
            method,
            path: path.to_string(),
            authorization,
            status,
        });
        let writer = reader.get_mut();
        write!(
            writer,
            "HTTP/1.1 {status} X\r\n{response_headers}Content-Length: {}\r\n\r\n",
            content.len()
        )?;
        writer.write_all(content)?;
        writer.flush()?;
    }
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
            .unwrap_or(0);
        if size == 0 {
            let mut trailer = String::new();
            loop {
                trailer.clear();
                reader.read_line(&mut trailer)?;
                if trailer.trim().is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        let mut chunk = vec![0; size];
        reader.read_exact(&mut chunk)?;
        body.extend_from_slice(&chunk);
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}
