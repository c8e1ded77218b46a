//! Kubernetes targets end to end: the built binary scans clusters served by the test API server
//! (tests/support/kube_api.rs) through real kubeconfig files — HTTPS with a test CA and bearer
//! tokens — and after every test the server's journal holds only GETs.

mod support;

use std::path::Path;

use serde_json::{Value, json};
use support::kube_api::{KubeApi, write_kubeconfig};
use support::{Repo, config_map, demo_live_objects, gitdrift, project_root};

const TOKEN_A: &str = "token-cluster-a-0f9e8d";
const TOKEN_B: &str = "token-cluster-b-7c6b5a";

/// The demo's manifests in a repository, and a config naming `targets` (YAML text).
fn demo_repo(targets: &str, sources: &str) -> Repo {
    let repo = Repo::new();
    repo.copy_dir(&project_root().join("examples/demo/gitops"), "gitops");
    repo.write(
        "other/cm.yaml",
        &config_map("settings", "team-b", &[("mode", "blue")]),
    );
    repo.commit("manifests");
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        format!("sources:\n{sources}targets:\n{targets}"),
    )
    .unwrap();
    repo
}

const DEMO_SOURCE: &str =
    "  - name: shop\n    repo: .\n    paths: [\"gitops/**\"]\n    target: a\n    namespace: shop\n";

fn kube_target(name: &str, context: &str, kubeconfig: &Path, extra: &str) -> String {
    format!(
        "  - name: {name}\n    kubernetes:\n      context: {context}\n      kubeconfig: {}\n{extra}",
        kubeconfig.display()
    )
}

/// A configuration with one source `s` (the repository) and one cluster target `lab`, its
/// settings extended by `extra`.
fn write_lab_config(repo: &Repo, kubeconfig: &Path, extra: &str) {
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: s\n    repo: .\n    target: lab\ntargets:\n{}",
            kube_target("lab", "lab", kubeconfig, extra)
        ),
    )
    .unwrap();
}

fn resource<'a>(report: &'a Value, target: &str, kind: &str, name: &str) -> &'a Value {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == target && r["kind"] == kind && r["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} on {target} in {report:#}"))
}

#[test]
fn two_clusters_in_one_scan_through_a_real_kubeconfig() {
    let a = KubeApi::start_tls();
    a.require_token(TOKEN_A);
    a.load(demo_live_objects());
    let b = KubeApi::start();
    b.require_token(TOKEN_B);
    b.load([serde_json::from_str::<Value>(
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"team-b"},"data":{"mode":"green"}}"#,
    )
    .unwrap()]);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    write_kubeconfig(
        &kubeconfig,
        &[(&a, "cluster-a", TOKEN_A), (&b, "cluster-b", TOKEN_B)],
    );
    let repo = demo_repo(
        &format!(
            "{}{}",
            kube_target("a", "cluster-a", &kubeconfig, ""),
            kube_target("b", "cluster-b", &kubeconfig, "")
        ),
        &format!(
            "{DEMO_SOURCE}  - name: team-b\n    repo: .\n    paths: [\"other/**\"]\n    target: b\n"
        ),
    );
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    // Cluster a holds the demo's live state: the same judgement as from the snapshot.
    let web = resource(&report, "a", "Deployment", "web");
    assert_eq!(web["drifts"][0]["path"], "/spec/replicas");
    assert_eq!(web["drifts"][0]["changed_by"], "kubectl-scale");
    assert_eq!(web["last_changed_by"], "kubectl-scale");
    assert_eq!(
        resource(&report, "a", "ConfigMap", "feature-flags")["status"],
        "missing"
    );
    assert_eq!(
        resource(&report, "a", "Deployment", "debug-shell")["status"],
        "unmanaged"
    );
    assert_eq!(
        resource(&report, "a", "Secret", "postgres-credentials")["status"],
        "in_sync"
    );
    assert_eq!(
        resource(&report, "a", "Namespace", "shop")["status"],
        "in_sync"
    );
    let summary = &report["summary"];
    assert_eq!(
        (
            &summary["drifted"],
            &summary["missing"],
            &summary["unmanaged"]
        ),
        (&json!(4), &json!(1), &json!(1)),
        "three drifts on a, one on b"
    );
    let settings = resource(&report, "b", "ConfigMap", "settings");
    assert_eq!(settings["drifts"][0]["live"], "green");
    assert_eq!(report["scan"]["targets"][0]["provider"], "kubernetes");
    assert!(
        report["scan"]["targets"][0]["location"]
            .as_str()
            .unwrap()
            .starts_with("context cluster-a in ")
    );
    // Only what the scan needs was listed: the kinds git declares.
    let listed: Vec<String> = a
        .journal()
        .iter()
        .filter(|j| j.path.ends_with("/pods") || j.path.ends_with("/replicasets"))
        .map(|j| j.path.clone())
        .collect();
    assert!(
        listed.is_empty(),
        "undeclared kinds were listed: {listed:?}"
    );
    a.assert_read_only();
    b.assert_read_only();
}

