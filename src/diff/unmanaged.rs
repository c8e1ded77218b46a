//! Which live objects that git does not declare are worth reporting as unmanaged. Objects with
//! an owner, and objects that Kubernetes or a controller creates on its own (the
//! `kube-root-ca.crt` ConfigMap, the `default` ServiceAccount, Endpoints of a Service, a
//! StatefulSet's volume claims, Events, Leases, …), are never unmanaged.

use std::collections::HashSet;

use serde_json::Value;

use crate::model::{Object, ResourceKey};

/// Facts about the live state that tell generated objects from hand-made ones.
#[derive(Debug, Default)]
pub struct SystemContext {
    services: HashSet<(String, String)>,
    /// (namespace, `<claim template>-<statefulset>-`) prefixes of StatefulSet volume claims.
    claim_prefixes: Vec<(String, String)>,
}

impl SystemContext {
    /// Gathers the facts from a target's live objects.
    pub fn from_live<'a>(objects: impl IntoIterator<Item = &'a Object>) -> SystemContext {
        let mut context = SystemContext::default();
        for object in objects {
            // Copied only for the two kinds it keeps: most objects are neither.
            let namespace = || object.namespace.clone().unwrap_or_default();
            match (object.group.as_str(), object.kind.as_str()) {
                ("", "Service") => {
                    context.services.insert((namespace(), object.name.clone()));
                }
                ("apps", "StatefulSet") => {
                    let value = object.value();
                    let templates = value
                        .pointer("/spec/volumeClaimTemplates")
                        .and_then(Value::as_array);
                    for template in templates.into_iter().flatten() {
                        if let Some(claim) =
                            template.pointer("/metadata/name").and_then(Value::as_str)
                        {
                            context
                                .claim_prefixes
                                .push((namespace(), format!("{claim}-{}-", object.name)));
                        }
                    }
                }
                _ => {}
            }
        }
        context
    }

    /// Whether [`SystemContext::is_generated`] reads these facts for an object: only for
    /// Endpoints and volume claims (the others' verdicts need no context gathered).
    pub fn read_for(object: &Object) -> bool {
        object.group.is_empty()
            && matches!(object.kind.as_str(), "Endpoints" | "PersistentVolumeClaim")
    }

    /// Whether a change to `key` can change these facts: a Service or a StatefulSet changed.
    pub fn is_input(key: &ResourceKey) -> bool {
        matches!(
            (key.group.as_str(), key.kind.as_str()),
            ("", "Service") | ("apps", "StatefulSet")
        )
    }

    /// The identities whose verdict a change to `key` can turn, to judge again with it: the
    /// Endpoints of a Service, and, among `claims` (the identities of the volume claims there
    /// are), those in a StatefulSet's namespace that name it.
    pub fn dependents<'a>(
        key: &ResourceKey,
        claims: impl IntoIterator<Item = &'a ResourceKey>,
    ) -> Vec<ResourceKey> {
        match (key.group.as_str(), key.kind.as_str()) {
            ("", "Service") => vec![ResourceKey {
                group: String::new(),
                kind: "Endpoints".to_string(),
                namespace: key.namespace.clone(),
                name: key.name.clone(),
            }],
            ("apps", "StatefulSet") => {
                let infix = format!("-{}-", key.name);
                claims
                    .into_iter()
                    .filter(|c| c.namespace == key.namespace && c.name.contains(&infix))
                    .cloned()
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Whether a live object is made by Kubernetes or a controller rather than by someone.
    pub fn is_generated(&self, object: &Object) -> bool {
        if object.owned {
            return true;
        }
        let value = object.value();
        let value = value.as_ref();
        let namespace = object.namespace.as_deref().unwrap_or("");
        let name = object.name.as_str();
        let label = |key: &str| {
            value
                .pointer("/metadata/labels")
                .and_then(|labels| labels.get(key))
                .and_then(Value::as_str)
        };
        let annotated = |key: &str| {
            value
                .pointer("/metadata/annotations")
                .is_some_and(|a| a.get(key).is_some())
        };
        match (object.group.as_str(), object.kind.as_str()) {
            ("", "ConfigMap") => name == "kube-root-ca.crt",
            ("", "ServiceAccount") => name == "default",
            ("", "Secret") => {
                let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
                kind == "kubernetes.io/service-account-token"
                    || kind == "helm.sh/release.v1"
                    || annotated("kubernetes.io/service-account.name")
                    || annotated("cert-manager.io/certificate-name")
            }
            ("", "Service") => namespace == "default" && name == "kubernetes",
            ("", "Endpoints") => self
                .services
                .contains(&(namespace.to_string(), name.to_string())),
            ("discovery.k8s.io", "EndpointSlice") => label("kubernetes.io/service-name").is_some(),
            ("", "Event") | ("events.k8s.io", "Event") => true,
            ("coordination.k8s.io", "Lease") => true,
            ("", "Namespace") => {
                matches!(
                    name,
                    "default" | "kube-system" | "kube-public" | "kube-node-lease"
                )
            }
            ("", "PersistentVolumeClaim") => self.claim_prefixes.iter().any(|(ns, prefix)| {
                ns == namespace
                    && name.strip_prefix(prefix.as_str()).is_some_and(|ordinal| {
                        !ordinal.is_empty() && ordinal.chars().all(|c| c.is_ascii_digit())
                    })
            }),
            ("rbac.authorization.k8s.io", _) => {
                name.starts_with("system:")
                    || label("kubernetes.io/bootstrapping") == Some("rbac-defaults")
            }
            // The API server's own priority classes; volumes a provisioner made for a claim.
            ("scheduling.k8s.io", "PriorityClass") => name.starts_with("system-"),
            ("", "PersistentVolume") => annotated("pv.kubernetes.io/provisioned-by"),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Object {
        crate::manifest::object_from_value("live", value).unwrap()
    }

    /// An object [`SystemContext::read_for`] says needs no context gets the verdict it gets
    /// with the context gathered, whatever the context holds.
    #[test]
    fn only_endpoints_and_volume_claims_read_the_gathered_context() {
        let objects = [
            object(json!({"apiVersion": "v1", "kind": "Service",
                          "metadata": {"name": "web", "namespace": "shop"}})),
            object(json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                          "metadata": {"name": "db", "namespace": "shop"},
                          "spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}]}})),
            object(json!({"apiVersion": "v1", "kind": "Endpoints",
                          "metadata": {"name": "web", "namespace": "shop"}})),
            object(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                          "metadata": {"name": "data-db-0", "namespace": "shop"}})),
            object(json!({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "web", "namespace": "shop"}})),
            object(
                json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                          "metadata": {"name": "web-1", "namespace": "shop",
                                       "labels": {"kubernetes.io/service-name": "web"}}}),
            ),
        ];
        let gathered = SystemContext::from_live(&objects);
        let nothing = SystemContext::default();
        let mut read = 0;
        for object in &objects {
            if SystemContext::read_for(object) {
                read += 1;
                assert!(
                    gathered.is_generated(object),
                    "{} made by the system",
                    object.kind
                );
                assert!(
                    !nothing.is_generated(object),
                    "{} needs the context",
                    object.kind
                );
            } else {
                assert_eq!(
                    gathered.is_generated(object),
                    nothing.is_generated(object),
                    "{} judged alike without the context",
                    object.kind
                );
            }
        }
        assert_eq!(read, 2, "Endpoints and the volume claim read the context");
    }
}
