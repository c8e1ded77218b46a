//! The Rego engine: every rule file compiled once into one regorus engine, cloned per worker
//! thread, and evaluated per resource (the input is one resource and its context, never the whole
//! inventory), each rule's `deny` set with an execution-time limit.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use serde_json::Value;

use super::Rule;
use super::metadata;
use super::packs::{LIB, RuleFile};

/// A problem with a rule file: where, and what.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadProblem {
    /// The file as named in messages.
    pub file: String,
    /// 1-based line, where known.
    pub line: Option<u64>,
    /// What is wrong (the file is left out; the other files are loaded).
    pub message: String,
}

/// Compiled rules: the engine holding every loaded file, and the rules found in them.
#[derive(Clone)]
pub struct RuleSet {
    engine: regorus::Engine,
    /// For each list of rule packages that apply together to some kind on some side, a rule
    /// that evaluates all their `deny` sets at once.
    batches: std::sync::Arc<std::collections::HashMap<Vec<String>, String>>,
    /// Every rule, ordered by id.
    pub rules: Vec<Rule>,
    /// Files that could not be used, and rules left out.
    pub problems: Vec<LoadProblem>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .field("problems", &self.problems)
            .finish()
    }
}

/// The `--> file:line:col` and last line of a regorus error.
pub fn rego_error(err: &anyhow::Error) -> (Option<u64>, String) {
    let text = format!("{err:#}");
    let line = text.lines().find_map(|l| {
        let at = l.trim().strip_prefix("--> ")?;
        let mut parts = at.rsplitn(3, ':');
        let _col = parts.next()?;
        parts.next()?.parse::<u64>().ok()
    });
    let message = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    (line, message)
}

impl RuleSet {
    /// Compiles the rule files (test files are left out unless `with_tests`). A file that does
    /// not parse, or whose METADATA is wrong, is a problem and is left out; the rest load.
    pub fn load(files: &[RuleFile], timeout: Duration, with_tests: bool) -> RuleSet {
        let mut engine = regorus::Engine::new();
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: timeout,
            check_interval: NonZeroU32::new(64).expect("non-zero"),
        });
        let mut problems = Vec::new();
        let mut rules: BTreeMap<String, Rule> = BTreeMap::new();
        for file in files.iter().filter(|f| with_tests || !f.test) {
            let problem = |line: Option<u64>, message: String| LoadProblem {
                file: file.path.clone(),
                line,
                message,
            };
            let meta = match metadata::read(&file.text) {
                Ok(meta) => meta,
                Err(err) => {
                    problems.push(problem(Some(err.line), err.message));
                    continue;
                }
            };
            if let Err(err) = engine.add_policy(file.path.clone(), file.text.clone()) {
                let (line, message) = rego_error(&err);
                problems.push(problem(line, message));
                continue;
            }
            let Some(rule) = meta.rule.filter(|_| !file.test) else {
                if !file.test && file.pack != LIB && declares_deny(&file.text) {
                    problems.push(problem(
                        Some(meta.package_line),
                        format!(
                            "package {} has a `deny` rule but no METADATA above `package`: it is not run",
                            meta.package
                        ),
                    ));
                }
                continue;
            };
            if let Some(first) = rules.get(&rule.id) {
                problems.push(problem(
                    Some(rule.line),
                    format!(
                        "rule id {} is already used by {}:{}; this one is not run",
                        rule.id, first.file, first.line
                    ),
                ));
                continue;
            }
            rules.insert(
                rule.id.clone(),
                Rule {
                    id: rule.id,
                    title: rule.title,
                    description: rule.description,
                    severity: rule.severity,
                    controls: std::sync::Arc::new(rule.controls),
                    remediation: rule.remediation,
                    kinds: rule.kinds,
                    sides: rule.sides,
                    pack: file.pack.clone(),
                    package: meta.package,
                    file: file.path.clone(),
                    line: rule.line,
                },
            );
        }
        let rules: Vec<Rule> = rules.into_values().collect();
        let batches = batch(&mut engine, &rules, &mut problems);
        RuleSet {
            engine,
            rules,
            problems,
            batches: std::sync::Arc::new(batches),
        }
    }

    /// An evaluator for one thread.
    pub fn evaluator(&self) -> Evaluator {
        Evaluator {
            engine: self.engine.clone(),
            batches: std::sync::Arc::clone(&self.batches),
        }
    }
}

