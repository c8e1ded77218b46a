//! `gitdrift serve`: the long-lived service. Each git source is fetched on its own interval (and
//! on webhook); each target is scanned on its own schedule (Kubernetes targets from watches, as
//! changes happen), at most `concurrency` at once, so a slow or failing target never delays the
//! others. Every scan is stored in the history, its results set the metrics, and the HTTP server
//! ([`http`]) shows them. SIGHUP reloads the configuration, SIGTERM stops within a bound.

pub mod http;
pub mod reports;
pub mod shard;
pub mod webhook;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::config::{Config, LiveSettings, Source, Target};
use crate::desired::{self, SourceRead};
use crate::live::LiveRead;
use crate::live::kube::KubeProvider;
use crate::live::kube::watch::{CacheOnly, TargetWatch};
use crate::metrics::Metrics;
use crate::model::{Code, Severity};
use crate::report::{ScanReport, Summary};
use crate::scan::{self, ScanOptions};
use crate::store::Store;

/// What `serve` needs besides the configuration.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The configuration file (read again on SIGHUP).
    pub config_path: PathBuf,
    /// Where remote repositories are cached.
    pub cache_dir: PathBuf,
    /// The data folder: the scan history.
    pub data_dir: PathBuf,
    /// Overrides `serve.listen`.
    pub listen: Option<SocketAddr>,
    /// This replica's shard: it scans only the targets rendezvous hashing gives it (and only
    /// shard 0 writes the scheduled reports). `None`: every target.
    pub shard: Option<shard::Shard>,
    /// How to reach another shard (`{index}` stands for its number), so that a webhook about
    /// another shard's source is passed on to it.
    pub shard_peer_url: Option<String>,
}

/// How a target stands, for the API and the overview page.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TargetStatus {
    /// Target name.
    pub name: String,
    /// `snapshot`, `kubernetes` or `aws`.
    pub provider: String,
    /// `watch` (Kubernetes watches) or `interval`.
    pub mode: String,
    /// A scan is running now.
    pub scanning: bool,
    /// The last scan's stored id.
    pub last_scan_id: Option<i64>,
    /// When it started.
    pub last_scan_at: Option<DateTime<Utc>>,
    /// How long it took.
    pub last_duration_seconds: Option<f64>,
    /// When the last scan without errors finished.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Its counts.
    pub summary: Option<Summary>,
    /// Failing compliance findings.
    pub failing_findings: usize,
    /// The last scan's error problems (first few), if any.
    pub errors: Vec<String>,
    /// Sources of this target scanned at an earlier revision because they cannot be read now.
    pub stale_sources: Vec<String>,
    /// When the next scheduled scan is due.
    pub next_scan_at: Option<DateTime<Utc>>,
}

/// How a source stands.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SourceStatus {
    /// Source name.
    pub name: String,
    /// The target it declares.
    pub target: String,
    /// The commit scans use.
    pub revision: Option<String>,
    /// Why it is stale (cannot be read now), if it is.
    pub stale: Option<String>,
    /// When it was last read successfully.
    pub last_fetch_at: Option<DateTime<Utc>>,
    /// When it was last tried.
    pub last_attempt_at: Option<DateTime<Utc>>,
}

/// The service's shared state.
pub struct Service {
    /// The configuration in force, with its compiled rules.
    context: RwLock<scan::Context>,
    /// The service's metrics (the read-only guards count into them too).
    pub metrics: Arc<Metrics>,
    options: ServeOptions,
    /// The scan history.
    pub store: Arc<Store>,
    targets: Mutex<BTreeMap<String, TargetStatus>>,
    sources: Mutex<BTreeMap<String, SourceEntry>>,
    /// Targets that have not finished a first scan; empty once ready.
    waiting: Mutex<Vec<String>>,
    ready: AtomicBool,
    shutting_down: AtomicBool,
    /// Wakes a target's loop for an immediate scan.
    scan_now: Mutex<HashMap<String, Arc<Notify>>>,
    /// Wakes a source's loop for an immediate fetch.
    fetch_now: Mutex<HashMap<String, Arc<Notify>>>,
    /// Scans running at once.
    permits: RwLock<Arc<Semaphore>>,
    /// Scans running now (for shutdown).
    running: Arc<tokio::sync::RwLock<()>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Counts configuration loads, so that a loop of an older one stops.
    generation: std::sync::atomic::AtomicU64,
    /// Scheduled reports: their last run, for the API.
    pub(crate) report_runs: Mutex<BTreeMap<String, reports::ReportRun>>,
    /// Wakes every target loop of an older configuration, so that it ends.
    reloaded: Notify,
    /// Remediation branches by name.
    remediations: Mutex<BTreeMap<String, RemediationStatus>>,
    /// When the writing proposals of the last hour were made.
    remediation_writes: Mutex<Vec<std::time::Instant>>,
    /// One remediation at a time.
    remediating: tokio::sync::Mutex<()>,
}

