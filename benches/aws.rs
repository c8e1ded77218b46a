//! An AWS target at scale, against moto's EC2 server (tests/support/moto.rs): 1,000 instances,
//! 300 security groups, 50 VPCs and 50 subnets in one region, declared in git with gitdrift's
//! own declarations (90 % of the instances; 1 % of them drifted). The release binary scans it:
//! wall time, peak RSS, and the number of API calls (moto's recording), the figure that matters
//! against AWS's rate limits.
//!
//! `cargo bench --bench aws`; `GITDRIFT_BENCH_AWS_INSTANCES=200 cargo bench --bench aws`.

mod common;

#[path = "../tests/support/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../tests/support/moto.rs"]
#[allow(dead_code)]
mod moto;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use common::{free_port, git, measure};
use serde_json::Value;

const VPCS: usize = 50;
const GROUPS_PER_VPC: usize = 6;

/// For moto.rs: the project's root folder.
fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn main() {
    let instances: usize = std::env::var("GITDRIFT_BENCH_AWS_INSTANCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let moto = moto::Moto::start();
    let seeded = std::time::Instant::now();
    let ids = moto.python(&format!(
        r#"
c = ec2()
per_vpc = -(-{instances} // {VPCS})
out["vpcs"], out["subnets"], out["groups"], out["instances"] = [], [], [], []
for v in range({VPCS}):
    vpc = c.create_vpc(CidrBlock=f"10.{{v}}.0.0/16", TagSpecifications=tag("vpc", Name=f"vpc-{{v}}"))["Vpc"]["VpcId"]
    subnet = c.create_subnet(VpcId=vpc, CidrBlock=f"10.{{v}}.1.0/24", TagSpecifications=tag("subnet", Name=f"subnet-{{v}}"))["Subnet"]["SubnetId"]
    out["vpcs"].append(vpc)
    out["subnets"].append(subnet)
    groups = []
    for g in range({GROUPS_PER_VPC}):
        sg = c.create_security_group(GroupName=f"app-{{v}}-{{g}}", Description="app", VpcId=vpc, TagSpecifications=tag("security-group", Name=f"app-{{v}}-{{g}}"))["GroupId"]
        c.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
            {{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{{"CidrIp": "10.0.0.0/8"}}, {{"CidrIp": "172.16.0.0/12"}}]}},
            {{"IpProtocol": "tcp", "FromPort": 8000 + g, "ToPort": 8000 + g, "IpRanges": [{{"CidrIp": f"10.{{v}}.0.0/16"}}]}}])
        groups.append(sg)
        out["groups"].append(sg)
    count = min(per_vpc, {instances} - len(out["instances"]))
    if count <= 0:
        continue
    made = c.run_instances(ImageId="ami-12c6146b", MinCount=count, MaxCount=count, InstanceType="t3.micro", SubnetId=subnet, SecurityGroupIds=[groups[0]])["Instances"]
    for n, i in enumerate(made):
        name = f"app-{{v}}-{{n}}"
        c.create_tags(Resources=[i["InstanceId"]], Tags=[{{"Key": "Name", "Value": name}}])
        out["instances"].append(name)
"#
    ));
    let seconds = seeded.elapsed().as_secs_f64();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("aws")).unwrap();
    let names = |key: &str| -> Vec<String> {
        ids[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for v in 0..VPCS {
        let file = files.entry(format!("aws/vpc-{v}.yaml")).or_default();
        declare(
            file,
            &format!("vpc-{v}"),
            "AWS::EC2::VPC",
            &format!("vpc-{v}"),
            &format!("CidrBlock: 10.{v}.0.0/16"),
        );
        declare(
            file,
            &format!("subnet-{v}"),
            "AWS::EC2::Subnet",
            &format!("subnet-{v}"),
            &format!("CidrBlock: 10.{v}.1.0/24\nMapPublicIpOnLaunch: false"),
        );
        for g in 0..GROUPS_PER_VPC {
            declare(
                file,
                &format!("app-{v}-{g}"),
                "AWS::EC2::SecurityGroup",
                &format!("app-{v}-{g}"),
                &format!(
                    "GroupName: app-{v}-{g}\nIpPermissions:\n  - {{IpProtocol: tcp, FromPort: {p}, ToPort: {p}, IpRanges: [{{CidrIp: 10.{v}.0.0/16}}]}}\n  - {{IpProtocol: tcp, FromPort: 443, ToPort: 443, IpRanges: [{{CidrIp: 172.16.0.0/12}}, {{CidrIp: 10.0.0.0/8}}]}}",
                    p = 8000 + g
                ),
            );
        }
    }
    let all = names("instances");
    let declared = all.len() * 9 / 10;
    for (n, name) in all.iter().take(declared).enumerate() {
        let v = name.split('-').nth(1).unwrap();
        let drifted = n % 100 == 0;
        declare(
            files.entry(format!("aws/vpc-{v}.yaml")).or_default(),
            name,
            "AWS::EC2::Instance",
            name,
            if drifted {
                "InstanceType: t3.small"
            } else {
                "InstanceType: t3.micro"
            },
        );
    }
    for (path, text) in &files {
        std::fs::write(repo.join(path), text).unwrap();
    }
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "declarations"]);
    let config = dir.path().join("gitdrift.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  - name: infra\n    repo: ./repo\n    paths: [\"aws/**\"]\n    target: prod\n    region: eu-west-1\ntargets:\n  - name: prod\n    aws:\n      regions: [eu-west-1]\n      endpoint_url: {}\n",
            moto.endpoint()
        ),
    )
    .unwrap();
    println!(
        "aws bench: {} instances ({declared} declared), {} security groups, {} VPCs and subnets in moto (seeded in {seconds:.1} s), {cores} cores",
        all.len(),
        names("groups").len(),
        names("vpcs").len(),
    );
    // Warm moto's lazy imports and caches with one untimed scan, then time three.
    let report = dir.path().join("report.json");
    let mut runs = Vec::new();
    for round in 0..4 {
        moto.start_recording();
        let mut command = Command::new(env!("CARGO_BIN_EXE_gitdrift"));
        command
            .args(["scan", "--format", "json", "--output"])
            .arg(&report)
            .arg("--config")
            .arg(&config)
            .env("GITDRIFT_CACHE_DIR", dir.path().join("cache"));
        for (k, v) in moto.env() {
            command.env(k, v);
        }
        let (seconds, peak_kib, code) = measure(&mut command);
        let calls = moto.assert_only_reads();
        assert_eq!(
            code, 1,
            "the generated data holds drift: exit code 1 expected"
        );
        if round > 0 {
            runs.push((seconds, peak_kib, calls.len()));
        }
        if round == 3 {
            let mut by_action: BTreeMap<&str, usize> = BTreeMap::new();
            for call in &calls {
                *by_action.entry(call.action.as_str()).or_default() += 1;
            }
            let mut line = String::new();
            for (action, n) in by_action {
                let _ = write!(line, "{action} {n}, ");
            }
            println!("calls: {}", line.trim_end_matches(", "));
        }
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (median, peak, calls) = runs[runs.len() / 2];
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    println!(
        "scan: median {median:.2} s wall (of {:?}), peak RSS {:.0} MiB, {calls} API calls moto saw (+ the front's canned GetEbsDefaultKmsKeyId)",
        runs.iter()
            .map(|r| format!("{:.2}", r.0))
            .collect::<Vec<_>>(),
        peak as f64 / 1024.0
    );
    println!("summary: {}", report["summary"]);
    let all_coverage = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "all")
        .cloned()
        .unwrap_or_default();
    println!("coverage: {all_coverage}");
}

fn declare(out: &mut String, name: &str, resource_type: &str, tag: &str, properties: &str) {
    let _ = write!(
        out,
        "---\napiVersion: gitdrift.dev/v1\nkind: AWSResource\nmetadata: {{name: {name}}}\nspec:\n  type: {resource_type}\n  match: {{tags: {{Name: {tag}}}}}\n  properties:\n"
    );
    for line in properties.lines() {
        let _ = writeln!(out, "    {line}");
    }
}
