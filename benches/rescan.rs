//! `serve`'s re-scans: the CPU of a scan that reuses the judgements and rule results of every
//! unchanged pair, against a full scan, on the `scan` bench's data (100,000 objects, audit on),
//! in process. The sources and the live state are read once, as `serve` holds them (sources
//! until their next commit, a watched target's objects in its cache); each scan then judges,
//! audits and assembles. A changed object is edited in memory (a Deployment scaled, a
//! ConfigMap's data changed, a label added elsewhere), a different 1 % each round.
//! Not a timed test: figures go to BENCHMARKS.md.
//!
//! `cargo bench --bench rescan`; `GITDRIFT_BENCH_OBJECTS=20000` for fewer objects,
//! `GITDRIFT_BENCH_CHANGED=5` for 5 % changed, `GITDRIFT_BENCH_RUNS=5` for more rounds,
//! `GITDRIFT_BENCH_RESCAN_ONLY=1` to skip the full scans (for profiling re-scans),
//! `GITDRIFT_BENCH_LOG=gitdrift=debug` to see each scan's phases.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use common::{OBJECTS_PER_APP, generated};
use gitdrift::live::{LiveProvider, LiveRead, Recorder};
use gitdrift::model::{Body, Object};
use gitdrift::scan::{self, Context, ScanOptions};
use serde_json::json;

// The allocator the gitdrift binary runs with: a re-scan's cost is mostly allocation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds this process has used (user and system, every thread).
fn cpu() -> f64 {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF and a valid out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// One scan's wall and CPU seconds, and its summary.
fn scan_once(
    runtime: &tokio::runtime::Runtime,
    context: &Context,
    options: &ScanOptions,
    sources: &[gitdrift::desired::SourceRead],
    lives: &HashMap<String, LiveRead>,
) -> (f64, f64, String) {
    // The inputs are copied before the clock starts: serve hands its own copies in.
    let sources = sources.to_vec();
    let lives = lives.clone();
    let (wall, cpu_before) = (Instant::now(), cpu());
    let report = runtime.block_on(scan::run_with(
        context,
        options,
        sources,
        lives,
        chrono::Utc::now(),
    ));
    let took = (wall.elapsed().as_secs_f64(), cpu() - cpu_before);
    let summary = format!(
        "{} resources, {} drifted, {} findings",
        report.summary.resources,
        report.summary.drifted,
        report.findings.len()
    );
    // Dropped outside the measurement, as serve keeps it published until the next.
    drop(report);
    (took.0, took.1, summary)
}

/// Changes one live object as a cluster would.
fn change(object: &mut Object, round: usize) {
    let mut value = object.value().into_owned();
    match object.kind.as_str() {
        "Deployment" => value["spec"]["replicas"] = json!(round % 7 + 10),
        "ConfigMap" => value["data"]["rescan"] = json!(format!("round {round}")),
        _ => value["metadata"]["labels"]["rescan"] = json!(format!("r{round}")),
    }
    object.body = Body::Tree(value);
    object.body.freeze();
}

fn main() {
    // `GITDRIFT_BENCH_LOG=debug` shows each scan's phases.
    if let Ok(filter) = std::env::var("GITDRIFT_BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let objects = env_or("GITDRIFT_BENCH_OBJECTS", 100_000);
    let percent = env_or("GITDRIFT_BENCH_CHANGED", 1).max(1);
    let runs = env_or("GITDRIFT_BENCH_RUNS", 3).max(1);
    let rescan_only = env_or("GITDRIFT_BENCH_RESCAN_ONLY", 0) == 1;
    let apps = objects.div_ceil(OBJECTS_PER_APP);
    let root = generated(apps);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = Arc::new(
        gitdrift::config::Config::load(&root.join("gitdrift.yaml"), &gitdrift::live::known())
            .unwrap(),
    );
    let recorder: Arc<dyn Recorder> = Arc::new(gitdrift::metrics::Metrics::new());
    let options = ScanOptions {
        cache_dir: root.join("cache"),
        targets: Vec::new(),
    };
    let (wall, before) = (Instant::now(), cpu());
    let wanted: HashSet<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    let permits = Arc::new(tokio::sync::Semaphore::new(2));
    let sources = runtime.block_on(scan::read_sources(
        &config,
        &wanted,
        &options.cache_dir,
        &permits,
    ));
    let read_sources = (wall.elapsed().as_secs_f64(), cpu() - before);
    let (wall, before) = (Instant::now(), cpu());
    let mut lives = HashMap::new();
    for target in &config.targets {
        let request = scan::live_request(&config, &target.name, &sources);
        let provider = LiveProvider::for_target(target, &recorder);
        let read = runtime.block_on(provider.read(&target.name, &request, &config.limits));
        lives.insert(target.name.clone(), read);
    }
    let read_lives = (wall.elapsed().as_secs_f64(), cpu() - before);
    let declared: usize = sources.iter().map(|s| s.objects.len()).sum();
    let live: usize = lives.values().map(|l| l.objects.len()).sum();
    println!(
        "rescan bench: {declared} declared + {live} live objects, {percent} % changed a round, {cores} cores"
    );
    println!(
        "read once (not part of a re-scan): sources {:.2} s wall, {:.2} s CPU; live {:.2} s wall, {:.2} s CPU",
        read_sources.0, read_sources.1, read_lives.0, read_lives.1
    );

    let full = Context::new(Arc::clone(&config), Arc::clone(&recorder));
    let remembering = full.clone().remembering();
    let memo = remembering.memo.clone().unwrap();
    let mut fulls = Vec::new();
    let mut rescans = Vec::new();
    // The first scan of the remembering context fills its memo.
    let (w, c, summary) = scan_once(&runtime, &remembering, &options, &sources, &lives);
    println!("first scan (memo empty): {w:.2} s wall, {c:.2} s CPU; {summary}");
    for round in 0..runs {
        // A different 1 % each round: every hundredth object, offset by the round.
        let step = 100 / percent;
        for read in lives.values_mut() {
            for (i, object) in read.objects.iter_mut().enumerate() {
                if i % step == round % step {
                    change(object, round);
                }
            }
        }
        if !rescan_only {
            let (w, c, summary) = scan_once(&runtime, &full, &options, &sources, &lives);
            println!(
                "round {}: full scan {w:.2} s wall, {c:.2} s CPU; {summary}",
                round + 1
            );
            fulls.push((w, c));
        }
        let (w, c, summary) = scan_once(&runtime, &remembering, &options, &sources, &lives);
        let reuse = memo.last("bench");
        println!(
            "round {}: re-scan   {w:.2} s wall, {c:.2} s CPU; {summary}; judged {} (reused {}), evaluated {} (reused {})",
            round + 1,
            reuse.judged,
            reuse.judgements_reused,
            reuse.evaluated,
            reuse.results_reused,
        );
        rescans.push((w, c));
    }
    let median = |v: &mut Vec<(f64, f64)>| {
        v.sort_by(|a, b| a.1.total_cmp(&b.1));
        v[v.len() / 2]
    };
    let (rw, rc) = median(&mut rescans);
    if fulls.is_empty() {
        println!("median: re-scan {rw:.2} s wall, {rc:.2} s CPU");
        return;
    }
    let (fw, fc) = median(&mut fulls);
    println!(
        "median: full scan {fw:.2} s wall, {fc:.2} s CPU; re-scan {rw:.2} s wall, {rc:.2} s CPU: {:.1} % of the full scan's CPU",
        100.0 * rc / fc
    );
    println!(
        "memo: {} judgements and rule results held",
        memo.last("bench").held
    );
}
