//! `gitdrift serve`: the long-lived service. Each git source is fetched on its own interval (and
//! on webhook); each target is scanned on its own schedule (Kubernetes targets from watches, as
//! changes happen), at most `concurrency` at once, so a slow or failing target never delays the
//! others. Every scan is stored in the history, its results set the metrics, and the HTTP server
//! ([`http`]) shows them. SIGHUP reloads the configuration, SIGTERM stops within a bound.

mod auth;
pub mod convergence;
pub mod http;
mod instant;
mod listener;
mod loops;
pub mod peers;
mod remediation;
pub mod reports;
pub mod shard;
pub mod webhook;

pub use remediation::RemediationStatus;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::desired::SourceRead;
use crate::metrics::Metrics;
use crate::report::Summary;
use crate::scan;
use crate::store::Store;
use auth::ApiTokens;
use loops::{retention_loop, source_loop, target_loop, watch_mode};
use tokio_rustls::TlsAcceptor;

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
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
// Read back from other shards, which may run another version: missing fields default.
#[serde(default)]
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
    /// When a watched change last updated the counts (`summary`, `failing_findings`, the
    /// gauges) since the last scan; `null` when they are the last scan's.
    pub live_updated_at: Option<DateTime<Utc>>,
}

/// How a source stands.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
// Read back from other shards, which may run another version: missing fields default.
#[serde(default)]
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
    /// When the current revision was first read.
    pub revision_seen_at: Option<DateTime<Utc>>,
    /// The current revision on its way to the live state: when it was committed and first
    /// seen, and either when it converged or what it waits on.
    pub convergence: Option<crate::report::convergence::Revision>,
    /// The newest revision that converged, with how long it took.
    pub last_converged: Option<crate::report::convergence::Revision>,
}

/// The service's shared state.
pub struct Service {
    /// The configuration in force, with its compiled rules.
    context: RwLock<scan::Context>,
    /// The service's metrics (the read-only guards count into them too).
    pub metrics: Arc<Metrics>,
    /// Who may read the API.
    tokens: RwLock<Arc<ApiTokens>>,
    /// TLS for new connections, if configured.
    tls: RwLock<Option<TlsAcceptor>>,
    /// Webhook deliveries taken in the last hour, by id, to refuse replays.
    deliveries: Mutex<HashMap<String, Instant>>,
    /// Reports read whole or rendered at once (`serve.http.max_renders`).
    renders: Semaphore,
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
    /// One scan of a target at a time (its loop, an older loop ending after a reload, a
    /// scheduled report): by target name, kept across reloads.
    scan_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Plans waiting to be proposed: the latest per target only.
    pending_plans: Mutex<remediation::Queue<remediation::Pending>>,
    /// When each drift of a target was first seen, as its last published scan dated them
    /// (read from the history on a target's first scan after start).
    pub(crate) ages: Mutex<HashMap<String, Arc<crate::report::age::Ages>>>,
    /// Each source's current and last converged revision.
    pub(crate) convergence: convergence::Tracker,
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

