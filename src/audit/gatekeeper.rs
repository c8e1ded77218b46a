//! Gatekeeper policies, unchanged: ConstraintTemplates (their Rego `violation` rules and `libs`)
//! and the Constraints that bind them to resources become rules (id `<ConstraintKind>.<name>`)
//! that run on both sides like every rule, so a team's existing Gatekeeper estate needs no
//! rewriting.
//!
//! Each template's Rego runs in an engine of its own, in Rego v0 as Gatekeeper reads it, so
//! templates' packages and libraries never meet. The input is what Gatekeeper's audit gives a
//! template: `input.review` (the object, its group/version/kind, namespace and name, the
//! operation `CREATE`, no `oldObject` and no `userInfo`) and `input.parameters` (the Constraint's
//! `spec.parameters`). A referential template (one that reads `data.inventory`) sees the
//! target's objects of the side judged — what git declares for desired findings, what runs for
//! live ones — in Gatekeeper's inventory shape. A Constraint's `spec.match` decides which
//! resources it judges; its `enforcementAction` its severity (`deny` high, `warn` medium,
//! `dryrun` info), unless the `gitdrift.dev/severity` annotation says otherwise.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::Rule;
use super::engine::LoadProblem;
use crate::config::Limits;
use crate::model::{Object, RuleSeverity, Side};

/// The pack Gatekeeper-derived rules belong to (for `audit.packs` and reports).
pub const PACK: &str = "gatekeeper";

/// The annotation (on a Constraint, or its template) that sets its rules' severity.
pub const SEVERITY_ANNOTATION: &str = "gitdrift.dev/severity";

/// A ConstraintTemplate's Rego, compiled in an engine of its own.
#[derive(Clone)]
pub struct Template {
    /// The constraint kind it defines (`K8sRequiredLabels`).
    pub kind: String,
    /// Its Rego package (`k8srequiredlabels`).
    pub package: String,
    /// The engine holding its Rego and libraries.
    pub engine: regorus::Engine,
    /// Whether it reads `data.inventory` (then it sees the side's objects).
    pub referential: bool,
    /// `metadata.gatekeeper.sh/title`, or the kind.
    pub title: String,
    /// Its `description` annotation.
    pub description: String,
    /// Where it is written.
    pub file: String,
    /// Its document's line there.
    pub line: u64,
    /// Its `gitdrift.dev/severity` annotation, if any.
    pub severity: Option<RuleSeverity>,
    /// Its Rego and libraries, as written (for fingerprints).
    pub text: String,
}

/// What ties a rule to its template: the template, the Constraint's parameters and its match.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// The template's index in [`Loaded::templates`] (and the rule set's).
    pub template: usize,
    /// `spec.parameters`, as the template reads them (`input.parameters`).
    pub parameters: regorus::Value,
    /// `spec.match`.
    pub matcher: Match,
    /// Whether the template reads `data.inventory`.
    pub referential: bool,
    /// The template's file and line, for `rules list`.
    pub template_file: String,
    /// The git source that declares the Constraint (`audit.gatekeeper.from_sources`): it runs
    /// only on that source's target. `None` for Constraints read from `audit.gatekeeper.paths`.
    pub source: Option<String>,
    /// The fingerprint of the Constraint and its template's Rego: `serve`'s memo reuses a rule
    /// result only while both are unchanged.
    pub print: u128,
}

/// What Gatekeeper documents gave: templates, one rule per Constraint, and what could not be
/// used (errors) or is left out on purpose (CEL-only templates, warnings).
#[derive(Clone, Default)]
pub struct Loaded {
    /// Templates with Rego, in the order read.
    pub templates: Vec<Template>,
    /// One rule per Constraint whose template is loaded.
    pub rules: Vec<Rule>,
    /// Documents that cannot be used.
    pub problems: Vec<LoadProblem>,
    /// Templates left out (no Rego: CEL only).
    pub warnings: Vec<LoadProblem>,
}

/// One Gatekeeper document and where it is written.
struct Document<'o> {
    object: &'o Object,
    value: Value,
    /// The git source that declares it, if one does.
    source: Option<&'o str>,
}

/// Whether an object is a Gatekeeper ConstraintTemplate or Constraint.
pub fn is_gatekeeper(object: &Object) -> bool {
    (object.group == "templates.gatekeeper.sh" && object.kind == "ConstraintTemplate")
        || object.group == "constraints.gatekeeper.sh"
}

/// Reads the ConstraintTemplates and Constraints in folders (or files) on disk: every
/// `.yaml`/`.yml`/`.json` file below them; other documents are passed over.
pub fn read_paths(
    paths: &[std::path::PathBuf],
    limits: &Limits,
) -> (Vec<Object>, Vec<LoadProblem>) {
    let mut objects = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        let files: Vec<std::path::PathBuf> = if path.is_file() {
            vec![path.clone()]
        } else if path.is_dir() {
            walkdir::WalkDir::new(path)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .filter(|p| crate::manifest::Syntax::of_path(&p.to_string_lossy()).is_some())
                .collect()
        } else {
            problems.push(LoadProblem {
                file: shown,
                line: None,
                message: "audit.gatekeeper.paths: no such file or folder".into(),
            });
            continue;
        };
        for file in files {
            let name = file.display().to_string();
            let Some(syntax) = crate::manifest::Syntax::of_path(&name) else {
                continue;
            };
            let bytes = match std::fs::read(&file) {
                Ok(bytes) => bytes,
                Err(err) => {
                    problems.push(LoadProblem {
                        file: name,
                        line: None,
                        message: format!("cannot read: {err}"),
                    });
                    continue;
                }
            };
            let parsed = crate::manifest::parse(&name, &bytes, syntax, limits);
            let gatekeeper: Vec<Object> =
                parsed.objects.into_iter().filter(is_gatekeeper).collect();
            // A file of other documents with errors is not ours to report.
            if !gatekeeper.is_empty() || looks_like_gatekeeper(&bytes) {
                problems.extend(parsed.errors.into_iter().map(|p| LoadProblem {
                    file: name.clone(),
                    line: p.line,
                    message: p.message,
                }));
            }
            objects.extend(gatekeeper);
        }
    }
    (objects, problems)
}

