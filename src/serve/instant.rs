//! Watched changes published at once. Between scans of a watched target, each object its watch
//! reports changed is judged and audited again on its own, with what the target's last scan
//! left behind ([`scan::Rejudge`]), and the target's published counts (`/api/v1/targets`, the
//! gauges) are patched: the object's old share out, its new share in ([`Published`]), in time
//! that does not grow with the target. The debounced scan still follows, to store the history
//! and to say everything counts cannot (drift details, ages, waivers, convergence).
//!
//! What stays the last scan's until the next: the custom resource definitions defaults come
//! from (a changed one drops the patched counts until the next scan), which rules apply (the
//! set of framework controls), and the problems. A change to a Service or StatefulSet also
//! re-reads what tells generated objects apart, from every cached object, and judges again the
//! Endpoints and volume claims it can turn: that one costs time in the target's size.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::Notify;

use super::Service;
use crate::diff::Status;
use crate::diff::unmanaged::SystemContext;
use crate::live::kube::watch::{Cache, Change, Observer, TargetWatch};
use crate::model::{GroupKind, Object, ResourceKey};
use crate::report::tally::{Judged, Published, Tally};
use crate::report::{ScanReport, Summary};
use crate::scan::Rejudge;

/// Identities kept for replay at most (each once, with its last change): past it, the patched
/// counts are dropped until a scan that read the cache after the last of them.
const MAX_RECENT: usize = 1_000_000;

