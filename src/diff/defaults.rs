//! The values the API server gives fields that git leaves out, read from schemas rather than kept
//! by hand: the built-in kinds' from a vendored OpenAPI v3 subset (`kubernetes-defaults.yaml`,
//! the shape a cluster's `/openapi/v3` documents have), custom resources' from their CRD's
//! structural schema (`default:`), whether the CRD is declared in git or read live. The
//! judgement asks them two things: is a live-only value just the default (so a field git dropped
//! but whose live value the server would restore anyway is no drift), and what explains a
//! live-only field (`--explain`).

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::path::Seg;

/// Where a default comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The API's schema declares it (`default:` in OpenAPI v3 or a CRD's structural schema).
    Schema,
    /// The API server's defaulting code sets it (`x-gitdrift-server-default`).
    Server,
}

/// A default: one value, or any of several where the server picks by another field.
#[derive(Clone, Copy, Debug)]
pub enum DefaultValue<'a> {
    /// This value.
    One(&'a Value),
    /// Any of these values.
    Any(&'a [Value]),
}

impl DefaultValue<'_> {
    /// Whether a live value is this default (numbers compared by value).
    pub fn matches(&self, live: &Value) -> bool {
        let same = |d: &Value| {
            d == live
                || matches!((d, live), (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64())
        };
        match self {
            DefaultValue::One(value) => same(value),
            DefaultValue::Any(values) => values.iter().any(same),
        }
    }

    /// The default as written in an explanation.
    pub fn describe(&self) -> String {
        match self {
            DefaultValue::One(value) => value.to_string(),
            DefaultValue::Any(values) => values
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

/// Schemas in the OpenAPI v3 shape: `components.schemas` for `$ref`s, and a root schema per kind
/// found by `x-kubernetes-group-version-kind`.
#[derive(Debug, Default)]
struct Document {
    components: Map<String, Value>,
    /// (group, kind) → name of its root schema in `components`.
    roots: HashMap<(String, String), String>,
}

impl Document {
    /// Adds another document's schemas (names are global: `io.k8s.api.apps.v1.Deployment`).
    fn merge(&mut self, other: Document) {
        self.components.extend(other.components);
        self.roots.extend(other.roots);
    }

    fn parse(value: &Value) -> Document {
        let components = value
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut roots = HashMap::new();
        for (name, schema) in &components {
            for gvk in schema
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let group = gvk.get("group").and_then(Value::as_str).unwrap_or("");
                if let Some(kind) = gvk.get("kind").and_then(Value::as_str) {
                    roots.insert((group.to_string(), kind.to_string()), name.clone());
                }
            }
        }
        Document { components, roots }
    }

    /// A schema node with its `$ref` followed (one level; chains are followed by the walk).
    fn resolve<'a>(&'a self, node: &'a Value) -> &'a Value {
        let mut node = node;
        for _ in 0..8 {
            match node
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .and_then(|name| self.components.get(name))
            {
                Some(target) => node = target,
                None => break,
            }
        }
        node
    }
}

/// The vendored defaults of the built-in kinds.
static BUILTIN: LazyLock<Document> = LazyLock::new(|| Document::parse(&builtin_document()));

/// The vendored built-in schemas as written. The file is part of the build and a test reads it,
/// so a file that does not parse never ships.
pub fn builtin_document() -> Value {
    serde_saphyr::from_str(include_str!("kubernetes-defaults.yaml"))
        .expect("src/diff/kubernetes-defaults.yaml parses")
}

/// The defaults known for one target: the built-in kinds' (from the cluster's own OpenAPI v3
/// schemas where it was read, the vendored ones otherwise) and those of the custom resources
/// whose CRDs git declares or whose schemas the cluster publishes.
#[derive(Debug, Default)]
pub struct Schemas {
    /// (group, kind) → (version, openAPIV3Schema) for each served version of a CRD.
    crds: HashMap<(String, String), Vec<(String, Value)>>,
    /// The cluster's `/openapi/v3` documents of the group versions read, merged.
    cluster: Document,
}

impl Schemas {
    /// Only the built-in kinds' defaults.
    pub fn builtin() -> Schemas {
        Schemas::default()
    }

    /// Adds a CustomResourceDefinition's structural schemas; an object of another kind, or a CRD
    /// without schemas, adds nothing. The first CRD for a kind wins (git's is added first).
    pub fn add_crd(&mut self, crd: &Value) {
        if crd.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
            return;
        }
        let Some(spec) = crd.get("spec") else { return };
        let group = spec.get("group").and_then(Value::as_str).unwrap_or("");
        let Some(kind) = spec.pointer("/names/kind").and_then(Value::as_str) else {
            return;
        };
        let key = (group.to_string(), kind.to_string());
        if self.crds.contains_key(&key) {
            return;
        }
        let versions: Vec<(String, Value)> = spec
            .get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| {
                let name = v.get("name")?.as_str()?.to_string();
                let schema = v.pointer("/schema/openAPIV3Schema")?.clone();
                Some((name, schema))
            })
            .collect();
        if !versions.is_empty() {
            self.crds.insert(key, versions);
        }
    }

    /// Adds one of a cluster's `/openapi/v3` group-version documents (see [`prune`]).
    pub fn add_openapi(&mut self, document: &Value) {
        self.cluster.merge(Document::parse(document));
    }

    /// How many custom resource kinds have schemas here.
    pub fn crd_kinds(&self) -> usize {
        self.crds.len()
    }

    /// The default at a path of an object of this kind and `apiVersion`'s version, if its
    /// schema gives one.
    pub fn default_at<'a>(
        &'a self,
        group: &str,
        kind: &str,
        version: &str,
        path: &[Seg],
    ) -> Option<(Origin, DefaultValue<'a>)> {
        let key = (group.to_string(), kind.to_string());
        if let Some(versions) = self.crds.get(&key) {
            let schema = versions
                .iter()
                .find(|(v, _)| v == version)
                .or_else(|| versions.first())
                .map(|(_, s)| s)?;
            static PLAIN: LazyLock<Document> = LazyLock::new(Document::default);
            return walk(&PLAIN, schema, path);
        }
        // The cluster's own schema first (its `default`s); the defaulting code's values, which
        // no schema carries, from the vendored file.
        let cluster_root = self
            .cluster
            .roots
            .get(&key)
            .and_then(|name| self.cluster.components.get(name));
        if let Some(found) = cluster_root.and_then(|root| walk(&self.cluster, root, path)) {
            return Some(found);
        }
        let doc = &*BUILTIN;
        let root = doc.components.get(doc.roots.get(&key)?)?;
        walk(doc, root, path)
            .filter(|(origin, _)| cluster_root.is_none() || *origin == Origin::Server)
    }
}

