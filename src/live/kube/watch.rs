//! Watch mode: a target kept current from watches instead of re-listing. For each kind in scope a
//! kube-runtime watcher keeps a cache (it resumes from the last resourceVersion, follows
//! bookmarks, and lists again after `410 Gone`); every event re-judges the one object it touches,
//! so the target's current result follows the cluster within milliseconds. `serve` builds on this.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use kube::Api;
use kube::core::{ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::task::JoinHandle;

use super::{KubeError, KubeProvider, Served};
use crate::config::{Config, LiveSettings};
use crate::diff::ignore;
use crate::diff::unmanaged::SystemContext;
use crate::live::{LiveRead, LiveRequest, Unreadable};
use crate::manifest;
use crate::model::{Declared, GroupKind, Object, ResourceKey, Scope};
use crate::report::ResourceReport;
use crate::scan::{Judge, sort_resources};

/// A change to a watched target's result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Update {
    /// Counts every change.
    pub generation: u64,
    /// The object judged again, if one was.
    pub key: Option<ResourceKey>,
    /// Every kind has been listed once: the result is complete.
    pub ready: bool,
}

/// A target whose result is kept current from watches.
pub struct TargetWatch {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    updates: tokio::sync::watch::Sender<Update>,
}

struct State {
    config: Arc<Config>,
    judge: Judge,
    namespaces: BTreeSet<String>,
    live: HashMap<ResourceKey, Object>,
    by_kind: HashMap<GroupKind, HashSet<ResourceKey>>,
    results: BTreeMap<ResourceKey, ResourceReport>,
    system: SystemContext,
    pending: HashSet<GroupKind>,
    unreadable: BTreeMap<GroupKind, String>,
    generation: u64,
    scopes: BTreeMap<GroupKind, Scope>,
    unserved: BTreeSet<GroupKind>,
}

