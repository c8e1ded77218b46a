//! What the API server does to objects, as tables: the fields it fills in or maintains on its
//! own, the merge keys of its lists, which maps hold content, and which fields hold quantities or
//! int-or-string values. The comparison consults these; nothing here compares.

use serde_json::Value;

use super::path::{Seg, is, last_key, parent_key};

/// Metadata fields the server maintains.
pub(crate) const BOOKKEEPING_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Annotations that tools and controllers write, never part of what git declares.
const BOOKKEEPING_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "pv.kubernetes.io/provisioned-by",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
    "endpoints.kubernetes.io/last-change-trigger-time",
    "control-plane.alpha.kubernetes.io/leader",
    "batch.kubernetes.io/job-tracking",
    "deprecated.daemonset.template.generation",
];

/// Labels the server or a controller adds.
const BOOKKEEPING_LABELS: &[&str] = &[
    "controller-uid",
    "job-name",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-name",
    "pod-template-hash",
    "controller-revision-hash",
    "statefulset.kubernetes.io/pod-name",
    "kubernetes.io/metadata.name",
];

/// Marks GitOps tools add to what they apply (Argo CD's resource tracking, Flux's and Helm's
/// ownership labels and annotations): the last apply set them, yet git never had them, so they
/// are no evidence of a field removed from git.
const APPLIER_MARKS: &[&str] = &[
    "argocd.argoproj.io/tracking-id",
    "argocd.argoproj.io/installation-id",
    "app.kubernetes.io/instance",
    "kustomize.toolkit.fluxcd.io/name",
    "kustomize.toolkit.fluxcd.io/namespace",
    "kustomize.toolkit.fluxcd.io/checksum",
    "helm.toolkit.fluxcd.io/name",
    "helm.toolkit.fluxcd.io/namespace",
    "meta.helm.sh/release-name",
    "meta.helm.sh/release-namespace",
];

/// Whether a metadata label or annotation at `path` is a GitOps tool's own mark (see
/// [`APPLIER_MARKS`]).
pub fn is_applier_mark(path: &[Seg]) -> bool {
    let n = path.len();
    n >= 3
        && path[n - 3].key() == Some("metadata")
        && matches!(parent_key(path), Some("labels" | "annotations"))
        && last_key(path).is_some_and(|k| APPLIER_MARKS.contains(&k))
}

/// Whether a field at `path` is server bookkeeping, never drift whatever its value.
pub fn is_bookkeeping(path: &[Seg]) -> bool {
    match path {
        [Seg::Key(k)] => k == "apiVersion" || k == "kind",
        _ => {
            let n = path.len();
            let in_metadata =
                |offset: usize| n > offset && path[n - 1 - offset].key() == Some("metadata");
            let key = last_key(path).unwrap_or("");
            (in_metadata(1) && BOOKKEEPING_METADATA.contains(&key))
                || (in_metadata(2)
                    && parent_key(path) == Some("annotations")
                    && BOOKKEEPING_ANNOTATIONS.contains(&key))
                || (in_metadata(2)
                    && parent_key(path) == Some("labels")
                    && BOOKKEEPING_LABELS.contains(&key))
        }
    }
}

/// Whether the mapping at `path` is a content map, whose live-only keys are drift.
pub fn is_content_map(kind: &str, group: &str, path: &[Seg]) -> bool {
    group.is_empty()
        && match kind {
            "ConfigMap" => is(path, &["data"]) || is(path, &["binaryData"]),
            "Secret" => is(path, &["data"]),
            _ => false,
        }
}

/// Whether values at `path` are base64 (Secret `data`, ConfigMap `binaryData`), compared by
/// their decoded bytes.
pub fn is_base64_data(kind: &str, group: &str, path: &[Seg]) -> bool {
    group.is_empty()
        && path.len() == 2
        && match kind {
            "Secret" => path[0].key() == Some("data"),
            "ConfigMap" => path[0].key() == Some("binaryData"),
            _ => false,
        }
}

