//! `gitdrift serve` as a security team would run it: the API and the overview need a bearer token
//! (the probes and the signed webhook do not), each call is logged with the token's name and
//! never the token, reports are not served beyond loopback without tokens, TLS serves HTTPS, a
//! replayed webhook delivery is refused, and slow or numerous clients cannot hold the server.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::serve::{Served, github_signature};
use support::{Repo, gitdrift, project_root};

const TOKEN_CI: &str = "ci-token-4f1c9a2e7b3d";
const TOKEN_OPS: &str = "ops-token-8e2b6d0a5c91";
const SECRET: &str = "webhook-secret-5e1f0c";

/// The demo as a service, with `serve_extra` under `serve:`.
fn demo(serve_extra: &str) -> Repo {
    let repo = Repo::new();
    repo.copy_dir(&project_root().join("examples/demo/gitops"), "gitops");
    repo.commit("manifests");
    repo.copy_dir(&project_root().join("examples/demo/live"), "live");
    repo.write(
        "api-tokens",
        &format!("# who may read\nci: {TOKEN_CI}\nops: {TOKEN_OPS}\n"),
    );
    repo.write(
        "gitdrift.yaml",
        &format!(
            "sources:\n  - name: shop\n    repo: .\n    paths: [\"gitops/**\"]\n    target: demo\n    namespace: shop\ntargets:\n  - name: demo\n    snapshot: ./live\nserve:\n  interval: 1h\n  fetch_interval: 1h\n  webhook_secret_env: GITDRIFT_TEST_WEBHOOK_SECRET\n{serve_extra}"
        ),
    );
    repo
}

