//! `gitdrift remediate` end to end: on the demo, the drift the configuration adopts becomes a
//! reviewable plan and a patch that `git apply` accepts, touching only the changed lines; once
//! applied and committed, a new scan finds those resources in sync. Nothing is adopted unless
//! asked; a plan reads git at the commit its scan read; rendered sources get suggestions, not
//! edits.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{Repo, git, gitdrift, kubectl, project_root};

const ADOPT: &str = "remediation:\n  adopt:\n    - kind: Deployment\n      name: web\n      paths: [/spec/replicas]\n    - kind: Deployment\n      name: cart\n    - kind: ConfigMap\n      name: web-config\n    - kind: ConfigMap\n      name: feature-flags\n  delete_missing: true\n";

fn demo(extra: &str) -> Repo {
    support::demo_repo(extra)
}

fn resource<'a>(report: &'a Value, kind: &str, name: &str) -> Option<&'a Value> {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind && r["name"] == name)
}

#[test]
fn adopted_drift_becomes_a_patch_that_applies_and_leaves_git_in_sync() {
    let repo = demo(ADOPT);
    let before: Vec<(String, String)> = [
        "apps/web/deployment.yaml",
        "apps/cart/cart.yaml",
        "apps/web/configmap.yaml",
    ]
    .iter()
    .map(|f| {
        let path = format!("gitops/{f}");
        (
            path.clone(),
            std::fs::read_to_string(repo.path().join(&path)).unwrap(),
        )
    })
    .collect();
    let run = gitdrift(
        repo.path(),
        &["remediate", "--plan", "--patch-out", "fix.patch"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    let plan = &run.stdout;
    for line in [
        "edit gitops/apps/web/deployment.yaml (source shop, target demo",
        "Deployment shop/web /spec/replicas: 2 -> 5  (set by kubectl-scale at 2026-11-24T22:05:10Z)",
        "Deployment shop/cart /spec/template/spec/containers/0/image: \"registry.example.com/shop/cart:2.8.0\" -> \"registry.example.com/shop/cart:2.8.1-hotfix\"",
        "ConfigMap shop/web-config /data/LOG_LEVEL: \"info\" -> \"debug\"",
        "ConfigMap shop/feature-flags: delete the declaration",
    ] {
        assert!(plan.contains(line), "{line} missing from the plan:\n{plan}");
    }
    // The unmanaged debug-shell is not proposed for anything.
    assert!(!plan.contains("debug-shell"), "{plan}");

    let patch = std::fs::read_to_string(repo.path().join("fix.patch")).unwrap();
    let check = Command::new("git")
        .args(["apply", "--check", "fix.patch"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}\n{patch}",
        String::from_utf8_lossy(&check.stderr)
    );
    git(repo.path(), &["apply", "fix.patch"]);
    // Only the changed lines differ: every other byte of the files is as it was.
    for (path, old) in &before {
        let new = std::fs::read_to_string(repo.path().join(path)).unwrap();
        let changed: Vec<(&str, &str)> = old
            .lines()
            .zip(new.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert!(changed.len() <= 2, "{path}: {changed:?}");
        assert!(!changed.is_empty(), "{path} unchanged");
        for (a, b) in changed {
            let indent = |s: &str| s.len() - s.trim_start().len();
            assert_eq!(indent(a), indent(b), "{path}: indentation kept");
            assert_eq!(a.split(':').next(), b.split(':').next(), "{path}: same key");
        }
    }
    let cart = std::fs::read_to_string(repo.path().join("gitops/apps/cart/cart.yaml")).unwrap();
    assert!(
        !cart.contains("feature-flags"),
        "the missing ConfigMap's declaration is gone"
    );
    git(repo.path(), &["add", "-A", "gitops"]);
    git(repo.path(), &["commit", "-qm", "adopt the live state"]);

    let scan = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    let report = scan.json();
    assert_eq!(
        resource(&report, "Deployment", "cart").unwrap()["status"],
        "in_sync"
    );
    assert_eq!(
        resource(&report, "ConfigMap", "web-config").unwrap()["status"],
        "in_sync"
    );
    assert!(resource(&report, "ConfigMap", "feature-flags").is_none());
    // Only the adopted path of web: its replicas; the rest of its drift stays.
    let web = resource(&report, "Deployment", "web").unwrap();
    assert!(
        !web["drifts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["path"] == "/spec/replicas"),
        "{web:#}"
    );

    // A second run has nothing left to change.
    let again = gitdrift(repo.path(), &["remediate", "--format", "json"], &[]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(
        again.json()["changes"],
        serde_json::json!([]),
        "{}",
        again.stdout
    );
}

#[test]
fn nothing_is_adopted_unless_asked() {
    let repo = demo("");
    let run = gitdrift(repo.path(), &["remediate", "--patch-out", "fix.patch"], &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("nothing to remediate"),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_to_string(repo.path().join("fix.patch")).unwrap(),
        ""
    );
}

#[test]
fn a_plan_reads_git_at_the_commit_its_scan_read() {
    let repo = demo(ADOPT);
    let scan = gitdrift(repo.path(), &["scan", "--data-dir", "data"], &[]);
    assert_eq!(scan.code, 1, "{}", scan.all());
    // Someone edits web's replicas in git after the scan.
    let path = repo.path().join("gitops/apps/web/deployment.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("replicas: 2", "replicas: 3", 1)).unwrap();
    repo.commit("three");
    // The plan comes from the stored scan, at its commit: still valid there.
    let run = gitdrift(
        repo.path(),
        &["remediate", "--data-dir", "data", "--format", "json"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    let plan = run.json();
    let files: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["file"].as_str().unwrap())
        .collect();
    assert!(
        files.contains(&"gitops/apps/web/deployment.yaml"),
        "{plan:#}"
    );
    // The same adoption planned from a fresh scan follows git's new value.
    let fresh = gitdrift(repo.path(), &["remediate", "--format", "json"], &[]);
    let plan = fresh.json();
    let web = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["fields"].as_array().unwrap())
        .find(|f| f["resource"] == "Deployment shop/web")
        .expect("web is still drifted");
    assert_eq!(web["git"], 3);
    assert_eq!(web["live"], 5);
}

/// A prod overlay of a base, as teams write them: a name prefix and namespace, an `images:`
/// entry, a patch file that sets the replicas, a JSON patch adding an env var.
fn overlay_repo() -> Repo {
    let repo = Repo::new();
    repo.write(
        "base/web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: web\n          image: registry.example.com/shop/web:1.0.0\n          env:\n            - name: LOG_LEVEL\n              value: info\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: blue\n",
    );
    repo.write("base/kustomization.yaml", "resources:\n  - web.yaml\n");
    repo.write(
        "overlays/prod/kustomization.yaml",
        "# Production.\nnamePrefix: prod-\nnamespace: shop-prod\nresources:\n  - ../../base\nimages:\n  - name: registry.example.com/shop/web\n    newTag: 1.0.3 # pinned by release\npatches:\n  - path: web.yaml\n  - target:\n      kind: Deployment\n      name: web\n    patch: |-\n      - op: add\n        path: /spec/template/spec/containers/0/env/-\n        value:\n          name: REGION\n          value: eu-west-1\n",
    );
    repo.write(
        "overlays/prod/web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          resources:\n            limits:\n              memory: 256Mi\n",
    );
    repo.commit("overlays");
    repo
}

#[test]
fn live_changes_to_an_overlays_objects_are_written_into_the_overlay_and_render_as_live() {
    let repo = overlay_repo();
    // Live: the overlay's render, changed by hand: a new image tag, six replicas, a debug log
    // level, a memory limit raised, a ConfigMap's value changed.
    let rendered = support::output_of(&kubectl(), &["kustomize", "overlays/prod"], repo.path());
    let mut live = support::as_live(&rendered);
    for object in &mut live {
        if object["kind"] == "Deployment" {
            object["spec"]["replicas"] = serde_json::json!(6);
            let container = &mut object["spec"]["template"]["spec"]["containers"][0];
            container["image"] = serde_json::json!("registry.example.com/shop/web:1.0.4");
            container["env"][0]["value"] = serde_json::json!("debug");
            container["resources"]["limits"]["memory"] = serde_json::json!("512Mi");
        } else {
            object["data"]["mode"] = serde_json::json!("green");
        }
    }
    support::write_list(&repo.path().join("live/objects.json"), &live);
    repo.write(
        "gitdrift.yaml",
        &format!(
            "sources:\n  - name: shop\n    repo: .\n    render: kustomize\n    paths: [overlays/prod]\n    target: lab\n    kustomize:\n      binary: {}\ntargets:\n  - name: lab\n    snapshot: ./live\nremediation:\n  adopt:\n    - namespace: shop-prod\n",
            kubectl().display()
        ),
    );
    let run = gitdrift(repo.path(), &["remediate", "--format", "json"], &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let plan = run.json();
    assert_eq!(plan["suggestions"], serde_json::json!([]), "{plan:#}");
    let notes: Vec<(String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["fields"].as_array().unwrap())
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["note"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let note_of = |path: &str| {
        notes
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, n)| n.as_str())
            .unwrap_or_else(|| panic!("{path} planned: {notes:?}"))
    };
    let container = "/spec/template/spec/containers/0";
    assert!(
        note_of(&format!("{container}/image"))
            .contains("`images:` entry for registry.example.com/shop/web"),
        "{notes:?}"
    );
    assert!(
        note_of("/spec/replicas").contains("`replicas:`"),
        "{notes:?}"
    );
    assert!(
        note_of(&format!("{container}/env/0/value")).contains("overlays/prod/web.yaml"),
        "{notes:?}"
    );
    assert!(
        note_of(&format!("{container}/resources/limits/memory")).contains("overlays/prod/web.yaml"),
        "{notes:?}"
    );
    assert!(
        note_of("/data/mode").contains("gitdrift-configmap-shop-prod-settings.yaml"),
        "{notes:?}"
    );
    // Applied as a patch, the overlay renders what runs, and a scan finds it in sync.
    let run = gitdrift(repo.path(), &["remediate", "--patch-out", "fix.patch"], &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    git(repo.path(), &["apply", "fix.patch"]);
    let kustomization =
        std::fs::read_to_string(repo.path().join("overlays/prod/kustomization.yaml")).unwrap();
    assert!(
        kustomization.starts_with("# Production.\nnamePrefix: prod-\n")
            && kustomization.contains("    newTag: 1.0.4 # pinned by release\n")
            && kustomization.contains("      - op: add\n"),
        "{kustomization}"
    );
    let patch = std::fs::read_to_string(repo.path().join("overlays/prod/web.yaml")).unwrap();
    assert!(patch.contains("              memory: 512Mi\n"), "{patch}");
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-qm", "adopt"]);
    let report = gitdrift(repo.path(), &["scan", "--format", "json"], &[]).json();
    for r in report["resources"].as_array().unwrap() {
        assert_eq!(r["status"], "in_sync", "{r:#}");
    }
    assert_eq!(report["summary"]["resources"], 2, "{report:#}");
}

#[test]
fn live_changes_to_a_charts_objects_are_traced_to_values_keys_and_written_there() {
    let repo = Repo::new();
    repo.write(
        "charts/shop/Chart.yaml",
        "apiVersion: v2\nname: shop\nversion: 1.2.0\n",
    );
    repo.write(
        "charts/shop/values.yaml",
        "replicaCount: 1\nimage:\n  repository: registry.example.com/shop/web\n  tag: 1.0.0\nlogLevel: info\nport: 8080\n",
    );
    repo.write(
        "charts/shop/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-web\n  labels:\n    tier: front\nspec:\n  replicas: {{ .Values.replicaCount }}\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: web\n          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n          env:\n            - name: LOG_LEVEL\n              value: {{ .Values.logLevel | quote }}\n          ports:\n            - containerPort: {{ .Values.port }}\n",
    );
    repo.write(
        "environments/prod/values.yaml",
        "# Production.\nreplicaCount: 3 # scaled for the launch\nimage:\n  tag: 1.0.3\n",
    );
    repo.commit("chart");
    let tools = tempfile::tempdir().unwrap();
    let helm = support::helm_stand_in(tools.path());
    let rendered = support::output_of(
        &helm,
        &[
            "template",
            "shop",
            "charts/shop",
            "--namespace",
            "shop-prod",
            "--values",
            "environments/prod/values.yaml",
        ],
        repo.path(),
    );
    let mut live = support::as_live(&rendered);
    for object in &mut live {
        object["metadata"]["namespace"] = serde_json::json!("shop-prod");
        object["spec"]["replicas"] = serde_json::json!(5);
        object["metadata"]["labels"]["tier"] = serde_json::json!("back");
        let container = &mut object["spec"]["template"]["spec"]["containers"][0];
        container["image"] = serde_json::json!("registry.example.com/shop/web:1.0.4");
        container["env"][0]["value"] = serde_json::json!("debug");
    }
    support::write_list(&repo.path().join("live/objects.json"), &live);
    repo.write(
        "gitdrift.yaml",
        &format!(
            "sources:\n  - name: shop\n    repo: .\n    render: helm\n    path: charts/shop\n    target: prod\n    helm:\n      release: shop\n      namespace: shop-prod\n      values_files: [environments/prod/values.yaml]\n      binary: {}\ntargets:\n  - name: prod\n    snapshot: ./live\nremediation:\n  adopt:\n    - namespace: shop-prod\n",
            helm.display()
        ),
    );
    let run = gitdrift(repo.path(), &["remediate", "--format", "json"], &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let plan = run.json();
    let fields = plan["changes"][0]["fields"].as_array().unwrap();
    let note_of = |path: &str| {
        fields
            .iter()
            .find(|f| f["path"] == path)
            .and_then(|f| f["note"].as_str())
            .unwrap_or_else(|| panic!("{path} written: {plan:#}"))
    };
    assert_eq!(plan["changes"].as_array().unwrap().len(), 1, "{plan:#}");
    assert_eq!(plan["changes"][0]["file"], "environments/prod/values.yaml");
    assert!(
        note_of("/spec/replicas").contains("`replicaCount`"),
        "{plan:#}"
    );
    assert!(
        note_of("/spec/template/spec/containers/0/image").contains("`image.tag`"),
        "{plan:#}"
    );
    assert!(
        note_of("/spec/template/spec/containers/0/env/0/value").contains("`logLevel`"),
        "{plan:#}"
    );
    // The label is written in the template: no key renders it.
    let label = plan["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["fields"][0]["path"] == "/metadata/labels/tier")
        .unwrap_or_else(|| panic!("{plan:#}"));
    assert!(
        label["reason"]
            .as_str()
            .unwrap()
            .contains("no values key holds the rendered value"),
        "{label:#}"
    );
    // Applied, the values file keeps its comments and the chart renders what runs.
    let run = gitdrift(repo.path(), &["remediate", "--patch-out", "fix.patch"], &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    git(repo.path(), &["apply", "fix.patch"]);
    let values =
        std::fs::read_to_string(repo.path().join("environments/prod/values.yaml")).unwrap();
    assert!(
        values.starts_with(
            "# Production.\nreplicaCount: 5 # scaled for the launch\nimage:\n  tag: 1.0.4\n"
        ) && values.contains("logLevel: debug"),
        "{values}"
    );
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-qm", "adopt"]);
    let report = gitdrift(repo.path(), &["scan", "--format", "json"], &[]).json();
    let web = &report["resources"][0];
    let paths: Vec<&str> = web["drifts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/metadata/labels/tier"], "{web:#}");
}

#[test]
fn the_local_provider_opens_updates_and_closes_one_branch_and_never_rewrites_anothers_commit() {
    let repo = demo(
        "remediation:\n  adopt:\n    - kind: Deployment\n      name: web\n      paths: [/spec/replicas]\n  provider: local\n",
    );
    let head = repo.head();
    let branch = "gitdrift/remediate/shop-demo";
    let run = gitdrift(
        repo.path(),
        &["remediate", "--open", "--patch-out", "plan.patch"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains(&format!("opened {branch} at ")),
        "{}",
        run.stdout
    );
    // The commit's diff is exactly the plan, on top of the scanned commit; the checkout is
    // untouched.
    let diff = git(repo.path(), &["diff", &head, branch]);
    let patch = std::fs::read_to_string(repo.path().join("plan.patch")).unwrap();
    let changed = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .map(str::to_string)
            .collect()
    };
    assert_eq!(changed(&diff), changed(&patch));
    assert_eq!(changed(&diff), vec!["-  replicas: 2", "+  replicas: 5"]);
    assert_eq!(
        git(repo.path(), &["rev-parse", &format!("{branch}~1")]).trim(),
        head
    );
    assert_eq!(repo.head(), head, "HEAD did not move");
    assert!(git(repo.path(), &["status", "--porcelain", "gitops"]).is_empty());
    let first = git(repo.path(), &["rev-parse", branch]).trim().to_string();

    // The same drift again: nothing changes.
    let again = gitdrift(repo.path(), &["remediate", "--open"], &[]);
    assert!(
        again
            .stdout
            .contains(&format!("unchanged {branch} at {first}")),
        "{}",
        again.stdout
    );

    // The drift changes (scaled again): gitdrift's commit is replaced.
    let live = repo.path().join("live/shop.yaml");
    let text = std::fs::read_to_string(&live).unwrap();
    let scaled = text.replacen("replicas: 5", "replicas: 7", 1);
    assert_ne!(scaled, text);
    std::fs::write(&live, &scaled).unwrap();
    let updated = gitdrift(repo.path(), &["remediate", "--open"], &[]);
    assert!(
        updated.stdout.contains(&format!("updated {branch} to ")),
        "{}",
        updated.stdout
    );
    let diff = git(repo.path(), &["diff", &head, branch]);
    assert_eq!(changed(&diff), vec!["-  replicas: 2", "+  replicas: 7"]);

    // Someone adds a commit to the branch: it is not rewritten.
    let worktree = tempfile::tempdir().unwrap();
    git(
        repo.path(),
        &[
            "worktree",
            "add",
            "-q",
            worktree.path().to_str().unwrap(),
            branch,
        ],
    );
    std::fs::write(worktree.path().join("NOTES"), "reviewed\n").unwrap();
    git(worktree.path(), &["add", "NOTES"]);
    git(worktree.path(), &["commit", "-qm", "review notes"]);
    let theirs = git(repo.path(), &["rev-parse", branch]).trim().to_string();
    std::fs::write(&live, scaled.replacen("replicas: 7", "replicas: 9", 1)).unwrap();
    let left = gitdrift(repo.path(), &["remediate", "--open"], &[]);
    assert!(left.stdout.contains("left alone"), "{}", left.stdout);
    assert_eq!(git(repo.path(), &["rev-parse", branch]).trim(), theirs);
    git(
        repo.path(),
        &[
            "worktree",
            "remove",
            "--force",
            worktree.path().to_str().unwrap(),
        ],
    );
    git(repo.path(), &["branch", "-D", branch]);

    // Opened again, then the drift goes away: the branch is closed (deleted).
    let opened = gitdrift(repo.path(), &["remediate", "--open"], &[]);
    assert!(opened.stdout.contains("opened"), "{}", opened.stdout);
    std::fs::write(&live, text.replacen("replicas: 5", "replicas: 2", 1)).unwrap();
    let closed = gitdrift(repo.path(), &["remediate", "--open"], &[]);
    assert!(
        closed.stdout.contains(&format!("closed {branch}")),
        "{}",
        closed.stdout
    );
    assert!(
        git(repo.path(), &["branch", "--list", branch])
            .trim()
            .is_empty()
    );
}

const GITHUB_TOKEN: &str = "ghp_stubtoken0123456789";

fn github_repo(stub: &support::hosting::HostingStub) -> Repo {
    let repo = demo(&format!(
        "remediation:\n  adopt:\n    - kind: Deployment\n      name: web\n      paths: [/spec/replicas]\n  provider: github\n  github:\n    api_url: {}\n    repository: acme/shop\n    token_env: GITDRIFT_TEST_GITHUB_TOKEN\n    labels: [gitdrift, drift]\n",
        stub.url()
    ));
    let tree = git(repo.path(), &["rev-parse", "HEAD^{tree}"]);
    stub.seed("acme/shop", &repo.head(), tree.trim());
    repo
}

fn open(repo: &Repo) -> support::Run {
    let run = gitdrift(
        repo.path(),
        &["remediate", "--open"],
        &[("GITDRIFT_TEST_GITHUB_TOKEN", GITHUB_TOKEN)],
    );
    assert!(!run.all().contains(GITHUB_TOKEN), "the token never shows");
    run
}

#[test]
fn the_github_provider_opens_updates_and_closes_one_pull_request() {
    let stub = support::hosting::HostingStub::start(GITHUB_TOKEN);
    let repo = github_repo(&stub);
    let branch = "gitdrift/remediate/shop-demo";
    let original =
        std::fs::read_to_string(repo.path().join("gitops/apps/web/deployment.yaml")).unwrap();

    let run = open(&repo);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("opened http://stub/acme/shop/pull/1"),
        "{}",
        run.stdout
    );
    let state = stub.state("acme/shop");
    let pull = &state["pulls"][0];
    assert_eq!(pull["state"], "open");
    assert_eq!(pull["head"]["ref"], branch);
    assert_eq!(pull["base"]["ref"], "main");
    assert_eq!(pull["labels"], serde_json::json!(["drift", "gitdrift"]));
    assert_eq!(
        pull["title"],
        "gitdrift: adopt the live state of 1 field on demo"
    );
    let body = pull["body"].as_str().unwrap();
    // By file: what the file is, where each field went, the resource's change as a diff.
    assert!(
        body.contains("### `gitops/apps/web/deployment.yaml` (manifest)\n"),
        "{body}"
    );
    assert!(
        body.contains("| Deployment shop/web | `/spec/replicas` | `2` | `5` | kubectl-scale | 2026-11-24T22:05:10Z | edited in place (line "),
        "{body}"
    );
    assert!(
        body.contains(
            "```diff\n  Deployment shop/web\n- /spec/replicas: 2\n+ /spec/replicas: 5\n```"
        ),
        "{body}"
    );
    assert!(body.contains(&repo.head()), "the scanned commit: {body}");
    // The commit: on the scanned commit, by gitdrift, with the edited file only.
    let tip = state["refs"][branch].as_str().unwrap().to_string();
    let commit = &state["commits"][&tip];
    assert_eq!(commit["parents"], serde_json::json!([repo.head()]));
    assert_eq!(commit["author"]["email"], "gitdrift@localhost");
    let tree = &state["trees"][commit["tree"].as_str().unwrap()];
    let entries = tree["entries"].as_object().unwrap();
    assert_eq!(entries.len(), 1, "{tree}");
    let blob_calls: Vec<Value> = stub
        .calls()
        .into_iter()
        .filter(|c| c["path"] == "/repos/acme/shop/git/blobs")
        .collect();
    assert_eq!(blob_calls.len(), 1);
    let content = blob_calls[0]["json"]["content"].as_str().unwrap();
    assert_eq!(content, original.replacen("replicas: 2", "replicas: 5", 1));
    // Every call authenticated, in GitHub's media type and API version; none to the default branch.
    for call in stub.calls() {
        assert_eq!(
            call["authorization"],
            format!("Bearer {GITHUB_TOKEN}"),
            "{call}"
        );
        assert_eq!(call["accept"], "application/vnd.github+json", "{call}");
        assert_eq!(call["api_version"], "2022-11-28", "{call}");
        assert!(
            !call["path"].as_str().unwrap().ends_with("/refs/heads/main"),
            "{call}"
        );
    }

    // The same drift: nothing written.
    let before = stub.calls().len();
    let again = open(&repo);
    assert!(
        again
            .stdout
            .contains("unchanged http://stub/acme/shop/pull/1"),
        "{}",
        again.stdout
    );
    let writes: Vec<Value> = stub.calls()[before..]
        .iter()
        .filter(|c| {
            let p = c["path"].as_str().unwrap();
            c["method"] != "GET" && !p.ends_with("/git/blobs") && !p.ends_with("/git/trees")
        })
        .cloned()
        .collect();
    assert!(writes.is_empty(), "a rerun writes nothing: {writes:#?}");

    // The drift changes: gitdrift's commit is replaced, the description follows.
    let live = repo.path().join("live/shop.yaml");
    let text = std::fs::read_to_string(&live).unwrap();
    std::fs::write(&live, text.replacen("replicas: 5", "replicas: 7", 1)).unwrap();
    let updated = open(&repo);
    assert!(
        updated
            .stdout
            .contains("updated http://stub/acme/shop/pull/1"),
        "{}",
        updated.stdout
    );
    let state = stub.state("acme/shop");
    assert_ne!(state["refs"][branch], tip.as_str());
    assert!(
        state["pulls"][0]["body"]
            .as_str()
            .unwrap()
            .contains("| `2` | `7` |")
    );
    assert_eq!(
        state["pulls"].as_array().unwrap().len(),
        1,
        "still one pull request"
    );

    // The drift is gone: the pull request is closed with a comment, the branch deleted.
    std::fs::write(&live, text.replacen("replicas: 5", "replicas: 2", 1)).unwrap();
    let closed = open(&repo);
    assert!(
        closed
            .stdout
            .contains("closed http://stub/acme/shop/pull/1"),
        "{}",
        closed.stdout
    );
    let state = stub.state("acme/shop");
    assert_eq!(state["pulls"][0]["state"], "closed");
    assert!(
        state["comments"]["1"][0]["body"]
            .as_str()
            .unwrap()
            .contains("drift")
    );
    assert!(state["refs"].get(branch).is_none());

    // Drift again: a new pull request; then a reviewer commits to its branch: left alone, said
    // once, never force-pushed.
    std::fs::write(&live, text.replacen("replicas: 5", "replicas: 6", 1)).unwrap();
    let reopened = open(&repo);
    assert!(
        reopened
            .stdout
            .contains("opened http://stub/acme/shop/pull/2"),
        "{}",
        reopened.stdout
    );
    let theirs = stub.foreign_commit("acme/shop", branch);
    std::fs::write(&live, text.replacen("replicas: 5", "replicas: 8", 1)).unwrap();
    let before = stub.calls().len();
    for _ in 0..2 {
        let left = open(&repo);
        assert!(left.stdout.contains("left alone"), "{}", left.stdout);
    }
    let state = stub.state("acme/shop");
    assert_eq!(state["refs"][branch], theirs.as_str());
    assert_eq!(
        state["comments"]["2"].as_array().unwrap().len(),
        1,
        "said once"
    );
    let pushes: Vec<Value> = stub.calls()[before..]
        .iter()
        .filter(|c| {
            c["method"] != "GET"
                && (c["path"].as_str().unwrap().contains("/git/refs")
                    || c["path"].as_str().unwrap().ends_with("/git/commits"))
        })
        .cloned()
        .collect();
    assert!(
        pushes.is_empty(),
        "no commit and no branch update: {pushes:#?}"
    );
}

#[test]
fn a_wrong_or_missing_github_token_is_a_clear_error_that_never_shows_it() {
    let stub = support::hosting::HostingStub::start(GITHUB_TOKEN);
    let repo = github_repo(&stub);
    let missing = gitdrift(repo.path(), &["remediate", "--open"], &[]);
    assert_eq!(missing.code, 2, "{}", missing.all());
    assert!(
        missing.stderr.contains("GITDRIFT_TEST_GITHUB_TOKEN"),
        "{}",
        missing.stderr
    );
    let wrong = gitdrift(
        repo.path(),
        &["remediate", "--open"],
        &[("GITDRIFT_TEST_GITHUB_TOKEN", "ghp_wrong_token_987")],
    );
    assert_eq!(wrong.code, 2, "{}", wrong.all());
    assert!(
        wrong.stderr.contains("401") && wrong.stderr.contains("Bad credentials"),
        "{}",
        wrong.stderr
    );
    assert!(!wrong.all().contains("ghp_wrong_token_987"));
    assert!(
        stub.state("acme/shop")["pulls"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_gitlab_provider_opens_updates_and_closes_one_merge_request() {
    let stub = support::hosting::HostingStub::start(GITHUB_TOKEN);
    let repo = demo(&format!(
        "remediation:\n  adopt:\n    - kind: Deployment\n      name: web\n      paths: [/spec/replicas]\n  provider: gitlab\n  gitlab:\n    api_url: {}/api/v4\n    repository: acme/shop\n    token_env: GITDRIFT_TEST_GITHUB_TOKEN\n    labels: [gitdrift]\n",
        stub.url()
    ));
    stub.seed_gitlab("acme/shop", &repo.head());
    let branch = "gitdrift/remediate/shop-demo";
    let original =
        std::fs::read_to_string(repo.path().join("gitops/apps/web/deployment.yaml")).unwrap();

    let run = open(&repo);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("opened http://stub/"), "{}", run.stdout);
    let state = stub.state("acme/shop");
    let mr = &state["mrs"][0];
    assert_eq!(mr["state"], "opened");
    assert_eq!(mr["source_branch"], branch);
    assert_eq!(mr["target_branch"], "main");
    assert_eq!(mr["labels"], serde_json::json!(["gitdrift"]));
    assert!(
        mr["description"]
            .as_str()
            .unwrap()
            .contains("| `2` | `5` |")
    );
    let tip = state["branches"][branch].as_str().unwrap().to_string();
    let commit = &state["gl_commits"][&tip];
    assert_eq!(commit["parent_ids"], serde_json::json!([repo.head()]));
    assert_eq!(commit["author_email"], "gitdrift@localhost");
    assert_eq!(
        commit["files"]["gitops/apps/web/deployment.yaml"],
        original.replacen("replicas: 2", "replicas: 5", 1)
    );
    for call in stub.calls() {
        assert_eq!(call["private_token"], GITHUB_TOKEN, "{call}");
        assert!(
            call["path"]
                .as_str()
                .unwrap()
                .starts_with("/api/v4/projects/acme%2Fshop"),
            "{call}"
        );
    }

    let before = stub.calls().len();
    let again = open(&repo);
    assert!(again.stdout.contains("unchanged"), "{}", again.stdout);
    assert!(
        stub.calls()[before..].iter().all(|c| c["method"] == "GET"),
        "a rerun only reads"
    );

    let live = repo.path().join("live/shop.yaml");
    let text = std::fs::read_to_string(&live).unwrap();
    std::fs::write(&live, text.replacen("replicas: 5", "replicas: 7", 1)).unwrap();
    let updated = open(&repo);
    assert!(updated.stdout.contains("updated"), "{}", updated.stdout);
    let state = stub.state("acme/shop");
    assert_ne!(state["branches"][branch], tip.as_str());
    assert!(
        state["mrs"][0]["description"]
            .as_str()
            .unwrap()
            .contains("| `2` | `7` |")
    );

    std::fs::write(&live, text.replacen("replicas: 5", "replicas: 2", 1)).unwrap();
    let closed = open(&repo);
    assert!(closed.stdout.contains("closed"), "{}", closed.stdout);
    let state = stub.state("acme/shop");
    assert_eq!(state["mrs"][0]["state"], "closed");
    assert_eq!(state["notes"]["1"].as_array().unwrap().len(), 1);
    assert!(state["branches"].get(branch).is_none());

    std::fs::write(&live, text.replacen("replicas: 5", "replicas: 6", 1)).unwrap();
    assert!(open(&repo).stdout.contains("opened"));
    let theirs = stub.foreign_commit("acme/shop", branch);
    std::fs::write(&live, text.replacen("replicas: 5", "replicas: 8", 1)).unwrap();
    for _ in 0..2 {
        let left = open(&repo);
        assert!(left.stdout.contains("left alone"), "{}", left.stdout);
    }
    let state = stub.state("acme/shop");
    assert_eq!(state["branches"][branch], theirs.as_str());
    assert_eq!(
        state["notes"]["2"].as_array().unwrap().len(),
        1,
        "said once"
    );
}

#[test]
fn the_gitea_provider_keeps_its_branch_equal_to_the_current_plan() {
    let stub = support::hosting::HostingStub::start(GITHUB_TOKEN);
    let repo = demo(&format!(
        "remediation:\n  adopt:\n    - kind: Deployment\n  provider: gitea\n  gitea:\n    api_url: {}/api/v1\n    repository: acme/shop\n    token_env: GITDRIFT_TEST_GITHUB_TOKEN\n    labels: [gitdrift]\n",
        stub.url()
    ));
    let web_file = "gitops/apps/web/deployment.yaml";
    let cart_file = "gitops/apps/cart/cart.yaml";
    let read = |f: &str| std::fs::read_to_string(repo.path().join(f)).unwrap();
    let (web, cart) = (read(web_file), read(cart_file));
    stub.seed_gitea(
        "acme/shop",
        &repo.head(),
        &[(web_file, web.clone()), (cart_file, cart.clone())],
    );
    let branch = "gitdrift/remediate/shop-demo";
    let run = open(&repo);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("opened http://stub/acme/shop/pulls/1"),
        "{}",
        run.stdout
    );
    let state = stub.state("acme/shop");
    let pull = &state["gt_pulls"][0];
    assert_eq!(pull["labels"], serde_json::json!(["gitdrift"]));
    let tip = state["gt_branches"][branch].as_str().unwrap();
    let files = &state["gt_commits"][tip]["files"];
    assert_eq!(
        files[web_file],
        web.replacen("replicas: 2", "replicas: 5", 1)
    );
    assert!(files[cart_file].as_str().unwrap().contains("2.8.1-hotfix"));
    assert_eq!(
        state["gt_commits"][tip]["author"]["email"],
        "gitdrift@localhost"
    );
    for call in stub.calls() {
        assert_eq!(
            call["authorization"],
            format!("token {GITHUB_TOKEN}"),
            "{call}"
        );
    }

    // Rerun: nothing committed.
    let again = open(&repo);
    assert!(again.stdout.contains("unchanged"), "{}", again.stdout);
    assert_eq!(stub.state("acme/shop")["gt_branches"][branch], tip);

    // The cart's hotfix reaches git another way: the plan is web only, and the branch puts the
    // cart's file back as it is at the scanned commit.
    let live = repo.path().join("live/shop.yaml");
    let text = std::fs::read_to_string(&live).unwrap();
    let cart_fixed =
        text.replace("cart:2.8.1-hotfix", "cart:2.8.0")
            .replacen("replicas: 4", "replicas: 2", 1);
    std::fs::write(&live, &cart_fixed).unwrap();
    let updated = open(&repo);
    assert!(updated.stdout.contains("updated"), "{}", updated.stdout);
    let state = stub.state("acme/shop");
    let tip = state["gt_branches"][branch].as_str().unwrap();
    let files = &state["gt_commits"][tip]["files"];
    assert_eq!(files[cart_file], cart);
    assert_eq!(
        files[web_file],
        web.replacen("replicas: 2", "replicas: 5", 1)
    );
    assert_eq!(state["gt_pulls"].as_array().unwrap().len(), 1);

    // Drift gone: closed with a comment, branch deleted.
    std::fs::write(&live, cart_fixed.replacen("replicas: 5", "replicas: 2", 1)).unwrap();
    let closed = open(&repo);
    assert!(closed.stdout.contains("closed"), "{}", closed.stdout);
    let state = stub.state("acme/shop");
    assert_eq!(state["gt_pulls"][0]["state"], "closed");
    assert!(state["gt_branches"].get(branch).is_none());

    // Drift again, and a reviewer's commit on the new branch: left alone, said once.
    std::fs::write(&live, &cart_fixed).unwrap();
    assert!(open(&repo).stdout.contains("opened"));
    let theirs = stub.foreign_commit("acme/shop", branch);
    std::fs::write(&live, cart_fixed.replacen("replicas: 5", "replicas: 9", 1)).unwrap();
    for _ in 0..2 {
        let left = open(&repo);
        assert!(left.stdout.contains("left alone"), "{}", left.stdout);
    }
    let state = stub.state("acme/shop");
    assert_eq!(state["gt_branches"][branch], theirs.as_str());
    assert_eq!(
        state["gt_comments"]["2"].as_array().unwrap().len(),
        1,
        "said once"
    );
}

#[test]
fn aws_declarations_are_edited_in_place_too() {
    let repo = Repo::new();
    repo.copy_dir(&project_root().join("examples/demo/aws"), "aws");
    repo.commit("declarations");
    repo.copy_dir(&project_root().join("examples/demo/aws-live"), "aws-live");
    repo.write(
        "gitdrift.yaml",
        "sources:\n  - name: network\n    repo: .\n    paths: [\"aws/**\"]\n    target: prod\n    region: eu-west-1\ntargets:\n  - name: prod\n    snapshot: ./aws-live\nremediation:\n  adopt:\n    - kind: AWS::EC2::Instance\n    - kind: AWS::EC2::SecurityGroup\n",
    );
    let run = gitdrift(repo.path(), &["remediate", "--patch-out", "aws.patch"], &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains("/MetadataOptions/HttpTokens: \"required\" -> \"optional\""),
        "{}",
        run.stdout
    );
    git(repo.path(), &["apply", "aws.patch"]);
    let text = std::fs::read_to_string(repo.path().join("aws/network.yaml")).unwrap();
    assert!(
        text.contains("MetadataOptions: {HttpTokens: optional}   # IMDSv2 only"),
        "{text}"
    );
    git(repo.path(), &["add", "aws"]);
    git(repo.path(), &["commit", "-qm", "adopt"]);
    let report = gitdrift(repo.path(), &["scan", "--format", "json"], &[]).json();
    for r in report["resources"].as_array().unwrap() {
        if r["kind"] == "AWS::EC2::Instance" || r["kind"] == "AWS::EC2::SecurityGroup" {
            assert_ne!(r["status"], "drifted", "{r:#}");
        }
    }
}

#[test]
fn unmanaged_resources_are_imported_as_new_manifests_when_asked_and_secrets_never() {
    let repo = demo(
        "remediation:\n  adopt:\n    - kind: Deployment\n      name: debug-shell\n    - kind: Secret\n  import_unmanaged: true\n",
    );
    // An unmanaged Secret beside the unmanaged Deployment.
    repo.write(
        "live/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: hand-made\n  namespace: shop\ndata:\n  password: aHVudGVyMg==\n",
    );
    let run = gitdrift(
        repo.path(),
        &["remediate", "--patch-out", "import.patch"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains("Deployment shop/debug-shell: import it from the live state"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Secret shop/hand-made") && run.stdout.contains("never imported"),
        "{}",
        run.stdout
    );
    let patch = std::fs::read_to_string(repo.path().join("import.patch")).unwrap();
    assert!(
        !patch.contains("aHVudGVyMg"),
        "no secret value in the patch"
    );
    git(repo.path(), &["apply", "import.patch"]);
    let imported = repo
        .path()
        .join("gitops/gitdrift-imported/deployment.apps_shop_debug-shell.yaml");
    let text = std::fs::read_to_string(&imported).unwrap();
    for server_field in [
        "managedFields",
        "resourceVersion",
        "uid:",
        "creationTimestamp",
        "status:",
    ] {
        assert!(!text.contains(server_field), "{server_field} in {text}");
    }
    git(repo.path(), &["add", "gitops"]);
    git(repo.path(), &["commit", "-qm", "import debug-shell"]);
    let report = gitdrift(repo.path(), &["scan", "--format", "json"], &[]).json();
    let shell = resource(&report, "Deployment", "debug-shell").unwrap();
    assert_eq!(shell["status"], "in_sync", "{shell:#}");
    assert_eq!(
        shell["source"]["file"],
        "gitops/gitdrift-imported/deployment.apps_shop_debug-shell.yaml"
    );
}

/// Configures the source `team` (`k8s/**`) against the snapshot in `live/`, adopting everything
/// in namespace `team`, and runs `remediate --patch-out fix.patch`, which must succeed.
fn adopt_team_into_patch(repo: &Repo) -> support::Run {
    repo.write(
        "gitdrift.yaml",
        "sources:\n  - name: team\n    repo: .\n    paths: [\"k8s/**\"]\n    target: lab\ntargets:\n  - name: lab\n    snapshot: ./live\nremediation:\n  adopt:\n    - namespace: team\n",
    );
    let run = gitdrift(repo.path(), &["remediate", "--patch-out", "fix.patch"], &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    run
}

#[test]
fn list_elements_are_matched_by_key_and_secret_values_never_reach_git() {
    let repo = Repo::new();
    repo.write(
        "k8s/app.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: team\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: app:1\n          env:\n            - name: A\n              value: \"1\"\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: team\ndata:\n  password: b2xk\n",
    );
    repo.commit("app");
    // By hand: a new variable first in the list, and the Secret's value changed.
    repo.write(
        "live/objects.json",
        r#"{"apiVersion":"v1","kind":"List","items":[
          {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"app","namespace":"team"},
           "spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:1",
             "env":[{"name":"B","value":"2"},{"name":"A","value":"1"}]}]}}}},
          {"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds","namespace":"team"},
           "data":{"password":"bmV3"}}]}"#,
    );
    let run = adopt_team_into_patch(&repo);
    assert!(
        run.stdout.contains("Secret team/creds") && run.stdout.contains("never written into git"),
        "{}",
        run.stdout
    );
    let patch = std::fs::read_to_string(repo.path().join("fix.patch")).unwrap();
    assert!(
        !patch.contains("bmV3") && !patch.contains("redacted"),
        "{patch}"
    );
    git(repo.path(), &["apply", "fix.patch"]);
    let text = std::fs::read_to_string(repo.path().join("k8s/app.yaml")).unwrap();
    // B is appended in block style, as its siblings are; A is untouched (not replaced by B).
    assert!(
        text.contains("            - name: A\n              value: \"1\"\n            - name: B\n              value: \"2\"\n"),
        "{text}"
    );
    git(repo.path(), &["add", "k8s"]);
    git(repo.path(), &["commit", "-qm", "adopt"]);
    let report = gitdrift(repo.path(), &["scan", "--format", "json"], &[]).json();
    assert_eq!(
        resource(&report, "Deployment", "app").unwrap()["status"],
        "in_sync"
    );
}

/// The files real repositories hold: a comment-only first document, a ConfigMap with literal
/// and folded blocks, mixed quoting and inline comments, and a field under an alias. Every field
/// that can be edited is, each in its own style (the blocks stay blocks, `"no"` stays a string
/// for a YAML 1.1 reader too); the field under the alias is described on its own while the rest
/// of its resource is edited; every line not edited is as it was; and a re-scan after the patch
/// shows everything adopted in sync.
#[test]
fn block_scalars_quoting_and_comments_are_edited_in_place_field_by_field() {
    let repo = Repo::new();
    let original = "# Only a comment in the first document.\n---\n# The app's settings.\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team\n  labels:\n    tier: 'back'   # single-quoted\ndata:\n  config.yaml: |\n    server:\n      port: 8080\n  motd: >-\n    Welcome to the\n    service.\n  enabled: \"yes\"\n  level: info # inline comment\n  mode: fast\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: team\n  labels: &labels\n    app: api\nspec:\n  replicas: 2\n  template:\n    metadata:\n      labels: *labels\n    spec:\n      containers:\n        - name: api\n          image: \"api:1\"\n          env:\n            - name: A\n              value: \"1\"\n";
    repo.write("k8s/app.yaml", original);
    repo.commit("app");
    support::write_list(
        &repo.path().join("live/objects.json"),
        &[
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "team", "labels": {"tier": "front"}},
                "data": {"config.yaml": "server:\n  port: 9090\n  tls: true\n",
                         "motd": "Welcome to the new service.", "enabled": "no", "level": "debug",
                         "mode": "on"}}),
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "api", "namespace": "team", "labels": {"app": "api"}},
                "spec": {"replicas": 3, "template": {
                    "metadata": {"labels": {"app": "api-v2"}},
                    "spec": {"containers": [{"name": "api", "image": "api:1", "env": [
                        {"name": "A", "value": "1"},
                        {"name": "DEBUG_SAMPLING", "value": "0.1"}]}]}}}}),
        ],
    );
    let run = adopt_team_into_patch(&repo);
    // Only the field under the alias is described.
    assert!(
        run.stdout.contains("/spec/template/metadata/labels/app") && run.stdout.contains("alias"),
        "{}",
        run.stdout
    );
    // A plain string that must be quoted says why.
    assert!(
        run.stdout.contains(
            "/data/mode: \"fast\" -> \"on\"\n    written double-quoted: plain, YAML 1.1 readers take `on` for a boolean"
        ),
        "{}",
        run.stdout
    );
    git(repo.path(), &["apply", "fix.patch"]);
    let text = std::fs::read_to_string(repo.path().join("k8s/app.yaml")).unwrap();
    for edited in [
        "  mode: \"on\"\n",
        "    tier: 'front'   # single-quoted\n",
        "  config.yaml: |\n    server:\n      port: 9090\n      tls: true\n",
        "  motd: >-\n    Welcome to the new service.\n",
        "  enabled: \"no\"\n",
        "  level: debug # inline comment\n",
        "  replicas: 3\n",
        "            - name: A\n              value: \"1\"\n            - name: DEBUG_SAMPLING\n              value: \"0.1\"\n",
    ] {
        assert!(text.contains(edited), "{edited:?} in\n{text}");
    }
    // Every line of git's file that no edit touched is still there, in order.
    let edited_lines = [
        "    tier: 'back'   # single-quoted",
        "      port: 8080",
        "    Welcome to the",
        "    service.",
        "  enabled: \"yes\"",
        "  level: info # inline comment",
        "  mode: fast",
        "  replicas: 2",
    ];
    let mut rest = text.as_str();
    for line in original.lines().filter(|l| !edited_lines.contains(l)) {
        let at = rest
            .find(&format!("{line}\n"))
            .unwrap_or_else(|| panic!("{line:?} kept, in order, in\n{text}"));
        rest = &rest[at + line.len() + 1..];
    }
    // A YAML 1.1 reader reads the strings as strings.
    let python = support::project_root().join(".venv-test/bin/python");
    let read = std::process::Command::new(&python)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))",
        ])
        .arg(repo.path().join("k8s/app.yaml"))
        .output()
        .expect("PyYAML in .venv-test (scripts/test installs it)");
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let docs: Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(docs[0]["data"]["enabled"], "no");
    assert_eq!(docs[0]["data"]["mode"], "on");
    assert_eq!(
        docs[0]["data"]["config.yaml"],
        "server:\n  port: 9090\n  tls: true\n"
    );
    assert_eq!(docs[0]["data"]["motd"], "Welcome to the new service.");
    git(repo.path(), &["add", "k8s"]);
    git(repo.path(), &["commit", "-qm", "adopt"]);
    let report = gitdrift(repo.path(), &["scan", "--format", "json"], &[]).json();
    assert_eq!(
        resource(&report, "ConfigMap", "settings").unwrap()["status"],
        "in_sync"
    );
    // The Deployment differs only where the alias is.
    let api = resource(&report, "Deployment", "api").unwrap();
    let paths: Vec<&str> = api["drifts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/spec/template/metadata/labels/app"], "{api:#}");
}

