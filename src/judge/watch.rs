//! A watched target's judgement, kept current object by object: every change the watch cache
//! takes is judged again at once, so the result follows the cluster within milliseconds. The
//! watching itself is `live::kube::watch`'s; this is the [`Observer`] that judges.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Judge, ResourceReport, sort_resources};
use crate::config::{Config, LiveSettings};
use crate::diff::ignore;
use crate::diff::unmanaged::SystemContext;
use crate::live::kube::watch::{Cache, Change, Discovery, Observer, TargetWatch, Update};
use crate::live::kube::{KubeError, KubeProvider};
use crate::live::{LiveRead, LiveRequest, Recorder};
use crate::model::{Declared, GroupKind, ResourceKey};

/// A Kubernetes target whose judgement is kept current from watches.
pub struct WatchedTarget {
    watch: TargetWatch,
    results: Arc<Mutex<BTreeMap<ResourceKey, ResourceReport>>>,
}

impl WatchedTarget {
    /// Starts watching a Kubernetes target for the objects `declared` (git's side of it); the
    /// guard counts requests in `recorder`.
    pub async fn start(
        config: Arc<Config>,
        recorder: Arc<dyn Recorder>,
        target: &str,
        declared: Vec<Declared>,
    ) -> Result<WatchedTarget, KubeError> {
        let settings = match config.target(target).map(|t| &t.live) {
            Some(LiveSettings::Kubernetes(settings)) => settings.clone(),
            _ => {
                return Err(KubeError::Config(format!(
                    "target {target} is not a Kubernetes target"
                )));
            }
        };
        let request = LiveRequest::for_declared(&config, &declared);
        let provider = KubeProvider::new(settings, recorder);
        let results = Arc::new(Mutex::new(BTreeMap::new()));
        let shared = Arc::clone(&results);
        let target = target.to_string();
        let watch = TargetWatch::start(&provider, &request, move |discovery| {
            Box::new(Judging::new(config, &target, declared, discovery, shared))
        })
        .await?;
        Ok(WatchedTarget { watch, results })
    }

    /// The target's current resources, ordered by identity.
    pub fn resources(&self) -> Vec<ResourceReport> {
        let mut resources: Vec<ResourceReport> = self.lock().values().cloned().collect();
        sort_resources(&mut resources);
        resources
    }

    /// The current result for one identity.
    pub fn resource(&self, key: &ResourceKey) -> Option<ResourceReport> {
        self.lock().get(key).cloned()
    }

    /// Notifications of every change (each judged before it is told).
    pub fn updates(&self) -> tokio::sync::watch::Receiver<Update> {
        self.watch.updates()
    }

    /// Waits until every kind has been listed once, or the timeout passes; `true` when ready.
    pub async fn ready(&self, timeout: Duration) -> bool {
        self.watch.ready(timeout).await
    }

    /// The watched objects as a live read.
    pub fn live_read(&self) -> LiveRead {
        self.watch.live_read()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ResourceKey, ResourceReport>> {
        self.results.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The observer: judges each changed identity again from the cache.
struct Judging {
    config: Arc<Config>,
    judge: Judge,
    system: SystemContext,
    results: Arc<Mutex<BTreeMap<ResourceKey, ResourceReport>>>,
}

impl Judging {
    fn new(
        config: Arc<Config>,
        target: &str,
        declared: Vec<Declared>,
        discovery: &Discovery,
        results: Arc<Mutex<BTreeMap<ResourceKey, ResourceReport>>>,
    ) -> Judging {
        let mut stub = LiveRead::empty();
        stub.scopes = discovery.scopes.clone();
        stub.unserved = discovery.unserved.clone();
        let judge = Judge::new(Arc::clone(&config), target, declared, &stub, true);
        let judging = Judging {
            config,
            judge,
            system: SystemContext::default(),
            results,
        };
        // Declared objects of kinds the cluster does not serve are missing from the start.
        let empty = Cache::default();
        let unserved: Vec<ResourceKey> = judging
            .judge
            .declared_keys()
            .iter()
            .filter(|k| discovery.unserved.contains(&k.group_kind()))
            .cloned()
            .collect();
        for key in &unserved {
            judging.rejudge(&empty, key);
        }
        judging
    }

    /// Judges one identity again from the cache.
    fn rejudge(&self, cache: &Cache, key: &ResourceKey) {
        let registry = ignore::Registry::new(&self.config.drift.ignore);
        let report = if self.judge.declares(key) {
            self.judge.judge_declared(key, cache.get(key), &registry)
        } else {
            cache
                .get(key)
                .and_then(|object| self.judge.judge_unmanaged(key, object, &self.system))
        };
        let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        match report {
            Some(report) => {
                results.insert(key.clone(), report);
            }
            None => {
                results.remove(key);
            }
        }
    }
}

impl Observer for Judging {
    fn changed(&mut self, cache: &Cache, change: Change<'_>) {
        let gk = match &change {
            Change::Object { gk, .. } | Change::Kind { gk, .. } => *gk,
        };
        if is_system_input(gk) {
            self.system = SystemContext::from_live(cache.objects());
        }
        match change {
            Change::Object { key, .. } => self.rejudge(cache, key),
            Change::Kind { gk, touched } => {
                let declared = self
                    .judge
                    .declared_keys()
                    .iter()
                    .filter(|k| k.group == gk.group && k.kind == gk.kind);
                let keys: HashSet<&ResourceKey> = touched.iter().chain(declared).collect();
                for key in keys {
                    self.rejudge(cache, key);
                }
            }
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
