//! Live state from Kubernetes API servers, read with get, list and watch only. Discovery maps
//! each kind a scan needs to its resource, scope and preferred version; lists are paged; 5xx
//! answers and timeouts are retried with backoff; a forbidden kind is reported and the rest goes
//! on. Every client is built by [`client`], which puts [`guard::ReadOnlyLayer`] in its HTTP stack.

pub mod guard;
pub mod watch;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kube::core::{ApiResource, DynamicObject, Request, Resource as _};
use kube::discovery::{Discovery, Scope as KubeScope};
use kube::{Client, Config};
use serde_json::Value;

use super::{LiveRead, LiveRequest, Recorder, Unreadable};
use crate::config::KubeSettings;
use crate::config::Limits;
use crate::manifest;
use crate::model::{Code, GroupKind, Problem, ResourceKey, Scope, Severity};

/// Why a cluster could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The kubeconfig (or in-cluster configuration) could not be loaded.
    #[error("cannot load the Kubernetes configuration: {0}")]
    Config(String),
    /// The client could not be built.
    #[error("cannot build the Kubernetes client: {0}")]
    Client(String),
    /// The cluster did not answer discovery.
    #[error("cannot reach the cluster: {0}")]
    Unreachable(String),
}

impl KubeError {
    /// The problem code.
    pub fn code(&self) -> Code {
        match self {
            KubeError::Config(_) | KubeError::Client(_) => Code::KubeConfig,
            KubeError::Unreachable(_) => Code::KubeUnreachable,
        }
    }
}

/// How a client is used: requests that should answer within the target's timeout, or watches
/// (long-lived streams that may stay quiet for minutes between events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Discovery, lists and gets.
    Requests,
    /// Watches.
    Watches,
}

/// Builds a read-only client for a target and a use (see [`Use`]): kubeconfig (a file and/or a
/// context) or in-cluster; its guard counts requests in `recorder`.
async fn client_for(
    settings: &KubeSettings,
    used_for: Use,
    recorder: &Arc<dyn Recorder>,
) -> Result<Client, KubeError> {
    let mut config = if settings.in_cluster() {
        Config::incluster().map_err(|e| KubeError::Config(format!("in-cluster: {e}")))?
    } else {
        let options = kube::config::KubeConfigOptions {
            context: settings.context.clone(),
            cluster: None,
            user: None,
        };
        match &settings.kubeconfig {
            Some(path) => {
                register_kubeconfig_credentials(std::slice::from_ref(path));
                let kubeconfig = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| KubeError::Config(kubeconfig_error(Some(path), &e)))?;
                Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| KubeError::Config(kubeconfig_error(Some(path), &e)))?
            }
            None => {
                register_kubeconfig_credentials(&default_kubeconfigs());
                Config::from_kubeconfig(&options)
                    .await
                    .map_err(|e| KubeError::Config(kubeconfig_error(None, &e)))?
            }
        }
    };
    config.connect_timeout = Some(settings.timeout);
    config.read_timeout = match used_for {
        Use::Requests => Some(settings.timeout),
        // A watch is ended by the server after its timeoutSeconds (290 s by default).
        Use::Watches => Some(Duration::from_secs(330).max(settings.timeout)),
    };
    config.write_timeout = Some(settings.timeout);
    let builder = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| KubeError::Client(e.to_string()))?;
    let qps = settings.qps.max(1);
    Ok(builder
        .with_layer(&tower::limit::RateLimitLayer::new(
            u64::from(qps),
            Duration::from_secs(1),
        ))
        .with_layer(&guard::ReadOnlyLayer::for_target(
            &settings.target,
            Arc::clone(recorder),
        ))
        .build())
}

/// Fields of a kubeconfig whose values are credentials (user entries, auth-provider and exec
/// settings): registered with the redactor before the file is parsed, so that no error, log
/// line or report can quote them.
const KUBECONFIG_CREDENTIALS: [&str; 10] = [
    "token",
    "password",
    "client-key-data",
    "client-key",
    "id-token",
    "refresh-token",
    "access-token",
    "client-secret",
    "tokenFile",
    "value",
];

