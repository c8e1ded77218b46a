//! gitdrift beside Cloud Custodian on the very same EC2 estate. The shared peer benchmark
//! (`peer_c7n.py`: `GITDRIFT_PEER_SCRIPT`, by default `../shared/bench/peer_c7n.py` beside the
//! project) seeds moto's EC2 server, measures c7n's four read-only checks (admin ports open to
//! the world, IMDSv2 not required, unencrypted volumes, default groups with rules) and leaves the
//! seeded server running; then the release gitdrift scans that server with an `aws:` target
//! limited to instances, security groups and volumes and only the `aws-ec2` pack, once untimed
//! and then three times (`GITDRIFT_PEER_RUNS`; the peer times c7n three times, without a
//! warm-up run):
//! its CPU (user + system), wall time, peak RSS and API calls (moto's recording), and the ids its
//! four equivalent rules find, checked against the seed's. Both tools' figures are printed side
//! by side, with the CPU ratio. Not a timed test: figures go to BENCHMARKS.md.
//!
//! `cargo bench --bench aws_peer`. `GITDRIFT_PEER_SCALE` (default 1000 instances),
//! `GITDRIFT_PEER_RUNS` (default 3), `GITDRIFT_PEER_WORKDIR` (default under the target folder:
//! a server left there by an earlier run with `GITDRIFT_PEER_KEEP=1` is measured again, so that
//! builds of gitdrift can be compared on one estate).

mod common;

#[path = "../tests/support/http.rs"]
#[allow(dead_code)]
mod http;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;

/// Each check of the peer's policy and the gitdrift rules that make it.
const CHECKS: [(&str, &str, &[&str]); 4] = [
    (
        "a",
        "sg-admin-ports-open-to-world",
        &["aws-ec2-sg-admin-ports-ipv4", "aws-ec2-sg-admin-ports-ipv6"],
    ),
    ("b", "ec2-imdsv2-not-required", &["aws-ec2-imdsv2-required"]),
    ("c", "ebs-unencrypted", &["aws-ec2-volume-encrypted"]),
    (
        "d",
        "default-sg-allows-traffic",
        &["aws-ec2-default-sg-restricts-all"],
    ),
];

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// The moto server's port, from its URL.
fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}

/// A server the workdir's last run left running, if it still answers.
fn running_server(workdir: &Path) -> Option<(String, u32)> {
    let server = read_json(&workdir.join("server.json"))?;
    read_json(&workdir.join("summary.json"))?;
    let url = server["url"].as_str()?.to_string();
    let pid = server["pid"].as_u64()? as u32;
    let answer = http::request(port_of(&url), "GET", "/moto-api/", &[], b"").ok()?;
    (answer.status == 200).then_some((url, pid))
}

