//! One scan: read every source and target, judge each target, audit both sides, and assemble
//! the [`ScanReport`]. Orchestration only: the reading is `desired`'s and `live`'s, the judgement
//! `judge`'s, the rules `audit`'s.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::audit::findings::{FindingMemo, FindingResource, waiver_for};
use crate::audit::run::{AuditMemo, Auditor, Chunk, SourceOf, Subject};
use crate::config::audit::Waiver;
use crate::config::{Config, Target};
use crate::desired::{self, SourceRead};
use crate::diff::ignore;
use crate::diff::unmanaged::SystemContext;
use crate::judge::{self, ResourceReport, UnreadableKind};
use crate::live::aws::types::Estate;
use crate::live::{LiveProvider, LiveRead, LiveRequest, Recorder};
use crate::model::{Code, Declared, Object, Problem, ResourceKey, Severity, Side, SourceRef};
use crate::remediate::lines::LineMemo;
use crate::report::tally::Failing;
use crate::report::{ScanMeta, ScanReport, SourceMeta, StaleRule, Summary, TargetMeta};

/// What a scan uses that outlives it, built once and handed in, never global: the
/// configuration, its compliance rules compiled, and where the read-only guards count requests.
/// `serve` keeps one per configuration (and builds a new one on reload).
#[derive(Clone, Debug)]
pub struct Context {
    /// The configuration.
    pub config: Arc<Config>,
    /// The rules the configuration loads, compiled once.
    pub auditor: Arc<Auditor>,
    /// Counts every request the live providers send (the service's metrics).
    pub recorder: Arc<dyn Recorder>,
    /// What the last scan of each target judged and found, for re-scans that redo only what
    /// changed (`serve`'s contexts have one; a single scan has nothing to reuse).
    pub memo: Option<Arc<Memo>>,
}

impl Context {
    /// Compiles the configuration's rules.
    pub fn new(config: Arc<Config>, recorder: Arc<dyn Recorder>) -> Context {
        let auditor = Arc::new(Auditor::load(&config));
        Context {
            config,
            auditor,
            recorder,
            memo: None,
        }
    }

    /// The same context without a memo: its scans reuse no judgement or rule result of an earlier
    /// scan by resource and leave none behind (the rules' results by shape, pure functions of
    /// what the rules read, are still shared: [`crate::audit::reads`]).
    pub fn forgetting(&self) -> Context {
        Context {
            memo: None,
            ..self.clone()
        }
    }

    /// The same context, remembering each target's last judgements and rule results so that
    /// its next scans judge and audit only the pairs whose inputs changed. The memo lives as
    /// long as the context: a new configuration (new rules, new ignore rules) starts afresh.
    pub fn remembering(mut self) -> Context {
        self.memo = Some(Arc::new(Memo::default()));
        self
    }
}

/// What a watched Kubernetes target's last scan leaves behind so that `serve` can judge and
/// audit one changed object between scans, as the scan would have: its judge (git's objects
/// indexed, the kinds' scopes, the defaults), the target's rules, and the waivers in force.
pub struct Rejudge {
    config: Arc<Config>,
    target: String,
    provider: String,
    judge: Arc<judge::Judge>,
    auditor: Arc<Auditor>,
    rules: Vec<usize>,
    waivers: Vec<Waiver>,
    /// What Gatekeeper Constraints that read other objects saw of the live side at the scan
    /// (the objects judged again between scans are not in it until the next scan).
    inventories: Option<Arc<crate::audit::gatekeeper::Inventories>>,
}