/// Follows a path through a schema: `properties` for keys (then `additionalProperties`),
/// `items` for list elements, `allOf` members and `$ref`s on the way.
fn walk<'a>(
    doc: &'a Document,
    root: &'a Value,
    path: &[Seg],
) -> Option<(Origin, DefaultValue<'a>)> {
    let mut node = doc.resolve(root);
    for seg in path {
        node = child(doc, node, seg)?;
    }
    if let Some(value) = node.get("default") {
        return Some((Origin::Schema, DefaultValue::One(value)));
    }
    if let Some(value) = node.get("x-gitdrift-server-default") {
        return Some((Origin::Server, DefaultValue::One(value)));
    }
    if let Some(Value::Array(values)) = node.get("x-gitdrift-server-default-any") {
        return Some((Origin::Server, DefaultValue::Any(values)));
    }
    None
}

fn child<'a>(doc: &'a Document, node: &'a Value, seg: &Seg) -> Option<&'a Value> {
    let found = match seg {
        Seg::Key(key) => node
            .get("properties")
            .and_then(|p| p.get(key))
            .or_else(|| node.get("additionalProperties").filter(|a| a.is_object())),
        Seg::Index(_) => node.get("items"),
        Seg::Missing => return None,
    };
    if let Some(found) = found {
        return Some(doc.resolve(found));
    }
    node.get("allOf")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|member| child(doc, doc.resolve(member), seg))
}

