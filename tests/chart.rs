//! The Helm chart (`helm/gitdrift`), proven with Helm's own engine (PyPI's helm-python-sdk): it
//! lints, renders with every values set below, validates with `kubernetes-validate --strict`,
//! grants nothing but get, list and watch whatever the values, refuses values that try to add a
//! verb or carry a typo, admits only the listed peers when its NetworkPolicy is on, carries the
//! alerting rules and dashboards unchanged, and passes gitdrift's own Pod Security Standards
//! packs.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{Repo, gitdrift, project_root};

fn chart() -> PathBuf {
    project_root().join("helm/gitdrift")
}

/// `helm template` (the stand-in over Helm's engine); `Err` with Helm's message on failure.
fn render(values: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, values).unwrap();
    let output = Command::new(support::venv_python())
        .arg(project_root().join("tests/support/helm_template.py"))
        .args(["template", "rel"])
        .arg(chart())
        .args(["--namespace", "gitdrift", "--values"])
        .arg(&file)
        .output()
        .unwrap();
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// The rendered documents as JSON values.
fn documents(rendered: &str) -> Vec<Value> {
    rendered
        .split("\n---\n")
        .map(|d| d.trim_start_matches("---\n"))
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
        })
        .map(|d| {
            serde_saphyr::from_str::<Value>(d)
                .unwrap_or_else(|e| panic!("rendered YAML does not parse: {e}\n{d}"))
        })
        .collect()
}

const ALL_FEATURES: &str = r#"
shards: 3
rbac: {readSecrets: true}
serviceMonitor: {enabled: true, labels: {release: prometheus}}
prometheusRule: {enabled: true, runbookBaseUrl: "https://docs.example.test/gitdrift", driftFor: 2h}
dashboards: {enabled: true}
serviceAccount:
  annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/gitdrift-read"}
secretEnv:
  GITDRIFT_WEBHOOK_SECRET: {secret: gitdrift-webhook, key: secret}
  SHOP_GIT_TOKEN: {secret: git-credentials, key: token}
env: {GITDRIFT_LOG: "gitdrift=info"}
config:
  sources:
    - {name: shop, repo: "https://git.example.test/org/shop.git", target: prod, auth: {token_env: SHOP_GIT_TOKEN}}
  targets:
    - {name: prod, kubernetes: {}}
    - {name: aws-prod, aws: {regions: [eu-west-1]}}
  serve: {interval: 5m, webhook_secret_env: GITDRIFT_WEBHOOK_SECRET}
"#;

/// Values sets the chart is rendered with.
const VALUES: &[(&str, &str)] = &[
    ("defaults", ""),
    ("all features, sharded", ALL_FEATURES),
    (
        "no persistence, no RBAC objects, an existing account",
        "persistence: {enabled: false}\nrbac: {create: false}\nserviceAccount: {create: false, name: reader}\n",
    ),
    (
        "AWS only, through IRSA, with a mounted kubeconfig secret",
        "rbac: {create: false}\nserviceAccount:\n  automountToken: false\n  annotations: {eks.amazonaws.com/role-arn: \"arn:aws:iam::123456789012:role/gitdrift-read\"}\nextraVolumes: [{name: kubeconfigs, secret: {secretName: gitdrift-kubeconfigs}}]\nextraVolumeMounts: [{name: kubeconfigs, mountPath: /etc/gitdrift-kubeconfigs, readOnly: true}]\nconfig:\n  sources: []\n  targets:\n    - {name: aws-prod, aws: {regions: [eu-west-1]}}\n",
    ),
    (
        "API tokens from an existing Secret, metrics protected",
        "auth: {existingSecret: my-gitdrift-tokens, protectMetrics: true}\nserviceMonitor: {enabled: true}\n",
    ),
    (
        "a Kustomize source, sharded, behind a NetworkPolicy, extra volumes",
        "shards: 3\nnetworkPolicy: {enabled: true}\nextraVolumes: [{name: git-token, secret: {secretName: platform-git}}]\nextraVolumeMounts: [{name: git-token, mountPath: /etc/gitdrift-git, readOnly: true}]\nconfig:\n  sources:\n    - {name: platform, repo: \"https://git.example.test/org/platform.git\", render: kustomize, paths: [overlays/prod, overlays/prod-eu], target: prod, auth: {token_file: /etc/gitdrift-git/token}}\n  targets:\n    - {name: prod, kubernetes: {}}\n",
    ),
    (
        "custom resources to read",
        "rbac:\n  resources:\n    - apiGroups: [cert-manager.io]\n      resources: [certificates, issuers]\n",
    ),
];