/// Whether a scalar at `path` is a resource quantity.
pub fn is_quantity(path: &[Seg]) -> bool {
    const PARENTS: &[&str] = &[
        "requests",
        "limits",
        "hard",
        "capacity",
        "allocatable",
        "default",
        "defaultRequest",
        "max",
        "min",
        "maxLimitRequestRatio",
        "overhead",
        "podFixed",
    ];
    matches!(
        last_key(path),
        Some("sizeLimit" | "averageValue" | "divisor")
    ) || (last_key(path) == Some("value") && matches!(parent_key(path), Some("target" | "current")))
        || parent_key(path).is_some_and(|p| PARENTS.contains(&p))
}

/// Whether a scalar at `path` is an int-or-string field (`"8080"` and `8080` are the same).
pub fn is_int_or_string(path: &[Seg]) -> bool {
    matches!(
        last_key(path),
        Some("port" | "targetPort" | "maxSurge" | "maxUnavailable" | "minAvailable")
    )
}

/// Whether the list at `path` is a set: declared elements must be present, extra live ones are
/// the server's (finalizers that controllers add).
pub fn is_set(path: &[Seg]) -> bool {
    last_key(path) == Some("finalizers")
}

/// How elements of a list are matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// Elements matched by these fields (with defaults for absent ones).
    Keyed(&'static [(&'static str, Option<&'static str>)]),
    /// Elements matched by position.
    Positional,
}

/// The merge key of the list at `path`, as the API's strategic-merge and server-side-apply
/// schemas define it.
pub fn list_kind(path: &[Seg], desired: &[Value], live: &[Value]) -> ListKind {
    const NAME: &[(&str, Option<&str>)] = &[("name", None)];
    let has = |field: &str| desired.iter().chain(live).any(|e| e.get(field).is_some());
    match last_key(path) {
        Some(
            "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "env"
            | "volumes"
            | "imagePullSecrets"
            | "resourceClaims"
            | "schedulingGates",
        ) if has("name") => ListKind::Keyed(NAME),
        Some("readinessGates") => ListKind::Keyed(&[("conditionType", None)]),
        Some("volumeMounts") => ListKind::Keyed(&[("mountPath", None)]),
        Some("volumeDevices") => ListKind::Keyed(&[("devicePath", None)]),
        Some("ports") if has("containerPort") => {
            ListKind::Keyed(&[("containerPort", None), ("protocol", Some("TCP"))])
        }
        Some("ports") if has("port") => {
            ListKind::Keyed(&[("port", None), ("protocol", Some("TCP"))])
        }
        Some("hostAliases") => ListKind::Keyed(&[("ip", None)]),
        Some("topologySpreadConstraints") => ListKind::Keyed(&[
            ("topologyKey", None),
            ("whenUnsatisfiable", Some("DoNotSchedule")),
        ]),
        Some("conditions") if has("type") => ListKind::Keyed(&[("type", None)]),
        Some("ownerReferences") => ListKind::Keyed(&[("uid", None)]),
        _ => ListKind::Positional,
    }
}

/// Fields the API keeps when they are `false` or `0` (optional fields, pointers in the Go types):
/// declared with such a value and absent live, they were removed, which for most of them weakens
/// security or availability.
const ZERO_KEPT: &[&str] = &[
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "privileged",
    "runAsNonRoot",
    "runAsUser",
    "runAsGroup",
    "fsGroup",
    "automountServiceAccountToken",
    "enableServiceLinks",
    "shareProcessNamespace",
    "hostUsers",
    "replicas",
    "partition",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "backoffLimit",
    "parallelism",
    "completions",
    "suspend",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "startingDeadlineSeconds",
    "ttlSecondsAfterFinished",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "minAvailable",
    "maxUnavailable",
    "maxSurge",
    "immutable",
    "optional",
];

/// Map-typed fields (string maps in the API), which the server omits when empty. Struct-typed
/// fields are kept when empty (`emptyDir: {}`, `podSelector: {}`, `securityContext: {}`), so an
/// empty struct declared in git and absent live is drift.
const MAP_FIELDS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "binaryData",
    "stringData",
    "nodeSelector",
    "matchLabels",
    "selector",
    "limits",
    "requests",
    "capacity",
    "allocatable",
    "hard",
    "parameters",
    "overhead",
];

