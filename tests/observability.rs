//! The alerting rules and the Grafana dashboards, proven with the real tools: `promtool check
//! rules` and `promtool test rules` (every alert firing and not firing), Grafana's dashboard
//! conventions, and a real Prometheus scraping a running `gitdrift serve` (drift, findings,
//! waivers, a Kubernetes target on the test API server) that evaluates every PromQL expression
//! of every dashboard panel, template variable and alert: each must parse, every dashboard query
//! must return data, and every metric an alert names must exist. A metric renamed in the code
//! and not in the dashboards or alerts fails here.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::kube_api::KubeApi;
use support::prometheus::Prometheus;
use support::serve::Served;
use support::{Repo, demo_live_objects, project_root};

fn promtool(args: &[&str], dir: &Path) -> (bool, String) {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool (Debian's prometheus package; scripts/test installs it)");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

fn alerts() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(project_root().join("rules/alerts/gitdrift.rules.yaml")).unwrap();
    let rules: Value = serde_saphyr::from_str(&text).unwrap();
    rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter())
        .map(|r| {
            (
                r["alert"].as_str().unwrap().to_string(),
                r["expr"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn alert_rules_pass_promtool_and_every_alert_is_unit_tested() {
    let dir = project_root().join("rules/alerts");
    let (ok, out) = promtool(&["check", "rules", "gitdrift.rules.yaml"], &dir);
    assert!(ok, "{out}");
    let (ok, out) = promtool(&["test", "rules", "gitdrift.test.yaml"], &dir);
    assert!(ok, "{out}");
    let tests = std::fs::read_to_string(dir.join("gitdrift.test.yaml")).unwrap();
    let tests: Value = serde_saphyr::from_str(&tests).unwrap();
    let mut firing = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for test in tests["tests"].as_array().unwrap() {
        for case in test["alert_rule_test"].as_array().unwrap() {
            let name = case["alertname"].as_str().unwrap().to_string();
            if case["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()) {
                firing.insert(name);
            } else {
                quiet.insert(name);
            }
        }
    }
    let text =
        std::fs::read_to_string(project_root().join("rules/alerts/gitdrift.rules.yaml")).unwrap();
    let rules: Value = serde_saphyr::from_str(&text).unwrap();
    for rule in rules["groups"][0]["rules"].as_array().unwrap() {
        let name = rule["alert"].as_str().unwrap();
        assert!(firing.contains(name), "{name} is never shown firing");
        for key in ["summary", "description", "runbook_url"] {
            assert!(
                rule["annotations"][key]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{name} has no {key}"
            );
        }
        // The runbook section exists in the README.
        let anchor = rule["annotations"]["runbook_url"]
            .as_str()
            .unwrap()
            .rsplit('#')
            .next()
            .unwrap()
            .to_string();
        let readme = std::fs::read_to_string(project_root().join("README.md")).unwrap();
        assert!(
            readme
                .lines()
                .any(|l| l.starts_with('#')
                    && l.trim_start_matches('#').trim().to_lowercase() == anchor),
            "no README section for {anchor}"
        );
    }
    // And every alert has a case where it must stay quiet.
    for name in &firing {
        assert!(quiet.contains(name), "{name} is never shown quiet");
    }
}

fn dashboards() -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(project_root().join("dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.push((path, value));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 2, "an overview and a drill-down");
    out
}

/// Every panel (rows' nested panels included).
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        out.push(p);
        if let Some(nested) = p["panels"].as_array() {
            out.extend(nested);
        }
    }
    out
}

#[test]
fn dashboards_follow_grafana_conventions() {
    let mut uids = BTreeSet::new();
    for (path, d) in dashboards() {
        let name = path.display().to_string();
        assert!(
            uids.insert(d["uid"].as_str().expect("uid").to_string()),
            "{name}: uid"
        );
        assert!(
            d["schemaVersion"].as_u64() >= Some(36),
            "{name}: schemaVersion"
        );
        assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()));
        let vars = d["templating"]["list"].as_array().unwrap();
        let var = |n: &str| vars.iter().find(|v| v["name"] == n);
        let ds = var("datasource").unwrap_or_else(|| panic!("{name}: no datasource variable"));
        assert_eq!(ds["type"], "datasource");
        assert_eq!(ds["query"], "prometheus");
        for v in ["target", "kind"] {
            let v = var(v).unwrap_or_else(|| panic!("{name}: no {v} variable"));
            assert_eq!(v["type"], "query");
            assert!(
                v["query"]["query"]
                    .as_str()
                    .unwrap()
                    .starts_with("label_values(")
            );
        }
        let mut ids = BTreeSet::new();
        for p in panels(&d) {
            assert!(
                ids.insert(p["id"].as_u64().unwrap()),
                "{name}: panel ids unique"
            );
            assert!(p["gridPos"]["w"].as_u64().is_some(), "{name}: gridPos");
            if p["type"] == "row" {
                continue;
            }
            assert_eq!(
                p["datasource"],
                json!({"type": "prometheus", "uid": "${datasource}"}),
                "{name}: {}",
                p["title"]
            );
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{name}: {} has no query", p["title"]);
            for t in targets {
                assert!(t["expr"].as_str().is_some_and(|e| !e.is_empty()));
                assert!(t["refId"].is_string());
            }
        }
    }
}

/// A dashboard query with its variables given values.
fn substitute(expr: &str, target: &str) -> String {
    expr.replace("${target}", target)
        .replace("$target", target)
        .replace("$kind", ".+")
}

#[test]
fn every_dashboard_and_alert_query_runs_against_prometheus_scraping_gitdrift() {
    let api = KubeApi::start_tls();
    api.require_token("observability-token");
    api.load(demo_live_objects());
    let repo = Repo::new();
    repo.copy_dir(&project_root().join("examples/demo/gitops"), "gitops");
    repo.copy_dir(&project_root().join("examples/demo/aws"), "aws");
    repo.commit("manifests");
    repo.copy_dir(&project_root().join("examples/demo/live"), "live");
    repo.copy_dir(&project_root().join("examples/demo/aws-live"), "aws-live");
    let kubeconfig = repo.path().join("kubeconfig");
    api.kubeconfig(&kubeconfig, "lab", "observability-token");
    let today = chrono::Utc::now().date_naive();
    let soon = today + chrono::Days::new(10);
    let gone = today - chrono::Days::new(3);
    repo.write(
        "gitdrift.yaml",
        &format!(
            "sources:\n  - name: shop\n    repo: .\n    paths: [\"gitops/**\"]\n    target: demo\n    namespace: shop\n  - name: shop-lab\n    repo: .\n    paths: [\"gitops/**\"]\n    target: lab\n    namespace: shop\n  - name: network\n    repo: .\n    paths: [\"aws/**\"]\n    target: demo-aws\n    region: eu-west-1\ntargets:\n  - name: demo\n    snapshot: ./live\n  - name: demo-aws\n    snapshot: ./aws-live\n  - name: lab\n    kubernetes:\n      context: lab\n      kubeconfig: {}\nserve:\n  interval: 1s\n  jitter: 0%\n  fetch_interval: 1h\n  webhook_secret_env: GITDRIFT_TEST_WEBHOOK_SECRET\naudit:\n  waivers:\n    - rule: pss-restricted-run-as-non-root\n      kind: Deployment\n      group: apps\n      namespace: shop\n      name: web\n      justification: until OPS-1\n      expires: {soon}\n    - rule: pss-restricted-seccomp-profile\n      kind: Deployment\n      group: apps\n      namespace: shop\n      name: cart\n      justification: lapsed\n      expires: {gone}\n",
            kubeconfig.display()
        ),
    );
    let served = Served::start(
        repo.path(),
        &repo.path().join("gitdrift.yaml"),
        &repo.path().join("data"),
        &[("GITDRIFT_TEST_WEBHOOK_SECRET", "s3cret-for-the-test")],
    );
    served.wait_until("ready", Duration::from_secs(60), |s| {
        s.get("/readyz").status == 200
    });
    // A refused webhook, for the webhook panels and alert.
    let refused = served.request("POST", "/api/v1/webhooks/git", &[], b"{}");
    assert_eq!(refused.status, 401);
    let exposed = served.get("/metrics").body;

    let prometheus = Prometheus::start(served.port);
    // Enough scrapes for every rate() and increase() window to hold two samples.
    prometheus.wait_for(
        "count(count_over_time(gitdrift_scans_total[1m]) >= 5)",
        |r| {
            r["data"]["result"][0]["value"][1]
                .as_str()
                .is_some_and(|n| n != "0")
        },
    );

    let metric = regex_lite_names(&exposed);
    let mut checked = 0;
    for (path, d) in dashboards() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // The overview across every target; the drill-down on the Kubernetes target (the one
        // with API requests to show).
        let target = if d["uid"] == "gitdrift-target" {
            "lab"
        } else {
            ".*"
        };
        for v in d["templating"]["list"].as_array().unwrap() {
            let Some(q) = v["query"]["query"].as_str() else {
                continue;
            };
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .unwrap();
            let (selector, label) = inner.rsplit_once(',').unwrap();
            let selector = substitute(selector.trim(), target);
            let values = prometheus.api(
                &format!("/api/v1/label/{}/values", label.trim()),
                &[("match[]", &selector)],
            );
            assert_eq!(values["status"], "success", "{name}: {q}: {values}");
            assert!(
                !values["data"].as_array().unwrap().is_empty(),
                "{name}: variable {} has no values ({selector})",
                v["name"]
            );
        }
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                // A fallback to zero would hide a renamed metric: evaluated without it.
                let expr =
                    substitute(t["expr"].as_str().unwrap(), target).replace(" or vector(0)", "");
                for name in names_in(&expr) {
                    assert!(
                        metric.contains(&name),
                        "{name}: panel {} names {name}, which gitdrift does not export",
                        p["title"]
                    );
                }
                let r = prometheus.query(&expr);
                assert_eq!(
                    r["status"], "success",
                    "{name}: {}: {expr}: {r}",
                    p["title"]
                );
                assert!(
                    !r["data"]["result"].as_array().unwrap().is_empty(),
                    "{name}: panel {} returns no data: {expr}",
                    p["title"]
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 25, "{checked} dashboard queries");

    // Every alert parses and runs, and every metric it names is one gitdrift exports.
    for (alert, expr) in alerts() {
        let r = prometheus.query(&expr);
        assert_eq!(r["status"], "success", "{alert}: {expr}: {r}");
        for name in names_in(&expr) {
            assert!(
                metric.contains(&name),
                "{alert} names {name}, which gitdrift does not export"
            );
        }
    }
    // With this configuration some alerts fire at once (no `for`): the expired waiver and the
    // refused webhook.
    let expired = prometheus.query(
        &alerts()
            .into_iter()
            .find(|a| a.0 == "GitdriftWaiverExpired")
            .unwrap()
            .1,
    );
    assert_eq!(expired["data"]["result"][0]["value"][1], "1", "{expired}");
    let soon = prometheus.query(
        &alerts()
            .into_iter()
            .find(|a| a.0 == "GitdriftWaiverExpiringSoon")
            .unwrap()
            .1,
    );
    assert_eq!(
        soon["data"]["result"][0]["metric"]["rule"], "pss-restricted-run-as-non-root",
        "{soon}"
    );
    let (code, _) = served.stop();
    assert_eq!(code, Some(0));
    api.assert_read_only();
}

/// The metric families gitdrift exposes (histogram series under their family name too).
fn regex_lite_names(exposition: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in exposition.lines().filter(|l| !l.starts_with('#')) {
        let name: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(family) = name.strip_suffix(suffix) {
                out.insert(family.to_string());
            }
        }
        out.insert(name);
    }
    out
}

/// The `gitdrift_…` metric names in a PromQL expression.
fn names_in(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("gitdrift_") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[i + name.len()..];
        out.insert(name);
    }
    out
}
