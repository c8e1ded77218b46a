//! A real Prometheus (Debian's package) on 127.0.0.1 for tests: it scrapes one port every
//! second, and answers queries through its HTTP API.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A real Prometheus on 127.0.0.1 scraping one port every second. Killed when dropped.
pub struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts it, scraping 127.0.0.1:`scrape_port`.
    pub fn start(scrape_port: u16) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: gitdrift\n    static_configs:\n      - targets: [\"127.0.0.1:{scrape_port}\"]\n"
            ),
        )
        .unwrap();
        let port = super::free_port();
        let mut child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus (Debian's prometheus package; scripts/test installs it)");
        super::wait_for_port(port, "prometheus", &mut child);
        // It listens before its storage is open (503 meanwhile): wait until it is ready.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(answer) = super::http::request(port, "GET", "/-/ready", &[], b"")
                && answer.status == 200
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus was not ready within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Prometheus {
            child,
            port,
            _dir: dir,
        }
    }

    /// GET on the HTTP API; the parsed answer.
    pub fn api(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let answer = super::http::request(self.port, "GET", &format!("{path}?{query}"), &[], b"")
            .expect("prometheus answers");
        serde_json::from_str(&answer.body)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", answer.body))
    }

    /// An instant query.
    pub fn query(&self, expr: &str) -> Value {
        self.api("/api/v1/query", &[("query", expr)])
    }

    /// Polls an instant query until `done` holds for its answer, or fails the test.
    pub fn wait_for(&self, expr: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let answer = self.query(expr);
            if done(&answer) {
                return answer;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus: `{expr}` never as expected; last answer {answer}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
