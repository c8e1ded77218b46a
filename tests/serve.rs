//! `gitdrift serve` end to end, as a child process on 127.0.0.1: the metrics pass `promtool check
//! metrics`, the API and overview page show the current state and the history, reports render in
//! every format from the store, webhooks are verified (GitHub HMAC, GitLab token) and trigger a
//! fetch, an unreadable source goes stale and says so, SIGHUP reloads without dropping metrics,
//! readiness is a one-way latch, Kubernetes targets follow watches, scheduled reports appear in
//! every format with their trend, retention deletes old scans, and `kill -9` at any moment
//! leaves a history that verifies.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use support::kube_api::KubeApi;
use support::serve::{Served, github_signature, promtool_check_metrics};
use support::{Repo, demo_live_objects, gitdrift, project_root};

const SECRET: &str = "webhook-secret-5e1f0c";

/// A repository holding the demo's manifests (committed) and its live snapshot (not committed),
/// and a configuration with `extra` appended.
fn demo(extra: &str) -> Repo {
    let repo = Repo::new();
    repo.copy_dir(&project_root().join("examples/demo/gitops"), "gitops");
    repo.commit("manifests");
    repo.copy_dir(&project_root().join("examples/demo/live"), "live");
    write_config(&repo, &["demo"], extra);
    repo
}

/// A configuration with one snapshot target (and source) per name.
fn write_config(repo: &Repo, targets: &[&str], extra: &str) {
    let mut text = String::from("sources:\n");
    for t in targets {
        text.push_str(&format!(
            "  - name: shop-{t}\n    repo: .\n    paths: [\"gitops/**\"]\n    target: {t}\n    namespace: shop\n"
        ));
    }
    text.push_str("targets:\n");
    for t in targets {
        text.push_str(&format!("  - name: {t}\n    snapshot: ./live\n"));
    }
    text.push_str(extra);
    std::fs::write(repo.path().join("gitdrift.yaml"), text).unwrap();
}

fn start(repo: &Repo) -> Served {
    Served::start(
        repo.path(),
        &repo.path().join("gitdrift.yaml"),
        &repo.path().join("data"),
        &[("GITDRIFT_TEST_WEBHOOK_SECRET", SECRET)],
    )
}

fn ready(served: &Served) {
    served.wait_until("ready", Duration::from_secs(60), |s| {
        s.get("/readyz").status == 200
    });
}

fn target<'a>(targets: &'a Value, name: &str) -> &'a Value {
    targets["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no target {name} in {targets:#}"))
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

const SERVE_QUIET: &str = "serve:\n  interval: 1h\n  fetch_interval: 1h\n  webhook_secret_env: GITDRIFT_TEST_WEBHOOK_SECRET\n";

#[test]
fn serve_publishes_metrics_promtool_accepts_an_api_an_overview_and_every_report_format() {
    let expires = chrono::Utc::now().date_naive() + chrono::Days::new(30);
    let repo = demo(&format!(
        "{SERVE_QUIET}  resource_metrics: true\naudit:\n  waivers:\n    - rule: pss-restricted-run-as-non-root\n      kind: Deployment\n      group: apps\n      namespace: shop\n      name: web\n      justification: the image runs as root until OPS-1\n      expires: {expires}\n    - rule: pss-restricted-seccomp-profile\n      kind: Deployment\n      group: apps\n      namespace: nowhere\n      name: nothing\n      justification: matches nothing\n      expires: {expires}\n"
    ));
    let head = repo.head();
    let served = start(&repo);
    assert_eq!(served.get("/healthz").status, 200);
    ready(&served);

    let targets = served.get("/api/v1/targets").json();
    let demo = target(&targets, "demo");
    assert_eq!(demo["provider"], "snapshot");
    assert_eq!(demo["summary"]["drifted"], 3, "{demo:#}");
    assert_eq!(demo["summary"]["missing"], 1);
    assert_eq!(demo["summary"]["unmanaged"], 1);
    assert_eq!(demo["summary"]["health"]["degraded"], 1, "{demo:#}");
    let id = demo["last_scan_id"].as_i64().expect("a stored scan");

    let metrics = served.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .content_type
            .starts_with("text/plain; version=0.0.4")
    );
    let (ok, verdict) = promtool_check_metrics(&metrics.body);
    assert!(ok, "promtool check metrics: {verdict}\n{}", metrics.body);
    let m = &metrics.body;
    for (series, value) in [
        (
            r#"gitdrift_resources{kind="Deployment",provider="snapshot",status="drifted",target="demo"}"#,
            2.0,
        ),
        (
            r#"gitdrift_resources{kind="ConfigMap",provider="snapshot",status="missing",target="demo"}"#,
            1.0,
        ),
        (
            r#"gitdrift_drifted_fields{kind="Deployment",target="demo"}"#,
            3.0,
        ),
        (
            r#"gitdrift_resources_health{health="degraded",kind="Deployment",target="demo"}"#,
            1.0,
        ),
        (
            r#"gitdrift_resources_health{health="healthy",kind="Deployment",target="demo"}"#,
            2.0,
        ),
        (
            &format!(r#"gitdrift_source_revision_info{{revision="{head}",source="shop-demo"}}"#),
            1.0,
        ),
        (r#"gitdrift_source_stale{source="shop-demo"}"#, 0.0),
        (
            r#"gitdrift_scan_duration_seconds_count{target="demo"}"#,
            1.0,
        ),
        (r#"gitdrift_scans_total{result="ok",target="demo"}"#, 1.0),
        (
            &format!(
                r#"gitdrift_build_info{{version="{}"}}"#,
                env!("CARGO_PKG_VERSION")
            ),
            1.0,
        ),
        (
            r#"gitdrift_webhook_requests_total{result="unauthorized"}"#,
            0.0,
        ),
    ] {
        assert_eq!(metric(m, series), Some(value), "{series} in\n{m}");
    }
    let ratio = metric(
        m,
        r#"gitdrift_coverage_ratio{provider="snapshot",target="demo"}"#,
    )
    .unwrap();
    assert!((ratio - 15.0 / 17.0).abs() < 1e-9, "{ratio}");
    assert!(
        metric(
            m,
            r#"gitdrift_findings{rule="pss-restricted-run-as-non-root",severity="medium",side="desired",target="demo"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{m}"
    );
    assert!(m.contains(r#"gitdrift_controls{framework="pss",status="fail",target="demo"}"#));
    // The history's head, outside the history: one series, the newest scan's id and hash.
    let heads: Vec<&str> = m
        .lines()
        .filter(|l| l.starts_with("gitdrift_history_head_info{"))
        .collect();
    assert_eq!(heads.len(), 1, "{m}");
    assert!(
        heads[0].contains(r#"sha256=""#) && heads[0].ends_with(" 1"),
        "{}",
        heads[0]
    );
    assert!(
        metric(
            m,
            r#"gitdrift_scan_last_success_timestamp_seconds{target="demo"}"#
        )
        .is_some()
    );
    // Resource names only in the opt-in per-resource gauge.
    assert_eq!(
        metric(
            m,
            r#"gitdrift_resource_drift_status{kind="ConfigMap",name="web-config",namespace="shop",status="drifted",target="demo"}"#
        ),
        Some(1.0),
        "{m}"
    );
    assert!(
        m.lines()
            .filter(|l| l.contains("web-config"))
            .all(|l| l.starts_with("gitdrift_resource_drift_status{")),
        "{m}"
    );
    assert!(
        !m.contains(r#"name="api""#),
        "in-sync resources have no series"
    );
    // Waivers: one active, one matching nothing; the expiry of the rule's waiver.
    assert_eq!(
        metric(m, r#"gitdrift_waivers{status="active"}"#),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        metric(m, r#"gitdrift_waivers{status="stale"}"#),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        metric(m, r#"gitdrift_waivers{status="expired"}"#),
        Some(0.0)
    );
    let end = expires
        .and_hms_opt(23, 59, 59)
        .unwrap()
        .and_utc()
        .timestamp() as f64;
    assert_eq!(
        metric(
            m,
            r#"gitdrift_waiver_expiry_timestamp_seconds{rule="pss-restricted-run-as-non-root"}"#
        ),
        Some(end),
        "{m}"
    );

    let scans = served.get("/api/v1/scans").json();
    assert_eq!(scans["scans"][0]["id"], id);
    let sha = scans["scans"][0]["sha256"].as_str().unwrap().to_string();
    let scan = served.get(&format!("/api/v1/scans/{id}")).json();
    assert_eq!(scan["scan"]["targets"], json!(["demo"]));
    assert_eq!(scan["sources"][0]["commit"], head.as_str());
    assert_eq!(
        scan["links"]["sarif"],
        format!("/api/v1/scans/{id}/report?format=sarif")
    );
    for (format, media, marker) in [
        ("json", "application/json", "\"gitdrift.report/v1\""),
        ("html", "text/html", "web-config"),
        ("markdown", "text/markdown", "web-config"),
        ("sarif", "application/sarif+json", "\"2.1.0\""),
        ("junit", "application/xml", "<testsuites"),
        ("csv", "text/csv", "record,target,api_version"),
        ("text", "text/plain", "web-config"),
    ] {
        let answer = served.get(&format!("/api/v1/scans/{id}/report?format={format}"));
        assert_eq!(answer.status, 200, "{format}: {}", answer.body);
        assert!(
            answer.content_type.starts_with(media),
            "{format}: {}",
            answer.content_type
        );
        assert!(answer.body.contains(marker), "{format}: {}", answer.body);
        if format == "json" {
            // The JSON served is the stored canonical JSON: its SHA-256 is the chain's.
            let digest = ring::digest::digest(&ring::digest::SHA256, answer.body.as_bytes());
            let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, sha);
        }
    }
    assert_eq!(
        served
            .get(&format!("/api/v1/scans/{id}/report?format=pdf"))
            .status,
        400
    );
    assert_eq!(served.get("/api/v1/scans/9999/report").status, 404);
    assert_eq!(served.get("/api/v1/scans/x").status, 400);
    assert_eq!(
        served.request("POST", "/api/v1/targets", &[], b"{}").status,
        405
    );
    assert_eq!(
        served.request("DELETE", "/api/v1/scans/1", &[], b"").status,
        405
    );

    let page = served.get("/");
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(!page.body.contains("<script"), "works without JavaScript");
    for text in [
        "demo",
        "shop-demo",
        &head[..12],
        &format!("/api/v1/scans/{id}/report?format=html"),
    ] {
        assert!(page.body.contains(text), "{text} missing from the overview");
    }

    let (code, log) = served.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("gitdrift serve: stopped"), "{log}");
    let verify = gitdrift(repo.path(), &["verify", "--data-dir", "data"], &[]);
    assert_eq!(verify.code, 0, "{}", verify.all());
}

fn push_payload(url: &str, git_ref: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": git_ref,
        "repository": {"clone_url": url, "full_name": "org/shop"},
        "commits": []
    }))
    .unwrap()
}

/// A push event signed as GitHub signs it.
fn signed_push(served: &Served, body: &[u8]) -> support::serve::Answer {
    served.request(
        "POST",
        "/api/v1/webhooks/git",
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &github_signature(SECRET, body)),
        ],
        body,
    )
}

fn source<'a>(sources: &'a Value, name: &str) -> &'a Value {
    sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no source {name} in {sources:#}"))
}