fn verbs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "verbs" {
                    for verb in v.as_array().expect("verbs is a list") {
                        out.push(verb.as_str().unwrap().to_string());
                    }
                } else {
                    verbs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| verbs(v, out)),
        _ => {}
    }
}

#[test]
fn the_chart_lints_renders_validates_and_grants_only_reads() {
    let lint = Command::new(support::venv_python())
        .args([
            "-c",
            "import json, sys, helm_python as h; print(json.dumps(h.lint(sys.argv[1], strict=True)))",
        ])
        .arg(chart())
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
    let report: Value = serde_json::from_slice(&lint.stdout).unwrap();
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    for message in report["messages"].as_array().unwrap() {
        assert!(message["severity"].as_u64() < Some(2), "lint: {message}");
    }

    for (name, values) in VALUES {
        let rendered = render(values).unwrap_or_else(|e| panic!("{name}: {e}"));
        let docs = documents(&rendered);
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        let mut found = Vec::new();
        for doc in &docs {
            verbs(doc, &mut found);
        }
        assert!(
            found
                .iter()
                .all(|v| ["get", "list", "watch"].contains(&v.as_str())),
            "{name}: a verb other than get, list, watch: {found:?}"
        );
        if kinds.contains(&"ClusterRole") {
            assert!(found.len() >= 3, "{name}: {found:?}");
        }
        // Users' secrets are referenced, never inlined; the one Secret the chart writes holds
        // its own API tokens.
        for secret in docs.iter().filter(|d| d["kind"] == "Secret") {
            assert!(
                secret["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("-api-tokens")),
                "{name}: {secret:#}"
            );
        }
        let config = docs
            .iter()
            .find(|d| d["kind"] == "ConfigMap" && d["data"]["gitdrift.yaml"].is_string())
            .expect("the configuration");
        assert!(
            config["data"]["gitdrift.yaml"]
                .as_str()
                .unwrap()
                .contains("tokens_file: /etc/gitdrift-auth/tokens"),
            "{name}: the API needs a token"
        );
        let workload = docs
            .iter()
            .find(|d| d["kind"] == "Deployment" || d["kind"] == "StatefulSet")
            .unwrap_or_else(|| panic!("{name}: no workload"));
        let container = &workload["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &rendered).unwrap();
        let validate = Command::new(project_root().join(".venv-test/bin/kubernetes-validate"))
            .args(["--strict", "-k", "1.35.0"])
            .arg(file.path())
            .output()
            .expect("kubernetes-validate (scripts/test installs it into .venv-test)");
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&validate.stdout),
            String::from_utf8_lossy(&validate.stderr)
        );
        assert!(
            validate.status.success(),
            "{name}: kubernetes-validate: {out}"
        );
        assert!(!out.contains("ERROR"), "{name}: {out}");
    }

    let sharded = documents(&render(ALL_FEATURES).unwrap());
    let set = sharded.iter().find(|d| d["kind"] == "StatefulSet").unwrap();
    assert_eq!(set["spec"]["replicas"], 3);
    let args = set["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(args.contains("--shard-count=3"), "{args}");
    // Its governing Service is headless, and the ServiceMonitor selects one Service only (each
    // pod scraped once).
    let governing = sharded
        .iter()
        .find(|d| d["kind"] == "Service" && d["metadata"]["name"] == set["spec"]["serviceName"])
        .expect("the StatefulSet's serviceName names a Service");
    assert_eq!(governing["spec"]["clusterIP"], "None");
    let monitor = sharded
        .iter()
        .find(|d| d["kind"] == "ServiceMonitor")
        .unwrap();
    let wanted = monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap();
    let selected = sharded
        .iter()
        .filter(|d| d["kind"] == "Service")
        .filter(|d| wanted.iter().all(|(k, v)| &d["metadata"]["labels"][k] == v))
        .count();
    assert_eq!(
        selected, 1,
        "the ServiceMonitor selects exactly one Service"
    );
    let role = sharded.iter().find(|d| d["kind"] == "ClusterRole").unwrap();
    assert!(
        role.to_string().contains("\"secrets\""),
        "readSecrets adds secrets"
    );
    let defaults = documents(&render("").unwrap());
    let role = defaults
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .unwrap();
    assert!(
        !role.to_string().contains("\"secrets\""),
        "secrets are opt-in"
    );
    assert!(
        !role.to_string().contains("\"*\""),
        "reading everything is opt-in"
    );
    // `unmanaged: {kinds: all}` needs every kind read: still get, list and watch only.
    let everything = documents(&render("rbac: {readAll: true}\n").unwrap());
    let role = everything
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .unwrap();
    assert!(
        role["rules"].as_array().unwrap().iter().any(|r| r
            == &serde_json::json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]})),
        "{role:#}"
    );
    assert!(
        role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["verbs"] == serde_json::json!(["get", "list", "watch"])),
        "{role:#}"
    );
    assert!(
        defaults
            .iter()
            .any(|d| d["kind"] == "PersistentVolumeClaim")
    );

    // API tokens: made on install (two random ones, kept on upgrades), mounted as the tokens
    // file; an existing Secret is used as it is; the ServiceMonitor sends one when metrics are
    // protected.
    let secret = defaults
        .iter()
        .find(|d| d["kind"] == "Secret")
        .expect("the API tokens");
    let decode = |key: &str| {
        use base64::Engine as _;
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(secret["data"][key].as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(decode("admin").len(), 48);
    assert_eq!(
        decode("tokens"),
        format!(
            "admin: {}\nprometheus: {}\n",
            decode("admin"),
            decode("prometheus")
        )
    );
    let protected = documents(
        &render("auth: {existingSecret: my-gitdrift-tokens, protectMetrics: true}\nserviceMonitor: {enabled: true}\n")
            .unwrap(),
    );
    assert!(!protected.iter().any(|d| d["kind"] == "Secret"));
    let monitor = protected
        .iter()
        .find(|d| d["kind"] == "ServiceMonitor")
        .unwrap();
    assert_eq!(
        monitor["spec"]["endpoints"][0]["bearerTokenSecret"],
        serde_json::json!({"name": "my-gitdrift-tokens", "key": "prometheus"})
    );
    let open = documents(&render("auth: {enabled: false}\n").unwrap());
    assert!(!open.iter().any(|d| d["kind"] == "Secret"));

    // An existing account must be named: the read-only ClusterRole is never bound to the
    // namespace's default account.
    let unnamed = render("serviceAccount: {create: false}\n").unwrap_err();
    assert!(unnamed.contains("serviceAccount.name"), "{unnamed}");

    // The only way to add a verb would be through values: the schema refuses it.
    let refused = render(
        "rbac:\n  resources:\n    - apiGroups: [\"\"]\n      resources: [pods]\n      verbs: [delete]\n",
    )
    .unwrap_err();
    assert!(refused.contains("verbs"), "{refused}");
}

#[test]
fn a_network_policy_admits_only_prometheus_the_api_peers_and_the_other_shards() {
    let policies = |values: &str| -> Vec<Value> {
        documents(&render(values).unwrap())
            .into_iter()
            .filter(|d| d["kind"] == "NetworkPolicy")
            .collect()
    };
    assert!(policies("").is_empty(), "off by default");

    let on = policies("networkPolicy: {enabled: true}\n");
    assert_eq!(on.len(), 1);
    let spec = &on[0]["spec"];
    assert_eq!(
        spec["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "gitdrift"
    );
    assert_eq!(spec["policyTypes"], serde_json::json!(["Ingress"]));
    let rules = spec["ingress"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0]["ports"],
        serde_json::json!([{"port": "http", "protocol": "TCP"}]),
        "only the one port"
    );
    assert_eq!(
        rules[0]["from"],
        serde_json::json!([{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
        }]),
        "Prometheus, by default"
    );

    // Sharded: the shards reach each other too.
    let sharded = policies(
        "shards: 3\nnetworkPolicy:\n  enabled: true\n  from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]\n",
    );
    let from = &sharded[0]["spec"]["ingress"][0]["from"];
    assert_eq!(from.as_array().unwrap().len(), 2, "{from:#}");
    assert_eq!(
        from[0]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"],
        "rel"
    );
    assert_eq!(
        from[1]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "ingress-nginx"
    );

    // No peers and one replica: nothing gets in (an empty `from` would admit everyone).
    let closed = policies("networkPolicy: {enabled: true, from: []}\n");
    assert_eq!(closed[0]["spec"]["ingress"], serde_json::json!([]));
}

#[test]
fn values_with_a_typo_are_refused_naming_the_key() {
    for (values, key) in [
        ("persistance: {enabled: false}\n", "persistance"),
        ("serviceMonitor: {enabeld: true}\n", "enabeld"),
        ("networkPolicy: {enabled: true, form: []}\n", "form"),
        ("image: {repo: example.test/gitdrift}\n", "repo"),
    ] {
        let refused = render(values).expect_err(values);
        assert!(
            refused.contains(key) && refused.contains("additional properties"),
            "{values}: {refused}"
        );
    }
    // And a wrong type names the field.
    let refused = render("shards: three\n").unwrap_err();
    assert!(refused.contains("shards"), "{refused}");
}

#[test]
fn the_chart_carries_the_alerting_rules_and_dashboards_unchanged() {
    let root = project_root();
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(
        read(&root.join("rules/alerts/gitdrift.rules.yaml")),
        read(&chart().join("files/gitdrift.rules.yaml")),
        "helm/gitdrift/files/gitdrift.rules.yaml must be a copy of rules/alerts/gitdrift.rules.yaml"
    );
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root.join("dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        assert_eq!(
            read(&path),
            read(&chart().join("files/dashboards").join(&name)),
            "helm/gitdrift/files/dashboards/{name:?} must be a copy of dashboards/{name:?}"
        );
        names.push(name);
    }
    assert_eq!(
        std::fs::read_dir(chart().join("files/dashboards"))
            .unwrap()
            .count(),
        names.len()
    );
    // Rendered: the PrometheusRule holds every alert, runbooks pointing where configured.
    let docs = documents(&render(ALL_FEATURES).unwrap());
    let rule = docs.iter().find(|d| d["kind"] == "PrometheusRule").unwrap();
    let source: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root.join("rules/alerts/gitdrift.rules.yaml")).unwrap(),
    )
    .unwrap();
    let alerts = |v: &Value| -> Vec<String> {
        v["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["alert"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(alerts(&rule["spec"]), alerts(&source));
    // The rendered rules, with their substitutions, still pass promtool.
    let rendered_rules = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(rendered_rules.path(), rule["spec"].to_string()).unwrap();
    let check = Command::new("promtool")
        .args(["check", "rules"])
        .arg(rendered_rules.path())
        .output()
        .expect("promtool (scripts/test installs Debian's prometheus)");
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        rule.to_string()
            .contains("https://docs.example.test/gitdrift#gitdriftdriftpresent")
    );
    let dashboards: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "ConfigMap" && d["metadata"]["labels"]["grafana_dashboard"] == "1")
        .collect();
    assert_eq!(dashboards.len(), names.len());
    for d in dashboards {
        let (_, json) = d["data"].as_object().unwrap().iter().next().unwrap();
        let dashboard: Value = serde_json::from_str(json.as_str().unwrap()).unwrap();
        assert!(dashboard["uid"].is_string());
    }
}

#[test]
fn the_rendered_chart_passes_gitdrift_own_pod_security_packs() {
    for (name, values) in VALUES {
        let rendered = render(values).unwrap();
        let repo = Repo::new();
        repo.write("chart/rendered.yaml", &rendered);
        repo.commit("rendered chart");
        std::fs::create_dir_all(repo.path().join("live")).unwrap();
        repo.write(
            "gitdrift.yaml",
            "sources:\n  - name: chart\n    repo: .\n    paths: [\"chart/**\"]\n    target: cluster\n    namespace: gitdrift\ntargets:\n  - name: cluster\n    snapshot: ./live\naudit:\n  packs: [pod-security-baseline, pod-security-restricted]\n",
        );
        let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
        let report = run.json();
        assert!(
            report["compliance"]["rules"].as_array().unwrap().len() >= 19,
            "{name}: the packs ran: {:#}",
            report["compliance"]
        );
        let findings = report["findings"].as_array().unwrap();
        assert!(
            findings.is_empty(),
            "{name}: the chart breaks its own packs: {findings:#?}"
        );
    }
}
