//! Compliance rules at scale: N workload objects (Deployments, default 10,000) declared in git
//! and read live from a snapshot, every built-in rule on both sides (each object evaluated on
//! its own, the engine cloned once per worker thread). The release `gitdrift scan` runs with the
//! audit and without it; the difference is the audit's cost. Wall time and peak RSS.
//!
//! `cargo bench --bench audit`; `GITDRIFT_BENCH_WORKLOADS=2000 cargo bench --bench audit`.

mod common;

use std::path::Path;

use common::{desired_deployment, git, live_deployment, measure_from_big_parent};
use serde_json::Value;

fn main() {
    let workloads: usize = std::env::var("GITDRIFT_BENCH_WORKLOADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let root = std::env::temp_dir().join(format!("gitdrift-bench-audit-{workloads}"));
    if !root.join("ready").exists() {
        generate(&root, workloads);
        std::fs::write(root.join("ready"), "").unwrap();
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "audit bench: {workloads} Deployments declared + {workloads} live, every built-in rule on both sides, {cores} cores"
    );
    let mut figures = Vec::new();
    for (label, config) in [
        ("with audit", "gitdrift.yaml"),
        ("without", "gitdrift-off.yaml"),
    ] {
        let mut runs = Vec::new();
        for _ in 0..3 {
            let report = root.join("report.json");
            // Measured through a helper: this process holds the last report parsed, and Linux
            // would charge that to the child's peak.
            let (seconds, peak_kib, code) = measure_from_big_parent(
                Path::new(env!("CARGO_BIN_EXE_gitdrift")),
                &[
                    "scan",
                    "--format",
                    "json",
                    "--output",
                    report.to_str().unwrap(),
                    "--config",
                    root.join(config).to_str().unwrap(),
                ],
                &[("GITDRIFT_CACHE_DIR", &root.join("cache"))],
            );
            assert!(code <= 1, "scan failed with exit code {code}");
            let report: Value =
                serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
            assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
            runs.push((
                seconds,
                peak_kib,
                report["findings"].as_array().map_or(0, Vec::len),
                report["compliance"]["rules"].as_array().map_or(0, Vec::len),
            ));
        }
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (median, _, findings, rules) = runs[1];
        let peak = runs.iter().map(|r| r.1).max().unwrap_or(0);
        println!(
            "{label}: median {median:.2} s wall (of {:?}), max peak RSS {:.0} MiB, {findings} findings, {rules} rules applied",
            runs.iter()
                .map(|r| format!("{:.2}", r.0))
                .collect::<Vec<_>>(),
            peak as f64 / 1024.0
        );
        figures.push(median);
    }
    println!(
        "audit cost: {:.2} s for {workloads} workloads on both sides",
        figures[0] - figures[1],
    );
}

/// 10,000 Deployments as git declares them (8 to a file) and as an API server returns them
/// (JSON lists); every 100th runs privileged, live only.
fn generate(root: &Path, workloads: usize) {
    let repo = root.join("repo");
    let live = root.join("live");
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(repo.join("apps")).unwrap();
    std::fs::create_dir_all(&live).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    let mut docs = Vec::new();
    let mut items = Vec::new();
    for n in 0..workloads {
        let ns = format!("team-{:03}", n / 100);
        let name = format!("app-{n:06}");
        docs.push(desired_deployment(&ns, &name, 2));
        let mut item = live_deployment(&ns, &name, 2, false);
        if n % 100 == 0 {
            item = item.replace(
                "\"imagePullPolicy\":\"IfNotPresent\",",
                "\"imagePullPolicy\":\"IfNotPresent\",\"securityContext\":{\"privileged\":true},",
            );
        }
        items.push(item);
        if docs.len() == 8 || n + 1 == workloads {
            std::fs::write(
                repo.join(format!("apps/{:05}.yaml", n / 8)),
                docs.join("---\n"),
            )
            .unwrap();
            docs.clear();
        }
        if items.len() == 2000 || n + 1 == workloads {
            std::fs::write(
                live.join(format!("{:05}.json", n / 2000)),
                format!(
                    "{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n{}\n]}}\n",
                    items.join(",\n")
                ),
            )
            .unwrap();
            items.clear();
        }
    }
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "generated"]);
    let base = "sources:\n  - name: bench\n    repo: ./repo\n    paths: [\"apps/**\"]\n    target: bench\ntargets:\n  - name: bench\n    snapshot: ./live\n";
    std::fs::write(root.join("gitdrift.yaml"), base).unwrap();
    std::fs::write(
        root.join("gitdrift-off.yaml"),
        format!("{base}audit:\n  enabled: false\n"),
    )
    .unwrap();
}
