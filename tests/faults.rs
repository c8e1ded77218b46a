//! The fault suite: each test puts a real fault in front of the real binary (an AWS endpoint
//! that accepts and never answers, a Kubernetes API that stalls mid-list and mid-watch, a git
//! remote that hangs, a reload in the middle of a long scan, a full disk) and checks what an
//! operator relies on: `/healthz` answers within a second, the other targets keep being
//! scanned, the fault is reported with its code, and the history still verifies afterwards.
//! (Slow and numerous clients, many renders at once and replayed webhooks are in
//! `security.rs`; `kill -9` during history writes in `serve.rs` and `history.rs`.)

mod support;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::kube_api::{KubeApi, write_kubeconfig};
use support::serve::{Served, label};
use support::{GitDaemon, Repo, config_map, gitdrift, project_root};

const TOKEN: &str = "fault-suite-token-6d1e";

/// A TCP endpoint that accepts every connection and never answers (nor closes).
struct Silent {
    port: u16,
    _held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&held);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                keep.lock().unwrap().push(stream);
            }
        });
        Silent { port, _held: held }
    }
}

/// A TCP proxy to `upstream` that, while `hang` is set, accepts connections and never answers.
struct Hanging {
    port: u16,
    hang: Arc<AtomicBool>,
}

impl Hanging {
    fn start(upstream: u16) -> Hanging {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hang = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&hang);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for client in listener.incoming().flatten() {
                if flag.load(Ordering::SeqCst) {
                    held.push(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        Hanging { port, hang }
    }
}

/// The value of a metric line with these labels (0 when absent).
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| labels.iter().all(|(k, v)| label(l, k) == Some(*v)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `/healthz` answers 200 within three seconds: a service held by a slow client would wait for
/// it until the 10 s header timeout; three, not one, because the suite runs many tests at once
/// on two cores (one answer took 1.01 s in CI while a scan ran).
fn answers_health_checks(served: &Served) {
    let started = Instant::now();
    let answer = served.get("/healthz");
    assert_eq!(answer.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "/healthz took {:?}",
        started.elapsed()
    );
}

fn scans(served: &Served, target: &str) -> f64 {
    metric(
        &served.get("/metrics").body,
        "gitdrift_scans_total",
        &[("target", target)],
    )
}

/// Waits until `target` has finished `n` more scans than `before`, checking `/healthz` all along.
fn scanned_again(served: &Served, target: &str, n: f64, within: Duration) {
    let before = scans(served, target);
    served.wait_until(&format!("{n} more scans of {target}"), within, |s| {
        answers_health_checks(s);
        scans(s, target) >= before + n
    });
}

/// The codes of the problems (and unreadable kinds) in the newest stored scan of `target`.
fn stored_codes(served: &Served, target: &str) -> Vec<String> {
    let auth = format!("Bearer {TOKEN}");
    let list = served.request(
        "GET",
        &format!("/api/v1/scans?target={target}&limit=1"),
        &[("Authorization", &auth)],
        b"",
    );
    let list: Value = list.json();
    let id = list["scans"][0]["id"].as_i64().expect("a stored scan");
    let report = served.request(
        "GET",
        &format!("/api/v1/scans/{id}/report?format=json"),
        &[("Authorization", &auth)],
        b"",
    );
    let report: Value = report.json();
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .chain(report["unreadable"].as_array().into_iter().flatten())
        .map(|p| p["code"].as_str().unwrap_or("").to_string())
        .collect()
}

/// `gitdrift verify` on a stopped service's data folder.
fn verify(dir: &Path, data: &Path) {
    let run = gitdrift(dir, &["verify", "--data-dir", data.to_str().unwrap()], &[]);
    assert_eq!(run.code, 0, "verify: {}{}", run.stdout, run.stderr);
}

/// A repository with the demo's manifests for a healthy snapshot target `steady`, and
/// `sources`/`targets` text for the faulty one; scans every second.
fn with_steady(sources: &str, targets: &str, extra: &str) -> Repo {
    let repo = Repo::new();
    repo.copy_dir(&project_root().join("examples/demo/gitops"), "gitops");
    repo.write("tokens", &format!("ops: {TOKEN}\n"));
    repo.write(
        "cm.yaml",
        &config_map("settings", "shop", &[("mode", "blue")]),
    );
    repo.write(
        "aws/vpc.yaml",
        "apiVersion: gitdrift.dev/v1\nkind: AWSResource\nmetadata: {name: vpc}\nspec:\n  type: AWS::EC2::VPC\n  match: {tags: {Name: shop}}\n  properties: {CidrBlock: 10.0.0.0/16}\n",
    );
    repo.commit("manifests");
    repo.copy_dir(&project_root().join("examples/demo/live"), "live");
    repo.write(
        "gitdrift.yaml",
        &format!(
            "sources:\n  - name: shop\n    repo: .\n    paths: [\"gitops/**\"]\n    target: steady\n    namespace: shop\n{sources}targets:\n  - name: steady\n    snapshot: ./live\n{targets}serve:\n  interval: 1s\n  jitter: 0\n  auth:\n    tokens_file: tokens\n{extra}"
        ),
    );
    repo
}

fn aws_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ]
}

fn start(repo: &Repo, env: &[(&str, &str)]) -> Served {
    Served::start(
        repo.path(),
        &repo.path().join("gitdrift.yaml"),
        &repo.path().join("data"),
        env,
    )
}

const AWS_SOURCE: &str = "  - name: infra\n    repo: .\n    paths: [\"aws/**\"]\n    target: silent\n    region: eu-west-1\n";

fn silent_aws_target(port: u16, extra: &str) -> String {
    format!(
        "  - name: silent\n    aws:\n      regions: [eu-west-1]\n      endpoint_url: http://127.0.0.1:{port}\n      types: [AWS::EC2::VPC]\n      max_attempts: 2\n{extra}"
    )
}

/// `gitdrift scan` of the steady target and a silent AWS one (`extra` under it): it ends
/// within 30 s with exit 2; the report and the silent target's problem.
fn scan_around_silence(extra: &str) -> (Value, Value) {
    let silent = Silent::start();
    let repo = with_steady(AWS_SOURCE, &silent_aws_target(silent.port, extra), "");
    let started = Instant::now();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &aws_env());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the scan ends: {:?}",
        started.elapsed()
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    let report = run.json();
    let problem = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["target"] == "silent")
        .cloned()
        .unwrap_or_else(|| panic!("the silent target's problem: {report}"));
    assert!(
        report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["target"] == "silent")
            .all(|r| r["status"] != "missing"),
        "nothing is called missing on an endpoint that never answered"
    );
    assert!(
        report["summary"]["in_sync"].as_u64().unwrap() > 0,
        "the steady target is judged"
    );
    (report, problem)
}

