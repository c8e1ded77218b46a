//! End to end: the built binary scans temporary git repositories and snapshot folders.

mod support;

use serde_json::Value;
use support::{Repo, config_map, gitdrift, project_root, resource};

/// A repository holding the demo's manifests, and a config pointing at it and the demo snapshot.
fn demo_repo() -> (Repo, std::path::PathBuf) {
    let repo = Repo::new();
    repo.copy_dir(&project_root().join("examples/demo/gitops"), "gitops");
    repo.commit("shop manifests");
    let config = repo.path().join("gitdrift.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  - name: shop\n    repo: .\n    paths: [\"gitops/**\"]\n    target: demo\n    namespace: shop\ntargets:\n  - name: demo\n    snapshot: {}\ndrift:\n  ignore:\n    - {{group: apps, kind: Deployment, name: cart, paths: [\"/spec/replicas\"]}}\n",
            project_root().join("examples/demo/live").display()
        ),
    )
    .unwrap();
    (repo, config)
}

#[test]
fn demo_scan_finds_the_planted_drift_and_nothing_else() {
    let (repo, _) = demo_repo();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 1, "drift found → exit 1; stderr: {}", run.stderr);
    let report = run.json();
    assert_eq!(report["schema"], "gitdrift.report/v1");
    assert_eq!(report["scan"]["sources"][0]["commit"], repo.head());
    assert_eq!(
        report["summary"],
        serde_json::json!({
            "resources": 17, "in_sync": 12, "drifted": 3, "missing": 1, "unmanaged": 1,
            "drifts": 3, "unreadable": 0, "errors": 0, "warnings": 0,
            "health": {"healthy": 15, "degraded": 1, "missing": 1}
        }),
        "{}",
        run.stdout
    );

    let web = resource(&report, "Deployment", "web");
    assert_eq!(web["status"], "drifted");
    assert_eq!(web["namespace"], "shop");
    assert_eq!(web["source"]["file"], "gitops/apps/web/deployment.yaml");
    assert_eq!(web["source"]["line"], 1);
    assert_eq!(
        web["drifts"],
        serde_json::json!([{
            "path": "/spec/replicas", "desired": 2, "live": 5, "reason": "changed",
            "changed_by": "kubectl-scale", "changed_at": "2026-11-24T22:05:10Z", "line": 10
        }])
    );
    let cart = resource(&report, "Deployment", "cart");
    assert_eq!(
        cart["drifts"][0]["path"],
        "/spec/template/spec/containers/0/image"
    );
    assert_eq!(cart["drifts"][0]["changed_by"], "kubectl-set");
    assert_eq!(
        cart["drifts"].as_array().unwrap().len(),
        1,
        "replicas are ignored by rule"
    );
    let config = resource(&report, "ConfigMap", "web-config");
    assert_eq!(config["drifts"][0]["path"], "/data/LOG_LEVEL");
    assert_eq!(config["drifts"][0]["live"], "debug");
    assert_eq!(
        resource(&report, "ConfigMap", "feature-flags")["status"],
        "missing"
    );
    let debug = resource(&report, "Deployment", "debug-shell");
    assert_eq!(debug["status"], "unmanaged");
    assert_eq!(debug["source"], Value::Null);
    for (kind, name) in [
        ("Secret", "postgres-credentials"),
        ("StatefulSet", "postgres"),
        ("Service", "web"),
        ("Ingress", "shop"),
        ("NetworkPolicy", "cart-from-web"),
        ("Namespace", "shop"),
    ] {
        assert_eq!(
            resource(&report, kind, name)["status"],
            "in_sync",
            "{kind} {name}"
        );
    }
    assert_eq!(
        resource(&report, "Namespace", "shop")["namespace"],
        Value::Null
    );
    // Generated objects are never unmanaged.
    for (kind, name) in [
        ("ConfigMap", "kube-root-ca.crt"),
        ("ServiceAccount", "default"),
        ("Endpoints", "web"),
        ("ReplicaSet", "web-7d4b9c8f6"),
        ("PersistentVolumeClaim", "data-postgres-0"),
        ("Namespace", "kube-system"),
    ] {
        assert!(
            !report["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["kind"] == kind && r["name"] == name),
            "{kind} {name} must not be reported"
        );
    }
    // The demo Secret's values never leave the process.
    for secret in [
        "demo-only-not-a-real-password",
        "ZGVtby1vbmx5LW5vdC1hLXJlYWwtcGFzc3dvcmQ=",
    ] {
        assert!(!run.all().contains(secret));
    }
}

