//! One scan: read every source and target, match declared with live objects by identity, judge
//! each pair, find the unmanaged, and assemble the [`ScanReport`]. Orchestration only: the
//! judgement is `diff`'s, the reading `desired`'s and `live`'s.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use rayon::prelude::*;
use serde_json::Value;

use crate::config::{Config, Target};
use crate::desired::{self, SourceRead};
use crate::diff::{self, Status, ignore, unmanaged::SystemContext};
use crate::live::{LiveProvider, LiveRead};
use crate::model::{
    CLUSTER_SCOPED_KINDS, Declared, GroupKind, Object, Problem, ResourceKey, Severity,
};
use crate::report::{
    ResourceReport, ScanMeta, ScanReport, SourceMeta, SourceRef, StaleRule, Summary, TargetMeta,
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
    let wanted: HashSet<&str> = targets.iter().map(|t| t.name.as_str()).collect();

    // Sources and targets are read concurrently; git work runs on blocking threads.
    let mut source_tasks = Vec::new();
    for source in config
        .sources
        .iter()
        .filter(|s| wanted.contains(s.target.as_str()))
    {
        let config = Arc::clone(&config);
        let source = source.clone();
        let cache_dir = options.cache_dir.clone();
        source_tasks.push(tokio::task::spawn_blocking(move || {
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
        }));
    }
    let mut live_tasks = Vec::new();
    for target in &targets {
        let provider = LiveProvider::for_target(target);
        let name = target.name.clone();
        let limits = config.limits.clone();
        live_tasks.push(tokio::spawn(async move {
            let started = std::time::Instant::now();
            let read = provider.read(&name, &limits).await;
            tracing::info!(
                message = "live state read",
                target = %name,
                objects = read.objects.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
            );
            (provider, read)
        }));
    }
    let mut sources: Vec<SourceRead> = Vec::new();
    for (task, source) in source_tasks.into_iter().zip(
        config
            .sources
            .iter()
            .filter(|s| wanted.contains(s.target.as_str())),
    ) {
        match task.await {
            Ok(read) => sources.push(read),
            // Recorded as unread, so that nothing is called unmanaged on its account.
            Err(err) => sources.push(SourceRead {
                source: source.name.clone(),
                commit: None,
                files: 0,
                objects: Vec::new(),
                problems: vec![
                    Problem::new(Severity::Error, format!("reading the source failed: {err}"))
                        .source(&source.name),
                ],
            }),
        }
    }
    let mut lives: Vec<(LiveProvider, LiveRead)> = Vec::new();
    for (task, target) in live_tasks.into_iter().zip(&targets) {
        match task.await {
            Ok(pair) => lives.push(pair),
            Err(err) => problems.push(
                Problem::new(Severity::Error, format!("reading live state failed: {err}"))
                    .target(&target.name),
            ),
        }
    }

    let registry = ignore::Registry::new(&config.drift.ignore);
    let mut resources = Vec::new();
    let mut target_meta = Vec::new();
    for (target, (provider, live)) in targets.iter().zip(lives) {
        let target_sources: Vec<&SourceRead> = sources
            .iter()
            .filter(|s| {
                config
                    .sources
                    .iter()
                    .any(|c| c.name == s.source && c.target == target.name)
            })
            .collect();
        let declared: Vec<&Declared> = target_sources.iter().flat_map(|s| &s.objects).collect();
        // With a source unread, its objects would all look unmanaged: say nothing rather than
        // something false.
        let unread: Vec<&str> = target_sources
            .iter()
            .filter(|s| s.commit.is_none())
            .map(|s| s.source.as_str())
            .collect();
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
            provider: provider.kind(),
            location: provider.location(),
            observed_at: live.observed_at,
            objects: live.objects.len(),
        });
        let judged = judge_target(
            &config,
            &target.name,
            &declared,
            &live,
            &registry,
            unread.is_empty(),
        );
        resources.extend(judged.resources);
        problems.extend(live.problems);
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
            objects: read.objects.len(),
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
    problems.sort_by(|a, b| {
        (a.severity, &a.source, &a.target, &a.file, a.line)
            .cmp(&(b.severity, &b.source, &b.target, &b.file, b.line))
    });
    let summary = Summary::of(&resources, &problems);
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
        schema: crate::report::SCHEMA,
        scan: ScanMeta {
            started_at,
            finished_at: Utc::now(),
            gitdrift_version: env!("CARGO_PKG_VERSION"),
            config: config.path.display().to_string(),
            sources: source_meta,
            targets: target_meta,
        },
        summary,
        resources,
        problems,
        stale_ignore_rules,
    }
}

/// The judgement of one target.
pub struct TargetJudgement {
    /// Resources, ordered by identity.
    pub resources: Vec<ResourceReport>,
    /// Problems found while matching (duplicates).
    pub problems: Vec<Problem>,
}

