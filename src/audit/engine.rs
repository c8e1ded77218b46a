//! The Rego engine: every rule file compiled once into one regorus engine, cloned per worker
//! thread, and evaluated per resource (the input is one resource and its context, never the whole
//! inventory), each rule's `deny` set with an execution-time limit. What is evaluated per
//! resource (each batch of rules, each rule's `deny`) is also compiled to a program for
//! regorus's virtual machine (RVM), several times faster than its interpreter on the same
//! rules; an entry point the compiler cannot take is interpreted, and a test holds the two to
//! the same results on the built-in packs.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use serde_json::Value;

use super::Rule;
use super::metadata;
use super::packs::{LIB, RuleFile};
use crate::model::Side;

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
    /// The RVM program of each entry point that compiled (batch rules, `data.<package>.deny`).
    programs: Programs,
    /// The per-evaluation time limit.
    timer: ExecutionTimerConfig,
    /// Gatekeeper ConstraintTemplates, each in its own engine (see [`super::gatekeeper`]).
    templates: std::sync::Arc<Vec<super::gatekeeper::Template>>,
    /// Every rule, ordered by id (but those [`RuleSet::add_gatekeeper`] adds after loading).
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
        let timer = ExecutionTimerConfig {
            limit: timeout,
            check_interval: NonZeroU32::new(64).expect("non-zero"),
        };
        engine.set_execution_timer_config(timer);
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
                    reads: rule.reads,
                    gatekeeper: None,
                },
            );
        }
        let rules: Vec<Rule> = rules.into_values().collect();
        let batches = batch(&mut engine, &rules, &mut problems);
        // Rule tests ask the interpreter for any rule by name: nothing to compile for them.
        let programs = if with_tests {
            Programs::default()
        } else {
            let entries = batches
                .values()
                .cloned()
                .chain(rules.iter().map(|r| format!("data.{}.deny", r.package)));
            compile(&engine, entries)
        };
        RuleSet {
            engine,
            rules,
            problems,
            batches: std::sync::Arc::new(batches),
            programs,
            timer,
            templates: std::sync::Arc::default(),
        }
    }

    /// Adds Gatekeeper templates and the rules of their Constraints (see
    /// [`super::gatekeeper::load`]) after the rules loaded before, which keep their places. A
    /// rule whose id a rule it `clashes` with has is left out, and a problem (returned).
    pub fn add_gatekeeper(
        &mut self,
        loaded: super::gatekeeper::Loaded,
        clashes: impl Fn(&Rule, &Rule) -> bool,
    ) -> Vec<LoadProblem> {
        let offset = self.templates.len();
        let mut templates = self.templates.as_ref().clone();
        templates.extend(loaded.templates);
        self.templates = std::sync::Arc::new(templates);
        let mut problems = Vec::new();
        for mut rule in loaded.rules {
            if let Some(first) = self
                .rules
                .iter()
                .find(|r| r.id == rule.id && clashes(r, &rule))
            {
                problems.push(LoadProblem {
                    file: rule.file.clone(),
                    line: Some(rule.line),
                    message: format!(
                        "rule id {} is already used by {}:{}; this one is not run",
                        rule.id, first.file, first.line
                    ),
                });
                continue;
            }
            if let Some(binding) = &mut rule.gatekeeper {
                std::sync::Arc::make_mut(binding).template += offset;
            }
            self.rules.push(rule);
        }
        problems
    }

    /// Orders the rules by id again (before anything holds their places).
    pub fn sort_rules(&mut self) {
        self.rules.sort_by(|a, b| a.id.cmp(&b.id));
    }
    /// An evaluator for one thread.
    pub fn evaluator(&self) -> Evaluator {
        Evaluator {
            engine: self.engine.clone(),
            batches: std::sync::Arc::clone(&self.batches),
            programs: self.programs.clone(),
            machines: std::collections::HashMap::new(),
            timeout: Some(self.timer),
            interpreter_has_input: false,
            templates: std::sync::Arc::clone(&self.templates),
            template_engines: std::collections::HashMap::new(),
            inventories: None,
        }
    }

    /// An evaluator that never uses the compiled programs (to compare the two).
    pub fn interpreter_only(&self) -> Evaluator {
        Evaluator {
            programs: Programs::default(),
            ..self.evaluator()
        }
    }

    /// Drops the compiled programs: every rule runs in the interpreter (`audit.compiled:
    /// false`).
    pub fn interpret_only(&mut self) {
        self.programs = Programs::default();
    }

    /// Warns of rules whose compiled program reads a whole package (see
    /// [`whole_package_lookups`]); nothing to say when the rules are interpreted.
    pub fn warn_whole_package_reads(&self) {
        for rule in &self.rules {
            let Some(program) = self.programs.get(&format!("data.{}.deny", rule.package)) else {
                continue;
            };
            for package in whole_package_lookups(program) {
                tracing::warn!(
                    message = "a rule reads a whole package (a rule reached through a package's import alias, such as `k8s.pod_spec`, in its file or a library it imports): each such reference evaluates every rule of that package; import the rule itself (`import data.<package>.<rule>`) or write its full path",
                    rule = %rule.id,
                    file = %rule.file,
                    package = %package,
                );
            }
        }
    }

    /// How many entry points run compiled.
    pub fn compiled(&self) -> usize {
        self.programs.len()
    }
}

