//! Shared by the benchmarks: realistic generated objects (Deployments, Services, ConfigMaps,
//! ServiceAccounts over namespaces) as git declares them and as an API server returns them, with
//! some drift; and a child-process runner that reports wall time and peak RSS.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Apps per namespace.
pub const APPS_PER_NAMESPACE: usize = 100;
/// Objects per app (Deployment, Service, ConfigMap, ServiceAccount).
pub const OBJECTS_PER_APP: usize = 4;
const DOCS_PER_FILE: usize = 8;

/// Runs a command; returns wall seconds, peak RSS (KiB) and the exit code.
pub fn measure(command: &mut Command) -> (f64, i64, i32) {
    let run = measure_usage(command);
    (run.wall, run.peak_kib, run.code)
}

/// What a command used: wall and CPU (user + system) seconds, peak RSS (KiB), exit code.
pub struct Usage {
    pub wall: f64,
    pub cpu: f64,
    pub peak_kib: i64,
    pub code: i32,
}

/// Runs a command and reports what it used.
// The child is reaped by wait4 (which also reports its usage), not by Child::wait.
#[allow(clippy::zombie_processes)]
pub fn measure_usage(command: &mut Command) -> Usage {
    let started = Instant::now();
    let child = command.spawn().expect("run gitdrift");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; status and usage are valid out-pointers.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let wall = started.elapsed().as_secs_f64();
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Usage {
        wall,
        cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        peak_kib: usage.ru_maxrss,
        code,
    }
}

pub fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?}");
}

/// Like [`measure`], for a parent that holds a lot of memory itself. Linux charges a child with
/// the resident size its parent had when it forked (the high-water mark of the address space it
/// replaced at exec), so the command runs under a small Python helper that forks it and reports
/// its `ru_maxrss`.
pub fn measure_from_big_parent(
    program: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
) -> (f64, i64, i32) {
    const HELPER: &str = "import os, sys\npid = os.fork()\nif pid == 0:\n    os.execv(sys.argv[1], sys.argv[1:])\n_, status, usage = os.wait4(pid, 0)\nsys.stderr.write('maxrss=%d\\n' % usage.ru_maxrss)\nsys.exit(os.waitstatus_to_exitcode(status))\n";
    let started = Instant::now();
    let mut command = Command::new("python3");
    command.arg("-c").arg(HELPER).arg(program).args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("python3 runs the measuring helper");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let peak = stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maxrss from the helper: {stderr}"));
    (seconds, peak, output.status.code().unwrap_or(-1))
}

/// A free port on 127.0.0.1 (the listener is closed before the port is used).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The folder of generated data for `apps` apps (under the target folder, kept between runs),
/// generated on first use.
pub fn generated(apps: usize) -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let shapes = if unique_shapes() { "-unique" } else { "" };
    let root = target.join(format!("bench-data/v1-{apps}{shapes}"));
    std::fs::create_dir_all(&root).unwrap();
    if !root.join("ready").exists() {
        let started = Instant::now();
        generate(&root, apps);
        std::fs::write(root.join("ready"), "").unwrap();
        eprintln!("generated data in {:.1?}", started.elapsed());
    }
    root
}

/// Writes the git repository (declared) and the JSON snapshot (live) for `apps` apps.
pub fn generate(root: &Path, apps: usize) {
    let repo = root.join("repo");
    let live = root.join("live");
    let _ = std::fs::remove_dir_all(&repo);
    let _ = std::fs::remove_dir_all(&live);
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::create_dir_all(&live).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);

    let mut file_docs = Vec::new();
    let mut file_index = 0;
    let mut live_items: Vec<String> = Vec::new();
    for app in 0..apps {
        let ns = format!("team-{:04}", app / APPS_PER_NAMESPACE);
        let name = format!("svc-{app:06}");
        let replicas = 2 + app % 3;
        let drift_replicas = app % 50 == 7;
        let drift_config = app % 100 == 11;
        file_docs.push(desired_deployment(&ns, &name, replicas));
        file_docs.push(desired_service(&ns, &name));
        file_docs.push(desired_config(&ns, &name));
        file_docs.push(desired_account(&ns, &name));
        live_items.push(live_deployment(
            &ns,
            &name,
            if drift_replicas {
                replicas + 3
            } else {
                replicas
            },
            drift_replicas,
        ));
        live_items.push(live_service(&ns, &name, app));
        live_items.push(live_config(&ns, &name, drift_config));
        live_items.push(live_account(&ns, &name));
        if app % 50 == 0 {
            live_items.push(live_config(&ns, &format!("{name}-unmanaged"), false));
        }
        if file_docs.len() >= DOCS_PER_FILE {
            let dir = repo.join(format!("apps/{ns}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join(format!("{file_index:06}.yaml")),
                file_docs.join("---\n"),
            )
            .unwrap();
            file_docs.clear();
            file_index += 1;
        }
        if live_items.len() >= 2000 || app + 1 == apps {
            let items = live_items.join(",\n");
            std::fs::write(
                live.join(format!("export-{file_index:06}.json")),
                format!("{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"metadata\":{{\"resourceVersion\":\"\"}},\"items\":[\n{items}\n]}}\n"),
            )
            .unwrap();
            live_items.clear();
        }
    }
    if !file_docs.is_empty() {
        let dir = repo.join("apps/rest");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("rest.yaml"), file_docs.join("---\n")).unwrap();
    }
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "generated"]);
    std::fs::write(
        root.join("gitdrift.yaml"),
        "sources:\n  - name: bench\n    repo: ./repo\n    paths: [\"apps/**\"]\n    target: bench\ntargets:\n  - name: bench\n    snapshot: ./live\n",
    )
    .unwrap();
}