/// The kubeconfig files kube reads when none is named: `$KUBECONFIG` (a path list) or
/// `~/.kube/config`.
fn default_kubeconfigs() -> Vec<std::path::PathBuf> {
    match std::env::var_os("KUBECONFIG") {
        Some(list) if !list.is_empty() => std::env::split_paths(&list).collect(),
        _ => std::env::var_os("HOME")
            .map(|home| vec![std::path::Path::new(&home).join(".kube/config")])
            .unwrap_or_default(),
    }
}

/// Registers every credential value of these kubeconfig files with the redactor. It reads
/// lines, not YAML, so that a file which does not parse is covered too.
fn register_kubeconfig_credentials(paths: &[std::path::PathBuf]) {
    for path in paths {
        if let Ok(text) = std::fs::read_to_string(path) {
            register_credentials_in(&text);
        }
    }
}

/// Registers the credential values of one kubeconfig's text.
fn register_credentials_in(text: &str) {
    for line in text.lines() {
        let line = line.trim().trim_start_matches("- ").trim_start();
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches(['"', '\'']);
        if !KUBECONFIG_CREDENTIALS.contains(&key) {
            continue;
        }
        let value = value.trim().trim_matches(['"', '\'']);
        crate::model::redact::register(value);
        // A value cut by a malformed line still masks its pieces.
        for piece in value.split_whitespace().filter(|p| p.len() >= 8) {
            crate::model::redact::register(piece);
        }
    }
}

/// Parses kubeconfig text the way a target's file is read, every credential in it registered
/// with the redactor first; the error (if any) is fit to print, naming `shown`.
pub fn kubeconfig_from_yaml(
    text: &str,
    shown: &std::path::Path,
) -> Result<kube::config::Kubeconfig, String> {
    register_credentials_in(text);
    kube::config::Kubeconfig::from_yaml(text).map_err(|e| kubeconfig_error(Some(shown), &e))
}

/// A kubeconfig error fit to print: its first line only (parsers quote the lines around a
/// syntax error, and those lines may hold a token), scrubbed of every registered credential.
fn kubeconfig_error(path: Option<&std::path::Path>, err: &dyn std::error::Error) -> String {
    let chain = crate::model::redact::error_chain(err);
    let first = chain.lines().next().unwrap_or("").trim_end();
    match path {
        Some(path) => format!("{}: {first}", path.display()),
        None => first.to_string(),
    }
}

/// Reads the live objects a scan needs from one cluster.
#[derive(Clone, Debug)]
pub struct KubeProvider {
    settings: KubeSettings,
    recorder: Arc<dyn Recorder>,
    /// The cluster's OpenAPI v3 documents, pruned, by their URL (which carries the schema's
    /// hash: a new schema is a new URL).
    openapi: Arc<std::sync::Mutex<HashMap<String, Arc<serde_json::Value>>>>,
}

/// A kind the scan needs, as the cluster serves it.
#[derive(Clone, Debug)]
pub struct Served {
    /// The kind.
    pub gk: GroupKind,
    /// Its resource (plural, version).
    pub resource: ApiResource,
    /// Namespaced or cluster-wide.
    pub scope: Scope,
}

impl KubeProvider {
    /// A provider for a target's settings; its guard counts requests in `recorder`.
    pub fn new(settings: KubeSettings, recorder: Arc<dyn Recorder>) -> KubeProvider {
        KubeProvider {
            settings,
            recorder,
            openapi: Arc::default(),
        }
    }

    /// A read-only client for this cluster, for a use (see [`Use`]).
    pub async fn client(&self, used_for: Use) -> Result<Client, KubeError> {
        client_for(&self.settings, used_for, &self.recorder).await
    }