fn looks_like_gatekeeper(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(bytes).contains("gatekeeper.sh/")
}

/// Loads templates and the Constraints that use them (in any order), with `timeout` per
/// evaluation; each with the git source it comes from, if any. Rule ids are
/// `<ConstraintKind>.<name>`; a second Constraint with the same id, a Constraint whose template
/// is not loaded, a template whose Rego does not compile are problems, and the rest load.
pub fn load(objects: &[(&Object, Option<&str>)], timeout: std::time::Duration) -> Loaded {
    let mut loaded = Loaded::default();
    let documents: Vec<Document<'_>> = objects
        .iter()
        .filter(|(o, _)| is_gatekeeper(o))
        .map(|&(object, source)| Document {
            object,
            value: object.value().into_owned(),
            source,
        })
        .collect();
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for doc in documents
        .iter()
        .filter(|d| d.object.kind == "ConstraintTemplate")
    {
        match template(doc, timeout) {
            Ok(Some(template)) => {
                if let Some(&first) = by_kind.get(&template.kind) {
                    let earlier = &loaded.templates[first];
                    loaded.problems.push(problem(
                        doc,
                        format!(
                            "ConstraintTemplate {}: kind {} is already defined at {}:{}; this one is not used",
                            doc.object.name, template.kind, earlier.file, earlier.line
                        ),
                    ));
                    continue;
                }
                by_kind.insert(template.kind.clone(), loaded.templates.len());
                loaded.templates.push(template);
            }
            Ok(None) => loaded.warnings.push(problem(
                doc,
                format!(
                    "ConstraintTemplate {} has no Rego (only CEL, which gitdrift does not run): its constraints are skipped",
                    doc.object.name
                ),
            )),
            Err(message) => loaded.problems.push(problem(
                doc,
                format!("ConstraintTemplate {}: {message}", doc.object.name),
            )),
        }
    }
    let cel_only: Vec<String> = documents
        .iter()
        .filter(|d| d.object.kind == "ConstraintTemplate")
        .filter_map(|d| constraint_kind(&d.value))
        .filter(|k| !by_kind.contains_key(k))
        .collect();
    let mut ids: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for doc in documents
        .iter()
        .filter(|d| d.object.kind != "ConstraintTemplate")
    {
        let id = format!("{}.{}", doc.object.kind, doc.object.name);
        let Some(&index) = by_kind.get(&doc.object.kind) else {
            if !cel_only.contains(&doc.object.kind) {
                loaded.problems.push(problem(
                    doc,
                    format!(
                        "Constraint {id}: no ConstraintTemplate of kind {} is loaded; it is not run",
                        doc.object.kind
                    ),
                ));
            }
            continue;
        };
        if let Some((file, line)) = ids.get(&id) {
            loaded.problems.push(problem(
                doc,
                format!("Constraint {id} is already defined at {file}:{line}; this one is not run"),
            ));
            continue;
        }
        match constraint(doc, &loaded.templates[index], index, &id) {
            Ok(rule) => {
                ids.insert(id, (rule.file.clone(), rule.line));
                loaded.rules.push(rule);
            }
            Err(message) => loaded
                .problems
                .push(problem(doc, format!("Constraint {id}: {message}"))),
        }
    }
    loaded
}

fn problem(doc: &Document<'_>, message: String) -> LoadProblem {
    LoadProblem {
        file: doc.object.origin.file.clone(),
        line: doc.object.origin.line,
        message,
    }
}

fn constraint_kind(template: &Value) -> Option<String> {
    template
        .pointer("/spec/crd/spec/names/kind")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn annotation<'v>(value: &'v Value, name: &str) -> Option<&'v str> {
    value
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(name))
        .and_then(Value::as_str)
}

