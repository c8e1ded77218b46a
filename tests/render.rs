//! Rendered sources end to end: Kustomize overlays built with the real kustomize (kubectl's), a
//! Helm chart rendered by Helm's own engine, both scanned against snapshots of what they produce;
//! broken kustomizations, template errors, missing tools, timeouts, remote bases, the clean
//! environment and the render cache.

mod support;

use std::path::Path;

use serde_json::{Value, json};
use support::{Repo, as_live, executable, gitdrift, helm_stand_in, kubectl, output_of, write_list};

const BASE_DEPLOYMENT: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: registry.example.com/shop/web:1.0.0
          env:
            - name: LOG_LEVEL
              value: info
          envFrom:
            - configMapRef:
                name: web-config
"#;

/// A repository with a base and two overlays (namePrefix, namespace, image tag override, a
/// strategic merge patch, a JSON 6902 patch, a configMapGenerator with hashed names).
fn kustomize_repo() -> Repo {
    let repo = Repo::new();
    repo.write("base/web.yaml", BASE_DEPLOYMENT);
    repo.write(
        "base/kustomization.yaml",
        "resources:\n  - web.yaml\nconfigMapGenerator:\n  - name: web-config\n    literals:\n      - CART_URL=http://cart:8080\n",
    );
    repo.write(
        "overlays/staging/kustomization.yaml",
        "namePrefix: staging-\nnamespace: shop-staging\nresources:\n  - ../../base\nimages:\n  - name: registry.example.com/shop/web\n    newTag: 1.1.0-rc.1\n",
    );
    repo.write(
        "overlays/prod/kustomization.yaml",
        r#"namePrefix: prod-
namespace: shop-prod
resources:
  - ../../base
images:
  - name: registry.example.com/shop/web
    newTag: 1.0.3
patches:
  - path: replicas.yaml
  - target:
      kind: Deployment
      name: web
    patch: |-
      - op: add
        path: /spec/template/spec/containers/0/env/-
        value:
          name: REGION
          value: eu-west-1
configMapGenerator:
  - name: web-config
    behavior: merge
    literals:
      - LOG_FORMAT=json
"#,
    );
    repo.write(
        "overlays/prod/replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 4\n",
    );
    repo.write(
        "overlays/broken/kustomization.yaml",
        "resources:\n  - ../../base\n  - missing-file.yaml\n",
    );
    repo.write(
        "overlays/remote/kustomization.yaml",
        "resources:\n  - https://github.com/example/shop//base?ref=v1.0.0\n",
    );
    repo.commit("overlays");
    repo
}

fn kustomize_config(repo: &Repo, paths: &str, extra: &str) {
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: shop\n    repo: .\n    render: kustomize\n    paths: {paths}\n    target: lab\n    kustomize:\n      binary: {}\n{extra}targets:\n  - name: lab\n    snapshot: live\n",
            kubectl().display()
        ),
    )
    .unwrap();
}

fn resource<'a>(report: &'a Value, namespace: &str, kind: &str, name: &str) -> &'a Value {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["namespace"] == namespace && r["kind"] == kind && r["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {namespace}/{name} in {report:#}"))
}