struct SourceEntry {
    definition: String,
    read: Option<Arc<SourceRead>>,
    status: SourceStatus,
    /// Read once (successfully or not): targets may scan.
    settled: bool,
    settled_notify: Arc<Notify>,
}

impl Service {
    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.context().config)
    }

    /// The configuration in force with its compiled rules, for a scan.
    pub fn context(&self) -> scan::Context {
        self.context
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// This replica's shard, if sharded.
    pub fn shard(&self) -> Option<shard::Shard> {
        self.options.shard
    }

    /// The base URL of another shard.
    pub fn peer_url(&self, index: usize) -> Option<String> {
        self.options
            .shard_peer_url
            .as_ref()
            .map(|t| t.replace("{index}", &index.to_string()))
    }

    /// Whether this replica scans the target (always, unless sharded).
    pub fn owns(&self, target: &str) -> bool {
        self.options.shard.is_none_or(|s| s.owns(target))
    }

    /// Every target's status.
    pub fn target_statuses(&self) -> Vec<TargetStatus> {
        self.targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Every remediation branch's status.
    pub fn remediation_statuses(&self) -> Vec<RemediationStatus> {
        self.remediations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Every source's status.
    pub fn source_statuses(&self) -> Vec<SourceStatus> {
        self.sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|s| s.status.clone())
            .collect()
    }

    /// Ready once every target has finished (or failed) a first scan; stays ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// SIGTERM was received: no new scan starts.
    pub fn is_stopping(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Targets still waiting for a first scan.
    pub fn waiting_for(&self) -> Vec<String> {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Asks the loops of these sources to fetch now (webhook).
    pub fn fetch(&self, sources: &[String]) {
        let notifies = self.fetch_now.lock().unwrap_or_else(|e| e.into_inner());
        for name in sources {
            if let Some(notify) = notifies.get(name) {
                notify.notify_one();
            }
        }
    }

    fn settle(&self, target: &str) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.retain(|t| t != target);
        if waiting.is_empty() && !self.ready.swap(true, Ordering::SeqCst) {
            tracing::info!(message = "ready: every target has been scanned once");
        }
    }
}

/// Runs the service until SIGTERM or SIGINT; returns the exit code.
pub async fn run(options: ServeOptions) -> anyhow::Result<u8> {
    let signals =
        install_signals().map_err(|err| anyhow::anyhow!("cannot catch signals: {err}"))?;
    let config = Arc::new(Config::load(&options.config_path, &crate::live::known())?);
    let store = Arc::new(Store::open(&options.data_dir)?);
    let listen = options.listen.unwrap_or(config.serve.listen);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on {listen}: {err}"))?;
    let bound = listener.local_addr()?;
    // Metrics exist from the start (build info, zeros for the webhook results).
    let metrics = Arc::new(Metrics::new());
    let context = scan::Context::new(Arc::clone(&config), metrics.clone());
    let owned: Vec<String> = config
        .targets
        .iter()
        .filter(|t| options.shard.is_none_or(|s| s.owns(&t.name)))
        .map(|t| t.name.clone())
        .collect();
    if let Some(shard) = options.shard {
        tracing::info!(message = "sharded", shard = shard.index, shards = shard.count, targets = ?owned);
    }
    let service = Arc::new(Service {
        permits: RwLock::new(Arc::new(Semaphore::new(config.concurrency.max(1)))),
        context: RwLock::new(context.clone()),
        metrics,
        options,
        store,
        targets: Mutex::new(BTreeMap::new()),
        sources: Mutex::new(BTreeMap::new()),
        ready: AtomicBool::new(owned.is_empty()),
        waiting: Mutex::new(owned),
        shutting_down: AtomicBool::new(false),
        scan_now: Mutex::new(HashMap::new()),
        fetch_now: Mutex::new(HashMap::new()),
        running: Arc::new(tokio::sync::RwLock::new(())),
        tasks: Mutex::new(Vec::new()),
        generation: std::sync::atomic::AtomicU64::new(0),
        report_runs: Mutex::new(BTreeMap::new()),
        reloaded: Notify::new(),
        remediations: Mutex::new(BTreeMap::new()),
        remediation_writes: Mutex::new(Vec::new()),
        remediating: tokio::sync::Mutex::new(()),
    });
    if config.remediation.in_service {
        service.metrics.remediation_states(&[]);
    }
    start_loops(&service, &context);
    tracing::info!(message = "serving", address = %bound, targets = config.targets.len(), sources = config.sources.len());
    eprintln!("gitdrift serve: listening on http://{bound}");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = {
        let service = Arc::clone(&service);
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            let app = http::router(service);
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.wait_for(|s| *s).await;
                })
                .await;
            if let Err(err) = result {
                tracing::error!(message = "HTTP server failed", error = %err);
            }
        })
    };

    wait_for_signals(&service, signals).await;
    service.shutting_down.store(true, Ordering::SeqCst);
    let timeout = service.config().serve.shutdown_timeout;
    tracing::info!(
        message = "stopping: waiting for running scans",
        timeout_s = timeout.as_secs()
    );
    // Scans hold the read side; the write side is free once none runs.
    let finished = tokio::time::timeout(timeout, service.running.write())
        .await
        .is_ok();
    if !finished {
        tracing::warn!(message = "running scans abandoned at the shutdown timeout");
    }
    stop_loops(&service);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    let store = Arc::clone(&service.store);
    let _ = tokio::task::spawn_blocking(move || store.checkpoint()).await;
    eprintln!("gitdrift serve: stopped");
    Ok(0)
}