fn start(repo: &Repo) -> Served {
    Served::start(
        repo.path(),
        &repo.path().join("gitdrift.yaml"),
        &repo.path().join("data"),
        &[("GITDRIFT_TEST_WEBHOOK_SECRET", SECRET)],
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn the_api_needs_a_token_and_logs_who_used_it_never_the_token() {
    let repo = demo("  auth:\n    tokens_file: api-tokens\n");
    let served = start(&repo);
    // The probes and the metrics stay open.
    assert_eq!(served.get("/healthz").status, 200);
    served.wait_until("ready", Duration::from_secs(30), |s| {
        s.get("/readyz").status == 200
    });
    assert_eq!(served.get("/metrics").status, 200);
    // The API and the overview do not.
    for path in [
        "/api/v1/targets",
        "/api/v1/scans",
        "/api/v1/scans/1/report",
        "/",
    ] {
        let answer = served.get(path);
        assert_eq!(answer.status, 401, "{path} without a token");
        assert!(answer.body.contains("API token"), "{}", answer.body);
        let wrong = served.request(
            "GET",
            path,
            &[("Authorization", &bearer("ci-token-4f1c9a2e7b3X"))],
            b"",
        );
        assert_eq!(wrong.status, 401, "{path} with a wrong token");
    }
    let answer = served.request(
        "GET",
        "/api/v1/targets",
        &[("Authorization", &bearer(TOKEN_OPS))],
        b"",
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["targets"][0]["name"], "demo");
    let overview = served.request("GET", "/", &[("Authorization", &bearer(TOKEN_CI))], b"");
    assert_eq!(overview.status, 200);
    // Each call is logged with the token's name; no token value reaches the log.
    let log = served.log();
    assert!(
        log.lines().any(|l| l.contains("api request")
            && l.contains("token=ops")
            && l.contains("/api/v1/targets")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("token=-") && l.contains("status=401")),
        "{log}"
    );
    assert!(!log.contains(TOKEN_CI) && !log.contains(TOKEN_OPS), "{log}");
    drop(served);

    // protect_metrics: Prometheus needs a token too.
    let repo = demo("  auth:\n    tokens_file: api-tokens\n    protect_metrics: true\n");
    let served = start(&repo);
    assert_eq!(served.get("/metrics").status, 401);
    let metrics = served.request(
        "GET",
        "/metrics",
        &[("Authorization", &bearer(TOKEN_CI))],
        b"",
    );
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains("gitdrift_build_info"));
    assert_eq!(served.get("/healthz").status, 200);
}

#[test]
fn reports_are_not_served_beyond_loopback_without_a_token() {
    let repo = demo("");
    // Refused before anything is bound.
    let run = gitdrift(
        repo.path(),
        &[
            "serve",
            "--config",
            "gitdrift.yaml",
            "--data-dir",
            "data",
            "--listen",
            "0.0.0.0:0",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("refusing to serve reports on 0.0.0.0:0 without an API token"),
        "{}",
        run.stderr
    );
    // A token file that cannot be used is an error naming its line.
    repo.write("api-tokens", "ci: short\n");
    repo.write(
        "gitdrift.yaml",
        &std::fs::read_to_string(repo.path().join("gitdrift.yaml"))
            .unwrap()
            .replace("serve:\n", "serve:\n  auth:\n    tokens_file: api-tokens\n"),
    );
    let run = gitdrift(
        repo.path(),
        &["serve", "--config", "gitdrift.yaml", "--data-dir", "data"],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("api-tokens:1: an API token must be at least 16 characters"),
        "{}",
        run.stderr
    );
}

#[test]
fn tls_serves_https_with_the_configured_certificate() {
    let repo = demo(
        "  auth:\n    token_env: GITDRIFT_TEST_API_TOKEN\n  tls:\n    cert_file: tls.crt\n    key_file: tls.key\n",
    );
    let ca = support::pki::write_server_pki(repo.path());
    let served = Served::start(
        repo.path(),
        &repo.path().join("gitdrift.yaml"),
        &repo.path().join("data"),
        &[
            ("GITDRIFT_TEST_WEBHOOK_SECRET", SECRET),
            ("GITDRIFT_TEST_API_TOKEN", TOKEN_CI),
        ],
    );
    assert!(served.log().contains("listening on https://"));
    let (status, body) = support::pki::https_get(served.port, &ca, "/healthz", None);
    assert_eq!((status, body.trim()), (200, "ok"));
    let (status, _) = support::pki::https_get(served.port, &ca, "/api/v1/targets", None);
    assert_eq!(status, 401);
    let (status, body) =
        support::pki::https_get(served.port, &ca, "/api/v1/targets", Some(TOKEN_CI));
    assert_eq!(status, 200, "{body}");
    // Plain HTTP on the TLS port gets no answer.
    let plain = support::serve::request(served.port, "GET", "/healthz", &[], b"");
    assert!(
        plain.is_err() || plain.as_ref().is_ok_and(|a| a.status != 200),
        "{plain:?}"
    );
}

#[test]
fn a_replayed_webhook_delivery_is_refused() {
    let repo = demo("");
    let served = start(&repo);
    let url = repo.path().display().to_string();
    let body = serde_json::json!({
        "ref": "refs/heads/main",
        "repository": {"clone_url": url},
    })
    .to_string();
    let signature = github_signature(SECRET, body.as_bytes());
    let deliver = || {
        served.request(
            "POST",
            "/api/v1/webhooks/git",
            &[
                ("X-GitHub-Event", "push"),
                ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
                ("X-Hub-Signature-256", &signature),
            ],
            body.as_bytes(),
        )
    };
    let first = deliver();
    assert!(matches!(first.status, 200 | 202), "{}", first.body);
    let again = deliver();
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("received before"));
    assert!(
        served
            .get("/metrics")
            .body
            .contains(r#"gitdrift_webhook_requests_total{result="replayed"} 1"#)
    );
}

#[test]
fn slow_clients_and_many_clients_cannot_hold_the_server() {
    let repo = demo("  http:\n    header_timeout: 1s\n    max_connections: 8\n");
    let served = start(&repo);
    // A connection that sends nothing, and one that trickles its headers, are closed after the
    // header timeout.
    let idle = TcpStream::connect(("127.0.0.1", served.port)).unwrap();
    let mut trickle = TcpStream::connect(("127.0.0.1", served.port)).unwrap();
    trickle.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    for mut stream in [idle, trickle] {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let outcome = stream.read(&mut [0u8; 256]);
        assert!(
            !matches!(&outcome, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
            "still open after 10 s: {outcome:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "closed after the 1 s header timeout, took {:?}",
        started.elapsed()
    );
    // More connections than allowed: the extra ones are closed, and the server still answers.
    let held: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(("127.0.0.1", served.port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut refused = 0;
    for stream in &held {
        let mut stream = stream;
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        if matches!(stream.read(&mut [0u8; 16]), Ok(0)) {
            refused += 1;
        }
    }
    assert!(refused >= 12, "{refused} of 20 closed at once");
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(served.get("/healthz").status, 200);
}
