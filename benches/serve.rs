//! The service under load: the release `gitdrift serve` scans a 50,000-object target back to
//! back while `/metrics` is requested 200 times a second, and the latency of those requests is
//! recorded (p50, p99, max), with the share of them answered while a scan ran. Then: the
//! resident size of an idle service (the bundled demo), and the history's cost, the bytes and
//! the write time per stored scan of 10,000 resources (in process, through the library).
//! Not a timed test: figures go to BENCHMARKS.md.
//!
//! `cargo bench --bench serve`; `GITDRIFT_BENCH_OBJECTS=10000` for a smaller target,
//! `GITDRIFT_BENCH_SECONDS=30` for the load's length.

mod common;

#[path = "../tests/support/http.rs"]
#[allow(dead_code)]
mod http;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{OBJECTS_PER_APP, free_port, generated};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Starts the release `gitdrift serve`; waits until it is ready.
fn serve(config: &Path, data: &Path, cache: &Path) -> (Child, u16) {
    let port = free_port();
    let _ = std::fs::remove_dir_all(data);
    let mut child = Command::new(env!("CARGO_BIN_EXE_gitdrift"))
        .args(["serve", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("GITDRIFT_CACHE_DIR", cache)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gitdrift serve");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Ok(answer) = http::request(port, "GET", "/readyz", &[], b"")
            && answer.status == 200
        {
            return (child, port);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("gitdrift serve exited: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "serve not ready within 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn stop(mut child: Child) {
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let _ = child.wait();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let objects = env_or("GITDRIFT_BENCH_OBJECTS", 50_000);
    let seconds = env_or("GITDRIFT_BENCH_SECONDS", 30);
    let apps = objects.div_ceil(OBJECTS_PER_APP);
    let root = generated(apps);
    println!(
        "serve bench: {} declared objects, {cores} cores",
        apps * OBJECTS_PER_APP
    );

    // 1. /metrics at 200 requests a second while the target is scanned back to back.
    let config = root.join("gitdrift-serve.yaml");
    let base = std::fs::read_to_string(root.join("gitdrift.yaml")).unwrap();
    std::fs::write(
        &config,
        format!(
            "{base}serve:\n  interval: 1s\n  jitter: 0%\n  fetch_interval: 1h\n  retention:\n    max_count: 5\n"
        ),
    )
    .unwrap();
    let started = Instant::now();
    let (child, port) = serve(&config, &root.join("serve-data"), &root.join("cache"));
    println!(
        "ready (first scan done) after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let scanning = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let scanning = Arc::clone(&scanning);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                if let Ok(answer) = http::request(port, "GET", "/api/v1/targets", &[], b"") {
                    let busy = answer.body.contains("\"scanning\": true");
                    scanning.store(busy, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let period = Duration::from_millis(5);
    let mut latencies = Vec::new();
    let mut during_scan = Vec::new();
    let mut failures = 0;
    let start = Instant::now();
    let mut next = start;
    while start.elapsed() < Duration::from_secs(seconds as u64) {
        let now = Instant::now();
        if now < next {
            std::thread::sleep(next - now);
        }
        next += period;
        let busy = scanning.load(Ordering::SeqCst);
        let sent = Instant::now();
        match http::request(port, "GET", "/metrics", &[], b"") {
            Ok(answer) if answer.status == 200 => {
                let took = sent.elapsed();
                latencies.push(took);
                if busy {
                    during_scan.push(took);
                }
            }
            _ => failures += 1,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    done.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    let loaded_rss = rss_kib(child.id());
    let scans = http::request(port, "GET", "/metrics", &[], b"")
        .map(|a| {
            a.body
                .lines()
                .find_map(|l| {
                    l.strip_prefix("gitdrift_scans_total{result=\"ok\",target=\"bench\"} ")
                        .map(str::to_string)
                })
                .unwrap_or_default()
        })
        .unwrap_or_default();
    stop(child);
    latencies.sort();
    during_scan.sort();
    println!(
        "/metrics: {} requests in {elapsed:.1} s ({:.0}/s), {failures} failed; p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    if !during_scan.is_empty() {
        println!(
            "  while a scan ran: {} requests ({:.0} %); p50 {:.2?}, p99 {:.2?}, max {:.2?}",
            during_scan.len(),
            100.0 * during_scan.len() as f64 / latencies.len().max(1) as f64,
            percentile(&during_scan, 0.5),
            percentile(&during_scan, 0.99),
            during_scan.last().copied().unwrap_or_default()
        );
    }
    println!(
        "  scans completed: {scans}; service RSS after the load: {:.0} MiB",
        loaded_rss as f64 / 1024.0
    );

    // 2. An idle service: the bundled demo, scanned once, then left alone.
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/gitdrift.yaml");
    let (child, _) = serve(&demo, &root.join("idle-data"), &root.join("cache"));
    std::thread::sleep(Duration::from_secs(5));
    println!(
        "idle service (demo, 2 targets): RSS {:.1} MiB",
        rss_kib(child.id()) as f64 / 1024.0
    );
    stop(child);

    // 3. The history: bytes and write time per stored scan of 10,000 resources.
    let small = generated(10_000usize.div_ceil(OBJECTS_PER_APP));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = Arc::new(
        gitdrift::config::Config::load(&small.join("gitdrift.yaml"), &gitdrift::live::known())
            .unwrap(),
    );
    let options = gitdrift::scan::ScanOptions {
        cache_dir: small.join("cache"),
        targets: Vec::new(),
    };
    let context = gitdrift::scan::Context::new(config, Arc::new(gitdrift::metrics::Metrics::new()));
    let report = runtime.block_on(gitdrift::scan::run(&context, &options));
    let dir = tempfile::tempdir().unwrap();
    let store = gitdrift::store::Store::open(dir.path()).unwrap();
    let writes = 10;
    let mut times = Vec::new();
    for _ in 0..writes {
        let t = Instant::now();
        store.save(&report).unwrap();
        times.push(t.elapsed());
    }
    store.checkpoint().unwrap();
    times.sort();
    let size = std::fs::metadata(store.path())
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "history: {} resources, {} findings a scan; {:.2} MiB a stored scan; write median {:.1?}, max {:.1?}",
        report.resources.len(),
        report.findings.len(),
        size as f64 / writes as f64 / 1024.0 / 1024.0,
        percentile(&times, 0.5),
        times.last().copied().unwrap_or_default()
    );
}
