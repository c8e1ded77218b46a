//! A Kubernetes API server for tests, on 127.0.0.1, speaking the wire protocol closely enough
//! that kube-rs cannot tell the difference for what gitdrift does: `/version`, discovery (`/api`,
//! `/apis`, `/api/v1`, `/apis/{group}/{version}`), list (`kind: XList`,
//! `metadata.resourceVersion`, `limit`/`continue`), get, the OpenAPI v3 index and group-version
//! documents a test gives it (`/openapi/v3`, `/openapi/v3/apis/{group}/{version}?hash=…`), and
//! watch (`?watch=1` streams of
//! ADDED/MODIFIED/DELETED/BOOKMARK events from a `resourceVersion`, `410 Gone` once it is
//! compacted away). Errors are `kind: Status` objects. Tests configure forbidden resources,
//! injected 5xx answers, slow answers and a bearer token; every request is journaled, and any
//! request that is not a GET gets `405` and is journaled too, so a test can prove that nothing
//! but GETs ever arrived.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// An API resource the server serves.
#[derive(Clone, Debug)]
pub struct ResourceDef {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
    /// Whether it can be listed and watched (a review can only be created).
    pub listable: bool,
}

impl ResourceDef {
    fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn id(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Journaled {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
}

#[derive(Clone, Debug)]
struct Event {
    rv: u64,
    resource: String,
    namespace: Option<String>,
    kind: &'static str,
    object: Value,
}

#[derive(Default)]
struct State {
    rv: u64,
    resources: Vec<ResourceDef>,
    /// resource id → (namespace, name) → object
    objects: HashMap<String, BTreeMap<(String, String), Value>>,
    events: Vec<Event>,
    /// Watches from a resourceVersion below this get 410 Gone.
    compacted_below: u64,
    forbidden: HashSet<String>,
    /// Path fragment → how many more requests to answer with 500.
    failures: Vec<(String, usize)>,
    delay: Option<Duration>,
    token: Option<String>,
    journal: Vec<Journaled>,
    bookmark_every: Duration,
    /// Bumped to end every open watch.
    watch_epoch: u64,
    /// While set, new watches wait before they start.
    watches_paused: bool,
    /// Watches answered with 410 Gone.
    expired: usize,
    /// Requests whose path and query contain one of these are held without an answer.
    stalls: Vec<String>,
    /// Reads (not watches) being answered now, by path; and the most ever seen at once.
    in_flight: HashMap<String, usize>,
    max_in_flight: usize,
    /// OpenAPI v3 documents by group-version path (`api/v1`, `apis/apps/v1`).
    openapi: BTreeMap<String, Value>,
}

/// The server. Stops when dropped.
pub struct KubeApi {
    pub port: u16,
    /// PEM of the CA that signed the server certificate (HTTPS servers).
    pub ca_pem: Option<String>,
    state: Arc<Mutex<State>>,
    notify: broadcast::Sender<()>,
    _runtime: tokio::runtime::Runtime,
}

fn builtin_resources() -> Vec<ResourceDef> {
    let r = |group: &str, version: &str, kind: &str, plural: &str, namespaced: bool| ResourceDef {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural.into(),
        namespaced,
        listable: true,
    };
    vec![
        r("", "v1", "Namespace", "namespaces", false),
        r("", "v1", "ConfigMap", "configmaps", true),
        r("", "v1", "Secret", "secrets", true),
        r("", "v1", "Service", "services", true),
        r("", "v1", "ServiceAccount", "serviceaccounts", true),
        r("", "v1", "Endpoints", "endpoints", true),
        r(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            true,
        ),
        r("", "v1", "Pod", "pods", true),
        r("apps", "v1", "Deployment", "deployments", true),
        r("apps", "v1", "StatefulSet", "statefulsets", true),
        r("apps", "v1", "DaemonSet", "daemonsets", true),
        r("apps", "v1", "ReplicaSet", "replicasets", true),
        r("batch", "v1", "Job", "jobs", true),
        r("batch", "v1", "CronJob", "cronjobs", true),
        r("networking.k8s.io", "v1", "Ingress", "ingresses", true),
        r(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            true,
        ),
        r("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
        r(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            true,
        ),
        r(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
        ),
        r(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        ),
        r(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        ),
    ]
}

impl KubeApi {
    /// Publishes an OpenAPI v3 document for a group version (`apis/example.com/v1`).
    pub fn openapi(&self, group_version: &str, document: Value) {
        self.state
            .lock()
            .unwrap()
            .openapi
            .insert(group_version.to_string(), document);
    }

    /// A plain-HTTP server.
    pub fn start() -> KubeApi {
        Self::start_with(false)
    }

    /// An HTTPS server with a certificate from a test CA ([`KubeApi::ca_pem`]).
    pub fn start_tls() -> KubeApi {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> KubeApi {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the test API server");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            rv: 1000,
            resources: builtin_resources(),
            bookmark_every: Duration::from_millis(500),
            ..State::default()
        }));
        let (notify, _) = broadcast::channel(4096);
        let (ca_pem, acceptor) = if tls {
            let (pem, config) = super::pki::test_pki();
            (Some(pem), Some(tokio_rustls::TlsAcceptor::from(config)))
        } else {
            (None, None)
        };
        let server_state = Arc::clone(&state);
        let server_notify = notify.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&server_state);
                let notify = server_notify.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        handle(request, Arc::clone(&state), notify.clone())
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(tls), service).await;
                            }
                        }
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        KubeApi {
            port,
            ca_pem,
            state,
            notify,
            _runtime: runtime,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Demands `Authorization: Bearer <token>` on every request.
    pub fn require_token(&self, token: &str) {
        self.state.lock().unwrap().token = Some(token.to_string());
    }

    /// Serves a custom resource.
    pub fn serve(&self, group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) {
        self.state.lock().unwrap().resources.push(ResourceDef {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
            listable: true,
        });
    }

    /// Serves a kind that can only be created (as TokenReview is): discovery says so, and it
    /// is never listed.
    pub fn serve_unlistable(&self, group: &str, version: &str, kind: &str, plural: &str) {
        self.state.lock().unwrap().resources.push(ResourceDef {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced: false,
            listable: false,
        });
    }

    /// Answers 403 to every request for a resource (`group`, `plural`).
    pub fn forbid(&self, group: &str, plural: &str) {
        self.state
            .lock()
            .unwrap()
            .forbidden
            .insert(format!("{group}/{plural}"));
    }

    /// Answers the next `count` requests whose path contains `fragment` with 500.
    pub fn fail_next(&self, fragment: &str, count: usize) {
        self.state
            .lock()
            .unwrap()
            .failures
            .push((fragment.to_string(), count));
    }

    /// Delays every answer.
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.state.lock().unwrap().delay = delay;
    }

    /// Holds every later request whose path and query contain `fragment` without ever
    /// answering it (an API server that stalls), until [`KubeApi::unstall`].
    pub fn stall(&self, fragment: &str) {
        self.state.lock().unwrap().stalls.push(fragment.to_string());
    }

    /// Answers stalled kinds of request again (those already held stay held).
    pub fn unstall(&self) {
        self.state.lock().unwrap().stalls.clear();
    }

    /// The most reads of one path ever answered at the same time (two overlapping scans of a
    /// target show as 2).
    pub fn max_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_in_flight
    }

    /// Creates or replaces an object (a new resourceVersion; an ADDED or MODIFIED event).
    pub fn apply(&self, object: Value) -> u64 {
        let rv = {
            let mut state = self.state.lock().unwrap();
            apply_locked(&mut state, object)
        };
        let _ = self.notify.send(());
        rv
    }

    /// Loads many objects.
    pub fn load(&self, objects: impl IntoIterator<Item = Value>) {
        {
            let mut state = self.state.lock().unwrap();
            for object in objects {
                apply_locked(&mut state, object);
            }
        }
        let _ = self.notify.send(());
    }

    /// Deletes an object (a DELETED event).
    pub fn delete(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) {
        {
            let mut state = self.state.lock().unwrap();
            let def = resource_for(&state, api_version, kind).expect("a served kind");
            let key = (namespace.unwrap_or("").to_string(), name.to_string());
            let removed = state
                .objects
                .get_mut(&def.id())
                .and_then(|objects| objects.remove(&key));
            if let Some(mut object) = removed {
                state.rv += 1;
                let rv = state.rv;
                object["metadata"]["resourceVersion"] = json!(rv.to_string());
                state.events.push(Event {
                    rv,
                    resource: def.id(),
                    namespace: namespace.map(str::to_string),
                    kind: "DELETED",
                    object,
                });
            }
        }
        let _ = self.notify.send(());
    }

    /// Forgets all events so far: a watch from an older resourceVersion gets 410 Gone.
    pub fn compact(&self) {
        let mut state = self.state.lock().unwrap();
        state.compacted_below = state.rv + 1;
        state.events.clear();
    }

    /// Ends every open watch stream, as an API server restart would, and holds new watches
    /// until [`KubeApi::resume_watches`]: clients then watch again from the last
    /// resourceVersion they saw.
    pub fn pause_watches(&self) {
        {
            let mut state = self.state.lock().unwrap();
            state.watch_epoch += 1;
            state.watches_paused = true;
        }
        let _ = self.notify.send(());
    }

    /// Lets held watches start.
    pub fn resume_watches(&self) {
        self.state.lock().unwrap().watches_paused = false;
        let _ = self.notify.send(());
    }

    /// How many watches were answered with 410 Gone.
    pub fn expired_watches(&self) -> usize {
        self.state.lock().unwrap().expired
    }

    /// Every request so far.
    pub fn journal(&self) -> Vec<Journaled> {
        self.state.lock().unwrap().journal.clone()
    }

    /// Fails the test unless every request so far was a GET.
    pub fn assert_read_only(&self) {
        let journal = self.journal();
        let writes: Vec<&Journaled> = journal.iter().filter(|j| j.method != "GET").collect();
        assert!(
            writes.is_empty(),
            "non-GET requests reached the API server: {writes:#?}"
        );
        assert!(!journal.is_empty(), "the API server saw no request at all");
    }

    /// Writes a kubeconfig with one context for this server (bearer token, CA when HTTPS).
    pub fn kubeconfig(&self, path: &Path, context: &str, token: &str) {
        write_kubeconfig(path, &[(self, context, token)]);
    }
}