type Signals = (
    tokio::signal::unix::Signal,
    tokio::signal::unix::Signal,
    tokio::signal::unix::Signal,
);

/// SIGTERM, SIGINT and SIGHUP, caught from the start (a SIGHUP during start-up must not kill).
fn install_signals() -> std::io::Result<Signals> {
    use tokio::signal::unix::{SignalKind, signal};
    Ok((
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
        signal(SignalKind::hangup())?,
    ))
}

async fn wait_for_signals(service: &Arc<Service>, signals: Signals) {
    let (mut term, mut int, mut hup) = signals;
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hup.recv() => reload(service),
        }
    }
}

/// SIGHUP: reads the configuration again. A bad file changes nothing (the error is logged);
/// a good one replaces the loops, keeping every source read whose definition is unchanged and
/// every metric until a new scan replaces it.
fn reload(service: &Arc<Service>) {
    let path = service.options.config_path.clone();
    let config = match Config::load(&path, &crate::live::known()) {
        Ok(config) => Arc::new(config),
        Err(err) => {
            tracing::error!(message = "configuration not reloaded", error = %err);
            eprintln!(
                "gitdrift serve: configuration not reloaded; the previous one stays in force:\n{}",
                crate::model::redact::scrub(&err.to_string())
            );
            return;
        }
    };
    let old = service.config();
    let context = scan::Context::new(Arc::clone(&config), service.metrics.clone());
    if config.serve.listen != old.serve.listen {
        tracing::warn!(message = "serve.listen changes take a restart");
    }
    // The new configuration first: a scan that finishes from now on publishes only for a target
    // it still has.
    *service.context.write().unwrap_or_else(|e| e.into_inner()) = context.clone();
    if config.concurrency != old.concurrency {
        *service.permits.write().unwrap_or_else(|e| e.into_inner()) =
            Arc::new(Semaphore::new(config.concurrency.max(1)));
    }
    stop_loops(service);
    for target in &old.targets {
        if config.target(&target.name).is_none() {
            service.metrics.forget_target(&target.name);
            service
                .targets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&target.name);
        }
    }
    for source in &old.sources {
        if !config.sources.iter().any(|s| s.name == source.name) {
            service.metrics.forget_source(&source.name);
            service
                .sources
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&source.name);
        }
    }
    service
        .report_runs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|name, _| config.serve.reports.iter().any(|r| &r.name == name));
    if !service.is_ready() {
        // Not ready yet: the new configuration's targets are the ones to wait for.
        let scanned: Vec<String> = service
            .targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|t| t.last_scan_at.is_some() || !t.errors.is_empty())
            .map(|t| t.name.clone())
            .collect();
        let mut waiting = service.waiting.lock().unwrap_or_else(|e| e.into_inner());
        *waiting = config
            .targets
            .iter()
            .map(|t| t.name.clone())
            .filter(|t| service.owns(t) && !scanned.contains(t))
            .collect();
        if waiting.is_empty() {
            service.ready.store(true, Ordering::SeqCst);
        }
    }
    start_loops(service, &context);
    tracing::info!(
        message = "configuration reloaded",
        targets = config.targets.len()
    );
    eprintln!(
        "gitdrift serve: configuration reloaded ({} targets, {} sources)",
        config.targets.len(),
        config.sources.len()
    );
}