/// A cluster's OpenAPI v3 group-version document reduced to what defaults need: each schema's
/// `default`, `$ref`, `allOf`, `properties`, `items`, `additionalProperties` and
/// `x-kubernetes-group-version-kind`, and only the branches that lead to a default or a
/// reference (descriptions and validation go; a document of megabytes keeps kilobytes).
pub fn prune(document: &Value) -> Value {
    fn keep(node: &Value) -> Option<Value> {
        let map = node.as_object()?;
        let mut out = Map::new();
        for key in ["default", "$ref", "x-kubernetes-group-version-kind"] {
            if let Some(v) = map.get(key) {
                out.insert(key.to_string(), v.clone());
            }
        }
        if let Some(Value::Object(props)) = map.get("properties") {
            let kept: Map<String, Value> = props
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), keep(v)?)))
                .collect();
            if !kept.is_empty() {
                out.insert("properties".into(), Value::Object(kept));
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(v) = map.get(key).and_then(keep) {
                out.insert(key.to_string(), v);
            }
        }
        if let Some(Value::Array(members)) = map.get("allOf") {
            let kept: Vec<Value> = members.iter().filter_map(keep).collect();
            if !kept.is_empty() {
                out.insert("allOf".into(), Value::Array(kept));
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }
    let schemas: Map<String, Value> = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|all| {
            all.iter()
                .filter_map(|(name, schema)| Some((name.clone(), keep(schema)?)))
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({"components": {"schemas": schemas}})
}

/// The version part of an `apiVersion` (`apps/v1` → `v1`).
pub fn version_of(api_version: &str) -> &str {
    api_version.rsplit('/').next().unwrap_or(api_version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(path: &str) -> Vec<Seg> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .map(|s| match s.parse::<usize>() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Key(s.to_string()),
            })
            .collect()
    }

    fn default_of(schemas: &Schemas, group: &str, kind: &str, path: &str) -> Option<String> {
        schemas
            .default_at(group, kind, "v1", &keys(path))
            .map(|(origin, d)| format!("{origin:?} {}", d.describe()))
    }

    #[test]
    fn built_in_defaults_are_found_through_references() {
        let s = Schemas::builtin();
        assert_eq!(
            default_of(&s, "apps", "Deployment", "/spec/replicas").as_deref(),
            Some("Server 1")
        );
        assert_eq!(
            default_of(
                &s,
                "apps",
                "Deployment",
                "/spec/template/spec/containers/0/ports/1/protocol"
            )
            .as_deref(),
            Some("Schema \"TCP\"")
        );
        assert_eq!(
            default_of(
                &s,
                "batch",
                "CronJob",
                "/spec/jobTemplate/spec/template/spec/dnsPolicy"
            )
            .as_deref(),
            Some("Server \"ClusterFirst\"")
        );
        assert_eq!(
            default_of(&s, "", "Pod", "/spec/enableServiceLinks").as_deref(),
            Some("Server true"),
            "a Pod's own defaults and, through allOf, its PodSpec's"
        );
        assert!(default_of(&s, "", "Pod", "/spec/dnsPolicy").is_some());
        assert_eq!(
            default_of(
                &s,
                "apps",
                "Deployment",
                "/spec/template/spec/enableServiceLinks"
            ),
            None,
            "templates get no Pod-only defaults"
        );
        assert_eq!(default_of(&s, "apps", "Deployment", "/spec/paused"), None);
        assert_eq!(default_of(&s, "example.com", "Widget", "/spec/size"), None);
        let (_, pull) = s
            .default_at(
                "apps",
                "Deployment",
                "v1",
                &keys("/spec/template/spec/containers/0/imagePullPolicy"),
            )
            .unwrap();
        assert!(pull.matches(&json!("Always")) && pull.matches(&json!("IfNotPresent")));
        assert!(!pull.matches(&json!("Never")));
    }

    /// Schema defaults the judgement does not apply, each with the reason. Every other default
    /// in the vendored schemas must be reachable from a kind gitdrift judges.
    const NOT_APPLIED: &[(&str, &str)] = &[];

    #[test]
    fn every_vendored_default_is_applied_or_listed_with_its_reason() {
        let doc = builtin_document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        // Every definition a kind's root reaches through `$ref`s.
        let mut reached = std::collections::BTreeSet::new();
        let mut queue: Vec<String> = schemas
            .iter()
            .filter(|(_, s)| s.get("x-kubernetes-group-version-kind").is_some())
            .map(|(name, _)| name.clone())
            .collect();
        fn refs(node: &Value, out: &mut Vec<String>) {
            match node {
                Value::Object(map) => {
                    if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                        out.push(r.trim_start_matches("#/components/schemas/").to_string());
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        while let Some(name) = queue.pop() {
            if reached.insert(name.clone()) {
                let schema = schemas
                    .get(&name)
                    .unwrap_or_else(|| panic!("$ref to {name}, which is not defined"));
                refs(schema, &mut queue);
            }
        }
        fn defaults(node: &Value, at: &str, out: &mut Vec<String>) {
            if let Value::Object(map) = node {
                for (key, value) in map {
                    if key == "default" || key.starts_with("x-gitdrift-server-default") {
                        out.push(at.to_string());
                    } else {
                        defaults(value, &format!("{at}/{key}"), out);
                    }
                }
            }
        }
        let mut unreached = Vec::new();
        let mut count = 0;
        for (name, schema) in schemas {
            let mut found = Vec::new();
            defaults(schema, name, &mut found);
            count += found.len();
            if !reached.contains(name) {
                unreached.extend(
                    found
                        .into_iter()
                        .filter(|f| !NOT_APPLIED.iter().any(|(n, _)| n == f)),
                );
            }
        }
        assert!(count > 60, "the vendored schemas carry {count} defaults");
        assert_eq!(
            unreached,
            Vec::<String>::new(),
            "defaults no kind reaches: apply them or list them in NOT_APPLIED with the reason"
        );
    }

    #[test]
    fn the_merge_key_defaults_of_the_rules_agree_with_the_schemas() {
        use super::super::rules::{ListKind, list_kind};
        let s = Schemas::builtin();
        let container_ports = keys("/spec/template/spec/containers/0/ports");
        let element = [json!({"containerPort": 80})];
        let ListKind::Keyed(fields) = list_kind(&container_ports, &element, &[]) else {
            panic!("container ports are keyed");
        };
        for (field, default) in fields {
            let mut at = container_ports.clone();
            at.push(Seg::Index(0));
            at.push(Seg::Key(field.to_string()));
            let schema = s
                .default_at("apps", "Deployment", "v1", &at)
                .map(|(_, d)| d.describe());
            assert_eq!(
                schema,
                default.map(|d| format!("\"{d}\"")),
                "merge key field {field}"
            );
        }
        let spread = keys("/spec/template/spec/topologySpreadConstraints");
        let ListKind::Keyed(fields) = list_kind(&spread, &[], &[]) else {
            panic!("topology spread constraints are keyed");
        };
        let mut at = spread.clone();
        at.push(Seg::Index(0));
        at.push(Seg::Key("whenUnsatisfiable".into()));
        let schema = s
            .default_at("apps", "Deployment", "v1", &at)
            .map(|(_, d)| d.describe());
        let rule = fields
            .iter()
            .find(|(f, _)| *f == "whenUnsatisfiable")
            .and_then(|(_, d)| *d)
            .map(|d| format!("\"{d}\""));
        assert_eq!(schema, rule);
    }

    #[test]
    fn a_clusters_openapi_document_is_pruned_to_its_defaults_and_read_first() {
        let document = json!({"openapi": "3.0.0", "info": {"title": "Kubernetes"},
            "components": {"schemas": {
                "io.k8s.api.apps.v1.Deployment": {
                    "description": "Deployment enables declarative updates.",
                    "x-kubernetes-group-version-kind": [{"group": "apps", "version": "v1", "kind": "Deployment"}],
                    "properties": {
                        "metadata": {"description": "Standard object metadata.", "type": "object"},
                        "spec": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}],
                                 "default": {}, "description": "Spec."}}},
                "io.k8s.api.apps.v1.DeploymentSpec": {"properties": {
                    "minReadySeconds": {"type": "integer", "format": "int32", "description": "…"},
                    "paused": {"type": "boolean", "default": false}}},
                "io.k8s.api.core.v1.Event": {"properties": {"note": {"type": "string"}}}}}});
        let pruned = prune(&document);
        let text = pruned.to_string();
        assert!(
            !text.contains("description") && !text.contains("int32"),
            "{text}"
        );
        assert!(
            pruned
                .pointer("/components/schemas/io.k8s.api.core.v1.Event")
                .is_none()
        );
        let mut s = Schemas::builtin();
        s.add_openapi(&pruned);
        assert_eq!(
            default_of(&s, "apps", "Deployment", "/spec/paused").as_deref(),
            Some("Schema false"),
            "the cluster's schema, through allOf and $ref"
        );
        assert_eq!(
            default_of(&s, "apps", "Deployment", "/spec/replicas").as_deref(),
            Some("Server 1"),
            "the defaulting code's values still come from the vendored file"
        );
    }

    #[test]
    fn custom_resources_take_their_crd_defaults_by_version() {
        let mut s = Schemas::builtin();
        s.add_crd(&json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "spec": {"group": "example.com", "names": {"kind": "Widget"}, "versions": [
                {"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "size": {"type": "string", "default": "small"},
                        "ports": {"type": "array", "items": {"type": "object", "properties": {
                            "protocol": {"type": "string", "default": "TCP"}}}},
                        "labels": {"type": "object", "additionalProperties": {
                            "type": "string", "default": "x"}}}}}}}},
                {"name": "v2", "schema": {"openAPIV3Schema": {"properties": {"spec": {
                    "properties": {"size": {"default": "medium"}}}}}}}
            ]}
        }));
        assert_eq!(s.crd_kinds(), 1);
        assert_eq!(
            default_of(&s, "example.com", "Widget", "/spec/size").as_deref(),
            Some("Schema \"small\"")
        );
        let v2 = s.default_at("example.com", "Widget", "v2", &keys("/spec/size"));
        assert_eq!(v2.map(|(_, d)| d.describe()).as_deref(), Some("\"medium\""));
        assert!(default_of(&s, "example.com", "Widget", "/spec/ports/3/protocol").is_some());
        assert!(default_of(&s, "example.com", "Widget", "/spec/labels/any").is_some());
        assert_eq!(default_of(&s, "example.com", "Widget", "/spec/other"), None);
        // Not a CRD, or a CRD without schemas: nothing added.
        s.add_crd(&json!({"kind": "ConfigMap", "spec": {"group": "a", "names": {"kind": "B"}}}));
        s.add_crd(&json!({"kind": "CustomResourceDefinition",
            "spec": {"group": "a", "names": {"kind": "B"}, "versions": [{"name": "v1"}]}}));
        assert_eq!(s.crd_kinds(), 1);
    }
}