impl TargetWatch {
    /// Starts watching a Kubernetes target for the objects `declared` (git's side of it).
    pub async fn start(
        config: Arc<Config>,
        target: &str,
        declared: Vec<Declared>,
    ) -> Result<TargetWatch, KubeError> {
        let settings = match config.target(target).map(|t| &t.live) {
            Some(LiveSettings::Kubernetes(settings)) => settings.clone(),
            _ => {
                return Err(KubeError::Config(format!(
                    "target {target} is not a Kubernetes target"
                )));
            }
        };
        let provider = KubeProvider::new(settings);
        let mut request = LiveRequest::default();
        for item in &declared {
            let object = &item.object;
            request.kinds.insert(GroupKind {
                group: object.group.clone(),
                kind: object.kind.clone(),
            });
            let default_ns = config
                .sources
                .iter()
                .find(|s| s.name == item.source)
                .map(|s| s.namespace.clone())
                .unwrap_or_else(|| "default".to_string());
            request
                .namespaces
                .insert(object.namespace.clone().unwrap_or(default_ns));
        }
        let client = super::client(provider.settings()).await?;
        let watch_client = super::client_for(provider.settings(), super::Use::Watches).await?;
        let (kinds, namespaces) = provider.wanted(&request);
        let (served, unserved) = provider.discover(&client, &kinds).await?;
        let mut stub = LiveRead::empty();
        stub.scopes = served.iter().map(|s| (s.gk.clone(), s.scope)).collect();
        stub.unserved = unserved;
        let judge = Judge::new(Arc::clone(&config), target, declared, &stub, true);
        let mut state = State {
            config,
            judge,
            namespaces,
            live: HashMap::new(),
            by_kind: HashMap::new(),
            results: BTreeMap::new(),
            system: SystemContext::default(),
            pending: served.iter().map(|s| s.gk.clone()).collect(),
            unreadable: BTreeMap::new(),
            generation: 0,
            scopes: stub.scopes.clone(),
            unserved: stub.unserved.clone(),
        };
        // Declared objects of kinds the cluster does not serve are missing from the start.
        let keys: Vec<ResourceKey> = state
            .judge
            .declared_keys()
            .iter()
            .filter(|k| stub.unserved.contains(&k.group_kind()))
            .cloned()
            .collect();
        for key in keys {
            state.rejudge(&key);
        }
        let ready = state.pending.is_empty();
        let (updates, _) = tokio::sync::watch::channel(Update {
            generation: 0,
            key: None,
            ready,
        });
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            updates,
        });
        let page_size = provider.settings().page_size;
        let tasks = served
            .into_iter()
            .map(|kind| {
                let shared = Arc::clone(&shared);
                let client = watch_client.clone();
                tokio::spawn(async move { watch_kind(shared, client, kind, page_size).await })
            })
            .collect();
        Ok(TargetWatch { shared, tasks })
    }

    /// The target's current resources, ordered by identity.
    pub fn resources(&self) -> Vec<ResourceReport> {
        let state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut resources: Vec<ResourceReport> = state.results.values().cloned().collect();
        sort_resources(&mut resources);
        resources
    }

    /// The current result for one identity.
    pub fn resource(&self, key: &ResourceKey) -> Option<ResourceReport> {
        let state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.results.get(key).cloned()
    }

    /// Kinds that cannot be watched right now, with the reason.
    pub fn unreadable(&self) -> Vec<(GroupKind, String)> {
        let state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .unreadable
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The watched objects as a live read, for a full scan (with compliance rules) of the
    /// target without listing it again. Kinds not listed yet or failing are unreadable.
    pub fn live_read(&self) -> LiveRead {
        let state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut unreadable: Vec<Unreadable> = state
            .unreadable
            .iter()
            .map(|(gk, message)| Unreadable {
                gk: gk.clone(),
                reason: if message.contains("403") || message.contains("orbidden") {
                    "forbidden".to_string()
                } else {
                    "error".to_string()
                },
                message: message.clone(),
            })
            .collect();
        for gk in &state.pending {
            if !state.unreadable.contains_key(gk) {
                unreadable.push(Unreadable {
                    gk: gk.clone(),
                    reason: "error".to_string(),
                    message: "the watch has not listed this kind yet".to_string(),
                });
            }
        }
        LiveRead {
            objects: state.live.values().cloned().collect(),
            problems: Vec::new(),
            observed_at: chrono::Utc::now(),
            complete: true,
            scopes: state.scopes.clone(),
            unserved: state.unserved.clone(),
            unreadable,
            aws_read: BTreeSet::new(),
        }
    }

    /// Notifications of every change.
    pub fn updates(&self) -> tokio::sync::watch::Receiver<Update> {
        self.shared.updates.subscribe()
    }

    /// Waits until every kind has been listed once, or the timeout passes; `true` when ready.
    pub async fn ready(&self, timeout: Duration) -> bool {
        let mut updates = self.updates();
        tokio::time::timeout(timeout, updates.wait_for(|u| u.ready))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

impl Drop for TargetWatch {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Shared {
    /// Applies a change and tells subscribers, unless nothing in scope changed: an object
    /// outside the target's namespaces, or the same watch error again. `relisted` marks a
    /// kind listed again, which always counts.
    fn with_state(&self, relisted: bool, change: impl FnOnce(&mut State) -> Option<ResourceKey>) {
        let update = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let before = (state.pending.len(), state.unreadable.clone());
            let key = change(&mut state);
            if key.is_none()
                && !relisted
                && before == (state.pending.len(), state.unreadable.clone())
            {
                return;
            }
            state.generation += 1;
            Update {
                generation: state.generation,
                key,
                ready: state.pending.is_empty(),
            }
        };
        self.updates.send_replace(update);
    }
}

impl State {
    /// Judges one identity again from the cache.
    fn rejudge(&mut self, key: &ResourceKey) {
        let registry = ignore::Registry::new(&self.config.drift.ignore);
        let report = if self.judge.declares(key) {
            self.judge
                .judge_declared(key, self.live.get(key), &registry)
        } else {
            self.live
                .get(key)
                .and_then(|object| self.judge.judge_unmanaged(key, object, &self.system))
        };
        match report {
            Some(report) => {
                self.results.insert(key.clone(), report);
            }
            None => {
                self.results.remove(key);
            }
        }
    }

    fn in_scope(&self, object: &Object, scope: Scope) -> bool {
        match (scope, &object.namespace) {
            (Scope::Namespaced, Some(ns)) => self.namespaces.contains(ns),
            (Scope::Namespaced, None) => false,
            (Scope::Cluster, _) => true,
        }
    }

    fn upsert(&mut self, gk: &GroupKind, object: Object) -> ResourceKey {
        let key = self.judge.live_key(&object);
        let system_kind = is_system_input(gk);
        self.by_kind
            .entry(gk.clone())
            .or_default()
            .insert(key.clone());
        self.live.insert(key.clone(), object);
        if system_kind {
            self.system = SystemContext::from_live(self.live.values());
        }
        self.rejudge(&key);
        key
    }

    fn remove(&mut self, gk: &GroupKind, object: &Object) -> ResourceKey {
        let key = self.judge.live_key(object);
        if let Some(keys) = self.by_kind.get_mut(gk) {
            keys.remove(&key);
        }
        self.live.remove(&key);
        if is_system_input(gk) {
            self.system = SystemContext::from_live(self.live.values());
        }
        self.rejudge(&key);
        key
    }

    /// Replaces every cached object of a kind after a (re)list, and judges the kind again.
    fn replace_kind(&mut self, gk: &GroupKind, objects: Vec<Object>) {
        let old = self.by_kind.remove(gk).unwrap_or_default();
        for key in &old {
            self.live.remove(key);
        }
        let mut keys = HashSet::new();
        for object in objects {
            let key = self.judge.live_key(&object);
            keys.insert(key.clone());
            self.live.insert(key, object);
        }
        if is_system_input(gk) {
            self.system = SystemContext::from_live(self.live.values());
        }
        self.pending.remove(gk);
        self.unreadable.remove(gk);
        let declared: Vec<ResourceKey> = self
            .judge
            .declared_keys()
            .iter()
            .filter(|k| k.group == gk.group && k.kind == gk.kind)
            .cloned()
            .collect();
        let touched: HashSet<ResourceKey> = old
            .into_iter()
            .chain(keys.iter().cloned())
            .chain(declared)
            .collect();
        self.by_kind.insert(gk.clone(), keys);
        for key in touched {
            self.rejudge(&key);
        }
    }
}

/// Kinds whose objects decide whether others are generated (Endpoints of a Service, claims of a
/// StatefulSet).
fn is_system_input(gk: &GroupKind) -> bool {
    matches!(
        (gk.group.as_str(), gk.kind.as_str()),
        ("", "Service") | ("apps", "StatefulSet")
    )
}

fn to_object(resource: &ApiResource, object: DynamicObject) -> Option<Object> {
    let mut value = serde_json::to_value(&object).ok()?;
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "apiVersion".into(),
            Value::String(resource.api_version.clone()),
        );
        map.insert("kind".into(), Value::String(resource.kind.clone()));
    }
    let label = super::kind_label(&GroupKind {
        group: resource.group.clone(),
        kind: resource.kind.clone(),
    });
    let mut object = manifest::object_from_value(&label, value)?;
    crate::live::compact(&mut object);
    Some(object)
}