#[test]
fn lists_are_paged_and_transient_failures_retried() {
    let api = KubeApi::start();
    api.require_token(TOKEN_A);
    let mut live = Vec::new();
    let mut declared = String::new();
    for i in 0..7 {
        let name = format!("cm-{i}");
        declared.push_str(&config_map(&name, "shop", &[("n", &i.to_string())]));
        declared.push_str("---\n");
        live.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "shop"}, "data": {"n": i.to_string()}}));
    }
    api.load(live);
    api.fail_next("/configmaps", 2);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    api.kubeconfig(&kubeconfig, "lab", TOKEN_A);
    let repo = Repo::new();
    repo.write("cms.yaml", &declared);
    repo.commit("seven");
    write_lab_config(&repo, &kubeconfig, "      page_size: 2\n");
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["summary"]["in_sync"], 7);
    let lists: Vec<_> = api
        .journal()
        .into_iter()
        .filter(|j| j.path == "/api/v1/configmaps")
        .collect();
    let failed = lists.iter().filter(|j| j.status == 500).count();
    let pages = lists.iter().filter(|j| j.status == 200).count();
    assert_eq!(failed, 2, "{lists:#?}");
    assert_eq!(pages, 4, "7 objects in pages of 2: {lists:#?}");
    assert!(lists.iter().all(|j| j.query.contains("limit=2")));
    assert_eq!(
        lists
            .iter()
            .filter(|j| j.query.contains("continue="))
            .count(),
        3
    );
    api.assert_read_only();
}

#[test]
fn custom_resources_forbidden_kinds_and_unserved_kinds() {
    let api = KubeApi::start_tls();
    api.require_token(TOKEN_A);
    api.serve("cert-manager.io", "v1", "Certificate", "certificates", true);
    api.forbid("apps", "deployments");
    api.load([
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
               "metadata": {"name": "shop-tls", "namespace": "shop", "generation": 2},
               "spec": {"secretName": "shop-tls", "dnsNames": ["shop.example.com", "www.shop.example.com"],
                        "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"}},
               "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "settings", "namespace": "shop"}, "data": {"mode": "blue"}}),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    api.kubeconfig(&kubeconfig, "lab", TOKEN_A);
    let repo = Repo::new();
    repo.write(
        "cert.yaml",
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: shop-tls\n  namespace: shop\nspec:\n  secretName: shop-tls\n  dnsNames: [shop.example.com]\n  issuerRef:\n    name: letsencrypt\n    kind: ClusterIssuer\n",
    );
    repo.write(
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 2\n",
    );
    repo.write(
        "monitor.yaml",
        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  endpoints: [{port: http}]\n",
    );
    repo.write(
        "cm.yaml",
        &config_map("settings", "shop", &[("mode", "blue")]),
    );
    repo.commit("mixed kinds");
    write_lab_config(&repo, &kubeconfig, "");
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(
        run.code, 2,
        "a forbidden kind makes the scan incomplete: {}",
        run.stderr
    );
    let report = run.json();
    let cert = resource(&report, "lab", "Certificate", "shop-tls");
    assert_eq!(cert["status"], "drifted");
    assert_eq!(cert["drifts"][0]["path"], "/spec/dnsNames");
    let monitor = resource(&report, "lab", "ServiceMonitor", "web");
    assert_eq!(monitor["status"], "missing");
    assert_eq!(monitor["reason"], "kind not served by the cluster");
    assert_eq!(
        resource(&report, "lab", "ConfigMap", "settings")["status"],
        "in_sync"
    );
    assert!(
        !report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "Deployment"),
        "nothing is said about a kind that could not be read"
    );
    assert_eq!(report["summary"]["unreadable"], 1);
    let unreadable = &report["unreadable"][0];
    assert_eq!(unreadable["kind"], "Deployment");
    assert_eq!(unreadable["group"], "apps");
    assert_eq!(unreadable["reason"], "forbidden");
    assert_eq!(unreadable["declared"], 1);
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["code"] == "kube.forbidden"),
        "{:#}",
        report["problems"]
    );
    assert!(
        unreadable["message"]
            .as_str()
            .unwrap()
            .contains("cannot list resource \"deployments\"")
    );
    // A forbidden cluster-wide list is retried per namespace before giving up.
    let namespaced = api
        .journal()
        .iter()
        .any(|j| j.path == "/apis/apps/v1/namespaces/shop/deployments" && j.status == 403);
    assert!(namespaced, "{:#?}", api.journal());
    api.assert_read_only();
}

