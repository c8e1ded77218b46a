//! One target's audit: which rules run there, the resources of each side with the context a rule
//! sees, and their evaluation on all cores (one engine clone per worker thread).

use rayon::prelude::*;
use serde_json::{Value, json};

use super::Rule;
use super::engine::RuleSet;
use super::packs;
use crate::config::{Config, Target};
use crate::model::Side;
use crate::model::SourceRef;
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
}

/// One resource to audit, on one side.
#[derive(Clone, Debug)]
pub struct Subject<'a> {
    /// The resource.
    pub object: &'a Object,
    /// Which side it is from.
    pub side: Side,
    /// Where git declares it (desired side; live side when git manages it).
    pub source: Option<SourceRef>,
    /// Other resources a rule needs to judge this one (a VPC's flow logs, an instance's subnet).
    pub related: Option<Value>,
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
        for (what, selection) in selections {
            for pack in selection.packs.iter().flatten() {
                if !known.contains(&pack.as_str()) {
                    problems.push(Problem::new(
                        Severity::Warning,
                        Code::AuditUnknownSelection,
                        format!("{what}: pack `{pack}` has no rules loaded"),
                    ));
                }
            }
            for id in selection.include.iter().chain(&selection.exclude) {
                if !set.rules.iter().any(|r| &r.id == id) {
                    problems.push(Problem::new(
                        Severity::Warning,
                        Code::AuditUnknownSelection,
                        format!("{what}: no rule `{id}` is loaded"),
                    ));
                }
            }
        }
        Auditor { set, problems }
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
        self.set
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| selection.selects(&r.pack, &r.id))
            .map(|(i, _)| i)
            .collect()
    }

    /// Evaluates the rules on every subject. A rule that fails on a resource (a runtime error,
    /// the time limit) is an error problem naming rule, file and resource; the rest go on.
    pub fn evaluate(
        &self,
        target: &str,
        provider: &str,
        rules: &[usize],
        subjects: &[Subject<'_>],
    ) -> Evaluated {
        if rules.is_empty() {
            return Evaluated::default();
        }
        let results: Vec<(Vec<RawFinding>, Vec<Problem>, Vec<usize>)> = subjects
            .par_iter()
            .map_init(
                || self.set.evaluator(),
                |evaluator, subject| {
                    let object = subject.object;
                    // Live objects a controller made (a Deployment's ReplicaSets, their Pods)
                    // are judged through their owner.
                    if subject.side == Side::Live && object.owned {
                        return (Vec::new(), Vec::new(), Vec::new());
                    }
                    let applicable: Vec<(usize, &Rule)> = rules
                        .iter()
                        .map(|&i| (i, &self.set.rules[i]))
                        .filter(|(_, r)| {
                            r.sides.contains(&subject.side)
                                && r.applies_to(&object.group, &object.kind)
                        })
                        .collect();
                    if applicable.is_empty() {
                        return (Vec::new(), Vec::new(), Vec::new());
                    }
                    let input = input(target, provider, subject);
                    let only: Vec<&Rule> = applicable.iter().map(|(_, r)| *r).collect();
                    let outcomes = evaluator.evaluate_input(input, &only);
                    let mut findings = Vec::new();
                    let mut problems = Vec::new();
                    for ((index, rule), outcome) in applicable.iter().zip(outcomes) {
                        match outcome {
                            Ok(messages) => {
                                for message in messages {
                                    findings.push(RawFinding {
                                        rule: *index,
                                        side: subject.side,
                                        target: target.to_string(),
                                        api_version: object.api_version.clone(),
                                        group: object.group.clone(),
                                        kind: object.kind.clone(),
                                        namespace: object.namespace.clone(),
                                        name: object.name.clone(),
                                        source: subject.source.clone(),
                                        message,
                                    });
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
                                        crate::model::resource_name(
                                            &object.namespace,
                                            &object.name
                                        ),
                                        subject.side.as_str()
                                    ),
                                )
                                .target(target)
                                .at(&rule.file, Some(rule.line)),
                            ),
                        }
                    }
                    let applied = applicable.iter().map(|(i, _)| *i).collect();
                    (findings, problems, applied)
                },
            )
            .collect();
        let mut out = Evaluated::default();
        for (f, p, a) in results {
            out.findings.extend(f);
            out.problems.extend(p);
            out.applied.extend(a);
        }
        out
    }
}

/// What an evaluation gave.
#[derive(Debug, Default)]
pub struct Evaluated {
    /// Violations.
    pub findings: Vec<RawFinding>,
    /// Rules that failed on a resource.
    pub problems: Vec<Problem>,
    /// Rules that judged at least one resource.
    pub applied: std::collections::BTreeSet<usize>,
}

/// The input document a rule sees (see [`crate::audit`]), built in regorus's values: a frozen
/// object's text is read straight into them, without a JSON tree in between.
fn input(target: &str, provider: &str, subject: &Subject<'_>) -> regorus::Value {
    let object = subject.object;
    let resource = if crate::model::aws::is_aws(&object.group) && subject.side == Side::Desired {
        // A declaration: what it declares of the resource.
        regorus::Value::from(crate::diff::aws::Declaration::from_value(&object.value()).properties)
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
    if let Some(source) = &subject.source {
        context["source"] = json!({"name": source.name, "file": source.file, "line": source.line});
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