/// A template's engine, or `None` when it has no Rego for the admission target.
fn template(doc: &Document<'_>, timeout: std::time::Duration) -> Result<Option<Template>, String> {
    let value = &doc.value;
    let kind = constraint_kind(value).ok_or("spec.crd.spec.names.kind is not set")?;
    let targets = value
        .pointer("/spec/targets")
        .and_then(Value::as_array)
        .ok_or("spec.targets is not a list")?;
    let Some(target) = targets
        .iter()
        .find(|t| t.get("target").and_then(Value::as_str) == Some("admission.k8s.gatekeeper.sh"))
    else {
        return Err("no target admission.k8s.gatekeeper.sh".into());
    };
    // `rego` and `libs` (v1beta1 and v1), or a `code` entry of engine Rego (v1).
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (rego, libs) = match target.get("rego").and_then(Value::as_str) {
        Some(rego) => (rego.to_string(), strings(target.get("libs"))),
        None => {
            let code = target
                .get("code")
                .and_then(Value::as_array)
                .and_then(|code| {
                    code.iter()
                        .find(|c| c.get("engine").and_then(Value::as_str) == Some("Rego"))
                });
            let Some(source) = code.and_then(|c| c.get("source")) else {
                return Ok(None);
            };
            let rego = source
                .get("rego")
                .and_then(Value::as_str)
                .ok_or("the Rego code entry has no source.rego")?;
            (rego.to_string(), strings(source.get("libs")))
        }
    };
    let package = package_of(&rego).ok_or("its Rego has no package")?;
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(true);
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: timeout,
        check_interval: std::num::NonZeroU32::new(64).expect("non-zero"),
    });
    // What OPA reads otherwise than regorus, read as OPA reads it.
    engine
        .add_extension("sprintf".into(), 2, Box::new(go_sprintf))
        .map_err(|e| e.to_string())?;
    let file = doc.object.origin.file.clone();
    engine
        .add_policy(format!("{file} (rego)"), separate_lines(&rego))
        .map_err(|e| {
            format!(
                "its Rego does not compile: {}",
                super::engine::rego_error(&e).1
            )
        })?;
    for (n, lib) in libs.iter().enumerate() {
        engine
            .add_policy(format!("{file} (lib {n})"), separate_lines(lib))
            .map_err(|e| {
                format!(
                    "its lib {n} does not compile: {}",
                    super::engine::rego_error(&e).1
                )
            })?;
    }
    // `data.inventory`, `data["inventory"]`: any mention reads it (a false guess only costs
    // building the inventory).
    let referential = std::iter::once(&rego)
        .chain(&libs)
        .any(|r| r.contains("inventory"));
    let text = std::iter::once(rego.as_str())
        .chain(libs.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("\n---\n");
    let severity = annotation(value, SEVERITY_ANNOTATION)
        .map(|s| {
            s.parse::<RuleSeverity>()
                .map_err(|()| format!("{SEVERITY_ANNOTATION}: `{s}` is not a severity"))
        })
        .transpose()?;
    Ok(Some(Template {
        title: annotation(value, "metadata.gatekeeper.sh/title")
            .unwrap_or(&kind)
            .to_string(),
        description: annotation(value, "description")
            .unwrap_or_default()
            .trim()
            .to_string(),
        kind,
        package,
        engine,
        referential,
        file,
        line: doc.object.origin.line.unwrap_or(1),
        severity,
        text,
    }))
}

/// Rego as OPA reads it where regorus (0.14) reads it otherwise, so that templates run
/// unchanged:
/// - a line that ends in a reference and a next line that starts with `(` are two expressions
///   for OPA (a newline ends an expression), one call for regorus: an explicit separator (`;`)
///   after the reference keeps them apart;
/// - a partial set rule with several bodies (`violation[x] { … } { … }`, each body a definition
///   of its own) is refused by regorus: each body after the first gets the head again, on a line
///   of its own.
fn separate_lines(rego: &str) -> String {
    let rego = repeat_set_heads(rego);
    let rego = rego.as_str();
    const CONTINUING: &[&str] = &[
        "in", "not", "with", "as", "else", "if", "contains", "some", "every", "default", "package",
        "import",
    ];
    let mut out = String::with_capacity(rego.len() + 8);
    let mut lines = rego.split('\n').peekable();
    while let Some(line) = lines.next() {
        out.push_str(line);
        let code = line.trim_end();
        let ends_in_ref = !code.contains('#')
            && code.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ']')
            && !CONTINUING.iter().any(|k| {
                code.strip_suffix(k)
                    .is_some_and(|before| before.is_empty() || before.ends_with([' ', '\t']))
            });
        if ends_in_ref
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with('('))
        {
            out.push(';');
        }
        if lines.peek().is_some() {
            out.push('\n');
        }
    }
    out
}

/// [`separate_lines`]' second part: `} {` after a partial set rule's body opens another
/// definition of the rule.
fn repeat_set_heads(rego: &str) -> String {
    let mut out = String::with_capacity(rego.len());
    let mut head: Option<&str> = None;
    for line in rego.split_inclusive('\n') {
        let code = line.trim_end();
        if code.trim_start() == "} {"
            && let Some(head) = head
        {
            let indent = &code[..code.len() - code.trim_start().len()];
            out.push_str(&format!("{indent}}}\n{head} {{"));
            out.push_str(&line[code.len()..]);
            continue;
        }
        if !line.starts_with([' ', '\t', '}', '#']) && code.ends_with('{') {
            // A rule head: a partial set rule's is a reference with no value and no arguments.
            let name = code.trim_end_matches('{').trim_end();
            head =
                (name.ends_with(']') && !name.contains('=') && !name.contains('(')).then_some(name);
        }
        out.push_str(line);
    }
    out
}