    /// The settings.
    pub fn settings(&self) -> &KubeSettings {
        &self.settings
    }

    /// Where the cluster is, for reports (the context, or in-cluster).
    pub fn location(&self) -> String {
        match (&self.settings.context, &self.settings.kubeconfig) {
            (Some(ctx), Some(path)) => format!("context {ctx} in {}", path.display()),
            (Some(ctx), None) => format!("context {ctx}"),
            (None, Some(path)) => format!("current context in {}", path.display()),
            (None, None) => "in-cluster".to_string(),
        }
    }

    /// Every kind the scan needs: the request's, plus the target's configured unmanaged kinds.
    pub fn wanted(&self, request: &LiveRequest) -> (BTreeSet<GroupKind>, BTreeSet<String>) {
        let mut kinds = request.kinds.clone();
        for spec in &self.settings.unmanaged_kinds {
            let (kind, group) = spec.split_once('.').unwrap_or((spec.as_str(), ""));
            kinds.insert(GroupKind {
                group: group.to_string(),
                kind: kind.to_string(),
            });
        }
        let mut namespaces = request.namespaces.clone();
        namespaces.extend(self.settings.unmanaged_namespaces.iter().cloned());
        (kinds, namespaces)
    }

    /// Maps kinds to the resources the cluster serves (discovery of the groups involved); with
    /// `unmanaged: {kinds: all}`, every group is discovered and every kind served with list and
    /// watch is added, less the exclusions ([`crate::config::targets::ALL_KINDS_EXCLUDED`] and the target's own).
    pub async fn discover(
        &self,
        client: &Client,
        kinds: &BTreeSet<GroupKind>,
    ) -> Result<(Vec<Served>, BTreeSet<GroupKind>), KubeError> {
        let all = self.settings.unmanaged_all;
        let groups: BTreeSet<&str> = kinds.iter().map(|gk| gk.group.as_str()).collect();
        let groups: Vec<&str> = groups.into_iter().collect();
        let mut attempt = 0;
        let discovery = loop {
            let discovering = if all {
                Discovery::new(client.clone())
            } else {
                Discovery::new(client.clone()).filter(&groups)
            };
            match discovering.run().await {
                Ok(d) => break d,
                Err(err) if attempt < self.settings.retries && retryable(&err) => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(err) => {
                    return Err(KubeError::Unreachable(crate::model::redact::error_chain(
                        &err,
                    )));
                }
            }
        };
        let mut kinds = kinds.clone();
        if all {
            for group in discovery.groups() {
                for (resource, caps) in group.resources_by_stability() {
                    let gk = GroupKind {
                        group: resource.group.clone(),
                        kind: resource.kind.clone(),
                    };
                    let verbs = |verb: &str| caps.operations.iter().any(|v| v == verb);
                    if verbs("list") && verbs("watch") && !self.excluded_from_all(&gk) {
                        kinds.insert(gk);
                    }
                }
            }
        }
        let mut served = Vec::new();
        let mut unserved = BTreeSet::new();
        for gk in &kinds {
            let found = discovery.get(&gk.group).and_then(|group| {
                group
                    .resources_by_stability()
                    .into_iter()
                    .find(|(ar, _)| ar.kind == gk.kind)
            });
            match found {
                Some((resource, caps)) if caps.operations.iter().any(|v| v == "list") => served
                    .push(Served {
                        gk: gk.clone(),
                        resource,
                        scope: match caps.scope {
                            KubeScope::Cluster => Scope::Cluster,
                            KubeScope::Namespaced => Scope::Namespaced,
                        },
                    }),
                _ => {
                    unserved.insert(gk.clone());
                }
            }
        }
        Ok((served, unserved))
    }

