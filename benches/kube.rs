//! Kubernetes targets at scale, against the test API server (tests/support/kube_api.rs):
//!
//! - a full scan — discovery, paged lists (pages of 500) and judgement — of N objects (default
//!   50,000), run as the release binary: wall time and peak RSS;
//! - watch latency: the time from the server recording a change to the watched target's result
//!   reflecting it, over 1,000 changes: median and p99;
//! - the service's latency: the release `gitdrift serve` watching the same target, with its
//!   default debounce, and the time from the server recording a change to `/api/v1/targets`
//!   counting it (each change drifts one more Deployment), over 300 changes, with a pause longer
//!   than the debounce every 50 so that full scans run while changes keep coming: median and
//!   p99, and `/metrics` checked to agree at the end.
//!
//! `cargo bench --bench kube`; `GITDRIFT_BENCH_KUBE_OBJECTS=20000 cargo bench --bench kube`;
//! `GITDRIFT_BENCH_SERVE_EVENTS` for the service's changes (0: skip). The service's resident
//! memory (now and at its peak) is printed after its first scan and at the end.

mod common;

#[path = "../tests/support/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../tests/support/kube_api.rs"]
#[allow(dead_code)]
mod kube_api;
#[path = "../tests/support/pki.rs"]
mod pki;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{OBJECTS_PER_APP, generated, measure_from_big_parent};
use kube_api::KubeApi;
use serde_json::{Value, json};

const TOKEN: &str = "bench-token";

fn main() {
    let objects: usize = std::env::var("GITDRIFT_BENCH_KUBE_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let events: usize = std::env::var("GITDRIFT_BENCH_WATCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let apps = objects.div_ceil(OBJECTS_PER_APP);
    let root = generated(apps);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let api = KubeApi::start();
    api.require_token(TOKEN);
    let mut live = Vec::new();
    for file in std::fs::read_dir(root.join("live")).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        let list: Value = serde_json::from_str(&text).unwrap();
        live.extend(list["items"].as_array().unwrap().iter().cloned());
    }
    let served = live.len();
    api.load(live);
    api.compact();
    let kubeconfig = root.join("kubeconfig");
    api.kubeconfig(&kubeconfig, "bench", TOKEN);
    let config = root.join("gitdrift-kube.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  - name: bench\n    repo: ./repo\n    paths: [\"apps/**\"]\n    target: bench\ntargets:\n  - name: bench\n    kubernetes:\n      context: bench\n      kubeconfig: {}\n      page_size: 500\n      qps: 1000\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    println!(
        "kube bench: {} declared, {served} served by the test API server, pages of 500, {cores} cores",
        apps * OBJECTS_PER_APP
    );
    let report_path = root.join("report-kube.json");
    let (seconds, peak_kib, code) = measure_from_big_parent(
        Path::new(env!("CARGO_BIN_EXE_gitdrift")),
        &[
            "scan",
            "--format",
            "json",
            "--output",
            report_path.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        &[("GITDRIFT_CACHE_DIR", &root.join("cache"))],
    );
    assert_eq!(
        code, 1,
        "the generated data holds drift: exit code 1 expected"
    );
    let lists = api
        .journal()
        .iter()
        .filter(|j| j.query.contains("limit=500"))
        .count();
    println!(
        "full scan: {seconds:.2} s wall, {:.0} objects/s, peak RSS {:.0} MiB, {lists} list pages",
        (apps * OBJECTS_PER_APP) as f64 / seconds,
        peak_kib as f64 / 1024.0
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("report-kube.json")).unwrap())
            .unwrap();
    println!("summary: {}", report["summary"]);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let latencies = runtime.block_on(watch_latency(&api, &config, apps, events));
    let mut slowest: Vec<(usize, Duration)> = latencies.iter().copied().enumerate().collect();
    slowest.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
    let slowest: Vec<String> = slowest
        .iter()
        .take(3)
        .map(|(i, d)| format!("#{i} {:.1} ms", d.as_secs_f64() * 1000.0))
        .collect();
    println!("watch: slowest changes {}", slowest.join(", "));
    println!("watch: {}", latency_summary(&latencies));
    let serve_events: usize = std::env::var("GITDRIFT_BENCH_SERVE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    if serve_events > 0 {
        let latencies = serve_latency(
            &api,
            &root,
            &kubeconfig,
            (apps, events, served),
            serve_events,
        );
        println!(
            "serve: from the API server to /api/v1/targets: {}",
            latency_summary(&latencies)
        );
    }
    let writes = api.journal().iter().filter(|j| j.method != "GET").count();
    assert_eq!(writes, 0, "only GETs reached the API server");
}