#[test]
fn an_unreachable_cluster_fails_its_target_and_the_others_complete() {
    let api = KubeApi::start();
    api.require_token(TOKEN_A);
    api.load([json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "shop"}, "data": {"mode": "blue"}})]);
    let closed = KubeApi::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    write_kubeconfig(
        &kubeconfig,
        &[(&api, "up", TOKEN_A), (&closed, "down", TOKEN_B)],
    );
    let closed_port = closed.port;
    drop(closed);
    let repo = Repo::new();
    repo.write(
        "cm.yaml",
        &config_map("settings", "shop", &[("mode", "blue")]),
    );
    repo.commit("one");
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: s\n    repo: .\n    target: up\n  - name: t\n    repo: .\n    target: down\ntargets:\n{}{}",
            kube_target("up", "up", &kubeconfig, ""),
            kube_target("down", "down", &kubeconfig, "      timeout: 2s\n      retries: 1\n")
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2);
    assert!(
        started.elapsed().as_secs() < 30,
        "an unreachable cluster does not hang the scan"
    );
    let report = run.json();
    assert_eq!(
        resource(&report, "up", "ConfigMap", "settings")["status"],
        "in_sync"
    );
    let problem = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["target"] == "down")
        .expect("the down target's error");
    assert_eq!(problem["code"], "kube.unreachable");
    let message = problem["message"].as_str().unwrap();
    assert!(
        message.starts_with("cannot reach the cluster:"),
        "{message}"
    );
    assert!(
        message.contains(&closed_port.to_string()) || message.contains("onnection refused"),
        "{message}"
    );
    assert!(
        !report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["target"] == "down"),
        "nothing is called missing on an unreachable cluster"
    );
    api.assert_read_only();
}

#[test]
fn writes_are_refused_in_process_before_they_are_sent() {
    let api = KubeApi::start_tls();
    api.require_token(TOKEN_A);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    api.kubeconfig(&kubeconfig, "lab", TOKEN_A);
    let settings = gitdrift::config::KubeSettings {
        context: Some("lab".into()),
        kubeconfig: Some(kubeconfig),
        ..Default::default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = gitdrift::live::kube::KubeProvider::new(
            settings,
            std::sync::Arc::new(gitdrift::metrics::Metrics::new()),
        )
        .client(gitdrift::live::kube::Use::Requests)
        .await
        .unwrap();
        // A GET goes through.
        let version = client.apiserver_version().await.unwrap();
        assert_eq!(version.git_version, "v1.35.0");
        // A write never leaves the process, whatever asks for it.
        let api_cm: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
            kube::Api::namespaced(client.clone(), "shop");
        let cm: k8s_openapi::api::core::v1::ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": "x"}, "data": {"a": "b"}})).unwrap();
        #[allow(clippy::disallowed_methods)] // proving the guard refuses what clippy bans
        let created = api_cm.create(&Default::default(), &cm).await;
        let message = gitdrift::model::redact::error_chain(&created.unwrap_err());
        assert!(
            message.contains("gitdrift is read-only: refused POST"),
            "{message}"
        );
        #[allow(clippy::disallowed_methods)]
        let deleted = api_cm.delete("x", &Default::default()).await;
        let message = gitdrift::model::redact::error_chain(&deleted.unwrap_err());
        assert!(
            message.contains("refused DELETE /api/v1/namespaces/shop/configmaps/x"),
            "{message}"
        );
    });
    api.assert_read_only();
}