#[test]
fn a_silent_aws_endpoint_is_abandoned_and_the_scan_ends() {
    let (_, problem) =
        scan_around_silence("      attempt_timeout: 1s\n      operation_timeout: 2s\n");
    assert_eq!(problem["code"], "aws.unreachable", "{problem}");
    assert!(
        problem["message"].as_str().unwrap().contains("timeout"),
        "{problem}"
    );
}

#[test]
fn a_live_read_past_its_scan_timeout_is_abandoned_with_its_code() {
    // The SDK would wait ten minutes; the target's deadline is two seconds.
    let (_, problem) = scan_around_silence(
        "      attempt_timeout: 10m\n      operation_timeout: 20m\n    scan_timeout: 2s\n",
    );
    assert_eq!(problem["code"], "scan.timeout", "{problem}");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("abandoned after 2s"),
        "{problem}"
    );
}

#[test]
fn serve_keeps_answering_and_scanning_around_a_silent_aws_endpoint() {
    let silent = Silent::start();
    let repo = with_steady(
        AWS_SOURCE,
        &silent_aws_target(silent.port, "    scan_timeout: 2s\n"),
        "concurrency: 1\n",
    );
    let served = start(&repo, &aws_env());
    // With one permit, a hung target would starve the other: it does not.
    scanned_again(&served, "steady", 3.0, Duration::from_secs(60));
    scanned_again(&served, "silent", 2.0, Duration::from_secs(60));
    assert!(
        stored_codes(&served, "silent").contains(&"scan.timeout".to_string()),
        "the fault is stored with its code"
    );
    let text = served.get("/metrics").body;
    assert!(
        metric(
            &text,
            "gitdrift_scan_errors_total",
            &[("target", "silent"), ("stage", "scan")]
        ) >= 2.0,
        "counted by stage"
    );
    assert!(
        served.get("/readyz").status == 200,
        "ready: every target was tried"
    );
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));
    verify(repo.path(), &repo.path().join("data"));
}