/// The API calls in a moto recording, by `Action`.
fn calls(recording: &str) -> BTreeMap<String, usize> {
    let mut calls = BTreeMap::new();
    for line in recording.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line).expect("a recording line is JSON");
        let mut body = entry["body"].as_str().unwrap_or("").to_string();
        if entry["body_encoded"].as_bool() == Some(true) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&body)
                .unwrap_or_default();
            body = String::from_utf8_lossy(&bytes).into_owned();
        }
        let action = form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| format!("({} {})", entry["method"], entry["url"]));
        *calls.entry(action).or_default() += 1;
    }
    calls
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let scale = env_or("GITDRIFT_PEER_SCALE", 1000);
    let runs = env_or("GITDRIFT_PEER_RUNS", 3).max(1);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = std::env::var_os("GITDRIFT_PEER_SCRIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/bench/peer_c7n.py"));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let workdir = std::env::var_os("GITDRIFT_PEER_WORKDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir.join(format!("bench-data/peer-c7n-s{scale}")));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    // The peer's run, or the server an earlier one left.
    let (url, pid) = match running_server(&workdir) {
        Some(server) => {
            println!(
                "aws_peer: measuring on the estate an earlier run left at {}",
                server.0
            );
            server
        }
        None => {
            assert!(
                script.exists(),
                "the peer benchmark {} is missing: set GITDRIFT_PEER_SCRIPT",
                script.display()
            );
            let _ = std::fs::remove_dir_all(&workdir);
            std::fs::create_dir_all(&workdir).unwrap();
            let status = Command::new("python3")
                .arg(&script)
                .args(["--scale", &scale.to_string(), "--keep-server", "--workdir"])
                .arg(&workdir)
                .status()
                .expect("run the peer benchmark");
            assert!(status.success(), "the peer benchmark failed: {status}");
            running_server(&workdir).expect("the peer benchmark left its server running")
        }
    };
    let port = port_of(&url);
    let summary = read_json(&workdir.join("summary.json")).unwrap();
    let expected = read_json(&workdir.join("expected.json")).unwrap();
    assert_eq!(
        summary["ok"],
        true,
        "the peer's own run failed (a mismatch, an exit code or a write): see {}",
        workdir.display()
    );
    let scale = expected["scale"].as_u64().unwrap();

    // gitdrift's configuration: every resource of the three types is unmanaged (git declares
    // nothing), and the live side is audited with the aws-ec2 pack alone.
    let repo = workdir.join("gitdrift-repo");
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(repo.join("aws")).unwrap();
    std::fs::write(repo.join("aws/README.md"), "nothing declared\n").unwrap();
    common::git(&repo, &["init", "-q", "-b", "main"]);
    common::git(&repo, &["add", "-A"]);
    common::git(&repo, &["commit", "-q", "-m", "empty estate"]);
    let config = workdir.join("gitdrift.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  - name: infra\n    repo: ./gitdrift-repo\n    paths: [\"aws/**\"]\n    target: peer\n    region: eu-west-1\ntargets:\n  - name: peer\n    aws:\n      regions: [eu-west-1]\n      endpoint_url: {url}\n      types: [AWS::EC2::Instance, AWS::EC2::SecurityGroup, AWS::EC2::Volume]\naudit:\n  packs: [aws-ec2]\n"
        ),
    )
    .unwrap();
    let home = workdir.join("gitdrift-home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("config"), "").unwrap();
    std::fs::write(home.join("credentials"), "").unwrap();
    let report_path = workdir.join("gitdrift-report.json");
    let post = |path: &str| {
        let answer = http::request(port, "POST", path, &[], b"").expect("moto answers");
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    };

    // One untimed run warms moto's caches, as c7n's first run did for it.
    let mut measured = Vec::new();
    for round in 0..=runs {
        post("/moto-api/recorder/reset-recording");
        post("/moto-api/recorder/start-recording");
        let mut command = Command::new(env!("CARGO_BIN_EXE_gitdrift"));
        command
            .args(["scan", "--format", "json", "--output"])
            .arg(&report_path)
            .arg("--config")
            .arg(&config)
            .env("GITDRIFT_CACHE_DIR", workdir.join("gitdrift-cache"))
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", home.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
            .env("AWS_REGION", "eu-west-1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9");
        let common::Usage {
            wall,
            cpu,
            peak_kib,
            code,
        } = common::measure_usage(&mut command);
        post("/moto-api/recorder/stop-recording");
        let recording = http::request(
            port,
            "GET",
            "/moto-api/recorder/download-recording",
            &[],
            b"",
        )
        .expect("moto's recording")
        .body;
        let calls = calls(&recording);
        let writes: Vec<&String> = calls
            .keys()
            .filter(|a| {
                !a.starts_with("Describe") && !a.starts_with("Get") && !a.starts_with("List")
            })
            .collect();
        assert!(writes.is_empty(), "only reads reach the estate: {writes:?}");
        assert!(
            code == 0 || code == 1,
            "gitdrift scan exited {code}; see {}",
            report_path.display()
        );
        if round > 0 {
            measured.push((wall, cpu, peak_kib, calls));
        }
    }

    // What gitdrift found, per check, against the seed.
    let report = read_json(&report_path).expect("gitdrift's report");
    let mut found: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for finding in report["findings"].as_array().unwrap() {
        if finding["side"] != "live" {
            continue;
        }
        for (letter, _, rules) in CHECKS {
            if rules.iter().any(|r| finding["rule"] == *r) {
                found
                    .entry(letter)
                    .or_default()
                    .insert(finding["resource"]["name"].as_str().unwrap().to_string());
            }
        }
    }
    let c7n_runs = summary["runs"].as_array().unwrap();
    let c7n_found = &c7n_runs[0]["found"];
    println!();
    println!(
        "estate at scale {scale}: {} ({cores} cores)",
        expected["totals"]
    );
    println!(
        "{:<34} {:>7} {:>7} {:>9}",
        "check", "seeded", "c7n", "gitdrift"
    );
    let mut all_match = true;
    for (letter, policy, _) in CHECKS {
        let seeded: BTreeSet<String> = expected["checks"][letter]["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let ours = found.get(letter).cloned().unwrap_or_default();
        let theirs = c7n_found[letter].as_array().map_or(0, |a| a.len());
        let ok = ours == seeded;
        all_match &= ok;
        println!(
            "{letter} {policy:<32} {:>7} {:>7} {:>8}{}",
            seeded.len(),
            theirs,
            ours.len(),
            if ok { " " } else { "!" }
        );
    }
    let mut c7n_cpu: Vec<f64> = c7n_runs
        .iter()
        .map(|r| r["cpu_s"].as_f64().unwrap())
        .collect();
    let mut c7n_wall: Vec<f64> = c7n_runs
        .iter()
        .map(|r| r["wall_s"].as_f64().unwrap())
        .collect();
    let c7n_cpu = median(&mut c7n_cpu);
    let c7n_wall = median(&mut c7n_wall);
    let mut walls: Vec<f64> = measured.iter().map(|m| m.0).collect();
    let mut cpus: Vec<f64> = measured.iter().map(|m| m.1).collect();
    let mut peaks: Vec<f64> = measured.iter().map(|m| m.2 as f64 / 1024.0).collect();
    let cpu = median(&mut cpus);
    let calls_per_run: Vec<usize> = measured.iter().map(|m| m.3.values().sum()).collect();
    println!("{:<34} {:>12} {:>12}", "", "c7n", "gitdrift");
    println!(
        "{:<34} {:>12.2} {:>12.2}",
        "wall s (median)",
        c7n_wall,
        median(&mut walls)
    );
    println!("{:<34} {:>12.2} {:>12.2}", "CPU s (median)", c7n_cpu, cpu);
    println!(
        "{:<34} {:>12.0} {:>12.0}",
        "peak RSS MiB (median)",
        summary["max_rss_median_mib"].as_f64().unwrap_or(0.0),
        median(&mut peaks)
    );
    println!(
        "{:<34} {:>12} {:>12}",
        "API calls per run", summary["api_calls"], calls_per_run[0]
    );
    println!(
        "gitdrift calls by action: {:?}; CPU s per run {:?}",
        measured[0].3,
        measured
            .iter()
            .map(|m| format!("{:.2}", m.1))
            .collect::<Vec<_>>()
    );
    println!(
        "aws_peer: gitdrift CPU / c7n CPU = {:.3} (target at most 0.200); ids {}",
        cpu / c7n_cpu,
        if all_match {
            "= seeded for all four checks"
        } else {
            "MISMATCH ('!' above)"
        }
    );
    if std::env::var("GITDRIFT_PEER_KEEP").as_deref() == Ok("1") {
        println!("moto kept running at {url} (pid {pid}) for the next run");
    } else {
        // SAFETY: signals the moto server the peer benchmark started and left for us.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
        let _ = std::fs::remove_file(workdir.join("server.json"));
    }
    assert!(all_match, "gitdrift's findings differ from the seed");
}
