//! What a rule reads of its input (`custom.reads` in its METADATA), so that resources whose read
//! parts are equal share one evaluation.
//!
//! A Pod Security rule reads a pod's security settings and its containers' names, nothing of
//! their images, environment or labels; across an estate most workloads share a few dozen such
//! shapes. A scan evaluates each shape once and gives every resource of that shape the same
//! messages. A rule that declares nothing is evaluated on every resource, as before.
//!
//! A path names a part of the input document (see [`crate::audit`]), one segment per level:
//!
//! - `resource.spec.hostNetwork`: a field of the resource (kept whole, with everything under it);
//! - `pod.spec.containers`: the pod template, wherever the resource's kind keeps it (the `pod_spec`
//!   and `pod_metadata` of the built-in `kubernetes` helpers: a Pod's own `spec` and `metadata`,
//!   a workload's `spec.template`, a CronJob's `spec.jobTemplate.spec.template`);
//! - `*`: every key of a mapping, or every element of a list (a list keeps its length);
//! - `{containers,initContainers}`: any of these keys;
//! - a last segment ending in `?` (`pod.spec.volumes.*.*?`): only whether the field is there,
//!   not its value;
//! - `gitdrift` (or any path under it): the input's context (target, side, names, source).
//!
//! `resource.kind` and `resource.apiVersion` are always read. A declaration must name everything
//! the rule's outcome depends on, messages included: declaring more than needed costs only
//! sharing (a path that reads into a field another path only tests for keeps what it reads),
//! declaring less is wrong. Tests hold every built-in rule that declares its reads to the same
//! outcome on its projected input as on the whole resource.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::model::fingerprint::Fingerprint;
use crate::model::{Body, Object};

/// Kinds whose `spec.template` is a pod template (the helpers' `template_kinds`).
pub const TEMPLATE_KINDS: [&str; 6] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "ReplicationController",
];

/// Checks a declared path; the message says what is wrong with it.
pub fn check(path: &str) -> Result<(), String> {
    let segments = split(path);
    let root = segments.first().copied().unwrap_or("");
    if !matches!(root, "resource" | "pod" | "gitdrift") {
        return Err(format!(
            "read path `{path}` must start with `resource`, `pod` or `gitdrift`"
        ));
    }
    if root != "gitdrift" && segments.len() < 2 {
        return Err(format!(
            "read path `{path}` names the whole {root}: say which fields the rule reads"
        ));
    }
    for (i, segment) in segments.iter().enumerate() {
        let bare = segment.strip_suffix('?').unwrap_or(segment);
        if bare.is_empty() || (segment.ends_with('?') && i + 1 != segments.len()) {
            return Err(format!(
                "read path `{path}` has an empty segment, or a `?` before its last one"
            ));
        }
        let inner = bare.strip_prefix('{').and_then(|b| b.strip_suffix('}'));
        let plain = |key: &str| !key.is_empty() && !key.contains(['{', '}', ',', '*', '?']);
        let fine = match inner {
            Some(list) => list.split(',').all(plain),
            None => bare == "*" || plain(bare),
        };
        if !fine {
            return Err(format!(
                "read path `{path}`: `{segment}` must be a field name, `*`, or `{{a,b}}` of field names"
            ));
        }
    }
    Ok(())
}

/// A path's segments: dots separate them, except inside `{…}`.
fn split(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut depth) = (0, 0);
    for (i, c) in path.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            '.' if depth == 0 => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out
}

/// Where a kind keeps its pod template, as the helpers find it; `None` for kinds without one.
fn pod_prefix(kind: &str) -> Option<&'static [&'static str]> {
    if kind == "Pod" {
        Some(&[])
    } else if TEMPLATE_KINDS.contains(&kind) {
        Some(&["spec", "template"])
    } else if kind == "CronJob" {
        Some(&["spec", "jobTemplate", "spec", "template"])
    } else {
        None
    }
}

/// What to keep of a value: all of it, whether it is there, or some of its fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Keep {
    whole: bool,
    presence: bool,
    fields: BTreeMap<String, Keep>,
    any: Option<Box<Keep>>,
}

impl Keep {
    fn merge(&mut self, other: &Keep) {
        self.whole |= other.whole;
        self.presence |= other.presence;
        for (key, keep) in &other.fields {
            self.fields.entry(key.clone()).or_default().merge(keep);
        }
        if let Some(any) = &other.any {
            self.any.get_or_insert_with(Default::default).merge(any);
        }
    }