#[test]
fn a_git_remote_that_hangs_is_abandoned_and_the_next_fetch_succeeds() {
    let daemon = GitDaemon::start();
    let (upstream, _) = support::settings_repo("blue");
    let url = daemon.publish(&upstream, "shop.git");
    let daemon_port: u16 = url
        .trim_start_matches("git://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let proxy = Hanging::start(daemon_port);
    let repo = with_steady(
        &format!(
            "  - name: remote\n    repo: git://127.0.0.1:{}/shop.git\n    target: steady\n",
            proxy.port
        ),
        "",
        "  fetch_interval: 1s\ngit:\n  fetch_timeout: 2s\n",
    );
    let served = start(&repo, &[]);
    let auth = format!("Bearer {TOKEN}");
    let source = |s: &Served| -> Value {
        let answer = s.request("GET", "/api/v1/sources", &[("Authorization", &auth)], b"");
        let all: Value = answer.json();
        all["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "remote")
            .cloned()
            .unwrap()
    };
    let fresh = |s: &Served| {
        let status = source(s);
        status["stale"].is_null() && status["revision"].is_string()
    };
    served.wait_until("the remote is read", Duration::from_secs(30), fresh);
    // The remote hangs: each fetch is abandoned after its timeout and the source goes stale
    // (scans go on at the last good revision).
    proxy.hang.store(true, Ordering::SeqCst);
    served.wait_until(
        "the hung fetch is abandoned",
        Duration::from_secs(30),
        |s| {
            answers_health_checks(s);
            source(s)["stale"]
                .as_str()
                .is_some_and(|e| e.contains("took longer than 2s"))
        },
    );
    scanned_again(&served, "steady", 2.0, Duration::from_secs(30));
    // The remote answers again: the clone's lock went with the abandoned fetch.
    proxy.hang.store(false, Ordering::SeqCst);
    served.wait_until("the remote is read again", Duration::from_secs(30), |s| {
        answers_health_checks(s);
        fresh(s)
    });
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));
    verify(repo.path(), &repo.path().join("data"));
}

/// A cluster of `n` ConfigMaps in `shop`, listed 2 at a time.
fn cluster(n: usize) -> (KubeApi, tempfile::TempDir) {
    let api = KubeApi::start();
    api.load((0..n).map(|i| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("cm-{i}"), "namespace": "shop"}, "data": {"i": i.to_string()}})
    }));
    let dir = tempfile::tempdir().unwrap();
    write_kubeconfig(&dir.path().join("kubeconfig"), &[(&api, "lab", "token")]);
    (api, dir)
}

fn kube_target(kubeconfig: &Path, extra: &str) -> String {
    format!(
        "  - name: lab\n    kubernetes:\n      context: lab\n      kubeconfig: {}\n      timeout: 2s\n      retries: 1\n      page_size: 2\n{extra}",
        kubeconfig.display()
    )
}