/// Ends the loops of the configuration in force: source, report and retention loops at once;
/// target loops after the scan they may be running (its result is still published, and the
/// abandoned blocking work does not outlive its permit).
fn stop_loops(service: &Service) {
    service
        .generation
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    service.reloaded.notify_waiters();
    for task in service
        .tasks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain(..)
    {
        task.abort();
    }
}

fn start_loops(service: &Arc<Service>, context: &scan::Context) {
    let config = &context.config;
    let generation = service.generation.load(Ordering::SeqCst);
    let mut tasks = Vec::new();
    {
        let mut sources = service.sources.lock().unwrap_or_else(|e| e.into_inner());
        let mut fetch_now = service.fetch_now.lock().unwrap_or_else(|e| e.into_inner());
        fetch_now.clear();
        for source in config.sources.iter().filter(|s| service.owns(&s.target)) {
            let definition = format!("{source:?}");
            let keep = sources
                .get(&source.name)
                .is_some_and(|e| e.definition == definition);
            if !keep {
                sources.insert(
                    source.name.clone(),
                    SourceEntry {
                        definition,
                        read: None,
                        status: SourceStatus {
                            name: source.name.clone(),
                            target: source.target.clone(),
                            ..SourceStatus::default()
                        },
                        settled: false,
                        settled_notify: Arc::new(Notify::new()),
                    },
                );
            }
            let notify = Arc::new(Notify::new());
            fetch_now.insert(source.name.clone(), Arc::clone(&notify));
            tasks.push(tokio::spawn(source_loop(
                Arc::clone(service),
                Arc::clone(config),
                source.clone(),
                notify,
                !keep,
            )));
        }
    }
    {
        let mut statuses = service.targets.lock().unwrap_or_else(|e| e.into_inner());
        let mut scan_now = service.scan_now.lock().unwrap_or_else(|e| e.into_inner());
        scan_now.clear();
        for target in config.targets.iter().filter(|t| service.owns(&t.name)) {
            service.metrics.scan_interval(
                &target.name,
                crate::live::LiveProvider::kind_of(target),
                target.schedule.interval.unwrap_or(config.serve.interval),
            );
            let status = statuses
                .entry(target.name.clone())
                .or_insert_with(|| TargetStatus {
                    name: target.name.clone(),
                    ..TargetStatus::default()
                });
            status.provider = crate::live::LiveProvider::kind_of(target).to_string();
            status.mode = if watch_mode(target).is_some() {
                "watch"
            } else {
                "interval"
            }
            .to_string();
            status.scanning = false;
            let notify = Arc::new(Notify::new());
            scan_now.insert(target.name.clone(), Arc::clone(&notify));
            // Not aborted on reload: it ends by itself once its scan is done.
            tokio::spawn(target_loop(
                Arc::clone(service),
                context.clone(),
                target.clone(),
                notify,
                generation,
            ));
        }
    }
    // Sharded: the first shard writes the scheduled reports (they scan every target).
    let reports = service.options.shard.is_none_or(|s| s.index == 0);
    for report in config.serve.reports.iter().filter(|_| reports) {
        tasks.push(tokio::spawn(reports::schedule_loop(
            Arc::clone(service),
            context.clone(),
            report.clone(),
        )));
    }
    tasks.push(tokio::spawn(retention_loop(
        Arc::clone(service),
        Arc::clone(config),
    )));
    service
        .tasks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend(tasks);
}

/// The cluster to watch a target in: Kubernetes targets, unless `watch: false`.
fn watch_mode(target: &Target) -> Option<&crate::config::KubeSettings> {
    match &target.live {
        LiveSettings::Kubernetes(settings) if target.schedule.watch != Some(false) => {
            Some(settings)
        }
        _ => None,
    }
}

/// A wait of `interval` lengthened by up to `jitter` of it, at random.
fn jittered(interval: Duration, jitter: f64) -> Duration {
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    let unit = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
    interval + interval.mul_f64(jitter * unit)
}