/// Writes a kubeconfig with a context per server.
pub fn write_kubeconfig(path: &Path, servers: &[(&KubeApi, &str, &str)]) {
    let mut clusters = Vec::new();
    let mut users = Vec::new();
    let mut contexts = Vec::new();
    for (server, context, token) in servers {
        let mut cluster = json!({"server": server.url()});
        if let Some(pem) = &server.ca_pem {
            cluster["certificate-authority-data"] =
                json!(base64::engine::general_purpose::STANDARD.encode(pem));
        }
        clusters.push(json!({"name": format!("{context}-cluster"), "cluster": cluster}));
        users.push(json!({"name": format!("{context}-user"), "user": {"token": token}}));
        contexts.push(json!({"name": context, "context": {
            "cluster": format!("{context}-cluster"), "user": format!("{context}-user"), "namespace": "default"}}));
    }
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": users,
        "contexts": contexts,
        "current-context": servers.first().map(|s| s.1).unwrap_or("none"),
    });
    // JSON is YAML: kubeconfig loaders read it as written.
    std::fs::write(path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
}

fn resource_for(state: &State, api_version: &str, kind: &str) -> Option<ResourceDef> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    state
        .resources
        .iter()
        .find(|r| r.group == group && r.kind == kind && r.version == version)
        .or_else(|| {
            state
                .resources
                .iter()
                .find(|r| r.group == group && r.kind == kind)
        })
        .cloned()
}