/// Compiled programs by entry point (shared by every thread's evaluator).
type Programs = std::sync::Arc<
    std::collections::HashMap<String, std::sync::Arc<regorus::rvm::program::Program>>,
>;

/// Compiles each entry point to an RVM program, on a copy of the engine (compiling prepares
/// the engine for it); one that does not compile is left to the interpreter.
fn compile(engine: &regorus::Engine, entries: impl Iterator<Item = String>) -> Programs {
    use regorus::languages::rego::compiler::Compiler;
    let mut out = std::collections::HashMap::new();
    for entry in entries {
        if out.contains_key(&entry) {
            continue;
        }
        let mut compiling = engine.clone();
        let program = compiling
            .compile_with_entrypoint(&entry.as_str().into())
            .map_err(|e| e.to_string())
            .and_then(|policy| {
                Compiler::compile_from_policy(&policy, &[entry.as_str()]).map_err(|e| e.to_string())
            });
        match program {
            Ok(program) => {
                out.insert(entry, program);
            }
            Err(err) => {
                tracing::debug!(message = "rule entry point interpreted, not compiled", entry = %entry, error = %err);
            }
        }
    }
    std::sync::Arc::new(out)
}

/// The packages a compiled program looks up whole, as one document. regorus 0.14 compiles a
/// rule read through a package's import alias (`import data.lib as k; k.rule`) that way: each
/// reference evaluates every rule of the package into an object and indexes it, several times
/// the cost of calling the rule. The built-in packs import the rules they use (a test holds them
/// to it); user packs are warned of it at load.
pub fn whole_package_lookups(program: &regorus::rvm::program::Program) -> Vec<String> {
    use regorus::rvm::instructions::LiteralOrRegister;
    let mut out: Vec<String> = Vec::new();
    for params in &program.instruction_data.virtual_data_document_lookup_params {
        let mut node = &program.rule_tree["data"];
        let mut path = vec!["data".to_string()];
        for component in &params.path_components {
            let LiteralOrRegister::Literal(index) = component else {
                node = &regorus::Value::Undefined;
                break;
            };
            let Some(key) = program.literals.get(usize::from(*index)) else {
                node = &regorus::Value::Undefined;
                break;
            };
            node = &node[key];
            path.push(key.as_string().map(|s| s.to_string()).unwrap_or_default());
        }
        let path = path.join(".");
        if matches!(node, regorus::Value::Object(_)) && !out.contains(&path) {
            out.push(path);
        }
    }
    out
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
pub struct Evaluator {
    engine: regorus::Engine,
    batches: std::sync::Arc<std::collections::HashMap<Vec<String>, String>>,
    programs: Programs,
    /// This thread's virtual machine for each program, made when first needed.
    machines: std::collections::HashMap<String, regorus::rvm::vm::RegoVM>,
    timeout: Option<ExecutionTimerConfig>,
    /// Whether the interpreter holds the current input (set only when it is needed).
    interpreter_has_input: bool,
    /// Gatekeeper templates.
    templates: std::sync::Arc<Vec<super::gatekeeper::Template>>,
    /// This thread's copy of each template's engine, by template and, for referential ones,
    /// the side whose inventory it holds.
    template_engines: std::collections::HashMap<(usize, Option<Side>), regorus::Engine>,
    /// The sides' inventories for referential templates (see [`Evaluator::set_inventories`]).
    inventories: Option<std::sync::Arc<super::gatekeeper::Inventories>>,
}

/// What one rule said of one input: its violation messages, or why it could not say.
pub type Outcome = Result<Vec<String>, String>;

impl Evaluator {
    /// Evaluates each rule's `deny` set on `input`. The rules are asked in one query, so that
    /// what they share (the helpers they import) is computed once; if that query fails (one rule
    /// errs, or runs too long), each rule is asked on its own, so that the failure is its own.
    pub fn evaluate(&mut self, input: Value, rules: &[&Rule]) -> Vec<Outcome> {
        self.evaluate_input(regorus::Value::from(input), rules)
    }

    /// [`Evaluator::evaluate`] on an input already in regorus's values.
    pub fn evaluate_input(&mut self, input: regorus::Value, rules: &[&Rule]) -> Vec<Outcome> {
        if rules.iter().any(|r| r.gatekeeper.is_some()) {
            // Rego rules together as ever; each Constraint through its template.
            let rego: Vec<&Rule> = rules
                .iter()
                .copied()
                .filter(|r| r.gatekeeper.is_none())
                .collect();
            let mut rego = self.evaluate_input(input.clone(), &rego).into_iter();
            return rules
                .iter()
                .map(|rule| match &rule.gatekeeper {
                    Some(binding) => self.gatekeeper(&input, rule, binding),
                    None => rego
                        .next()
                        .unwrap_or_else(|| Err("no outcome for the rule".into())),
                })
                .collect();
        }
        self.interpreter_has_input = false;
        if rules.len() > 1
            && let Some(all) = self.all_at_once(&input, rules)
        {
            return all;
        }
        rules
            .iter()
            .map(|rule| self.deny(&input, &rule.package))
            .collect()
    }

    /// Runs an entry point compiled if it is, else through the interpreter. The interpreter
    /// stays the judge of errors: a compiled run that fails (a builtin's error, values of
    /// different types compared, anything but the time limit) runs again interpreted, so that
    /// what fails, and how, is what the interpreter says.
    fn run(&mut self, input: &regorus::Value, entry: &str) -> Result<regorus::Value, String> {
        if let Some(program) = self.programs.get(entry) {
            let machine = self.machines.entry(entry.to_string()).or_insert_with(|| {
                let mut vm = regorus::rvm::vm::RegoVM::new();
                vm.load_program(std::sync::Arc::clone(program));
                vm.set_execution_timer_config(self.timeout);
                // The time limit bounds a rule, as it does in the interpreter; the VM's own
                // instruction budget (25,000 by default) would stop honest rules on large
                // resources.
                vm.set_max_instructions(usize::MAX);
                // A builtin's error fails the run where the VM can tell (its default turns it
                // into undefined, which `not` would turn into a finding). Inside a function
                // rule's definition it is still that definition not holding, where the
                // interpreter fails the rule: `audit.compiled: false` for rule packs that count
                // on that.
                vm.set_strict_builtin_errors(true);
                vm
            });
            machine.set_input(input.clone());
            match machine.execute() {
                Ok(value) => return Ok(value),
                Err(err) if err.to_string().contains("time limit") => {
                    return Err(
                        "evaluation took longer than the rule time limit and was stopped"
                            .to_string(),
                    );
                }
                Err(_) => {}
            }
        }
        if !self.interpreter_has_input {
            self.engine.set_input(input.clone());
            self.interpreter_has_input = true;
        }
        self.eval(entry)
    }

    fn all_at_once(&mut self, input: &regorus::Value, rules: &[&Rule]) -> Option<Vec<Outcome>> {
        let packages: Vec<String> = rules.iter().map(|r| r.package.clone()).collect();
        let value = match self.batches.get(&packages).cloned() {
            Some(path) => self.run(input, &path).ok()?,
            None => {
                if !self.interpreter_has_input {
                    self.engine.set_input(input.clone());
                    self.interpreter_has_input = true;
                }
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
        self.interpreter_has_input = true;
    }

    /// Gives referential Gatekeeper templates the sides' objects (Gatekeeper's inventory); the
    /// engines that held others' are dropped.
    pub fn set_inventories(
        &mut self,
        inventories: Option<std::sync::Arc<super::gatekeeper::Inventories>>,
    ) {
        self.template_engines.retain(|(_, side), _| side.is_none());
        self.inventories = inventories;
    }

    /// A Constraint's `violation` set on the resource of `input`, through its template.
    fn gatekeeper(
        &mut self,
        input: &regorus::Value,
        rule: &Rule,
        binding: &super::gatekeeper::Binding,
    ) -> Outcome {
        let Some(template) = self.templates.get(binding.template) else {
            return Err("its ConstraintTemplate is not loaded".into());
        };
        let side = match input["gitdrift"]["side"].as_string().map(|s| s.to_string()) {
            Ok(side) if side == "live" => Side::Live,
            _ => Side::Desired,
        };
        let key = (binding.template, binding.referential.then_some(side));
        let engine = match self.template_engines.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let mut engine = template.engine.clone();
                if binding.referential {
                    let data = self
                        .inventories
                        .as_ref()
                        .and_then(|i| i.data.get(&side).cloned())
                        .unwrap_or_else(|| super::gatekeeper::inventory(std::iter::empty()));
                    engine.add_data(data).map_err(|e| e.to_string())?;
                }
                e.insert(engine)
            }
        };
        engine.set_input(super::gatekeeper::review(input, &binding.parameters));
        let value = engine
            .eval_rule(format!("data.{}.violation", rule.package))
            .map_err(|err| {
                let text = format!("{err:#}");
                if text.contains("TimeLimitExceeded") || text.contains("time limit") {
                    "evaluation took longer than the rule time limit and was stopped".to_string()
                } else {
                    rego_error(&err).1
                }
            })?;
        if value == regorus::Value::Undefined {
            return Ok(Vec::new());
        }
        messages(serde_json::to_value(&value).map_err(|e| e.to_string())?)
    }

    fn deny(&mut self, input: &regorus::Value, package: &str) -> Outcome {
        let value = self.run(input, &format!("data.{package}.deny"))?;
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
        assert_eq!(set.compiled(), 1, "the compiled program is what is stopped");
        let mut ev = set.evaluator();
        let started = std::time::Instant::now();
        let outcome = ev.evaluate(json!({"resource": {}}), &[&set.rules[0]]);
        assert!(started.elapsed() < Duration::from_secs(5));
        let err = outcome[0].clone().unwrap_err();
        assert!(err.contains("time limit"), "{err}");
        // The clock starts again for the next evaluation.
        let started = std::time::Instant::now();
        let again = ev.evaluate(json!({"resource": {}}), &[&set.rules[0]]);
        assert!(again[0].clone().unwrap_err().contains("time limit"));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

/// The compiled programs against the interpreter, on the built-in packs: every entry point
/// compiles, and both give the same outcomes on the workloads of the health corpus, the drift
/// corpus and the demo, on each side, with and without violations.
#[cfg(test)]
pub(crate) mod rvm_agrees {
    use serde_json::{Value, json};

    use super::*;
    use crate::audit::packs::RuleFile;
    use crate::model::Side;

    fn file(path: &str, text: &str) -> RuleFile {
        RuleFile::inline("p", path, text)
    }

    pub(crate) fn objects() -> Vec<Value> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for dir in ["tests/health-cases", "tests/drift-cases"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                let doc: Value = serde_saphyr::from_str(&text).unwrap();
                for case in doc["cases"].as_array().into_iter().flatten() {
                    out.push(case["object"].clone());
                }
                for side in ["desired", "live"] {
                    if doc[side].is_object() {
                        out.push(doc[side].clone());
                    }
                }
            }
        }
        // Every pod-level setting a Pod Security rule reads, set the wrong way at once.
        out.push(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad",
            "annotations": {"container.apparmor.security.beta.kubernetes.io/c": "unconfined"}},
            "spec": {"hostNetwork": true, "hostPID": true, "hostIPC": true,
              "securityContext": {"seccompProfile": {"type": "Unconfined"},
                "sysctls": [{"name": "kernel.shm_rmid_forced", "value": "0"}],
                "seLinuxOptions": {"type": "spc_t"}, "windowsOptions": {"hostProcess": true}},
              "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
              "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 80}],
                "securityContext": {"privileged": true, "allowPrivilegeEscalation": true,
                  "capabilities": {"add": ["SYS_ADMIN", "NET_RAW"]}, "procMount": "Unmasked",
                  "runAsUser": 0, "runAsNonRoot": false},
                "livenessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}}}]}}));
        out
    }

    #[test]
    fn built_in_rules_never_evaluate_a_whole_package_and_aliases_are_found() {
        let set = RuleSet::load(
            &crate::audit::packs::builtin(),
            Duration::from_secs(5),
            false,
        );
        for (entry, program) in set.programs.iter() {
            assert_eq!(
                whole_package_lookups(program),
                Vec::<String>::new(),
                "{entry}"
            );
        }
        // A helper rule read through a package alias is found.
        let lib = file(
            "lib/t.rego",
            "package t.lib\n\nlatest(image) if endswith(image, \":latest\")\n\nkinds := {\"Pod\"}\n",
        );
        let aliased = file(
            "pack/aliased.rego",
            "# METADATA\n# custom:\n#   id: aliased\n#   severity: low\n#   kinds: [Pod]\npackage t.aliased\n\nimport data.t.lib as helpers\n\ndeny contains \"kind\" if {\n  input.resource.kind in helpers.kinds\n}\n",
        );
        let set = RuleSet::load(&[lib, aliased], Duration::from_secs(5), false);
        let program = &set.programs["data.t.aliased.deny"];
        assert_eq!(
            whole_package_lookups(program),
            vec!["data.t.lib".to_string()]
        );
    }

    #[test]
    fn compiled_rules_judge_as_the_interpreter_does() {
        let set = RuleSet::load(
            &crate::audit::packs::builtin(),
            Duration::from_secs(5),
            false,
        );
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        let entries = set.batches.len() + set.rules.len();
        assert_eq!(set.compiled(), entries, "every entry point compiles");
        let mut compiled = set.evaluator();
        let mut interpreted = set.interpreter_only();
        let mut compared = 0;
        let mut violations = 0;
        for object in objects() {
            let api_version = object["apiVersion"].as_str().unwrap_or("");
            let (group, _) = crate::model::split_api_version(api_version);
            let kind = object["kind"].as_str().unwrap_or("");
            for side in [Side::Desired, Side::Live] {
                let rules: Vec<&Rule> = set
                    .rules
                    .iter()
                    .filter(|r| r.sides.contains(&side) && r.applies_to(group, kind))
                    .collect();
                if rules.is_empty() {
                    continue;
                }
                let input = json!({"resource": object, "gitdrift": {"side": side.as_str(),
                    "kind": kind, "group": group, "name": object["metadata"]["name"]}});
                let a = compiled.evaluate(input.clone(), &rules);
                let b = interpreted.evaluate(input, &rules);
                assert_eq!(a, b, "{kind} {}: {side:?}", object["metadata"]["name"]);
                // One rule at a time too (the path taken when a batch fails).
                for rule in &rules {
                    let one = json!({"resource": object});
                    assert_eq!(
                        compiled.evaluate(one.clone(), &[rule]),
                        interpreted.evaluate(one, &[rule]),
                        "{} on {kind}",
                        rule.id
                    );
                }
                violations += a.iter().flatten().map(Vec::len).sum::<usize>();
                compared += 1;
            }
        }
        // Ill-typed inputs (which an API server would refuse): every rule agrees except where
        // the interpreter fails a rule on a builtin's type error inside a function rule, which
        // the VM takes as the definition not holding (the one known difference, documented
        // with `audit.compiled`).
        for odd in [
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "odd",
                "annotations": {"container.apparmor.security.beta.kubernetes.io/c": 1}},
                "spec": {"containers": [{"name": "c", "image": 7, "ports": [{"hostPort": "80"}],
                  "securityContext": {"capabilities": {"add": [1, "ALL"]}, "runAsUser": "0",
                    "procMount": 3, "seccompProfile": {"type": 4}}}],
                  "securityContext": {"sysctls": [{"name": 5}]},
                  "volumes": [{"name": "v", "hostPath": {"path": 9}}]}}),
        ] {
            let rules: Vec<&Rule> = set
                .rules
                .iter()
                .filter(|r| r.applies_to("", "Pod"))
                .collect();
            let input = json!({"resource": odd, "gitdrift": {"side": "desired"}});
            let a = compiled.evaluate(input.clone(), &rules);
            let b = interpreted.evaluate(input, &rules);
            let mut differ = Vec::new();
            for ((rule, a), b) in rules.iter().zip(&a).zip(&b) {
                if a != b {
                    assert!(b.is_err(), "{}: {a:?} vs the interpreter's {b:?}", rule.id);
                    differ.push(rule.id.as_str());
                }
            }
            assert_eq!(differ, ["pss-baseline-apparmor-profile"], "{a:?}\n{b:?}");
        }
        assert!(compared > 100, "{compared} inputs");
        assert!(
            violations > 20,
            "{violations} violations: the inputs exercise the rules"
        );
    }
}