/// `sprintf` as OPA has it (Go's `fmt`): a verb without an argument prints `%!v(MISSING)`
/// where regorus's fails the rule, and Gatekeeper's own library has a template that counts on
/// it. Everything else is regorus's `sprintf`, asked in an engine of its own.
fn go_sprintf(params: Vec<regorus::Value>) -> anyhow::Result<regorus::Value> {
    use regorus::Value as V;
    thread_local! {
        static INNER: std::cell::RefCell<regorus::Engine> = std::cell::RefCell::new(regorus::Engine::new());
    }
    let [format, args]: [V; 2] = params
        .try_into()
        .map_err(|_| anyhow::anyhow!("sprintf takes a format and a list of arguments"))?;
    let given = match &args {
        V::Array(items) => items.len(),
        _ => usize::MAX,
    };
    let format = V::from(missing_verbs(format.as_string()?.as_ref(), given));
    INNER.with(|inner| {
        let mut inner = inner.borrow_mut();
        inner.set_input(V::from(vec![format, args]));
        let results = inner.eval_query("sprintf(input[0], input[1])".into(), false)?;
        results
            .result
            .into_iter()
            .next()
            .and_then(|r| r.expressions.into_iter().next())
            .map(|e| e.value)
            .ok_or_else(|| anyhow::anyhow!("sprintf gave nothing"))
    })
}

/// A format with each verb past the `given` arguments written out as Go prints it:
/// `%!v(MISSING)` (its `%` escaped).
fn missing_verbs(format: &str, given: usize) -> String {
    let mut out = String::with_capacity(format.len());
    let mut chars = format.chars().peekable();
    let mut index = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push_str("%%");
            continue;
        }
        let mut spec = String::from("%");
        while let Some(&f) = chars.peek() {
            spec.push(f);
            chars.next();
            if f.is_ascii_alphabetic() {
                break;
            }
        }
        if index >= given {
            let verb = spec
                .chars()
                .last()
                .filter(char::is_ascii_alphabetic)
                .unwrap_or('v');
            out.push_str(&format!("%%!{verb}(MISSING)"));
        } else {
            out.push_str(&spec);
        }
        index += 1;
    }
    out
}

/// The package a Rego module declares.
fn package_of(rego: &str) -> Option<String> {
    rego.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("package ")?;
        Some(rest.split('#').next()?.trim().to_string())
    })
}

/// A Constraint as a rule.
fn constraint(
    doc: &Document<'_>,
    template: &Template,
    index: usize,
    id: &str,
) -> Result<Rule, String> {
    let value = &doc.value;
    let spec = value.get("spec").cloned().unwrap_or(Value::Null);
    let matcher = Match::read(spec.get("match").unwrap_or(&Value::Null))?;
    let action = audit_action(&spec)?;
    let severity = match annotation(value, SEVERITY_ANNOTATION) {
        Some(s) => s
            .parse::<RuleSeverity>()
            .map_err(|()| format!("{SEVERITY_ANNOTATION}: `{s}` is not a severity"))?,
        None => template.severity.unwrap_or(match action.as_str() {
            "warn" => RuleSeverity::Medium,
            "dryrun" => RuleSeverity::Info,
            _ => RuleSeverity::High,
        }),
    };
    let kinds = matcher.kind_names();
    Ok(Rule {
        id: id.to_string(),
        title: template.title.clone(),
        description: if template.description.is_empty() {
            format!("Gatekeeper constraint {id} (template {})", template.kind)
        } else {
            template.description.clone()
        },
        severity,
        controls: Default::default(),
        remediation: None,
        kinds,
        sides: vec![Side::Desired, Side::Live],
        pack: PACK.to_string(),
        package: template.package.clone(),
        file: doc.object.origin.file.clone(),
        line: doc.object.origin.line.unwrap_or(1),
        reads: None,
        gatekeeper: Some(Arc::new(Binding {
            template: index,
            parameters: regorus::Value::from(
                spec.get("parameters")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Default::default())),
            ),
            matcher,
            referential: template.referential,
            template_file: format!("{}:{}", template.file, template.line),
            source: doc.source.map(str::to_string),
            print: crate::model::fingerprint::Fingerprint::new()
                .json(value)
                .str(&template.text)
                .str(&format!("{:?} {}", template.severity, template.title))
                .finish(),
        })),
    })
}

/// The action a Constraint takes in Gatekeeper's audit: its `enforcementAction` (`deny` when
/// unset), or with `scoped`, the strongest action its `scopedEnforcementActions` give the audit
/// (`audit.gatekeeper.sh`, or `*`). `Err` for an action Gatekeeper does not know, and for a
/// scoped Constraint that leaves the audit out (it is not run).
fn audit_action(spec: &Value) -> Result<String, String> {
    let action = spec
        .get("enforcementAction")
        .and_then(Value::as_str)
        .unwrap_or("deny");
    match action {
        "deny" | "warn" | "dryrun" => Ok(action.to_string()),
        "scoped" => {
            let rank = |a: &str| match a {
                "deny" => 3,
                "warn" => 2,
                _ => 1,
            };
            let mut found: Option<&str> = None;
            for entry in spec
                .get("scopedEnforcementActions")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let audits = entry
                    .get("enforcementPoints")
                    .and_then(Value::as_array)
                    .is_some_and(|points| {
                        points.iter().any(|p| {
                            matches!(
                                p.get("name").and_then(Value::as_str),
                                Some("audit.gatekeeper.sh" | "*")
                            )
                        })
                    });
                if let Some(this) = entry.get("action").and_then(Value::as_str)
                    && audits
                    && found.is_none_or(|f| rank(this) > rank(f))
                {
                    found = Some(this);
                }
            }
            found.map(str::to_string).ok_or_else(|| {
                "its scopedEnforcementActions leave out the audit (audit.gatekeeper.sh): it is not run"
                    .to_string()
            })
        }
        other => Err(format!(
            "enforcementAction `{other}` is not deny, warn, dryrun or scoped"
        )),
    }
}