    fn insert(&mut self, segments: &[&str]) {
        let Some((first, rest)) = segments.split_first() else {
            self.whole = true;
            return;
        };
        let (bare, presence) = match first.strip_suffix('?') {
            Some(bare) => (bare, true),
            None => (*first, false),
        };
        let leaf = |keep: &mut Keep| {
            if rest.is_empty() {
                keep.presence |= presence;
                keep.whole |= !presence;
            } else {
                keep.insert(rest);
            }
        };
        if bare == "*" {
            leaf(self.any.get_or_insert_with(Default::default));
        } else if let Some(list) = bare.strip_prefix('{').and_then(|b| b.strip_suffix('}')) {
            for key in list.split(',') {
                leaf(self.fields.entry(key.to_string()).or_default());
            }
        } else {
            leaf(self.fields.entry(bare.to_string()).or_default());
        }
    }

    /// Folds what `*` keeps into every named field, so that a field's entry says all.
    fn settle(&mut self) {
        if let Some(any) = &self.any {
            let any = any.as_ref().clone();
            for keep in self.fields.values_mut() {
                keep.merge(&any);
            }
        }
        for keep in self.fields.values_mut() {
            keep.settle();
        }
        if let Some(any) = &mut self.any {
            any.settle();
        }
    }

    fn field(&self, key: &str) -> Option<&Keep> {
        self.fields.get(key).or(self.any.as_deref())
    }
}

/// What a batch of rules reads of one kind's resources.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    /// What to keep of `resource`.
    resource: Keep,
    /// Whether the context (`gitdrift`) is read.
    context: bool,
}

impl Projection {
    /// The union of what `reads` declare, for resources of `kind`. `None` when a rule declares
    /// nothing: its outcome may depend on anything.
    pub fn of<'r>(
        kind: &str,
        reads: impl IntoIterator<Item = Option<&'r [String]>>,
    ) -> Option<Projection> {
        let mut resource = Keep::default();
        resource.insert(&["kind"]);
        resource.insert(&["apiVersion"]);
        let mut context = false;
        for paths in reads {
            for path in paths? {
                let segments = split(path);
                match segments[0] {
                    "resource" => resource.insert(&segments[1..]),
                    "pod" => {
                        if let Some(prefix) = pod_prefix(kind) {
                            let full: Vec<&str> =
                                prefix.iter().chain(&segments[1..]).copied().collect();
                            resource.insert(&full);
                        }
                    }
                    _ => context = true,
                }
            }
        }
        resource.settle();
        Some(Projection { resource, context })
    }

    /// The parts of a resource the rules read; `None` if its content cannot be read (it is then
    /// evaluated on its own).
    pub fn project(&self, object: &Object) -> Option<Value> {
        let kept = match &object.body {
            Body::Text(text) => {
                let mut reader = serde_json::Deserializer::from_str(text);
                Project(&self.resource).deserialize(&mut reader).ok()
            }
            Body::Tree(value) => Project(&self.resource).deserialize(value).ok(),
        };
        kept.flatten()
    }

    /// The fingerprint of what the rules read of a subject: equal fingerprints, equal outcomes.
    /// `None` when its content cannot be read.
    pub fn fingerprint(
        &self,
        mut print: Fingerprint,
        (target, provider): (&str, &str),
        subject: &super::run::Subject<'_>,
    ) -> Option<u128> {
        print.json(&self.project(subject.object)?);
        if self.context {
            print
                .number(1)
                .str(target)
                .str(provider)
                .str(subject.side.as_str())
                .str(&subject.object.group)
                .str(&subject.object.kind)
                .opt(subject.object.namespace.as_deref())
                .str(&subject.object.name)
                .source_parts(subject.source.as_ref().map(super::run::SourceOf::parts));
        } else {
            print.number(0);
        }
        Some(print.finish())
    }
}

/// Reads a value keeping what a [`Keep`] says, skipping the rest without building it.
struct Project<'k>(&'k Keep);