fn apply_locked(state: &mut State, mut object: Value) -> u64 {
    let api_version = object["apiVersion"].as_str().unwrap_or("").to_string();
    let kind = object["kind"].as_str().unwrap_or("").to_string();
    let def = resource_for(state, &api_version, &kind)
        .unwrap_or_else(|| panic!("the test API server does not serve {api_version} {kind}"));
    let namespace = if def.namespaced {
        Some(
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string(),
        )
    } else {
        None
    };
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    state.rv += 1;
    let rv = state.rv;
    object["metadata"]["resourceVersion"] = json!(rv.to_string());
    if object["metadata"].get("uid").is_none() {
        object["metadata"]["uid"] = json!(format!("00000000-0000-4000-8000-{rv:012}"));
    }
    let key = (namespace.clone().unwrap_or_default(), name);
    let existed = state
        .objects
        .entry(def.id())
        .or_default()
        .insert(key, object.clone())
        .is_some();
    state.events.push(Event {
        rv,
        resource: def.id(),
        namespace,
        kind: if existed { "MODIFIED" } else { "ADDED" },
        object,
    });
    rv
}

type Body = BoxBody<Bytes, Infallible>;

fn full(value: &Value) -> Body {
    Full::new(Bytes::from(serde_json::to_vec(value).unwrap())).boxed()
}

fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code
    });
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(full(&body))
        .unwrap()
}

fn ok(value: Value) -> Response<Body> {
    Response::builder()
        .header("content-type", "application/json")
        .body(full(&value))
        .unwrap()
}

/// A parsed resource path.
struct Target {
    def: ResourceDef,
    namespace: Option<String>,
    name: Option<String>,
}

enum Route {
    OpenApiIndex,
    OpenApi(String),
    Version,
    CoreVersions,
    Groups,
    Resources { group: String, version: String },
    Resource(Target),
    NotFound,
}

fn route(state: &State, path: &str) -> Route {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["openapi", "v3"] => return Route::OpenApiIndex,
        ["openapi", "v3", rest @ ..] => return Route::OpenApi(rest.join("/")),
        ["version"] => return Route::Version,
        ["api"] => return Route::CoreVersions,
        ["apis"] => return Route::Groups,
        ["api", version] => {
            return Route::Resources {
                group: String::new(),
                version: version.to_string(),
            };
        }
        ["apis", group, version] => {
            return Route::Resources {
                group: group.to_string(),
                version: version.to_string(),
            };
        }
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Route::NotFound,
    };
    let find = |plural: &str| {
        state
            .resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .cloned()
    };
    let (def, namespace, name) = match rest {
        ["namespaces", ns, plural] if find(plural).is_some_and(|d| d.namespaced) => {
            (find(plural), Some(ns.to_string()), None)
        }
        ["namespaces", ns, plural, name] if find(plural).is_some_and(|d| d.namespaced) => {
            (find(plural), Some(ns.to_string()), Some(name.to_string()))
        }
        [plural] => (find(plural), None, None),
        [plural, name] => (find(plural), None, Some(name.to_string())),
        _ => (None, None, None),
    };
    match def {
        Some(def) => Route::Resource(Target {
            def,
            namespace,
            name,
        }),
        None => Route::NotFound,
    }
}

fn query_map(query: &str) -> HashMap<String, String> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

async fn handle(
    request: Request<Incoming>,
    state: Arc<Mutex<State>>,
    notify: broadcast::Sender<()>,
) -> Result<Response<Body>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let target = format!("{path}?{query}");
    let is_watch = query.contains("watch=true") || query.contains("watch=1");
    let stalled = {
        let mut guard = state.lock().unwrap();
        if !is_watch {
            let count = guard.in_flight.entry(path.clone()).or_insert(0);
            *count += 1;
            let count = *count;
            guard.max_in_flight = guard.max_in_flight.max(count);
        }
        guard.stalls.iter().any(|s| target.contains(s.as_str()))
    };
    if stalled {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let response = respond(&method, &path, &query, authorization, &state, notify);
    let code = response.status().as_u16();
    let delay = {
        let mut guard = state.lock().unwrap();
        guard.journal.push(Journaled {
            method: method.to_string(),
            path: path.clone(),
            query,
            status: code,
        });
        guard.delay
    };
    // A slow server: the answer is ready, and held back.
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if !is_watch && let Some(count) = state.lock().unwrap().in_flight.get_mut(&path) {
        *count -= 1;
    }
    Ok(response)
}

