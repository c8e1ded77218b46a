//! The service's loops: each source fetched on its interval (and on webhook), each target
//! scanned on its schedule or as its watch reports changes, every scan stored and published,
//! and the history trimmed now and then.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::remediation::enqueue_plan;
use super::{Service, instant};
use crate::config::{Config, LiveSettings, Source, Target};
use crate::desired::{self, SourceRead};
use crate::live::LiveRead;
use crate::live::kube::KubeProvider;
use crate::live::kube::watch::TargetWatch;
use crate::model::{Code, Severity};
use crate::report::ScanReport;
use crate::scan::{self, ScanOptions};

/// The cluster to watch a target in: Kubernetes targets, unless `watch: false`.
pub(super) fn watch_mode(target: &Target) -> Option<&crate::config::KubeSettings> {
    match &target.live {
        LiveSettings::Kubernetes(settings) if target.schedule.watch != Some(false) => {
            Some(settings)
        }
        _ => None,
    }
}

/// A wait of `interval` lengthened by up to `jitter` of it, at random.
pub(super) fn jittered(interval: Duration, jitter: f64) -> Duration {
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    let unit = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
    interval + interval.mul_f64(jitter * unit)
}

pub(super) async fn source_loop(
    service: Arc<Service>,
    config: Arc<Config>,
    source: Source,
    notify: Arc<Notify>,
    first: bool,
) {
    let mut trigger = if first { "startup" } else { "reload" };
    loop {
        fetch_source(&service, &config, &source, trigger).await;
        trigger = tokio::select! {
            _ = tokio::time::sleep(jittered(config.serve.fetch_interval, config.serve.jitter)) => "interval",
            _ = notify.notified() => "webhook",
        };
    }
}

pub(super) async fn fetch_source(
    service: &Arc<Service>,
    config: &Arc<Config>,
    source: &Source,
    trigger: &str,
) {
    let started = Utc::now();
    // The last read, which a read of the same commit holding the same continues (compared off
    // the async workers).
    let last = service
        .sources
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&source.name)
        .and_then(|entry| entry.read.clone());
    let read = {
        let config = Arc::clone(config);
        let source = source.clone();
        let cache_dir = service.options.cache_dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut read = desired::read_source(&config, &source, &cache_dir);
            if let Some(last) = last {
                read.continues(&last);
            }
            read
        })
        .await
    };
    let read = match read {
        Ok(read) => read,
        Err(err) => SourceRead {
            source: source.name.clone(),
            commit: None,
            committed_at: None,
            files: 0,
            objects: Vec::new(),
            problems: vec![
                crate::model::Problem::new(
                    Severity::Error,
                    crate::model::Code::ScanInternal,
                    format!("reading the source failed: {err}"),
                )
                .source(&source.name),
            ],
            waivers: Vec::new(),
            stale: None,
            read: crate::desired::next_read(),
        },
    };
    let ok = read.commit.is_some();
    let mut changed = false;
    let revision;
    let stale;
    {
        let mut sources = service.sources.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = sources.get_mut(&source.name) else {
            return;
        };
        entry.status.last_attempt_at = Some(started);
        if ok {
            // A new revision, or the same one no longer stale: scan, so that reports say so.
            changed = entry.read.as_ref().map(|r| &r.commit) != Some(&read.commit)
                || entry.status.stale.is_some();
            if entry.status.revision != read.commit {
                entry.status.revision_seen_at = Some(Utc::now());
            }
            entry.status.revision = read.commit.clone();
            entry.status.stale = None;
            entry.status.last_fetch_at = Some(Utc::now());
            entry.read = Some(Arc::new(read));
        } else {
            let reason = read
                .problems
                .iter()
                .find(|p| p.severity == Severity::Error)
                .map(|p| p.message.clone())
                .unwrap_or_else(|| "the source could not be read".to_string());
            match &entry.read {
                Some(last) if last.commit.is_some() => {
                    if entry.status.stale.is_none() {
                        // Scan now, so that reports say the source is stale.
                        changed = true;
                        tracing::warn!(message = "source stale: scans go on at the last good revision", source = %source.name, error = %reason);
                    }
                    entry.status.stale = Some(reason);
                }
                _ => {
                    // Never read: the failed read stands (scans report it as an error).
                    entry.status.stale = None;
                    changed = !entry.settled;
                    entry.read = Some(Arc::new(read));
                }
            }
        }
        revision = entry.status.revision.clone();
        stale = entry.status.stale.is_some();
        if !entry.settled {
            entry.settled = true;
            entry.settled_notify.notify_waiters();
        }
    }
    service
        .metrics
        .source_fetched(&source.name, trigger, revision.as_deref(), ok, stale);
    if changed && trigger != "startup" {
        tracing::info!(message = "source changed; rescanning", source = %source.name, revision = revision.as_deref().unwrap_or("-"));
        if let Some(n) = service
            .scan_now
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&source.target)
        {
            n.notify_one();
        }
    }
}

