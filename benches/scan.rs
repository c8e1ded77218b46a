//! Scan throughput and memory: generates N realistic objects (Deployments, Services, ConfigMaps,
//! ServiceAccounts, spread over namespaces) committed to a git repository as the desired state,
//! and the same objects as an API server returns them (defaults, managedFields, status, some
//! drift) as a JSON snapshot; then runs the release `gitdrift scan` on them and prints wall time,
//! objects per second and peak RSS. Not a timed test: figures go to BENCHMARKS.md.
//!
//! `cargo bench --bench scan` (N = 100000); `GITDRIFT_BENCH_OBJECTS=20000 cargo bench --bench scan`;
//! `GITDRIFT_BENCH_AUDIT=off` scans with the compliance audit turned off (drift only);
//! `GITDRIFT_BENCH_SHAPES=unique` gives every Deployment its own container name, so that no two
//! share a Pod Security evaluation (the audit's worst case);
//! `GITDRIFT_BENCH_BINARY=PATH` measures another build (a baseline) on the same data.

mod common;

use std::path::Path;
use std::process::Command;

use common::{OBJECTS_PER_APP, generated, measure};

fn main() {
    let objects: usize = std::env::var("GITDRIFT_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runs: usize = std::env::var("GITDRIFT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let apps = objects.div_ceil(OBJECTS_PER_APP);
    let root = generated(apps);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "scan bench: {} declared + {} live objects, {cores} cores",
        apps * OBJECTS_PER_APP,
        apps * OBJECTS_PER_APP + apps / 50
    );
    let mut results = Vec::new();
    for run in 0..runs {
        let (seconds, peak_kib, code) = scan(&root);
        assert_eq!(
            code, 1,
            "the generated data holds drift: exit code 1 expected"
        );
        let rate = (apps * OBJECTS_PER_APP) as f64 / seconds;
        println!(
            "run {}: {seconds:.2} s wall, {rate:.0} objects/s, peak RSS {:.0} MiB",
            run + 1,
            peak_kib as f64 / 1024.0
        );
        results.push((seconds, peak_kib));
    }
    results.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (median, _) = results[results.len() / 2];
    let peak = results.iter().map(|r| r.1).max().unwrap_or(0);
    println!(
        "median {median:.2} s, {:.0} objects/s, max peak RSS {:.0} MiB",
        (apps * OBJECTS_PER_APP) as f64 / median,
        peak as f64 / 1024.0
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("report.json")).unwrap()).unwrap();
    println!("summary: {}", report["summary"]);
}

/// Runs the scan as a child process; returns wall seconds, peak RSS (KiB) and the exit code.
fn scan(root: &Path) -> (f64, i64, i32) {
    let mut config = root.join("gitdrift.yaml");
    if std::env::var("GITDRIFT_BENCH_AUDIT").as_deref() == Ok("off") {
        let text = std::fs::read_to_string(&config).unwrap();
        config = root.join("gitdrift-drift-only.yaml");
        std::fs::write(&config, format!("{text}audit:\n  enabled: false\n")).unwrap();
    }
    measure(
        Command::new(
            std::env::var_os("GITDRIFT_BENCH_BINARY")
                .unwrap_or_else(|| env!("CARGO_BIN_EXE_gitdrift").into()),
        )
        .args(["scan", "--format", "json", "--output"])
        .arg(root.join("report.json"))
        .arg("--config")
        .arg(&config)
        .env("GITDRIFT_CACHE_DIR", root.join("cache")),
    )
}