/// A Constraint's `spec.match`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Match {
    /// `kinds`: API groups and kinds (`*` any); empty: every kind.
    kinds: Vec<(Vec<String>, Vec<String>)>,
    /// `namespaces` (globs with `*` at one end).
    namespaces: Vec<String>,
    /// `excludedNamespaces`.
    excluded: Vec<String>,
    /// `labelSelector`.
    labels: Option<LabelSelector>,
    /// `namespaceSelector`.
    namespace_labels: Option<LabelSelector>,
    /// `scope`: `*`, `Cluster` or `Namespaced`.
    scope: Option<String>,
    /// `name` (a glob with `*` at one end).
    name: Option<String>,
}

fn string_list(value: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("spec.match.{what} must be a list of strings"))
            })
            .collect(),
        Some(_) => Err(format!("spec.match.{what} must be a list of strings")),
    }
}

impl Match {
    fn read(value: &Value) -> Result<Match, String> {
        if value.is_null() {
            return Ok(Match::default());
        }
        // A match that cannot be read must not match everything.
        if !value.is_object() {
            return Err("spec.match must be a mapping".into());
        }
        let text = |key: &str| match value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("spec.match.{key} must be a string")),
        };
        let scope = text("scope")?;
        if let Some(scope) = &scope
            && !matches!(scope.as_str(), "*" | "Cluster" | "Namespaced")
        {
            return Err(format!(
                "spec.match.scope must be *, Cluster or Namespaced, not `{scope}`"
            ));
        }
        let name = text("name")?;
        let entries = match value.get("kinds") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(entries)) => entries.as_slice(),
            Some(_) => return Err("spec.match.kinds must be a list".into()),
        };
        for key in ["labelSelector", "namespaceSelector"] {
            if value
                .get(key)
                .is_some_and(|s| !s.is_object() && !s.is_null())
            {
                return Err(format!("spec.match.{key} must be a mapping"));
            }
        }
        let mut kinds = Vec::new();
        for entry in entries {
            kinds.push((
                string_list(entry.get("apiGroups"), "kinds.apiGroups")?,
                string_list(entry.get("kinds"), "kinds.kinds")?,
            ));
        }
        Ok(Match {
            kinds,
            namespaces: string_list(value.get("namespaces"), "namespaces")?,
            excluded: string_list(value.get("excludedNamespaces"), "excludedNamespaces")?,
            labels: value
                .get("labelSelector")
                .filter(|s| !s.is_null())
                .map(|s| LabelSelector::read(s, "labelSelector"))
                .transpose()?,
            namespace_labels: value
                .get("namespaceSelector")
                .filter(|s| !s.is_null())
                .map(|s| LabelSelector::read(s, "namespaceSelector"))
                .transpose()?,
            scope,
            name,
        })
    }

    /// The kinds it names as rule kinds (`Kind.group`), or `*` for any.
    fn kind_names(&self) -> Vec<String> {
        if self.kinds.is_empty() {
            return vec!["*".into()];
        }
        let mut out = Vec::new();
        for (groups, kinds) in &self.kinds {
            let any = ["*".to_string()];
            let kinds = if kinds.is_empty() { &any[..] } else { kinds };
            let groups = if groups.is_empty() { &any[..] } else { groups };
            for kind in kinds {
                for group in groups {
                    out.push(match (kind.as_str(), group.as_str()) {
                        (kind, "") => kind.to_string(),
                        (kind, group) => format!("{kind}.{group}"),
                    });
                }
            }
        }
        out
    }

    /// Whether it names resources of this group and kind.
    pub fn kind_matches(&self, group: &str, kind: &str) -> bool {
        if crate::model::aws::is_aws(group) {
            return false;
        }
        self.kinds.is_empty()
            || self.kinds.iter().any(|(groups, kinds)| {
                (groups.is_empty() || groups.iter().any(|g| g == "*" || g == group))
                    && (kinds.is_empty() || kinds.iter().any(|k| k == "*" || k == kind))
            })
    }

    /// Whether it judges this object: namespaces, labels, scope and name (its kind is judged by
    /// [`Match::kind_matches`]). `namespace_labels` gives a namespace's labels, where known.
    pub fn matches(
        &self,
        object: &Object,
        labels: &BTreeMap<String, String>,
        namespace_labels: &dyn Fn(&str) -> Option<BTreeMap<String, String>>,
    ) -> bool {
        let is_namespace = object.group.is_empty() && object.kind == "Namespace";
        let namespace = if is_namespace {
            Some(object.name.as_str())
        } else {
            object.namespace.as_deref().filter(|n| !n.is_empty())
        };
        match self.scope.as_deref() {
            Some("Cluster") if object.namespace.is_some() => return false,
            Some("Namespaced") if object.namespace.is_none() => return false,
            _ => {}
        }
        if let Some(name) = &self.name
            && !glob(name, &object.name)
        {
            return false;
        }
        if let Some(ns) = namespace {
            if !self.namespaces.is_empty() && !self.namespaces.iter().any(|p| glob(p, ns)) {
                return false;
            }
            if self.excluded.iter().any(|p| glob(p, ns)) {
                return false;
            }
        }
        if let Some(selector) = &self.labels
            && !selector.matches(labels)
        {
            return false;
        }
        if let Some(selector) = &self.namespace_labels {
            let of_namespace = if is_namespace {
                Some(labels.clone())
            } else {
                namespace.and_then(namespace_labels)
            };
            // Cluster-scoped objects other than Namespaces are not in a namespace to select.
            match of_namespace {
                Some(ns_labels) => return selector.matches(&ns_labels),
                None => return namespace.is_none(),
            }
        }
        true
    }

    /// Whether it selects namespaces by label (then matching needs the namespaces' labels).
    pub fn selects_namespaces(&self) -> bool {
        self.namespace_labels.is_some()
    }
}