/// The reads of a target's sources, once each has been read (or failed) once; stale ones carry
/// the reason.
pub(super) async fn target_sources(
    service: &Service,
    config: &Config,
    target: &str,
) -> Vec<SourceRead> {
    loop {
        let waits: Vec<Arc<Notify>> = {
            let sources = service.sources.lock().unwrap_or_else(|e| e.into_inner());
            config
                .sources
                .iter()
                .filter(|s| s.target == target)
                .filter_map(|s| sources.get(&s.name))
                .filter(|e| !e.settled)
                .map(|e| Arc::clone(&e.settled_notify))
                .collect()
        };
        let Some(wait) = waits.into_iter().next() else {
            break;
        };
        // Checked again after a short wait in case the notification came first.
        let _ = tokio::time::timeout(Duration::from_millis(200), wait.notified()).await;
    }
    let sources = service.sources.lock().unwrap_or_else(|e| e.into_inner());
    config
        .sources
        .iter()
        .filter(|s| s.target == target)
        .filter_map(|s| sources.get(&s.name))
        .filter_map(|e| {
            let mut read = (**e.read.as_ref()?).clone();
            read.stale = e.status.stale.clone();
            Some(read)
        })
        .collect()
}

/// Watch mode's state for one target: the watch, the revisions it was started for, and what
/// publishes its changes between scans.
pub(super) struct Watching {
    watch: Arc<TargetWatch>,
    revisions: Vec<Option<String>>,
    instant: Arc<instant::Instant>,
    publisher: tokio::task::JoinHandle<()>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.publisher.abort();
    }
}