#[test]
fn webhooks_are_verified_trigger_a_fetch_and_an_unreadable_source_goes_stale() {
    // The source is a repository of its own, beside the configuration.
    let work = Repo::new();
    let manifests = Repo::new();
    manifests.copy_dir(&project_root().join("examples/demo/gitops"), "gitops");
    let first = manifests.commit("manifests");
    let branch = support::git(manifests.path(), &["rev-parse", "--abbrev-ref", "HEAD"]);
    let branch = branch.trim();
    work.copy_dir(&project_root().join("examples/demo/live"), "live");
    let repo_path = work.path().join("manifests");
    std::fs::rename(manifests.path(), &repo_path).unwrap();
    std::fs::write(
        work.path().join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: shop\n    repo: ./manifests\n    ref: {branch}\n    paths: [\"gitops/**\"]\n    target: demo\n    namespace: shop\ntargets:\n  - name: demo\n    snapshot: ./live\n{SERVE_QUIET}"
        ),
    )
    .unwrap();
    let served = Served::start(
        work.path(),
        &work.path().join("gitdrift.yaml"),
        &work.path().join("data"),
        &[("GITDRIFT_TEST_WEBHOOK_SECRET", SECRET)],
    );
    ready(&served);
    let sources = served.get("/api/v1/sources").json();
    assert_eq!(source(&sources, "shop")["revision"], first.as_str());
    let first_scan = target(&served.get("/api/v1/targets").json(), "demo")["last_scan_id"]
        .as_i64()
        .unwrap();

    // A new commit: git now agrees with the live web-config.
    std::fs::write(
        repo_path.join("gitops/apps/web/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: shop\ndata:\n  LOG_LEVEL: debug\n  CART_URL: http://cart.shop.svc:8080\n  CHECKOUT_TIMEOUT_SECONDS: \"30\"\n",
    )
    .unwrap();
    support::git(&repo_path, &["add", "-A"]);
    support::git(&repo_path, &["commit", "-qm", "web-config as it runs"]);
    let second = support::git(&repo_path, &["rev-parse", "HEAD"])
        .trim()
        .to_string();

    let url = repo_path.display().to_string();
    let push = push_payload(&url, &format!("refs/heads/{branch}"));
    let hook = "/api/v1/webhooks/git";
    // Unsigned, wrongly signed, signed with another secret, a wrong GitLab token: 401.
    for headers in [
        vec![("X-GitHub-Event", "push".to_string())],
        vec![
            ("X-GitHub-Event", "push".to_string()),
            ("X-Hub-Signature-256", "sha256=00ff".to_string()),
        ],
        vec![
            ("X-GitHub-Event", "push".to_string()),
            (
                "X-Hub-Signature-256",
                github_signature("other-secret", &push),
            ),
        ],
        vec![
            ("X-Gitlab-Event", "Push Hook".to_string()),
            ("X-Gitlab-Token", "not-the-secret".to_string()),
        ],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = served.request("POST", hook, &headers, &push);
        assert_eq!(answer.status, 401, "{headers:?}: {}", answer.body);
        assert!(!answer.body.contains(SECRET));
    }
    // A signature over another body does not carry over.
    let tampered = push_payload(&url, "refs/heads/other");
    let answer = served.request(
        "POST",
        hook,
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &github_signature(SECRET, &tampered)),
        ],
        &push,
    );
    assert_eq!(answer.status, 401);
    // Signed, but a ping, and a push to another repository: accepted and ignored.
    let ping = br#"{"zen":"Keep it logically awesome."}"#;
    let answer = served.request(
        "POST",
        hook,
        &[
            ("X-GitHub-Event", "ping"),
            ("X-Hub-Signature-256", &github_signature(SECRET, ping)),
        ],
        ping,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let elsewhere = push_payload("https://git.example.test/org/other.git", "refs/heads/main");
    let answer = signed_push(&served, &elsewhere);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.json()["ignored"].is_string());
    // The real push, signed by GitHub's scheme: fetched and scanned at the new commit.
    let answer = signed_push(&served, &push);
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.json()["fetching"], json!(["shop"]));
    served.wait_until("the new commit scanned", Duration::from_secs(30), |s| {
        let t = s.get("/api/v1/targets").json();
        let demo = target(&t, "demo");
        demo["last_scan_id"].as_i64() > Some(first_scan) && demo["summary"]["drifted"] == 2
    });
    let id = target(&served.get("/api/v1/targets").json(), "demo")["last_scan_id"]
        .as_i64()
        .unwrap();
    let scan = served.get(&format!("/api/v1/scans/{id}")).json();
    assert_eq!(scan["sources"][0]["commit"], second.as_str());
    // GitLab's scheme: the token itself.
    let answer = served.request(
        "POST",
        hook,
        &[("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", SECRET)],
        &serde_json::to_vec(&json!({
            "ref": format!("refs/heads/{branch}"),
            "project": {"git_http_url": url, "web_url": url},
        }))
        .unwrap(),
    );
    assert_eq!(answer.status, 202, "{}", answer.body);

    // The repository goes away: scans go on at the last good revision, and say so.
    std::fs::rename(&repo_path, work.path().join("gone")).unwrap();
    let answer = signed_push(&served, &push);
    assert_eq!(answer.status, 202);
    served.wait_until("the source is stale", Duration::from_secs(30), |s| {
        let t = s.get("/api/v1/targets").json();
        target(&t, "demo")["stale_sources"] == json!(["shop"])
    });
    let sources = served.get("/api/v1/sources").json();
    let shop = source(&sources, "shop");
    assert_eq!(shop["revision"], second.as_str());
    assert!(
        shop["stale"].as_str().is_some_and(|s| !s.is_empty()),
        "{shop:#}"
    );
    let t = served.get("/api/v1/targets").json();
    let demo = target(&t, "demo");
    assert_eq!(
        demo["summary"]["drifted"], 2,
        "still judged at the last good revision"
    );
    let report = served
        .get(&format!(
            "/api/v1/scans/{}/report?format=json",
            demo["last_scan_id"]
        ))
        .json();
    assert_eq!(report["scan"]["sources"][0]["stale"], true);
    assert_eq!(report["scan"]["sources"][0]["commit"], second.as_str());
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["message"].as_str().unwrap().contains("source is stale")),
        "{report:#}"
    );
    let m = served.get("/metrics").body;
    assert_eq!(
        metric(&m, r#"gitdrift_source_stale{source="shop"}"#),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &m,
            r#"gitdrift_webhook_requests_total{result="unauthorized"}"#
        ),
        Some(5.0)
    );
    assert_eq!(
        metric(&m, r#"gitdrift_webhook_requests_total{result="accepted"}"#),
        Some(3.0)
    );
    assert_eq!(
        metric(&m, r#"gitdrift_webhook_requests_total{result="ignored"}"#),
        Some(2.0)
    );
    assert!(
        !served.log().contains(SECRET),
        "the secret never reaches the log"
    );
}

#[test]
fn sighup_reloads_the_configuration_without_dropping_metrics_and_a_bad_file_changes_nothing() {
    let repo = demo(SERVE_QUIET);
    let served = start(&repo);
    ready(&served);
    let series = r#"gitdrift_resources{kind="Deployment",provider="snapshot",status="drifted",target="demo"}"#;
    assert_eq!(metric(&served.get("/metrics").body, series), Some(2.0));

    write_config(&repo, &["demo", "second"], SERVE_QUIET);
    served.signal(libc::SIGHUP);
    served.wait_until("the new target scanned", Duration::from_secs(30), |s| {
        let t = s.get("/api/v1/targets").json();
        t["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "second" && t["last_scan_id"].is_i64())
    });
    let m = served.get("/metrics").body;
    assert_eq!(
        metric(&m, series),
        Some(2.0),
        "the first target's metrics stay"
    );
    assert_eq!(
        metric(
            &m,
            r#"gitdrift_resources{kind="Deployment",provider="snapshot",status="drifted",target="second"}"#
        ),
        Some(2.0)
    );
    assert_eq!(served.get("/readyz").status, 200);

    // A broken file: logged, and the configuration in force stays.
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        "sources: []\ntargets: []\nserve:\n  intervall: 5m\n",
    )
    .unwrap();
    served.signal(libc::SIGHUP);
    served.wait_until("the refusal logged", Duration::from_secs(10), |s| {
        s.log().contains("configuration not reloaded")
    });
    assert!(served.log().contains("intervall"), "{}", served.log());
    assert_eq!(
        served.get("/api/v1/targets").json()["targets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A target removed: its series go.
    write_config(&repo, &["demo"], SERVE_QUIET);
    served.signal(libc::SIGHUP);
    served.wait_until("the target dropped", Duration::from_secs(10), |s| {
        s.get("/api/v1/targets").json()["targets"]
            .as_array()
            .unwrap()
            .len()
            == 1
    });
    let m = served.get("/metrics").body;
    assert!(!m.contains(r#"target="second""#), "{m}");
    assert_eq!(metric(&m, series), Some(2.0));
    let (code, log) = served.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn readiness_waits_for_every_first_scan_and_then_stays() {
    // An API server that accepts connections and never answers: the first scan of `slow` takes
    // its full timeout, and then fails.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let repo = demo("");
    let kubeconfig = repo.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: silent\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: silent\n  context:\n    cluster: silent\n    user: u\ncurrent-context: silent\nusers:\n- name: u\n  user:\n    token: t\n"
        ),
    )
    .unwrap();
    let config = format!(
        "sources:\n  - name: shop\n    repo: .\n    paths: [\"gitops/**\"]\n    target: slow\n    namespace: shop\ntargets:\n  - name: demo\n    snapshot: ./live\n  - name: slow\n    interval: 1s\n    kubernetes:\n      kubeconfig: {}\n      timeout: 3s\n      retries: 0\nserve:\n  interval: 1h\n  fetch_interval: 1h\n  jitter: 0%\n",
        kubeconfig.display()
    );
    std::fs::write(repo.path().join("gitdrift.yaml"), config).unwrap();
    let served = start(&repo);
    let first = served.get("/readyz");
    assert_eq!(first.status, 503, "{}", first.body);
    assert!(first.body.contains("slow"), "{}", first.body);
    // The slow target does not hold the other back: demo is scanned while slow still waits.
    served.wait_until(
        "demo scanned while slow still waits",
        Duration::from_secs(10),
        |s| {
            let t = s.get("/api/v1/targets").json();
            target(&t, "demo")["last_scan_id"].is_i64() && s.get("/readyz").status == 503
        },
    );
    ready(&served);
    // The target fails scan after scan; readiness does not flip back.
    served.wait_until("three failed scans", Duration::from_secs(90), |s| {
        metric(
            &s.get("/metrics").body,
            r#"gitdrift_scans_total{result="error",target="slow"}"#,
        )
        .is_some_and(|n| n >= 3.0)
    });
    assert_eq!(served.get("/readyz").status, 200);
    let t = served.get("/api/v1/targets").json();
    let slow = target(&t, "slow");
    assert!(slow["summary"]["errors"].as_u64() > Some(0), "{slow:#}");
    assert!(!slow["errors"].as_array().unwrap().is_empty());
    assert!(slow["last_success_at"].is_null());
    assert!(
        metric(
            &served.get("/metrics").body,
            r#"gitdrift_scan_errors_total{stage="kube",target="slow"}"#
        )
        .is_some_and(|n| n >= 3.0)
    );
    drop(silent);
}

#[test]
fn kubernetes_targets_follow_watches_and_only_reads_are_sent() {
    let api = KubeApi::start_tls();
    api.require_token("serve-token-1a2b");
    api.load(demo_live_objects());
    let repo = demo("");
    let kubeconfig = repo.path().join("kubeconfig");
    api.kubeconfig(&kubeconfig, "lab", "serve-token-1a2b");
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: shop\n    repo: .\n    paths: [\"gitops/**\"]\n    target: lab\n    namespace: shop\ntargets:\n  - name: lab\n    kubernetes:\n      context: lab\n      kubeconfig: {}\nserve:\n  interval: 1h\n  fetch_interval: 1h\n  watch_debounce: 300ms\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    let served = start(&repo);
    ready(&served);
    let t = served.get("/api/v1/targets").json();
    let lab = target(&t, "lab");
    assert_eq!(lab["mode"], "watch");
    assert_eq!(lab["summary"]["errors"], 0, "{lab:#}");
    let drifted = lab["summary"]["drifted"].as_u64().unwrap();
    let first = lab["last_scan_id"].as_i64().unwrap();

    // Someone edits web-config back to what git says: judged from the watch, no interval.
    let mut config_map = demo_live_objects()
        .into_iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "web-config")
        .expect("the demo's web-config");
    let git_side =
        std::fs::read_to_string(repo.path().join("gitops/apps/web/configmap.yaml")).unwrap();
    config_map["data"] = data_of(&git_side);
    api.apply(config_map);
    served.wait_until(
        "the change judged from the watch",
        Duration::from_secs(30),
        |s| {
            let t = s.get("/api/v1/targets").json();
            let lab = target(&t, "lab");
            lab["last_scan_id"].as_i64() > Some(first)
                && lab["summary"]["drifted"].as_u64() == Some(drifted - 1)
        },
    );

    let m = served.get("/metrics").body;
    let (ok, verdict) = promtool_check_metrics(&m);
    assert!(ok, "{verdict}");
    let requests: Vec<&str> = m
        .lines()
        .filter(|l| l.starts_with("gitdrift_api_requests_total{"))
        .collect();
    assert!(
        requests.iter().any(|l| l.contains(r#"verb="watch""#)),
        "{m}"
    );
    assert!(requests.iter().any(|l| l.contains(r#"verb="list""#)), "{m}");
    for line in &requests {
        assert!(line.contains(r#"target="lab""#) && line.contains(r#"provider="kubernetes""#));
        let verb = support::serve::label(line, "verb").unwrap();
        assert!(
            ["get", "list", "watch", "discovery"].contains(&verb),
            "a read verb only: {line}"
        );
    }
    assert!(
        m.contains(r#"gitdrift_write_refusals_total{provider="kubernetes",target="lab"} 0"#),
        "nothing tried to write: {m}"
    );
    let (code, log) = served.stop();
    assert_eq!(code, Some(0), "{log}");
    api.assert_read_only();
}

#[test]
fn a_watched_change_is_published_at_once_and_the_next_scan_agrees() {
    let api = KubeApi::start();
    api.require_token("instant-token-9c8d");
    api.load(demo_live_objects());
    let repo = demo("");
    let kubeconfig = repo.path().join("kubeconfig");
    api.kubeconfig(&kubeconfig, "lab", "instant-token-9c8d");
    // No scan follows a watched change for an hour: only the watch can move the counts.
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: shop\n    repo: .\n    paths: [\"gitops/**\"]\n    target: lab\n    namespace: shop\ntargets:\n  - name: lab\n    kubernetes:\n      context: lab\n      kubeconfig: {}\nserve:\n  interval: 1h\n  fetch_interval: 1s\n  jitter: 0%\n  watch_debounce: 1h\n  resource_metrics: true\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    repo.commit("gitdrift configuration");
    let served = start(&repo);
    ready(&served);
    let t = served.get("/api/v1/targets").json();
    let lab = target(&t, "lab").clone();
    assert_eq!(lab["mode"], "watch");
    assert_eq!(lab["summary"]["errors"], 0, "{lab:#}");
    assert!(lab["live_updated_at"].is_null(), "{lab:#}");
    let count = |lab: &Value, status: &str| lab["summary"][status].as_u64().unwrap();
    let scanned = lab["last_scan_id"].as_i64().unwrap();
    let failing = lab["failing_findings"].as_u64().unwrap();
    let drifted_configmaps = r#"gitdrift_resources{kind="ConfigMap",provider="kubernetes",status="drifted",target="lab"}"#;
    let m = served.get("/metrics").body;
    let before = metric(&m, drifted_configmaps).expect("drifted ConfigMaps");
    assert!(
        m.contains(r#"gitdrift_resource_drift_status{kind="ConfigMap",name="web-config",namespace="shop",status="drifted",target="lab"} 1"#),
        "{m}"
    );
    let objects = demo_live_objects();
    let find = |kind: &str, name: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("the demo's {kind} {name}"))
    };

    // 1. web-config edited back to what git says: in sync, published without a scan.
    let mut config_map = find("ConfigMap", "web-config");
    let git_side =
        std::fs::read_to_string(repo.path().join("gitops/apps/web/configmap.yaml")).unwrap();
    config_map["data"] = data_of(&git_side);
    api.apply(config_map);
    served.wait_until("the edit published", Duration::from_secs(30), |s| {
        let t = s.get("/api/v1/targets").json();
        count(target(&t, "lab"), "drifted") == count(&lab, "drifted") - 1
    });
    let t = served.get("/api/v1/targets").json();
    let now = target(&t, "lab");
    assert_eq!(now["last_scan_id"], scanned, "no scan ran: {now:#}");
    assert!(now["live_updated_at"].is_string(), "{now:#}");
    assert_eq!(count(now, "in_sync"), count(&lab, "in_sync") + 1);
    let m = served.get("/metrics").body;
    assert_eq!(metric(&m, drifted_configmaps), Some(before - 1.0), "{m}");
    assert!(
        !m.contains(r#"name="web-config""#),
        "in sync: no series of its own: {m}"
    );

    // 2. An object nothing declares, in a namespace git declares: unmanaged.
    api.apply(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "made-by-hand", "namespace": "shop"},
        "data": {"k": "v"}
    }));
    // 3. A declared Service deleted: missing.
    api.delete("v1", "Service", Some("shop"), "web");
    // 4. The web Deployment made privileged by hand: live-only findings.
    let mut web = find("Deployment", "web");
    web["spec"]["template"]["spec"]["containers"][0]["securityContext"] =
        json!({"privileged": true});
    api.apply(web);
    served.wait_until("every change published", Duration::from_secs(30), |s| {
        let t = s.get("/api/v1/targets").json();
        let now = target(&t, "lab");
        count(now, "unmanaged") > count(&lab, "unmanaged")
            && count(now, "missing") == count(&lab, "missing") + 1
            && now["failing_findings"].as_u64() > Some(failing)
    });
    let t = served.get("/api/v1/targets").json();
    let patched = target(&t, "lab").clone();
    assert_eq!(
        patched["last_scan_id"], scanned,
        "still no scan: {patched:#}"
    );
    let m = served.get("/metrics").body;
    assert!(
        m.contains(r#"gitdrift_resource_drift_status{kind="ConfigMap",name="made-by-hand",namespace="shop",status="unmanaged",target="lab"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"gitdrift_resource_drift_status{kind="Service",name="web",namespace="shop",status="missing",target="lab"} 1"#),
        "{m}"
    );
    let live_only: f64 = m
        .lines()
        .filter(|l| l.starts_with("gitdrift_findings_live_only{") && l.contains(r#"target="lab""#))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(live_only >= 1.0, "{m}");
    let (ok, verdict) = promtool_check_metrics(&m);
    assert!(ok, "{verdict}");

    // A scan (a new commit) counts the same state: the patched counts were a full scan's.
    repo.commit("nothing for the target");
    served.wait_until("the next scan", Duration::from_secs(60), |s| {
        let t = s.get("/api/v1/targets").json();
        target(&t, "lab")["last_scan_id"].as_i64() > Some(scanned)
    });
    let t = served.get("/api/v1/targets").json();
    let rescanned = target(&t, "lab");
    assert!(rescanned["live_updated_at"].is_null(), "{rescanned:#}");
    for status in [
        "resources",
        "in_sync",
        "drifted",
        "missing",
        "unmanaged",
        "drifts",
    ] {
        assert_eq!(
            rescanned["summary"][status], patched["summary"][status],
            "{status}: the scan's {rescanned:#} and the patched {patched:#}"
        );
    }
    assert_eq!(rescanned["summary"]["health"], patched["summary"]["health"]);
    assert_eq!(rescanned["failing_findings"], patched["failing_findings"]);
    assert_eq!(
        served
            .get("/metrics")
            .body
            .lines()
            .filter(|l| l.starts_with("gitdrift_findings"))
            .collect::<Vec<_>>(),
        m.lines()
            .filter(|l| l.starts_with("gitdrift_findings"))
            .collect::<Vec<_>>(),
        "the scan's finding series are the patched ones"
    );
    let (code, log) = served.stop();
    assert_eq!(code, Some(0), "{log}");
    api.assert_read_only();
}

/// A ConfigMap manifest's `data`, as JSON (flat `key: value` lines under `data:`).
fn data_of(manifest: &str) -> Value {
    let mut data = serde_json::Map::new();
    let mut inside = false;
    for line in manifest.lines() {
        if line.starts_with("data:") {
            inside = true;
            continue;
        }
        if inside {
            let Some(entry) = line.strip_prefix("  ") else {
                break;
            };
            if let Some((k, v)) = entry.split_once(':') {
                data.insert(
                    k.trim().to_string(),
                    Value::String(v.trim().trim_matches('"').to_string()),
                );
            }
        }
    }
    Value::Object(data)
}

#[test]
fn scheduled_reports_appear_in_every_format_with_their_trend() {
    let repo = demo(
        "serve:\n  interval: 1h\n  fetch_interval: 1h\n  reports:\n    - name: audit\n      schedule: \"*/2 * * * * *\"\n      timezone: Europe/Berlin\n      formats: [html, markdown, json, sarif, junit, csv, text]\n      output: ./reports\n",
    );
    let served = start(&repo);
    let out = repo.path().join("reports");
    served.wait_until("two scheduled reports", Duration::from_secs(60), |s| {
        let runs = s.get("/api/v1/reports").json();
        runs["reports"][0]["trend"]["previous_scan"].is_i64()
    });
    let runs = served.get("/api/v1/reports").json();
    let run = &runs["reports"][0];
    assert_eq!(run["name"], "audit");
    assert_eq!(run["timezone"], "Europe/Berlin");
    let id = run["scan_id"].as_i64().unwrap();
    let previous = run["trend"]["previous_scan"].as_i64().unwrap();
    assert!(previous < id);
    // Nothing changed between the two: everything still open.
    assert_eq!(run["trend"]["new"], 0, "{run:#}");
    assert_eq!(run["trend"]["resolved"], 0);
    assert!(run["trend"]["open"].as_u64() > Some(5), "{run:#}");

    let stored = served
        .get(&format!("/api/v1/scans/{id}/report?format=json"))
        .json();
    assert_eq!(stored["trend"]["previous_scan"], previous);
    let first = served
        .get(&format!("/api/v1/scans/{previous}/report?format=json"))
        .json();
    // The first report of the schedule: every item new (unless an earlier run preceded it).
    assert!(first["trend"].is_object());
    assert_eq!(
        stored["scan"]["targets"].as_array().unwrap().len(),
        1,
        "a scheduled report covers every target"
    );
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));

    let latest = |ext: &str| -> String {
        std::fs::read_to_string(out.join(format!("audit-latest.{ext}")))
            .unwrap_or_else(|e| panic!("audit-latest.{ext}: {e}"))
    };
    let json: Value = serde_json::from_str(&latest("json")).unwrap();
    assert!(json["trend"]["open"].as_u64() > Some(5));
    let sarif: Value = serde_json::from_str(&latest("sarif")).unwrap();
    assert!(sarif["runs"][0]["properties"]["trend"]["open"].is_u64());
    assert!(latest("xml").contains("<testsuite name=\"trend\""));
    let csv = latest("csv");
    assert!(csv.lines().next().unwrap().ends_with(",trend"));
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.ends_with(",open") || l.ends_with(",")),
        "{csv}"
    );
    assert!(latest("html").contains("Trend"));
    // The runs so far as a chart: a point per scan of every target, this one last.
    let history = json["trend"]["history"]
        .as_array()
        .unwrap_or_else(|| panic!("{:#}", json["trend"]));
    assert!(history.len() >= 2, "{history:#?}");
    assert_eq!(
        history.last().unwrap()["drifted"],
        json["summary"]["drifted"]
    );
    let html = latest("html");
    let chart = html
        .split("data-series=\"drifted\" points=\"")
        .nth(1)
        .expect("a trend chart");
    assert_eq!(
        chart.split('"').next().unwrap().split(' ').count(),
        history.len(),
        "a point per scan"
    );
    assert!(latest("md").contains("**Trend**"));
    assert!(latest("txt").contains("web-config"));
    // The demo's revision, still converging (its live state drifted), with what it waits on.
    let revision = &json["convergence"][0];
    assert_eq!(revision["source"], "shop-demo", "{:#}", json["convergence"]);
    assert!(revision["converged_at"].is_null());
    assert!(
        revision["waiting"]["resources"].as_u64() > Some(0),
        "{revision:#}"
    );
    assert!(latest("html").contains("<h2>Convergence</h2>"));
    assert!(latest("md").contains("**Convergence**"));
    assert!(latest("txt").contains("convergence (commit to in sync and healthy)"));
    assert!(latest("txt").contains("not converged:"));
    let stamped: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with("audit-2") && name.ends_with(".html")
        })
        .collect();
    assert!(stamped.len() >= 2, "{stamped:?}");
}

#[test]
fn retention_deletes_old_scans_and_the_chain_still_verifies() {
    let repo = demo(
        "serve:\n  interval: 200ms\n  jitter: 0%\n  fetch_interval: 1h\n  retention:\n    max_count: 3\n    max_age: null\n",
    );
    let served = start(&repo);
    served.wait_until("a dozen scans", Duration::from_secs(60), |s| {
        metric(
            &s.get("/metrics").body,
            r#"gitdrift_scans_total{result="ok",target="demo"}"#,
        )
        .is_some_and(|n| n >= 12.0)
    });
    let (code, log) = served.stop();
    assert_eq!(code, Some(0), "{log}");
    let history = gitdrift(
        repo.path(),
        &["history", "--data-dir", "data", "--limit", "100"],
        &[],
    );
    assert_eq!(history.code, 0, "{}", history.all());
    let ids: Vec<i64> = history
        .stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(
        ids.len() <= 5,
        "retention keeps about 3: {}",
        history.stdout
    );
    assert!(
        *ids.last().unwrap() > 5,
        "the oldest scans are gone: {ids:?}"
    );
    let verify = gitdrift(repo.path(), &["verify", "--data-dir", "data"], &[]);
    assert_eq!(verify.code, 0, "{}", verify.all());
}

#[test]
fn serve_killed_at_any_moment_leaves_a_history_that_verifies_after_restart() {
    let repo = demo("serve:\n  interval: 100ms\n  jitter: 0%\n  fetch_interval: 1h\n");
    write_config(
        &repo,
        &["a", "b", "c", "d"],
        "serve:\n  interval: 100ms\n  jitter: 0%\n  fetch_interval: 1h\n",
    );
    for round in 0..6u64 {
        let served = start(&repo);
        // Kill at a different moment each round, while scans are being written.
        std::thread::sleep(Duration::from_millis(300 + round * 170));
        served.kill9();
    }
    let verify = gitdrift(repo.path(), &["verify", "--data-dir", "data"], &[]);
    assert_eq!(verify.code, 0, "{}", verify.all());
    let served = start(&repo);
    ready(&served);
    let scans = served.get("/api/v1/scans?limit=1000").json();
    let scans = scans["scans"].as_array().unwrap();
    assert!(
        scans.len() >= 6,
        "scans were stored between the kills: {}",
        scans.len()
    );
    // Every stored report reads back whole.
    for s in scans.iter().take(40) {
        let report = served
            .get(&format!("/api/v1/scans/{}/report?format=json", s["id"]))
            .json();
        assert_eq!(report["schema"], "gitdrift.report/v1");
    }
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));
    let verify = gitdrift(repo.path(), &["verify", "--data-dir", "data"], &[]);
    assert_eq!(verify.code, 0, "{}", verify.all());
}

#[test]
fn prometheus_scrapes_the_demo_served_as_in_the_readme() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(
        dir.path(),
        &project_root().join("examples/demo/gitdrift.yaml"),
        &dir.path().join("data"),
        &[],
    );
    ready(&served);
    let prometheus = support::prometheus::Prometheus::start(served.port);
    let answer = prometheus.wait_for(
        r#"sum by (target) (gitdrift_resources{status="drifted"})"#,
        |r| r["data"]["result"].as_array().is_some_and(|a| a.len() == 2),
    );
    let result = answer["data"]["result"].as_array().unwrap();
    for target in ["demo", "demo-aws"] {
        let row = result
            .iter()
            .find(|r| r["metric"]["target"] == target)
            .unwrap_or_else(|| panic!("{target} in {result:?}"));
        assert_eq!(row["value"][1], "3", "{target}: {row}");
    }
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn a_scheduled_report_missed_while_down_is_made_up_at_start_and_its_trend_outlives_the_scans() {
    let config = "serve:\n  interval: 1h\n  fetch_interval: 1h\n  reports:\n    - name: nightly\n      schedule: \"0 0 * * *\"\n      formats: [json]\n      output: ./reports\n";
    let repo = demo(config);
    // First start: the schedule starts counting; nothing is due.
    let served = start(&repo);
    ready(&served);
    let runs = served.get("/api/v1/reports").json();
    assert!(runs["reports"][0]["scan_id"].is_null(), "{runs:#}");
    assert!(runs["reports"][0]["next_run_at"].is_string());
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));

    // As if the service had been down since long before last midnight, with a report of its
    // schedule from then whose scan retention has since deleted.
    let db = rusqlite::Connection::open(repo.path().join("data/history.sqlite3")).unwrap();
    db.execute(
        "UPDATE meta SET value = '2000-01-01T00:00:00+00:00' WHERE key = 'report-run:nightly'",
        [],
    )
    .unwrap();
    let base = json!({
        "scan": 7,
        "at": "2000-01-01T00:00:00Z",
        "items": ["drifted demo/ConfigMap/shop/web-config", "missing demo/Gone/shop/long-ago"],
    });
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('report:nightly', ?1)",
        [base.to_string()],
    )
    .unwrap();
    drop(db);

    let served = start(&repo);
    served.wait_until("the missed report made up", Duration::from_secs(30), |s| {
        s.get("/api/v1/reports").json()["reports"][0]["scan_id"].is_i64()
    });
    let run = served.get("/api/v1/reports").json()["reports"][0].clone();
    assert_eq!(run["trend"]["previous_scan"], 7, "{run:#}");
    assert_eq!(
        run["trend"]["resolved_items"],
        json!(["missing demo/Gone/shop/long-ago"])
    );
    assert_eq!(run["trend"]["open"], 1);
    assert!(run["trend"]["new"].as_u64() > Some(5));
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));
    assert!(repo.path().join("reports/nightly-latest.json").exists());
}