const KUBE_SOURCE: &str =
    "  - name: cluster\n    repo: .\n    paths: [cm.yaml]\n    target: lab\n    namespace: shop\n";

#[test]
fn a_kubernetes_api_that_stalls_mid_list_fails_the_target_not_the_service() {
    let (api, dir) = cluster(6);
    // The first page is answered; the next ones never are.
    api.stall("continue=");
    let repo = with_steady(
        KUBE_SOURCE,
        &kube_target(&dir.path().join("kubeconfig"), "    watch: false\n"),
        "",
    );
    let started = Instant::now();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert!(started.elapsed() < Duration::from_secs(30));
    let report = run.json();
    let problems: Vec<&Value> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .chain(report["unreadable"].as_array().unwrap())
        .filter(|p| p["target"] == "lab" || p.get("target").is_none())
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p["code"].as_str().is_some_and(|c| c.starts_with("kube."))),
        "a kube code: {report}"
    );
    assert!(
        report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["target"] == "lab")
            .all(|r| r["status"] != "missing" && r["status"] != "unmanaged"),
        "a half-read list calls nothing missing: {report}"
    );

    let served = start(&repo, &[]);
    scanned_again(&served, "steady", 3.0, Duration::from_secs(60));
    scanned_again(&served, "lab", 1.0, Duration::from_secs(60));
    assert!(
        stored_codes(&served, "lab")
            .iter()
            .any(|c| c.starts_with("kube.")),
        "stored with its code"
    );
    api.unstall();
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));
    verify(repo.path(), &repo.path().join("data"));
    api.assert_read_only();
}

#[test]
fn a_kubernetes_watch_that_stalls_leaves_the_service_answering_and_scanning() {
    let (api, dir) = cluster(3);
    let repo = with_steady(
        KUBE_SOURCE,
        &kube_target(&dir.path().join("kubeconfig"), "    watch: true\n"),
        "",
    );
    let served = start(&repo, &[]);
    served.wait_until("ready", Duration::from_secs(60), |s| {
        s.get("/readyz").status == 200
    });
    // Open watch streams end and every new watch (and list) is held without an answer.
    api.stall("watch=");
    api.stall("/configmaps");
    api.pause_watches();
    scanned_again(&served, "steady", 3.0, Duration::from_secs(60));
    scanned_again(&served, "lab", 2.0, Duration::from_secs(60));
    api.unstall();
    api.resume_watches();
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));
    verify(repo.path(), &repo.path().join("data"));
    api.assert_read_only();
}

#[test]
fn sighup_in_the_middle_of_a_long_scan_never_runs_two_scans_of_a_target() {
    let (api, dir) = cluster(4);
    // Every answer takes 1.5 s: a scan of `lab` lasts several seconds.
    api.set_delay(Some(Duration::from_millis(1500)));
    // A scheduled report every 3 s scans every target too: it takes its turn.
    let repo = with_steady(
        KUBE_SOURCE,
        &kube_target(
            &dir.path().join("kubeconfig"),
            "      timeout: 10s\n    watch: false\n",
        )
        .replace("      timeout: 2s\n", ""),
        "  reports:\n    - name: often\n      schedule: \"*/3 * * * * *\"\n      formats: [json]\n      output: ./reports\n",
    );
    let served = start(&repo, &[]);
    served.wait_until("lab is being scanned", Duration::from_secs(30), |_| {
        api.journal().len() > 2
    });
    for _ in 0..4 {
        // Every reload stops the loops of the configuration in force and starts new ones.
        served.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(1200));
        answers_health_checks(&served);
    }
    scanned_again(&served, "lab", 2.0, Duration::from_secs(90));
    scanned_again(&served, "steady", 2.0, Duration::from_secs(30));
    assert_eq!(
        api.max_in_flight(),
        1,
        "two scans of one target overlapped (a reload's loops, or a scheduled report)"
    );
    assert!(
        repo.path().join("reports/often-latest.json").exists(),
        "the scheduled report ran meanwhile"
    );
    let log = served.log();
    assert!(
        log.matches("configuration reloaded").count() >= 4,
        "every SIGHUP was taken: {log}"
    );
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));
    verify(repo.path(), &repo.path().join("data"));
}