pub(super) async fn target_loop(
    service: Arc<Service>,
    context: scan::Context,
    target: Target,
    notify: Arc<Notify>,
    generation: u64,
) {
    let config = Arc::clone(&context.config);
    let interval = target.schedule.interval.unwrap_or(config.serve.interval);
    let recorder: Arc<dyn crate::live::Recorder> = service.metrics.clone();
    let watching = watch_mode(&target).map(|s| KubeProvider::new(s.clone(), recorder));
    let mut watch: Option<Watching> = None;
    let mut updates: Option<tokio::sync::watch::Receiver<crate::live::kube::watch::Update>> = None;
    // Revisions for which watching failed (a kind never listed: say, RBAC on some namespaces
    // only): the target is listed at each scan instead, until git changes.
    let mut unwatchable: Option<Vec<Option<String>>> = None;
    loop {
        let sources = target_sources(&service, &config, &target.name).await;
        let mut prepared = HashMap::new();
        let mut snapshot = 0;
        if let Some(provider) = &watching {
            let revisions: Vec<Option<String>> = sources.iter().map(|s| s.commit.clone()).collect();
            let current = watch.as_ref().is_some_and(|w| w.revisions == revisions);
            if !current && unwatchable.as_ref() != Some(&revisions) {
                watch = None;
                updates = None;
                let request = scan::live_request(&config, &target.name, &sources);
                let published = Arc::new(instant::Instant::default());
                let changes = Arc::clone(&published.changes);
                match TargetWatch::start(provider, &request, |_| {
                    Box::new(instant::Logging(changes))
                })
                .await
                {
                    Ok(started) => {
                        let settings_timeout = match &target.live {
                            LiveSettings::Kubernetes(k) => k.timeout,
                            _ => Duration::from_secs(30),
                        };
                        if started.ready(settings_timeout * 2).await {
                            updates = Some(started.updates());
                            let started = Arc::new(started);
                            let publisher = tokio::spawn(instant::publisher(
                                Arc::clone(&service),
                                generation,
                                target.name.clone(),
                                crate::live::LiveProvider::kind_of(&target).to_string(),
                                Arc::clone(&started),
                                Arc::clone(&published),
                            ));
                            watch = Some(Watching {
                                watch: started,
                                revisions,
                                instant: published,
                                publisher,
                            });
                        } else {
                            tracing::warn!(message = "the watch did not list every kind; listing at each scan instead", target = %target.name, kinds = ?started.unreadable());
                            unwatchable = Some(revisions);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(message = "watch could not start; listing instead", target = %target.name, error = %err);
                        unwatchable = Some(revisions);
                    }
                }
            }
            if let Some(w) = &watch {
                let (read, seq) = w.watch.snapshot();
                snapshot = seq;
                // A kind whose watch is failing (an object the watch cannot parse, a stream
                // the server keeps ending) is read by listing this scan instead: a list skips
                // one bad object, a watch cannot.
                if read.unreadable.is_empty() {
                    prepared.insert(target.name.clone(), read);
                } else {
                    tracing::info!(message = "a watched kind is failing; listing for this scan", target = %target.name, kinds = read.unreadable.len());
                }
            }
        }
        if service.generation.load(Ordering::SeqCst) != generation
            || service.shutting_down.load(Ordering::SeqCst)
        {
            return;
        }
        let watched = watch
            .as_ref()
            .map(|w| (Arc::clone(&w.instant), Arc::clone(&w.watch), snapshot));
        scan_target(
            &service, &context, &target, sources, prepared, generation, watched,
        )
        .await;
        let current = || {
            service.generation.load(Ordering::SeqCst) == generation
                && !service.shutting_down.load(Ordering::SeqCst)
        };
        if !current() {
            return;
        }
        let wait = jittered(interval, config.serve.jitter);
        set_next(&service, &target.name, wait);
        // Sleep until the interval passes, a source changes, or (watch mode) the live state
        // changes and then stays quiet for the debounce time; end on reload.
        let reloaded = service.reloaded.notified();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = notify.notified() => {}
            _ = changed(&mut updates, config.serve.watch_debounce) => {}
            _ = reloaded => return,
        }
        if !current() {
            return;
        }
    }
}

/// Resolves after the watch reports a change and then nothing for `debounce` (or, in a cluster
/// that never goes quiet, after 15 debounce times); never without a watch.
pub(super) async fn changed(
    updates: &mut Option<tokio::sync::watch::Receiver<crate::live::kube::watch::Update>>,
    debounce: Duration,
) {
    let Some(rx) = updates else {
        return std::future::pending().await;
    };
    if rx.changed().await.is_err() {
        return std::future::pending().await;
    }
    let deadline = tokio::time::Instant::now() + debounce * 15;
    while tokio::time::Instant::now() < deadline
        && let Ok(Ok(())) = tokio::time::timeout(debounce, rx.changed()).await
    {}
}

pub(super) fn set_next(service: &Service, target: &str, wait: Duration) {
    if let Some(status) = service
        .targets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(target)
    {
        status.next_scan_at =
            Some(Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default());
    }
}