impl std::fmt::Debug for Rejudge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rejudge")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Rejudge {
    /// The identity a live object has in the target.
    pub fn live_key(&self, object: &Object) -> ResourceKey {
        self.judge.live_key(object)
    }

    /// Judges identities again (each with its object now, `None` when it is gone) and runs
    /// the rules on their live objects, all in one evaluation: per identity, its judgement
    /// (`None`: nothing to report, as out of scope) and its failing live findings, in the
    /// order given. `desired_fails` says whether git's side of an identity fails a rule (its
    /// live finding is then not live-only). A rule that errs on an object is left to the next
    /// scan to report.
    pub fn objects(
        &self,
        batch: &[(ResourceKey, Option<Object>)],
        system: &SystemContext,
        desired_fails: impl Fn(&ResourceKey, &str) -> bool,
    ) -> Vec<(Option<ResourceReport>, Vec<Failing>)> {
        let registry = ignore::Registry::new(&self.config.drift.ignore);
        let reports: Vec<Option<ResourceReport>> = batch
            .iter()
            .map(|(key, live)| {
                if self.judge.declares(key) {
                    self.judge.judge_declared(key, live.as_ref(), &registry)
                } else {
                    live.as_ref()
                        .and_then(|object| self.judge.judge_unmanaged(key, object, system))
                }
            })
            .collect();
        // Findings name their resource by the object's own fields: back to the identity.
        type Named<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);
        let mut index: HashMap<Named<'_>, usize> = HashMap::new();
        let mut subjects = Vec::new();
        for (i, ((_, live), report)) in batch.iter().zip(&reports).enumerate() {
            if let Some(object) = live {
                index.insert(
                    (
                        object.group.as_str(),
                        object.kind.as_str(),
                        object.namespace.as_deref(),
                        object.name.as_str(),
                    ),
                    i,
                );
                subjects.push(Subject {
                    object,
                    side: Side::Live,
                    source: report
                        .as_ref()
                        .and_then(|r| r.source.as_ref())
                        .map(|s| SourceOf::Ref(std::borrow::Cow::Borrowed(s))),
                    related: None,
                    print: None,
                });
            }
        }
        let evaluated = self.auditor.evaluate(
            &self.target,
            &self.provider,
            &self.rules,
            &subjects,
            (&self.waivers, self.inventories.as_ref()),
            None,
        );
        drop(subjects);
        let today = Utc::now().date_naive();
        let mut failing: Vec<Vec<Failing>> = vec![Vec::new(); batch.len()];
        for f in evaluated.findings.iter().flat_map(|c| c.iter()) {
            let Some(&i) = index.get(&(
                f.group.as_str(),
                f.kind.as_str(),
                f.namespace.as_deref(),
                f.name.as_str(),
            )) else {
                continue;
            };
            let rule = &self.auditor.set.rules[f.rule];
            let resource = FindingResource {
                target: f.target.clone(),
                api_version: f.api_version.clone(),
                kind: f.kind.clone(),
                namespace: f.namespace.clone(),
                name: f.name.clone(),
            };
            let (waiver, _) = waiver_for(
                &self.waivers,
                (&rule.id, Side::Live, &f.caused_by),
                &f.group,
                &resource,
                today,
            );
            if waiver.is_none() {
                failing[i].push(Failing {
                    side: Side::Live,
                    severity: rule.severity,
                    rule: rule.id.clone(),
                    live_only: !desired_fails(&batch[i].0, &rule.id),
                    controls: Arc::clone(&rule.controls),
                });
            }
        }
        reports.into_iter().zip(failing).collect()
    }
}

/// Per target, the last scan's judgements and rule results, each keyed by the fingerprint of
/// what it read (the declared document, the live object, the source reference, the judgement's
/// environment; the rules and the configuration are the context's); the findings assembled from
/// the rule results are kept with them. A re-scan reuses what the fingerprints say is
/// unchanged; its report is the one a full scan would give (a test holds them byte-identical on
/// random changes).
#[derive(Default)]
pub struct Memo {
    targets: std::sync::Mutex<HashMap<String, TargetMemo>>,
    /// Watched targets' last judges, for [`Memo::rejudge`].
    rejudges: std::sync::Mutex<HashMap<String, Arc<Rejudge>>>,
    /// What the next assembly needs of the last (every target's): where its findings were.
    findings: std::sync::Mutex<FindingMemo>,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo").finish_non_exhaustive()
    }
}

/// What a target's last scan reused from its memo and what it redid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reuse {
    /// Declared pairs whose judgement was reused.
    pub judgements_reused: usize,
    /// Declared pairs judged.
    pub judged: usize,
    /// Subjects (both sides) whose rule results were reused.
    pub results_reused: usize,
    /// Subjects (both sides) evaluated.
    pub evaluated: usize,
    /// Judgements and rule results the memo holds now.
    pub held: usize,
}

