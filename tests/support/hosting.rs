//! The git hosting stub (`hosting_stub.py`, Flask in the test venv) as a child process on a free
//! 127.0.0.1 port, with its controls: seeding a repository, a foreign commit on a branch, the
//! recorded calls and the state.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A running stub. Killed when dropped.
pub struct HostingStub {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl HostingStub {
    /// Starts the stub; it accepts `Bearer token` only.
    pub fn start(token: &str) -> HostingStub {
        let port = super::free_port();
        let mut child = Command::new(super::venv_python())
            .arg(super::project_root().join("tests/support/hosting_stub.py"))
            .arg(port.to_string())
            .arg(token)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the hosting stub (flask in .venv-test)");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(answer) = super::http::request(port, "GET", "/_stub/calls", &[], b"")
                && answer.status == 200
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the hosting stub exited: {status}");
            }
            assert!(Instant::now() < deadline, "the hosting stub did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        HostingStub { child, port }
    }

    /// The API base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let answer = super::http::request(
            self.port,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        answer.json()
    }

    fn get(&self, path: &str) -> Value {
        super::http::request(self.port, "GET", path, &[], b"")
            .unwrap()
            .json()
    }

    /// A repository whose default branch is at `commit` (with its tree).
    pub fn seed(&self, repo: &str, commit: &str, tree: &str) {
        self.post(
            "/_stub/seed",
            json!({"repo": repo, "commit": commit, "tree": tree}),
        );
    }

    /// A GitLab project whose default branch `main` is at `commit`.
    pub fn seed_gitlab(&self, repo: &str, commit: &str) {
        self.post(
            "/_stub/seed_gitlab",
            json!({"repo": repo, "commit": commit}),
        );
    }

    /// A Gitea repository whose default branch `main` is at `commit`, holding `files`.
    pub fn seed_gitea(&self, repo: &str, commit: &str, files: &[(&str, String)]) {
        let files: serde_json::Map<String, Value> = files
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
            .collect();
        self.post(
            "/_stub/seed_gitea",
            json!({"repo": repo, "commit": commit, "files": files}),
        );
    }

    /// Someone else commits on top of a branch.
    pub fn foreign_commit(&self, repo: &str, branch: &str) -> String {
        self.post(
            "/_stub/foreign_commit",
            json!({"repo": repo, "branch": branch}),
        )["sha"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Value> {
        self.get("/_stub/calls").as_array().unwrap().clone()
    }

    /// The repositories' state.
    pub fn state(&self, repo: &str) -> Value {
        self.get("/_stub/state")[repo].clone()
    }
}

impl Drop for HostingStub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