impl<'de> DeserializeSeed<'de> for Project<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        if self.0.whole {
            return serde::Deserialize::deserialize(deserializer).map(Some);
        }
        // Only whether it is there, unless another path reads into it.
        if self.0.presence && self.0.fields.is_empty() && self.0.any.is_none() {
            <IgnoredAny as serde::Deserialize>::deserialize(deserializer)?;
            return Ok(Some(Value::Bool(true)));
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Project<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match self.0.field(&key) {
                Some(keep) => {
                    if let Some(value) = map.next_value_seed(Project(keep))? {
                        out.insert(key, value);
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(Value::Object(out)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let index = out.len().to_string();
            let next = match self.0.field(&index) {
                Some(keep) => seq.next_element_seed(Project(keep))?,
                None => seq.next_element::<IgnoredAny>()?.map(|_| None),
            };
            match next {
                // An element kept of nothing still counts: a list keeps its length.
                Some(value) => out.push(value.unwrap_or(Value::Null)),
                None => break,
            }
        }
        Ok(Some(Value::Array(out)))
    }

    // A scalar where fields were expected: kept as it is (the rules may test its type).
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Value::from(v)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Some(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn projection(kind: &str, paths: &[&str]) -> Projection {
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        for path in &paths {
            check(path).unwrap();
        }
        Projection::of(kind, [Some(paths.as_slice())]).unwrap()
    }

    fn object(value: Value) -> Object {
        crate::manifest::object_from_value("test", value).unwrap()
    }

    #[test]
    fn paths_are_checked() {
        for good in [
            "resource.spec.hostNetwork",
            "pod.spec.{containers,initContainers}.*.securityContext",
            "pod.spec.volumes.*.*?",
            "gitdrift",
            "gitdrift.name",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for bad in [
            "spec.hostNetwork",
            "resource",
            "pod",
            "resource..x",
            "resource.x?.y",
            "resource.{a,}",
            "resource.{a",
            "resource.a}.b",
            "resource.{*,a}",
            "resource.{a?}",
            "resource.a*",
            "resource.a,b",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_what_is_read_is_kept_wherever_the_kind_keeps_its_pod() {
        let reads = [
            "pod.spec.{containers,initContainers}.*.name",
            "pod.spec.containers.*.securityContext",
            "pod.spec.volumes.*.*?",
            "pod.metadata.annotations",
        ];
        let spec = json!({
            "containers": [
                {"name": "app", "image": "app:1", "securityContext": {"privileged": true}},
                {"name": "side", "image": "side:2", "env": [{"name": "A", "value": "b"}]},
            ],
            "volumes": [{"name": "config", "configMap": {"name": "app-config"}}],
            "hostNetwork": true,
        });
        let deployment = object(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "annotations": {"a": "1"}},
            "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "web"},
                "annotations": {"b": "2"}}, "spec": spec}}}));
        let kept = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"template": {"metadata": {"annotations": {"b": "2"}},
                "spec": {"containers": [
                    {"name": "app", "securityContext": {"privileged": true}},
                    {"name": "side"},
                ], "volumes": [{"name": true, "configMap": true}]}}}});
        assert_eq!(
            projection("Deployment", &reads).project(&deployment),
            Some(kept.clone())
        );

        let pod = object(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "annotations": {"b": "2"}}, "spec": spec}));
        assert_eq!(
            projection("Pod", &reads).project(&pod).unwrap()["spec"],
            kept["spec"]["template"]["spec"]
        );
        // A kind without a pod template keeps nothing of it.
        let other = object(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c"}, "data": {"a": "b"}}));
        assert_eq!(
            projection("ConfigMap", &reads).project(&other),
            Some(json!({"apiVersion": "v1", "kind": "ConfigMap"}))
        );
    }

    #[test]
    fn reading_more_never_keeps_less() {
        // One rule asks whether each volume field is there, another reads into one of them.
        let object = object(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"volumes": [{"name": "h", "hostPath": {"path": "/etc", "type": "x"}}]}}),
        );
        let kept = projection(
            "Pod",
            &["pod.spec.volumes.*.*?", "pod.spec.volumes.*.hostPath.path"],
        )
        .project(&object)
        .unwrap();
        assert_eq!(
            kept["spec"]["volumes"],
            json!([{"name": true, "hostPath": {"path": "/etc"}}])
        );
        let kept = projection("Pod", &["resource.spec?", "resource.spec.volumes.*.name"])
            .project(&object)
            .unwrap();
        assert_eq!(kept["spec"], json!({"volumes": [{"name": "h"}]}));
    }

    #[test]
    fn content_that_cannot_be_read_is_not_projected() {
        let mut broken =
            object(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}));
        broken.body = Body::Text("{\"kind\": \"Pod\", \"spec\": [".into());
        assert_eq!(
            projection("Pod", &["pod.spec.hostPID"]).project(&broken),
            None
        );
    }

    #[test]
    fn a_rule_that_declares_nothing_shares_nothing() {
        let reads = vec!["pod.spec.containers".to_string()];
        assert!(Projection::of("Pod", [Some(reads.as_slice()), None]).is_none());
    }

    #[test]
    fn text_and_tree_keep_the_same() {
        let value = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a", "ports": [{"hostPort": 80}]}, "odd"]}});
        let tree = object(value);
        let mut text = tree.clone();
        text.body.freeze();
        let projection = projection("Pod", &["pod.spec.containers.*.ports"]);
        assert_eq!(projection.project(&tree), projection.project(&text));
        assert_eq!(
            projection.project(&text).unwrap()["spec"]["containers"],
            json!([{"ports": [{"hostPort": 80}]}, "odd"])
        );
    }
}

