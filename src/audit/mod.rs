//! Compliance auditing: Rego rules, in packs, evaluated on every resource of a scan on both sides
//! — as git declares it and as it runs — giving findings mapped to framework controls.
//!
//! Rules come from the built-in packs ([`packs::builtin`]) and users' folders; [`engine`]
//! compiles them once and evaluates them per resource; [`metadata`] reads what each rule says of
//! itself; [`testing`] runs the packs' unit tests.
//!
//! The input document a rule sees:
//!
//! ```json
//! {
//!   "resource": { "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {…}, "spec": {…} },
//!   "gitdrift": {
//!     "target": "prod", "provider": "kubernetes", "side": "desired",
//!     "source": {"name": "shop", "file": "apps/web.yaml", "line": 1},
//!     "group": "apps", "kind": "Deployment", "namespace": "shop", "name": "web"
//!   }
//! }
//! ```
//!
//! For AWS resources `resource` is the resource as `aws ec2 describe-*` prints it, `kind` its
//! type and `namespace` its region; a desired AWS resource is its declared properties.

pub mod engine;
pub mod findings;
pub mod gatekeeper;
pub mod metadata;
pub mod packs;
pub mod reads;
pub mod run;
pub mod testing;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{RuleSeverity, Side};

/// What rules see of a resource when it is a Secret: the object with each value of `data` and
/// `stringData` replaced by a marker (keys kept), so that no rule — a Gatekeeper template from
/// a git source, say — can put a secret value into a finding. `None` for other objects.
pub fn secret_redacted(object: &crate::model::Object) -> Option<serde_json::Value> {
    if !(object.group.is_empty() && object.kind == "Secret") {
        return None;
    }
    let mut value = object.value().into_owned();
    for key in ["data", "stringData"] {
        if let Some(values) = value.get_mut(key) {
            *values = crate::diff::redact(values);
        }
    }
    Some(value)
}

/// One rule: a Rego package with a `deny` set and its METADATA.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Stable, kebab-case, unique id.
    pub id: String,
    /// Short title.
    pub title: String,
    /// What it checks and why.
    pub description: String,
    /// How bad a violation is.
    pub severity: RuleSeverity,
    /// Framework → control ids (shared with every finding of the rule).
    pub controls: std::sync::Arc<BTreeMap<String, Vec<String>>>,
    /// How to fix a violation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// Kinds it applies to (`Pod`, `Deployment.apps`, `AWS::EC2::Instance`).
    pub kinds: Vec<String>,
    /// The sides it judges.
    pub sides: Vec<Side>,
    /// The pack it belongs to.
    pub pack: String,
    /// Its Rego package.
    pub package: String,
    /// The file that declares it.
    pub file: String,
    /// The line of its METADATA.
    pub line: u64,
    /// What it reads of its input, when it says (resources equal in those parts share one
    /// evaluation); not part of what reports say of a rule.
    #[serde(skip)]
    pub reads: Option<Vec<String>>,
    /// For a rule made of a Gatekeeper Constraint: its template, parameters and match (it runs
    /// through [`gatekeeper`], not as a `deny` set).
    #[serde(skip)]
    pub gatekeeper: Option<std::sync::Arc<gatekeeper::Binding>>,
}

impl Rule {
    /// Whether the rule applies to resources of this API group and kind (group `aws` for AWS
    /// types).
    pub fn applies_to(&self, group: &str, kind: &str) -> bool {
        if let Some(binding) = &self.gatekeeper {
            return binding.matcher.kind_matches(group, kind);
        }
        self.kinds.iter().any(|k| {
            if crate::model::aws::is_aws(group) {
                return k == kind;
            }
            match k.split_once('.') {
                Some((k, g)) => k == kind && g == group,
                None => k == kind && group.is_empty(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_to_kinds_by_group() {
        let rule = Rule {
            id: "x".into(),
            title: String::new(),
            description: String::new(),
            severity: RuleSeverity::High,
            controls: Default::default(),
            remediation: None,
            kinds: vec![
                "Pod".into(),
                "Deployment.apps".into(),
                "AWS::EC2::Instance".into(),
            ],
            sides: vec![Side::Desired, Side::Live],
            pack: "p".into(),
            package: "p".into(),
            file: "f".into(),
            line: 1,
            reads: None,
            gatekeeper: None,
        };
        assert!(rule.applies_to("", "Pod"));
        assert!(rule.applies_to("apps", "Deployment"));
        assert!(!rule.applies_to("", "Deployment"));
        assert!(!rule.applies_to("example.com", "Pod"));
        assert!(rule.applies_to("aws", "AWS::EC2::Instance"));
        assert!(RuleSeverity::Critical > RuleSeverity::High);
        assert_eq!("medium".parse(), Ok(RuleSeverity::Medium));
    }
}