fn respond(
    method: &Method,
    path: &str,
    query: &str,
    authorization: Option<String>,
    state: &Arc<Mutex<State>>,
    notify: broadcast::Sender<()>,
) -> Response<Body> {
    let mut guard = state.lock().unwrap();
    if method != Method::GET {
        return status(
            405,
            "MethodNotAllowed",
            "the test API server only serves reads",
        );
    }
    if let Some(token) = &guard.token
        && authorization.as_deref() != Some(&format!("Bearer {token}"))
    {
        return status(401, "Unauthorized", "Unauthorized");
    }
    if let Some(slot) = guard
        .failures
        .iter_mut()
        .find(|(fragment, count)| *count > 0 && path.contains(fragment.as_str()))
    {
        slot.1 -= 1;
        return status(500, "InternalError", "injected failure");
    }
    match route(&guard, path) {
        Route::OpenApiIndex => {
            let paths: serde_json::Map<String, Value> = guard
                .openapi
                .iter()
                .map(|(gv, doc)| {
                    let hash = doc.to_string().len();
                    (
                        gv.clone(),
                        json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={hash:016X}")}),
                    )
                })
                .collect();
            ok(json!({"paths": paths}))
        }
        Route::OpenApi(gv) => match guard.openapi.get(&gv) {
            Some(doc) => ok(doc.clone()),
            None => status(404, "NotFound", "the page could not be found"),
        },
        Route::Version => ok(json!({
            "major": "1", "minor": "35", "gitVersion": "v1.35.0", "gitCommit": "0000000",
            "gitTreeState": "clean", "buildDate": "2026-10-01T00:00:00Z", "goVersion": "go1.25.1",
            "compiler": "gc", "platform": "linux/amd64"
        })),
        Route::CoreVersions => ok(json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]
        })),
        Route::Groups => {
            let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for r in guard.resources.iter().filter(|r| !r.group.is_empty()) {
                let versions = groups.entry(r.group.clone()).or_default();
                if !versions.contains(&r.version) {
                    versions.push(r.version.clone());
                }
            }
            let groups: Vec<Value> = groups
                .into_iter()
                .map(|(name, versions)| {
                    let list: Vec<Value> = versions
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
                        .collect();
                    json!({"name": name, "versions": list, "preferredVersion": list[0]})
                })
                .collect();
            ok(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        Route::Resources { group, version } => {
            let resources: Vec<Value> = guard
                .resources
                .iter()
                .filter(|r| r.group == group && r.version == version)
                .map(|r| {
                    json!({
                        "name": r.plural, "singularName": r.kind.to_lowercase(),
                        "namespaced": r.namespaced, "kind": r.kind,
                        "verbs": if r.listable {
                            json!(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"])
                        } else {
                            json!(["create"])
                        },
                        "storageVersionHash": "test"
                    })
                })
                .collect();
            if resources.is_empty() {
                return status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                );
            }
            let gv = if group.is_empty() {
                version
            } else {
                format!("{group}/{version}")
            };
            ok(
                json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
            )
        }
        Route::NotFound => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        Route::Resource(target) => {
            if guard.forbidden.contains(&target.def.id()) {
                let message = format!(
                    "{} is forbidden: User \"system:serviceaccount:gitdrift:gitdrift\" cannot list resource \"{}\" in API group \"{}\"{}",
                    target.def.plural,
                    target.def.plural,
                    target.def.group,
                    target
                        .namespace
                        .as_ref()
                        .map(|ns| format!(" in the namespace \"{ns}\""))
                        .unwrap_or_else(|| " at the cluster scope".to_string())
                );
                return status(403, "Forbidden", &message);
            }
            let params = query_map(query);
            if let Some(name) = &target.name {
                let key = (target.namespace.clone().unwrap_or_default(), name.clone());
                return match guard
                    .objects
                    .get(&target.def.id())
                    .and_then(|o| o.get(&key))
                {
                    Some(object) => ok(object.clone()),
                    None => status(
                        404,
                        "NotFound",
                        &format!("{} \"{name}\" not found", target.def.plural),
                    ),
                };
            }
            if params.get("watch").is_some_and(|w| w == "1" || w == "true") {
                let receiver = notify.subscribe();
                drop(guard);
                return watch(Arc::clone(state), target, &params, receiver);
            }
            list(&mut guard, &target, &params)
        }
    }
}

fn matching<'a>(
    state: &'a State,
    target: &'a Target,
) -> impl Iterator<Item = (&'a (String, String), &'a Value)> + 'a {
    state
        .objects
        .get(&target.def.id())
        .into_iter()
        .flat_map(|objects| objects.iter())
        .filter(move |((ns, _), _)| target.namespace.as_ref().is_none_or(|want| want == ns))
}

fn list(state: &mut State, target: &Target, params: &HashMap<String, String>) -> Response<Body> {
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let offset: usize = match params.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => match base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| t.parse().ok())
        {
            Some(offset) => offset,
            None => return status(400, "BadRequest", "invalid continue token"),
        },
        None => 0,
    };
    let builtin = builtin_resources()
        .iter()
        .any(|b| b.group == target.def.group && b.plural == target.def.plural);
    let total = matching(state, target).count();
    let end = offset.saturating_add(limit).min(total);
    // Only the page is copied: listing a large resource page by page stays linear.
    let items: Vec<Value> = matching(state, target)
        .skip(offset)
        .take(end.saturating_sub(offset))
        .map(|(_, item)| {
            let mut item = item.clone();
            // Built-in kinds come without apiVersion/kind in list items; custom resources keep them.
            if builtin && let Some(map) = item.as_object_mut() {
                map.remove("apiVersion");
                map.remove("kind");
            }
            item
        })
        .collect();
    let mut metadata = json!({"resourceVersion": state.rv.to_string()});
    if end < total {
        metadata["continue"] =
            json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(end.to_string()));
        metadata["remainingItemCount"] = json!(total - end);
    }
    ok(json!({
        "kind": format!("{}List", target.def.kind),
        "apiVersion": target.def.group_version(),
        "metadata": metadata,
        "items": items,
    }))
}