pub fn desired_deployment(ns: &str, name: &str, replicas: usize) -> String {
    let container = container(name);
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: {ns}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
    spec:
      serviceAccountName: {name}
      containers:
        - name: {container}
          image: registry.example.com/{ns}/{name}:1.4.2
          ports:
            - name: http
              containerPort: 8080
          env:
            - name: LOG_LEVEL
              value: info
            - name: CONFIG_NAME
              value: {name}
          envFrom:
            - configMapRef:
                name: {name}
          resources:
            requests:
              cpu: 0.1
              memory: 128Mi
            limits:
              memory: 0.25Gi
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
"#
    )
}

pub fn desired_service(ns: &str, name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  selector:\n    app.kubernetes.io/name: {name}\n  ports:\n    - name: http\n      port: 80\n      targetPort: http\n"
    )
}

pub fn desired_config(ns: &str, name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n  LOG_FORMAT: json\n  UPSTREAM_URL: http://{name}-upstream.{ns}.svc:8080\n  TIMEOUT_SECONDS: \"30\"\n  FEATURE_FLAGS: \"checkout-v2,recommendations\"\n"
    )
}

pub fn desired_account(ns: &str, name: &str) -> String {
    format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n  namespace: {ns}\n")
}

pub fn uid(seed: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        h >> 32,
        h & 0xffff,
        (h >> 8) & 0xfff,
        (h >> 20) & 0xfff,
        h & 0xffff_ffff_ffff
    )
}

/// Whether every generated workload has its own container name, so that no two share what the
/// Pod Security rules read (`GITDRIFT_BENCH_SHAPES=unique`: the audit's worst case, where no
/// evaluation is shared). By default they share one shape, as workloads from one template do.
pub fn unique_shapes() -> bool {
    std::env::var("GITDRIFT_BENCH_SHAPES").as_deref() == Ok("unique")
}

/// A Deployment's container name.
fn container(name: &str) -> String {
    if unique_shapes() {
        format!("app-{name}")
    } else {
        "app".to_string()
    }
}

