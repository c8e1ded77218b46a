//! Watched changes published at once. Between scans of a watched target, each object its watch
//! reports changed is judged and audited again on its own, with what the target's last scan
//! left behind ([`scan::Rejudge`]), and the target's published counts (`/api/v1/targets`, the
//! gauges) are patched: the object's old share out, its new share in ([`Published`]), in time
//! that does not grow with the target. The debounced scan still follows, to store the history
//! and to say everything counts cannot (drift details, ages, waivers, convergence).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::Notify;

use super::Service;
use crate::diff::unmanaged::SystemContext;
use crate::live::kube::watch::{Cache, Change, Observer, TargetWatch};
use crate::model::{Object, ResourceKey};
use crate::report::tally::{Judged, Published, Tally};
use crate::report::{ScanReport, Summary};
use crate::scan::Rejudge;

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
    /// Every change since the oldest scan snapshot still to be installed, with its sequence
    /// number: a scan's result is patched with those after its snapshot.
    recent: VecDeque<(u64, ResourceKey)>,
    /// A Service or StatefulSet changed: what is generated must be read again.
    system: bool,
}

impl Changes {
    fn lock(&self) -> std::sync::MutexGuard<'_, ChangeLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The observer `serve` watches with: logs each changed identity and wakes the publisher.
pub(super) struct Logging(pub Arc<Changes>);

impl Observer for Logging {
    fn changed(&mut self, cache: &Cache, change: Change<'_>) {
        let seq = cache.changes();
        let mut log = self.0.lock();
        let (gk, keys): (_, Vec<&ResourceKey>) = match change {
            Change::Object { gk, key } => (gk, vec![key]),
            Change::Kind { gk, touched } => (gk, touched.iter().collect()),
        };
        log.system |= matches!(
            (gk.group.as_str(), gk.kind.as_str()),
            ("", "Service") | ("apps", "StatefulSet")
        );
        for key in keys {
            log.pending.push(key.clone());
            log.recent.push_back((seq, key.clone()));
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
}

/// What a patch publishes: the counts, the summary, and the failing findings.
pub(super) struct Counts<'a> {
    pub tally: &'a Tally,
    pub summary: Summary,
    pub failing: usize,
}

impl Instant {
    fn state(&self) -> std::sync::MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a scan's result as the new base: its counts, patched with every change the watch
    /// took after the scan's snapshot (`seq`), so that a scan that read the cache before a
    /// published change never takes it back; `then` publishes them (under the lock patches
    /// take, so that an older patch is never published after). `None` without a judge to patch
    /// with (the scan listed the target instead of reading its watch): nothing is patched
    /// until a scan that read the watch.
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
        let Some(rejudge) = rejudge else {
            let mut guard = self.state();
            *guard = None;
            return then(None);
        };
        let published = Published::of(report, target, per_resource);
        let system = watch.with_cache(|cache| SystemContext::from_live(cache.objects()));
        let mut guard = self.state();
        let state = guard.insert(State {
            rejudge,
            published,
            system,
        });
        let since: Vec<ResourceKey> = {
            let mut log = self.changes.lock();
            while log.recent.front().is_some_and(|(s, _)| *s <= seq) {
                log.recent.pop_front();
            }
            log.recent.iter().map(|(_, k)| k.clone()).collect()
        };
        patch(state, since, watch, false);
        then(Some(&counts(state)))
    }

    /// Judges and audits again every identity changed since the last call, patches the counts,
    /// and hands them to `publish` when any changed (nothing before a scan installed a base).
    pub fn publish_pending(&self, watch: &TargetWatch, publish: impl FnOnce(&Counts<'_>)) {
        let mut guard = self.state();
        let (keys, system) = {
            let mut log = self.changes.lock();
            (
                std::mem::take(&mut log.pending),
                std::mem::take(&mut log.system),
            )
        };
        let Some(state) = guard.as_mut() else {
            return;
        };
        if patch(state, keys, watch, system) {
            publish(&counts(state));
        }
    }

    /// Waits for the next change.
    pub async fn changed(&self) {
        self.changes.notify.notified().await;
    }
}

fn counts(state: &State) -> Counts<'_> {
    let tally = state.published.tally();
    Counts {
        summary: state.published.summary(),
        failing: tally.failing().values().sum(),
        tally,
    }
}

/// Patches the counts with the identities' objects as the cache has them now; `true` when a
/// count changed.
fn patch(state: &mut State, mut keys: Vec<ResourceKey>, watch: &TargetWatch, system: bool) -> bool {
    keys.sort();
    keys.dedup();
    // Copied out under the watch's lock, judged without it.
    let objects: Vec<(ResourceKey, Option<Object>)> = watch.with_cache(|cache| {
        if system {
            state.system = SystemContext::from_live(cache.objects());
        }
        keys.into_iter()
            .map(|key| {
                let object = cache.get(&key).cloned();
                (key, object)
            })
            .collect()
    });
    let registry = state.rejudge.registry();
    let mut changed = false;
    for (key, object) in objects {
        let published = &state.published;
        let (report, failing) =
            state
                .rejudge
                .object(&key, object.as_ref(), &state.system, &registry, |rule| {
                    published.desired_fails(&key, rule)
                });
        changed |= state
            .published
            .patch(&key, report.as_ref().map(Judged::of), failing);
    }
    changed
}

/// Publishes a watched target's patched counts: the gauges and the target's status.
pub(super) fn publish(service: &Service, target: &str, provider: &str, counts: &Counts<'_>) {
    service
        .metrics
        .publish_counts(target, provider, counts.tally);
    if let Some(status) = service
        .targets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(target)
    {
        status.summary = Some(counts.summary.clone());
        status.failing_findings = counts.failing;
        status.live_updated_at = Some(Utc::now());
    }
}

/// Publishes each watched change of a target as it comes, until aborted (its watch replaced
/// or the loop ended).
pub(super) async fn publisher(
    service: Arc<Service>,
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
                publish(&service, &target, &provider, counts);
            });
        })
        .await;
    }
}
