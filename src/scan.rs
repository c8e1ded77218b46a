//! One scan: read every source and target, match declared with live objects by identity, judge
//! each pair, find the unmanaged, and assemble the [`ScanReport`]. Orchestration only: the
//! judgement is `diff`'s, the reading `desired`'s and `live`'s.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use rayon::prelude::*;
use serde_json::Value;

use crate::audit::Side;
use crate::audit::run::{Auditor, Subject};
use crate::config::{Config, Target};
use crate::desired::{self, SourceRead};
use crate::diff::{self, Status, ignore, unmanaged::SystemContext};
use crate::live::{LiveProvider, LiveRead, LiveRequest};
use crate::model::{
    CLUSTER_SCOPED_KINDS, Declared, GroupKind, Object, Problem, ResourceKey, Severity,
};
use crate::report::{
    ResourceReport, ScanMeta, ScanReport, SourceMeta, SourceRef, StaleRule, Summary, TargetMeta,
    UnreadableKind,
};

/// Choices for one scan that are not configuration.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Where remote repositories are cached.
    pub cache_dir: PathBuf,
    /// Scan only these targets (all when empty).
    pub targets: Vec<String>,
}

/// Runs one scan of the configured (or selected) targets.
pub async fn run(config: Arc<Config>, options: &ScanOptions) -> ScanReport {
    let started_at = Utc::now();
    let wanted: HashSet<&str> = config
        .targets
        .iter()
        .filter(|t| options.targets.is_empty() || options.targets.contains(&t.name))
        .map(|t| t.name.as_str())
        .collect();
    // Sources first (git work on blocking threads), then each target reads what its sources
    // declare; at most `concurrency` of each at a time.
    let permits = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
    let sources = read_sources(&config, &wanted, &options.cache_dir, &permits).await;
    run_with(
        Arc::clone(&config),
        options,
        sources,
        HashMap::new(),
        started_at,
    )
    .await
}