#[test]
fn the_test_server_refuses_and_journals_writes() {
    use std::io::{Read, Write};
    let api = KubeApi::start();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", api.port)).unwrap();
    stream
        .write_all(b"POST /api/v1/namespaces/shop/configmaps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 405"), "{response}");
    assert!(response.contains("\"kind\":\"Status\""), "{response}");
    let journal = api.journal();
    assert_eq!(journal.len(), 1);
    assert_eq!(
        (journal[0].method.as_str(), journal[0].status),
        ("POST", 405)
    );
}

#[test]
fn clippy_bans_every_write_method_of_the_kube_api() {
    let text = std::fs::read_to_string(project_root().join("clippy.toml")).unwrap();
    for method in [
        "create",
        "create_subresource",
        "replace",
        "replace_status",
        "replace_subresource",
        "replace_scale",
        "patch",
        "patch_status",
        "patch_subresource",
        "patch_scale",
        "patch_metadata",
        "delete",
        "delete_collection",
        "evict",
    ] {
        assert!(
            text.contains(&format!("path = \"kube::Api::{method}\"")),
            "clippy.toml must disallow kube::Api::{method}"
        );
    }
}

/// Reads the declared objects of the config's source for a target, as a scan would.
fn declared(config: &gitdrift::config::Config, cache: &Path) -> Vec<gitdrift::model::Declared> {
    config
        .sources
        .iter()
        .flat_map(|s| gitdrift::desired::read_source(config, s, cache).objects)
        .collect()
}

fn key(group: &str, kind: &str, namespace: &str, name: &str) -> gitdrift::model::ResourceKey {
    gitdrift::model::ResourceKey {
        group: group.into(),
        kind: kind.into(),
        namespace: Some(namespace.into()),
        name: name.into(),
    }
}

/// Waits (bounded) until the watched result for `key` satisfies `check`.
async fn until(
    watch: &gitdrift::judge::watch::WatchedTarget,
    key: &gitdrift::model::ResourceKey,
    check: impl Fn(Option<&gitdrift::judge::ResourceReport>) -> bool,
) -> Option<gitdrift::judge::ResourceReport> {
    let mut updates = watch.updates();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let current = watch.resource(key);
        if check(current.as_ref()) {
            return current;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(
            !left.is_zero(),
            "the watched result never changed as expected: {current:#?}"
        );
        let _ = tokio::time::timeout(left, updates.changed()).await;
    }
}

