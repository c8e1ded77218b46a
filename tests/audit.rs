//! Compliance auditing end to end: the built binary runs the built-in and users' Rego rules on
//! what git declares and on a live snapshot, with waivers, thresholds, broken and slow rules,
//! and `gitdrift rules list|test`.

mod support;

use serde_json::{Value, json};
use support::{Repo, Run, gitdrift};

/// A restricted-compliant pod template, with `extra` spliced into the container.
fn deployment(name: &str, pod_extra: &str, container_extra: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      {pod_extra}securityContext:
        runAsNonRoot: true
        seccompProfile: {{type: RuntimeDefault}}
      containers:
        - name: app
          image: registry.example.com/{name}:1.0
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {{drop: [ALL]}}
            {container_extra}
"#
    )
}

/// A repository declaring `web` (clean) and `batch` (on the host network), and a snapshot where
/// someone made `web` privileged and scaled it by hand.
fn fixture(audit: &str) -> Repo {
    let repo = Repo::new();
    repo.write("apps/web.yaml", &deployment("web", "", ""));
    repo.write(
        "apps/batch.yaml",
        &deployment("batch", "hostNetwork: true\n      ", ""),
    );
    repo.commit("apps");
    repo.write(
        "live/web.yaml",
        &deployment("web", "", "privileged: true").replace("replicas: 1", "replicas: 2"),
    );
    repo.write(
        "live/batch.yaml",
        &deployment("batch", "hostNetwork: true\n      ", ""),
    );
    repo.write(
        "gitdrift.yaml",
        &format!(
            "sources:\n  - name: shop\n    repo: .\n    paths: [\"apps/**\"]\n    target: prod\ntargets:\n  - name: prod\n    snapshot: ./live\n{audit}"
        ),
    );
    repo
}

fn scan(repo: &Repo, extra: &[&str]) -> (Run, Value) {
    let mut args = vec!["scan", "--format", "json"];
    args.extend_from_slice(extra);
    let run = gitdrift(repo.path(), &args, &[]);
    let report = run.json();
    (run, report)
}

fn findings<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