/// A tmpfs of `size` mounted at `dir` for the test's duration (these machines run tests as
/// root; elsewhere, the mount fails and the test says so).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .expect("mount(8) runs");
        assert!(
            status.success(),
            "the disk-full test needs to mount a small tmpfs (run the tests as root, as CI does): mount exited with {status}"
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_fails_the_writes_not_the_service_and_nothing_stored_is_lost() {
    let repo = with_steady("", "", "");
    let data = repo.path().join("data");
    let _tmpfs = Tmpfs::mount(&data, "2m");
    let served = start(&repo, &[]);
    scanned_again(&served, "steady", 2.0, Duration::from_secs(60));
    // Fill the disk.
    let filler = data.join("filler");
    {
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.sync_all();
    }
    served.wait_until(
        "a scan that cannot be stored",
        Duration::from_secs(60),
        |s| {
            answers_health_checks(s);
            metric(
                &s.get("/metrics").body,
                "gitdrift_scan_errors_total",
                &[("target", "steady"), ("stage", "store")],
            ) >= 1.0
        },
    );
    assert!(served.log().contains("store.write"), "logged with its code");
    // Scans go on while the disk is full, and are stored again once there is room.
    scanned_again(&served, "steady", 2.0, Duration::from_secs(60));
    std::fs::remove_file(&filler).unwrap();
    let stored = |s: &Served| -> i64 {
        let auth = format!("Bearer {TOKEN}");
        let answer = s.request(
            "GET",
            "/api/v1/scans?target=steady&limit=1",
            &[("Authorization", &auth)],
            b"",
        );
        let list: Value = answer.json();
        list["scans"][0]["id"].as_i64().unwrap_or(0)
    };
    let before = stored(&served);
    served.wait_until("stored again", Duration::from_secs(60), |s| {
        stored(s) > before
    });
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));
    verify(repo.path(), &data);
}

#[test]
fn idle_trickling_and_greedy_clients_cannot_hold_the_service() {
    let repo = with_steady(
        "",
        "",
        "  webhook_secret_env: GITDRIFT_TEST_WEBHOOK_SECRET\n  http:\n    max_renders: 2\n    render_wait: 1s\n",
    );
    let secret = "fault-webhook-secret";
    let served = start(&repo, &[("GITDRIFT_TEST_WEBHOOK_SECRET", secret)]);
    scanned_again(&served, "steady", 1.0, Duration::from_secs(60));
    let auth = format!("Bearer {TOKEN}");
    let list = served.request(
        "GET",
        "/api/v1/scans?target=steady&limit=1",
        &[("Authorization", &auth)],
        b"",
    );
    let id = list.json()["scans"][0]["id"].as_i64().unwrap();

    // 50 idle connections, 10 that trickle their headers, 4 slow webhook uploads.
    let port = served.port;
    let idle: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tricklers = Vec::new();
    for n in 0..14 {
        let stop = Arc::clone(&stop);
        tricklers.push(std::thread::spawn(move || {
            let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
                return;
            };
            let head = if n < 10 {
                "GET /api/v1/targets HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_string()
            } else {
                "POST /api/v1/webhooks/git HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nContent-Length: 100000\r\n\r\n".to_string()
            };
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            while !stop.load(Ordering::SeqCst) {
                if stream.write_all(b"a").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(500));
    answers_health_checks(&served);
    // A signed webhook is taken at once, however many slow uploads are in flight.
    let body = json!({"ref": "refs/heads/main", "repository": {"clone_url": "https://example.com/other.git"}}).to_string();
    let signature = support::serve::github_signature(secret, body.as_bytes());
    let started = Instant::now();
    let answer = served.request(
        "POST",
        "/api/v1/webhooks/git",
        &[
            ("X-GitHub-Event", "push"),
            ("X-GitHub-Delivery", "fault-suite-1"),
            ("X-Hub-Signature-256", &signature),
        ],
        body.as_bytes(),
    );
    assert!(answer.status < 300, "{} {}", answer.status, answer.body);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // 200 renders of a whole report at once: each is served or told to come back (503 with
    // Retry-After), none waits past render_wait, and the probes answer throughout.
    let path = format!("/api/v1/scans/{id}/report?format=html");
    let renders: Vec<_> = (0..200)
        .map(|_| {
            let (auth, path) = (auth.clone(), path.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                let answer =
                    support::serve::request(port, "GET", &path, &[("Authorization", &auth)], b"");
                (answer.map(|a| a.status), started.elapsed())
            })
        })
        .collect();
    answers_health_checks(&served);
    let mut served_whole = 0;
    let mut busy = 0;
    for render in renders {
        let (status, took) = render.join().unwrap();
        match status {
            Ok(200) => served_whole += 1,
            Ok(503) => busy += 1,
            // The connection cap may close some of the 200 at once: that is a refusal too.
            Ok(other) => panic!("a render answered {other}"),
            Err(_) => busy += 1,
        }
        assert!(took < Duration::from_secs(30), "a render waited {took:?}");
    }
    assert!(served_whole >= 2, "{served_whole} served, {busy} refused");
    answers_health_checks(&served);
    stop.store(true, Ordering::SeqCst);
    for t in tricklers {
        let _ = t.join();
    }
    drop(idle);
    scanned_again(&served, "steady", 1.0, Duration::from_secs(30));
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));
    verify(repo.path(), &repo.path().join("data"));
}