/// Runs a scan of `targets` (all when empty) on sources already read. Judging and rule
/// evaluation are CPU work: they run off the async workers, so that the HTTP server answers
/// while a large scan runs.
pub(super) async fn scan_off_workers(
    service: &Service,
    context: &scan::Context,
    targets: Vec<String>,
    sources: Vec<SourceRead>,
    prepared: HashMap<String, LiveRead>,
) -> Result<ScanReport, tokio::task::JoinError> {
    let context = context.clone();
    let options = ScanOptions {
        cache_dir: service.options.cache_dir.clone(),
        targets,
    };
    let started = Utc::now();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        handle.block_on(scan::run_with(
            &context, &options, sources, prepared, started,
        ))
    })
    .await
}

/// Runs one scan of a target, stores it, and publishes it.
pub(super) async fn scan_target(
    service: &Arc<Service>,
    context: &scan::Context,
    target: &Target,
    sources: Vec<SourceRead>,
    prepared: HashMap<String, LiveRead>,
    generation: u64,
    watched: Option<(Arc<instant::Instant>, Arc<TargetWatch>, u64)>,
) {
    let config = &context.config;
    // One scan of a target at a time: waited for before a permit is taken, so a target
    // waiting on itself holds no permit another target could use.
    let _target = service
        .lock_targets(std::slice::from_ref(&target.name))
        .await;
    let permits = Arc::clone(&service.permits.read().unwrap_or_else(|e| e.into_inner()));
    let Ok(_permit) = permits.acquire_owned().await else {
        return;
    };
    // Reloaded while waiting: the new configuration's loop scans instead.
    if service.generation.load(Ordering::SeqCst) != generation {
        return;
    }
    let Ok(_running) = service.running.clone().try_read_owned() else {
        // Shutting down: the writer waits for running scans; no new one starts.
        return;
    };
    if service.shutting_down.load(Ordering::SeqCst) {
        return;
    }
    let stale: Vec<String> = sources
        .iter()
        .filter(|s| s.stale.is_some())
        .map(|s| s.source.clone())
        .collect();
    if let Some(status) = service
        .targets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(&target.name)
    {
        status.scanning = true;
    }
    let clock = Instant::now();
    let report = scan_off_workers(
        service,
        context,
        vec![target.name.clone()],
        sources,
        prepared,
    )
    .await;
    // The configuration may have been reloaded while the scan ran, without this target.
    if service.config().target(&target.name).is_none() {
        return;
    }
    // Shared, not copied: the store, the metrics and remediation all read the one report.
    let mut report = match report {
        Ok(report) => report,
        Err(err) => {
            tracing::error!(message = "scan failed", target = %target.name, error = %err);
            service.metrics.scan_finished(
                &target.name,
                clock.elapsed().as_secs_f64(),
                &[(Code::ScanInternal.stage(), 1)],
            );
            finish_status(
                service,
                &target.name,
                None,
                None,
                &stale,
                vec![err.to_string()],
            );
            return;
        }
    };
    if !is_newer(service, &target.name, report.scan.started_at) {
        tracing::warn!(message = "an older scan finished after a newer one; not published", target = %target.name);
        if let Some(status) = service
            .targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&target.name)
        {
            status.scanning = false;
        }
        return;
    }
    date_drifts(service, &mut report).await;
    let report = Arc::new(report);
    super::convergence::observe(service, &report).await;
    let stored = {
        let store = Arc::clone(&service.store);
        let report = Arc::clone(&report);
        tokio::task::spawn_blocking(move || store.save(&report)).await
    };
    let id = match stored {
        Ok(Ok(id)) => {
            service.publish_head().await;
            Some(id)
        }
        Ok(Err(err)) => {
            tracing::error!(message = "scan not stored", target = %target.name, code = %err.code(), error = %err);
            service.metrics.stage_error(&target.name, err.code());
            None
        }
        Err(err) => {
            tracing::error!(message = "scan not stored", target = %target.name, error = %err);
            service.metrics.stage_error(&target.name, Code::StoreWrite);
            None
        }
    };
    let mut stages: BTreeMap<&str, usize> = BTreeMap::new();
    let mut errors = Vec::new();
    for p in report
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
    {
        *stages.entry(p.code.stage()).or_insert(0) += 1;
        if errors.len() < 5 {
            errors.push(p.to_string());
        }
    }
    let stages: Vec<(&'static str, usize)> = stages.into_iter().collect();
    let provider = crate::live::LiveProvider::kind_of(target);
    let per_resource = config.serve.resource_metrics;
    // A watched target's counts are the scan's patched with the changes its watch took since
    // the scan read it, published under the lock patches take (off the async workers: the
    // base is built from every resource).
    match watched {
        Some((instant, watch, seq)) => {
            let rejudge = context.memo.as_ref().and_then(|m| m.rejudge(&target.name));
            let (service, name, report) = (
                Arc::clone(service),
                target.name.clone(),
                Arc::clone(&report),
            );
            let (stale, errors, stages) = (stale.clone(), errors.clone(), stages.clone());
            let installed = tokio::task::spawn_blocking(move || {
                instant.install(
                    &report,
                    &name,
                    rejudge,
                    seq,
                    &watch,
                    per_resource,
                    |counts| {
                        publish_scan(
                            &service,
                            (&name, provider, per_resource),
                            &report,
                            (id, &stale, errors),
                            (clock, &stages),
                            counts,
                        );
                    },
                );
            })
            .await;
            if let Err(err) = installed {
                tracing::error!(message = "scan not published", target = %target.name, error = %err);
            }
        }
        None => publish_scan(
            service,
            (&target.name, provider, per_resource),
            &report,
            (id, &stale, errors.clone()),
            (clock, &stages),
            None,
        ),
    }
    tracing::info!(
        message = "target scanned",
        target = %target.name,
        id = id.unwrap_or(0),
        drifted = report.summary.drifted,
        missing = report.summary.missing,
        unmanaged = report.summary.unmanaged,
        errors = report.summary.errors,
        elapsed_ms = clock.elapsed().as_millis() as u64,
    );
    if errors.is_empty() && config.remediation.in_service && config.remediation.provider.is_some() {
        enqueue_plan(service, Arc::clone(config), &target.name, report, id);
    }
}