/// Runs one scan on sources already read (`serve` keeps the last good read of each), and with
/// the live state of some targets already at hand (`prepared`: watch mode's cache); the other
/// targets are read now.
pub async fn run_with(
    config: Arc<Config>,
    options: &ScanOptions,
    mut sources: Vec<SourceRead>,
    mut prepared: HashMap<String, LiveRead>,
    started_at: chrono::DateTime<Utc>,
) -> ScanReport {
    let clock = std::time::Instant::now();
    let mut problems = Vec::new();
    for name in &options.targets {
        if config.target(name).is_none() {
            problems.push(Problem::new(
                Severity::Error,
                format!("no target named `{name}` in the configuration"),
            ));
        }
    }
    let targets: Vec<Target> = config
        .targets
        .iter()
        .filter(|t| options.targets.is_empty() || options.targets.contains(&t.name))
        .cloned()
        .collect();
    let permits = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
    for read in &sources {
        if let Some(reason) = &read.stale {
            problems.push(
                Problem::new(
                    Severity::Warning,
                    format!(
                        "source is stale: {reason}; scanned at the last good revision {}",
                        read.commit.as_deref().unwrap_or("(none)")
                    ),
                )
                .source(&read.source),
            );
        }
    }

    let mut live_tasks = Vec::new();
    for target in &targets {
        let provider = LiveProvider::for_target(target);
        let request = live_request(&config, &target.name, &sources);
        let name = target.name.clone();
        let limits = config.limits.clone();
        let permits = Arc::clone(&permits);
        let task_provider = provider.clone();
        let ready = prepared.remove(&target.name);
        live_tasks.push((
            provider,
            tokio::spawn(async move {
                if let Some(read) = ready {
                    return read;
                }
                let _permit = permits.acquire_owned().await;
                let started = std::time::Instant::now();
                let read = task_provider.read(&name, &request, &limits).await;
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
    let mut lives: Vec<(LiveProvider, LiveRead)> = Vec::new();
    for ((provider, task), target) in live_tasks.into_iter().zip(&targets) {
        match task.await {
            Ok(read) => lives.push((provider, read)),
            Err(err) => lives.push((
                provider,
                LiveRead {
                    problems: vec![
                        Problem::new(Severity::Error, format!("reading live state failed: {err}"))
                            .target(&target.name),
                    ],
                    complete: false,
                    ..LiveRead::empty()
                },
            )),
        }
    }

    let registry = ignore::Registry::new(&config.drift.ignore);
    // Waivers: the configuration's, and those in the sources' own waiver files.
    let mut waivers = config.audit.waivers.clone();
    for read in &mut sources {
        waivers.append(&mut read.waivers);
    }
    let (auditor, audit_problems) = Auditor::load(&config);
    problems.extend(audit_problems);
    let mut raw_findings = Vec::new();
    let mut rules_run = BTreeSet::new();
    let mut resources = Vec::new();
    let mut target_meta = Vec::new();
    let mut unreadable = Vec::new();
    let object_counts: HashMap<String, usize> = sources
        .iter()
        .map(|s| (s.source.clone(), s.objects.len()))
        .collect();
    for (target, (provider, live)) in targets.iter().zip(lives) {
        let mut declared = Vec::new();
        let mut unread = Vec::new();
        for read in sources.iter_mut().filter(|s| {
            config
                .sources
                .iter()
                .any(|c| c.name == s.source && c.target == target.name)
        }) {
            if read.commit.is_none() {
                unread.push(read.source.clone());
            }
            declared.append(&mut read.objects);
        }
        // With a source unread, its objects would all look unmanaged: say nothing rather than
        // something false.
        if !unread.is_empty() {
            problems.push(
                Problem::new(
                    Severity::Warning,
                    format!(
                        "unmanaged objects are not reported: source {} could not be read",
                        unread.join(", ")
                    ),
                )
                .target(&target.name),
            );
        }
        target_meta.push(TargetMeta {
            name: target.name.clone(),
            provider: provider.kind().to_string(),
            location: provider.location(),
            observed_at: live.observed_at,
            objects: live.objects.len(),
        });
        // Compliance rules on what git declares.
        let rules = auditor.rules_for(&config, target);
        let desired_subjects: Vec<Subject<'_>> = declared
            .iter()
            .map(|d| Subject {
                object: &d.object,
                side: Side::Desired,
                source: Some(SourceRef {
                    name: d.source.clone(),
                    file: d.object.origin.file.clone(),
                    line: d.object.origin.line,
                    rendered: d.object.origin.rendered.clone(),
                }),
                related: None,
            })
            .collect();
        let audited = auditor.evaluate(&target.name, provider.kind(), &rules, &desired_subjects);
        drop(desired_subjects);
        raw_findings.extend(audited.findings);
        problems.extend(audited.problems);
        rules_run.extend(audited.applied);
        // AWS resources are judged apart: matched by id or tags, compared as the EC2 API
        // describes them.
        let (aws_declared, declared): (Vec<Declared>, Vec<Declared>) = declared
            .into_iter()
            .partition(|d| crate::aws::is_aws(&d.object.group));
        let mut live = live;
        let aws_live: Vec<Object> = {
            let (aws, rest): (Vec<Object>, Vec<Object>) = std::mem::take(&mut live.objects)
                .into_iter()
                .partition(|o| crate::aws::is_aws(&o.group));
            live.objects = rest;
            aws
        };
        let judge = Judge::new(
            Arc::clone(&config),
            &target.name,
            declared,
            &live,
            unread.is_empty(),
        );
        for kind in &live.unreadable {
            problems.push(
                Problem::new(
                    Severity::Error,
                    format!(
                        "{} is unreadable: {}: {}",
                        crate::live::kube::kind_label(&kind.gk),
                        kind.reason,
                        kind.message
                    ),
                )
                .target(&target.name),
            );
            unreadable.push(UnreadableKind {
                target: target.name.clone(),
                group: kind.gk.group.clone(),
                kind: kind.gk.kind.clone(),
                reason: kind.reason.clone(),
                message: kind.message.clone(),
                declared: judge.declared_of(&kind.gk)
                    + aws_declared
                        .iter()
                        .filter(|d| {
                            d.object.kind == kind.gk.kind && kind.gk.group == crate::aws::GROUP
                        })
                        .count(),
            });
        }
        let judged = judge_target(&judge, &live, &registry);
        let first = resources.len();
        resources.extend(judged.resources);
        if !aws_declared.is_empty() || !aws_live.is_empty() {
            let aws = judge_aws(
                &config,
                &target.name,
                &aws_declared,
                &aws_live,
                &live,
                &registry,
                unread.is_empty(),
            );
            resources.extend(aws.resources);
            problems.extend(aws.problems);
        }
        // Compliance rules on what runs.
        let live_subjects = live_subjects(&live.objects, &aws_live, &resources[first..]);
        let audited = auditor.evaluate(&target.name, provider.kind(), &rules, &live_subjects);
        drop(live_subjects);
        raw_findings.extend(audited.findings);
        problems.extend(audited.problems);
        rules_run.extend(audited.applied);
        problems.extend(live.problems);
        problems.extend(judge.problems.iter().cloned());
        problems.extend(judged.problems);
    }

    let mut source_meta = Vec::new();
    for read in sources {
        let Some(source) = config.sources.iter().find(|s| s.name == read.source) else {
            continue;
        };
        source_meta.push(SourceMeta {
            name: source.name.clone(),
            repo: source.repo.to_string(),
            git_ref: source.git_ref.clone(),
            commit: read.commit,
            target: source.target.clone(),
            files: read.files,
            objects: object_counts.get(&read.source).copied().unwrap_or(0),
            stale: read.stale.is_some(),
        });
        problems.extend(read.problems);
    }
    // A rule can only be called stale after a complete scan of every target.
    let complete = options.targets.is_empty()
        && source_meta.iter().all(|s| s.commit.is_some())
        && target_meta.len() == config.targets.len()
        && !problems
            .iter()
            .any(|p| p.severity == Severity::Error && p.target.is_some() && p.file.is_none());
    let stale_ignore_rules: Vec<StaleRule> = if complete {
        registry
            .stale()
            .map(|rule| StaleRule {
                file: config.path.display().to_string(),
                line: rule.line,
                rule: rule.describe(),
            })
            .collect()
    } else {
        Vec::new()
    };
    for rule in &stale_ignore_rules {
        problems.push(
            Problem::new(
                Severity::Warning,
                format!("ignore rule matched nothing: {}", rule.rule),
            )
            .at(&rule.file, Some(rule.line)),
        );
    }
    let (findings, compliance, waiver_problems) = crate::audit::findings::assemble(
        raw_findings,
        &auditor.set,
        &rules_run,
        &resources,
        &waivers,
        Utc::now().date_naive(),
        complete,
    );
    problems.extend(waiver_problems);
    problems.sort_by(|a, b| {
        (a.severity, &a.source, &a.target, &a.file, a.line)
            .cmp(&(b.severity, &b.source, &b.target, &b.file, b.line))
    });
    let coverage = crate::report::Coverage::of(&resources);
    let mut summary = Summary::of(&resources, &problems);
    summary.unreadable = unreadable.len();
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
            targets: target_meta,
        },
        summary,
        resources,
        problems,
        stale_ignore_rules,
        unreadable,
        coverage,
        findings,
        compliance,
        trend: None,
    }
}

/// The live resources of a target as audit subjects: each with the source that declares it
/// (from its judgement) and, for AWS resources, what rules need beside it (a VPC's flow logs, an
/// instance's subnet).
fn live_subjects<'a>(
    objects: &'a [Object],
    aws: &'a [Object],
    judged: &[ResourceReport],
) -> Vec<Subject<'a>> {
    let sources: HashMap<(&str, Option<&str>, &str), &SourceRef> = judged
        .iter()
        .filter_map(|r| {
            Some((
                (r.kind.as_str(), r.namespace.as_deref(), r.name.as_str()),
                r.source.as_ref()?,
            ))
        })
        .collect();
    let mut flow_logs: HashMap<(String, String), Vec<Value>> = HashMap::new();
    let mut subnets: HashMap<(&str, &str), &Object> = HashMap::new();
    for o in aws {
        let region = o.namespace.as_deref().unwrap_or_default();
        match o.kind.as_str() {
            "AWS::EC2::FlowLog" => {
                let value = o.value().into_owned();
                if let Some(resource) = value.get("ResourceId").and_then(Value::as_str) {
                    flow_logs
                        .entry((region.to_string(), resource.to_string()))
                        .or_default()
                        .push(value);
                }
            }
            "AWS::EC2::Subnet" => {
                subnets.insert((region, o.name.as_str()), o);
            }
            _ => {}
        }
    }
    objects
        .iter()
        .chain(aws)
        .map(|object| {
            let region = object.namespace.as_deref().unwrap_or_default();
            let related = match object.kind.as_str() {
                "AWS::EC2::VPC" if crate::aws::is_aws(&object.group) => Some(serde_json::json!({
                    "flow_logs": flow_logs
                        .get(&(region.to_string(), object.name.clone()))
                        .cloned()
                        .unwrap_or_default()
                })),
                "AWS::EC2::Instance" if crate::aws::is_aws(&object.group) => {
                    let value = object.value();
                    value
                        .get("SubnetId")
                        .and_then(Value::as_str)
                        .and_then(|id| subnets.get(&(region, id)))
                        .map(|subnet| serde_json::json!({"subnet": subnet.value().into_owned()}))
                }
                _ => None,
            };
            Subject {
                object,
                side: Side::Live,
                source: sources
                    .get(&(
                        object.kind.as_str(),
                        object.namespace.as_deref(),
                        object.name.as_str(),
                    ))
                    .map(|s| (*s).clone()),
                related,
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
                files: 0,
                objects: Vec::new(),
                waivers: Vec::new(),
                stale: None,
                problems: vec![
                    Problem::new(Severity::Error, format!("reading the source failed: {err}"))
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
    let mut request = LiveRequest::default();
    for read in sources {
        let Some(source) = config
            .sources
            .iter()
            .find(|s| s.name == read.source && s.target == target)
        else {
            continue;
        };
        for item in &read.objects {
            let object = &item.object;
            request.kinds.insert(GroupKind {
                group: object.group.clone(),
                kind: object.kind.clone(),
            });
            request.namespaces.insert(
                object
                    .namespace
                    .clone()
                    .unwrap_or_else(|| source.namespace.clone()),
            );
        }
    }
    request
}

/// The judgement of one target.
pub struct TargetJudgement {
    /// Resources, ordered by identity.
    pub resources: Vec<ResourceReport>,
    /// Problems found while matching (duplicate live objects).
    pub problems: Vec<Problem>,
}

/// Everything needed to judge the objects of one target against what git declares, built once
/// per git revision: the declared objects indexed by identity, the scope of each kind, the
/// namespaces and cluster-scoped kinds in scope for unmanaged detection. A scan judges every
/// object with it once; watch mode keeps it and judges each object again as it changes.
pub struct Judge {
    config: Arc<Config>,
    target: String,
    declared: Vec<Declared>,
    index: HashMap<ResourceKey, usize>,
    order: Vec<ResourceKey>,
    scopes: Scopes,
    declared_namespaces: HashSet<String>,
    declared_cluster_kinds: HashSet<GroupKind>,
    unserved: BTreeSet<GroupKind>,
    unreadable: BTreeSet<GroupKind>,
    find_unmanaged: bool,
    /// Problems found while indexing (objects declared twice).
    pub problems: Vec<Problem>,
}

impl Judge {
    /// Indexes a target's declared objects. `live` lends scope evidence (discovery, or the
    /// objects themselves) and the kinds it could not serve or read; `find_unmanaged` is false
    /// when a source could not be read.
    pub fn new(
        config: Arc<Config>,
        target: &str,
        declared: Vec<Declared>,
        live: &LiveRead,
        find_unmanaged: bool,
    ) -> Judge {
        let scopes = Scopes::new(&declared, &live.objects, &live.scopes);
        let mut problems = Vec::new();
        let mut index: HashMap<ResourceKey, usize> = HashMap::with_capacity(declared.len());
        let mut order = Vec::with_capacity(declared.len());
        for (i, item) in declared.iter().enumerate() {
            let default_ns = config
                .sources
                .iter()
                .find(|s| s.name == item.source)
                .map(|s| s.namespace.as_str());
            let key = item
                .object
                .key_with_namespace(scopes.namespace_of(&item.object, default_ns));
            if let Some(&first) = index.get(&key) {
                let first: &Declared = &declared[first];
                problems.push(
                    Problem::new(
                        Severity::Error,
                        format!(
                            "{key} is declared twice (first in {} of source {}); the first is used",
                            first.object.origin, first.source
                        ),
                    )
                    .source(&item.source)
                    .at(&item.object.origin.file, item.object.origin.line),
                );
                continue;
            }
            index.insert(key.clone(), i);
            order.push(key);
        }
        let declared_namespaces = order.iter().filter_map(|k| k.namespace.clone()).collect();
        let declared_cluster_kinds = order
            .iter()
            .filter(|k| k.namespace.is_none())
            .map(ResourceKey::group_kind)
            .collect();
        Judge {
            config,
            target: target.to_string(),
            declared,
            index,
            order,
            scopes,
            declared_namespaces,
            declared_cluster_kinds,
            unserved: live.unserved.clone(),
            unreadable: live.unreadable.iter().map(|u| u.gk.clone()).collect(),
            find_unmanaged,
            problems,
        }
    }

    /// Declared identities, in declaration order.
    pub fn declared_keys(&self) -> &[ResourceKey] {
        &self.order
    }

    /// Whether git declares this identity.
    pub fn declares(&self, key: &ResourceKey) -> bool {
        self.index.contains_key(key)
    }

    /// How many declared objects are of a kind.
    pub fn declared_of(&self, gk: &GroupKind) -> usize {
        self.order
            .iter()
            .filter(|k| k.group == gk.group && k.kind == gk.kind)
            .count()
    }

    /// The identity a live object has in this target.
    pub fn live_key(&self, object: &Object) -> ResourceKey {
        object.key_with_namespace(self.scopes.namespace_of(object, None))
    }

    /// Judges a declared object against its live counterpart (`None`: not live). `None` when its
    /// kind could not be read: nothing can be said.
    pub fn judge_declared(
        &self,
        key: &ResourceKey,
        live: Option<&Object>,
        registry: &ignore::Registry<'_>,
    ) -> Option<ResourceReport> {
        let item = &self.declared[*self.index.get(key)?];
        let gk = key.group_kind();
        if self.unreadable.contains(&gk) {
            return None;
        }
        let object = &item.object;
        let mut reason = None;
        let (status, drifts) = match live {
            Some(live_object) => {
                let desired_value = object.value();
                let live_value = live_object.value();
                let drifts = diff::compare(
                    &key.group,
                    &key.kind,
                    &desired_value,
                    &live_value,
                    &self.config.drift,
                );
                let drifts = registry.apply(&self.target, key, &desired_value, &live_value, drifts);
                let status = if drifts.is_empty() {
                    Status::InSync
                } else {
                    Status::Drifted
                };
                (status, drifts)
            }
            None => {
                if self.unserved.contains(&gk) {
                    reason = Some("kind not served by the cluster".to_string());
                }
                (Status::Missing, Vec::new())
            }
        };
        let last = drifts
            .iter()
            .filter(|d| d.changed_by.is_some())
            .max_by(|a, b| a.changed_at.cmp(&b.changed_at));
        Some(ResourceReport {
            target: self.target.clone(),
            api_version: object.api_version.clone(),
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            status,
            source: Some(SourceRef {
                name: item.source.clone(),
                file: object.origin.file.clone(),
                line: object.origin.line,
                rendered: object.origin.rendered.clone(),
            }),
            reason,
            last_changed_by: last.and_then(|d| d.changed_by.clone()),
            last_changed_at: last.and_then(|d| d.changed_at.clone()),
            drifts,
        })
    }

    /// Judges a live object git does not declare: unmanaged when it is in scope (a namespace git
    /// declares objects in, or a cluster-scoped kind git declares), not generated, not excluded.
    pub fn judge_unmanaged(
        &self,
        key: &ResourceKey,
        object: &Object,
        system: &SystemContext,
    ) -> Option<ResourceReport> {
        if !self.find_unmanaged || self.declares(key) {
            return None;
        }
        let in_scope = match &key.namespace {
            Some(ns) => self.declared_namespaces.contains(ns),
            None => self.declared_cluster_kinds.contains(&key.group_kind()),
        };
        if !in_scope
            || system.is_generated(object)
            || self
                .config
                .drift
                .unmanaged_exclude
                .iter()
                .any(|s| s.matches(&self.target, key))
        {
            return None;
        }
        Some(ResourceReport {
            target: self.target.clone(),
            api_version: object.api_version.clone(),
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            status: Status::Unmanaged,
            source: None,
            reason: None,
            drifts: Vec::new(),
            last_changed_by: None,
            last_changed_at: None,
        })
    }
}

/// Judges the AWS resources of a target: each declaration is matched with a live resource by id
/// or by tags (exactly one), compared as the EC2 API describes it; declarations that match
/// nothing are missing; live resources nothing declares are unmanaged, except AWS's own defaults.
pub fn judge_aws(
    config: &Config,
    target: &str,
    declared: &[Declared],
    live: &[Object],
    read: &LiveRead,
    registry: &ignore::Registry<'_>,
    find_unmanaged: bool,
) -> TargetJudgement {
    use crate::diff::aws::{Declaration, compare, is_aws_default, tags};

    let mut out = TargetJudgement {
        resources: Vec::new(),
        problems: Vec::new(),
    };
    if !read.complete {
        return out;
    }
    let unreadable: HashSet<&str> = read
        .unreadable
        .iter()
        .filter(|u| u.gk.group == crate::aws::GROUP)
        .map(|u| u.gk.kind.as_str())
        .collect();
    let key = |o: &Object| {
        (
            o.kind.clone(),
            o.namespace.clone().unwrap_or_default(),
            o.name.clone(),
        )
    };
    let by_id: HashMap<(String, String, String), &Object> =
        live.iter().map(|o| (key(o), o)).collect();
    let mut default_vpcs: HashMap<String, BTreeSet<String>> = HashMap::new();
    for o in live.iter().filter(|o| o.kind == "AWS::EC2::VPC") {
        if o.value().get("IsDefault").and_then(Value::as_bool) == Some(true) {
            default_vpcs
                .entry(o.namespace.clone().unwrap_or_default())
                .or_default()
                .insert(o.name.clone());
        }
    }
    // Live resources with their tags, by type and region, for declarations matched by tags.
    type Tagged<'a> = Vec<(&'a Object, BTreeMap<String, String>)>;
    let mut tagged: HashMap<(&str, &str), Tagged> = HashMap::new();
    for o in live {
        tagged
            .entry((o.kind.as_str(), o.namespace.as_deref().unwrap_or_default()))
            .or_default()
            .push((o, tags(&o.value())));
    }
    let mut matched: HashMap<(String, String, String), String> = HashMap::new();
    for item in declared {
        let object = &item.object;
        if unreadable.contains(object.kind.as_str()) {
            continue;
        }
        let region = object.namespace.clone().unwrap_or_default();
        let body = object.value();
        let declaration = Declaration::from_value(&body);
        let at = |problem: Problem| {
            problem
                .source(&item.source)
                .at(&object.origin.file, object.origin.line)
        };
        if !read
            .aws_read
            .contains(&(region.clone(), object.kind.clone()))
        {
            // Not read is not missing: the target does not look there.
            out.problems.push(at(Problem::new(
                Severity::Warning,
                format!(
                    "{} {} is not judged: target {target} does not read {} in {region}",
                    object.kind, object.name, object.kind
                ),
            )
            .target(target)));
            continue;
        }
        let found: Option<&Object> = match &declaration.id {
            Some(id) => by_id
                .get(&(object.kind.clone(), region.clone(), id.clone()))
                .copied(),
            None => {
                let candidates: Vec<&Object> = tagged
                    .get(&(object.kind.as_str(), region.as_str()))
                    .into_iter()
                    .flatten()
                    .filter(|(_, have)| {
                        declaration
                            .match_tags
                            .iter()
                            .all(|(k, v)| have.get(k) == Some(v))
                    })
                    .map(|(o, _)| *o)
                    .collect();
                if candidates.len() > 1 {
                    let ids: Vec<&str> = candidates.iter().map(|o| o.name.as_str()).collect();
                    out.problems.push(at(Problem::new(
                        Severity::Error,
                        format!(
                            "{} {}: its tags match {} resources ({}); add tags or an id",
                            object.kind,
                            object.name,
                            ids.len(),
                            ids.join(", ")
                        ),
                    )));
                    continue;
                }
                candidates.into_iter().next()
            }
        };
        let source = Some(SourceRef {
            name: item.source.clone(),
            file: object.origin.file.clone(),
            line: object.origin.line,
            rendered: None,
        });
        let Some(found) = found else {
            let reason = (declaration.id.is_none()).then(|| {
                let tags: Vec<String> = declaration
                    .match_tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                format!("no resource has the tags {}", tags.join(", "))
            });
            out.resources.push(ResourceReport {
                target: target.to_string(),
                api_version: crate::aws::API_VERSION.to_string(),
                kind: object.kind.clone(),
                namespace: Some(region),
                name: object.name.clone(),
                status: Status::Missing,
                source,
                reason,
                drifts: Vec::new(),
                last_changed_by: None,
                last_changed_at: None,
            });
            continue;
        };
        let live_key = key(found);
        if let Some(first) = matched.insert(live_key.clone(), object.origin.to_string()) {
            out.problems.push(at(Problem::new(
                Severity::Error,
                format!(
                    "{} {} is declared twice (first in {first}); the first is used",
                    found.kind, found.name
                ),
            )));
            continue;
        }
        let live_value = crate::diff::aws::normalize(&found.value());
        let drifts = compare(&declaration, &live_value);
        let resource_key = ResourceKey {
            group: crate::aws::GROUP.to_string(),
            kind: found.kind.clone(),
            namespace: found.namespace.clone(),
            name: found.name.clone(),
        };
        let drifts = registry.apply(
            target,
            &resource_key,
            &crate::diff::aws::normalize(&declaration.properties),
            &live_value,
            drifts,
        );
        out.resources.push(ResourceReport {
            target: target.to_string(),
            api_version: crate::aws::API_VERSION.to_string(),
            kind: found.kind.clone(),
            namespace: found.namespace.clone(),
            name: found.name.clone(),
            status: if drifts.is_empty() {
                Status::InSync
            } else {
                Status::Drifted
            },
            source,
            reason: None,
            drifts,
            last_changed_by: None,
            last_changed_at: None,
        });
    }
    if find_unmanaged {
        let no_defaults = BTreeSet::new();
        for object in live {
            let live_key = key(object);
            let region = object.namespace.clone().unwrap_or_default();
            let defaults = default_vpcs.get(&region).unwrap_or(&no_defaults);
            let resource_key = ResourceKey {
                group: crate::aws::GROUP.to_string(),
                kind: object.kind.clone(),
                namespace: object.namespace.clone(),
                name: object.name.clone(),
            };
            if matched.contains_key(&live_key)
                || is_aws_default(&object.kind, &object.value(), defaults)
                || config
                    .drift
                    .unmanaged_exclude
                    .iter()
                    .any(|s| s.matches(target, &resource_key))
            {
                continue;
            }
            out.resources.push(ResourceReport {
                target: target.to_string(),
                api_version: crate::aws::API_VERSION.to_string(),
                kind: object.kind.clone(),
                namespace: object.namespace.clone(),
                name: object.name.clone(),
                status: Status::Unmanaged,
                source: None,
                reason: None,
                drifts: Vec::new(),
                last_changed_by: None,
                last_changed_at: None,
            });
        }
    }
    sort_resources(&mut out.resources);
    out
}

/// Orders resources by identity (kind, namespace, name).
pub fn sort_resources(resources: &mut [ResourceReport]) {
    resources.sort_by(|a, b| {
        (&a.kind, &a.namespace, &a.name, &a.api_version).cmp(&(
            &b.kind,
            &b.namespace,
            &b.name,
            &b.api_version,
        ))
    });
}

/// Matches declared with live objects of one target and judges every pair, in parallel, then
/// looks for unmanaged objects.
pub fn judge_target(
    judge: &Judge,
    live: &LiveRead,
    registry: &ignore::Registry<'_>,
) -> TargetJudgement {
    let mut problems = Vec::new();
    let mut live_index: HashMap<ResourceKey, &Object> = HashMap::with_capacity(live.objects.len());
    for object in &live.objects {
        let key = judge.live_key(object);
        if let Some(first) = live_index.get(&key) {
            problems.push(
                Problem::new(
                    Severity::Warning,
                    format!(
                        "{key} appears twice in the live state (first in {}); the first is used",
                        first.origin
                    ),
                )
                .target(&judge.target)
                .at(&object.origin.file, object.origin.line),
            );
            continue;
        }
        live_index.insert(key, object);
    }
    if !live.complete {
        // Without a live state nothing can be called missing or unmanaged; the error says why.
        return TargetJudgement {
            resources: Vec::new(),
            problems,
        };
    }
    // Each pair is judged on its own, in parallel: parse both, compare, filter, drop.
    let mut resources: Vec<ResourceReport> = judge
        .declared_keys()
        .par_iter()
        .filter_map(|key| judge.judge_declared(key, live_index.get(key).copied(), registry))
        .collect();
    let system = SystemContext::from_live(&live.objects);
    for (key, object) in &live_index {
        if let Some(report) = judge.judge_unmanaged(key, object, &system) {
            resources.push(report);
        }
    }
    sort_resources(&mut resources);
    TargetJudgement {
        resources,
        problems,
    }
}

/// Decides whether a kind is namespaced: the live system's discovery when it has one; else live
/// evidence (objects seen with or without a namespace), CustomResourceDefinitions declared in
/// git, the built-in table; unknown kinds are namespaced, as most custom resources are.
pub struct Scopes {
    /// Cluster-scoped kinds, each with its groups.
    cluster: HashMap<String, Vec<String>>,
}

impl Scopes {
    /// Gathers scope evidence.
    pub fn new(
        declared: &[Declared],
        live: &[Object],
        known: &BTreeMap<GroupKind, crate::model::Scope>,
    ) -> Scopes {
        let mut seen_namespaced: HashSet<(&str, &str)> = HashSet::new();
        let mut seen_cluster: HashSet<(&str, &str)> = HashSet::new();
        for object in live {
            let gk = (object.group.as_str(), object.kind.as_str());
            if object.namespace.is_some() {
                seen_namespaced.insert(gk);
            } else {
                seen_cluster.insert(gk);
            }
        }
        let mut declared_crds: Vec<(String, String)> = Vec::new();
        for item in declared {
            let object = &item.object;
            if object.group == "apiextensions.k8s.io" && object.kind == "CustomResourceDefinition" {
                let value = object.value();
                let spec = value.get("spec");
                let group = spec.and_then(|s| s.get("group")).and_then(Value::as_str);
                let kind = spec
                    .and_then(|s| s.pointer("/names/kind"))
                    .and_then(Value::as_str);
                let scope = spec.and_then(|s| s.get("scope")).and_then(Value::as_str);
                if let (Some(group), Some(kind), Some("Cluster")) = (group, kind, scope) {
                    declared_crds.push((group.to_string(), kind.to_string()));
                }
            }
        }
        let mut cluster: HashSet<(&str, &str)> = CLUSTER_SCOPED_KINDS.iter().copied().collect();
        cluster.extend(declared_crds.iter().map(|(g, k)| (g.as_str(), k.as_str())));
        for gk in &seen_namespaced {
            if !seen_cluster.contains(gk) {
                cluster.remove(gk);
            }
        }
        cluster.extend(seen_cluster);
        for (gk, scope) in known {
            let pair = (gk.group.as_str(), gk.kind.as_str());
            match scope {
                crate::model::Scope::Cluster => {
                    cluster.insert(pair);
                }
                crate::model::Scope::Namespaced => {
                    cluster.remove(&pair);
                }
            }
        }
        let mut by_kind: HashMap<String, Vec<String>> = HashMap::new();
        for (group, kind) in cluster {
            by_kind
                .entry(kind.to_string())
                .or_default()
                .push(group.to_string());
        }
        Scopes { cluster: by_kind }
    }

    /// The namespace an object belongs to: none for cluster-scoped kinds, its own, or the
    /// source's default.
    pub fn namespace_of(&self, object: &Object, default: Option<&str>) -> Option<String> {
        let cluster_scoped = self
            .cluster
            .get(&object.kind)
            .is_some_and(|groups| groups.contains(&object.group));
        if cluster_scoped {
            return None;
        }
        object
            .namespace
            .clone()
            .or_else(|| default.map(str::to_string))
    }
}