#[test]
fn findings_on_both_sides_with_controls_and_fingerprints() {
    let repo = fixture("");
    let (run, report) = scan(&repo, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);

    let host = findings(&report, "pss-baseline-host-namespaces");
    assert_eq!(host.len(), 2, "git and live: {host:#?}");
    let desired = host.iter().find(|f| f["side"] == "desired").unwrap();
    assert_eq!(desired["severity"], "high");
    assert_eq!(desired["status"], "fail");
    assert_eq!(
        desired["message"],
        "hostNamespaces: pod sets hostNetwork=true"
    );
    assert_eq!(desired["source"]["file"], "apps/batch.yaml");
    assert_eq!(desired["source"]["line"], 1);
    assert_eq!(
        desired["resource"],
        json!({"target": "prod", "apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "batch"})
    );
    assert_eq!(
        desired["controls"]["pss"],
        json!(["baseline/hostNamespaces"])
    );
    let live = host.iter().find(|f| f["side"] == "live").unwrap();
    assert_eq!(live["live_only"], false, "git has it too");

    let privileged = findings(&report, "pss-baseline-privileged");
    assert_eq!(privileged.len(), 1, "{privileged:#?}");
    assert_eq!(privileged[0]["side"], "live");
    assert_eq!(
        privileged[0]["live_only"], true,
        "weakened by hand: git's web is not privileged"
    );
    assert_eq!(privileged[0]["source"]["file"], "apps/web.yaml");
    assert!(
        findings(&report, "pss-restricted-run-as-non-root").is_empty(),
        "both run as non-root"
    );

    let fingerprint = desired["fingerprint"].as_str().unwrap().to_string();
    assert_eq!(fingerprint.len(), 32);
    assert_ne!(fingerprint, live["fingerprint"]);
    let (_, again) = scan(&repo, &[]);
    let again = findings(&again, "pss-baseline-host-namespaces");
    assert!(
        again
            .iter()
            .any(|f| f["fingerprint"] == fingerprint.as_str()),
        "stable across scans"
    );

    let pss = report["compliance"]["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["framework"] == "pss")
        .unwrap();
    let control = |id: &str| {
        pss["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no control {id}"))
            .clone()
    };
    assert_eq!(control("baseline/privileged")["status"], "fail");
    assert_eq!(control("baseline/hostNamespaces")["failing"], 2);
    assert_eq!(control("restricted/runAsNonRoot")["status"], "pass");
    assert_eq!(pss["failing"], 2);
    assert_eq!(report["compliance"]["failing"]["high"], 3);

    let text = gitdrift(repo.path(), &["scan"], &[]);
    assert!(
        text.stdout.contains(
            "✗ pss-baseline-privileged  Deployment shop/web [prod] (live only: not in git)"
        ),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(
            "✗ pss-baseline-host-namespaces  Deployment shop/batch [prod] (git and live)"
        )
    );
}

#[test]
fn waivers_apply_expire_and_go_stale_in_one_place() {
    let today = chrono::Utc::now().date_naive();
    let soon = today + chrono::Duration::days(30);
    let yesterday = today - chrono::Duration::days(1);
    let repo = fixture(&format!(
        "audit:\n  waiver_files: [./waivers.yaml]\n  waivers:\n    - rule: pss-baseline-host-namespaces\n      namespace: \"sh*\"\n      name: batch\n      justification: batch needs the node's network for multicast; OPS-17\n      expires: {soon}\n      owner: team-shop\n    - rule: pss-baseline-privileged\n      name: web\n      justification: debugging, temporarily\n      expires: {yesterday}\n"
    ));
    repo.write(
        "waivers.yaml",
        &format!(
            "waivers:\n  - rule: pss-baseline-sysctls\n    justification: nothing uses sysctls yet\n    expires: {soon}\n"
        ),
    );
    let (run, report) = scan(&repo, &[]);
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    let host = findings(&report, "pss-baseline-host-namespaces");
    assert!(host.iter().all(|f| f["status"] == "waived"), "{host:#?}");
    assert_eq!(
        host[0]["waiver"]["justification"],
        "batch needs the node's network for multicast; OPS-17"
    );
    assert_eq!(host[0]["waiver"]["owner"], "team-shop");
    let privileged = findings(&report, "pss-baseline-privileged");
    assert_eq!(
        privileged[0]["status"], "fail",
        "an expired waiver no longer applies"
    );
    assert_eq!(run.code, 1, "the privileged finding fails");
    let waivers = report["compliance"]["waivers"].as_array().unwrap();
    let status: Vec<(&str, &str)> = waivers
        .iter()
        .map(|w| (w["rule"].as_str().unwrap(), w["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        status,
        vec![
            ("pss-baseline-host-namespaces", "active"),
            ("pss-baseline-privileged", "expired"),
            ("pss-baseline-sysctls", "stale"),
        ]
    );
    assert_eq!(waivers[0]["findings"], 2);
    assert_eq!(report["compliance"]["waived"], 2);
    let problems = report["problems"].to_string();
    assert!(problems.contains("expired on"), "{problems}");
    assert!(problems.contains("waiver for pss-baseline-sysctls matched no finding"));
    let stale = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["message"].as_str().unwrap().contains("sysctls"))
        .unwrap();
    assert!(stale["file"].as_str().unwrap().ends_with("waivers.yaml"));
    assert_eq!(stale["line"], 2);
}

#[test]
fn waivers_need_a_justification_and_a_near_expiry() {
    let far = chrono::Utc::now().date_naive() + chrono::Duration::days(400);
    let repo = fixture(&format!(
        "audit:\n  waivers:\n    - rule: pss-baseline-privileged\n      expires: {far}\n    - rule: pss-baseline-sysctls\n      justification: x\n      expires: someday\n"
    ));
    let run = gitdrift(repo.path(), &["scan"], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("waiver needs `justification`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(":12:") && run.stderr.contains("more than 365 days ahead"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("must be a date (YYYY-MM-DD), not `someday`")
    );
}

const NO_LATEST: &str = r#"# METADATA
# title: No :latest images
# description: Images must be pinned.
# custom:
#   id: team-no-latest
#   severity: critical
#   controls: {team: [images/pinned]}
#   remediation: Pin the image to a version.
#   kinds: [Deployment.apps]
package team.no_latest

import data.gitdrift.lib.kubernetes as k8s

deny contains msg if {
	some c in k8s.containers
	endswith(c.container.image, ":latest")
	msg := sprintf("%s uses a :latest image", [k8s.describe(c)])
}
"#;

const NO_LATEST_TEST: &str = r#"package team.no_latest_test

import data.team.no_latest

test_latest_is_denied if {
	count(no_latest.deny) == 1 with input as {"resource": {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x:latest"}]}}}}}
}
"#;

#[test]
fn a_users_pack_runs_where_a_target_selects_it() {
    let repo = fixture("audit:\n  rules: [./policies]\n");
    // Narrow the target to the team's pack.
    let config = std::fs::read_to_string(repo.path().join("gitdrift.yaml")).unwrap();
    repo.write(
        "gitdrift.yaml",
        &config.replace(
            "    snapshot: ./live\n",
            "    snapshot: ./live\n    audit:\n      packs: [team]\n",
        ),
    );
    repo.write("policies/team/no_latest.rego", NO_LATEST);
    repo.write("policies/team/no_latest_test.rego", NO_LATEST_TEST);
    repo.write(
        "apps/latest.yaml",
        &deployment("latest", "", "").replace("latest:1.0", "latest:latest"),
    );
    repo.commit("latest");
    let (run, report) = scan(&repo, &[]);
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    let rules: std::collections::BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        ["team-no-latest"].into_iter().collect(),
        "only the team's pack"
    );
    let finding = findings(&report, "team-no-latest")[0];
    assert_eq!(finding["severity"], "critical");
    assert_eq!(finding["source"]["file"], "apps/latest.yaml");
    assert_eq!(run.code, 1);

    // The configuration runs only the team's pack; a target may run more.
    repo.write(
        "gitdrift.yaml",
        &config
            .replace("audit:\n  rules: [./policies]\n", "audit:\n  rules: [./policies]\n  packs: [team]\n")
            .replace(
                "    snapshot: ./live\n",
                "    snapshot: ./live\n    audit:\n      packs: [team, pod-security-baseline]\n      exclude_rules: [pss-baseline-host-namespaces]\n",
            ),
    );
    let (_, wider) = scan(&repo, &[]);
    let rules: std::collections::BTreeSet<&str> = wider["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        ["pss-baseline-privileged", "team-no-latest"]
            .into_iter()
            .collect(),
        "{:#}",
        wider["problems"]
    );

    let list = gitdrift(repo.path(), &["rules", "list"], &[]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.contains("team-no-latest"));
    assert!(list.stdout.contains("pss-baseline-privileged"));

    let tested = gitdrift(repo.path(), &["rules", "test", "policies"], &[]);
    assert_eq!(tested.code, 0, "{}", tested.stdout);
    assert!(tested.stdout.contains("PASS: 1/1"), "{}", tested.stdout);
    repo.write(
        "policies/team/no_latest_test.rego",
        &NO_LATEST_TEST.replace("== 1", "== 2"),
    );
    let failed = gitdrift(repo.path(), &["rules", "test", "policies"], &[]);
    assert_eq!(failed.code, 1);
    assert!(
        failed.stdout.contains("FAIL test_latest_is_denied")
            && failed.stdout.contains("FAIL: 1/1 failed"),
        "{}",
        failed.stdout
    );
    let builtin = gitdrift(repo.path(), &["rules", "test"], &[]);
    assert_eq!(builtin.code, 0, "{}", builtin.stdout);
    assert!(builtin.stdout.contains("PASS: "));
}

#[test]
fn broken_and_slow_rules_are_errors_and_the_scan_goes_on() {
    let repo = fixture("audit:\n  rules: [./policies]\n  timeout: 200ms\n");
    repo.write("policies/team/no_latest.rego", NO_LATEST);
    repo.write(
        "policies/team/broken.rego",
        "# METADATA\n# custom:\n#   id: team-broken\n#   severity: low\n#   kinds: [Deployment.apps]\npackage team.broken\n\ndeny contains msg if {\n  msg := \n}\n",
    );
    repo.write(
        "policies/team/slow.rego",
        "# METADATA\n# custom:\n#   id: team-slow\n#   severity: low\n#   kinds: [Deployment.apps]\npackage team.slow\n\ndeny contains msg if {\n  n := numbers.range(1, 4000)\n  count([1 | some i in n; some j in n; i != j]) > 0\n  msg := \"slow\"\n}\n",
    );
    let (run, report) = scan(&repo, &[]);
    assert_eq!(run.code, 2, "rule errors are errors");
    let problems = report["problems"].as_array().unwrap();
    let broken = problems
        .iter()
        .find(|p| {
            p["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("broken.rego"))
        })
        .unwrap_or_else(|| panic!("{problems:#?}"));
    assert_eq!(broken["line"], 9);
    assert!(
        broken["message"]
            .as_str()
            .unwrap()
            .starts_with("rule file: ")
    );
    let slow = problems
        .iter()
        .find(|p| p["message"].as_str().unwrap().contains("team-slow"))
        .unwrap_or_else(|| panic!("{problems:#?}"));
    assert!(
        slow["message"]
            .as_str()
            .unwrap()
            .contains("longer than the rule time limit"),
        "{slow:#}"
    );
    assert!(slow["file"].as_str().unwrap().ends_with("slow.rego"));
    // The rest of the audit, and the drift judgement, went on.
    assert!(!findings(&report, "pss-baseline-privileged").is_empty());
    assert_eq!(report["summary"]["drifted"], 1);
}

#[test]
fn the_failure_threshold_is_configurable() {
    // Git and live agree; the only findings are medium (no seccomp profile).
    let repo = Repo::new();
    let plain =
        deployment("web", "", "").replace("        seccompProfile: {type: RuntimeDefault}\n", "");
    repo.write("apps/web.yaml", &plain);
    repo.commit("apps");
    repo.write("live/web.yaml", &plain);
    let config = "sources:\n  - name: shop\n    repo: .\n    paths: [\"apps/**\"]\n    target: prod\ntargets:\n  - name: prod\n    snapshot: ./live\n";
    repo.write("gitdrift.yaml", config);
    let (run, report) = scan(&repo, &[]);
    assert_eq!(report["summary"]["drifted"], 0, "{:#}", report["resources"]);
    assert_eq!(
        report["compliance"]["failing"]["medium"], 2,
        "{:#}",
        report["findings"]
    );
    assert_eq!(run.code, 0, "medium is below the default threshold (high)");
    let (strict, _) = scan(&repo, &["--fail-on-severity", "medium"]);
    assert_eq!(strict.code, 1);
    repo.write(
        "gitdrift.yaml",
        &format!("{config}audit:\n  fail_on_severity: low\n"),
    );
    let (configured, _) = scan(&repo, &[]);
    assert_eq!(configured.code, 1);
    repo.write(
        "gitdrift.yaml",
        &format!("{config}audit:\n  enabled: false\n"),
    );
    let (off, report) = scan(&repo, &["--fail-on-severity", "info"]);
    assert_eq!(off.code, 0);
    assert_eq!(report["findings"], json!([]));
}

#[test]
fn waivers_in_a_sources_repository_are_read_from_the_committed_tree() {
    let soon = chrono::Utc::now().date_naive() + chrono::Duration::days(10);
    let repo = fixture("");
    let config = std::fs::read_to_string(repo.path().join("gitdrift.yaml")).unwrap();
    repo.write(
        "gitdrift.yaml",
        &config.replace(
            "    target: prod\n",
            "    target: prod\n    waivers: compliance/waivers.yaml\n",
        ),
    );
    repo.write(
        "compliance/waivers.yaml",
        &format!(
            "waivers:\n  - rule: pss-baseline-host-namespaces\n    name: batch\n    justification: reviewed in PR 42\n    expires: {soon}\n"
        ),
    );
    repo.commit("waivers");
    // An uncommitted edit widening the waiver is not read.
    repo.write(
        "compliance/waivers.yaml",
        &format!(
            "waivers:\n  - rule: pss-baseline-privileged\n    justification: sneaky\n    expires: {soon}\n"
        ),
    );
    let (_, report) = scan(&repo, &[]);
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    assert!(
        findings(&report, "pss-baseline-host-namespaces")
            .iter()
            .all(|f| f["status"] == "waived" && f["waiver"]["file"] == "compliance/waivers.yaml")
    );
    assert!(
        findings(&report, "pss-baseline-privileged")
            .iter()
            .all(|f| f["status"] == "fail")
    );

    // A bad waiver in git is an error naming the file and line; the scan goes on.
    repo.write(
        "compliance/waivers.yaml",
        "waivers:\n  - rule: pss-baseline-privileged\n    expires: 2020-01-01\n",
    );
    repo.commit("bad waiver");
    let (run, report) = scan(&repo, &[]);
    assert_eq!(run.code, 2);
    let problem = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["file"] == "compliance/waivers.yaml")
        .unwrap_or_else(|| panic!("{:#}", report["problems"]));
    assert_eq!(problem["line"], 2);
    assert_eq!(problem["source"], "shop");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("justification")
    );
    assert!(!findings(&report, "pss-baseline-privileged").is_empty());
}

#[test]
fn audit_compiled_false_runs_the_interpreter_with_the_same_findings() {
    let compiled = fixture("");
    let interpreted = fixture("audit:\n  compiled: false\n");
    let fingerprints = |repo: &Repo| {
        let (run, report) = scan(repo, &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
        let mut out: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["fingerprint"].as_str().unwrap().to_string())
            .collect();
        out.sort();
        out
    };
    let a = fingerprints(&compiled);
    assert_eq!(a.len(), 3, "{a:?}");
    assert_eq!(
        a,
        fingerprints(&interpreted),
        "the same findings either way"
    );
    let bad = fixture("audit:\n  compiled: maybe\n");
    let run = gitdrift(bad.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("audit.compiled must be true or false"),
        "{}",
        run.stderr
    );
}

/// A waiver scoped to parts of a resource (`paths`, with `[key=glob]` list element selectors)
/// covers only the findings those parts cause: the mesh's injected init container needs
/// NET_ADMIN and NET_RAW (waived), while a capability added by hand to the app container still
/// fails; the waiver, once its selector names nothing the rule finds, covers nothing.
#[test]
fn a_waiver_scoped_to_list_elements_covers_only_what_they_cause() {
    let repo = Repo::new();
    let mesh = |init: &str, app_caps: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: mesh\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {{app: mesh}}\n  template:\n    metadata:\n      labels: {{app: mesh}}\n    spec:\n{init}      containers:\n        - name: app\n          image: registry.example.com/mesh:1.0\n          securityContext:\n            capabilities: {{add: [{app_caps}]}}\n"
        )
    };
    let init = "      initContainers:\n        - name: istio-init\n          image: docker.io/istio/proxyv2:1.24.1\n          securityContext:\n            capabilities: {add: [NET_ADMIN, NET_RAW]}\n";
    repo.write("apps/mesh.yaml", &mesh("", ""));
    repo.commit("mesh");
    repo.write("live/mesh.yaml", &mesh(init, "SYS_TIME"));
    let soon = chrono::Utc::now().date_naive() + chrono::Duration::days(30);
    let config = |selector: &str| {
        format!(
            "sources:\n  - name: shop\n    repo: .\n    paths: [\"apps/**\"]\n    target: prod\ntargets:\n  - name: prod\n    snapshot: ./live\naudit:\n  waivers:\n    - rule: pss-baseline-capabilities\n      kind: Deployment\n      name: mesh\n      side: live\n      paths: [\"/spec/template/spec/initContainers/[name={selector}]\"]\n      justification: the mesh's init container sets up traffic capture; MESH-7\n      expires: {soon}\n"
        )
    };
    repo.write("gitdrift.yaml", &config("istio-*"));
    let (_, report) = scan(&repo, &[]);
    let caps = findings(&report, "pss-baseline-capabilities");
    let status_of = |caps: &[&Value], needle: &str| {
        caps.iter()
            .find(|f| f["message"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no finding on {needle}: {caps:#?}"))["status"]
            .clone()
    };
    assert_eq!(caps.len(), 3, "{caps:#?}");
    assert_eq!(status_of(&caps, "NET_ADMIN"), "waived");
    assert_eq!(status_of(&caps, "NET_RAW"), "waived");
    assert_eq!(
        status_of(&caps, "SYS_TIME"),
        "fail",
        "added by hand, not by the mesh"
    );
    let waived = caps.iter().find(|f| f["status"] == "waived").unwrap();
    assert_eq!(
        waived["waiver"]["justification"],
        "the mesh's init container sets up traffic capture; MESH-7"
    );

    // A rule that names every offending container in one message: without the init container
    // it still fails, with a message of its own, so the waiver covers nothing of it.
    repo.write(
        "policies/team/capabilities.rego",
        "# METADATA\n# title: No added capabilities\n# custom:\n#   id: team-no-capabilities\n#   severity: high\n#   kinds: [Deployment.apps]\npackage team.capabilities\n\ndeny contains msg if {\n\tnames := sort([c.name | some c in array.concat(object.get(input.resource.spec.template.spec, \"initContainers\", []), input.resource.spec.template.spec.containers); count(object.get(c, [\"securityContext\", \"capabilities\", \"add\"], [])) > 0])\n\tcount(names) > 0\n\tmsg := sprintf(\"containers adding capabilities: %v\", [names])\n}\n",
    );
    let together = config("istio-*").replace(
        "audit:\n  waivers:\n",
        "audit:\n  rules: [./policies]\n  waivers:\n    - rule: team-no-capabilities\n      paths: [\"/spec/template/spec/initContainers/[name=istio-*]\"]\n      justification: the mesh's\n      expires: {soon}\n",
    ).replace("{soon}", &soon.to_string());
    repo.write("gitdrift.yaml", &together);
    let (_, report) = scan(&repo, &[]);
    let team = findings(&report, "team-no-capabilities");
    let live: Vec<&&Value> = team.iter().filter(|f| f["side"] == "live").collect();
    assert_eq!(live.len(), 1, "{team:#?}");
    assert_eq!(
        live[0]["message"],
        "containers adding capabilities: [\"app\", \"istio-init\"]"
    );
    assert_eq!(
        live[0]["status"], "fail",
        "app adds one too: not the mesh's alone"
    );
    // Once the app adds none, what is left is the mesh's: waived.
    repo.write("live/mesh.yaml", &mesh(init, ""));
    let (_, report) = scan(&repo, &[]);
    let team = findings(&report, "team-no-capabilities");
    assert_eq!(team.len(), 1, "{team:#?}");
    assert_eq!(team[0]["status"], "waived", "{team:#?}");
    repo.write("live/mesh.yaml", &mesh(init, "SYS_TIME"));

    // A selector that matches no element covers nothing.
    repo.write("gitdrift.yaml", &config("linkerd-*"));
    let (_, report) = scan(&repo, &[]);
    let caps = findings(&report, "pss-baseline-capabilities");
    assert!(caps.iter().all(|f| f["status"] == "fail"), "{caps:#?}");

    // A malformed selector is a configuration error naming it.
    repo.write(
        "gitdrift.yaml",
        &config("istio-*").replace("[name=istio-*]", "[name]"),
    );
    let run = gitdrift(repo.path(), &["scan"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("`[name]`") && run.stderr.contains("waiver.paths"),
        "{}",
        run.stderr
    );
}