/// Publishes a target's scan: its gauges, the scan's duration and errors, and its status, with
/// `counts` (a watched target's, patched since the scan read the cache) where there are. All
/// under the lock of the targets' statuses, unless the target is gone (a reload removed it
/// while the scan ran: its series stay forgotten), and in one step, so that no reader sees the
/// scan's own counts between the patched ones.
fn publish_scan(
    service: &Service,
    (target, provider, per_resource): (&str, &str, bool),
    report: &ScanReport,
    (id, stale, errors): (Option<i64>, &[String], Vec<String>),
    (clock, stages): (Instant, &[(&str, usize)]),
    counts: Option<&instant::Counts<'_>>,
) {
    {
        let mut statuses = service.targets.lock().unwrap_or_else(|e| e.into_inner());
        let Some(status) = statuses.get_mut(target) else {
            return;
        };
        service.metrics.publish(
            target,
            provider,
            report,
            per_resource,
            counts.map(|c| c.tally),
        );
        service
            .metrics
            .scan_finished(target, clock.elapsed().as_secs_f64(), stages);
        set_status(status, id, Some(report), stale, errors);
        if let Some(counts) = counts {
            status.summary = Some(counts.summary.clone());
            status.failing_findings = counts.failing;
            if counts.patched {
                status.live_updated_at = Some(Utc::now());
            }
        }
    }
    service.settle(target);
}

/// Whether a scan that started at `started` is newer than the one the target shows: an older
/// result never replaces a newer one.
pub(super) fn is_newer(service: &Service, target: &str, started: DateTime<Utc>) -> bool {
    service
        .targets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(target)
        .and_then(|s| s.last_scan_at)
        .is_none_or(|shown| newer(shown, started))
}