#[test]
fn watches_follow_edits_deletes_and_relist_after_410() {
    let api = KubeApi::start_tls();
    api.require_token(TOKEN_A);
    api.load(demo_live_objects());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    api.kubeconfig(&kubeconfig, "a", TOKEN_A);
    let repo = demo_repo(&kube_target("a", "a", &kubeconfig, ""), DEMO_SOURCE);
    let config = std::sync::Arc::new(
        gitdrift::config::Config::load(
            &repo.path().join("gitdrift.yaml"),
            &gitdrift::live::known(),
        )
        .unwrap(),
    );
    let declared = declared(&config, &dir.path().join("cache"));
    let web = key("apps", "Deployment", "shop", "web");
    let debug_cm = key("", "ConfigMap", "shop", "debug-settings");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let watch = gitdrift::judge::watch::WatchedTarget::start(
            config.clone(),
            std::sync::Arc::new(gitdrift::metrics::Metrics::new()),
            "a",
            declared,
        )
        .await
        .unwrap();
        assert!(
            watch.ready(std::time::Duration::from_secs(20)).await,
            "initial lists done"
        );
        let resources = watch.resources();
        assert_eq!(
            resources
                .iter()
                .filter(|r| r.status == gitdrift::diff::Status::Drifted)
                .count(),
            3
        );
        assert_eq!(
            watch.resource(&web).unwrap().drifts[0].path,
            "/spec/replicas"
        );

        // Someone scales web back to what git says: the watch delivers it, web is in sync.
        let mut scaled_back = demo_live_objects()
            .into_iter()
            .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "web")
            .unwrap();
        scaled_back["spec"]["replicas"] = json!(2);
        api.apply(scaled_back.clone());
        until(&watch, &web, |r| {
            r.is_some_and(|r| r.status == gitdrift::diff::Status::InSync)
        })
        .await;

        // A ConfigMap nobody declared appears: unmanaged; it goes: gone from the result.
        api.apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "debug-settings", "namespace": "shop"}, "data": {"x": "1"}}));
        until(&watch, &debug_cm, |r| {
            r.is_some_and(|r| r.status == gitdrift::diff::Status::Unmanaged)
        })
        .await;
        api.delete("v1", "ConfigMap", Some("shop"), "debug-settings");
        until(&watch, &debug_cm, |r| r.is_none()).await;

        // The server forgets its history and drops the watches; meanwhile web is scaled again.
        // Watching again from the old resourceVersion gets 410 Gone: the watcher lists again.
        let lists_before = api
            .journal()
            .iter()
            .filter(|j| j.path == "/apis/apps/v1/deployments" && !j.query.contains("watch"))
            .count();
        api.pause_watches();
        let mut scaled_again = scaled_back;
        scaled_again["spec"]["replicas"] = json!(7);
        api.apply(scaled_again);
        api.compact();
        api.resume_watches();
        let report = until(&watch, &web, |r| {
            r.is_some_and(|r| r.drifts.first().is_some_and(|d| d.live == json!(7)))
        })
        .await;
        assert_eq!(report.unwrap().status, gitdrift::diff::Status::Drifted);
        let lists_after = api
            .journal()
            .iter()
            .filter(|j| j.path == "/apis/apps/v1/deployments" && !j.query.contains("watch"))
            .count();
        assert!(api.expired_watches() >= 1, "a watch got 410 Gone");
        assert!(lists_after > lists_before, "a relist followed the 410");
        drop(watch);
    });
    let watches = api
        .journal()
        .iter()
        .filter(|j| j.query.contains("watch=true") && j.query.contains("allowWatchBookmarks=true"))
        .count();
    assert!(
        watches >= 2,
        "watches with bookmarks were opened: {:#?}",
        api.journal()
    );
    api.assert_read_only();
}