    /// Whether `kinds: all` leaves a kind out.
    fn excluded_from_all(&self, gk: &GroupKind) -> bool {
        let named = |spec: &str| {
            let (kind, group) = spec.split_once('.').unwrap_or((spec, ""));
            kind == gk.kind && group == gk.group
        };
        crate::config::targets::ALL_KINDS_EXCLUDED
            .iter()
            .any(|s| named(s))
            || self
                .settings
                .unmanaged_exclude_kinds
                .iter()
                .any(|s| named(s))
    }

    /// Reads the objects of every kind the scan needs.
    pub async fn read(&self, target: &str, request: &LiveRequest, limits: &Limits) -> LiveRead {
        let mut out = LiveRead::empty();
        let fail = |err: KubeError| {
            Problem::new(Severity::Error, err.code(), err.to_string()).target(target)
        };
        let client = match self.client(Use::Requests).await {
            Ok(client) => client,
            Err(err) => {
                out.problems.push(fail(err));
                out.complete = false;
                return out;
            }
        };
        let (kinds, namespaces) = self.wanted(request);
        if kinds.is_empty() && !self.settings.unmanaged_all {
            return out;
        }
        let (served, unserved) = match self.discover(&client, &kinds).await {
            Ok(found) => found,
            Err(err) => {
                out.problems.push(fail(err));
                out.complete = false;
                return out;
            }
        };
        out.unserved = unserved;
        let line = crate::progress::Line::start(
            &format!("list {target}"),
            Some(served.len() as u64),
            "kinds",
        );
        for kind in &served {
            line.inc(1);
            line.message(format!("{} · {} objects", kind.gk.kind, out.objects.len()));
            out.scopes.insert(kind.gk.clone(), kind.scope);
            let mut skipped = Vec::new();
            let listed = self
                .list_kind(&client, kind, &namespaces, &mut skipped)
                .await;
            for (key, why) in skipped {
                out.problems.push(
                    Problem::new(
                        Severity::Warning,
                        Code::KubeObjectSkipped,
                        format!(
                            "{} {}: skipped, it cannot be parsed ({why}); the rest of its kind is judged",
                            kind.gk.kind,
                            crate::model::resource_name(&key.namespace, &key.name)
                        ),
                    )
                    .target(target),
                );
                out.skipped.insert(key);
            }
            match listed {
                Ok(objects) => out.objects.extend(objects),
                Err(ListError::Forbidden(message)) => out.unreadable.push(Unreadable {
                    gk: kind.gk.clone(),
                    code: Code::KubeForbidden,
                    message,
                }),
                Err(ListError::Other(message)) => out.unreadable.push(Unreadable {
                    gk: kind.gk.clone(),
                    code: Code::KubeError,
                    message,
                }),
            }
        }
        let _ = limits;
        out.observed_at = Utc::now();
        out.openapi = self.openapi(&client, &served).await;
        out
    }

    /// The OpenAPI v3 documents of the group versions read, pruned to what defaults need, each
    /// fetched once per schema hash. A document that cannot be read is left out: the vendored
    /// defaults stand in for it.
    async fn openapi(&self, client: &Client, served: &[Served]) -> Vec<Arc<serde_json::Value>> {
        let get = |uri: &str| -> Option<http::Request<Vec<u8>>> {
            http::Request::get(uri).body(Vec::new()).ok()
        };
        let index: serde_json::Value = match get("/openapi/v3") {
            Some(request) => match self.send(client, request).await {
                Ok(text) => serde_json::from_str(&text).unwrap_or_default(),
                Err(err) => {
                    tracing::debug!(message = "no OpenAPI v3 index; vendored defaults used", error = ?err);
                    return Vec::new();
                }
            },
            None => return Vec::new(),
        };
        let group_versions: BTreeSet<String> = served
            .iter()
            .map(|s| match s.resource.group.as_str() {
                "" => format!("api/{}", s.resource.version),
                group => format!("apis/{group}/{}", s.resource.version),
            })
            .collect();
        // Only the documents of the current schemas are kept: a new hash replaces the old.
        let current: BTreeSet<&str> = index["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(_, p)| p["serverRelativeURL"].as_str())
            .collect();
        self.openapi
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|url, _| current.contains(url.as_str()));
        let mut out = Vec::new();
        for gv in group_versions {
            let Some(url) = index["paths"][gv.as_str()]["serverRelativeURL"].as_str() else {
                continue;
            };
            let cached = self
                .openapi
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(url)
                .cloned();
            if let Some(document) = cached {
                out.push(document);
                continue;
            }
            let Some(request) = get(url) else { continue };
            match self.send(client, request).await {
                Ok(text) => {
                    let Ok(document) = serde_json::from_str::<serde_json::Value>(&text) else {
                        continue;
                    };
                    let pruned = Arc::new(crate::diff::defaults::prune(&document));
                    self.openapi
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(url.to_string(), Arc::clone(&pruned));
                    out.push(pruned);
                }
                Err(err) => {
                    tracing::debug!(message = "an OpenAPI v3 document could not be read", group_version = %gv, error = ?err);
                }
            }
        }
        out
    }