    /// The API tokens in force.
    pub fn tokens(&self) -> Arc<ApiTokens> {
        Arc::clone(&self.tokens.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The TLS acceptor in force for new connections.
    pub fn tls(&self) -> Option<TlsAcceptor> {
        self.tls.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sets the history's head metric from the store.
    pub async fn publish_head(&self) {
        let store = Arc::clone(&self.store);
        if let Ok(Ok(Some((id, sha256)))) = tokio::task::spawn_blocking(move || store.head()).await
        {
            self.metrics.history_head(id, &sha256);
        }
    }

    /// Whether a webhook delivery is new (and remembers it for an hour).
    pub fn first_delivery(&self, id: &str) -> bool {
        let mut seen = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        seen.retain(|_, at| now.duration_since(*at) < REPLAY_WINDOW);
        if seen.contains_key(id) {
            return false;
        }
        // Bounded: past the cap, the oldest ids go first.
        if seen.len() >= MAX_DELIVERIES
            && let Some(oldest) = seen
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone())
        {
            seen.remove(&oldest);
        }
        seen.insert(id.to_string(), now);
        true
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
        // Copied out first: the convergence tracker is never locked under the sources' lock
        // (publishing a scan takes them the other way round).
        let statuses: Vec<SourceStatus> = self
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|s| s.status.clone())
            .collect();
        statuses
            .into_iter()
            .map(|status| {
                let heads = self.convergence.heads(&status.name);
                SourceStatus {
                    convergence: heads.current,
                    last_converged: heads.last_converged,
                    ..status
                }
            })
            .collect()
    }

    /// Waits until no other scan of these targets runs, and holds them (in name order, so two
    /// callers never wait on each other).
    pub(crate) async fn lock_targets(
        &self,
        targets: &[String],
    ) -> Vec<tokio::sync::OwnedMutexGuard<()>> {
        let mut names: Vec<&String> = targets.iter().collect();
        names.sort();
        names.dedup();
        let locks: Vec<Arc<tokio::sync::Mutex<()>>> = {
            let mut map = self.scan_locks.lock().unwrap_or_else(|e| e.into_inner());
            names
                .iter()
                .map(|n| Arc::clone(map.entry((*n).clone()).or_default()))
                .collect()
        };
        let mut guards = Vec::with_capacity(locks.len());
        for lock in locks {
            guards.push(lock.lock_owned().await);
        }
        guards
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

/// How long a webhook delivery id is remembered.
const REPLAY_WINDOW: Duration = Duration::from_secs(3600);
/// How many delivery ids are remembered at most.
const MAX_DELIVERIES: usize = 10_000;

/// Reports are served beyond loopback only behind a token, unless the configuration insists.
fn exposure(
    listen: SocketAddr,
    tokens: &ApiTokens,
    allow_unauthenticated: bool,
) -> Result<(), String> {
    if tokens.is_empty() && !listen.ip().is_loopback() && !allow_unauthenticated {
        return Err(format!(
            "refusing to serve reports on {listen} without an API token: set serve.auth.tokens_file or serve.auth.token_env, listen on 127.0.0.1, or set serve.auth.allow_unauthenticated: true"
        ));
    }
    Ok(())
}

/// The API tokens and the TLS acceptor a configuration asks for.
fn guards(config: &Config) -> Result<(ApiTokens, Option<TlsAcceptor>), String> {
    let tokens = ApiTokens::load(&config.serve.auth)?;
    let tls = config
        .serve
        .tls
        .as_ref()
        .map(listener::tls_acceptor)
        .transpose()?;
    Ok((tokens, tls))
}

/// Runs the service until SIGTERM or SIGINT; returns the exit code.
pub async fn run(options: ServeOptions) -> anyhow::Result<u8> {
    let signals =
        install_signals().map_err(|err| anyhow::anyhow!("cannot catch signals: {err}"))?;
    let config = Arc::new(Config::load(&options.config_path, &crate::live::known())?);
    let store = Arc::new(Store::open(&options.data_dir)?);
    let convergence = convergence::Tracker::load(&store);
    let listen = options.listen.unwrap_or(config.serve.listen());
    let (tokens, tls) = guards(&config).map_err(|err| anyhow::anyhow!(err))?;
    exposure(listen, &tokens, config.serve.auth.allow_unauthenticated)
        .map_err(|err| anyhow::anyhow!(err))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on {listen}: {err}"))?;
    let bound = listener.local_addr()?;
    // Metrics exist from the start (build info, zeros for the webhook results).
    let metrics = Arc::new(Metrics::new());
    let context = scan::Context::new(Arc::clone(&config), metrics.clone()).remembering();
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
        tokens: RwLock::new(Arc::new(tokens)),
        tls: RwLock::new(tls),
        deliveries: Mutex::new(HashMap::new()),
        renders: Semaphore::new(config.serve.http.max_renders),
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
        scan_locks: Mutex::new(HashMap::new()),
        pending_plans: Mutex::new(remediation::Queue::default()),
        ages: Mutex::new(HashMap::new()),
        convergence,
    });
    if config.remediation.in_service {
        service.metrics.remediation_states(&[]);
    }
    service.publish_head().await;
    start_loops(&service, &context);
    let scheme = if service.tls().is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(message = "serving", address = %bound, %scheme, authenticated = !service.tokens().is_empty(), targets = config.targets.len(), sources = config.sources.len());
    eprintln!("gitdrift serve: listening on {scheme}://{bound}");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = {
        let app = http::router(Arc::clone(&service));
        let tls_source = Arc::clone(&service);
        tokio::spawn(listener::serve(
            listener,
            app,
            config.serve.http.clone(),
            move || tls_source.tls(),
            stop_rx.clone(),
        ))
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
    let (tokens, tls) = match guards(&config) {
        Ok(guards) => guards,
        Err(err) => {
            tracing::error!(message = "configuration not reloaded", error = %err);
            eprintln!(
                "gitdrift serve: configuration not reloaded; the previous one stays in force:\n{}",
                crate::model::redact::scrub(&err)
            );
            return;
        }
    };
    let old = service.config();
    let context = scan::Context::new(Arc::clone(&config), service.metrics.clone()).remembering();
    *service.tokens.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(tokens);
    *service.tls.write().unwrap_or_else(|e| e.into_inner()) = tls;
    if config.serve.listen() != old.serve.listen() || config.serve.http != old.serve.http {
        tracing::warn!(message = "serve.listen and serve.http changes take a restart");
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
            // The status first: a watched change published from now on finds no target.
            service
                .targets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&target.name);
            service.metrics.forget_target(&target.name);
            service
                .ages
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&target.name);
        }
    }
    for source in &old.sources {
        if !config.sources.iter().any(|s| s.name == source.name) {
            service.metrics.forget_source(&source.name);
            service.convergence.forget(&source.name);
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
        service
            .metrics
            .drift_age_limit(config.serve.drift_age_limit);
        service
            .metrics
            .convergence_limit(config.serve.convergence_limit);
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
        // A shard remembers only its own targets: its reports' scans of the others' leave no
        // memo behind (only the rules' results by shape, which any scan may share).
        let context = match service.options.shard {
            Some(_) => context.forgetting(),
            None => context.clone(),
        };
        tasks.push(tokio::spawn(reports::schedule_loop(
            Arc::clone(service),
            context,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_leave_loopback_only_behind_a_token_or_by_explicit_choice() {
        let none = ApiTokens::default();
        let wide: SocketAddr = "0.0.0.0:9464".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:9464".parse().unwrap();
        let local6: SocketAddr = "[::1]:9464".parse().unwrap();
        assert!(exposure(wide, &none, false).is_err());
        assert!(exposure(wide, &none, true).is_ok(), "allow_unauthenticated");
        assert!(exposure(local, &none, false).is_ok());
        assert!(exposure(local6, &none, false).is_ok());
    }
}