#[test]
fn the_readme_demo_config_scans_this_repository() {
    // The README's first command: the demo config reads this repository's own committed tree.
    let run = gitdrift(
        &project_root(),
        &[
            "scan",
            "--config",
            "examples/demo/gitdrift.yaml",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    // Three drifts, a missing and an unmanaged object in the cluster; three drifts, a missing
    // and an unmanaged resource in AWS.
    assert_eq!(report["summary"]["drifted"], 6);
    assert_eq!(report["summary"]["missing"], 2);
    assert_eq!(report["summary"]["unmanaged"], 2);
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    let all = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "all")
        .unwrap();
    assert_eq!(
        (&all["target"], &all["managed"]),
        (&"demo-aws".into(), &5.into())
    );
}

#[test]
fn text_report_shows_each_drift_with_who_and_when_and_no_colour_off_a_terminal() {
    let (repo, _) = demo_repo();
    let run = gitdrift(repo.path(), &["scan"], &[]);
    assert_eq!(run.code, 1);
    assert!(
        !run.stdout.contains('\u{1b}'),
        "no ANSI escapes when not a terminal"
    );
    assert!(
        run.stdout.contains("~ drifted    Deployment shop/web"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("live: 5  ← set by kubectl-scale at 2026-11-24T22:05:10Z")
    );
    assert!(
        run.stdout
            .contains("- missing    ConfigMap shop/feature-flags")
    );
    assert!(
        run.stdout
            .contains("+ unmanaged  Deployment shop/debug-shell")
    );
    assert!(run.stdout.contains(
        "17 resources: 12 in sync, 3 drifted, 1 missing, 1 unmanaged · 3 drifted fields · 0 errors"
    ));
    let forced = gitdrift(repo.path(), &["scan"], &[("CLICOLOR_FORCE", "1")]);
    assert!(
        forced.stdout.contains('\u{1b}'),
        "CLICOLOR_FORCE turns colour on"
    );
    let no_color = gitdrift(
        repo.path(),
        &["scan"],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
    );
    assert!(!no_color.stdout.contains('\u{1b}'), "NO_COLOR wins");
    let scrubbed = scrub(&run.stdout);
    insta::assert_snapshot!("demo_text_report", scrubbed);
}

/// Replaces the scan time, commit ids and temporary paths, which change between runs.
fn scrub(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.starts_with("gitdrift scan ") {
                "gitdrift scan [time]".to_string()
            } else if line.starts_with("  source ") || line.starts_with("  target ") {
                format!("{}: [location]", line.split(": ").next().unwrap_or(line))
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn only_the_committed_tree_at_the_ref_is_read() {
    let repo = Repo::new();
    repo.write(
        "apps/cm.yaml",
        &config_map("settings", "shop", &[("mode", "blue")]),
    );
    let main = repo.commit("blue");
    support::git(repo.path(), &["checkout", "-q", "-b", "green"]);
    repo.write(
        "apps/cm.yaml",
        &config_map("settings", "shop", &[("mode", "green")]),
    );
    let green = repo.commit("green");
    support::git(repo.path(), &["checkout", "-q", "main"]);
    // Uncommitted edit and an untracked file must not leak into the scan.
    repo.write(
        "apps/cm.yaml",
        &config_map("settings", "shop", &[("mode", "red")]),
    );
    repo.write("apps/untracked.yaml", &config_map("extra", "shop", &[]));
    let live = tempfile::tempdir().unwrap();
    std::fs::write(
        live.path().join("cm.yaml"),
        config_map("settings", "shop", &[("mode", "blue")]),
    )
    .unwrap();
    let config = |git_ref: &str| {
        format!(
            "sources:\n  - name: s\n    repo: {}\n{git_ref}    target: t\ntargets:\n  - name: t\n    snapshot: {}\n",
            repo.path().display(),
            live.path().display()
        )
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gitdrift.yaml"), config("")).unwrap();
    let run = gitdrift(dir.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 0, "HEAD (main) is in sync: {}", run.stdout);
    let report = run.json();
    assert_eq!(report["scan"]["sources"][0]["commit"], main);
    assert_eq!(
        report["summary"]["resources"], 1,
        "the untracked file is not read"
    );

    std::fs::write(dir.path().join("gitdrift.yaml"), config("    ref: green\n")).unwrap();
    let run = gitdrift(dir.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(report["scan"]["sources"][0]["commit"], green);
    assert_eq!(report["scan"]["sources"][0]["ref"], "green");
    assert_eq!(report["resources"][0]["drifts"][0]["desired"], "green");

    std::fs::write(
        dir.path().join("gitdrift.yaml"),
        config(&format!("    ref: {main}\n")),
    )
    .unwrap();
    let run = gitdrift(dir.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 0, "a commit id works as a ref");
}

#[test]
fn everything_in_sync_exits_zero() {
    let repo = Repo::new();
    repo.write(
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
    );
    repo.write(
        "cm.yaml",
        &config_map("settings", "shop", &[("mode", "blue")]),
    );
    repo.commit("init");
    let live = repo.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    std::fs::write(
        live.join("all.json"),
        r#"{"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","uid":"1","labels":{"kubernetes.io/metadata.name":"shop"}},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}},
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"shop","resourceVersion":"9"},"data":{"mode":"blue"}},
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-root-ca.crt","namespace":"shop"},"data":{"ca.crt":"x"}}
        ]}"#,
    )
    .unwrap();
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        "sources:\n  - name: s\n    repo: .\n    paths: [\"*.yaml\"]\n    target: t\ntargets:\n  - name: t\n    snapshot: live\n",
    )
    .unwrap();
    let run = gitdrift(repo.path(), &["scan"], &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("2 resources: 2 in sync, 0 drifted"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_label_removed_from_git_is_drift_through_a_snapshot_and_missing_attribution_is_told() {
    let repo = Repo::new();
    repo.write(
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    team: shop\n",
    );
    repo.commit("tier label dropped");
    let live = repo.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    // As `kubectl get -o yaml` writes it: the last-applied annotation, no managedFields.
    std::fs::write(
        live.join("ns.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n      {\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"annotations\":{},\"labels\":{\"team\":\"shop\",\"tier\":\"frontend\"},\"name\":\"shop\"}}\n  labels:\n    kubernetes.io/metadata.name: shop\n    team: shop\n    tier: frontend\nspec:\n  finalizers: [kubernetes]\n",
    )
    .unwrap();
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        "sources:\n  - name: s\n    repo: .\n    paths: [\"*.yaml\"]\n    target: t\ntargets:\n  - name: t\n    snapshot: live\n",
    )
    .unwrap();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let drifts = &report["resources"][0]["drifts"];
    assert_eq!(
        drifts,
        // Line 5: `labels:`, the nearest ancestor git still has.
        &serde_json::json!([{"path": "/metadata/labels/tier", "desired": null, "live": "frontend", "reason": "removed_from_git", "line": 5}]),
        "{report:#}"
    );
    assert_eq!(report["scan"]["targets"][0]["without_managed_fields"], 1);
    // The annotation itself never reaches a report.
    assert!(!run.stdout.contains("last-applied"), "{}", run.stdout);
    let text = gitdrift(repo.path(), &["scan"], &[]);
    assert!(
        text.stdout
            .contains("removed from git; the last apply set it"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("1 of them carry no managedFields: who changed what cannot be said"),
        "{}",
        text.stdout
    );
}

#[test]
fn bad_files_are_reported_with_file_and_line_and_the_rest_is_scanned() {
    let repo = Repo::new();
    repo.write("good.yaml", &config_map("good", "shop", &[("a", "1")]));
    repo.write(
        "broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n",
    );
    repo.write(
        "dupes.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\ndata:\n  k: a\n  k: b\n",
    );
    repo.write(
        "multi.yaml",
        &format!(
            "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: shop\n",
            config_map("first", "shop", &[])
        ),
    );
    repo.write("values.yaml", "replicaCount: 2\nimage:\n  tag: v1\n");
    repo.write("huge.yaml", &format!("# {}\n", "x".repeat(2048)));
    repo.write("bomb.yaml", "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n");
    repo.write("list.json", "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n  {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"from-json\", \"namespace\": \"shop\"}}\n]}\n");
    repo.commit("mixed");
    let live = repo.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    std::fs::write(
        live.join("good.yaml"),
        config_map("good", "shop", &[("a", "1")]),
    )
    .unwrap();
    std::fs::write(
        live.join("broken.json"),
        "{\"apiVersion\": \"v1\",\n  \"kind\": }",
    )
    .unwrap();
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        "sources:\n  - name: s\n    repo: .\n    exclude: [\"gitdrift.yaml\", \"live/**\"]\n    target: t\ntargets:\n  - name: t\n    snapshot: live\nlimits:\n  max_file_size: 1KiB\n",
    )
    .unwrap();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2, "errors → exit 2: {}", run.stdout);
    let report = run.json();
    let problems = report["problems"].as_array().unwrap();
    let find = |file: &str| {
        problems
            .iter()
            .find(|p| p["file"] == file)
            .unwrap_or_else(|| panic!("no problem for {file}: {problems:#?}"))
    };
    assert_eq!(find("broken.yaml")["severity"], "error");
    assert_eq!(find("broken.yaml")["code"], "manifest.syntax");
    assert_eq!(find("broken.yaml")["line"], 4);
    assert_eq!(find("broken.yaml")["source"], "s");
    assert_eq!(find("dupes.yaml")["line"], 7);
    assert!(
        find("dupes.yaml")["message"]
            .as_str()
            .unwrap()
            .contains("duplicate")
    );
    assert_eq!(find("multi.yaml")["line"], 8);
    assert_eq!(find("multi.yaml")["code"], "manifest.invalid_object");
    assert!(
        find("multi.yaml")["message"]
            .as_str()
            .unwrap()
            .contains("no metadata.name")
    );
    assert_eq!(find("values.yaml")["severity"], "note");
    assert!(
        find("huge.yaml")["message"]
            .as_str()
            .unwrap()
            .contains("over the limit")
    );
    assert!(
        find("bomb.yaml")["message"]
            .as_str()
            .unwrap()
            .contains("alias")
    );
    assert_eq!(find("broken.json")["target"], "t");
    assert_eq!(find("broken.json")["line"], 2);
    // The good objects were still judged.
    let names: Vec<&str> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["first", "from-json", "good"]);
    assert_eq!(report["resources"][2]["status"], "in_sync");
    assert_eq!(report["resources"][1]["source"]["line"], 2);
}

#[test]
fn configuration_errors_are_all_listed_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gitdrift.yaml"),
        "sources:\n  - name: s\n    repo: .\n    target: nowhere\n    pathz: [x]\ntargets:\n  - name: t\n    snapshots: ./live\nextra: 1\n",
    )
    .unwrap();
    for command in ["scan", "validate"] {
        let run = gitdrift(dir.path(), &[command], &[]);
        assert_eq!(run.code, 2, "{command}");
        assert!(run.stdout.is_empty(), "{command}: {}", run.stdout);
        for needle in [
            "gitdrift.yaml:4:13: source names target `nowhere`",
            "gitdrift.yaml:5:5: unknown key `pathz` in a source; did you mean `paths`?",
            "gitdrift.yaml:7:5: target needs a live state",
            "gitdrift.yaml:8:5: unknown key `snapshots` in a target; did you mean `snapshot`?",
            "gitdrift.yaml:9:1: unknown key `extra`",
        ] {
            assert!(
                run.stderr.contains(needle),
                "{command}: missing {needle:?} in:\n{}",
                run.stderr
            );
        }
    }
    let run = gitdrift(dir.path(), &["scan", "--config", "missing.yaml"], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cannot read configuration missing.yaml"),
        "{}",
        run.stderr
    );
}