/// Whether a declared field at `path`, absent live, is what the server drops: `null`, empty
/// lists, empty string maps, and the zero values (`false`, `0`, `""`) of fields the API omits
/// when empty — but not of optional fields it keeps when false or zero.
pub fn is_dropped_at(path: &[Seg], value: &Value) -> bool {
    let key = last_key(path).unwrap_or("");
    match value {
        Value::Null => true,
        Value::Bool(b) => !b && !ZERO_KEPT.contains(&key),
        Value::Number(n) => n.as_f64() == Some(0.0) && !ZERO_KEPT.contains(&key),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty() && MAP_FIELDS.contains(&key),
    }
}

/// Whether a declared value asks the server to choose (`clusterIP: ""`, `nodePort: 0`): the
/// allocated live value is then not drift.
pub fn is_server_allocated(path: &[Seg], desired: &Value) -> bool {
    let asks = match desired {
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    };
    asks && matches!(
        last_key(path),
        Some("clusterIP" | "nodePort" | "healthCheckNodePort" | "volumeName" | "loadBalancerIP")
    )
}

/// Fields to leave out of the comparison because another field owns them: the rules of an
/// aggregated ClusterRole are written by the aggregation controller.
pub fn is_controller_owned(kind: &str, desired_root: &Value, path: &[Seg]) -> bool {
    kind == "ClusterRole" && is(path, &["rules"]) && desired_root.get("aggregationRule").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(keys: &[&str]) -> Vec<Seg> {
        keys.iter().map(|k| Seg::Key((*k).to_string())).collect()
    }

    #[test]
    fn bookkeeping_is_recognised_at_any_metadata() {
        assert!(is_bookkeeping(&p(&["metadata", "resourceVersion"])));
        assert!(is_bookkeeping(&p(&[
            "spec",
            "template",
            "metadata",
            "creationTimestamp"
        ])));
        assert!(is_bookkeeping(&p(&[
            "metadata",
            "annotations",
            "kubectl.kubernetes.io/last-applied-configuration"
        ])));
        assert!(is_bookkeeping(&p(&[
            "spec",
            "template",
            "metadata",
            "labels",
            "controller-uid"
        ])));
        assert!(!is_bookkeeping(&p(&["metadata", "labels", "app"])));
        assert!(!is_bookkeeping(&p(&["spec", "uid"])));
    }

    #[test]
    fn what_the_server_drops_and_what_it_keeps() {
        use serde_json::json;
        let zero = json!(false);
        assert!(!is_dropped_at(
            &p(&["securityContext", "allowPrivilegeEscalation"]),
            &zero
        ));
        assert!(!is_dropped_at(&p(&["spec", "replicas"]), &json!(0)));
        assert!(is_dropped_at(&p(&["spec", "hostNetwork"]), &zero));
        assert!(is_dropped_at(&p(&["spec", "replicas"]), &json!(null)));
        assert!(is_dropped_at(&p(&["metadata", "annotations"]), &json!({})));
        assert!(is_dropped_at(&p(&["spec", "args"]), &json!([])));
        assert!(!is_dropped_at(
            &p(&["volumes", "0", "emptyDir"]),
            &json!({})
        ));
        let block = json!({"allowPrivilegeEscalation": false});
        assert!(!is_dropped_at(&p(&["spec", "securityContext"]), &block));
        assert!(!is_dropped_at(
            &p(&["metadata", "labels"]),
            &json!({"a": ""})
        ));
        assert!(!is_dropped_at(&p(&["x"]), &json!("x")));
    }

    #[test]
    fn quantities_are_recognised_by_their_place() {
        assert!(is_quantity(&p(&["resources", "requests", "cpu"])));
        assert!(is_quantity(&p(&[
            "metrics",
            "resource",
            "target",
            "averageValue"
        ])));
        assert!(is_quantity(&p(&["target", "value"])));
        assert!(is_quantity(&p(&["resourceFieldRef", "divisor"])));
        assert!(!is_quantity(&p(&["env", "value"])));
    }
}
