//! One target's audit: which rules run there, the resources of each side with the context a rule
//! sees, and their evaluation on all cores (one engine clone per worker thread).

use std::sync::Arc;

use rayon::prelude::*;
use serde_json::{Value, json};

use super::Rule;
use super::engine::RuleSet;
use super::packs;
use super::reads::Projection;
use crate::config::audit::Waiver;
use crate::config::{Config, Target};
use crate::model::Side;
use crate::model::SourceRef;
use crate::model::fingerprint::Fingerprint;
use crate::model::{Code, Object, Problem, Severity};

/// The rules a configuration loads, compiled once (a scan context holds them; `serve` keeps them
/// across scans and builds them again on reload).
#[derive(Debug)]
pub struct Auditor {
    /// Every rule loaded, with the engine.
    pub set: RuleSet,
    /// What loading them met (files that cannot be used, selections naming nothing): every
    /// scan's report carries them.
    pub problems: Vec<Problem>,
    /// Results shared by resources equal in what their rules read (and by the auditors
    /// [`Auditor::with_sources`] derives from this one).
    pub shared: Arc<Shared>,
    /// The last auditor [`Auditor::with_sources`] derived, by the fingerprint of the documents
    /// it added.
    derived: std::sync::Mutex<Option<(u128, Arc<Auditor>)>>,
    /// The ConstraintTemplates read from `audit.gatekeeper.paths` that loaded: git sources'
    /// Constraints may use them.
    path_templates: Vec<crate::model::Object>,
}

/// Gatekeeper problems as the scan reports them: files that could not be read, documents that
/// could not be used (errors), templates left out (warnings), each naming file and line.
fn gatekeeper_problems(
    unreadable: &[super::engine::LoadProblem],
    loaded: &super::gatekeeper::Loaded,
) -> Vec<Problem> {
    let errors = unreadable
        .iter()
        .chain(&loaded.problems)
        .map(|p| (Severity::Error, p));
    let warnings = loaded.warnings.iter().map(|p| (Severity::Warning, p));
    errors
        .chain(warnings)
        .map(|(severity, p)| {
            if severity == Severity::Warning {
                tracing::warn!(message = %p.message, file = %p.file);
            }
            Problem::new(severity, Code::AuditGatekeeper, p.message.clone()).at(&p.file, p.line)
        })
        .collect()
}

/// One resource to audit, on one side.
#[derive(Clone, Debug)]
pub struct Subject<'a> {
    /// The resource.
    pub object: &'a Object,
    /// Which side it is from.
    pub side: Side,
    /// Where git declares it (desired side; live side when git manages it): borrowed from its
    /// judgement or its declaration.
    pub source: Option<SourceOf<'a>>,
    /// Other resources a rule needs to judge this one (a VPC's flow logs, an instance's subnet).
    pub related: Option<Value>,
    /// Its object's fingerprint ([`Fingerprint::object`]) where it was taken already (the
    /// judgement's memo takes every live object's): not taken again.
    pub print: Option<u128>,
}

/// Where git declares a subject.
#[derive(Clone, Debug)]
pub enum SourceOf<'a> {
    /// A reference at hand (a judgement's), or made for the subject.
    Ref(std::borrow::Cow<'a, SourceRef>),
    /// Read from the declaration when asked: a scan makes a subject of every declared object,
    /// and a reference ([`SourceRef::of`]) only for those with findings.
    Declared(&'a crate::model::Declared),
}

impl SourceOf<'_> {
    /// The source's name, file, line and renderer, borrowed.
    pub fn parts(&self) -> crate::model::fingerprint::SourceParts<'_> {
        match self {
            SourceOf::Ref(source) => (
                &source.name,
                &source.file,
                source.line,
                source.rendered.as_ref(),
            ),
            SourceOf::Declared(declared) => {
                let origin = &declared.object.origin;
                (
                    &declared.source,
                    &origin.file,
                    origin.line,
                    origin.rendered.as_ref(),
                )
            }
        }
    }

    /// The reference, owned.
    pub fn to_source_ref(&self) -> SourceRef {
        match self {
            SourceOf::Ref(source) => source.as_ref().clone(),
            SourceOf::Declared(declared) => SourceRef::of(declared),
        }
    }
}

/// One subject's violations, as its rules found them: shared (`Arc`) by the scan's assembly and
/// `serve`'s memo; the violations never change once found. It also carries, behind a lock, what
/// the last assembly made of them, so a re-scan that reuses the chunk reaches its findings
/// without looking them up.
#[derive(Debug)]
pub struct Chunk {
    findings: Box<[RawFinding]>,
    /// What [`super::findings::assemble`] last made of them (`serve`'s re-scans only).
    pub(crate) assembled: std::sync::Mutex<Option<super::findings::Assembled>>,
}

impl Chunk {
    /// A subject's violations (`None` when there are none).
    fn of(findings: Vec<RawFinding>) -> Option<Arc<Chunk>> {
        (!findings.is_empty()).then(|| {
            Arc::new(Chunk {
                findings: findings.into_boxed_slice(),
                assembled: Default::default(),
            })
        })
    }
}

impl std::ops::Deref for Chunk {
    type Target = [RawFinding];

    fn deref(&self) -> &[RawFinding] {
        &self.findings
    }
}

/// A violation, before waivers and report keys.
#[derive(Clone, Debug, PartialEq)]
pub struct RawFinding {
    /// Index of the rule in [`RuleSet::rules`].
    pub rule: usize,
    /// Which side.
    pub side: Side,
    /// Target name.
    pub target: String,
    /// The resource's `apiVersion`.
    pub api_version: String,
    /// Its API group (`aws` for AWS resources).
    pub group: String,
    /// Its kind (or AWS type).
    pub kind: String,
    /// Its namespace (or region).
    pub namespace: Option<String>,
    /// Its name (or id).
    pub name: String,
    /// Where git declares it.
    pub source: Option<SourceRef>,
    /// The rule's message.
    pub message: String,
    /// The waivers scoped to parts of the resource (their places in the scan's waivers) whose
    /// parts cause this finding: those waivers cover it.
    pub caused_by: Box<[u32]>,
    /// The fingerprint of rule and resource ([`RawFinding::identity_of`] of its own names):
    /// what tells a live finding that git has too.
    identity: u128,
}