/// Adds, for each kind and side, a rule that evaluates every rule applying there at once (one
/// evaluation shares what the rules import; `eval_rule` skips parsing a query).
fn batch(
    engine: &mut regorus::Engine,
    rules: &[Rule],
    problems: &mut Vec<LoadProblem>,
) -> std::collections::HashMap<Vec<String>, String> {
    use std::collections::{BTreeSet, HashMap};
    let mut kinds: BTreeSet<(String, String)> = BTreeSet::new();
    for rule in rules {
        for k in &rule.kinds {
            let (kind, group) = if k.starts_with("AWS::") {
                (k.clone(), crate::model::aws::GROUP.to_string())
            } else {
                match k.split_once('.') {
                    Some((kind, group)) => (kind.to_string(), group.to_string()),
                    None => (k.clone(), String::new()),
                }
            };
            kinds.insert((group, kind));
        }
    }
    let mut lists: BTreeSet<Vec<String>> = BTreeSet::new();
    for (group, kind) in &kinds {
        for side in [crate::model::Side::Desired, crate::model::Side::Live] {
            let list: Vec<String> = rules
                .iter()
                .filter(|r| r.sides.contains(&side) && r.applies_to(group, kind))
                .map(|r| r.package.clone())
                .collect();
            if list.len() > 1 {
                lists.insert(list);
            }
        }
    }
    let mut out = HashMap::new();
    for (n, list) in lists.into_iter().enumerate() {
        let package = format!("gitdrift_internal.batch.b{n}");
        let body = list
            .iter()
            .map(|p| format!("data.{p}.deny"))
            .collect::<Vec<_>>()
            .join(",\n  ");
        let text = format!("package {package}\n\nall := [\n  {body},\n]\n");
        match engine.add_policy(format!("(batch {n})"), text) {
            Ok(_) => {
                out.insert(list, format!("data.{package}.all"));
            }
            Err(err) => problems.push(LoadProblem {
                file: format!("(batch {n})"),
                line: None,
                message: rego_error(&err).1,
            }),
        }
    }
    out
}

fn declares_deny(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("deny ") || l.starts_with("deny[") || l.starts_with("deny contains")
    })
}

/// Evaluates rules on inputs, one input at a time, on one thread.
#[derive(Clone)]
pub struct Evaluator {
    engine: regorus::Engine,
    batches: std::sync::Arc<std::collections::HashMap<Vec<String>, String>>,
}

/// What one rule said of one input: its violation messages, or why it could not say.
pub type Outcome = Result<Vec<String>, String>;

impl Evaluator {
    /// Evaluates each rule's `deny` set on `input`. The rules are asked in one query, so that
    /// what they share (the helpers they import) is computed once; if that query fails (one rule
    /// errs, or runs too long), each rule is asked on its own, so that the failure is its own.
    pub fn evaluate(&mut self, input: Value, rules: &[&Rule]) -> Vec<Outcome> {
        self.engine.set_input(regorus::Value::from(input));
        if rules.len() > 1
            && let Some(all) = self.all_at_once(rules)
        {
            return all;
        }
        rules.iter().map(|rule| self.deny(&rule.package)).collect()
    }