/// `count` free ports from `base` on, `base` a multiple of ten (so that a URL template can
/// name each by its last digit).
fn adjacent_ports(count: u16) -> u16 {
    for _ in 0..200 {
        let base = support::free_port() / 10 * 10;
        if base > 1024
            && (0..count).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
    panic!("no {count} adjacent free ports");
}

#[test]
fn a_webhook_passed_to_a_shard_never_follows_a_redirect() {
    use std::io::{Read, Write};
    let names = ["a", "b", "c", "d", "e", "f"];
    let repo = demo("");
    write_config(
        &repo,
        &names,
        "serve:\n  interval: 1h\n  fetch_interval: 1h\n  webhook_secret_env: GITDRIFT_TEST_WEBHOOK_SECRET\n",
    );
    // Shard 1's address answers with a redirect to a server that must never be reached. A port
    // chosen free can be taken by another test before it is bound: chosen again then.
    let (base, peer) = (0..10)
        .find_map(|_| {
            let base = adjacent_ports(2);
            std::net::TcpListener::bind(("127.0.0.1", base + 1))
                .ok()
                .map(|peer| (base, peer))
        })
        .expect("two adjacent free ports in ten tries");
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let elsewhere_port = elsewhere.local_addr().unwrap().port();
    elsewhere.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        for mut stream in peer.incoming().flatten() {
            let mut buf = [0u8; 65536];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{elsewhere_port}/steal\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            );
        }
    });
    let served = Served::start_at(
        base,
        repo.path(),
        &repo.path().join("gitdrift.yaml"),
        &repo.path().join("data"),
        &[("GITDRIFT_TEST_WEBHOOK_SECRET", SECRET)],
        &[
            "--shard-count",
            "2",
            "--shard-index",
            "0",
            "--shard-peer-url",
            &format!("http://127.0.0.1:{}{{index}}", base / 10),
        ],
    );
    ready(&served);
    let push = push_payload(&repo.path().display().to_string(), "refs/heads/main");
    let answer = signed_push(&served, &push);
    assert_eq!(answer.status, 202, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["forwarded"][0]["shard"], 1, "{body:#}");
    assert_eq!(body["forwarded"][0]["status"], 307, "{body:#}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        elsewhere.accept().is_err(),
        "the redirect was followed, the signed delivery sent elsewhere"
    );
}