/// One target's memo.
#[derive(Default)]
struct TargetMemo {
    judged: judge::JudgeMemo,
    desired: AuditMemo,
    live: AuditMemo,
    /// The lines of its drifted fields in git.
    lines: LineMemo,
}

impl Memo {
    /// Takes a target's memo out for a scan (an empty one if none): a scan running beside
    /// another of the same target starts afresh rather than waiting.
    fn take(&self, target: &str) -> TargetMemo {
        self.lock().remove(target).unwrap_or_default()
    }

    /// Puts a target's memo back after its scan.
    fn put(&self, target: &str, memo: TargetMemo) {
        self.lock().insert(target.to_string(), memo);
    }

    /// What a watched target's last scan left to judge single objects again with (`None`
    /// when the scan listed the target instead of reading its watch).
    pub fn rejudge(&self, target: &str) -> Option<Arc<Rejudge>> {
        self.rejudges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(target)
            .cloned()
    }

    fn keep_rejudge(&self, target: &str, rejudge: Option<Rejudge>) {
        let mut rejudges = self.rejudges.lock().unwrap_or_else(|e| e.into_inner());
        match rejudge {
            Some(rejudge) => {
                rejudges.insert(target.to_string(), Arc::new(rejudge));
            }
            None => {
                rejudges.remove(target);
            }
        }
    }

    /// How many findings the last assembly (of whichever targets) took from the memo, and how
    /// many it made.
    pub fn findings(&self) -> (usize, usize) {
        let memo = self.findings.lock().unwrap_or_else(|e| e.into_inner());
        (memo.reused, memo.assembled)
    }