impl RawFinding {
    /// A violation of rule `rule` by a subject of `target`, with the fingerprint of its
    /// identity.
    fn new(rule: usize, target: &str, subject: &Subject<'_>, message: String) -> RawFinding {
        let object = subject.object;
        RawFinding {
            rule,
            side: subject.side,
            target: target.to_string(),
            api_version: object.api_version.clone(),
            group: object.group.clone(),
            kind: object.kind.clone(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
            source: subject.source.as_ref().map(SourceOf::to_source_ref),
            message,
            caused_by: Box::default(),
            identity: RawFinding::identity_of(
                rule,
                target,
                &object.kind,
                object.namespace.as_deref(),
                &object.name,
            ),
        }
    }

    /// [`RawFinding::identity`]'s value.
    pub fn identity(&self) -> u128 {
        self.identity
    }

    /// The fingerprint of a rule's finding on a resource, whatever side and apiVersion.
    pub fn identity_of(
        rule: usize,
        target: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> u128 {
        let mut print = Fingerprint::new();
        print
            .number(rule as u64)
            .str(target)
            .str(kind)
            .opt(namespace)
            .str(name);
        print.finish()
    }
}

impl Auditor {
    /// Loads the built-in packs (unless turned off) and the configured folders. Files that cannot
    /// be used are error problems naming file and line; the others load.
    pub fn load(config: &Config) -> Auditor {
        let settings = &config.audit;
        let mut files = Vec::new();
        let mut problems = Vec::new();
        if settings.builtin {
            files.extend(packs::builtin());
        } else {
            // Users' packs may import the helpers.
            files.extend(
                packs::builtin()
                    .into_iter()
                    .filter(|f| f.pack == packs::LIB),
            );
        }
        for dir in &settings.rules {
            let shown = dir.display().to_string();
            match packs::folder(dir, &shown, config.limits.max_file_bytes) {
                Ok(more) => files.extend(more),
                Err(message) => problems.push(Problem::new(
                    Severity::Error,
                    Code::AuditRulesUnreadable,
                    message,
                )),
            }
        }
        let mut set = RuleSet::load(&files, settings.timeout, false);
        if !settings.compiled {
            set.interpret_only();
        }
        // Gatekeeper policies from folders; the templates that load are kept for the
        // Constraints git sources declare.
        let mut path_templates = Vec::new();
        if !settings.gatekeeper.paths.is_empty() {
            let (objects, unreadable) =
                super::gatekeeper::read_paths(&settings.gatekeeper.paths, &config.limits);
            let documents: Vec<(&crate::model::Object, Option<&str>)> =
                objects.iter().map(|o| (o, None)).collect();
            let loaded = super::gatekeeper::load(&documents, settings.timeout);
            problems.extend(gatekeeper_problems(&unreadable, &loaded));
            let kinds: Vec<&str> = loaded.templates.iter().map(|t| t.kind.as_str()).collect();
            path_templates = objects
                .iter()
                .filter(|o| o.kind == "ConstraintTemplate")
                .filter(|o| {
                    o.value()
                        .pointer("/spec/crd/spec/names/kind")
                        .and_then(Value::as_str)
                        .is_some_and(|k| kinds.contains(&k))
                })
                .cloned()
                .collect();
            let clashes = set.add_gatekeeper(
                super::gatekeeper::Loaded {
                    problems: Vec::new(),
                    warnings: Vec::new(),
                    ..loaded
                },
                |_, _| true,
            );
            problems.extend(gatekeeper_problems(&clashes, &Default::default()));
            set.sort_rules();
        }
        set.warn_whole_package_reads();
        for p in &set.problems {
            problems.push(
                Problem::new(
                    Severity::Error,
                    Code::AuditRuleFile,
                    format!("rule file: {}", p.message),
                )
                .at(&p.file, p.line),
            );
        }
        let known: Vec<&str> = set.rules.iter().map(|r| r.pack.as_str()).collect();
        let mut selections = vec![("audit".to_string(), &settings.selection)];
        for target in &config.targets {
            if let Some(selection) = &target.audit {
                selections.push((format!("target {}", target.name), selection));
            }
        }
        // Constraints from git sources are loaded with the sources, later: not knowing them yet
        // is not knowing they are missing.
        let later = |pack: &str, id: &str| {
            settings.gatekeeper.from_sources
                && (pack == super::gatekeeper::PACK || id.contains('.'))
        };
        for (what, selection) in selections {
            for pack in selection.packs.iter().flatten() {
                if !known.contains(&pack.as_str()) && !later(pack, "") {
                    problems.push(Problem::new(
                        Severity::Warning,
                        Code::AuditUnknownSelection,
                        format!("{what}: pack `{pack}` has no rules loaded"),
                    ));
                }
            }
            for id in selection.include.iter().chain(&selection.exclude) {
                if !set.rules.iter().any(|r| &r.id == id) && !later("", id) {
                    problems.push(Problem::new(
                        Severity::Warning,
                        Code::AuditUnknownSelection,
                        format!("{what}: no rule `{id}` is loaded"),
                    ));
                }
            }
        }
        Auditor {
            set,
            problems,
            shared: Arc::default(),
            derived: std::sync::Mutex::new(None),
            path_templates,
        }
    }

    /// This auditor with the Gatekeeper ConstraintTemplates and Constraints the sources
    /// declare (`audit.gatekeeper.from_sources`): a target's Constraints find the templates of
    /// every source of that target and those of `audit.gatekeeper.paths`, and run on that target
    /// only (two targets may each have a Constraint of one name). The rules loaded here keep
    /// their places. The same auditor when there are none, and the last one derived while the
    /// documents are unchanged (their Rego compiles once).
    pub fn with_sources(
        self: &Arc<Self>,
        config: &Config,
        sources: &[crate::desired::SourceRead],
    ) -> Arc<Auditor> {
        if !config.audit.gatekeeper.from_sources || !config.audit.enabled {
            return Arc::clone(self);
        }
        let target_of = |source: &str| {
            config
                .sources
                .iter()
                .find(|s| s.name == source)
                .map(|s| s.target.as_str())
        };
        let mut print = Fingerprint::new();
        let mut by_target: std::collections::BTreeMap<
            &str,
            Vec<(&crate::model::Object, Option<&str>)>,
        > = std::collections::BTreeMap::new();
        for read in sources {
            let Some(target) = target_of(&read.source) else {
                continue;
            };
            for object in read
                .objects
                .iter()
                .map(|d| &d.object)
                .filter(|o| super::gatekeeper::is_gatekeeper(o))
            {
                print
                    .str(&read.source)
                    .object(object)
                    .str(&object.origin.file);
                print.number(object.origin.line.unwrap_or(0));
                by_target
                    .entry(target)
                    .or_default()
                    .push((object, Some(read.source.as_str())));
            }
        }
        if by_target.is_empty() {
            return Arc::clone(self);
        }
        let key = print.finish();
        let mut derived = self.derived.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, auditor)) = derived.as_ref()
            && *at == key
        {
            return Arc::clone(auditor);
        }
        let mut set = self.set.clone();
        let mut problems = self.problems.clone();
        for (_, documents) in by_target {
            // The folders' templates first, as at load (a source's template of the same kind
            // is then the second definition).
            let mut with_paths: Vec<(&crate::model::Object, Option<&str>)> =
                self.path_templates.iter().map(|o| (o, None)).collect();
            with_paths.extend(documents);
            let loaded = super::gatekeeper::load(&with_paths, config.audit.timeout);
            // What the folders' templates say was said at load.
            let from_sources = |p: &&super::engine::LoadProblem| {
                !self.path_templates.iter().any(|t| t.origin.file == p.file)
            };
            let loaded = super::gatekeeper::Loaded {
                problems: loaded
                    .problems
                    .iter()
                    .filter(from_sources)
                    .cloned()
                    .collect(),
                warnings: loaded
                    .warnings
                    .iter()
                    .filter(from_sources)
                    .cloned()
                    .collect(),
                ..loaded
            };
            problems.extend(gatekeeper_problems(&[], &loaded));
            let clashes = set.add_gatekeeper(
                super::gatekeeper::Loaded {
                    problems: Vec::new(),
                    warnings: Vec::new(),
                    ..loaded
                },
                |earlier, new| {
                    let source = |r: &Rule| r.gatekeeper.as_ref().and_then(|b| b.source.clone());
                    match (source(earlier), source(new)) {
                        (Some(a), Some(b)) => target_of(&a) == target_of(&b),
                        _ => true,
                    }
                },
            );
            problems.extend(gatekeeper_problems(&clashes, &Default::default()));
        }
        let auditor = Arc::new(Auditor {
            set,
            problems,
            shared: Arc::clone(&self.shared),
            derived: std::sync::Mutex::new(None),
            path_templates: self.path_templates.clone(),
        });
        *derived = Some((key, Arc::clone(&auditor)));
        auditor
    }