/// A Gatekeeper name glob: exact, or with `*` at its start, its end, or both (contains).
fn glob(pattern: &str, name: &str) -> bool {
    if let Some(middle) = pattern.strip_prefix('*').and_then(|p| p.strip_suffix('*')) {
        name.contains(middle)
    } else if let Some(prefix) = pattern.strip_suffix('*') {
        name.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        name.ends_with(suffix)
    } else {
        pattern == name
    }
}

/// A Kubernetes label selector: `matchLabels` and `matchExpressions`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector {
    labels: BTreeMap<String, String>,
    /// Key, operator and values.
    expressions: Vec<(String, String, Vec<String>)>,
}

impl LabelSelector {
    fn read(value: &Value, what: &str) -> Result<LabelSelector, String> {
        let mut selector = LabelSelector::default();
        if let Some(labels) = value.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in labels {
                let v = v.as_str().ok_or_else(|| {
                    format!("spec.match.{what}.matchLabels values must be strings")
                })?;
                selector.labels.insert(k.clone(), v.to_string());
            }
        }
        for e in value
            .get("matchExpressions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let operator = e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !matches!(operator, "In" | "NotIn" | "Exists" | "DoesNotExist") {
                return Err(format!(
                    "spec.match.{what}: operator `{operator}` is not In, NotIn, Exists or DoesNotExist"
                ));
            }
            selector.expressions.push((
                key.to_string(),
                operator.to_string(),
                string_list(e.get("values"), &format!("{what}.matchExpressions.values"))?,
            ));
        }
        Ok(selector)
    }

    /// Whether labels satisfy it.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|(key, op, values)| {
                let value = labels.get(key);
                match op.as_str() {
                    "In" => value.is_some_and(|v| values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !values.contains(v)),
                    "Exists" => value.is_some(),
                    _ => value.is_none(),
                }
            })
    }
}