/// Whether a scan that started at `started` may replace the one shown, started at `shown`.
fn newer(shown: DateTime<Utc>, started: DateTime<Utc>) -> bool {
    started > shown
}

pub(super) fn finish_status(
    service: &Service,
    target: &str,
    id: Option<i64>,
    report: Option<&ScanReport>,
    stale: &[String],
    errors: Vec<String>,
) {
    if let Some(status) = service
        .targets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(target)
    {
        set_status(status, id, report, stale, errors);
    }
    service.settle(target);
}

/// A target's status after a scan (`report`: `None` when it failed).
fn set_status(
    status: &mut super::TargetStatus,
    id: Option<i64>,
    report: Option<&ScanReport>,
    stale: &[String],
    errors: Vec<String>,
) {
    status.scanning = false;
    if id.is_some() {
        status.last_scan_id = id;
    }
    if let Some(report) = report {
        status.last_scan_at = Some(report.scan.started_at);
        status.last_duration_seconds = Some(
            (report.scan.finished_at - report.scan.started_at).num_milliseconds() as f64 / 1000.0,
        );
        if errors.is_empty() {
            status.last_success_at = Some(report.scan.finished_at);
        }
        status.summary = Some(report.summary.clone());
        status.failing_findings = report.compliance.failing.values().sum();
        status.live_updated_at = None;
    }
    status.errors = errors;
    status.stale_sources = stale.to_vec();
}

/// Applies the retention settings now and then (and at start).
pub(super) async fn retention_loop(service: Arc<Service>, config: Arc<Config>) {
    let retention = config.serve.retention.clone();
    loop {
        let store = Arc::clone(&service.store);
        let retention = retention.clone();
        let result = tokio::task::spawn_blocking(move || {
            store.retain(
                retention
                    .max_age
                    .and_then(|d| chrono::Duration::from_std(d).ok()),
                retention.max_count,
            )
        })
        .await;
        match result {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(message = "old scans deleted", scans = n),
            Ok(Err(err)) => tracing::error!(message = "retention failed", error = %err),
            Err(err) => tracing::error!(message = "retention failed", error = %err),
        }
        tokio::time::sleep(config.serve.interval.min(Duration::from_secs(600))).await;
    }
}

/// Dates each drift of a new scan from the scans before it (see [`crate::report::age`]), and
/// keeps the new dates for the next scan of each of its targets. Scheduled reports and target
/// loops share the one record; a target's first scan after a start reads it from the history.
pub(super) async fn date_drifts(service: &Arc<Service>, report: &mut ScanReport) {
    use crate::report::age::Ages;
    let mut priors: Vec<(String, Arc<Ages>)> = Vec::new();
    for target in report.scan.targets.iter().map(|t| t.name.clone()) {
        let known = service
            .ages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&target)
            .cloned();
        let prior = match known {
            Some(ages) => ages,
            None => {
                let store = Arc::clone(&service.store);
                let name = target.clone();
                let loaded = tokio::task::spawn_blocking(move || store.target_ages(&name)).await;
                Arc::new(loaded.unwrap_or_default())
            }
        };
        priors.push((target, prior));
    }
    let mut ages = Ages::default();
    for (_, prior) in &priors {
        ages.extend(Ages::clone(prior));
    }
    ages.apply(report);
    let mut cache = service.ages.lock().unwrap_or_else(|e| e.into_inner());
    for (target, prior) in priors {
        let next = prior.after(report, &target);
        cache.insert(target, Arc::new(next));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_result_never_replaces_a_newer_one() {
        let shown = Utc::now();
        assert!(newer(shown, shown + chrono::Duration::seconds(1)));
        assert!(!newer(shown, shown - chrono::Duration::seconds(1)));
        assert!(!newer(shown, shown), "the same scan is not published twice");
    }
}