    /// The rules that run on a target: the configuration's selection, with the target's own in
    /// its place where it has one (its `packs` and `include_rules` replace the configuration's,
    /// so a target can run more packs or fewer; its `exclude_rules` add to the configuration's).
    pub fn rules_for(&self, config: &Config, target: &Target) -> Vec<usize> {
        if !config.audit.enabled {
            return Vec::new();
        }
        let global = &config.audit.selection;
        let selection = match &target.audit {
            None => global.clone(),
            Some(own) => crate::config::audit::RuleSelection {
                packs: own.packs.clone().or_else(|| global.packs.clone()),
                include: if own.include.is_empty() {
                    global.include.clone()
                } else {
                    own.include.clone()
                },
                exclude: global.exclude.iter().chain(&own.exclude).cloned().collect(),
            },
        };
        // Gatekeeper Constraints judge Kubernetes objects: not an AWS target's.
        let aws = matches!(target.live, crate::config::LiveSettings::Aws(_));
        // Constraints a git source declares run on that source's target only.
        let ours = |source: &str| {
            config
                .sources
                .iter()
                .any(|s| s.name == source && s.target == target.name)
        };
        self.set
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| selection.selects(&r.pack, &r.id))
            .filter(|(_, r)| {
                r.gatekeeper
                    .as_ref()
                    .is_none_or(|b| !aws && b.source.as_deref().is_none_or(ours))
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Evaluates the rules on every subject. A rule that fails on a resource (a runtime error,
    /// the time limit) is an error problem naming rule, file and resource; the rest go on. With
    /// a `memo` (`serve`'s re-scans), a subject whose input the memo holds is not evaluated
    /// again: its earlier findings are reused, and the memo is left holding this evaluation's.
    pub fn evaluate(
        &self,
        target: &str,
        provider: &str,
        rules: &[usize],
        subjects: &[Subject<'_>],
        (waivers, given): (&[Waiver], Option<&Arc<super::gatekeeper::Inventories>>),
        mut memo: Option<&mut AuditMemo>,
    ) -> Evaluated {
        if rules.is_empty() {
            return Evaluated::default();
        }
        let path_waivers = waivers.iter().any(|w| !w.paths.is_empty());
        // Gatekeeper Constraints that read the side's other objects (or its namespaces) see
        // them through the inventories, made once for the target.
        let needed = rules
            .iter()
            .any(|&i| super::gatekeeper::needs_inventory(&self.set.rules[i]));
        let inventories = needed.then(|| given.cloned()).flatten().or_else(|| {
            needed.then(|| {
                let referential = rules.iter().any(|&i| {
                    self.set.rules[i]
                        .gatekeeper
                        .as_ref()
                        .is_some_and(|b| b.referential)
                });
                Arc::new(super::gatekeeper::Inventories::of(
                    subjects.iter().map(|s| (s.side, s.object)),
                    referential,
                ))
            })
        });
        // What every subject's fingerprint starts with: the target and the rules that run
        // (and, where rules read the other objects, all of them).
        let prefix = memo
            .is_some()
            .then(|| self.prefix((target, provider), rules, waivers));
        // What Constraints that read other objects read, for the fingerprints of the subjects
        // they judge: every object (referential templates), or the namespaces' labels.
        let others = prefix.as_ref().and(inventories.as_ref()).map(|_| {
            let mut all = Fingerprint::new();
            let mut namespaces = Fingerprint::new();
            for subject in subjects {
                all.str(subject.side.as_str()).object(subject.object);
                if subject.object.group.is_empty() && subject.object.kind == "Namespace" {
                    namespaces
                        .str(subject.side.as_str())
                        .json(&Value::Object(
                            super::gatekeeper::labels(&subject.object.value())
                                .into_iter()
                                .map(|(k, v)| (k, Value::String(v)))
                                .collect(),
                        ))
                        .str(&subject.object.name);
                }
            }
            (all.finish(), namespaces.finish())
        });
        // What the memo keeps this evaluation whole by, when told its subjects.
        let whole = memo
            .as_deref_mut()
            .and_then(|m| m.given.take())
            .zip(prefix.clone())
            .map(|(given, prefix)| whole_key(prefix, given));
        let previous = memo.as_deref().map(|m| &m.subjects);
        let new_evaluator = || {
            let mut evaluator = self.set.evaluator();
            evaluator.set_inventories(inventories.clone());
            evaluator
        };
        let line = crate::progress::Line::start(
            &format!(
                "audit {target} ({})",
                subjects.first().map_or("", |s| s.side.as_str())
            ),
            Some(subjects.len() as u64),
            "objects",
        );
        let results: Vec<Outcome> = subjects
            .par_iter()
            .inspect(|_| line.inc(1))
            .map_init(
                // The evaluator (an engine and its machines) only once a subject needs it:
                // a re-scan takes most results from its memo.
                || (None, Vec::new()),
                |(evaluator, kinds), subject| {
                    let object = subject.object;
                    // Live objects a controller made (a Deployment's ReplicaSets, their Pods)
                    // are judged through their owner.
                    if subject.side == Side::Live && object.owned {
                        return Outcome::default();
                    }
                    let (applicable, projection) = self.applicable(kinds, rules, subject);
                    if applicable.is_empty() {
                        return Outcome::default();
                    }
                    let inputs = prefix.as_ref().map(|p| {
                        let mut print = p.clone();
                        if let Some(read) = others.and_then(|o| self.reads_others(applicable, o)) {
                            print.number(read as u64).number((read >> 64) as u64);
                        }
                        fingerprint(print, subject)
                    });
                    if let Some(earlier) = inputs.and_then(|i| previous?.get(&i)) {
                        return Outcome {
                            findings: earlier.findings.clone(),
                            problems: Vec::new(),
                            applied: earlier.applied.clone(),
                            inputs,
                            reused: true,
                            shared: false,
                        };
                    }
                    // Resources equal in all their rules read share one evaluation.
                    let shape = projection
                        .as_ref()
                        .filter(|_| {
                            subject.related.is_none() && !crate::model::aws::is_aws(&object.group)
                        })
                        .and_then(|projection| {
                            let mut print = Fingerprint::new();
                            print.number(applicable.len() as u64);
                            for &rule in applicable {
                                print.number(rule as u64);
                            }
                            projection.fingerprint(print, (target, provider), subject)
                        });
                    let known = shape.and_then(|shape| self.shared.get(shape));
                    // Gatekeeper Constraints judge only what their `spec.match` selects.
                    let matched =
                        self.gatekeeper_matches(applicable, subject, inventories.as_deref());
                    let outcomes: Vec<super::engine::Outcome> = match &known {
                        Some(messages) => messages.iter().cloned().map(Ok).collect(),
                        None => {
                            let only: Vec<&Rule> = applicable
                                .iter()
                                .enumerate()
                                .filter(|(n, _)| matched.as_ref().is_none_or(|m| m[*n]))
                                .map(|(_, &i)| &self.set.rules[i])
                                .collect();
                            let mut outcomes = evaluator
                                .get_or_insert_with(new_evaluator)
                                .evaluate_input(input(target, provider, subject), &only)
                                .into_iter();
                            (0..applicable.len())
                                .map(|n| match &matched {
                                    Some(m) if !m[n] => Ok(Vec::new()),
                                    _ => {
                                        outcomes.next().unwrap_or_else(|| Err("no outcome".into()))
                                    }
                                })
                                .collect()
                        }
                    };
                    if let (Some(shape), None) = (shape, &known)
                        && let Ok(messages) = outcomes.iter().cloned().collect()
                    {
                        self.shared.put(shape, messages);
                    }
                    let causes = if path_waivers {
                        self.causes(
                            (target, provider),
                            subject,
                            applicable,
                            &outcomes,
                            waivers,
                            evaluator.get_or_insert_with(new_evaluator),
                        )
                    } else {
                        Vec::new()
                    };
                    let mut outcome = self.findings(target, subject, applicable, outcomes, &causes);
                    if let Some(matched) = &matched {
                        outcome.applied = applicable
                            .iter()
                            .zip(matched)
                            .filter(|(_, m)| **m)
                            .map(|(&i, _)| i)
                            .collect();
                    }
                    outcome.inputs = inputs;
                    outcome.shared = known.is_some();
                    outcome
                },
            )
            .collect();
        let mut out = Evaluated {
            inventories: inventories.clone(),
            ..Evaluated::default()
        };
        let (mut reused, mut evaluated) = (0, 0);
        let generation = memo.as_deref().map_or(0, |m| m.generation.wrapping_add(1));
        for outcome in results {
            if let (Some(memo), Some(inputs)) = (memo.as_deref_mut(), outcome.inputs) {
                if outcome.reused {
                    reused += 1;
                    if let Some(entry) = memo.subjects.get_mut(&inputs) {
                        entry.seen = generation;
                    }
                } else {
                    evaluated += 1;
                    // A failed evaluation (the time limit, say) is never remembered: tried
                    // again next time.
                    if outcome.problems.is_empty() {
                        memo.subjects.insert(
                            inputs,
                            Audited {
                                findings: outcome.findings.clone(),
                                applied: outcome.applied.clone(),
                                seen: generation,
                            },
                        );
                    }
                }
            }
            out.shared += usize::from(outcome.shared);
            out.findings.extend(outcome.findings);
            out.problems.extend(outcome.problems);
            out.applied.extend(outcome.applied);
        }
        if let Some(memo) = memo {
            // Inputs not met this time are gone from the target.
            memo.subjects.retain(|_, entry| entry.seen == generation);
            memo.generation = generation;
            memo.reused = reused;
            memo.evaluated = evaluated;
            // A failed evaluation is tried again next time, never taken whole.
            memo.whole = whole.filter(|_| out.problems.is_empty()).map(|key| {
                let whole = Whole {
                    findings: out.findings.clone(),
                    applied: out.applied.clone(),
                    shared: out.shared,
                    results: reused + evaluated,
                };
                (key, whole)
            });
        }
        out
    }
}

impl Auditor {
    /// Whether one of `rules` judges objects of a kind on a side (what [`Auditor::evaluate`]
    /// evaluates a subject with).
    pub fn judges(&self, rules: &[usize], side: Side, group: &str, kind: &str) -> bool {
        rules.iter().any(|&i| {
            let rule = &self.set.rules[i];
            rule.sides.contains(&side) && rule.applies_to(group, kind)
        })
    }

    /// The last evaluation whole, when `memo` was told the same subjects
    /// ([`AuditMemo::subjects_are`]) and the rules are the same: no subject needs to be made
    /// (git's side of a re-scan whose sources were not read again). `None` otherwise: then
    /// [`Auditor::evaluate`] the subjects, which keeps the results whole for the next time.
    pub fn taken_whole(
        &self,
        (target, provider): (&str, &str),
        rules: &[usize],
        waivers: &[Waiver],
        memo: &mut AuditMemo,
    ) -> Option<Evaluated> {
        let given = memo.given.filter(|_| !rules.is_empty())?;
        let key = whole_key(self.prefix((target, provider), rules, waivers), given);
        let (_, last) = memo.whole.as_ref().filter(|(k, _)| *k == key)?;
        let out = Evaluated {
            findings: last.findings.clone(),
            problems: Vec::new(),
            applied: last.applied.clone(),
            shared: last.shared,
            inventories: None,
        };
        memo.reused = last.results;
        memo.evaluated = 0;
        memo.given = None;
        Some(out)
    }

    /// What every subject's fingerprint starts with: the target, the rules that run (their
    /// Gatekeeper bindings' too), and the waivers scoped to parts of resources (they say which
    /// findings they cover).
    fn prefix(
        &self,
        (target, provider): (&str, &str),
        rules: &[usize],
        waivers: &[Waiver],
    ) -> Fingerprint {
        let mut print = Fingerprint::new();
        print.str(target).str(provider).number(rules.len() as u64);
        for &rule in rules {
            print.number(rule as u64);
            if let Some(binding) = &self.set.rules[rule].gatekeeper {
                print
                    .number(binding.print as u64)
                    .number((binding.print >> 64) as u64);
            }
        }
        for (i, w) in waivers
            .iter()
            .enumerate()
            .filter(|(_, w)| !w.paths.is_empty())
        {
            print
                .number(i as u64)
                .str(&w.rule)
                .str(&format!("{:?} {:?} {:?}", w.selector, w.side, w.paths));
        }
        print
    }

    /// The rules of `rules` that judge a subject's kind on its side, and what they read of it
    /// (when every one says), looked up in a worker's own list of the kinds it met (a target
    /// holds a few dozen kinds and up to millions of objects).
    fn applicable<'k>(
        &self,
        kinds: &'k mut Vec<KindRules>,
        rules: &[usize],
        subject: &Subject<'_>,
    ) -> (&'k [usize], &'k Option<Projection>) {
        let object = subject.object;
        let at = kinds.iter().position(|k| {
            k.side == subject.side && k.kind == object.kind && k.group == object.group
        });
        let at = at.unwrap_or_else(|| {
            let applicable: Vec<usize> = rules
                .iter()
                .copied()
                .filter(|&i| {
                    let rule = &self.set.rules[i];
                    rule.sides.contains(&subject.side)
                        && rule.applies_to(&object.group, &object.kind)
                })
                .collect();
            let projection = Projection::of(
                &object.kind,
                applicable
                    .iter()
                    .map(|&i| self.set.rules[i].reads.as_deref()),
            );
            kinds.push(KindRules {
                group: object.group.clone(),
                kind: object.kind.clone(),
                side: subject.side,
                rules: applicable,
                projection,
            });
            kinds.len() - 1
        });
        (&kinds[at].rules, &kinds[at].projection)
    }

    /// The fingerprint of what the applicable Gatekeeper Constraints read beside the subject:
    /// every object (`all`) when one is referential, else the namespaces' labels when one
    /// selects namespaces, else nothing.
    fn reads_others(&self, applicable: &[usize], (all, namespaces): (u128, u128)) -> Option<u128> {
        let bindings = applicable
            .iter()
            .filter_map(|&i| self.set.rules[i].gatekeeper.as_ref());
        let mut selects = false;
        for binding in bindings {
            if binding.referential {
                return Some(all);
            }
            selects |= binding.matcher.selects_namespaces();
        }
        selects.then_some(namespaces)
    }

    /// For subjects some Gatekeeper Constraint applies to by kind: whether each applicable
    /// rule judges it (other rules always do). `None` when no Constraint applies.
    fn gatekeeper_matches(
        &self,
        applicable: &[usize],
        subject: &Subject<'_>,
        inventories: Option<&super::gatekeeper::Inventories>,
    ) -> Option<Vec<bool>> {
        if !applicable
            .iter()
            .any(|&i| self.set.rules[i].gatekeeper.is_some())
        {
            return None;
        }
        let value = subject.object.value();
        let labels = super::gatekeeper::labels(&value);
        let namespaces = |ns: &str| inventories?.namespaces.get(&subject.side)?.get(ns).cloned();
        Some(
            applicable
                .iter()
                .map(|&i| match &self.set.rules[i].gatekeeper {
                    Some(binding) => binding
                        .matcher
                        .matches(subject.object, &labels, &namespaces),
                    None => true,
                })
                .collect(),
        )
    }

    /// Which of a subject's findings waivers scoped to parts of it cover: `(position of the
    /// rule in applicable, message, waiver)` for each message the rule no longer gives once the
    /// waiver's parts are taken out of the resource, where it gives nothing new then either (a
    /// rule that still fails otherwise, in other words, is not waived by it). Kubernetes
    /// resources only: AWS rules read what the API describes, not the object's own document.
    fn causes(
        &self,
        (target, provider): (&str, &str),
        subject: &Subject<'_>,
        applicable: &[usize],
        outcomes: &[super::engine::Outcome],
        waivers: &[Waiver],
        evaluator: &mut super::engine::Evaluator,
    ) -> Vec<(usize, String, u32)> {
        let object = subject.object;
        let mut causes = Vec::new();
        if crate::model::aws::is_aws(&object.group) {
            return causes;
        }
        let key = crate::model::ResourceKey {
            group: object.group.clone(),
            kind: object.kind.clone(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
        };
        for (n, (&index, outcome)) in applicable.iter().zip(outcomes).enumerate() {
            let Ok(messages) = outcome else { continue };
            if messages.is_empty() {
                continue;
            }
            let rule = &self.set.rules[index];
            for (w, waiver) in waivers.iter().enumerate() {
                if waiver.paths.is_empty()
                    || waiver.rule != rule.id
                    || waiver.side.is_some_and(|s| s != subject.side)
                    || !waiver.selector.matches(target, &key)
                {
                    continue;
                }
                let mut value = object.value().into_owned();
                let mut removed = false;
                for path in &waiver.paths {
                    removed |= crate::model::pointer::remove(&mut value, path);
                }
                if !removed {
                    continue;
                }
                let mut pruned = object.clone();
                pruned.body = crate::model::Body::Tree(value);
                let without = Subject {
                    object: &pruned,
                    print: None,
                    ..subject.clone()
                };
                let Some(Ok(left)) = evaluator
                    .evaluate_input(input(target, provider, &without), &[rule])
                    .pop()
                else {
                    continue;
                };
                if !left.iter().all(|m| messages.contains(m)) {
                    continue;
                }
                for message in messages.iter().filter(|m| !left.contains(m)) {
                    causes.push((n, message.clone(), w as u32));
                }
            }
        }
        causes
    }

    /// A subject's findings and problems from its rules' outcomes; `causes` says which
    /// waivers scoped to parts of it cover which (see [`Auditor::causes`]).
    fn findings(
        &self,
        target: &str,
        subject: &Subject<'_>,
        applicable: &[usize],
        outcomes: Vec<super::engine::Outcome>,
        causes: &[(usize, String, u32)],
    ) -> Outcome {
        let object = subject.object;
        let mut findings = Vec::new();
        let mut problems = Vec::new();
        for (n, (&index, outcome)) in applicable.iter().zip(outcomes).enumerate() {
            let rule = &self.set.rules[index];
            match outcome {
                Ok(messages) => {
                    for message in messages {
                        let caused_by: Box<[u32]> = causes
                            .iter()
                            .filter(|(at, m, _)| *at == n && *m == message)
                            .map(|(_, _, w)| *w)
                            .collect();
                        let mut finding = RawFinding::new(index, target, subject, message);
                        finding.caused_by = caused_by;
                        findings.push(finding);
                    }
                }
                Err(err) => problems.push(
                    Problem::new(
                        Severity::Error,
                        Code::AuditRuleFailed,
                        format!(
                            "rule {} could not judge {} {} ({}): {err}",
                            rule.id,
                            object.kind,
                            crate::model::resource_name(&object.namespace, &object.name),
                            subject.side.as_str()
                        ),
                    )
                    .target(target)
                    .at(&rule.file, Some(rule.line)),
                ),
            }
        }
        Outcome {
            findings: Chunk::of(findings),
            problems,
            applied: applicable.to_vec(),
            ..Outcome::default()
        }
    }
}

/// The rules that judge one kind on one side, in a worker's list.
struct KindRules {
    group: String,
    kind: String,
    side: Side,
    rules: Vec<usize>,
    /// What they read, when every one of them says.
    projection: Option<Projection>,
}

/// Rule results by the fingerprint of what the rules read of a resource (see [`super::reads`]):
/// shared by every resource, side, target and scan the same rules judge. Rules read nothing but
/// their input, so equal read parts give equal messages.
#[derive(Default)]
pub struct Shared {
    results: std::sync::Mutex<ByShape>,
}

/// Each shape's messages, rule by rule.
type ByShape =
    std::collections::HashMap<u128, std::sync::Arc<Vec<Vec<String>>>, foldhash::fast::RandomState>;

/// At most this many shapes are kept; the store starts again empty past it. An estate has a few
/// dozen to a few thousand; where every workload is its own shape, nothing is shared and the
/// store is only memory (1–2 KB a shape for the Pod Security rules' messages).
const SHARED_LIMIT: usize = 20_000;

impl Shared {
    fn get(&self, shape: u128) -> Option<std::sync::Arc<Vec<Vec<String>>>> {
        let results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        results.get(&shape).cloned()
    }

    fn put(&self, shape: u128, messages: Vec<Vec<String>>) {
        let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        if results.len() >= SHARED_LIMIT {
            results.clear();
        }
        results.insert(shape, std::sync::Arc::new(messages));
    }

    /// How many shapes it holds.
    pub fn len(&self) -> usize {
        self.results.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shared({} shapes)", self.len())
    }
}

/// One subject's evaluation.
#[derive(Default)]
struct Outcome {
    findings: Option<Arc<Chunk>>,
    problems: Vec<Problem>,
    applied: Vec<usize>,
    /// The input's fingerprint, when remembering.
    inputs: Option<u128>,
    /// Taken from the memo, not evaluated.
    reused: bool,
    /// Taken from another resource of the same shape, not evaluated.
    shared: bool,
}

/// A target's side's rule results by the fingerprint of each input: the next evaluation
/// evaluates again only inputs it has not seen (`serve` keeps one per target and side,
/// `scan::Memo`). Rules read nothing but their input (no time, no network), so the same input
/// always gives the same findings.
#[derive(Default)]
pub struct AuditMemo {
    subjects: std::collections::HashMap<u128, Audited, foldhash::fast::RandomState>,
    /// What the caller says the next evaluation's subjects are, as a fingerprint
    /// ([`AuditMemo::subjects_are`]); taken by that evaluation.
    given: Option<u128>,
    /// The last evaluation whole, by the fingerprint of its rules and its given subjects, when
    /// it had one and no rule failed: the same again is answered from it without a subject's
    /// fingerprint or lookup.
    whole: Option<(u128, Whole)>,
    /// Counts evaluations: an entry not seen in the last is dropped.
    generation: u64,
    /// The last evaluation's subjects whose results were reused.
    pub reused: usize,
    /// The last evaluation's subjects evaluated.
    pub evaluated: usize,
}

/// What [`AuditMemo`] keeps an evaluation whole by: its subjects' prefix and what the caller
/// said the subjects are.
fn whole_key(mut prefix: Fingerprint, given: u128) -> u128 {
    prefix.bytes(&given.to_le_bytes());
    prefix.finish()
}

/// An evaluation's results, as [`AuditMemo`] keeps them whole.
#[derive(Clone)]
struct Whole {
    findings: Vec<Arc<Chunk>>,
    applied: std::collections::BTreeSet<usize>,
    shared: usize,
    /// Subjects with results (reused or evaluated).
    results: usize,
}

impl AuditMemo {
    /// Says what the next evaluation's subjects are, in order: a fingerprint that changes
    /// whenever one of them does (a target's source reads, for git's side). An evaluation of
    /// the same subjects under the same rules is then taken whole from the last.
    pub fn subjects_are(&mut self, print: u128) {
        self.given = Some(print);
    }

    /// How many inputs it holds results for.
    pub fn len(&self) -> usize {
        self.subjects.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }
}

/// One input's results.
struct Audited {
    findings: Option<Arc<Chunk>>,
    applied: Vec<usize>,
    /// The evaluation that last met this input.
    seen: u64,
}

/// The fingerprint of everything a subject's evaluation reads: the input document's parts,
/// after `prefix` (the target and the rules that run).
fn fingerprint(mut print: Fingerprint, subject: &Subject<'_>) -> u128 {
    let object = subject
        .print
        .unwrap_or_else(|| Fingerprint::new().object(subject.object).finish());
    print
        .str(subject.side.as_str())
        .bytes(&object.to_le_bytes())
        .source_parts(subject.source.as_ref().map(SourceOf::parts));
    match &subject.related {
        Some(related) => print.number(1).json(related),
        None => print.number(0),
    };
    print.finish()
}

/// What an evaluation gave.
#[derive(Debug, Default)]
pub struct Evaluated {
    /// Violations, a subject's at a time (shared with `serve`'s memo, not copied out of it).
    pub findings: Vec<Arc<Chunk>>,
    /// Rules that failed on a resource.
    pub problems: Vec<Problem>,
    /// Rules that judged at least one resource.
    pub applied: std::collections::BTreeSet<usize>,
    /// Subjects whose results came from another of the same shape, not evaluated.
    pub shared: usize,
    /// What Gatekeeper Constraints that read other objects saw (`None` when none ran): kept
    /// for judging single objects between scans.
    pub inventories: Option<Arc<super::gatekeeper::Inventories>>,
}

/// The input document a rule sees (see [`crate::audit`]), built in regorus's values: a frozen
/// object's text is read straight into them, without a JSON tree in between.
fn input(target: &str, provider: &str, subject: &Subject<'_>) -> regorus::Value {
    let object = subject.object;
    let resource = if crate::model::aws::is_aws(&object.group) && subject.side == Side::Desired {
        // A declaration: what it declares of the resource.
        regorus::Value::from(crate::diff::aws::Declaration::from_value(&object.value()).properties)
    } else if let Some(redacted) = super::secret_redacted(object) {
        regorus::Value::from(redacted)
    } else {
        match &object.body {
            // The same deserializer `From<serde_json::Value>` uses, from the text.
            crate::model::Body::Text(text) => serde_json::from_str::<regorus::Value>(text)
                .unwrap_or_else(|_| regorus::Value::from(object.value().into_owned())),
            crate::model::Body::Tree(value) => regorus::Value::from(value.clone()),
        }
    };
    let mut context = json!({
        "target": target,
        "provider": provider,
        "side": subject.side.as_str(),
        "group": object.group,
        "kind": object.kind,
        "namespace": object.namespace,
        "name": object.name,
    });
    if let Some((name, file, line, _)) = subject.source.as_ref().map(SourceOf::parts) {
        context["source"] = json!({"name": name, "file": file, "line": line});
    }
    if let Some(related) = &subject.related {
        context["related"] = related.clone();
    }
    let mut document = std::collections::BTreeMap::new();
    document.insert(regorus::Value::from("resource"), resource);
    document.insert(
        regorus::Value::from("gitdrift"),
        regorus::Value::from(context),
    );
    regorus::Value::from(document)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn auditor() -> Auditor {
        let config = Config::from_str(
            "sources:\n  - name: s\n    repo: ./repo\n    target: t\ntargets:\n  - name: t\n    snapshot: ./live\n",
            std::path::Path::new("/etc/gitdrift/gitdrift.yaml"),
            std::path::Path::new("/etc/gitdrift"),
            &crate::live::known(),
        )
        .unwrap();
        Auditor::load(&config)
    }

    /// Findings assembled with a memo, scan after scan, are those assembled without one: the
    /// same order (findings alike but for where git's overlays render them from included), the
    /// same live-only marks, as findings come and go and on a new day.
    #[test]
    fn findings_taken_from_the_memo_are_those_made_afresh() {
        use crate::audit::findings::{FindingMemo, assemble};
        let auditor = auditor();
        let rules: Vec<usize> = (0..auditor.set.rules.len()).collect();
        let objects = workloads();
        let from = |path: &str| SourceRef {
            name: "s".into(),
            file: "base/deploy.yaml".into(),
            line: Some(1),
            rendered: Some(crate::model::Rendered {
                tool: "kustomize".into(),
                path: path.into(),
            }),
        };
        let mut memo = FindingMemo::default();
        // The chunks the findings are kept in are the audit memo's (one per side).
        let mut audited = [AuditMemo::default(), AuditMemo::default()];
        let mut reused = 0;
        for round in 0..8 {
            // Each workload declared twice, from two overlays whose names swap order.
            let overlays = if round % 2 == 0 {
                ["a", "b"]
            } else {
                ["0b", "a"]
            };
            let declared: Vec<Subject<'_>> = objects
                .iter()
                .enumerate()
                .filter(|(i, _)| (i + round) % 5 != 0)
                .flat_map(|(_, object)| {
                    overlays.iter().map(move |overlay| Subject {
                        object,
                        side: Side::Desired,
                        source: Some(SourceOf::Ref(std::borrow::Cow::Owned(from(overlay)))),
                        related: None,
                        print: None,
                    })
                })
                .collect();
            let live: Vec<Subject<'_>> = objects
                .iter()
                .enumerate()
                .filter(|(i, _)| (i + 2 * round) % 7 != 0)
                .map(|(_, object)| Subject {
                    object,
                    side: Side::Live,
                    source: None,
                    related: None,
                    print: None,
                })
                .collect();
            let mut raw = Vec::new();
            let mut applied = std::collections::BTreeSet::new();
            for (subjects, memo) in [&declared, &live].into_iter().zip(&mut audited) {
                let evaluated =
                    auditor.evaluate("t", "kubernetes", &rules, subjects, (&[], None), Some(memo));
                raw.extend(evaluated.findings);
                applied.extend(evaluated.applied);
            }
            let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 4 + round as u32 / 3).unwrap();
            let assembled = |memo: Option<&mut FindingMemo>| {
                assemble(
                    raw.clone(),
                    &auditor.set,
                    &applied,
                    &[],
                    &[],
                    today,
                    true,
                    memo,
                )
            };
            let afresh = assembled(None);
            let kept = assembled(Some(&mut memo));
            assert!(!afresh.0.is_empty());
            assert_eq!(
                serde_json::to_string(&afresh.0).unwrap(),
                serde_json::to_string(&kept.0).unwrap(),
                "round {round}"
            );
            assert_eq!(afresh.1, kept.1, "round {round}");
            reused += memo.reused;
        }
        assert!(reused > 100, "findings taken from the memo: {reused}");
    }

    /// Workloads in a few security shapes under many names, on both sides.
    fn workloads() -> Vec<Object> {
        let shapes = [
            json!({"containers": [{"name": "app", "image": "a"}]}),
            json!({"hostNetwork": true, "containers": [{"name": "app", "image": "b",
                "securityContext": {"privileged": true, "capabilities": {"add": ["SYS_ADMIN"]}}}]}),
            json!({"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{"name": "web", "image": "c", "securityContext":
                  {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}),
        ];
        (0..30)
            .map(|i| {
                let mut spec = shapes[i % 3].clone();
                // What the rules do not read differs from one workload to the next.
                spec["containers"][0]["image"] = json!(format!("registry/app-{i}:1.{i}"));
                spec["containers"][0]["env"] = json!([{"name": "N", "value": i.to_string()}]);
                let value = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": format!("w{i}"), "namespace": "n",
                      "labels": {"app": format!("w{i}")}},
                    "spec": {"replicas": i, "template": {"metadata": {"labels": {"app": format!("w{i}")}},
                      "spec": spec}}});
                crate::manifest::object_from_value("test", value).unwrap()
            })
            .collect()
    }

    fn findings(auditor: &Auditor, objects: &[Object]) -> (Vec<RawFinding>, usize) {
        let rules: Vec<usize> = (0..auditor.set.rules.len()).collect();
        let mut found = Vec::new();
        let mut shared = 0;
        for side in [Side::Desired, Side::Live] {
            let subjects: Vec<Subject<'_>> = objects
                .iter()
                .map(|object| Subject {
                    object,
                    side,
                    source: None,
                    related: None,
                    print: None,
                })
                .collect();
            let evaluated =
                auditor.evaluate("t", "kubernetes", &rules, &subjects, (&[], None), None);
            assert!(evaluated.problems.is_empty(), "{:?}", evaluated.problems);
            found.extend(evaluated.findings.iter().flat_map(|c| c.iter().cloned()));
            shared += evaluated.shared;
        }
        (found, shared)
    }

    #[test]
    fn resources_of_one_shape_share_an_evaluation_and_find_what_each_would() {
        let objects = workloads();
        let sharing = auditor();
        let (found, shared) = findings(&sharing, &objects);
        // Three shapes: evaluated once each (a worker may meet a shape before another worker
        // has stored it), the rest shared, on the desired side; the live side shares them all.
        assert!(shared + 3 * rayon::current_num_threads() >= 60, "{shared}");
        assert_eq!(sharing.shared.len(), 3);

        let mut alone = auditor();
        for rule in &mut alone.set.rules {
            rule.reads = None;
        }
        let (expected, none) = findings(&alone, &objects);
        assert_eq!(none, 0);
        assert!(alone.shared.is_empty());
        assert_eq!(found, expected);
        assert!(
            found
                .iter()
                .any(|f| f.name == "w1" && f.message.contains("privileged")),
            "{found:?}"
        );
        assert!(found.iter().all(|f| f.target == "t"));
    }
}