/// Every built-in rule that declares its reads, held to them: its outcome on the projected
/// resource is its outcome on the whole resource, and changing what it does not read never
/// changes its outcome.
#[cfg(test)]
mod sound {
    use std::time::Duration;

    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::audit::Rule;
    use crate::audit::engine::{Evaluator, RuleSet};

    /// The workloads of the health and drift corpora, the pod that breaks every Pod Security
    /// rule, and that pod as every kind that holds a pod template, with init and ephemeral
    /// containers, as a Windows pod, and ill-typed.
    fn corpus() -> Vec<Value> {
        let mut out = crate::audit::engine::rvm_agrees::objects();
        let bad = out.last().unwrap().clone();
        let mut pod = bad["spec"].clone();
        pod["initContainers"] = pod["containers"].clone();
        pod["ephemeralContainers"] = pod["containers"].clone();
        pod["initContainers"][0]["name"] = json!("init");
        // What the bad pod leaves unset, set the wrong way too.
        pod["securityContext"]["appArmorProfile"] = json!({"type": "Unconfined"});
        pod["securityContext"]["runAsUser"] = json!(0);
        let context = &mut pod["containers"][0]["securityContext"];
        context["appArmorProfile"] = json!({"type": "Unconfined"});
        context["windowsOptions"] = json!({"hostProcess": true});
        context["seLinuxOptions"] = json!({"type": "spc_t", "user": "u"});
        context["seccompProfile"] = json!({"type": "Unconfined"});
        pod["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "clean", "image": "y",
                "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false,
                  "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
                "readinessProbe": {"tcpSocket": {"port": 80}},
                "lifecycle": {"preStop": {"httpGet": {"host": "h", "port": 1}}}}));
        let template = json!({"metadata": bad["metadata"].clone(), "spec": pod.clone()});
        for (api, kind) in [
            ("apps/v1", "Deployment"),
            ("apps/v1", "StatefulSet"),
            ("apps/v1", "DaemonSet"),
            ("apps/v1", "ReplicaSet"),
            ("batch/v1", "Job"),
            ("v1", "ReplicationController"),
        ] {
            out.push(
                json!({"apiVersion": api, "kind": kind, "metadata": {"name": "w",
                "annotations": {"container.apparmor.security.beta.kubernetes.io/c": "x"}},
                "spec": {"replicas": 1, "template": template}}),
            );
        }
        out.push(
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}),
        );
        out.push(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": bad["metadata"].clone(),
            "spec": pod.clone()}),
        );
        let mut own_users = pod.clone();
        own_users["hostUsers"] = json!(false);
        out.push(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "users"},
            "spec": own_users}),
        );
        let mut windows = pod.clone();
        windows["os"] = json!({"name": "windows"});
        out.push(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "win"},
            "spec": windows}),
        );
        out.push(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "odd",
            "annotations": {"container.apparmor.security.beta.kubernetes.io/c": 1}},
            "spec": {"containers": [{"name": "c", "image": 7, "ports": [{"hostPort": "80"}, 3],
              "securityContext": {"capabilities": {"add": [1, "ALL"]}, "runAsUser": "0",
                "procMount": 3, "seccompProfile": {"type": 4}}}, "loose"],
              "securityContext": {"sysctls": [{"name": 5}]},
              "volumes": [{"name": "v", "hostPath": {"path": 9}}, {"name": "w", "nfs": {}}]}}),
        );
        // Objects without a name never reach the rules.
        out.retain(|v| crate::manifest::object_from_value("corpus", v.clone()).is_some());
        out
    }

    fn rule_set() -> RuleSet {
        let set = RuleSet::load(
            &crate::audit::packs::builtin(),
            Duration::from_secs(5),
            false,
        );
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        set
    }

    fn object(value: &Value) -> Object {
        crate::manifest::object_from_value("corpus", value.clone()).unwrap()
    }

    /// The rules that declare their reads and judge this object.
    fn declaring<'s>(set: &'s RuleSet, object: &Object) -> Vec<&'s Rule> {
        set.rules
            .iter()
            .filter(|r| r.reads.is_some() && r.applies_to(&object.group, &object.kind))
            .collect()
    }

    fn judge(evaluator: &mut Evaluator, resource: &Value, rule: &Rule) -> String {
        let input = json!({"resource": resource, "gitdrift": {"side": "desired"}});
        format!("{:?}", evaluator.evaluate(input, &[rule]))
    }

    fn projection(rule: &Rule, kind: &str) -> Projection {
        Projection::of(kind, [rule.reads.as_deref()]).unwrap()
    }

    #[test]
    fn every_pod_security_rule_declares_its_reads() {
        let set = rule_set();
        let undeclared: Vec<&str> = set
            .rules
            .iter()
            .filter(|r| r.pack.starts_with("pod-security") && r.reads.is_none())
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(undeclared, Vec::<&str>::new());
    }

    #[test]
    fn the_helpers_template_kinds_are_those_projected() {
        let lib = crate::audit::packs::builtin()
            .into_iter()
            .find(|f| f.path.ends_with("lib/kubernetes.rego"))
            .unwrap();
        let line = lib
            .text
            .lines()
            .find(|l| l.starts_with("template_kinds := "))
            .unwrap();
        let mut kinds: Vec<&str> = line.split('"').skip(1).step_by(2).collect::<Vec<_>>();
        kinds.sort();
        let mut ours = TEMPLATE_KINDS.to_vec();
        ours.sort();
        assert_eq!(kinds, ours);
    }

    #[test]
    fn each_rule_judges_its_projection_as_the_whole_resource() {
        let set = rule_set();
        let mut evaluator = set.evaluator();
        let (mut compared, mut violations) = (0, 0);
        for value in corpus() {
            let mut object = object(&value);
            // As a scan holds it: frozen to text.
            object.body.freeze();
            let rules = declaring(&set, &object);
            // All of a kind's rules at once, on what they read together.
            if !rules.is_empty() {
                let union = Projection::of(&object.kind, rules.iter().map(|r| r.reads.as_deref()))
                    .unwrap()
                    .project(&object)
                    .unwrap();
                let input =
                    |resource: &Value| json!({"resource": resource, "gitdrift": {"side": "live"}});
                assert_eq!(
                    evaluator.evaluate(input(&value), &rules),
                    evaluator.evaluate(input(&union), &rules),
                    "{} {}",
                    object.kind,
                    object.name
                );
            }
            for rule in rules {
                let projected = projection(rule, &object.kind).project(&object).unwrap();
                let whole = judge(&mut evaluator, &value, rule);
                assert_eq!(
                    whole,
                    judge(&mut evaluator, &projected, rule),
                    "{} on {} {}: projected {projected}",
                    rule.id,
                    object.kind,
                    object.name
                );
                compared += 1;
                violations += usize::from(whole.contains("Ok([\""));
            }
        }
        assert!(compared > 500, "{compared} judgements compared");
        assert!(
            violations > 100,
            "{violations}: the corpus breaks the rules"
        );
    }

    /// Each path a rule declares changes some outcome of the corpus when left out: the corpus
    /// exercises every declared read, so the test above would catch one missing.
    #[test]
    fn every_declared_path_is_exercised_by_the_corpus() {
        let set = rule_set();
        let mut evaluator = set.evaluator();
        let corpus: Vec<(Value, Object)> = corpus()
            .into_iter()
            .map(|v| {
                let o = object(&v);
                (v, o)
            })
            .collect();
        for rule in set.rules.iter().filter(|r| r.reads.is_some()) {
            let reads = rule.reads.as_deref().unwrap();
            for left_out in reads {
                let fewer: Vec<String> = reads.iter().filter(|p| *p != left_out).cloned().collect();
                let noticed = corpus.iter().any(|(value, object)| {
                    if !rule.applies_to(&object.group, &object.kind) {
                        return false;
                    }
                    let projected = Projection::of(&object.kind, [Some(fewer.as_slice())])
                        .unwrap()
                        .project(object)
                        .unwrap();
                    judge(&mut evaluator, value, rule) != judge(&mut evaluator, &projected, rule)
                });
                assert!(
                    noticed,
                    "{}: leaving out `{left_out}` changes no outcome of the corpus",
                    rule.id
                );
            }
        }
    }

    /// A place in an object a projection leaves out: a value to replace, or a mapping to add a
    /// field to.
    #[derive(Clone, Debug)]
    enum Spot {
        Replace(Vec<String>),
        Add(Vec<String>),
    }

    fn spots(value: &Value, keep: Option<&Keep>, path: &mut Vec<String>, out: &mut Vec<Spot>) {
        let Some(keep) = keep else {
            out.push(Spot::Replace(path.clone()));
            return;
        };
        if keep.whole {
            return;
        }
        if keep.presence && keep.fields.is_empty() && keep.any.is_none() {
            out.push(Spot::Replace(path.clone()));
            return;
        }
        let children: Vec<(String, &Value)> = match value {
            Value::Object(map) => {
                if keep.any.is_none() {
                    out.push(Spot::Add(path.clone()));
                }
                map.iter().map(|(k, v)| (k.clone(), v)).collect()
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            _ => Vec::new(),
        };
        for (key, child) in children {
            path.push(key.clone());
            spots(child, keep.field(&key), path, out);
            path.pop();
        }
    }

    fn at<'v>(value: &'v mut Value, path: &[String]) -> &'v mut Value {
        path.iter().fold(value, |v, key| match v {
            Value::Array(items) => &mut items[key.parse::<usize>().unwrap()],
            _ => &mut v[key.as_str()],
        })
    }

    /// Values a rule might react to, were it to read them.
    fn odd_values() -> Vec<Value> {
        vec![
            Value::Null,
            json!(true),
            json!(false),
            json!(0),
            json!(80),
            json!(""),
            json!("ALL"),
            json!("Unconfined"),
            json!("windows"),
            json!({"privileged": true, "runAsUser": 0, "hostPath": {"path": "/"}}),
            json!([{"name": "x", "hostPort": 1}]),
        ]
    }

    #[test]
    fn what_a_rule_does_not_read_never_changes_its_outcome() {
        let set = rule_set();
        let evaluator = std::cell::RefCell::new(set.evaluator());
        let workloads: Vec<Value> = corpus()
            .into_iter()
            .filter(|v| !declaring(&set, &object(v)).is_empty())
            .collect();
        let values = odd_values();
        let changes = (
            any::<prop::sample::Index>(),
            prop::collection::vec(
                (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
                1..6,
            ),
        );
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(200));
        let result = runner.run(&changes, |(pick, changes)| {
            let value = pick.get(&workloads);
            let original = object(value);
            for rule in declaring(&set, &original) {
                let projection = projection(rule, &original.kind);
                let mut changed = value.clone();
                for (place, new) in &changes {
                    let new = new.get(&values).clone();
                    let mut places = Vec::new();
                    spots(
                        &changed,
                        Some(&projection.resource),
                        &mut Vec::new(),
                        &mut places,
                    );
                    match place.get(&places) {
                        Spot::Replace(path) => *at(&mut changed, path) = new,
                        Spot::Add(path) => {
                            at(&mut changed, path)["unread-field"] = new;
                        }
                    }
                }
                let mut changed_object = original.clone();
                changed_object.body = Body::Tree(changed.clone());
                prop_assert_eq!(
                    projection.project(&original).unwrap(),
                    projection.project(&changed_object).unwrap(),
                    "{} on {}",
                    &rule.id,
                    &changed
                );
                let mut evaluator = evaluator.borrow_mut();
                prop_assert_eq!(
                    judge(&mut evaluator, value, rule),
                    judge(&mut evaluator, &changed, rule),
                    "{} on {}",
                    &rule.id,
                    &changed
                );
            }
            Ok(())
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
    }
}