#[test]
fn snapshots_of_a_cluster_scan_like_the_cluster_and_never_hold_a_secret() {
    let api = KubeApi::start();
    api.require_token(TOKEN_A);
    api.load(demo_live_objects());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    api.kubeconfig(&kubeconfig, "a", TOKEN_A);
    let out = dir.path().join("snap");
    let targets = format!(
        "{}  - name: b\n    snapshot: {}\n",
        kube_target("a", "a", &kubeconfig, ""),
        out.display()
    );
    let sources = format!(
        "{DEMO_SOURCE}{}",
        DEMO_SOURCE
            .replace("name: shop", "name: shop-b")
            .replace("target: a", "target: b")
    );
    let repo = demo_repo(&targets, &sources);
    let run = gitdrift(
        repo.path(),
        &[
            "snapshot",
            "--target",
            "a",
            "--out",
            &out.display().to_string(),
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("wrote "), "{}", run.stdout);
    let mut all = String::new();
    for file in support::walk(&out) {
        all.push_str(&std::fs::read_to_string(&file).unwrap());
    }
    for secret in [
        "demo-only-not-a-real-password",
        "ZGVtby1vbmx5LW5vdC1hLXJlYWwtcGFzc3dvcmQ=",
        "c2hvcA==",
    ] {
        assert!(!all.contains(secret), "{secret} was written");
    }
    assert!(
        all.contains("gitdrift-digest:sha256:"),
        "markers stand in for secret values"
    );
    assert!(
        all.contains("\"f:replicas\""),
        "managedFields are written whole"
    );
    assert!(out.join("deployment.apps.json").exists());
    assert!(
        !out.join("pod.json").exists(),
        "only what a scan reads is written"
    );

    // The snapshot judges exactly like the cluster it came from, the Secret included.
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let judged = |target: &str| support::judged(&report, target);
    assert_eq!(judged("a"), judged("b"));
    assert_eq!(
        resource(&report, "b", "Secret", "postgres-credentials")["status"],
        "in_sync"
    );

    // A changed secret shows as changed, from the snapshot too, and still not its value.
    let mut secret = demo_live_objects()
        .into_iter()
        .find(|o| o["kind"] == "Secret")
        .unwrap();
    secret["data"]["password"] = json!("cm90YXRlZC1wYXNzd29yZC00MzIx");
    api.apply(secret);
    let run = gitdrift(
        repo.path(),
        &[
            "snapshot",
            "--target",
            "a",
            "--out",
            &out.display().to_string(),
        ],
        &[],
    );
    assert_eq!(run.code, 0);
    let run = gitdrift(
        repo.path(),
        &["scan", "--format", "json", "--target", "b"],
        &[],
    );
    let report = run.json();
    let secret = resource(&report, "b", "Secret", "postgres-credentials");
    assert_eq!(secret["status"], "drifted");
    assert_eq!(
        secret["drifts"],
        // Line 9: `password:` under git's stringData.
        json!([{"path": "/data/password", "desired": "<redacted>", "live": "<redacted>",
                "reason": "changed", "changed_by": "argocd-controller", "changed_at": "2026-11-02T10:20:31Z",
                "line": 9}])
    );
    assert!(!run.all().contains("cm90YXRlZC1wYXNzd29yZC00MzIx"));
    api.assert_read_only();
}

#[test]
fn a_slow_cluster_times_out_with_a_clear_error() {
    let api = KubeApi::start();
    api.require_token(TOKEN_A);
    api.set_delay(Some(std::time::Duration::from_secs(5)));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    api.kubeconfig(&kubeconfig, "slow", TOKEN_A);
    let repo = Repo::new();
    repo.write(
        "cm.yaml",
        &config_map("settings", "shop", &[("mode", "blue")]),
    );
    repo.commit("one");
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: s\n    repo: .\n    target: slow\ntargets:\n{}",
            kube_target(
                "slow",
                "slow",
                &kubeconfig,
                "      timeout: 1s\n      retries: 1\n"
            )
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2);
    assert!(
        started.elapsed().as_secs() < 20,
        "bounded by the timeout and the retries"
    );
    let message = run.json()["problems"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("cannot reach the cluster:"),
        "{message}"
    );
    assert!(
        message.to_lowercase().contains("timed out") || message.contains("timeout"),
        "{message}"
    );
    let attempts = api.journal().iter().filter(|j| j.path == "/apis").count();
    assert_eq!(attempts, 2, "one try and one retry: {:#?}", api.journal());
    api.set_delay(None);
    api.assert_read_only();
}

#[test]
fn a_kubeconfig_that_does_not_parse_is_reported_without_any_of_its_credentials() {
    let token = "kc7Qz2mVwX9pLr4tYbN8sHdJ3fGa6eUo";
    let password = "Pw-9dK2m-Lq7Zx4Vb";
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    // The token and password lines sit right next to the malformed line.
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: lab\nclusters:\n- name: lab\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: lab\n  context: {{cluster: lab, user: lab}}\nusers:\n- name: lab\n  user:\n    token: {token}\n    password: \"{password}\"\n    username: [ops: oops\n    client-key-data: {token}\n"
        ),
    )
    .unwrap();
    let repo = Repo::new();
    repo.write(
        "cm.yaml",
        &config_map("settings", "shop", &[("mode", "blue")]),
    );
    repo.commit("one");
    write_lab_config(&repo, &kubeconfig, "");
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    let problem = &run.json()["problems"][0];
    assert_eq!(problem["target"], "lab", "{problem}");
    assert!(
        problem["message"].as_str().unwrap().contains("line 16"),
        "the error says where: {problem}"
    );
    for format in ["json", "text", "markdown", "csv", "sarif"] {
        let run = gitdrift(repo.path(), &["scan", "--format", format], &[]);
        assert_eq!(run.code, 2, "{format}: {}", run.stderr);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            matches!(format, "csv" | "sarif") || all.contains(&kubeconfig.display().to_string()),
            "{format}: the error names the file: {all}"
        );
        for secret in [token, password] {
            for start in 0..secret.len() - 6 {
                let piece = &secret[start..start + 6];
                assert!(!all.contains(piece), "{format}: `{piece}` leaked: {all}");
            }
        }
    }
}