/// The changes a target's watch took, as its observer logs them.
#[derive(Debug, Default)]
pub(super) struct Changes {
    log: Mutex<ChangeLog>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct ChangeLog {
    /// Identities changed and not yet published.
    pending: Vec<ResourceKey>,
    /// The identities changed since the last installed scan's snapshot, each with the sequence
    /// number of its last change: the next scan's result is patched with those after its own
    /// snapshot.
    recent: HashMap<ResourceKey, u64>,
    /// Changes were dropped from `recent` up to this sequence number: a scan that read the
    /// cache before it cannot be patched up to date.
    overflowed: u64,
    /// A Service or StatefulSet changed: what is generated must be read again.
    system: bool,
    /// The sequence number of the last change to a custom resource definition: a base read
    /// before it judges with old defaults.
    definitions_at: u64,
}

impl Changes {
    fn lock(&self) -> std::sync::MutexGuard<'_, ChangeLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The observer `serve` watches with: logs each changed identity (and those whose verdict it
/// can turn) and wakes the publisher.
pub(super) struct Logging(pub Arc<Changes>);

impl Observer for Logging {
    fn changed(&mut self, cache: &Cache, change: Change<'_>) {
        let seq = cache.changes();
        let (gk, keys): (_, Vec<&ResourceKey>) = match change {
            Change::Object { gk, key } => (gk, vec![key]),
            Change::Kind { gk, touched } => (gk, touched.iter().collect()),
        };
        let claims = GroupKind {
            group: String::new(),
            kind: "PersistentVolumeClaim".to_string(),
        };
        let mut changed: Vec<ResourceKey> = Vec::with_capacity(keys.len());
        let mut system = false;
        for key in keys {
            if SystemContext::is_input(key) {
                system = true;
                changed.extend(SystemContext::dependents(key, cache.keys_of(&claims)));
            }
            changed.push(key.clone());
        }
        let mut log = self.0.lock();
        log.system |= system;
        if gk.group == "apiextensions.k8s.io" && gk.kind == "CustomResourceDefinition" {
            log.definitions_at = seq;
        }
        for key in changed {
            log.recent.insert(key.clone(), seq);
            log.pending.push(key);
        }
        if log.recent.len() > MAX_RECENT {
            log.recent.clear();
            log.overflowed = seq;
        }
        drop(log);
        self.0.notify.notify_one();
    }
}

/// A watched target's published counts and what patches them.
#[derive(Debug, Default)]
pub(super) struct Instant {
    /// The watch's change log.
    pub changes: Arc<Changes>,
    state: Mutex<Option<State>>,
}

#[derive(Debug)]
struct State {
    rejudge: Arc<Rejudge>,
    published: Published,
    system: SystemContext,
    /// The sequence number of the cache read the base's scan judged.
    seq: u64,
}

/// What a patch publishes: the counts, the summary, the failing findings, and what changed
/// among the resources not in sync.
pub(super) struct Counts<'a> {
    pub tally: &'a Tally,
    pub summary: Summary,
    pub failing: usize,
    pub out_of_sync: Vec<(ResourceKey, Status, bool)>,
    /// Whether changes after the scan moved the counts.
    pub patched: bool,
}

impl Instant {
    fn state(&self) -> std::sync::MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a scan's result as the new base: its counts, patched with every change the watch
    /// took after the scan's snapshot (`seq`), so that a scan that read the cache before a
    /// published change never takes it back; `then` publishes them (under the lock patches
    /// take, so that an older patch is never published after). Without a judge to patch with
    /// (the scan listed the target instead of reading its watch), or when changes after the
    /// snapshot were dropped, nothing is patched until the next scan that read the watch.
    #[allow(clippy::too_many_arguments)]
    pub fn install<T>(
        &self,
        report: &ScanReport,
        target: &str,
        rejudge: Option<Arc<Rejudge>>,
        seq: u64,
        watch: &TargetWatch,
        per_resource: bool,
        then: impl FnOnce(Option<&Counts<'_>>) -> T,
    ) -> T {
        let mut guard = self.state();
        let (since, complete) = {
            let mut log = self.changes.lock();
            log.recent.retain(|_, s| *s > seq);
            let since: Vec<ResourceKey> = log.recent.keys().cloned().collect();
            // Patched up to date only when no change after the snapshot was dropped and the
            // definitions it judged with are still the cluster's.
            (since, log.overflowed <= seq && log.definitions_at <= seq)
        };
        let Some(rejudge) = rejudge.filter(|_| complete) else {
            *guard = None;
            return then(None);
        };
        let published = Published::of(report, target, per_resource);
        let system = watch.with_cache(|cache| SystemContext::from_live(cache.objects()));
        let state = guard.insert(State {
            rejudge,
            published,
            system,
            seq,
        });
        let patched = patch(state, since, watch, false);
        // The base's own per-resource series are set in full with it.
        state.published.take_out_of_sync_changes();
        then(Some(&counts(state, Vec::new(), patched)))
    }

    /// Judges and audits again every identity changed since the last call, patches the counts,
    /// and hands them to `publish` when any changed (nothing before a scan installed a base).
    pub fn publish_pending(&self, watch: &TargetWatch, publish: impl FnOnce(&Counts<'_>)) {
        let mut guard = self.state();
        let (keys, system, definitions_at) = {
            let mut log = self.changes.lock();
            (
                std::mem::take(&mut log.pending),
                std::mem::take(&mut log.system),
                log.definitions_at,
            )
        };
        let Some(state) = guard.as_mut() else {
            return;
        };
        if definitions_at > state.seq {
            // Judged with old definitions, counts could be wrong: the next scan's instead.
            *guard = None;
            return;
        }
        if patch(state, keys, watch, system) {
            let out_of_sync = state.published.take_out_of_sync_changes();
            publish(&counts(state, out_of_sync, true));
        }
    }

    /// Waits for the next change.
    pub async fn changed(&self) {
        self.changes.notify.notified().await;
    }
}

fn counts(
    state: &State,
    out_of_sync: Vec<(ResourceKey, Status, bool)>,
    patched: bool,
) -> Counts<'_> {
    let tally = state.published.tally();
    Counts {
        summary: state.published.summary(),
        failing: tally.failing().values().sum(),
        tally,
        out_of_sync,
        patched,
    }
}

/// Patches the counts with the identities' objects as the cache has them now; `true` when a
/// count changed.
fn patch(state: &mut State, mut keys: Vec<ResourceKey>, watch: &TargetWatch, system: bool) -> bool {
    if keys.is_empty() {
        return false;
    }
    keys.sort();
    keys.dedup();
    // Copied out under the watch's lock, judged without it.
    let (batch, fresh): (Vec<(ResourceKey, Option<Object>)>, Option<SystemContext>) = watch
        .with_cache(|cache| {
            let fresh = system.then(|| SystemContext::from_live(cache.objects()));
            let batch = keys
                .into_iter()
                .map(|key| {
                    let object = cache.get(&key).cloned();
                    (key, object)
                })
                .collect();
            (batch, fresh)
        });
    if let Some(fresh) = fresh {
        state.system = fresh;
    }
    let published = &state.published;
    let results = state.rejudge.objects(&batch, &state.system, |key, rule| {
        published.desired_fails(key, rule)
    });
    let mut changed = false;
    for ((key, _), (report, failing)) in batch.iter().zip(results) {
        changed |= state
            .published
            .patch(key, report.as_ref().map(Judged::of), failing);
    }
    changed
}

/// Publishes a watched target's patched counts (the gauges and the target's status), unless
/// the configuration changed since its loop started (`generation`) or no longer has the target:
/// checked under the lock the status is held by, which a reload takes to remove a target
/// before its series are forgotten.
pub(super) fn publish(
    service: &Service,
    generation: u64,
    target: &str,
    provider: &str,
    counts: &Counts<'_>,
) {
    let mut statuses = service.targets.lock().unwrap_or_else(|e| e.into_inner());
    if service.generation.load(Ordering::SeqCst) != generation {
        return;
    }
    let Some(status) = statuses.get_mut(target) else {
        return;
    };
    service.metrics.publish_counts(
        target,
        provider,
        counts.tally,
        Some(counts.out_of_sync.as_slice()),
    );
    status.summary = Some(counts.summary.clone());
    status.failing_findings = counts.failing;
    status.live_updated_at = Some(Utc::now());
}

/// Publishes each watched change of a target as it comes, until aborted (its watch replaced
/// or its loop ended).
pub(super) async fn publisher(
    service: Arc<Service>,
    generation: u64,
    target: String,
    provider: String,
    watch: Arc<TargetWatch>,
    instant: Arc<Instant>,
) {
    loop {
        instant.changed().await;
        let (service, target, provider) = (Arc::clone(&service), target.clone(), provider.clone());
        let (instant, watch) = (Arc::clone(&instant), Arc::clone(&watch));
        let _ = tokio::task::spawn_blocking(move || {
            instant.publish_pending(&watch, |counts| {
                publish(&service, generation, &target, &provider, counts);
            });
        })
        .await;
    }
}