#[test]
fn a_pull_request_closed_by_hand_is_not_opened_again() {
    let stub = support::hosting::HostingStub::start(GITHUB_TOKEN);
    let repo = github_repo(&stub);
    assert!(open(&repo).stdout.contains("opened"));
    let closed = support::http::request(
        stub.port,
        "PATCH",
        "/repos/acme/shop/pulls/1",
        &[
            ("Authorization", &format!("Bearer {GITHUB_TOKEN}")),
            ("Content-Type", "application/json"),
        ],
        br#"{"state":"closed"}"#,
    )
    .unwrap();
    assert_eq!(closed.status, 200, "{}", closed.body);
    let live = repo.path().join("live/shop.yaml");
    let text = std::fs::read_to_string(&live).unwrap();
    std::fs::write(&live, text.replacen("replicas: 5", "replicas: 7", 1)).unwrap();
    let again = open(&repo);
    assert!(again.stdout.contains("closed by hand"), "{}", again.stdout);
    let state = stub.state("acme/shop");
    assert_eq!(
        state["pulls"].as_array().unwrap().len(),
        1,
        "no new pull request"
    );
}

#[test]
fn a_gitlab_branch_follows_a_plan_that_shrinks() {
    let stub = support::hosting::HostingStub::start(GITHUB_TOKEN);
    let repo = demo(&format!(
        "remediation:\n  adopt:\n    - kind: Deployment\n  provider: gitlab\n  gitlab:\n    api_url: {}/api/v4\n    repository: acme/shop\n    token_env: GITDRIFT_TEST_GITHUB_TOKEN\n",
        stub.url()
    ));
    stub.seed_gitlab("acme/shop", &repo.head());
    let branch = "gitdrift/remediate/shop-demo";
    assert!(open(&repo).stdout.contains("opened"));
    let files = |stub: &support::hosting::HostingStub| -> Vec<String> {
        let state = stub.state("acme/shop");
        let tip = state["branches"][branch].as_str().unwrap().to_string();
        let mut files: Vec<String> = state["gl_commits"][&tip]["files"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        files.sort();
        files
    };
    assert_eq!(
        files(&stub),
        [
            "gitops/apps/cart/cart.yaml",
            "gitops/apps/web/deployment.yaml"
        ]
    );
    // The cart's drift reaches git another way: web's file is as it was, the plan is smaller.
    let live = repo.path().join("live/shop.yaml");
    let text = std::fs::read_to_string(&live).unwrap();
    std::fs::write(
        &live,
        text.replace("cart:2.8.1-hotfix", "cart:2.8.0")
            .replacen("replicas: 4", "replicas: 2", 1),
    )
    .unwrap();
    let updated = open(&repo);
    assert!(updated.stdout.contains("updated"), "{}", updated.stdout);
    assert_eq!(files(&stub), ["gitops/apps/web/deployment.yaml"]);
}

#[test]
fn imports_land_where_the_source_reads() {
    let repo = Repo::new();
    repo.write(
        "k8s/prod/app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: team\ndata:\n  a: \"1\"\n",
    );
    repo.commit("app");
    repo.write(
        "live/objects.yaml",
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: app, namespace: team}\n    data: {a: \"1\"}\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: extra, namespace: team, finalizers: [x]}\n    data: {b: \"2\"}\n",
    );
    // Only files directly in k8s/prod are read: the import goes beside app.yaml.
    repo.write(
        "gitdrift.yaml",
        "sources:\n  - name: team\n    repo: .\n    paths: [\"k8s/prod/*.yaml\"]\n    target: lab\ntargets:\n  - name: lab\n    snapshot: ./live\nremediation:\n  adopt:\n    - kind: ConfigMap\n      name: extra\n  import_unmanaged: true\n",
    );
    let run = gitdrift(repo.path(), &["remediate", "--format", "json"], &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let plan = run.json();
    assert_eq!(
        plan["changes"][0]["file"], "k8s/prod/configmap_team_extra.yaml",
        "{plan:#}"
    );
    let patch = gitdrift(repo.path(), &["remediate", "--patch-out", "p.patch"], &[]);
    assert_eq!(patch.code, 0);
    git(repo.path(), &["apply", "p.patch"]);
    let text =
        std::fs::read_to_string(repo.path().join("k8s/prod/configmap_team_extra.yaml")).unwrap();
    assert!(!text.contains("finalizers"), "{text}");
    git(repo.path(), &["add", "k8s"]);
    git(repo.path(), &["commit", "-qm", "import"]);
    let report = gitdrift(repo.path(), &["scan", "--format", "json"], &[]).json();
    assert_eq!(
        resource(&report, "ConfigMap", "extra").unwrap()["status"],
        "in_sync"
    );
}

#[test]
fn a_gitea_branch_drops_an_import_the_plan_no_longer_has() {
    let stub = support::hosting::HostingStub::start(GITHUB_TOKEN);
    let repo = demo(&format!(
        "remediation:\n  adopt:\n    - kind: Deployment\n      name: web\n      paths: [/spec/replicas]\n    - kind: ConfigMap\n      name: hand-made\n  import_unmanaged: true\n  provider: gitea\n  gitea:\n    api_url: {}/api/v1\n    repository: acme/shop\n    token_env: GITDRIFT_TEST_GITHUB_TOKEN\n",
        stub.url()
    ));
    let web_file = "gitops/apps/web/deployment.yaml";
    let web = std::fs::read_to_string(repo.path().join(web_file)).unwrap();
    stub.seed_gitea("acme/shop", &repo.head(), &[(web_file, web)]);
    repo.write(
        "live/extra.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hand-made\n  namespace: shop\n  uid: 0b6f\n  resourceVersion: \"42\"\ndata:\n  mode: fast\n",
    );
    let branch = "gitdrift/remediate/shop-demo";
    let imported = "gitops/gitdrift-imported/configmap_shop_hand-made.yaml";
    let run = open(&repo);
    assert!(run.stdout.contains("opened"), "{}", run.stdout);
    let branch_files = |stub: &support::hosting::HostingStub| -> Value {
        let state = stub.state("acme/shop");
        let tip = state["gt_branches"][branch].as_str().unwrap().to_string();
        state["gt_commits"][&tip]["files"].clone()
    };
    let files = branch_files(&stub);
    assert!(
        files[imported].as_str().unwrap().contains("mode: fast"),
        "{files:#}"
    );
    assert!(
        !files[imported]
            .as_str()
            .unwrap()
            .contains("resourceVersion")
    );
    // The hand-made ConfigMap is gone from the cluster: the branch drops its import.
    std::fs::remove_file(repo.path().join("live/extra.yaml")).unwrap();
    let updated = open(&repo);
    assert!(updated.stdout.contains("updated"), "{}", updated.stdout);
    let files = branch_files(&stub);
    assert!(files.get(imported).is_none(), "{files:#}");
    assert!(files[web_file].as_str().unwrap().contains("replicas: 5"));
}