#[test]
fn shards_split_the_targets_between_replicas_and_pass_webhooks_on() {
    let names = ["a", "b", "c", "d", "e", "f"];
    let repo = demo("");
    write_config(
        &repo,
        &names,
        "serve:\n  interval: 1h\n  fetch_interval: 1h\n  webhook_secret_env: GITDRIFT_TEST_WEBHOOK_SECRET\n",
    );
    let config = repo.path().join("gitdrift.yaml");
    let base = adjacent_ports(2);
    let peers = format!("http://127.0.0.1:{}{{index}}", base / 10);
    let mut seen: Vec<String> = Vec::new();
    let mut servers = Vec::new();
    for index in 0..2u16 {
        let data = repo.path().join(format!("data-{index}"));
        let served = if index == 0 {
            Served::start_at(
                base,
                repo.path(),
                &config,
                &data,
                &[("GITDRIFT_TEST_WEBHOOK_SECRET", SECRET)],
                &[
                    "--shard-count",
                    "2",
                    "--shard-index",
                    "0",
                    "--shard-peer-url",
                    &peers,
                ],
            )
        } else {
            Served::start_at(
                base + 1,
                repo.path(),
                &config,
                &data,
                &[
                    ("POD_NAME", "gitdrift-1"),
                    ("GITDRIFT_TEST_WEBHOOK_SECRET", SECRET),
                    ("GITDRIFT_SHARD_PEER_URL", &peers),
                ],
                &["--shard-count", "2"],
            )
        };
        ready(&served);
        let targets = served.get("/api/v1/targets?scope=local").json();
        let mine: Vec<String> = targets["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                assert!(t["last_scan_id"].is_i64(), "{t:#}");
                t["name"].as_str().unwrap().to_string()
            })
            .collect();
        assert!(!mine.is_empty(), "shard {index} got no target");
        seen.extend(mine);
        servers.push(served);
    }
    seen.sort();
    assert_eq!(seen, names, "every target on exactly one shard");

    // A push to the repository every source reads, sent to shard 0: it fetches its own sources
    // and passes the request on to shard 1, which verifies it again and fetches the rest.
    let push = push_payload(&repo.path().display().to_string(), "refs/heads/main");
    let answer = signed_push(&servers[0], &push);
    assert_eq!(answer.status, 202, "{}", answer.body);
    let body = answer.json();
    assert!(!body["fetching"].as_array().unwrap().is_empty(), "{body:#}");
    assert_eq!(body["forwarded"][0]["shard"], 1, "{body:#}");
    assert_eq!(body["forwarded"][0]["status"], 202, "{body:#}");
    let m = servers[1].get("/metrics").body;
    assert_eq!(
        metric(&m, r#"gitdrift_webhook_requests_total{result="accepted"}"#),
        Some(1.0),
        "{m}"
    );
    servers[1].wait_until(
        "shard 1 fetched on the webhook",
        Duration::from_secs(20),
        |s| {
            s.get("/metrics").body.lines().any(|l| {
                l.starts_with("gitdrift_source_fetches_total{")
                    && l.contains(r#"trigger="webhook""#)
            })
        },
    );
    for served in servers {
        let (code, _) = served.stop();
        assert_eq!(code, Some(0));
    }
    for (args, env, message) in [
        (
            vec!["--shard-index", "1"],
            vec![],
            "--shard-index needs --shard-count",
        ),
        (
            vec!["--shard-count", "2", "--shard-index", "2"],
            vec![],
            "not below the shard count",
        ),
        (
            vec!["--shard-count", "2"],
            vec![("POD_NAME", "gitdrift"), ("HOSTNAME", "box")],
            "pod name ending in its ordinal",
        ),
    ] {
        let mut full = vec![
            "serve",
            "--config",
            "gitdrift.yaml",
            "--listen",
            "127.0.0.1:0",
        ];
        full.extend(args);
        let run = gitdrift(repo.path(), &full, &env);
        assert_eq!(run.code, 2, "{}", run.all());
        assert!(run.stderr.contains(message), "{}", run.stderr);
    }
}

const SHARD_TOKEN: &str = "shard-admin-token-7d3e9b21c0";

/// Answers from one replica with the API token.
fn with_token(served: &Served, path: &str) -> support::serve::Answer {
    served.request(
        "GET",
        path,
        &[("Authorization", &format!("Bearer {SHARD_TOKEN}"))],
        b"",
    )
}

#[test]
fn three_shards_answer_as_one_and_a_silent_or_dead_shard_is_named_within_two_seconds() {
    let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let repo = demo("");
    std::fs::write(
        repo.path().join("api-tokens"),
        format!("admin: {SHARD_TOKEN}\n"),
    )
    .unwrap();
    write_config(
        &repo,
        &names,
        "serve:\n  interval: 1h\n  fetch_interval: 1h\n  auth:\n    tokens_file: api-tokens\n  reports:\n    - name: nightly\n      schedule: \"*/2 * * * * *\"\n      formats: [json]\n      output: ./reports\n",
    );
    let config = repo.path().join("gitdrift.yaml");
    let base = adjacent_ports(3);
    let peers = format!("http://127.0.0.1:{}{{index}}", base / 10);
    let mut servers: Vec<Served> = (0..3u16)
        .map(|index| {
            let served = Served::start_at(
                base + index,
                repo.path(),
                &config,
                &repo.path().join(format!("data-{index}")),
                &[],
                &[
                    "--shard-count",
                    "3",
                    "--shard-index",
                    &index.to_string(),
                    "--shard-peer-url",
                    &peers,
                ],
            );
            ready(&served);
            served
        })
        .collect();
    let owner = |name: &str| {
        servers
            .iter()
            .position(|s| {
                with_token(s, "/api/v1/targets?scope=local").json()["targets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["name"] == name)
            })
            .unwrap_or_else(|| panic!("no shard scans {name}"))
    };
    let owners: Vec<usize> = names.iter().map(|n| owner(n)).collect();
    assert!(
        (0..3).all(|i| owners.contains(&i)),
        "every shard has a target: {owners:?}"
    );

    // Any replica answers for every target, each naming its shard; the token still applies.
    for served in &servers {
        assert_eq!(served.get("/api/v1/targets").status, 401);
        let merged = with_token(served, "/api/v1/targets").json();
        let listed: Vec<(String, u64)> = merged["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                assert!(t["last_scan_id"].is_i64(), "{t:#}");
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["shard"].as_u64().unwrap(),
                )
            })
            .collect();
        let expected: Vec<(String, u64)> = names
            .iter()
            .zip(&owners)
            .map(|(n, o)| (n.to_string(), *o as u64))
            .collect();
        assert_eq!(listed, expected, "{merged:#}");
        let states: Vec<&str> = merged["shards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["state"].as_str().unwrap())
            .collect();
        assert_eq!(states, ["ok", "ok", "ok"], "{merged:#}");
        let sources = with_token(served, "/api/v1/sources").json();
        assert_eq!(
            sources["sources"].as_array().unwrap().len(),
            names.len(),
            "{sources:#}"
        );
    }

    // Scans of every shard, newest first, each naming its shard; a scan another shard stored
    // is read through any replica.
    let scans = with_token(&servers[1], "/api/v1/scans?limit=1000").json();
    let scans = scans["scans"].as_array().unwrap();
    let mut shards: Vec<u64> = scans.iter().map(|s| s["shard"].as_u64().unwrap()).collect();
    shards.sort();
    shards.dedup();
    assert_eq!(shards, [0, 1, 2], "{scans:#?}");
    let times: Vec<&str> = scans
        .iter()
        .map(|s| s["started_at"].as_str().unwrap())
        .collect();
    let parsed: Vec<chrono::DateTime<chrono::FixedOffset>> = times
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
        .collect();
    assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let theirs = scans
        .iter()
        .find(|s| s["shard"] == 2 && s["targets"].as_array().unwrap().len() == 1)
        .expect("a scan of one of shard 2's targets");
    let report = with_token(
        &servers[0],
        &format!("/api/v1/scans/{}/report?format=json&shard=2", theirs["id"]),
    );
    assert_eq!(report.status, 200, "{}", report.body);
    assert_eq!(
        report.json()["scan"]["targets"][0]["name"],
        theirs["targets"][0],
        "{}",
        report.body
    );
    // Its links name the shard that stored it (ids are each shard's own); no shard 7.
    let stored = with_token(
        &servers[1],
        &format!("/api/v1/scans/{}?shard=2", theirs["id"]),
    )
    .json();
    assert!(
        stored["links"]["html"]
            .as_str()
            .is_some_and(|l| l.ends_with("&shard=2")),
        "{stored:#}"
    );
    assert_eq!(
        with_token(&servers[0], "/api/v1/scans/1?shard=7").status,
        400
    );

    // Scheduled reports are written by the first shard, over every shard's targets, and shown
    // by every replica.
    servers[2].wait_until("a scheduled report", Duration::from_secs(60), |s| {
        with_token(s, "/api/v1/reports").json()["reports"][0]["scan_id"].is_i64()
    });
    let runs = with_token(&servers[2], "/api/v1/reports").json();
    assert_eq!(runs["reports"].as_array().unwrap().len(), 1, "{runs:#}");
    assert_eq!(runs["reports"][0]["shard"], 0, "{runs:#}");
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join("reports/nightly-latest.json")).unwrap(),
    )
    .unwrap();
    let mut covered: Vec<&str> = written["scan"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    covered.sort();
    assert_eq!(covered, names);

    // The overview page of any replica shows every target and how each shard answered.
    let page = with_token(&servers[1], "/").body;
    for name in names {
        assert!(page.contains(&format!("<td>{name}")), "{name}: {page}");
    }
    assert!(page.contains("3 shards"), "{page}");
    assert!(
        page.contains("shard=2"),
        "links to shard 2's reports: {page}"
    );

    // A shard that stops answering (accepts, never replies), then one that is gone: the merged
    // answer still comes within two seconds and names it.
    let dead = servers.pop().unwrap();
    dead.kill9();
    let silent = std::net::TcpListener::bind(("127.0.0.1", base + 2)).unwrap();
    let check = |what: &str| {
        let started = std::time::Instant::now();
        let merged = with_token(&servers[0], "/api/v1/targets");
        let took = started.elapsed();
        assert_eq!(merged.status, 200, "{what}: {}", merged.body);
        let merged = merged.json();
        assert!(took < Duration::from_secs(2), "{what}: took {took:?}");
        assert_eq!(
            merged["shards"][2]["state"], "unreachable",
            "{what}: {merged:#}"
        );
        assert!(
            merged["shards"][2]["error"]
                .as_str()
                .unwrap()
                .starts_with("shard 2 unreachable"),
            "{what}: {merged:#}"
        );
        assert!(!merged.to_string().contains(SHARD_TOKEN));
        let listed = merged["targets"].as_array().unwrap().len();
        let alive = owners.iter().filter(|o| **o != 2).count();
        assert_eq!(
            listed, alive,
            "{what}: the live shards' targets: {merged:#}"
        );
        let started = std::time::Instant::now();
        let page = with_token(&servers[1], "/").body;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what}: the overview"
        );
        assert!(page.contains("shard 2 unreachable"), "{what}: {page}");
    };
    check("silent");
    drop(silent);
    check("gone");
    for served in servers {
        let (code, _) = served.stop();
        assert_eq!(code, Some(0));
    }
}