/// An object's labels.
pub fn labels(value: &Value) -> BTreeMap<String, String> {
    value
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| {
            l.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Gatekeeper's inventory of a side's objects: `namespace.<ns>.<apiVersion>.<kind>.<name>` for
/// namespaced objects, `cluster.<apiVersion>.<kind>.<name>` for the rest.
pub fn inventory<'o>(objects: impl Iterator<Item = &'o Object>) -> regorus::Value {
    use regorus::Value as V;
    /// Objects by apiVersion, kind and name.
    type ByVersion = BTreeMap<V, BTreeMap<V, BTreeMap<V, V>>>;
    let mut namespaced: BTreeMap<V, ByVersion> = BTreeMap::new();
    let mut cluster: ByVersion = BTreeMap::new();
    for object in objects {
        let value =
            V::from(super::secret_redacted(object).unwrap_or_else(|| object.value().into_owned()));
        let (gv, kind, name) = (
            V::from(object.api_version.as_str()),
            V::from(object.kind.as_str()),
            V::from(object.name.as_str()),
        );
        let by_gv = match object.namespace.as_deref().filter(|n| !n.is_empty()) {
            Some(ns) => namespaced.entry(V::from(ns)).or_default(),
            None => &mut cluster,
        };
        by_gv
            .entry(gv)
            .or_default()
            .entry(kind)
            .or_default()
            .insert(name, value);
    }
    let nest3 = |m: ByVersion| {
        V::from(
            m.into_iter()
                .map(|(gv, kinds)| {
                    (
                        gv,
                        V::from(
                            kinds
                                .into_iter()
                                .map(|(k, names)| (k, V::from(names)))
                                .collect::<BTreeMap<V, V>>(),
                        ),
                    )
                })
                .collect::<BTreeMap<V, V>>(),
        )
    };
    let namespaced: BTreeMap<V, V> = namespaced
        .into_iter()
        .map(|(ns, m)| (ns, nest3(m)))
        .collect();
    let mut inventory = BTreeMap::new();
    inventory.insert(V::from("namespace"), V::from(namespaced));
    inventory.insert(V::from("cluster"), nest3(cluster));
    let mut data = BTreeMap::new();
    data.insert(V::from("inventory"), V::from(inventory));
    V::from(data)
}

/// The input a template sees for the resource of a gitdrift input document (see
/// [`crate::audit`]): Gatekeeper's audit review of it, and the Constraint's parameters.
pub fn review(input: &regorus::Value, parameters: &regorus::Value) -> regorus::Value {
    use regorus::Value as V;
    let resource = &input["resource"];
    let context = &input["gitdrift"];
    let api_version = resource["apiVersion"]
        .as_string()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let (group, version) = match api_version.rsplit_once('/') {
        Some((group, version)) => (group.to_string(), version.to_string()),
        None => (String::new(), api_version.clone()),
    };
    let text = |v: &V| match v {
        V::String(s) => V::String(s.clone()),
        _ => V::from(""),
    };
    let mut kind = BTreeMap::new();
    kind.insert(V::from("group"), V::from(group));
    kind.insert(V::from("version"), V::from(version));
    kind.insert(V::from("kind"), text(&resource["kind"]));
    let mut review = BTreeMap::new();
    review.insert(V::from("kind"), V::from(kind));
    review.insert(V::from("name"), text(&context["name"]));
    review.insert(V::from("namespace"), text(&context["namespace"]));
    review.insert(V::from("operation"), V::from("CREATE"));
    review.insert(V::from("object"), resource.clone());
    let mut document = BTreeMap::new();
    document.insert(V::from("review"), V::from(review));
    document.insert(V::from("parameters"), parameters.clone());
    V::from(document)
}

/// Whether a rule's binding is a Gatekeeper one that needs the side's objects, or their
/// namespaces' labels.
pub fn needs_inventory(rule: &Rule) -> bool {
    rule.gatekeeper
        .as_ref()
        .is_some_and(|b| b.referential || b.matcher.selects_namespaces())
}

/// What referential Constraints see of a target, made once per evaluation of it: Gatekeeper's
/// inventory of each side, and each side's namespaces' labels (for `namespaceSelector`).
#[derive(Debug, Default)]
pub struct Inventories {
    /// The data document (`{"inventory": …}`) of each side.
    pub data: BTreeMap<Side, regorus::Value>,
    /// Each side's namespaces' labels.
    pub namespaces: BTreeMap<Side, BTreeMap<String, BTreeMap<String, String>>>,
}

impl Inventories {
    /// The inventories of a target's objects (`with_data`: Gatekeeper's inventory too, not
    /// only the namespaces' labels).
    pub fn of<'o>(objects: impl Iterator<Item = (Side, &'o Object)>, with_data: bool) -> Self {
        let mut by_side: BTreeMap<Side, Vec<&Object>> = BTreeMap::new();
        for (side, object) in objects {
            by_side.entry(side).or_default().push(object);
        }
        let mut out = Inventories::default();
        for (side, objects) in by_side {
            let namespaces = objects
                .iter()
                .filter(|o| o.group.is_empty() && o.kind == "Namespace")
                .map(|o| (o.name.clone(), labels(&o.value())))
                .collect();
            out.namespaces.insert(side, namespaces);
            if with_data {
                out.data.insert(side, inventory(objects.into_iter()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Rego read as OPA reads it: a reference and a parenthesised expression on the next line
    /// stay two expressions; a verb without an argument prints as Go prints it.
    #[test]
    fn templates_read_as_opa_reads_them() {
        assert_eq!(
            separate_lines("f(x) {\n  input.a\n  (x - 1) > 0\n}\nx := a in\n(b)"),
            "f(x) {\n  input.a;\n  (x - 1) > 0\n}\nx := a in\n(b)"
        );
        assert_eq!(
            separate_lines(
                "violation[{\"msg\": m}] {\n  a\n} {\n  b\n}\nf(x) = y {\n  y := 1\n} {\n  y := 2\n}\n"
            ),
            "violation[{\"msg\": m}] {\n  a\n}\nviolation[{\"msg\": m}] {\n  b\n}\nf(x) = y {\n  y := 1\n} {\n  y := 2\n}\n"
        );
        assert_eq!(
            missing_verbs("%v <%v> 100%% of %d: %5.2f", 2),
            "%v <%v> 100%% of %%!d(MISSING): %%!f(MISSING)"
        );
        let printed = go_sprintf(vec![
            regorus::Value::from("%v has %v of %v"),
            regorus::Value::from(vec![regorus::Value::from("web"), regorus::Value::from(2)]),
        ])
        .unwrap();
        assert_eq!(printed, regorus::Value::from("web has 2 of %!v(MISSING)"));
    }

    fn object(value: Value) -> Object {
        crate::manifest::object_from_value("test", value).unwrap()
    }

    const TEMPLATE: &str = "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: k8sdemo\nspec:\n  crd:\n    spec:\n      names:\n        kind: K8sDemo\n  targets:\n    - target: admission.k8s.gatekeeper.sh\n      rego: |\n        package k8sdemo\n        violation[{\"msg\": \"no\"}] { input.parameters.fail }\n";

    fn constraint(name: &str, extra: &str) -> String {
        format!(
            "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sDemo\nmetadata:\n  name: {name}\n{extra}spec:\n  parameters: {{fail: true}}\n"
        )
    }

    fn loaded(text: &str) -> Loaded {
        let parsed = crate::manifest::parse(
            "policies.yaml",
            text.as_bytes(),
            crate::manifest::Syntax::Yaml,
            &Default::default(),
        );
        let objects: Vec<(&Object, Option<&str>)> =
            parsed.objects.iter().map(|o| (o, None)).collect();
        load(&objects, std::time::Duration::from_secs(1))
    }

    /// Severities follow `enforcementAction` unless annotated; what cannot be used is a problem
    /// naming file and line, and the rest loads.
    #[test]
    fn constraints_load_with_severities_and_problems_in_place() {
        let text = [
            constraint("plain", ""),
            constraint("warned", "").replace("spec:\n", "spec:\n  enforcementAction: warn\n"),
            constraint("dry", "").replace("spec:\n", "spec:\n  enforcementAction: dryrun\n"),
            constraint(
                "annotated",
                "  annotations:\n    gitdrift.dev/severity: critical\n",
            )
            .replace("spec:\n", "spec:\n  enforcementAction: dryrun\n"),
            constraint("plain", ""),
            "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sOrphan\nmetadata:\n  name: lost\n".to_string(),
            TEMPLATE.replace("k8sdemo\n        violation", "k8sdemo\n        violation[").replace("K8sDemo", "K8sBroken"),
            TEMPLATE.to_string(),
        ]
        .join("---\n");
        let loaded = loaded(&text);
        let severity = |id: &str| {
            loaded
                .rules
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.severity)
                .unwrap_or_else(|| panic!("no rule {id}"))
        };
        assert_eq!(severity("K8sDemo.plain"), RuleSeverity::High);
        assert_eq!(severity("K8sDemo.warned"), RuleSeverity::Medium);
        assert_eq!(severity("K8sDemo.dry"), RuleSeverity::Info);
        assert_eq!(severity("K8sDemo.annotated"), RuleSeverity::Critical);
        assert_eq!(loaded.rules.len(), 4, "the second `plain` is left out");
        let messages: Vec<(String, Option<u64>)> = loaded
            .problems
            .iter()
            .map(|p| (p.message.clone(), p.line))
            .collect();
        assert_eq!(messages.len(), 3, "{messages:#?}");
        assert!(
            messages
                .iter()
                .any(|(m, _)| m.contains("K8sDemo.plain is already defined at policies.yaml:1")),
            "{messages:#?}"
        );
        assert!(
            messages
                .iter()
                .any(|(m, _)| m.contains("no ConstraintTemplate of kind K8sOrphan")),
            "{messages:#?}"
        );
        assert!(
            messages.iter().any(
                |(m, _)| m.starts_with("ConstraintTemplate k8sdemo: its Rego does not compile")
            ),
            "{messages:#?}"
        );
        assert!(
            messages.iter().all(|(_, line)| line.is_some()),
            "{messages:#?}"
        );
        assert_eq!(loaded.templates.len(), 1);
    }

    /// `scoped` Constraints run with the strongest action they give the audit, or not at all;
    /// an unknown action and a match that cannot be read are errors.
    #[test]
    fn audit_actions_and_malformed_matches() {
        let scoped = |points: &str| {
            json!({"enforcementAction": "scoped", "scopedEnforcementActions": [
                {"action": "warn", "enforcementPoints": [{"name": points}]},
                {"action": "deny", "enforcementPoints": [{"name": "validation.gatekeeper.sh"}]}]})
        };
        assert_eq!(
            audit_action(&scoped("audit.gatekeeper.sh")),
            Ok("warn".into())
        );
        assert_eq!(audit_action(&scoped("*")), Ok("warn".into()));
        assert!(audit_action(&scoped("gator.gatekeeper.sh")).is_err());
        assert!(audit_action(&json!({"enforcementAction": "block"})).is_err());
        assert_eq!(audit_action(&json!({})), Ok("deny".into()));
        for bad in [
            json!("everything"),
            json!({"kinds": {"kinds": ["Pod"]}}),
            json!({"scope": "Everywhere"}),
            json!({"name": 3}),
            json!({"labelSelector": ["a"]}),
        ] {
            assert!(Match::read(&bad).is_err(), "{bad}");
        }
        assert!(glob("*-system-*", "kube-system-x") && !glob("*-system-*", "system"));
        assert_eq!(
            Match::read(&json!({"kinds": [{"kinds": ["Pod"]}]}))
                .unwrap()
                .kind_names(),
            vec!["Pod.*"]
        );
    }

    /// A Constraint's match: kinds with wildcards, namespace globs, exclusions, label and
    /// namespace selectors, scope and name.
    #[test]
    fn constraints_match_as_gatekeeper_matches() {
        let m = Match::read(&json!({
            "kinds": [{"apiGroups": ["", "apps"], "kinds": ["Pod", "Deployment"]}],
            "namespaces": ["shop-*", "*-prod"],
            "excludedNamespaces": ["shop-test"],
            "labelSelector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["debug"]}]},
        }))
        .unwrap();
        assert!(m.kind_matches("apps", "Deployment") && m.kind_matches("", "Pod"));
        assert!(!m.kind_matches("batch", "Job"));
        let none = |_: &str| None;
        let pod = |ns: &str, tier: &str| {
            object(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": ns, "labels": {"tier": tier}}}))
        };
        for (ns, tier, expected) in [
            ("shop-a", "web", true),
            ("web-prod", "web", true),
            ("shop-test", "web", false),
            ("other", "web", false),
            ("shop-a", "debug", false),
        ] {
            let o = pod(ns, tier);
            assert_eq!(
                m.matches(&o, &labels(&o.value()), &none),
                expected,
                "{ns} {tier}"
            );
        }
        let selected = Match::read(&json!({"namespaceSelector": {"matchLabels": {"env": "prod"}}, "scope": "Namespaced", "name": "web*"})).unwrap();
        let prod = |ns: &str| {
            (ns == "shop").then(|| BTreeMap::from([("env".to_string(), "prod".to_string())]))
        };
        let web = object(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-1", "namespace": "shop"}}),
        );
        assert!(selected.matches(&web, &BTreeMap::new(), &prod));
        let elsewhere = object(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-1", "namespace": "dev"}}),
        );
        assert!(!selected.matches(&elsewhere, &BTreeMap::new(), &prod));
        let db = object(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "shop"}}),
        );
        assert!(!selected.matches(&db, &BTreeMap::new(), &prod));
        let cluster = object(
            json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "web-pv"}}),
        );
        assert!(
            !selected.matches(&cluster, &BTreeMap::new(), &prod),
            "scope"
        );
    }
}