fn line(value: &Value) -> Result<Frame<Bytes>, Infallible> {
    let mut bytes = serde_json::to_vec(value).unwrap();
    bytes.push(b'\n');
    Ok(Frame::data(Bytes::from(bytes)))
}

fn watch(
    state: Arc<Mutex<State>>,
    target: Target,
    params: &HashMap<String, String>,
    mut receiver: broadcast::Receiver<()>,
) -> Response<Body> {
    let from: Option<u64> = params
        .get("resourceVersion")
        .filter(|rv| !rv.is_empty() && *rv != "0")
        .and_then(|rv| rv.parse().ok());
    let bookmarks = params
        .get("allowWatchBookmarks")
        .is_some_and(|b| b == "true" || b == "1");
    let timeout = Duration::from_secs(
        params
            .get("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .unwrap_or(290),
    );
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1024);
    tokio::spawn(async move {
        while state.lock().unwrap().watches_paused {
            let _ = tokio::time::timeout(Duration::from_millis(50), receiver.recv()).await;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let epoch = state.lock().unwrap().watch_epoch;
        let mut seen = match from {
            Some(rv) => {
                let gone = {
                    let mut guard = state.lock().unwrap();
                    // Events after `rv` are needed; they are gone when compaction went past it.
                    let gone = rv.saturating_add(1) < guard.compacted_below;
                    guard.expired += usize::from(gone);
                    gone
                };
                if gone {
                    let expired = json!({"type": "ERROR", "object": {
                        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": format!("too old resource version: {rv}"), "reason": "Expired", "code": 410}});
                    let _ = tx.send(line(&expired)).await;
                    return;
                }
                rv
            }
            None => {
                // No resourceVersion: the current objects as ADDED, then what follows.
                let (events, rv): (Vec<Value>, u64) = {
                    let guard = state.lock().unwrap();
                    let events = matching(&guard, &target)
                        .map(|(_, object)| json!({"type": "ADDED", "object": object}))
                        .collect();
                    (events, guard.rv)
                };
                for event in events {
                    if tx.send(line(&event)).await.is_err() {
                        return;
                    }
                }
                rv
            }
        };
        let mut last_bookmark = tokio::time::Instant::now();
        loop {
            let (events, rv, every) = {
                let guard = state.lock().unwrap();
                if guard.watch_epoch != epoch {
                    return;
                }
                let events: Vec<Event> = guard
                    .events
                    .iter()
                    .filter(|e| {
                        e.rv > seen
                            && e.resource == target.def.id()
                            && target
                                .namespace
                                .as_ref()
                                .is_none_or(|want| e.namespace.as_deref() == Some(want.as_str()))
                    })
                    .cloned()
                    .collect();
                (events, guard.rv, guard.bookmark_every)
            };
            for event in events {
                seen = event.rv;
                let frame = json!({"type": event.kind, "object": event.object});
                if tx.send(line(&frame)).await.is_err() {
                    return;
                }
            }
            if bookmarks && last_bookmark.elapsed() >= every {
                seen = seen.max(rv);
                last_bookmark = tokio::time::Instant::now();
                let bookmark = json!({"type": "BOOKMARK", "object": {
                    "kind": target.def.kind, "apiVersion": target.def.group_version(),
                    "metadata": {"resourceVersion": rv.to_string()}}});
                if tx.send(line(&bookmark)).await.is_err() {
                    return;
                }
            }
            let wait = every.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            if wait.is_zero() {
                return;
            }
            tokio::select! {
                _ = receiver.recv() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    });
    let stream = tokio_stream_from(rx);
    Response::builder()
        .header("content-type", "application/json")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap()
}

/// A stream over an mpsc receiver.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, Infallible>>,
) -> impl futures::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + Sync + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