#[test]
fn serve_proposes_remediation_after_scans_within_its_hourly_budget() {
    let repo = demo("");
    write_config(
        &repo,
        &["a", "b"],
        "serve:\n  interval: 1h\n  fetch_interval: 1h\nremediation:\n  adopt:\n    - kind: Deployment\n      name: web\n      paths: [/spec/replicas]\n  provider: local\n  in_service: true\n  max_per_hour: 1\n",
    );
    let served = start(&repo);
    served.wait_until("both targets' proposals", Duration::from_secs(60), |s| {
        s.get("/api/v1/remediation").json()["remediation"]
            .as_array()
            .is_some_and(|r| r.len() == 2)
    });
    let statuses = served.get("/api/v1/remediation").json();
    let mut states: Vec<&str> = statuses["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    states.sort();
    assert_eq!(states, ["open", "rate_limited"], "{statuses:#}");
    let open = statuses["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["state"] == "open")
        .unwrap();
    let branch = open["branch"].as_str().unwrap();
    let listed = support::git(repo.path(), &["branch", "--list", branch]);
    assert!(listed.contains(branch), "the branch exists: {listed}");
    let m = served.get("/metrics").body;
    assert_eq!(
        metric(&m, r#"gitdrift_remediation_prs{state="open"}"#),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, r#"gitdrift_remediation_prs{state="rate_limited"}"#),
        Some(1.0)
    );
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));
}

/// The JSON report of the demo target's latest stored scan, and its web Deployment's first drift.
fn latest_demo_scan(served: &Served) -> (Value, Value) {
    let demo = target(&served.get("/api/v1/targets").json(), "demo").clone();
    let id = demo["last_scan_id"].as_i64().expect("a stored scan");
    let scan = served
        .get(&format!("/api/v1/scans/{id}/report?format=json"))
        .json();
    let web = scan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "Deployment" && r["name"] == "web")
        .expect("the web Deployment")["drifts"][0]
        .clone();
    (scan, web)
}