async fn watch_kind(shared: Arc<Shared>, client: kube::Client, kind: Served, page_size: u32) {
    let api: Api<DynamicObject> = Api::all_with(client, &kind.resource);
    let config = watcher::Config::default().page_size(page_size);
    let stream = watcher::watcher(api, config).default_backoff();
    futures::pin_mut!(stream);
    let mut buffer: Vec<Object> = Vec::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Init) => buffer.clear(),
            Ok(Event::InitApply(object)) => {
                if let Some(object) = to_object(&kind.resource, object) {
                    let keep = {
                        let state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                        state.in_scope(&object, kind.scope)
                    };
                    if keep {
                        buffer.push(object);
                    }
                }
            }
            Ok(Event::InitDone) => {
                let objects = std::mem::take(&mut buffer);
                let gk = kind.gk.clone();
                shared.with_state(true, |state| {
                    state.replace_kind(&gk, objects);
                    None
                });
            }
            Ok(Event::Apply(object)) => {
                let Some(object) = to_object(&kind.resource, object) else {
                    continue;
                };
                let gk = kind.gk.clone();
                let scope = kind.scope;
                shared.with_state(false, |state| {
                    // The watch is back: a kind marked failing after an error is read again
                    // (kube-runtime resumes without listing, so no InitDone clears it).
                    state.unreadable.remove(&gk);
                    state
                        .in_scope(&object, scope)
                        .then(|| state.upsert(&gk, object))
                });
            }
            Ok(Event::Delete(object)) => {
                let Some(object) = to_object(&kind.resource, object) else {
                    continue;
                };
                let gk = kind.gk.clone();
                shared.with_state(false, |state| {
                    state.unreadable.remove(&gk);
                    Some(state.remove(&gk, &object))
                });
            }
            Err(err) => {
                let gk = kind.gk.clone();
                let message = crate::redact::error_chain(&err);
                tracing::warn!(message = "watch failed; retrying", kind = %super::kind_label(&gk), error = %message);
                shared.with_state(false, |state| {
                    state.unreadable.insert(gk, message);
                    None
                });
            }
        }
    }
}
