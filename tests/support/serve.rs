//! `gitdrift serve` as a child process on a free 127.0.0.1 port.

use std::io::Write;

pub use super::http::{Answer, request};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `gitdrift serve`. Killed when dropped.
pub struct Served {
    child: Option<Child>,
    /// Its HTTP port.
    pub port: u16,
    log: PathBuf,
}

impl Served {
    /// Starts `gitdrift serve --config CONFIG --data-dir DATA` in `dir`; logs go to a file in the
    /// data folder.
    pub fn start(dir: &Path, config: &Path, data: &Path, env: &[(&str, &str)]) -> Served {
        Served::start_with(dir, config, data, env, &[])
    }

    /// [`Served::start`] with more arguments for `serve`.
    pub fn start_with(
        dir: &Path,
        config: &Path,
        data: &Path,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Served {
        // A free port can be taken by another test between choosing and binding it: on
        // "cannot listen", again with another port.
        for _ in 0..5 {
            let port = super::free_port();
            match Served::try_start_at(port, dir, config, data, env, args) {
                Ok(served) => return served,
                Err(log) if log.contains("cannot listen") => continue,
                Err(log) => panic!("gitdrift serve did not start:\n{log}"),
            }
        }
        panic!("gitdrift serve found no free port in five tries");
    }

    /// [`Served::start_with`] on a given port.
    pub fn start_at(
        port: u16,
        dir: &Path,
        config: &Path,
        data: &Path,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Served {
        Served::try_start_at(port, dir, config, data, env, args)
            .unwrap_or_else(|log| panic!("gitdrift serve did not start:\n{log}"))
    }

    /// Starts serve on a port; `Err` with its log if it exits before listening.
    fn try_start_at(
        port: u16,
        dir: &Path,
        config: &Path,
        data: &Path,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Result<Served, String> {
        std::fs::create_dir_all(data).expect("data folder");
        let log = data.join(format!("serve-{port}.log"));
        let mut command = super::gitdrift_command(dir);
        command
            .args(["-v", "serve", "--config"])
            .arg(config)
            .arg("--data-dir")
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start gitdrift serve");
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        // Listening once it says so (a connection alone could reach whoever took the port).
        let listening = [
            format!("listening on http://127.0.0.1:{port}"),
            format!("listening on https://127.0.0.1:{port}"),
        ];
        loop {
            if std::fs::read_to_string(&log)
                .is_ok_and(|l| listening.iter().any(|needle| l.contains(needle)))
            {
                break;
            }
            if let Ok(Some(_)) = child.try_wait() {
                return Err(std::fs::read_to_string(&log).unwrap_or_default());
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!(
                    "not listening on 127.0.0.1:{port} within 15 s\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Served {
            child: Some(child),
            port,
            log,
        })
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a request and reads the whole answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        request(self.port, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log()))
    }

    /// GET.
    pub fn get(&self, path: &str) -> Answer {
        self.request("GET", path, &[], b"")
    }

    /// Polls `check` until it holds, or fails the test with the log.
    pub fn wait_until(&self, what: &str, timeout: Duration, check: impl Fn(&Served) -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{what}: not within {timeout:?}\nlog:\n{}", self.log());
    }

    /// Sends a signal.
    pub fn signal(&self, signal: i32) {
        let pid = self.pid();
        assert!(pid > 0, "no child to signal");
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    /// SIGTERM, then waits for the exit; returns the exit code and the log.
    pub fn stop(mut self) -> (Option<i32>, String) {
        self.signal(libc::SIGTERM);
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return (status.code(), self.log());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("serve did not stop within 60 s of SIGTERM\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, at once.
    pub fn kill9(mut self) {
        self.signal(libc::SIGKILL);
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Pipes text through `promtool check metrics`; returns its verdict and output.
pub fn promtool_check_metrics(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; scripts/test installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The value of a label in a line of the Prometheus text format.
pub fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split(&format!("{name}=\"")).nth(1)?.split('"').next()
}

/// `sha256=HEX` of the body under the secret, as GitHub signs webhooks.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}