#[test]
fn drift_is_dated_from_the_first_scan_that_saw_it_across_restarts_and_its_age_is_a_metric() {
    let repo = demo(&format!("{SERVE_QUIET}  drift_age_limit: 2h\n"));
    let first_started = {
        let served = start(&repo);
        ready(&served);
        let (scan, replicas) = latest_demo_scan(&served);
        let started = scan["scan"]["started_at"].as_str().unwrap().to_string();
        assert_eq!(replicas["path"], "/spec/replicas");
        assert_eq!(
            replicas["first_seen"], started,
            "a new drift dates from its own scan"
        );
        assert_eq!(
            replicas["line"], 10,
            "the line of `replicas:` in git's file"
        );
        let metrics = served.get("/metrics").body;
        assert_eq!(
            metric(&metrics, "gitdrift_drift_age_limit_seconds"),
            Some(7200.0)
        );
        assert!(
            metric(
                &metrics,
                r#"gitdrift_drift_oldest_age_seconds{target="demo"}"#
            )
            .is_some_and(|age| (0.0..60.0).contains(&age)),
            "{metrics}"
        );
        started
    };
    std::thread::sleep(Duration::from_millis(1100));
    // A restart reads the dates from the history: the same drift keeps its first scan.
    let served = start(&repo);
    ready(&served);
    let (scan, replicas) = latest_demo_scan(&served);
    assert_ne!(scan["scan"]["started_at"], first_started.as_str());
    assert_eq!(replicas["first_seen"], first_started.as_str());
    let metrics = served.get("/metrics").body;
    let age = metric(
        &metrics,
        r#"gitdrift_drift_oldest_age_seconds{target="demo"}"#,
    )
    .expect("the age of the oldest drift");
    assert!(age >= 1.0, "at least the time between the scans: {age}");
}