/// Prints the service's resident memory now and at its peak (`/proc/PID/status`), and per
/// watched object.
fn print_memory(when: &str, pid: u32, watched: usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0)
    };
    let (rss, peak) = (kib("VmRSS:"), kib("VmHWM:"));
    assert!(
        rss > 0.0,
        "no memory figures for the service (/proc/{pid}/status)"
    );
    println!(
        "serve memory {when}: RSS {:.0} MiB (peak over its life {:.0} MiB), {:.0} bytes per watched object ({watched} objects, with their declarations)",
        rss / 1024.0,
        peak / 1024.0,
        rss * 1024.0 / watched as f64
    );
}

/// "N changes, median …, p99 …, max …" of a series of latencies.
fn latency_summary(latencies: &[Duration]) -> String {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let pick = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    format!(
        "{} changes, median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        sorted.len(),
        pick(0.5).as_secs_f64() * 1000.0,
        pick(0.99).as_secs_f64() * 1000.0,
        sorted.last().unwrap().as_secs_f64() * 1000.0
    )
}

/// The bench target's status as `/api/v1/targets` answers.
fn bench_status(port: u16) -> Option<Value> {
    let answer = http::request(port, "GET", "/api/v1/targets", &[], b"").ok()?;
    let targets: Value = serde_json::from_str(&answer.body).ok()?;
    targets["targets"]
        .as_array()?
        .iter()
        .find(|t| t["name"] == "bench")
        .cloned()
}