pub fn live_deployment(ns: &str, name: &str, replicas: usize, scaled: bool) -> String {
    let mut managed = String::from(
        r#"{"apiVersion":"apps/v1","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app.kubernetes.io/name":{},"f:app.kubernetes.io/part-of":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app.kubernetes.io/name":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:env":{".":{},"k:{\"name\":\"CONFIG_NAME\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"LOG_LEVEL\"}":{".":{},"f:name":{},"f:value":{}}},"f:envFrom":{},"f:image":{},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{}}},"f:readinessProbe":{".":{},"f:httpGet":{".":{},"f:path":{},"f:port":{}}},"f:resources":{".":{},"f:limits":{".":{},"f:memory":{}},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}}}},"f:serviceAccountName":{}}}}},"manager":"argocd-controller","operation":"Apply","time":"2026-11-02T10:20:31Z"}"#,
    );
    if scaled {
        managed.push_str(r#",{"apiVersion":"apps/v1","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:replicas":{}}},"manager":"kubectl-scale","operation":"Update","subresource":"scale","time":"2026-11-24T22:05:10Z"}"#);
    }
    managed.push_str(r#",{"apiVersion":"apps/v1","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:annotations":{".":{},"f:deployment.kubernetes.io/revision":{}}},"f:status":{"f:availableReplicas":{},"f:conditions":{},"f:observedGeneration":{},"f:readyReplicas":{},"f:replicas":{},"f:updatedReplicas":{}}},"manager":"kube-controller-manager","operation":"Update","subresource":"status","time":"2026-11-24T22:05:41Z"}"#);
    let uid = uid(&format!("{ns}/{name}/deploy"));
    if unique_shapes() {
        managed = managed.replace(
            r#"\"name\":\"app\""#,
            &format!(r#"\"name\":\"{}\""#, container(name)),
        );
    }
    let container = container(name);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"annotations":{{"deployment.kubernetes.io/revision":"3"}},"creationTimestamp":"2026-10-02T08:14:03Z","generation":4,"labels":{{"app.kubernetes.io/name":"{name}","app.kubernetes.io/part-of":"{ns}"}},"managedFields":[{managed}],"name":"{name}","namespace":"{ns}","resourceVersion":"2210934","uid":"{uid}"}},"spec":{{"progressDeadlineSeconds":600,"replicas":{replicas},"revisionHistoryLimit":10,"selector":{{"matchLabels":{{"app.kubernetes.io/name":"{name}"}}}},"strategy":{{"rollingUpdate":{{"maxSurge":"25%","maxUnavailable":"25%"}},"type":"RollingUpdate"}},"template":{{"metadata":{{"creationTimestamp":null,"labels":{{"app.kubernetes.io/name":"{name}"}}}},"spec":{{"containers":[{{"env":[{{"name":"LOG_LEVEL","value":"info"}},{{"name":"CONFIG_NAME","value":"{name}"}}],"envFrom":[{{"configMapRef":{{"name":"{name}"}}}}],"image":"registry.example.com/{ns}/{name}:1.4.2","imagePullPolicy":"IfNotPresent","name":"{container}","ports":[{{"containerPort":8080,"name":"http","protocol":"TCP"}}],"readinessProbe":{{"failureThreshold":3,"httpGet":{{"path":"/healthz","port":"http","scheme":"HTTP"}},"periodSeconds":10,"successThreshold":1,"timeoutSeconds":1}},"resources":{{"limits":{{"memory":"256Mi"}},"requests":{{"cpu":"100m","memory":"128Mi"}}}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{{}},"serviceAccount":"{name}","serviceAccountName":"{name}","terminationGracePeriodSeconds":30}}}}}},"status":{{"availableReplicas":{replicas},"conditions":[{{"lastTransitionTime":"2026-10-02T08:14:30Z","lastUpdateTime":"2026-11-02T10:21:02Z","message":"ReplicaSet \"{name}-7d4b9c8f6\" has successfully progressed.","reason":"NewReplicaSetAvailable","status":"True","type":"Progressing"}},{{"lastTransitionTime":"2026-11-24T22:05:41Z","lastUpdateTime":"2026-11-24T22:05:41Z","message":"Deployment has minimum availability.","reason":"MinimumReplicasAvailable","status":"True","type":"Available"}}],"observedGeneration":4,"readyReplicas":{replicas},"replicas":{replicas},"updatedReplicas":{replicas}}}}}"#
    );
    out
}

pub fn live_service(ns: &str, name: &str, n: usize) -> String {
    let uid = uid(&format!("{ns}/{name}/svc"));
    let ip = format!("10.96.{}.{}", (n / 250) % 250, n % 250 + 1);
    format!(
        r#"{{"apiVersion":"v1","kind":"Service","metadata":{{"creationTimestamp":"2026-10-02T08:14:03Z","managedFields":[{{"apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{{"f:spec":{{"f:ports":{{"k:{{\"port\":80,\"protocol\":\"TCP\"}}":{{".":{{}},"f:name":{{}},"f:port":{{}},"f:targetPort":{{}}}}}},"f:selector":{{}}}}}},"manager":"argocd-controller","operation":"Apply","time":"2026-11-02T10:20:31Z"}}],"name":"{name}","namespace":"{ns}","resourceVersion":"10467","uid":"{uid}"}},"spec":{{"clusterIP":"{ip}","clusterIPs":["{ip}"],"internalTrafficPolicy":"Cluster","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","ports":[{{"name":"http","port":80,"protocol":"TCP","targetPort":"http"}}],"selector":{{"app.kubernetes.io/name":"{name}"}},"sessionAffinity":"None","type":"ClusterIP"}},"status":{{"loadBalancer":{{}}}}}}"#
    )
}

pub fn live_config(ns: &str, name: &str, edited: bool) -> String {
    let uid = uid(&format!("{ns}/{name}/cm"));
    let (format, manager) = if edited {
        (
            "text",
            r#",{"apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:data":{"f:LOG_FORMAT":{}}},"manager":"kubectl-edit","operation":"Update","time":"2026-11-26T07:45:02Z"}"#,
        )
    } else {
        ("json", "")
    };
    format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"creationTimestamp":"2026-10-02T08:14:03Z","managedFields":[{{"apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{{"f:data":{{".":{{}},"f:FEATURE_FLAGS":{{}},"f:LOG_FORMAT":{{}},"f:TIMEOUT_SECONDS":{{}},"f:UPSTREAM_URL":{{}}}}}},"manager":"argocd-controller","operation":"Apply","time":"2026-11-02T10:20:31Z"}}{manager}],"name":"{name}","namespace":"{ns}","resourceVersion":"2301554","uid":"{uid}"}},"data":{{"FEATURE_FLAGS":"checkout-v2,recommendations","LOG_FORMAT":"{format}","TIMEOUT_SECONDS":"30","UPSTREAM_URL":"http://{name}-upstream.{ns}.svc:8080"}}}}"#
    )
}

pub fn live_account(ns: &str, name: &str) -> String {
    let uid = uid(&format!("{ns}/{name}/sa"));
    format!(
        r#"{{"apiVersion":"v1","kind":"ServiceAccount","metadata":{{"creationTimestamp":"2026-10-02T08:14:02Z","name":"{name}","namespace":"{ns}","resourceVersion":"10441","uid":"{uid}"}}}}"#
    )
}