/// A one-replica Deployment of `image` as git declares it.
fn web_manifest(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n        - name: web\n          image: {image}\n"
    )
}

/// The Deployment live at `generation`, running `image`, its rollout at `updated` of one
/// replica (available throughout).
fn web_live(image: &str, generation: i64, observed: i64, updated: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "generation": generation, "uid": "web-1"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": image}]}}},
        "status": {"observedGeneration": observed, "replicas": 1 + (1 - updated),
                   "updatedReplicas": updated, "availableReplicas": 1, "readyReplicas": 1,
                   "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]}
    })
}

fn source_status(served: &Served, name: &str) -> Value {
    source(&served.get("/api/v1/sources").json(), name).clone()
}

#[test]
fn a_commit_converges_step_by_step_and_its_time_from_commit_is_a_metric() {
    let api = KubeApi::start();
    api.load([web_live("registry.example.com/web:1.0", 1, 1, 1)]);
    let repo = Repo::new();
    repo.write(
        "deploy/web.yaml",
        &web_manifest("registry.example.com/web:1.0"),
    );
    let first = repo.commit("web 1.0");
    let kubeconfig = repo.path().join("kubeconfig");
    api.kubeconfig(&kubeconfig, "lab", "serve-token-7c1d");
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: shop\n    repo: .\n    paths: [\"deploy/**\"]\n    target: lab\ntargets:\n  - name: lab\n    kubernetes:\n      context: lab\n      kubeconfig: {}\nserve:\n  interval: 1h\n  fetch_interval: 1s\n  jitter: 0%\n  watch_debounce: 200ms\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    let served = start(&repo);
    ready(&served);
    // The first revision ever seen: in sync and healthy, recorded, not measured.
    served.wait_until(
        "the first revision converged",
        Duration::from_secs(30),
        |s| source_status(s, "shop")["convergence"]["converged_at"].is_string(),
    );
    let shop = source_status(&served, "shop");
    assert_eq!(shop["convergence"]["commit"], first, "{shop:#}");
    assert_eq!(shop["convergence"]["baseline"], true);
    let m = served.get("/metrics").body;
    assert_eq!(
        metric(
            &m,
            r#"gitdrift_source_unconverged_age_seconds{source="shop"}"#
        ),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            r#"gitdrift_source_convergence_seconds_count{since="commit",source="shop"}"#
        ),
        Some(0.0),
        "a baseline is not a measured convergence: {m}"
    );

    // Step 1: a new commit, fetched within a second; live still runs 1.0: drifted.
    repo.write(
        "deploy/web.yaml",
        &web_manifest("registry.example.com/web:1.1"),
    );
    let second = repo.commit("web 1.1");
    served.wait_until("the new revision judged", Duration::from_secs(30), |s| {
        let c = &source_status(s, "shop")["convergence"];
        c["commit"] == second.as_str() && c["waiting"]["on"][0] == "Deployment shop/web: drifted"
    });
    let shop = source_status(&served, "shop");
    assert!(shop["convergence"]["converged_at"].is_null(), "{shop:#}");
    assert!(shop["convergence"]["committed_at"].is_string(), "{shop:#}");
    assert_eq!(shop["last_converged"]["commit"], first, "{shop:#}");
    let age = |s: &Served| {
        metric(
            &s.get("/metrics").body,
            r#"gitdrift_source_unconverged_age_seconds{source="shop"}"#,
        )
        .unwrap_or(-1.0)
    };
    let before = age(&served);
    std::thread::sleep(Duration::from_millis(1100));
    let after = age(&served);
    assert!(
        before >= 0.0 && after >= before + 1.0,
        "the age grows while it waits: {before} then {after}"
    );

    // Step 2: the deployment tool applies the spec; the rollout has not finished.
    api.apply(web_live("registry.example.com/web:1.1", 2, 2, 0));
    served.wait_until("in sync, still rolling out", Duration::from_secs(30), |s| {
        source_status(s, "shop")["convergence"]["waiting"]["on"][0]
            == "Deployment shop/web: progressing: 0 of 1 replicas updated"
    });

    // Step 3: the rollout completes: converged, measured from the commit and from first sight.
    api.apply(web_live("registry.example.com/web:1.1", 2, 2, 1));
    served.wait_until("converged", Duration::from_secs(30), |s| {
        source_status(s, "shop")["convergence"]["converged_at"].is_string()
    });
    let shop = source_status(&served, "shop");
    let converged = &shop["last_converged"];
    assert_eq!(converged["commit"], second, "{shop:#}");
    assert!(converged.get("baseline").is_none(), "{shop:#}");
    let from_commit = converged["seconds_from_commit"].as_f64().unwrap();
    let from_seen = converged["seconds_from_first_seen"].as_f64().unwrap();
    assert!(
        from_seen > 1.0 && from_commit >= from_seen - 1.0 && from_commit < 120.0,
        "{converged:#}"
    );
    let m = served.get("/metrics").body;
    let (ok, verdict) = promtool_check_metrics(&m);
    assert!(ok, "{verdict}");
    for (since, seconds) in [("commit", from_commit), ("first_seen", from_seen)] {
        let series =
            format!("gitdrift_source_convergence_seconds_{{since=\"{since}\",source=\"shop\"}}");
        let count = series.replace("_{", "_count{");
        let sum = series.replace("_{", "_sum{");
        assert_eq!(metric(&m, &count), Some(1.0), "{m}");
        let observed = metric(&m, &sum).unwrap();
        assert!(
            (observed - seconds).abs() < 0.01,
            "{since}: {observed} vs the API's {seconds}"
        );
    }
    assert_eq!(
        metric(
            &m,
            r#"gitdrift_source_unconverged_age_seconds{source="shop"}"#
        ),
        Some(0.0)
    );
    // The history keeps both revisions, the newest first.
    let revisions = served.get("/api/v1/revisions?source=shop").json();
    let commits: Vec<&str> = revisions["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["commit"].as_str().unwrap())
        .collect();
    assert_eq!(commits, [second.as_str(), first.as_str()], "{revisions:#}");
    assert!(revisions["revisions"][0]["converged_at"].is_string());
    let page = served.get("/").body;
    assert!(
        page.contains("converged in "),
        "the overview says so: {page}"
    );
    let (code, log) = served.stop();
    assert_eq!(code, Some(0), "{log}");
    api.assert_read_only();
}

#[test]
fn a_revision_that_never_converges_ages_and_fires_the_alert_expression() {
    // The demo's live state has drift and a degraded rollout: its revision never converges.
    let repo = demo(&format!("{SERVE_QUIET}  convergence_limit: 2s\n"));
    let served = start(&repo);
    ready(&served);
    let waiting = source_status(&served, "shop-demo")["convergence"].clone();
    assert!(waiting["converged_at"].is_null(), "{waiting:#}");
    assert!(
        waiting["waiting"]["on"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w
                .as_str()
                .unwrap()
                .starts_with("Deployment shop/cart: drifted")),
        "{waiting:#}"
    );
    let sample = |s: &Served| {
        let m = s.get("/metrics").body;
        (
            metric(
                &m,
                r#"gitdrift_source_unconverged_age_seconds{source="shop-demo"}"#,
            )
            .unwrap(),
            metric(&m, "gitdrift_source_convergence_limit_seconds").unwrap(),
        )
    };
    let (early, limit) = sample(&served);
    assert_eq!(limit, 2.0);
    served.wait_until("past the limit", Duration::from_secs(30), |s| {
        sample(s).0 > limit + 1.0
    });
    let (late, _) = sample(&served);
    assert!(late > early);
    // The alert's own expression, on the two samples the service exported.
    let rules: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(project_root().join("rules/alerts/gitdrift.rules.yaml")).unwrap(),
    )
    .unwrap();
    let expr = rules["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["alert"] == "GitdriftSourceNotConverged")
        .expect("the alert")["expr"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yaml"),
        serde_json::to_string(&json!({"groups": [{"name": "g", "rules": [
            {"alert": "NotConverged", "expr": expr}]}]}))
        .unwrap(),
    )
    .unwrap();
    let fired_early = if early > limit {
        json!([{"exp_labels": {"source": "shop-demo"}}])
    } else {
        json!([])
    };
    std::fs::write(
        dir.path().join("test.yaml"),
        serde_json::to_string(&json!({
            "rule_files": ["rules.yaml"],
            "evaluation_interval": "1m",
            "tests": [{
                "interval": "1m",
                "input_series": [
                    {"series": "gitdrift_source_unconverged_age_seconds{source=\"shop-demo\"}",
                     "values": format!("{early} {late}")},
                    {"series": "gitdrift_source_convergence_limit_seconds",
                     "values": format!("{limit} {limit}")}
                ],
                "alert_rule_test": [
                    {"eval_time": "0m", "alertname": "NotConverged", "exp_alerts": fired_early},
                    {"eval_time": "1m", "alertname": "NotConverged",
                     "exp_alerts": [{"exp_labels": {"source": "shop-demo"}}]}
                ]
            }]
        }))
        .unwrap(),
    )
    .unwrap();
    let out = std::process::Command::new("promtool")
        .args(["test", "rules", "test.yaml"])
        .current_dir(dir.path())
        .output()
        .expect("promtool (scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, log) = served.stop();
    assert_eq!(code, Some(0), "{log}");
    // Restarted on the same history: the same revision, still waiting since it was first
    // read, not a new baseline.
    let served = start(&repo);
    ready(&served);
    let again = source_status(&served, "shop-demo")["convergence"].clone();
    assert_eq!(
        again["first_seen_at"], waiting["first_seen_at"],
        "{again:#}"
    );
    assert_eq!(again["commit"], waiting["commit"]);
    let (after_restart, _) = sample(&served);
    assert!(
        after_restart >= late,
        "the age goes on from the first read: {late} then {after_restart}"
    );
    let (code, log) = served.stop();
    assert_eq!(code, Some(0), "{log}");
}

/// Renders a page served as HTML to a PNG with headless Chromium, as a person would see it.
fn screenshot(dir: &std::path::Path, name: &str, html: &str) -> Vec<u8> {
    let page = dir.join(format!("{name}.html"));
    std::fs::write(&page, html).unwrap();
    support::screenshot(&page, &dir.join(format!("{name}.png")), 1600)
}

/// The overview draws each target's trend over its stored scans as inline SVG (a line per
/// series, the latest values written out); the target page lists its resources, filterable by
/// status, kind and namespace, each linking into the scan's report; the API serves the same a
/// page at a time. Both pages render in Chromium.
#[test]
fn the_overview_draws_trends_and_a_target_page_lists_its_resources() {
    let repo = demo("serve:\n  interval: 1s\n  fetch_interval: 1h\n");
    let served = start(&repo);
    ready(&served);
    served.wait_until("three scans of demo", Duration::from_secs(60), |s| {
        target(&s.get("/api/v1/targets").json(), "demo")["last_scan_id"]
            .as_i64()
            .is_some_and(|id| id >= 3)
    });
    let overview = served.get("/").body;
    assert!(!overview.contains("<script"), "no scripts");
    let chart_start = overview.find("<svg").expect("a trend chart");
    let chart =
        &overview[chart_start..overview[chart_start..].find("</figure>").unwrap() + chart_start];
    for series in [
        "drifted",
        "missing",
        "unmanaged",
        "failing findings",
        "degraded",
    ] {
        assert!(
            chart.contains(&format!("data-series=\"{series}\"")),
            "{chart}"
        );
    }
    let points = chart
        .split("data-series=\"drifted\" points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .split(' ')
        .count();
    assert!(points >= 3, "a point per stored scan: {chart}");
    assert!(
        chart.contains("now 3 drifted, 1 missing, 1 unmanaged"),
        "{chart}"
    );
    assert!(overview.contains("href=\"/targets/demo\""));

    let page = served.get("/targets/demo");
    assert_eq!(page.status, 200);
    for name in ["web", "cart", "debug-shell", "feature-flags", "postgres"] {
        assert!(
            page.body.contains(&format!(">{name}</a>")),
            "{name}: {}",
            page.body
        );
    }
    assert!(page.body.contains("<svg"), "the target's trend too");
    let drifted = served
        .get("/targets/demo?status=drifted&kind=Deployment&namespace=shop")
        .body;
    let rows = drifted.matches("<td class=\"bad\">drifted</td>").count();
    assert_eq!(rows, 2, "two drifted Deployments: {drifted}");
    assert!(!drifted.contains(">feature-flags</a>"));
    assert!(drifted.contains("report?format=html#r-demo-Deployment-shop-web"));

    let api = served
        .get("/api/v1/targets/demo/resources?status=drifted&limit=1")
        .json();
    assert_eq!(api["total"], 3, "{api:#}");
    assert_eq!(api["items"].as_array().unwrap().len(), 1);
    assert_eq!(api["items"][0]["status"], "drifted");
    let next = served
        .get("/api/v1/targets/demo/resources?status=drifted&limit=1&offset=1")
        .json();
    assert_ne!(
        next["items"][0]["name"], api["items"][0]["name"],
        "the next page"
    );
    assert_eq!(served.get("/api/v1/targets/nowhere/resources").status, 404);
    let report = served
        .get(
            api["items"][0]["report"]
                .as_str()
                .unwrap()
                .split('#')
                .next()
                .unwrap(),
        )
        .body;
    assert!(
        report.contains(&format!(
            "id=\"{}\"",
            api["items"][0]["report"]
                .as_str()
                .unwrap()
                .split('#')
                .nth(1)
                .unwrap()
        )),
        "the link lands on the resource"
    );

    let dir = tempfile::tempdir().unwrap();
    let one = screenshot(dir.path(), "overview", &overview);
    let two = screenshot(dir.path(), "target", &page.body);
    assert!(
        one.len() > 10_000 && two.len() > 10_000,
        "pages with content"
    );
    let (code, log) = served.stop();
    assert_eq!(code, Some(0), "{log}");
}