/// Runs the release `gitdrift serve` on the bench target and times each change from the API
/// server to the service's answer: each drifts the replicas of one more Deployment that was in
/// sync, so `/api/v1/targets` must count one more drifted resource.
fn serve_latency(
    api: &KubeApi,
    root: &Path,
    kubeconfig: &Path,
    (apps, touched, watched): (usize, usize, usize),
    events: usize,
) -> Vec<Duration> {
    let config = root.join("gitdrift-kube-serve.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  - name: bench\n    repo: ./repo\n    paths: [\"apps/**\"]\n    target: bench\ntargets:\n  - name: bench\n    kubernetes:\n      context: bench\n      kubeconfig: {}\n      page_size: 500\n      qps: 1000\nserve:\n  interval: 1h\n  fetch_interval: 1h\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    let port = common::free_port();
    let data = root.join("serve-data");
    let _ = std::fs::remove_dir_all(&data);
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gitdrift"))
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("GITDRIFT_CACHE_DIR", root.join("cache"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start gitdrift serve");
    let first = loop {
        if let Some(status) = bench_status(port)
            && status["last_scan_id"].is_i64()
        {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no first scan within 10 minutes"
        );
        if let Ok(Some(code)) = child.try_wait() {
            panic!("gitdrift serve exited: {code}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "serve: watching and first scan in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    print_memory("after the first scan", child.id(), watched);
    let base = first["summary"]["drifted"].as_u64().unwrap();
    // Deployments in sync in the generated data (see `common::generated`) and not changed by
    // the watch measurement (its first `touched` of the same sequence), each used once.
    let in_sync: Vec<usize> = (touched..apps)
        .map(|i| (i * 7919) % apps)
        .filter(|app| app % 50 != 7)
        .take(events)
        .collect();
    assert_eq!(in_sync.len(), events, "enough Deployments in sync");
    let mut latencies = Vec::with_capacity(events);
    let first_scan = first["last_scan_id"].as_i64().unwrap();
    for (i, app) in in_sync.into_iter().enumerate() {
        if i % 50 == 49 {
            // Quiet for longer than the debounce (2 s): a full scan of the target starts, and
            // the next changes are published while it runs.
            std::thread::sleep(Duration::from_millis(2300));
        }
        let ns = format!("team-{:04}", app / common::APPS_PER_NAMESPACE);
        let name = format!("svc-{app:06}");
        let mut object: Value =
            serde_json::from_str(&common::live_deployment(&ns, &name, 2, false)).unwrap();
        object["spec"]["replicas"] = json!(100 + i);
        let want = base + i as u64 + 1;
        let sent = Instant::now();
        api.apply(object);
        loop {
            let drifted = bench_status(port).and_then(|s| s["summary"]["drifted"].as_u64());
            if drifted == Some(want) {
                break;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(120),
                "change {i} not counted within 2 minutes (drifted {drifted:?}, want {want})"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        latencies.push(sent.elapsed());
    }
    let scans = bench_status(port)
        .and_then(|s| s["last_scan_id"].as_i64())
        .unwrap()
        - first_scan;
    println!(
        "serve: {scans} full scans stored meanwhile (debounced), changes published during them"
    );
    let metrics = http::request(port, "GET", "/metrics", &[], b"")
        .unwrap()
        .body;
    let drifted: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("gitdrift_resources{") && l.contains(r#"status="drifted""#))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(
        drifted as u64,
        base + events as u64,
        "/metrics counts every change"
    );
    print_memory("at the end", child.id(), watched);
    let _ = child.kill();
    let _ = child.wait();
    latencies
}

async fn watch_latency(api: &KubeApi, config: &Path, apps: usize, events: usize) -> Vec<Duration> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config =
        Arc::new(gitdrift::config::Config::load(config, &gitdrift::live::known()).unwrap());
    let cache = config.path.parent().unwrap().join("cache");
    let declared: Vec<gitdrift::model::Declared> = config
        .sources
        .iter()
        .flat_map(|s| gitdrift::desired::read_source(&config, s, &cache).objects)
        .collect();
    let started = Instant::now();
    let watch = gitdrift::judge::watch::WatchedTarget::start(
        config.clone(),
        std::sync::Arc::new(gitdrift::metrics::Metrics::new()),
        "bench",
        declared,
    )
    .await
    .unwrap();
    assert!(
        watch.ready(Duration::from_secs(300)).await,
        "watch caches filled"
    );
    println!(
        "watch: caches filled in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut updates = watch.updates();
    let mut latencies = Vec::with_capacity(events);
    for i in 0..events {
        let app = (i * 7919) % apps;
        let ns = format!("team-{:04}", app / common::APPS_PER_NAMESPACE);
        let name = format!("svc-{app:06}");
        let replicas = 100 + i;
        let mut object: Value =
            serde_json::from_str(&common::live_deployment(&ns, &name, 2, false)).unwrap();
        object["spec"]["replicas"] = json!(replicas);
        let key = gitdrift::model::ResourceKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some(ns),
            name,
        };
        let sent = Instant::now();
        api.apply(object);
        loop {
            let reflected = watch.resource(&key).is_some_and(|r| {
                r.drifts
                    .iter()
                    .any(|d| d.path == "/spec/replicas" && d.live == json!(replicas))
            });
            if reflected {
                break;
            }
            tokio::time::timeout(Duration::from_secs(10), updates.changed())
                .await
                .expect("the change reached the watch")
                .unwrap();
        }
        latencies.push(sent.elapsed());
    }
    latencies
}