    fn all_at_once(&mut self, rules: &[&Rule]) -> Option<Vec<Outcome>> {
        let packages: Vec<String> = rules.iter().map(|r| r.package.clone()).collect();
        let value = match self.batches.get(&packages) {
            Some(path) => self.engine.eval_rule(path.clone()).ok()?,
            None => {
                let query = format!(
                    "[{}]",
                    packages
                        .iter()
                        .map(|p| format!("data.{p}.deny"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let results = self.engine.eval_query(query, false).ok()?;
                results.result.first()?.expressions.first()?.value.clone()
            }
        };
        let json = serde_json::to_value(&value).ok()?;
        let Value::Array(sets) = json else {
            return None;
        };
        if sets.len() != rules.len() {
            return None;
        }
        Some(sets.into_iter().map(messages).collect())
    }

    /// Evaluates a rule (`data.<package>.<name>`) on the current input.
    pub fn eval(&mut self, path: &str) -> Result<regorus::Value, String> {
        self.engine.eval_rule(path.to_string()).map_err(|err| {
            let text = format!("{err:#}");
            if text.contains("TimeLimitExceeded") || text.contains("time limit") {
                "evaluation took longer than the rule time limit and was stopped".to_string()
            } else {
                rego_error(&err).1
            }
        })
    }

    /// Sets the input for [`Evaluator::eval`].
    pub fn set_input(&mut self, input: Value) {
        self.engine.set_input(regorus::Value::from(input));
    }

    fn deny(&mut self, package: &str) -> Outcome {
        let value = self.eval(&format!("data.{package}.deny"))?;
        if value == regorus::Value::Undefined {
            return Ok(Vec::new());
        }
        messages(serde_json::to_value(&value).map_err(|e| e.to_string())?)
    }
}

/// The messages of a `deny` set: strings, or objects with `msg` (Gatekeeper's shape).
fn messages(json: Value) -> Outcome {
    let items = match json {
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "`deny` must be a set of messages, not {}",
                kind_of(&other)
            ));
        }
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|item| match item {
            Value::String(s) => s,
            Value::Object(map) => match map.get("msg").and_then(Value::as_str) {
                Some(msg) => msg.to_string(),
                None => Value::Object(map).to_string(),
            },
            other => other.to_string(),
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(path: &str, text: &str) -> RuleFile {
        RuleFile::inline("p", path, text)
    }

    const RULE: &str = "# METADATA\n# title: No latest\n# custom:\n#   id: no-latest\n#   severity: medium\n#   kinds: [Pod]\npackage t.no_latest\n\nimport data.t.lib as helpers\n\ndeny contains msg if {\n  some c in input.resource.spec.containers\n  helpers.latest(c.image)\n  msg := sprintf(\"container %s uses :latest\", [c.name])\n}\n";
    const LIB_FILE: &str = "package t.lib\n\nlatest(image) if endswith(image, \":latest\")\n";

    #[test]
    fn rules_run_per_input_through_import_aliases() {
        let set = RuleSet::load(
            &[file("a.rego", RULE), file("lib.rego", LIB_FILE)],
            Duration::from_secs(1),
            false,
        );
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        assert_eq!(set.rules.len(), 1);
        let rule = &set.rules[0];
        assert_eq!(
            (rule.id.as_str(), rule.package.as_str()),
            ("no-latest", "t.no_latest")
        );
        let mut ev = set.evaluator();
        let bad = json!({"resource": {"spec": {"containers": [{"name": "web", "image": "nginx:latest"}]}}});
        assert_eq!(
            ev.evaluate(bad, &[rule]),
            vec![Ok(vec!["container web uses :latest".to_string()])]
        );
        let good =
            json!({"resource": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}});
        assert_eq!(ev.evaluate(good, &[rule]), vec![Ok(vec![])]);
    }

    #[test]
    fn broken_files_are_problems_with_lines_and_the_rest_loads() {
        let broken = "# METADATA\n# custom:\n#   id: broken\n#   severity: low\n#   kinds: [Pod]\npackage t.broken\n\ndeny contains msg if {\n  msg := \n}\n";
        let set = RuleSet::load(
            &[
                file("broken.rego", broken),
                file("a.rego", RULE),
                file("lib.rego", LIB_FILE),
                file(
                    "dup.rego",
                    &RULE.replace("package t.no_latest", "package t.other"),
                ),
            ],
            Duration::from_secs(1),
            false,
        );
        assert_eq!(set.rules.len(), 1);
        let broken = &set.problems[0];
        assert_eq!(broken.file, "broken.rego");
        assert_eq!(broken.line, Some(9), "{broken:?}");
        assert!(!broken.message.is_empty());
        assert!(set.problems[1].message.contains("already used by a.rego:1"));
    }

    #[test]
    fn a_rule_that_runs_too_long_is_stopped() {
        let slow = "# METADATA\n# custom:\n#   id: slow\n#   severity: low\n#   kinds: [Pod]\npackage t.slow\n\ndeny contains msg if {\n  n := numbers.range(1, 3000)\n  count([1 | some i in n; some j in n; i != j]) > 0\n  msg := \"slow\"\n}\n";
        let set = RuleSet::load(
            &[file("slow.rego", slow)],
            Duration::from_millis(200),
            false,
        );
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        let mut ev = set.evaluator();
        let started = std::time::Instant::now();
        let outcome = ev.evaluate(json!({"resource": {}}), &[&set.rules[0]]);
        assert!(started.elapsed() < Duration::from_secs(5));
        let err = outcome[0].clone().unwrap_err();
        assert!(err.contains("time limit"), "{err}");
    }
}