/// Matches declared with live objects of one target and judges every pair; looks for unmanaged
/// objects when `find_unmanaged` (every source of the target was read).
pub fn judge_target(
    config: &Config,
    target: &str,
    declared: &[&Declared],
    live: &LiveRead,
    registry: &ignore::Registry<'_>,
    find_unmanaged: bool,
) -> TargetJudgement {
    let mut problems = Vec::new();
    let scopes = Scopes::new(declared, &live.objects);

    let mut live_index: HashMap<ResourceKey, &Object> = HashMap::with_capacity(live.objects.len());
    for object in &live.objects {
        let key = object.key_with_namespace(scopes.namespace_of(object, None));
        if let Some(first) = live_index.get(&key) {
            problems.push(
                Problem::new(
                    Severity::Warning,
                    format!(
                        "{key} appears twice in the live state (first in {}); the first is used",
                        first.origin
                    ),
                )
                .target(target)
                .at(&object.origin.file, object.origin.line),
            );
            continue;
        }
        live_index.insert(key, object);
    }

    let namespaces: HashMap<&str, &str> = config
        .sources
        .iter()
        .map(|s| (s.name.as_str(), s.namespace.as_str()))
        .collect();
    let mut desired_index: HashMap<ResourceKey, &Declared> = HashMap::with_capacity(declared.len());
    let mut order: Vec<ResourceKey> = Vec::with_capacity(declared.len());
    for item in declared {
        let default_ns = namespaces.get(item.source.as_str()).copied();
        let key = item
            .object
            .key_with_namespace(scopes.namespace_of(&item.object, default_ns));
        if let Some(first) = desired_index.get(&key) {
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
        desired_index.insert(key.clone(), item);
        order.push(key);
    }

    let mut resources = Vec::with_capacity(order.len());
    if !live.complete {
        // Without a live state nothing can be called missing or unmanaged; the error says why.
        return TargetJudgement {
            resources,
            problems,
        };
    }
    // Each pair is judged on its own, in parallel: parse both, compare, filter, drop.
    let judged: Vec<ResourceReport> = order
        .par_iter()
        .map(|key| {
            let item = desired_index[key];
            let object = &item.object;
            let (status, drifts) = match live_index.get(key) {
                Some(live_object) => {
                    let desired_value = object.value();
                    let live_value = live_object.value();
                    let drifts = diff::compare(
                        &key.group,
                        &key.kind,
                        &desired_value,
                        &live_value,
                        &config.drift,
                    );
                    let drifts = registry.apply(target, key, &desired_value, &live_value, drifts);
                    let status = if drifts.is_empty() {
                        Status::InSync
                    } else {
                        Status::Drifted
                    };
                    (status, drifts)
                }
                None => (Status::Missing, Vec::new()),
            };
            ResourceReport {
                target: target.to_string(),
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
                drifts,
            }
        })
        .collect();
    resources.extend(judged);

    // Unmanaged: live objects in a namespace git declares objects in (or of a cluster-scoped
    // kind git declares), that nothing generated and no exclusion names.
    let declared_namespaces: HashSet<&str> = desired_index
        .keys()
        .filter_map(|k| k.namespace.as_deref())
        .collect();
    let declared_cluster_kinds: HashSet<GroupKind> = desired_index
        .keys()
        .filter(|k| k.namespace.is_none())
        .map(ResourceKey::group_kind)
        .collect();
    let system = SystemContext::from_live(&live.objects);
    for (key, object) in &live_index {
        if !find_unmanaged || desired_index.contains_key(key) {
            continue;
        }
        let in_scope = match &key.namespace {
            Some(ns) => declared_namespaces.contains(ns.as_str()),
            None => declared_cluster_kinds.contains(&key.group_kind()),
        };
        if !in_scope
            || system.is_generated(object)
            || config
                .drift
                .unmanaged_exclude
                .iter()
                .any(|s| s.matches(target, key))
        {
            continue;
        }
        resources.push(ResourceReport {
            target: target.to_string(),
            api_version: object.api_version.clone(),
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            status: Status::Unmanaged,
            source: None,
            drifts: Vec::new(),
        });
    }
    resources.sort_by(|a, b| {
        (&a.kind, &a.namespace, &a.name, &a.api_version).cmp(&(
            &b.kind,
            &b.namespace,
            &b.name,
            &b.api_version,
        ))
    });
    TargetJudgement {
        resources,
        problems,
    }
}

/// Decides whether a kind is namespaced. Live evidence wins (objects seen with or without a
/// namespace), then CustomResourceDefinitions declared in git, then the built-in table; unknown
/// kinds are namespaced, as most custom resources are.
struct Scopes {
    /// Cluster-scoped kinds, each with its groups.
    cluster: HashMap<String, Vec<String>>,
}

impl Scopes {
    fn new(declared: &[&Declared], live: &[Object]) -> Scopes {
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
    fn namespace_of(&self, object: &Object, default: Option<&str>) -> Option<String> {
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