#[test]
fn an_object_nested_past_the_parser_limit_is_skipped_alone_and_named() {
    let api = KubeApi::start();
    api.require_token(TOKEN_A);
    api.serve("example.com", "v1", "Widget", "widgets", true);
    let mut deep = json!("bottom");
    for _ in 0..130 {
        deep = json!({ "a": deep });
    }
    api.load([
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": "deep", "namespace": "shop"}, "spec": {"size": 1}, "status": deep}),
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": "plain", "namespace": "shop"}, "spec": {"size": 1}}),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    api.kubeconfig(&kubeconfig, "lab", TOKEN_A);
    let repo = Repo::new();
    for name in ["deep", "plain"] {
        repo.write(
            &format!("{name}.yaml"),
            &format!("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {name}\n  namespace: shop\nspec:\n  size: 1\n"),
        );
    }
    repo.commit("widgets");
    write_lab_config(&repo, &kubeconfig, "      page_size: 1\n");
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    let report = run.json();
    assert_eq!(
        resource(&report, "lab", "Widget", "plain")["status"],
        "in_sync",
        "the rest of the kind is judged: {report}"
    );
    assert!(
        report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] != "deep"),
        "the skipped object is neither judged nor called missing: {report}"
    );
    assert!(
        report["unreadable"].as_array().unwrap().is_empty(),
        "{report}"
    );
    let warning = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "kube.object_skipped")
        .unwrap_or_else(|| panic!("a warning: {report}"));
    assert_eq!(warning["severity"], "warning");
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .starts_with("Widget shop/deep: skipped"),
        "{warning}"
    );
}

#[test]
fn a_clusters_own_openapi_schemas_give_the_defaults_of_its_custom_resources() {
    let api = KubeApi::start();
    api.serve("example.com", "v1", "Widget", "widgets", true);
    let applied = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop"},
        "spec": {"replicas": 3, "size": "small", "tier": "gold"}});
    api.load([json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop", "uid": "7d0e", "resourceVersion": "12",
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied.to_string()}},
        "spec": {"replicas": 3, "size": "small", "tier": "gold"}})]);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    api.kubeconfig(&kubeconfig, "lab", TOKEN_A);
    let repo = Repo::new();
    // Git dropped size and tier since the last apply.
    repo.write(
        "widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: shop\nspec:\n  replicas: 3\n",
    );
    repo.commit("widget");
    write_lab_config(&repo, &kubeconfig, "");
    let paths = |report: &Value| -> Vec<String> {
        resource(report, "lab", "Widget", "w")["drifts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["path"].as_str().unwrap().to_string())
            .collect()
    };
    // Without a published schema nothing says `small` is the default: both removals are drift.
    let before = gitdrift(repo.path(), &["scan", "--format", "json"], &[]).json();
    assert_eq!(paths(&before), ["/spec/size", "/spec/tier"]);

    // The cluster publishes the CRD's schema in /openapi/v3, as API servers do.
    api.openapi(
        "apis/example.com/v1",
        json!({"openapi": "3.0.0", "components": {"schemas": {"com.example.v1.Widget": {
            "type": "object",
            "description": "A widget.",
            "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Widget"}],
            "properties": {
                "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema."},
                "spec": {"type": "object", "properties": {
                    "replicas": {"type": "integer", "minimum": 0},
                    "size": {"type": "string", "default": "small", "enum": ["small", "large"]},
                    "tier": {"type": "string"}}}}}}}}),
    );
    let after = gitdrift(repo.path(), &["scan", "--format", "json"], &[]).json();
    assert_eq!(
        paths(&after),
        ["/spec/tier"],
        "size is the schema's default: a sync leaves it"
    );
    let widget = resource(&after, "lab", "Widget", "w");
    assert_eq!(widget["drifts"][0]["reason"], "removed_from_git");
    assert_eq!(
        widget["discounted"],
        json!([{"path": "/spec/size", "reason": "schema_default", "detail": "\"small\" is the default"}])
    );
    let journal = api.journal();
    assert!(journal.iter().any(|j| j.path == "/openapi/v3"));
    assert!(
        journal
            .iter()
            .any(|j| j.path == "/openapi/v3/apis/example.com/v1" && j.status == 200),
        "the group version read, and only its document"
    );
    assert!(!journal.iter().any(|j| j.path == "/openapi/v3/api/v1"));
    api.assert_read_only();
}