    /// Lists one kind: cluster-wide, keeping the namespaces in scope; per namespace when the
    /// cluster-wide list is forbidden (namespace-scoped RBAC).
    async fn list_kind(
        &self,
        client: &Client,
        kind: &Served,
        namespaces: &BTreeSet<String>,
        skipped: &mut Vec<(ResourceKey, String)>,
    ) -> Result<Vec<crate::model::Object>, ListError> {
        match kind.scope {
            Scope::Cluster => {
                self.list_all(client, &kind.resource, None, None, skipped)
                    .await
            }
            Scope::Namespaced => {
                if namespaces.is_empty() {
                    return Ok(Vec::new());
                }
                match self
                    .list_all(client, &kind.resource, None, Some(namespaces), skipped)
                    .await
                {
                    Ok(objects) => Ok(objects),
                    Err(ListError::Forbidden(cluster_wide)) => {
                        let mut items = Vec::new();
                        for ns in namespaces {
                            match self
                                .list_all(client, &kind.resource, Some(ns), None, skipped)
                                .await
                            {
                                Ok(found) => items.extend(found),
                                Err(ListError::Forbidden(message)) => {
                                    return Err(ListError::Forbidden(format!(
                                        "{cluster_wide}; in namespace {ns}: {message}"
                                    )));
                                }
                                Err(other) => return Err(other),
                            }
                        }
                        Ok(items)
                    }
                    Err(other) => Err(other),
                }
            }
        }
    }

    /// Lists every page of a resource (in a namespace, or everywhere), keeping the objects in
    /// `keep` namespaces when given. Each page becomes compact objects before the next is read.
    async fn list_all(
        &self,
        client: &Client,
        resource: &ApiResource,
        namespace: Option<&str>,
        keep: Option<&BTreeSet<String>>,
        skipped: &mut Vec<(ResourceKey, String)>,
    ) -> Result<Vec<crate::model::Object>, ListError> {
        let label = kind_label(&GroupKind {
            group: resource.group.clone(),
            kind: resource.kind.clone(),
        });
        let url = DynamicObject::url_path(resource, namespace);
        let api_version = resource.api_version.clone();
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut params = kube::api::ListParams::default().limit(self.settings.page_size);
            if let Some(token) = &token {
                params = params.continue_token(token);
            }
            let request = Request::new(&url)
                .list(&params)
                .map_err(|e| ListError::Other(e.to_string()))?;
            let text = self.send(client, request).await?;
            // The page's items are split out unparsed, then parsed one by one: an item the
            // parser refuses (nested past its depth limit) is skipped alone, not its kind.
            let page: Page<'_> = serde_json::from_str(&text)
                .map_err(|e| ListError::Other(format!("{url}: not a list: {e}")))?;
            let next = page.metadata.next.filter(|t| !t.is_empty());
            {
                let mut page_items = Vec::with_capacity(page.items.len());
                for raw in page.items {
                    match serde_json::from_str::<Value>(raw.get()) {
                        Ok(item) => page_items.push(item),
                        Err(err) => {
                            let named: Named = serde_json::from_str(raw.get()).unwrap_or_default();
                            skipped.push((
                                ResourceKey {
                                    group: resource.group.clone(),
                                    kind: resource.kind.clone(),
                                    namespace: named.metadata.namespace,
                                    name: named.metadata.name.unwrap_or_else(|| "?".to_string()),
                                },
                                err.to_string(),
                            ));
                        }
                    }
                }
                for mut item in page_items {
                    if let Some(keep) = keep {
                        let in_scope = item
                            .pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .is_some_and(|ns| keep.contains(ns));
                        if !in_scope {
                            continue;
                        }
                    }
                    // List items carry no apiVersion/kind; the list's resource says what they are.
                    if let Some(map) = item.as_object_mut() {
                        map.insert("apiVersion".into(), Value::String(api_version.clone()));
                        map.insert("kind".into(), Value::String(resource.kind.clone()));
                    }
                    if let Some(mut object) = manifest::object_from_value(&label, item) {
                        super::compact(&mut object);
                        items.push(object);
                    }
                }
            }
            match next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        Ok(items)
    }

