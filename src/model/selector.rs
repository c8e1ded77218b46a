//! Selecting objects by group, kind, namespace, name and target: what ignore rules, unmanaged
//! exclusions, waivers and adopt rules all say "which objects" with.

use globset::GlobMatcher;

/// Selects objects by group, kind, namespace and name (globs for the last two), and target.
#[derive(Clone, Debug, Default)]
pub struct Selector {
    /// API group; `""` is the core group. `None` matches every group.
    pub group: Option<String>,
    /// Kind. `None` matches every kind.
    pub kind: Option<String>,
    /// Namespace glob.
    pub namespace: Option<GlobMatcher>,
    /// Name glob.
    pub name: Option<GlobMatcher>,
    /// Target name.
    pub target: Option<String>,
}

impl Selector {
    /// Whether the selector picks this object.
    pub fn matches(&self, target: &str, key: &super::ResourceKey) -> bool {
        self.target.as_deref().is_none_or(|t| t == target)
            && self.group.as_deref().is_none_or(|g| g == key.group)
            && self.kind.as_deref().is_none_or(|k| k == key.kind)
            && self
                .namespace
                .as_ref()
                .is_none_or(|g| g.is_match(key.namespace.as_deref().unwrap_or("")))
            && self.name.as_ref().is_none_or(|g| g.is_match(&key.name))
    }

    /// A one-line description for reports (`kind=Deployment name=web-*`).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = &self.target {
            parts.push(format!("target={t}"));
        }
        if let Some(g) = &self.group {
            parts.push(format!("group={g}"));
        }
        if let Some(k) = &self.kind {
            parts.push(format!("kind={k}"));
        }
        if let Some(n) = &self.namespace {
            parts.push(format!("namespace={}", n.glob()));
        }
        if let Some(n) = &self.name {
            parts.push(format!("name={}", n.glob()));
        }
        if parts.is_empty() {
            "every object".to_string()
        } else {
            parts.join(" ")
        }
    }
}