#[test]
fn kustomize_overlays_scan_like_their_rendered_manifests() {
    let repo = kustomize_repo();
    // The live state is what the overlays render to, as an API server returns it, with one
    // hand-made change: prod's Deployment scaled to 6.
    let mut live = Vec::new();
    for overlay in ["overlays/prod", "overlays/staging"] {
        let rendered = output_of(&kubectl(), &["kustomize", overlay], repo.path());
        live.extend(as_live(&rendered));
    }
    let scaled = live
        .iter_mut()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "prod-web")
        .unwrap();
    scaled["spec"]["replicas"] = json!(6);
    scaled["metadata"]["managedFields"]
        .as_array_mut()
        .unwrap()
        .push(
            json!({"manager": "kubectl-scale", "operation": "Update", "subresource": "scale",
                     "time": "2026-11-26T09:00:00Z", "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:spec": {"f:replicas": {}}}}),
        );
    write_list(&repo.path().join("live/objects.json"), &live);
    kustomize_config(&repo, "[overlays/prod, overlays/staging]", "");

    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    assert_eq!(report["summary"]["resources"], 6);
    assert_eq!(report["summary"]["in_sync"], 5);
    assert_eq!(report["summary"]["drifted"], 1);

    let web = resource(&report, "shop-prod", "Deployment", "prod-web");
    assert_eq!(
        web["drifts"],
        json!([{"path": "/spec/replicas", "desired": 4, "live": 6,
                "reason": "changed", "changed_by": "kubectl-scale", "changed_at": "2026-11-26T09:00:00Z"}])
    );
    // Positions through rendering: the resource file (and line) Kustomize names, and the overlay.
    assert_eq!(web["source"]["file"], "base/web.yaml");
    assert_eq!(web["source"]["line"], 12);
    assert_eq!(
        web["source"]["rendered"],
        json!({"tool": "kustomize", "path": "overlays/prod"})
    );
    let service = resource(&report, "shop-staging", "Service", "staging-web");
    assert_eq!(service["status"], "in_sync");
    assert_eq!(service["source"]["line"], 1);
    // The generated, hashed ConfigMap matches its live counterpart; its origin is the generator.
    let config = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["kind"] == "ConfigMap"
                && r["namespace"] == "shop-prod"
                && r["name"].as_str().unwrap().starts_with("prod-web-config-")
        })
        .expect("hashed ConfigMap");
    assert_eq!(config["status"], "in_sync");
    assert_eq!(config["source"]["file"], "base/kustomization.yaml");
    assert_eq!(config["source"]["line"], Value::Null);

    // Uncommitted edits to a kustomization do not reach the scan.
    repo.write(
        "overlays/prod/replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 6\n",
    );
    let again = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(
        again.json()["summary"]["drifted"],
        1,
        "the committed overlay is scanned"
    );
    let text =
        std::fs::read_to_string(repo.path().join("overlays/prod/kustomization.yaml")).unwrap();
    assert!(
        !text.contains("buildMetadata"),
        "the working copy is never touched"
    );
}

#[test]
fn a_broken_kustomization_is_an_error_for_its_source_and_the_rest_is_scanned() {
    let repo = kustomize_repo();
    let rendered = output_of(&kubectl(), &["kustomize", "overlays/staging"], repo.path());
    write_list(&repo.path().join("live/objects.json"), &as_live(&rendered));
    kustomize_config(
        &repo,
        "[overlays/broken, overlays/staging, overlays/remote]",
        "",
    );
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2);
    let report = run.json();
    assert_eq!(report["summary"]["in_sync"], 3, "staging is still scanned");
    let problems = report["problems"].as_array().unwrap();
    let broken = problems
        .iter()
        .find(|p| p["file"] == "overlays/broken")
        .expect("an error for the broken overlay");
    assert_eq!(broken["source"], "shop");
    assert_eq!(broken["severity"], "error");
    assert_eq!(broken["code"], "render.failed");
    let message = broken["message"].as_str().unwrap();
    assert!(
        message.starts_with("kustomize failed for overlays/broken:"),
        "{message}"
    );
    assert!(
        message.contains("missing-file.yaml"),
        "the tool's own message: {message}"
    );
    let remote = problems
        .iter()
        .find(|p| p["file"] == "overlays/remote/kustomization.yaml")
        .expect("the remote base is refused");
    assert!(
        remote["message"].as_str().unwrap().contains(
            "remote reference `https://github.com/example/shop//base?ref=v1.0.0` refused"
        ),
        "{remote}"
    );
    assert_eq!(remote["code"], "render.refused");
}