/// `unmanaged: {kinds: all}`: every kind the cluster serves with list and watch is listed
/// (discovery of every group), so an undeclared ConfigMap, a custom resource and a ClusterRole
/// are unmanaged; objects a controller owns (Pods, ReplicaSets) and the built-in exclusions
/// (Endpoints, Events, Leases) are not reported; a kind that cannot be listed is never asked for;
/// configured namespaces and `exclude_kinds` narrow and widen the scope as documented.
#[test]
fn unmanaged_kinds_all_finds_undeclared_objects_of_every_kind() {
    let api = KubeApi::start();
    api.require_token(TOKEN_A);
    api.serve("example.com", "v1", "Widget", "widgets", true);
    api.serve("coordination.k8s.io", "v1", "Lease", "leases", true);
    api.serve("events.k8s.io", "v1", "Event", "events", true);
    api.serve("", "v1", "Event", "events", true);
    api.serve_unlistable("authentication.k8s.io", "v1", "TokenReview", "tokenreviews");
    let owner = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u-1", "controller": true}]);
    api.load([
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": 1}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hand-made", "namespace": "shop"},
            "data": {"k": "v"}}),
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "gadget", "namespace": "shop"},
            "spec": {"size": 3}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "auditor"},
            "rules": []}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:controller:x"},
            "rules": []}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-5d8f", "namespace": "shop",
            "ownerReferences": owner}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-5d8f-x2", "namespace": "shop",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f", "uid": "u-2", "controller": true}]},
            "spec": {"containers": [{"name": "app", "image": "web:1"}]}}),
        json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "shop"}}),
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1", "namespace": "shop"}}),
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "web", "namespace": "shop"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "elsewhere", "namespace": "ops"},
            "data": {"k": "v"}}),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    write_kubeconfig(&kubeconfig, &[(&api, "lab", TOKEN_A)]);
    let repo = Repo::new();
    repo.write(
        "apps/web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 1\n",
    );
    repo.commit("web");
    let unmanaged = |extra: &str| -> Vec<String> {
        write_lab_config(&repo, &kubeconfig, extra);
        let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
        let report = run.json();
        assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
        let mut names: Vec<String> = report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == "unmanaged")
            .map(|r| {
                format!(
                    "{} {}",
                    r["kind"].as_str().unwrap(),
                    r["name"].as_str().unwrap()
                )
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        unmanaged("      unmanaged: {kinds: all}\n"),
        [
            "ClusterRole auditor",
            "ConfigMap hand-made",
            "Namespace shop",
            "Widget gadget"
        ],
        "every kind (the namespace git deploys into but does not declare too), less what controllers own and the exclusions"
    );
    assert!(
        !api.journal()
            .iter()
            .any(|j| j.path.contains("tokenreviews")),
        "a kind that cannot be listed is never asked for"
    );
    assert!(
        !api.journal()
            .iter()
            .any(|j| j.path.ends_with("/leases") || j.path.ends_with("/events")),
        "excluded kinds are not listed: {:#?}",
        api.journal()
    );
    assert_eq!(
        unmanaged(
            "      unmanaged:\n        kinds: all\n        exclude_kinds: [Widget.example.com]\n        namespaces: [ops]\n"
        ),
        [
            "ClusterRole auditor",
            "ConfigMap elsewhere",
            "ConfigMap hand-made",
            "Namespace shop"
        ],
        "a configured namespace is in scope; an excluded kind is not"
    );
    // Without `all`, only the kinds git declares (and those named) are read.
    assert_eq!(
        unmanaged("      unmanaged: {kinds: [ClusterRole.rbac.authorization.k8s.io]}\n"),
        ["ClusterRole auditor"]
    );
    api.assert_read_only();
}