#[test]
fn a_watched_kind_that_gets_an_unparsable_object_is_listed_and_the_object_skipped() {
    let (api, dir) = cluster(1);
    api.serve("example.com", "v1", "Widget", "widgets", true);
    api.load([json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "plain", "namespace": "shop"}, "spec": {"size": 1}})]);
    let repo = with_steady(
        "  - name: widgets\n    repo: .\n    paths: [\"widgets/**\"]\n    target: lab\n    namespace: shop\n",
        &kube_target(&dir.path().join("kubeconfig"), "    watch: true\n"),
        "",
    );
    for name in ["plain", "deep"] {
        repo.write(
            &format!("widgets/{name}.yaml"),
            &format!("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {name}\n  namespace: shop\nspec:\n  size: 1\n"),
        );
    }
    repo.commit("widgets");
    let served = start(&repo, &[]);
    served.wait_until("ready", Duration::from_secs(60), |s| {
        s.get("/readyz").status == 200
    });
    // A controller writes a status nested past the parser's limit into one object.
    let mut deep = json!("bottom");
    for _ in 0..130 {
        deep = json!({ "a": deep });
    }
    api.apply(json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "deep", "namespace": "shop"}, "spec": {"size": 1}, "status": deep}));
    served.wait_until(
        "the object is skipped and the rest judged",
        Duration::from_secs(60),
        |s| {
            answers_health_checks(s);
            stored_codes(s, "lab").contains(&"kube.object_skipped".to_string())
        },
    );
    let auth = format!("Bearer {TOKEN}");
    let list = served.request(
        "GET",
        "/api/v1/scans?target=lab&limit=1",
        &[("Authorization", &auth)],
        b"",
    );
    let id = list.json()["scans"][0]["id"].as_i64().unwrap();
    let report = served
        .request(
            "GET",
            &format!("/api/v1/scans/{id}/report?format=json"),
            &[("Authorization", &auth)],
            b"",
        )
        .json();
    let widgets: Vec<(&str, &str)> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "Widget")
        .map(|r| (r["name"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(widgets, vec![("plain", "in_sync")], "{report}");
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));
    verify(repo.path(), &repo.path().join("data"));
    api.assert_read_only();
}