async fn source_loop(
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

async fn fetch_source(
    service: &Arc<Service>,
    config: &Arc<Config>,
    source: &Source,
    trigger: &str,
) {
    let started = Utc::now();
    let read = {
        let config = Arc::clone(config);
        let source = source.clone();
        let cache_dir = service.options.cache_dir.clone();
        tokio::task::spawn_blocking(move || desired::read_source(&config, &source, &cache_dir))
            .await
    };
    let read = match read {
        Ok(read) => read,
        Err(err) => SourceRead {
            source: source.name.clone(),
            commit: None,
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
async fn target_sources(service: &Service, config: &Config, target: &str) -> Vec<SourceRead> {
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

/// Watch mode's state for one target: the watch, and the revisions it was started for.
struct Watching {
    watch: TargetWatch,
    revisions: Vec<Option<String>>,
}

async fn target_loop(
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
        if let Some(provider) = &watching {
            let revisions: Vec<Option<String>> = sources.iter().map(|s| s.commit.clone()).collect();
            let current = watch.as_ref().is_some_and(|w| w.revisions == revisions);
            if !current && unwatchable.as_ref() != Some(&revisions) {
                watch = None;
                updates = None;
                let request = scan::live_request(&config, &target.name, &sources);
                match TargetWatch::start(provider, &request, |_| Box::new(CacheOnly)).await {
                    Ok(started) => {
                        let settings_timeout = match &target.live {
                            LiveSettings::Kubernetes(k) => k.timeout,
                            _ => Duration::from_secs(30),
                        };
                        if started.ready(settings_timeout * 2).await {
                            updates = Some(started.updates());
                            watch = Some(Watching {
                                watch: started,
                                revisions,
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
                prepared.insert(target.name.clone(), w.watch.live_read());
            }
        }
        if service.generation.load(Ordering::SeqCst) != generation
            || service.shutting_down.load(Ordering::SeqCst)
        {
            return;
        }
        scan_target(&service, &context, &target, sources, prepared).await;
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
async fn changed(
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

fn set_next(service: &Service, target: &str, wait: Duration) {
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
async fn scan_off_workers(
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
async fn scan_target(
    service: &Arc<Service>,
    context: &scan::Context,
    target: &Target,
    sources: Vec<SourceRead>,
    prepared: HashMap<String, LiveRead>,
) {
    let config = &context.config;
    let permits = Arc::clone(&service.permits.read().unwrap_or_else(|e| e.into_inner()));
    let Ok(_permit) = permits.acquire_owned().await else {
        return;
    };
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
    let report = match report {
        Ok(report) => Arc::new(report),
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
    let stored = {
        let store = Arc::clone(&service.store);
        let report = Arc::clone(&report);
        tokio::task::spawn_blocking(move || store.save(&report)).await
    };
    let id = match stored {
        Ok(Ok(id)) => Some(id),
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
    service.metrics.publish(
        &target.name,
        crate::live::LiveProvider::kind_of(target),
        &report,
        config.serve.resource_metrics,
    );
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
    let stages: Vec<(&str, usize)> = stages.into_iter().collect();
    service
        .metrics
        .scan_finished(&target.name, clock.elapsed().as_secs_f64(), &stages);
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
    let clean = errors.is_empty();
    finish_status(service, &target.name, id, Some(&report), &stale, errors);
    if clean && config.remediation.in_service && config.remediation.provider.is_some() {
        let (service, config, target) =
            (Arc::clone(service), Arc::clone(config), target.name.clone());
        tokio::spawn(async move { remediate_target(&service, &config, &target, report, id).await });
    }
}

/// How a remediation branch stands, for the API.
#[derive(Clone, Debug, Serialize)]
pub struct RemediationStatus {
    /// The source.
    pub source: String,
    /// Its target.
    pub target: String,
    /// The branch.
    pub branch: String,
    /// `open`, `closed`, `left_alone`, `rate_limited` or `error`.
    pub state: String,
    /// The pull or merge request.
    pub url: Option<String>,
    /// What the last proposal did, or why it failed.
    pub detail: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// After a clean scan of a target: its plan proposed through the provider, at most
/// `remediation.max_per_hour` writing proposals an hour, one at a time.
async fn remediate_target(
    service: &Arc<Service>,
    config: &Arc<Config>,
    target: &str,
    report: Arc<ScanReport>,
    id: Option<i64>,
) {
    let Some(provider) = config.remediation.provider.clone() else {
        return;
    };
    let _one_at_a_time = service.remediating.lock().await;
    let hour = Duration::from_secs(3600);
    // Each source's proposal takes from the budget; checked before each one.
    let budget_left = || {
        let mut writes = service
            .remediation_writes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        writes.retain(|t| t.elapsed() < hour);
        writes.len() < config.remediation.max_per_hour
    };
    let record =
        |source: &str, branch: String, state: &str, url: Option<String>, detail: String| {
            service
                .remediations
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(
                    branch.clone(),
                    RemediationStatus {
                        source: source.to_string(),
                        target: target.to_string(),
                        branch,
                        state: state.to_string(),
                        url,
                        detail,
                        at: Utc::now(),
                    },
                );
        };
    let sources: Vec<&crate::config::Source> = config
        .sources
        .iter()
        .filter(|s| s.target == target)
        .collect();
    let plan = {
        let (config, report, cache) = (
            Arc::clone(config),
            Arc::clone(&report),
            service.options.cache_dir.clone(),
        );
        tokio::task::spawn_blocking(move || crate::remediate::plan(&config, &report, &cache)).await
    };
    let Ok(mut plan) = plan else {
        return;
    };
    let candidates = crate::remediate::import_candidates(config, &report);
    if !candidates.is_empty() {
        let recorder: Arc<dyn crate::live::Recorder> = service.metrics.clone();
        let live = crate::remediate::read_unmanaged(config, &candidates, &recorder).await;
        crate::remediate::add_imports(
            config,
            &report,
            &live,
            &mut plan,
            &service.options.cache_dir,
        );
    }
    let scan = crate::remediate::propose::ScanRef {
        id,
        url: match (&config.serve.external_url, id) {
            (Some(base), Some(id)) => Some(format!(
                "{}/api/v1/scans/{id}/report?format=html",
                base.trim_end_matches('/')
            )),
            _ => None,
        },
    };
    for source in &sources {
        let branch = crate::remediate::local::branch_name(&source.name, &source.target);
        if !budget_left() {
            record(
                &source.name,
                branch,
                "rate_limited",
                None,
                format!(
                    "at most {} proposals an hour: waiting for the next scan",
                    config.remediation.max_per_hour
                ),
            );
            continue;
        }
        let proposed = crate::remediate::propose::propose(
            config,
            &provider,
            &report,
            &plan,
            Some(&source.name),
            &scan,
        )
        .await;
        match proposed {
            Ok(proposals) => {
                for p in proposals {
                    let writes = matches!(
                        p.outcome,
                        crate::remediate::local::Outcome::Opened { .. }
                            | crate::remediate::local::Outcome::Updated { .. }
                            | crate::remediate::local::Outcome::Closed
                    );
                    if writes {
                        service
                            .remediation_writes
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(std::time::Instant::now());
                    }
                    let detail = p.describe().unwrap_or_default();
                    match p.state() {
                        Some(state) => {
                            tracing::info!(message = "remediation", %detail);
                            record(&p.source, p.branch.clone(), state, p.url.clone(), detail)
                        }
                        None => {
                            service
                                .remediations
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .remove(&p.branch);
                        }
                    }
                }
            }
            Err(err) => {
                tracing::error!(message = "remediation failed", source = %source.name, error = %err);
                record(&source.name, branch, "error", None, err);
            }
        }
    }
    publish_remediation(service);
}

fn publish_remediation(service: &Service) {
    let states: Vec<String> = service
        .remediations
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .map(|r| r.state.clone())
        .collect();
    let states: Vec<&str> = states.iter().map(String::as_str).collect();
    service.metrics.remediation_states(&states);
}

fn finish_status(
    service: &Service,
    target: &str,
    id: Option<i64>,
    report: Option<&ScanReport>,
    stale: &[String],
    errors: Vec<String>,
) {
    {
        let mut statuses = service.targets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(status) = statuses.get_mut(target) {
            status.scanning = false;
            if id.is_some() {
                status.last_scan_id = id;
            }
            if let Some(report) = report {
                status.last_scan_at = Some(report.scan.started_at);
                status.last_duration_seconds = Some(
                    (report.scan.finished_at - report.scan.started_at).num_milliseconds() as f64
                        / 1000.0,
                );
                if errors.is_empty() {
                    status.last_success_at = Some(report.scan.finished_at);
                }
                status.summary = Some(report.summary.clone());
                status.failing_findings = report.compliance.failing.values().sum();
            }
            status.errors = errors;
            status.stale_sources = stale.to_vec();
        }
    }
    service.settle(target);
}

/// Applies the retention settings now and then (and at start).
async fn retention_loop(service: Arc<Service>, config: Arc<Config>) {
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