#[test]
fn validate_checks_every_source_and_target() {
    let (repo, _) = demo_repo();
    let run = gitdrift(repo.path(), &["validate"], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("source shop: 16 objects in 10 files"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("is valid"));

    let config = std::fs::read_to_string(repo.path().join("gitdrift.yaml")).unwrap();
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        config
            .replace(
                "    target: demo\n",
                "    target: demo\n    ref: no-such-branch\n",
            )
            .replace("snapshot: /", "snapshot: /nonexistent/"),
    )
    .unwrap();
    let run = gitdrift(repo.path(), &["validate"], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout
            .contains("error [source shop]: ref `no-such-branch` not found"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("error [target demo] /nonexistent/"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("2 errors"), "{}", run.stdout);
}

#[test]
fn output_file_is_written_whole_and_stdout_stays_empty() {
    let (repo, _) = demo_repo();
    let run = gitdrift(
        repo.path(),
        &["scan", "--format", "json", "--output", "out/report.json"],
        &[],
    );
    assert_eq!(run.code, 2, "missing folder is an error");
    assert!(
        run.stderr.contains("cannot write out/report.json"),
        "{}",
        run.stderr
    );
    std::fs::create_dir(repo.path().join("out")).unwrap();
    let run = gitdrift(
        repo.path(),
        &["scan", "--format", "json", "--output", "out/report.json"],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    let text = std::fs::read_to_string(repo.path().join("out/report.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["summary"]["drifted"], 3);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(repo.path().join("out/report.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o644, "an ordinary, readable file");
    let run = gitdrift(
        repo.path(),
        &["scan", "-o", "out/report.txt"],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert_eq!(run.code, 1);
    let text = std::fs::read_to_string(repo.path().join("out/report.txt")).unwrap();
    assert!(!text.contains('\u{1b}'), "files get no colour");
    let leftovers: Vec<_> = std::fs::read_dir(repo.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");
    // A device is written to, never replaced.
    let run = gitdrift(repo.path(), &["scan", "--output", "/dev/null"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let null = std::fs::metadata("/dev/null").unwrap();
    assert!(
        std::os::unix::fs::FileTypeExt::is_char_device(&null.file_type()),
        "/dev/null is still a device"
    );
}

#[test]
fn secret_values_never_reach_any_output() {
    let repo = Repo::new();
    repo.write(
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\nstringData:\n  password: git-side-password-1234\n  user: app\n",
    );
    repo.write(
        "broken-secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: broken\nstringData:\n  token: \"unterminated-secret-token-5678\n",
    );
    repo.commit("secrets");
    let live = repo.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    // live-side-password-9876 / extra-key-value-4321, base64-encoded as the API returns them.
    std::fs::write(
        live.join("secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{\"stringData\":{\"password\":\"git-side-password-1234\"}}'\ntype: Opaque\ndata:\n  password: bGl2ZS1zaWRlLXBhc3N3b3JkLTk4NzY=\n  user: YXBw\n  extra: ZXh0cmEta2V5LXZhbHVlLTQzMjE=\n",
    )
    .unwrap();
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        "sources:\n  - name: s\n    repo: .\n    exclude: [\"live/**\", \"gitdrift.yaml\"]\n    target: t\ntargets:\n  - name: t\n    snapshot: live\n",
    )
    .unwrap();
    let forbidden = [
        "git-side-password-1234",
        "Z2l0LXNpZGUtcGFzc3dvcmQtMTIzNA==",
        "live-side-password-9876",
        "bGl2ZS1zaWRlLXBhc3N3b3JkLTk4NzY=",
        "extra-key-value-4321",
        "ZXh0cmEta2V5LXZhbHVlLTQzMjE=",
        "unterminated-secret-token-5678",
    ];
    for format in ["json", "text"] {
        let run = gitdrift(repo.path(), &["-vvv", "scan", "--format", format], &[]);
        assert_eq!(run.code, 2, "the broken file is an error");
        for secret in forbidden {
            assert!(
                !run.all().contains(secret),
                "{format}: {secret} leaked:\n{}",
                run.all()
            );
        }
        if format == "json" {
            let report = run.json();
            let db = &report["resources"][0];
            assert_eq!(db["name"], "db");
            let paths: Vec<&str> = db["drifts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["path"].as_str().unwrap())
                .collect();
            assert_eq!(paths, vec!["/data/password", "/data/extra"]);
            assert_eq!(db["drifts"][0]["desired"], "<redacted>");
            assert_eq!(db["drifts"][0]["live"], "<redacted>");
            assert_eq!(db["drifts"][1]["desired"], Value::Null);
        }
    }
}

#[test]
fn duplicate_declarations_and_stale_ignore_rules_are_reported() {
    let repo = Repo::new();
    repo.write("a.yaml", &config_map("settings", "shop", &[("mode", "a")]));
    repo.write("b.yaml", &config_map("settings", "shop", &[("mode", "b")]));
    repo.commit("dupes");
    let live = repo.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    std::fs::write(
        live.join("cm.yaml"),
        config_map("settings", "shop", &[("mode", "a")]),
    )
    .unwrap();
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        "sources:\n  - name: s\n    repo: .\n    paths: [\"?.yaml\"]\n    target: t\ntargets:\n  - name: t\n    snapshot: live\ndrift:\n  ignore:\n    - kind: Deployment\n      paths: [/spec/replicas]\n",
    )
    .unwrap();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2);
    let report = run.json();
    let problems = report["problems"].as_array().unwrap();
    let duplicate = problems
        .iter()
        .find(|p| p["message"].as_str().unwrap().contains("declared twice"))
        .expect("duplicate reported");
    assert_eq!(duplicate["file"], "b.yaml");
    assert_eq!(duplicate["code"], "judge.declared_twice");
    assert!(duplicate["message"].as_str().unwrap().contains("a.yaml:1"));
    assert_eq!(report["stale_ignore_rules"][0]["line"], 11);
    assert_eq!(
        report["resources"][0]["status"], "in_sync",
        "the first declaration is used"
    );
}

#[test]
fn version_and_usage() {
    let dir = tempfile::tempdir().unwrap();
    let run = gitdrift(dir.path(), &["version"], &[]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout.trim(),
        format!("gitdrift {}", env!("CARGO_PKG_VERSION"))
    );
    let run = gitdrift(dir.path(), &["scan", "--format", "yaml"], &[]);
    assert_eq!(run.code, 2, "bad arguments are an error");
    let run = gitdrift(dir.path(), &["--help"], &[]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("scan") && run.stdout.contains("validate"));
}

#[test]
fn an_unreadable_source_suppresses_unmanaged_for_its_target() {
    let repo = Repo::new();
    repo.write("a.yaml", &config_map("settings", "shop", &[("mode", "a")]));
    repo.commit("a");
    let live = repo.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    std::fs::write(
        live.join("cms.yaml"),
        format!(
            "{}---\n{}",
            config_map("settings", "shop", &[("mode", "a")]),
            config_map("declared-by-the-broken-source", "shop", &[])
        ),
    )
    .unwrap();
    let config = |second_ref: &str| {
        format!(
            "sources:\n  - name: good\n    repo: .\n    paths: [a.yaml]\n    target: t\n  - name: broken\n    repo: .\n    ref: {second_ref}\n    paths: [b.yaml]\n    target: t\ntargets:\n  - name: t\n    snapshot: live\n"
        )
    };
    std::fs::write(repo.path().join("gitdrift.yaml"), config("main")).unwrap();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(
        run.code, 1,
        "both sources read: the other ConfigMap is unmanaged"
    );
    assert_eq!(run.json()["summary"]["unmanaged"], 1);

    std::fs::write(repo.path().join("gitdrift.yaml"), config("no-such-ref")).unwrap();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2);
    let report = run.json();
    assert_eq!(report["summary"]["unmanaged"], 0);
    assert_eq!(report["summary"]["in_sync"], 1);
    let warning = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["severity"] == "warning")
        .expect("a warning says why");
    assert_eq!(warning["target"], "t");
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("source broken could not be read")
    );
}

#[test]
fn version_verbose_names_the_commit_and_the_render_tools_found() {
    let bin = tempfile::tempdir().unwrap();
    support::executable(
        bin.path(),
        "helm",
        "#!/bin/sh\n[ \"$1 $2\" = \"version --short\" ] && echo v3.16.2+g1a2b3c4\n",
    );
    let path = format!(
        "{}:{}",
        bin.path().display(),
        project_root().join(".venv-test/bin").display()
    );
    let run = gitdrift(
        &project_root(),
        &["version", "--verbose"],
        &[("PATH", &path)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(project_root())
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], format!("gitdrift {}", env!("CARGO_PKG_VERSION")));
    assert_eq!(lines[1], format!("commit: {head}"), "{}", run.stdout);
    assert!(lines[2].starts_with("built: 20"), "{}", run.stdout);
    assert!(
        run.stdout.contains("  kustomize: not found"),
        "{}",
        run.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  kubectl: ") && l.contains("(Client Version: v1.")),
        "{}",
        run.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  helm: ") && l.ends_with("(v3.16.2+g1a2b3c4)")),
        "{}",
        run.stdout
    );
    let plain = gitdrift(&project_root(), &["version"], &[]);
    assert_eq!(plain.stdout.trim(), lines[0], "one line without --verbose");
}

#[test]
fn explain_says_why_each_verdict_and_one_resource_in_full() {
    let (repo, _) = demo_repo();
    // Without --explain the JSON lists only the discounts of git's own fields.
    let plain = gitdrift(repo.path(), &["scan", "--format", "json"], &[]).json();
    let web = |report: &Value| -> Value {
        report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "Deployment" && r["name"] == "web")
            .cloned()
            .unwrap()
    };
    let reasons = |resource: &Value| -> Vec<(String, String)> {
        resource["discounted"]
            .as_array()
            .map(|d| {
                d.iter()
                    .map(|d| {
                        (
                            d["path"].as_str().unwrap().to_string(),
                            d["reason"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let quiet = reasons(&web(&plain));
    assert!(
        quiet.contains(&(
            "/spec/template/spec/containers/0/resources/requests/cpu".into(),
            "normalised".into()
        )),
        "{quiet:?}"
    );
    assert!(
        !quiet.iter().any(|(_, r)| r == "server_default"),
        "live-only defaults are listed only when explaining: {quiet:?}"
    );

    let explained = gitdrift(repo.path(), &["scan", "--format", "json", "--explain"], &[]).json();
    let all = reasons(&web(&explained));
    for (path, reason) in [
        ("/spec/strategy/type", "server_default"),
        ("/spec/template/spec/dnsPolicy", "server_default"),
        (
            "/spec/template/spec/containers/0/ports/0/protocol",
            "schema_default",
        ),
    ] {
        assert!(
            all.contains(&(path.to_string(), reason.to_string())),
            "{path} {reason} in {all:?}"
        );
    }
    let cart = explained["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "Deployment" && r["name"] == "cart")
        .unwrap();
    let ignored = cart["discounted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == "/spec/replicas")
        .expect("the ignored replicas are explained");
    assert_eq!(ignored["reason"], "ignored_by_rule");
    assert!(
        ignored["detail"]
            .as_str()
            .unwrap()
            .starts_with("drift.ignore rule at line "),
        "{ignored}"
    );

    // Text: one resource's full reasoning.
    let one = gitdrift(
        repo.path(),
        &["scan", "--explain", "deployment/shop/web"],
        &[],
    );
    assert_eq!(
        one.code, 1,
        "the exit code still says drift: {}",
        one.stderr
    );
    assert!(one.stdout.starts_with("target demo\n"), "{}", one.stdout);
    assert!(one.stdout.contains("/spec/replicas"), "{}", one.stdout);
    assert!(
        one.stdout.contains(
            "/spec/template/spec/containers/0/ports/0/protocol schema_default (\"TCP\" is the default)"
        ),
        "{}",
        one.stdout
    );
    assert!(one.stdout.contains("compliance:"), "{}", one.stdout);
    assert!(
        !one.stdout.contains("Deployment shop/cart"),
        "only the named resource"
    );
    let unknown = gitdrift(repo.path(), &["scan", "--explain", "Deployment/nope"], &[]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("no resource of the scan is Deployment/nope"),
        "{}",
        unknown.stderr
    );
    // Text: every resource, in-sync ones with discounts too.
    let text = gitdrift(repo.path(), &["scan", "--explain"], &[]);
    assert!(text.stdout.contains("= in sync"), "{}", text.stdout);
    assert!(text.stdout.contains("not drift:"), "{}", text.stdout);
}

#[test]
fn each_drift_names_its_line_in_git_and_with_a_history_how_long_it_has_lasted() {
    let (repo, _) = demo_repo();
    let data = repo.path().join("data");
    let data = data.to_str().unwrap();
    let first = gitdrift(
        repo.path(),
        &["scan", "--format", "json", "--data-dir", data],
        &[],
    );
    let first = first.json();
    let drift_of = |report: &Value, kind: &str, name: &str| -> Value {
        report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == kind && r["name"] == name)
            .unwrap()["drifts"][0]
            .clone()
    };
    // Lines: the field's key in git's file (`replicas:` is line 10 of the demo's Deployment;
    // the cart's image line 21 of a multi-document file; the ConfigMap's key line 7).
    assert_eq!(drift_of(&first, "Deployment", "web")["line"], 10);
    assert_eq!(drift_of(&first, "Deployment", "cart")["line"], 21);
    assert_eq!(drift_of(&first, "ConfigMap", "web-config")["line"], 7);
    let started = first["scan"]["started_at"].as_str().unwrap().to_string();
    assert_eq!(drift_of(&first, "Deployment", "web")["first_seen"], started);
    // SARIF points at the field's line.
    let sarif = gitdrift(repo.path(), &["scan", "--format", "sarif"], &[]).json();
    let result = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["ruleId"] == "gitdrift/drifted"
                && r["message"]["text"]
                    .as_str()
                    .unwrap()
                    .contains("/spec/replicas")
        })
        .expect("the replicas drift");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        10
    );
    // Without a history nothing is dated.
    assert!(
        drift_of(&sarif_free_json(&repo), "Deployment", "web")
            .get("first_seen")
            .is_none()
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = gitdrift(repo.path(), &["scan", "--data-dir", data], &[]);
    let line = second
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("/spec/replicas"))
        .unwrap_or_default();
    assert!(
        line.contains("gitops/apps/web/deployment.yaml:10  drifting for ")
            && line.contains(&format!("(since {}Z)", &started[..19])),
        "{}",
        second.stdout
    );
    let third = gitdrift(
        repo.path(),
        &["scan", "--format", "json", "--data-dir", data],
        &[],
    );
    assert_eq!(
        drift_of(&third.json(), "Deployment", "web")["first_seen"],
        started,
        "dated from the first scan while it lasts"
    );
}

fn sarif_free_json(repo: &Repo) -> Value {
    gitdrift(repo.path(), &["scan", "--format", "json"], &[]).json()
}

#[test]
fn deployment_status_is_reported_and_fails_the_scan_only_when_asked() {
    let repo = Repo::new();
    repo.write(
        "web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: web:1.5.0\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  namespace: shop\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: migrate:1.5.0\n",
    );
    repo.commit("web 1.5.0");
    let live = repo.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    // In sync with git, and not working: the new image never became available.
    std::fs::write(
        live.join("objects.yaml"),
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: web, namespace: shop, generation: 3}\n  spec:\n    replicas: 2\n    selector:\n      matchLabels: {app: web}\n    template:\n      metadata:\n        labels: {app: web}\n      spec:\n        containers:\n        - {name: web, image: 'web:1.5.0'}\n  status:\n    observedGeneration: 3\n    replicas: 3\n    updatedReplicas: 1\n    availableReplicas: 2\n    conditions:\n    - {type: Progressing, status: 'False', reason: ProgressDeadlineExceeded, message: 'ReplicaSet \"web-84c\" has timed out progressing.'}\n- apiVersion: batch/v1\n  kind: Job\n  metadata: {name: migrate, namespace: shop}\n  spec:\n    template:\n      spec:\n        restartPolicy: Never\n        containers:\n        - {name: migrate, image: 'migrate:1.5.0'}\n  status:\n    active: 1\n",
    )
    .unwrap();
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        "sources:\n  - name: s\n    repo: .\n    paths: [\"*.yaml\"]\n    target: t\ntargets:\n  - name: t\n    snapshot: live\naudit:\n  enabled: false\n",
    )
    .unwrap();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(
        run.code, 0,
        "in sync: the exit code is about drift; {}",
        run.stderr
    );
    let report = run.json();
    assert_eq!(
        report["summary"]["health"],
        serde_json::json!({"degraded": 1, "progressing": 1})
    );
    let web = resource(&report, "Deployment", "web");
    assert_eq!(web["status"], "in_sync");
    assert_eq!(
        web["health"],
        serde_json::json!({"status": "degraded", "reason": "the rollout exceeded its progress deadline (ProgressDeadlineExceeded: ReplicaSet \"web-84c\" has timed out progressing.)"})
    );
    assert_eq!(
        resource(&report, "Job", "migrate")["health"]["status"],
        "progressing"
    );
    let failing = gitdrift(repo.path(), &["scan", "--fail-on-health", "degraded"], &[]);
    assert_eq!(failing.code, 1, "{}", failing.stderr);
    // The text report lists the in-sync but unhealthy resources, degraded first.
    let lines: Vec<&str> = failing.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("health: 1 degraded, 1 progressing"))
        .unwrap_or_else(|| panic!("{}", failing.stdout));
    assert!(
        lines[at + 1]
            .trim_start()
            .starts_with("degraded    Deployment shop/web")
    );
    assert!(
        lines[at + 2]
            .trim_start()
            .starts_with("progressing Job shop/migrate")
    );
    assert!(
        failing
            .stdout
            .contains("  = in sync    Deployment shop/web"),
        "{}",
        failing.stdout
    );
    // SARIF and JUnit: a degraded declared resource is a failure, though in sync.
    let sarif = gitdrift(repo.path(), &["scan", "--format", "sarif"], &[]).json();
    let degraded: Vec<&Value> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "gitdrift/degraded")
        .collect();
    assert_eq!(degraded.len(), 1, "{sarif:#}");
    assert_eq!(degraded[0]["level"], "error");
    assert_eq!(
        degraded[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "web.yaml"
    );
    let junit = gitdrift(repo.path(), &["scan", "--format", "junit"], &[]);
    assert!(
        junit.stdout.contains("failures=\"1\"")
            && junit
                .stdout
                .contains("message=\"degraded: the rollout exceeded"),
        "{}",
        junit.stdout
    );
    let markdown = gitdrift(repo.path(), &["scan", "--format", "markdown"], &[]);
    assert!(
        markdown
            .stdout
            .contains("| degraded | t | Deployment shop/web |"),
        "{}",
        markdown.stdout
    );
    let typo = gitdrift(repo.path(), &["scan", "--fail-on-health", "sick"], &[]);
    assert_eq!(typo.code, 2, "{}", typo.stderr);
}

#[test]
fn snapshot_files_have_their_own_limit_and_large_lists_are_read_object_by_object() {
    let repo = Repo::new();
    let mut items = Vec::new();
    for i in 0..40 {
        let name = format!("cm-{i:02}");
        repo.write(
            &format!("apps/{name}.yaml"),
            &config_map(&name, "shop", &[("k", "v")]),
        );
        items.push(format!(
            "{{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"{name}\", \"namespace\": \"shop\"}}, \"data\": {{\"k\": \"v\"}}}}"
        ));
    }
    repo.commit("forty");
    let live = repo.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    // What `kubectl get configmaps -o json` writes: one list, here over the limit for files in git.
    let list = format!(
        "{{\n  \"apiVersion\": \"v1\",\n  \"items\": [\n    {}\n  ],\n  \"kind\": \"List\",\n  \"metadata\": {{\"resourceVersion\": \"\"}}\n}}\n",
        items.join(",\n    ")
    );
    assert!(list.len() > 4096, "{} bytes", list.len());
    // With a byte-order mark, as Windows PowerShell's `Out-File -Encoding utf8` writes one.
    std::fs::write(live.join("configmaps.json"), format!("\u{feff}{list}")).unwrap();
    let config = |limits: &str| {
        std::fs::write(
            repo.path().join("gitdrift.yaml"),
            format!("sources:\n  - name: s\n    repo: .\n    paths: [\"apps/**\"]\n    target: t\ntargets:\n  - name: t\n    snapshot: live\nlimits:\n{limits}"),
        )
        .unwrap();
    };
    config("  max_file_size: 4KiB\n");
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report = run.json();
    assert_eq!(report["summary"]["in_sync"], 40, "{:#}", report["summary"]);
    assert_eq!(report["problems"], Value::Array(Vec::new()));

    // Over the snapshot limit: an error that names the file and the key to raise. Other files
    // past the limit for files in git are refused as in git.
    std::fs::write(
        live.join("big.yaml"),
        format!(
            "# {}\n{}",
            "x".repeat(5000),
            config_map("cm-00", "shop", &[("k", "v")])
        ),
    )
    .unwrap();
    config("  max_file_size: 4KiB\n  max_snapshot_file_size: 2KiB\n");
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    for (file, key) in [
        ("configmaps.json", "raise limits.max_snapshot_file_size"),
        ("big.yaml", "raise limits.max_file_size"),
    ] {
        let problem = report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["file"] == file)
            .unwrap_or_else(|| panic!("{file}: {:#}", report["problems"]));
        assert_eq!(problem["code"], "manifest.too_large");
        let message = problem["message"].as_str().unwrap();
        assert!(message.contains(key), "{message}");
    }
    // A size that is not one is a configuration error naming the key.
    config("  max_snapshot_file_size: lots\n");
    let run = gitdrift(repo.path(), &["scan"], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("limits.max_snapshot_file_size: `lots` is not a size"),
        "{}",
        run.stderr
    );
}