    /// What a target's last scan reused and redid.
    pub fn last(&self, target: &str) -> Reuse {
        self.lock().get(target).map_or(Reuse::default(), |m| Reuse {
            judgements_reused: m.judged.reused,
            judged: m.judged.judged,
            results_reused: m.desired.reused + m.live.reused,
            evaluated: m.desired.evaluated + m.live.evaluated,
            held: m.judged.len() + m.desired.len() + m.live.len(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TargetMemo>> {
        self.targets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Choices for one scan that are not configuration.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Where remote repositories are cached.
    pub cache_dir: PathBuf,
    /// Scan only these targets (all when empty).
    pub targets: Vec<String>,
}

/// Runs one scan of the configured (or selected) targets.
pub async fn run(context: &Context, options: &ScanOptions) -> ScanReport {
    let started_at = Utc::now();
    let config = &context.config;
    let wanted: HashSet<&str> = config
        .targets
        .iter()
        .filter(|t| options.targets.is_empty() || options.targets.contains(&t.name))
        .map(|t| t.name.as_str())
        .collect();
    // Sources first (git work on blocking threads), then each target reads what its sources
    // declare; at most `concurrency` of each at a time.
    let permits = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
    let sources = read_sources(config, &wanted, &options.cache_dir, &permits).await;
    run_with(context, options, sources, HashMap::new(), started_at).await
}

/// Runs one scan on sources already read (`serve` keeps the last good read of each), and with
/// the live state of some targets already at hand (`prepared`: watch mode's cache); the other
/// targets are read now.
pub async fn run_with(
    context: &Context,
    options: &ScanOptions,
    mut sources: Vec<SourceRead>,
    prepared: HashMap<String, LiveRead>,
    started_at: DateTime<Utc>,
) -> ScanReport {
    let clock = std::time::Instant::now();
    let config = &context.config;
    let targets: Vec<Target> = config
        .targets
        .iter()
        .filter(|t| options.targets.is_empty() || options.targets.contains(&t.name))
        .cloned()
        .collect();
    let mut problems = selection_problems(config, options, &sources);
    let watched: HashSet<String> = prepared.keys().cloned().collect();

    // Read: every target's live state (watched ones from their caches).
    let lives = read_lives(context, &targets, &sources, prepared).await;

    // Judge and audit each target, with the Gatekeeper policies the sources declare.
    let auditor = context.auditor.with_sources(config, &sources);
    let registry = ignore::Registry::new(&config.drift.ignore);
    let mut waivers = config.audit.waivers.clone();
    for read in &mut sources {
        waivers.append(&mut read.waivers);
    }
    problems.extend(auditor.problems.iter().cloned());
    let object_counts: HashMap<String, usize> = sources
        .iter()
        .map(|s| (s.source.clone(), s.objects.len()))
        .collect();
    let mut scanned = Scanned::default();
    for (target, (provider, live)) in targets.iter().zip(lives) {
        let declared = take_declared(config, &target.name, &mut sources);
        let mut memo = context.memo.as_ref().map(|m| m.take(&target.name));
        let judge = scanned.target(
            (context, &auditor, &waivers),
            target,
            (&provider, live),
            declared,
            &registry,
            memo.as_mut(),
        );
        if let (Some(memos), Some(memo)) = (&context.memo, memo) {
            memos.put(&target.name, memo);
            let rejudge = watched.contains(&target.name).then(|| Rejudge {
                config: Arc::clone(config),
                target: target.name.clone(),
                provider: provider.kind().to_string(),
                judge,
                auditor: Arc::clone(&auditor),
                rules: auditor.rules_for(config, target),
                waivers: waivers.clone(),
                inventories: scanned.live_inventories.take(),
            });
            memos.keep_rejudge(&target.name, rejudge);
        }
    }
    problems.append(&mut scanned.problems);

    // Assemble.
    let source_meta = source_meta(config, sources, &object_counts, &mut problems);
    // A rule can only be called stale after a complete scan of every target.
    let complete = options.targets.is_empty()
        && source_meta.iter().all(|s| s.commit.is_some())
        && scanned.targets.len() == config.targets.len()
        && !problems
            .iter()
            .any(|p| p.severity == Severity::Error && p.target.is_some() && p.file.is_none());
    let stale_ignore_rules = stale_rules(config, &registry, complete, &mut problems);
    let assembling = std::time::Instant::now();
    // Held for the assembly (the places of every target's findings are in it): a scan beside waits for this
    // one's assembly, not for its reads. Scans run off the async workers.
    let mut finding_memo = context
        .memo
        .as_ref()
        .map(|m| m.findings.lock().unwrap_or_else(|e| e.into_inner()));
    let (findings, compliance, waiver_problems) = crate::audit::findings::assemble(
        scanned.findings,
        &auditor.set,
        &scanned.rules_run,
        &scanned.resources,
        &waivers,
        Utc::now().date_naive(),
        complete,
        finding_memo.as_deref_mut(),
    );
    drop(finding_memo);
    tracing::debug!(
        message = "findings assembled",
        findings = findings.len(),
        elapsed_ms = assembling.elapsed().as_millis() as u64,
    );
    problems.extend(waiver_problems);
    problems.sort_by(|a, b| {
        (a.severity, &a.source, &a.target, &a.file, a.line)
            .cmp(&(b.severity, &b.source, &b.target, &b.file, b.line))
    });
    let mut resources = scanned.resources;
    let commits: std::collections::BTreeMap<&str, &str> = source_meta
        .iter()
        .filter_map(|s| Some((s.name.as_str(), s.commit.as_deref()?)))
        .collect();
    for (target, range) in scanned.ranges {
        let mut memo = context.memo.as_ref().map(|m| m.take(&target));
        crate::remediate::lines::locate(
            config,
            &options.cache_dir,
            &commits,
            &mut resources[range],
            memo.as_mut().map(|m| &mut m.lines),
        );
        if let (Some(memos), Some(memo)) = (&context.memo, memo) {
            memos.put(&target, memo);
        }
    }
    let coverage = crate::report::Coverage::of(&resources);
    let mut summary = Summary::of(&resources, &problems);
    summary.unreadable = scanned.unreadable.len();
    tracing::info!(
        message = "scan finished",
        resources = summary.resources,
        drifted = summary.drifted,
        missing = summary.missing,
        unmanaged = summary.unmanaged,
        errors = summary.errors,
        elapsed_ms = clock.elapsed().as_millis() as u64,
    );
    ScanReport {
        schema: crate::report::SCHEMA.to_string(),
        scan: ScanMeta {
            started_at,
            finished_at: Utc::now(),
            gitdrift_version: env!("CARGO_PKG_VERSION").to_string(),
            config: config.path.display().to_string(),
            sources: source_meta,
            targets: scanned.targets,
        },
        summary,
        resources,
        problems,
        stale_ignore_rules,
        unreadable: scanned.unreadable,
        coverage,
        findings,
        compliance,
        trend: None,
        convergence: Vec::new(),
    }
}

/// What the targets of a scan yielded so far.
#[derive(Default)]
struct Scanned {
    targets: Vec<TargetMeta>,
    resources: Vec<Arc<ResourceReport>>,
    unreadable: Vec<UnreadableKind>,
    findings: Vec<Arc<Chunk>>,
    rules_run: BTreeSet<usize>,
    problems: Vec<Problem>,
    /// What Gatekeeper Constraints saw of the last target's live side (for its [`Rejudge`]).
    live_inventories: Option<Arc<crate::audit::gatekeeper::Inventories>>,
    /// Each target's share of `resources`.
    ranges: Vec<(String, std::ops::Range<usize>)>,
}

impl Scanned {
    /// Audits what git declares for a target, judges it against what runs, and audits what
    /// runs; returns what judged its Kubernetes objects.
    fn target(
        &mut self,
        (context, auditor, waivers): (&Context, &Auditor, &[Waiver]),
        target: &Target,
        (provider, live): (&LiveProvider, LiveRead),
        (declared, reads, unread): (Vec<Declared>, Vec<u64>, Vec<String>),
        registry: &ignore::Registry<'_>,
        mut memo: Option<&mut TargetMemo>,
    ) -> Arc<judge::Judge> {
        self.live_inventories = None;
        // With a source unread, its objects would all look unmanaged: say nothing rather than
        // something false.
        if !unread.is_empty() {
            self.problems.push(
                Problem::new(
                    Severity::Warning,
                    Code::JudgeUnmanagedNotReported,
                    format!(
                        "unmanaged objects are not reported: source {} could not be read",
                        unread.join(", ")
                    ),
                )
                .target(&target.name),
            );
        }
        self.targets.push(TargetMeta {
            name: target.name.clone(),
            provider: provider.kind().to_string(),
            location: provider.location(),
            observed_at: live.observed_at,
            objects: live.objects.len(),
            without_managed_fields: {
                let kube = live.objects.iter().filter(|o| !o.kind.starts_with("AWS::"));
                let (mut objects, mut without) = (0, 0);
                for object in kube {
                    objects += 1;
                    without += usize::from(!object.has_managed_fields());
                }
                (objects > 0).then_some(without)
            },
        });
        let rules = auditor.rules_for(&context.config, target);
        // Git's side is its sources' reads (a read's objects never change): the same reads are
        // the same subjects, and their results are taken whole.
        let whole = memo.as_deref_mut().and_then(|memo| {
            let mut print = crate::model::fingerprint::Fingerprint::new();
            print.number(reads.len() as u64);
            for &read in &reads {
                print.number(read);
            }
            memo.desired
                .subjects_are(print.number(declared.len() as u64).finish());
            auditor.taken_whole(
                (&target.name, provider.kind()),
                &rules,
                waivers,
                &mut memo.desired,
            )
        });
        match whole {
            Some(audited) => self.keep(audited, false),
            None => {
                let desired: Vec<Subject<'_>> = declared
                    .iter()
                    .map(|d| Subject {
                        object: &d.object,
                        side: Side::Desired,
                        source: Some(SourceOf::Declared(d)),
                        related: None,
                        print: None,
                    })
                    .collect();
                self.audit(
                    (auditor, waivers),
                    (&target.name, provider.kind()),
                    &rules,
                    desired,
                    memo.as_deref_mut().map(|m| &mut m.desired),
                );
            }
        }
        let clock = std::time::Instant::now();
        let mut judged = judge::target(
            &context.config,
            &target.name,
            (declared, reads),
            live,
            unread.is_empty(),
            registry,
            memo.as_deref_mut().map(|m| &mut m.judged),
        );
        let first = self.resources.len();
        self.resources.append(&mut judged.resources);
        self.ranges
            .push((target.name.clone(), first..self.resources.len()));
        self.unreadable.append(&mut judged.unreadable);
        tracing::debug!(
            message = "target judged",
            target = %target.name,
            resources = self.resources.len() - first,
            elapsed_ms = clock.elapsed().as_millis() as u64,
        );
        // The target's judgements, shared: its live subjects borrow their sources.
        let reports = self.resources[first..].to_vec();
        let live = live_subjects(
            (&judged.live.objects, &judged.live_prints),
            &reports,
            (auditor, &rules),
        );
        self.audit(
            (auditor, waivers),
            (&target.name, provider.kind()),
            &rules,
            live,
            memo.map(|m| &mut m.live),
        );
        self.problems.append(&mut judged.live.problems);
        self.problems.append(&mut judged.problems);
        judged.judge
    }

    /// Runs the rules on one side's subjects (dropped once judged) and keeps what they found.
    fn audit(
        &mut self,
        (auditor, waivers): (&Auditor, &[Waiver]),
        (target, provider): (&str, &str),
        rules: &[usize],
        subjects: Vec<Subject<'_>>,
        memo: Option<&mut AuditMemo>,
    ) {
        let clock = std::time::Instant::now();
        let audited = auditor.evaluate(target, provider, rules, &subjects, (waivers, None), memo);
        tracing::debug!(
            message = "rules evaluated",
            target = %target,
            side = subjects.first().map_or("", |s| s.side.as_str()),
            subjects = subjects.len(),
            shared = audited.shared,
            elapsed_ms = clock.elapsed().as_millis() as u64,
        );
        let live = subjects.first().is_some_and(|s| s.side == Side::Live);
        drop(subjects);
        self.keep(audited, live);
    }

    /// Keeps what one side's rules found (`live`: the live side's, whose inventories a watched
    /// target's [`Rejudge`] needs).
    fn keep(&mut self, audited: crate::audit::run::Evaluated, live: bool) {
        self.findings.extend(audited.findings);
        self.problems.extend(audited.problems);
        self.rules_run.extend(audited.applied);
        if live {
            self.live_inventories = audited.inventories;
        }
    }
}

/// Problems with what the scan was asked for: targets that do not exist, sources scanned at an
/// earlier revision.
fn selection_problems(
    config: &Config,
    options: &ScanOptions,
    sources: &[SourceRead],
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for name in &options.targets {
        if config.target(name).is_none() {
            problems.push(Problem::new(
                Severity::Error,
                Code::ConfigUnknownTarget,
                format!("no target named `{name}` in the configuration"),
            ));
        }
    }
    for read in sources {
        if let Some(reason) = &read.stale {
            problems.push(
                Problem::new(
                    Severity::Warning,
                    Code::SourceStale,
                    format!(
                        "source is stale: {reason}; scanned at the last good revision {}",
                        read.commit.as_deref().unwrap_or("(none)")
                    ),
                )
                .source(&read.source),
            );
        }
    }
    problems
}

/// Reads every target's live state, at most `concurrency` at once; `prepared` reads (watch
/// caches) are used as they are.
async fn read_lives(
    context: &Context,
    targets: &[Target],
    sources: &[SourceRead],
    mut prepared: HashMap<String, LiveRead>,
) -> Vec<(LiveProvider, LiveRead)> {
    let config = &context.config;
    let permits = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
    let mut tasks = Vec::new();
    for target in targets {
        let provider = LiveProvider::for_target(target, &context.recorder);
        let ready = prepared.remove(&target.name);
        // What to read, unless a watch holds it already.
        let request = match ready {
            None => live_request(config, &target.name, sources),
            Some(_) => LiveRequest::default(),
        };
        let name = target.name.clone();
        let limits = config.limits.clone();
        let permits = Arc::clone(&permits);
        let task_provider = provider.clone();
        let deadline = target.schedule.scan_timeout(config.serve.interval);
        tasks.push((
            provider,
            tokio::spawn(async move {
                if let Some(read) = ready {
                    return read;
                }
                let _permit = permits.acquire_owned().await;
                let started = std::time::Instant::now();
                let read = match tokio::time::timeout(
                    deadline,
                    task_provider.read(&name, &request, &limits),
                )
                .await
                {
                    Ok(read) => read,
                    Err(_) => LiveRead::failed(
                        Problem::new(
                            Severity::Error,
                            Code::ScanTimeout,
                            format!(
                                "live read abandoned after {} (targets[].scan_timeout); nothing is judged missing",
                                crate::config::humanize(deadline)
                            ),
                        )
                        .target(&name),
                    ),
                };
                tracing::info!(
                    message = "live state read",
                    target = %name,
                    objects = read.objects.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                );
                read
            }),
        ));
    }
    let mut lives = Vec::new();
    for ((provider, task), target) in tasks.into_iter().zip(targets) {
        let read = task.await.unwrap_or_else(|err| {
            LiveRead::failed(
                Problem::new(
                    Severity::Error,
                    Code::ScanInternal,
                    format!("reading live state failed: {err}"),
                )
                .target(&target.name),
            )
        });
        lives.push((provider, read));
    }
    lives
}

/// Takes the declared objects of a target's sources out of their reads, with the reads' numbers
/// and the names of the sources that could not be read.
fn take_declared(
    config: &Config,
    target: &str,
    sources: &mut [SourceRead],
) -> (Vec<Declared>, Vec<u64>, Vec<String>) {
    let mut declared = Vec::new();
    let mut reads = Vec::new();
    let mut unread = Vec::new();
    for read in sources.iter_mut().filter(|s| {
        config
            .sources
            .iter()
            .any(|c| c.name == s.source && c.target == target)
    }) {
        if read.commit.is_none() {
            unread.push(read.source.clone());
        }
        reads.push(read.read);
        if declared.is_empty() {
            // The first source's objects are taken as they are, not copied into a new list.
            declared = std::mem::take(&mut read.objects);
        } else {
            declared.append(&mut read.objects);
        }
    }
    (declared, reads, unread)
}

/// What each source was read at; their problems join the scan's.
fn source_meta(
    config: &Config,
    sources: Vec<SourceRead>,
    object_counts: &HashMap<String, usize>,
    problems: &mut Vec<Problem>,
) -> Vec<SourceMeta> {
    let mut out = Vec::new();
    for read in sources {
        let Some(source) = config.sources.iter().find(|s| s.name == read.source) else {
            continue;
        };
        out.push(SourceMeta {
            name: source.name.clone(),
            repo: source.repo.to_string(),
            git_ref: source.git_ref.clone(),
            commit: read.commit,
            committed_at: read.committed_at,
            target: source.target.clone(),
            files: read.files,
            objects: object_counts.get(&read.source).copied().unwrap_or(0),
            stale: read.stale.is_some(),
        });
        problems.extend(read.problems);
    }
    out
}

/// Ignore rules that matched nothing, after a complete scan (each also a warning).
fn stale_rules(
    config: &Config,
    registry: &ignore::Registry<'_>,
    complete: bool,
    problems: &mut Vec<Problem>,
) -> Vec<StaleRule> {
    if !complete {
        return Vec::new();
    }
    let rules: Vec<StaleRule> = registry
        .stale()
        .map(|rule| StaleRule {
            file: config.path.display().to_string(),
            line: rule.line,
            rule: rule.describe(),
        })
        .collect();
    for rule in &rules {
        problems.push(
            Problem::new(
                Severity::Warning,
                Code::JudgeStaleIgnoreRule,
                format!("ignore rule matched nothing: {}", rule.rule),
            )
            .at(&rule.file, Some(rule.line)),
        );
    }
    rules
}

/// The live resources of a target as audit subjects: each with the source that declares it
/// (from its judgement) and, for AWS resources, what rules need beside it (each type's file in
/// `live::aws::types` says what: a VPC's flow logs, an instance's subnet). Only subjects some of
/// the target's `rules` judge get their source: the others are not evaluated.
fn live_subjects<'a>(
    (objects, prints): (&'a [Object], &[u128]),
    judged: &'a [Arc<ResourceReport>],
    (auditor, rules): (&Auditor, &[usize]),
) -> Vec<Subject<'a>> {
    // Whether a rule judges each object, found once per kind, and the kinds judged.
    let mut ruled = Vec::with_capacity(objects.len());
    let mut kinds: HashSet<&str, foldhash::fast::RandomState> = HashSet::default();
    let mut known: HashMap<(&str, &str), bool, foldhash::fast::RandomState> = HashMap::default();
    for object in objects {
        let judged = *known
            .entry((&object.group, &object.kind))
            .or_insert_with(|| {
                let judged = auditor.judges(rules, Side::Live, &object.group, &object.kind);
                if judged {
                    kinds.insert(&object.kind);
                }
                judged
            });
        ruled.push(judged);
    }
    let mut sources: HashMap<(&str, Option<&str>, &str), &SourceRef, foldhash::fast::RandomState> =
        HashMap::default();
    sources.extend(judged.iter().filter_map(|r| {
        let source = r
            .source
            .as_ref()
            .filter(|_| kinds.contains(r.kind.as_str()))?;
        Some((
            (r.kind.as_str(), r.namespace.as_deref(), r.name.as_str()),
            source,
        ))
    }));
    let estate = Estate::new(objects);
    objects
        .iter()
        .zip(ruled)
        .enumerate()
        .map(|(i, (object, ruled))| {
            let related = Some(object)
                .filter(|o| crate::model::aws::is_aws(&o.group))
                .and_then(|o| crate::live::aws::types::named(&o.kind))
                .and_then(|t| t.related(object, &estate));
            let source = ruled
                .then(|| {
                    sources.get(&(
                        object.kind.as_str(),
                        object.namespace.as_deref(),
                        object.name.as_str(),
                    ))
                })
                .flatten();
            Subject {
                object,
                side: Side::Live,
                source: source.map(|s| SourceOf::Ref(std::borrow::Cow::Borrowed(*s))),
                related,
                print: prints.get(i).copied(),
            }
        })
        .collect()
}

/// Reads every source that declares one of the `wanted` targets, at most as many at once as
/// `permits` allow. A source whose reading task fails is recorded as unread.
pub async fn read_sources(
    config: &Arc<Config>,
    wanted: &HashSet<&str>,
    cache_dir: &std::path::Path,
    permits: &Arc<tokio::sync::Semaphore>,
) -> Vec<SourceRead> {
    let mut source_tasks = Vec::new();
    for source in config
        .sources
        .iter()
        .filter(|s| wanted.contains(s.target.as_str()))
    {
        let config = Arc::clone(config);
        let source = source.clone();
        let cache_dir = cache_dir.to_path_buf();
        let permits = Arc::clone(permits);
        source_tasks.push((
            source.name.clone(),
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                tokio::task::spawn_blocking(move || {
                    let started = std::time::Instant::now();
                    let read = desired::read_source(&config, &source, &cache_dir);
                    tracing::info!(
                        message = "source read",
                        source = %source.name,
                        objects = read.objects.len(),
                        files = read.files,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                    );
                    read
                })
                .await
            }),
        ));
    }
    let mut sources: Vec<SourceRead> = Vec::new();
    for (name, task) in source_tasks {
        match task.await {
            Ok(Ok(read)) => sources.push(read),
            // Recorded as unread, so that nothing is called unmanaged on its account.
            Ok(Err(err)) | Err(err) => sources.push(SourceRead {
                source: name.clone(),
                commit: None,
                committed_at: None,
                files: 0,
                objects: Vec::new(),
                waivers: Vec::new(),
                stale: None,
                read: crate::desired::next_read(),
                problems: vec![
                    Problem::new(
                        Severity::Error,
                        Code::ScanInternal,
                        format!("reading the source failed: {err}"),
                    )
                    .source(&name),
                ],
            }),
        }
    }
    sources
}

/// What a target's live read must cover: the kinds its sources declare and the namespaces they
/// declare objects in (an object's own, or its source's default).
pub fn live_request(config: &Config, target: &str, sources: &[SourceRead]) -> LiveRequest {
    let declared = sources
        .iter()
        .filter(|read| {
            config
                .sources
                .iter()
                .any(|s| s.name == read.source && s.target == target)
        })
        .flat_map(|read| &read.objects);
    LiveRequest::for_declared(config, declared)
}