    /// Sends one GET, retrying 5xx answers, throttling and transport failures with backoff.
    async fn send(
        &self,
        client: &Client,
        request: http::Request<Vec<u8>>,
    ) -> Result<String, ListError> {
        let mut attempt = 0;
        loop {
            let copy = clone_request(&request);
            match client.request_text(copy).await {
                Ok(text) => return Ok(text),
                Err(kube::Error::Api(status)) if status.code == 403 => {
                    return Err(ListError::Forbidden(status.message.clone()));
                }
                Err(err) if attempt < self.settings.retries && retryable(&err) => {
                    attempt += 1;
                    tracing::debug!(message = "retrying", path = %request.uri(), attempt, error = %crate::model::redact::error_chain(&err));
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(err) => return Err(ListError::Other(crate::model::redact::error_chain(&err))),
            }
        }
    }
}

/// A list page as the API server sends it: the continue token, and the items left unparsed.
#[derive(serde::Deserialize)]
struct Page<'a> {
    #[serde(default)]
    metadata: PageMeta,
    #[serde(borrow, default)]
    items: Vec<&'a serde_json::value::RawValue>,
}

#[derive(Default, serde::Deserialize)]
struct PageMeta {
    #[serde(rename = "continue")]
    next: Option<String>,
}

/// Only the name of an object that cannot be parsed whole (every other field is skipped
/// without building it).
#[derive(Default, serde::Deserialize)]
struct Named {
    #[serde(default)]
    metadata: NamedMeta,
}

#[derive(Default, serde::Deserialize)]
struct NamedMeta {
    name: Option<String>,
    namespace: Option<String>,
}

/// Why one kind could not be listed.
#[derive(Debug)]
enum ListError {
    Forbidden(String),
    Other(String),
}

fn clone_request(request: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// 5xx, 429 and transport failures are worth another try; other answers are not.
fn retryable(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => status.code >= 500 || status.code == 429,
        kube::Error::HyperError(_) | kube::Error::Service(_) => !is_refused_write(err),
        _ => false,
    }
}

fn is_refused_write(err: &kube::Error) -> bool {
    crate::model::redact::error_chain(err).contains("gitdrift is read-only")
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << attempt.min(6)))
}

/// How a live object's origin is shown: its kind, as `Kind.group`.
pub fn kind_label(gk: &GroupKind) -> String {
    // AWS types name themselves (AWS::EC2::Instance).
    if gk.group.is_empty() || crate::model::aws::is_aws(&gk.group) {
        gk.kind.clone()
    } else {
        format!("{}.{}", gk.kind, gk.group)
    }
}