/// A chart with values, a vendored dependency subchart, a hook and a Capabilities lookup.
fn chart_repo() -> Repo {
    let repo = Repo::new();
    repo.write(
        "charts/shop/Chart.yaml",
        "apiVersion: v2\nname: shop\nversion: 1.2.0\ndependencies:\n  - name: cache\n    version: 0.3.0\n    repository: file://../cache\n",
    );
    repo.write(
        "charts/shop/values.yaml",
        "replicaCount: 1\nimage:\n  repository: registry.example.com/shop/web\n  tag: 1.0.0\ncache:\n  enabled: true\n",
    );
    repo.write(
        "charts/shop/templates/deployment.yaml",
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels:
    app.kubernetes.io/name: web
    app.kubernetes.io/instance: {{ .Release.Name }}
    example.com/kube-minor: {{ .Capabilities.KubeVersion.Minor | quote }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector:
    app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
    - port: 80
"#,
    );
    repo.write(
        "charts/shop/templates/migrate-job.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-migrate\n  annotations:\n    helm.sh/hook: pre-upgrade\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: migrate\n          image: busybox\n",
    );
    repo.write(
        "charts/shop/templates/NOTES.txt",
        "Thank you for installing {{ .Chart.Name }}.\n",
    );
    repo.write(
        "charts/shop/charts/cache/Chart.yaml",
        "apiVersion: v2\nname: cache\nversion: 0.3.0\n",
    );
    repo.write(
        "charts/shop/charts/cache/values.yaml",
        "image: docker.io/library/redis:7.2\n",
    );
    repo.write(
        "charts/shop/charts/cache/templates/statefulset.yaml",
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {{ .Release.Name }}-cache\nspec:\n  serviceName: {{ .Release.Name }}-cache\n  selector:\n    matchLabels:\n      app: cache\n  template:\n    metadata:\n      labels:\n        app: cache\n    spec:\n      containers:\n        - name: redis\n          image: {{ .Values.image }}\n",
    );
    repo.write(
        "environments/prod/values.yaml",
        "replicaCount: 3\nimage:\n  tag: 1.0.3\n",
    );
    repo.write(
        "charts/broken/Chart.yaml",
        "apiVersion: v2\nname: broken\nversion: 0.1.0\n",
    );
    repo.write(
        "charts/broken/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  v: {{ .Values.missing.key }}\n",
    );
    repo.commit("charts");
    repo
}

#[test]
fn a_helm_chart_with_values_and_a_subchart_scans_like_its_rendered_manifests() {
    let repo = chart_repo();
    let tools = tempfile::tempdir().unwrap();
    let helm = helm_stand_in(tools.path());
    // What the release runs: the chart rendered with the same values, redis image changed by hand.
    let rendered = output_of(
        &helm,
        &[
            "template",
            "shop",
            "charts/shop",
            "--namespace",
            "shop-prod",
            "--include-crds",
            "--values",
            "environments/prod/values.yaml",
            "--kube-version",
            "1.31.0",
        ],
        repo.path(),
    );
    let mut live: Vec<Value> = as_live(&rendered)
        .into_iter()
        .filter(|o| o["kind"] != "Job")
        .map(|mut o| {
            o["metadata"]["namespace"] = json!("shop-prod");
            o
        })
        .collect();
    let cache = live
        .iter_mut()
        .find(|o| o["kind"] == "StatefulSet")
        .unwrap();
    cache["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("docker.io/library/redis:7.4");
    write_list(&repo.path().join("live/objects.json"), &live);
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: shop\n    repo: .\n    render: helm\n    path: charts/shop\n    target: prod\n    helm:\n      release: shop\n      namespace: shop-prod\n      values_files: [environments/prod/values.yaml]\n      values:\n        replicaCount: 3\n      kube_version: \"1.31.0\"\n      binary: {}\n  - name: broken\n    repo: .\n    render: helm\n    path: charts/broken\n    target: prod\n    helm:\n      binary: {}\ntargets:\n  - name: prod\n    snapshot: live\n",
            helm.display(),
            helm.display()
        ),
    )
    .unwrap();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2, "the broken chart is an error: {}", run.stderr);
    let report = run.json();
    assert_eq!(
        report["summary"]["resources"], 3,
        "{:#}",
        report["resources"]
    );
    assert_eq!(report["summary"]["in_sync"], 2);
    let web = resource(&report, "shop-prod", "Deployment", "shop-web");
    assert_eq!(web["status"], "in_sync");
    assert_eq!(
        web["source"]["file"],
        "charts/shop/templates/deployment.yaml"
    );
    assert_eq!(web["source"]["line"], Value::Null);
    assert_eq!(
        web["source"]["rendered"],
        json!({"tool": "helm", "path": "charts/shop"})
    );
    let cache = resource(&report, "shop-prod", "StatefulSet", "shop-cache");
    assert_eq!(
        cache["source"]["file"],
        "charts/shop/charts/cache/templates/statefulset.yaml"
    );
    assert_eq!(
        cache["drifts"],
        json!([{"path": "/spec/template/spec/containers/0/image",
                "desired": "docker.io/library/redis:7.2", "live": "docker.io/library/redis:7.4", "reason": "changed"}])
    );
    let problems = report["problems"].as_array().unwrap();
    let broken = problems
        .iter()
        .find(|p| p["source"] == "broken")
        .expect("an error for the broken chart");
    assert_eq!(broken["file"], "charts/broken");
    let message = broken["message"].as_str().unwrap();
    assert!(
        message.starts_with("helm failed for charts/broken:"),
        "{message}"
    );
    assert!(
        message.contains("nil pointer"),
        "the tool's own message: {message}"
    );
    let hook = problems
        .iter()
        .find(|p| p["severity"] == "note" && p["source"] == "shop")
        .expect("skipped hooks are noted");
    assert!(
        hook["message"]
            .as_str()
            .unwrap()
            .starts_with("1 Helm hook object(s)")
    );
}

fn plain_config(repo: &Repo, binary: &Path, extra: &str) {
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: shop\n    repo: .\n    render: kustomize\n    path: overlays/staging\n    target: lab\n{extra}    kustomize:\n      binary: {}\ntargets:\n  - name: lab\n    snapshot: live\n",
            binary.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(repo.path().join("live")).unwrap();
}

#[test]
fn missing_tools_and_slow_tools_are_clear_errors() {
    let repo = kustomize_repo();
    plain_config(&repo, Path::new("/nonexistent/kustomize"), "");
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2);
    let message = run.json()["problems"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        message,
        "kustomize: `/nonexistent/kustomize` not found (source.kustomize.binary)"
    );

    let tools = tempfile::tempdir().unwrap();
    let slow = executable(tools.path(), "kustomize", "#!/bin/sh\nsleep 30\n");
    plain_config(&repo, &slow, "    render_timeout: 1s\n");
    let started = std::time::Instant::now();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2);
    let message = run.json()["problems"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        message,
        "kustomize took longer than 1s for overlays/staging; stopped"
    );
    assert!(started.elapsed().as_secs() < 15, "the render was stopped");
}

#[test]
fn renders_run_with_a_clean_environment_in_a_private_copy() {
    let repo = kustomize_repo();
    let tools = tempfile::tempdir().unwrap();
    let seen = tools.path().join("seen");
    let fake = executable(
        tools.path(),
        "kustomize",
        &format!(
            "#!/bin/sh\nenv > '{0}.env'\npwd > '{0}.pwd'\nls overlays > '{0}.ls'\nprintf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: from-fake\\n  namespace: shop\\n'\n",
            seen.display()
        ),
    );
    plain_config(&repo, &fake, "");
    let run = gitdrift(
        repo.path(),
        &["scan", "--format", "json"],
        &[
            ("GIT_TOKEN", "tok-must-not-reach-renderers"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.json()["resources"][0]["name"], "from-fake");
    let env = std::fs::read_to_string(seen.with_extension("env")).unwrap();
    assert!(!env.contains("tok-must-not-reach-renderers"), "{env}");
    assert!(!env.contains("AWS_SECRET_ACCESS_KEY"), "{env}");
    assert!(env.contains("KUBECONFIG=/dev/null"), "{env}");
    let pwd = std::fs::read_to_string(seen.with_extension("pwd")).unwrap();
    assert!(
        pwd.contains("gitdrift-render-"),
        "runs in a private copy: {pwd}"
    );
    assert!(
        !Path::new(pwd.trim()).exists(),
        "the private copy is removed afterwards"
    );
    let listed = std::fs::read_to_string(seen.with_extension("ls")).unwrap();
    assert!(
        listed.contains("prod") && listed.contains("staging"),
        "{listed}"
    );
}

#[test]
fn renders_are_cached_per_source_and_commit() {
    let repo = kustomize_repo();
    let tools = tempfile::tempdir().unwrap();
    let count = tools.path().join("count");
    let fake = executable(
        tools.path(),
        "kustomize",
        &format!(
            "#!/bin/sh\necho run >> '{}'\nprintf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: cached\\n  namespace: shop\\n'\n",
            count.display()
        ),
    );
    plain_config(&repo, &fake, "");
    let config = gitdrift::config::Config::load(
        &repo.path().join("gitdrift.yaml"),
        &gitdrift::live::known(),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let first = gitdrift::desired::read_source(&config, &config.sources[0], cache.path());
    let second = gitdrift::desired::read_source(&config, &config.sources[0], cache.path());
    assert_eq!(first.objects.len(), 1);
    assert_eq!(second.objects.len(), 1);
    assert_eq!(
        std::fs::read_to_string(&count).unwrap().lines().count(),
        1,
        "rendered once"
    );
    repo.write("overlays/staging/extra.txt", "a new commit\n");
    repo.commit("another commit");
    gitdrift::desired::read_source(&config, &config.sources[0], cache.path());
    assert_eq!(
        std::fs::read_to_string(&count).unwrap().lines().count(),
        2,
        "a new commit renders"
    );
}

#[test]
fn rendered_sources_judge_exactly_like_the_equivalent_plain_manifests() {
    let repo = kustomize_repo();
    let mut live = Vec::new();
    let mut plain = String::new();
    for overlay in ["overlays/prod", "overlays/staging"] {
        let rendered = output_of(&kubectl(), &["kustomize", overlay], repo.path());
        live.extend(as_live(&rendered));
        plain.push_str(&rendered);
        plain.push_str("---\n");
    }
    // Some drift of several kinds, so that the comparison has something to compare.
    for object in &mut live {
        match object["kind"].as_str().unwrap() {
            "Deployment" => {
                object["spec"]["template"]["spec"]["containers"][0]["image"] = json!("x:1")
            }
            "ConfigMap" => object["data"]["EXTRA"] = json!("1"),
            _ => {}
        }
    }
    live.retain(|o| !(o["kind"] == "Service" && o["metadata"]["namespace"] == "shop-staging"));
    write_list(&repo.path().join("live/objects.json"), &live);
    repo.write("rendered/all.yaml", &plain);
    repo.commit("the same manifests, rendered and committed");
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: rendered\n    repo: .\n    render: kustomize\n    paths: [overlays/prod, overlays/staging]\n    target: a\n    kustomize:\n      binary: {}\n  - name: plain\n    repo: .\n    paths: [rendered/all.yaml]\n    target: b\ntargets:\n  - name: a\n    snapshot: live\n  - name: b\n    snapshot: live\n",
            kubectl().display()
        ),
    )
    .unwrap();
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let judged = |target: &str| support::judged(&report, target);
    assert_eq!(judged("a").len(), 6);
    assert!(judged("a").iter().any(|r| r[3] == "missing"));
    assert!(judged("a").iter().filter(|r| r[3] == "drifted").count() >= 3);
    assert_eq!(
        judged("a"),
        judged("b"),
        "rendered and plain sources judge alike"
    );
}

#[test]
fn the_first_kustomize_or_kubectl_on_path_is_used_by_default() {
    let repo = kustomize_repo();
    std::fs::create_dir_all(repo.path().join("live")).unwrap();
    std::fs::write(
        repo.path().join("gitdrift.yaml"),
        "sources:\n  - name: shop\n    repo: .\n    render: kustomize\n    path: overlays/staging\n    target: lab\ntargets:\n  - name: lab\n    snapshot: live\n",
    )
    .unwrap();
    let tools = tempfile::tempdir().unwrap();
    executable(
        tools.path(),
        "kustomize",
        "#!/bin/sh\n[ \"$1\" = build ] || exit 3\nprintf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: from-path\\n  namespace: shop\\n'\n",
    );
    let path = format!("{}:/usr/bin:/bin", tools.path().display());
    let run = gitdrift(
        repo.path(),
        &["scan", "--format", "json"],
        &[("PATH", &path)],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.json()["resources"][0]["name"], "from-path");
    let empty = tempfile::tempdir().unwrap();
    let run = gitdrift(
        repo.path(),
        &["scan", "--format", "json"],
        &[("PATH", &empty.path().display().to_string())],
    );
    assert_eq!(run.code, 2);
    assert_eq!(
        run.json()["problems"][0]["message"],
        "kustomize: `kustomize or kubectl` not found on PATH"
    );
}
