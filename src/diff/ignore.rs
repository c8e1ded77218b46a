//! The one place where drift results are filtered: ignore rules by JSON Pointer or by
//! managedFields manager, as Argo CD's `ignoreDifferences` does. The registry also remembers
//! which rules matched anything, so that stale rules can be reported.
//!
//! A rule counts as matching when it selects an object in which one of its paths exists (live or
//! declared), or whose managedFields name one of its managers — whether or not that field
//! differs today. A rule for replicas an autoscaler owns is not stale just because the replica
//! count happens to agree at this moment.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use super::owners::Ownership;
use super::{Discount, DiscountReason, MAX_DISCOUNTS, Verdict};
use crate::config::IgnoreRule;
use crate::model::ResourceKey;
use crate::model::pointer::{element_selector, selects};

/// Applies ignore rules and tracks their use; shared by the threads that judge objects.
pub struct Registry<'a> {
    rules: &'a [IgnoreRule],
    used: Vec<AtomicBool>,
}

impl<'a> Registry<'a> {
    /// A registry over the configured rules.
    pub fn new(rules: &'a [IgnoreRule]) -> Registry<'a> {
        Registry {
            rules,
            used: rules.iter().map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Drops the drifts that a rule ignores, for one object pair; each is kept as discounted,
    /// naming the rule.
    pub fn apply(
        &self,
        target: &str,
        key: &ResourceKey,
        desired: &Value,
        live: &Value,
        verdict: Verdict,
    ) -> Verdict {
        self.apply_noting(target, key, desired, live, verdict, &mut Vec::new())
    }

    /// [`Registry::apply`], adding to `noted` the rules this pair counts as used (a re-scan that
    /// reuses the pair's judgement marks them again with [`Registry::mark`]).
    pub fn apply_noting(
        &self,
        target: &str,
        key: &ResourceKey,
        desired: &Value,
        live: &Value,
        mut verdict: Verdict,
        noted: &mut Vec<usize>,
    ) -> Verdict {
        let selected: Vec<usize> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.selector.matches(target, key))
            .map(|(i, _)| i)
            .collect();
        if selected.is_empty() {
            return verdict;
        }
        // Whether each rule is used (the built-in one is never stale: nothing to track), and
        // the managers only when some rule names one.
        let ownership = selected
            .iter()
            .any(|&i| !self.rules[i].managers.is_empty())
            .then(|| Ownership::of(live));
        for &i in &selected {
            let rule = &self.rules[i];
            if rule.is_builtin() {
                continue;
            }
            let path_present = rule
                .paths
                .iter()
                .any(|p| resolves(live, p) || resolves(desired, p));
            let manager_present = ownership
                .as_ref()
                .is_some_and(|o| o.managers().any(|m| rule.managers.iter().any(|r| r == m)));
            if path_present || manager_present {
                self.used[i].store(true, Ordering::Relaxed);
                noted.push(i);
            }
        }
        let drifts = std::mem::take(&mut verdict.drifts);
        for drift in drifts {
            let segments = split(&drift.path);
            let git_segments = drift.git_path.as_deref().map(split);
            let at = Place {
                path: &segments,
                git_path: git_segments.as_deref(),
                desired,
                live,
                element: &drift.desired,
            };
            let ignored_by = selected.iter().map(|&i| &self.rules[i]).find(|rule| {
                rule.paths.iter().any(|p| at.covered_by(p))
                    || drift
                        .owners
                        .iter()
                        .any(|o| rule.managers.iter().any(|m| m == o))
            });
            match ignored_by {
                None => verdict.drifts.push(drift),
                Some(_) if verdict.discounted.len() >= MAX_DISCOUNTS => {
                    verdict.discounted_more += 1
                }
                Some(rule) => verdict.discounted.push(Discount {
                    path: drift.path,
                    reason: DiscountReason::IgnoredByRule,
                    detail: if rule.is_builtin() {
                        format!(
                            "built-in ignore rule (drift.ignore_injected): {}",
                            rule.describe()
                        )
                    } else {
                        format!(
                            "drift.ignore rule at line {}: {}",
                            rule.line,
                            rule.describe()
                        )
                    },
                }),
            }
        }
        verdict
    }

    /// Counts these rules as used, as an earlier judgement of an unchanged pair noted them.
    pub fn mark(&self, used: &[usize]) {
        for &i in used {
            if let Some(flag) = self.used.get(i) {
                flag.store(true, Ordering::Relaxed);
            }
        }
    }

    /// The configured rules that matched nothing in this scan (the built-in ones are never
    /// stale: an estate without a mesh has nothing for them to match).
    pub fn stale(&self) -> impl Iterator<Item = &'a IgnoreRule> + '_ {
        self.rules
            .iter()
            .zip(&self.used)
            .filter(|(rule, used)| !rule.is_builtin() && !used.load(Ordering::Relaxed))
            .map(|(rule, _)| rule)
    }
}

fn split(pointer: &str) -> Vec<String> {
    crate::model::pointer::parse(pointer).unwrap_or_default()
}

/// Where a drift is: its path (live positions), git's positions where they differ, both
/// objects, and the drift's declared value (the element, for one the live list lacks).
struct Place<'v> {
    path: &'v [String],
    git_path: Option<&'v [String]>,
    desired: &'v Value,
    live: &'v Value,
    element: &'v Value,
}

impl Place<'_> {
    /// Whether `pattern` names the drift or a field above it: a segment is a key or position,
    /// `*` (any one segment), or `[key=glob]` (the list element whose `key` matches the glob,
    /// found in the live list, else in git's).
    fn covered_by(&self, pattern: &[String]) -> bool {
        if pattern.len() > self.path.len() {
            return false;
        }
        let (mut live, mut desired) = (Some(self.live), Some(self.desired));
        for (n, (want, have)) in pattern.iter().zip(self.path).enumerate() {
            let git_have = self.git_path.and_then(|g| g.get(n)).unwrap_or(have);
            if let Some((key, glob)) = element_selector(want) {
                let element = live
                    .and_then(|v| child(v, have))
                    .or_else(|| desired.and_then(|v| child(v, git_have)))
                    .or_else(|| (n + 1 == self.path.len()).then_some(self.element));
                if !element.is_some_and(|e| selects(e, key, glob)) {
                    return false;
                }
            } else if want != "*" && want != have {
                return false;
            }
            live = live.and_then(|v| child(v, have));
            desired = desired.and_then(|v| child(v, git_have));
        }
        true
    }
}

/// A mapping's field or a list's element at a path segment.
fn child<'v>(value: &'v Value, segment: &str) -> Option<&'v Value> {
    match value {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
        _ => None,
    }
}

/// Whether a pointer pattern names something that exists in `value`.
fn resolves(value: &Value, pattern: &[String]) -> bool {
    let Some((first, rest)) = pattern.split_first() else {
        return true;
    };
    match value {
        Value::Object(map) if first == "*" => map.values().any(|v| resolves(v, rest)),
        Value::Object(map) => map.get(first).is_some_and(|v| resolves(v, rest)),
        Value::Array(items) if first == "*" => items.iter().any(|v| resolves(v, rest)),
        Value::Array(items) if element_selector(first).is_some() => {
            let (key, glob) = element_selector(first).unwrap_or_default();
            items
                .iter()
                .any(|v| selects(v, key, glob) && resolves(v, rest))
        }
        Value::Array(items) => first
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get(i))
            .is_some_and(|v| resolves(v, rest)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::Drift;
    use crate::model::Selector;
    use serde_json::json;

    fn key() -> ResourceKey {
        ResourceKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        }
    }

    fn drift(path: &str, owners: &[&str]) -> Drift {
        Drift {
            path: path.into(),
            desired: json!(1),
            live: json!(2),
            reason: Default::default(),
            changed_by: owners.first().map(|s| s.to_string()),
            changed_at: None,
            owners: owners.iter().map(|s| s.to_string()).collect(),
            git_path: None,
            line: None,
            first_seen: None,
        }
    }

    #[test]
    fn paths_with_wildcards_and_managers_filter_drifts_and_stale_rules_are_reported() {
        let rules = vec![
            IgnoreRule {
                line: 1,
                selector: Selector {
                    kind: Some("Deployment".into()),
                    ..Selector::default()
                },
                paths: vec![vec![
                    "spec".into(),
                    "template".into(),
                    "spec".into(),
                    "containers".into(),
                    "*".into(),
                    "image".into(),
                ]],
                managers: vec![],
            },
            IgnoreRule {
                line: 2,
                selector: Selector::default(),
                paths: vec![],
                managers: vec!["vpa-recommender".into()],
            },
            IgnoreRule {
                line: 3,
                selector: Selector {
                    kind: Some("Service".into()),
                    ..Selector::default()
                },
                paths: vec![vec!["spec".into()]],
                managers: vec![],
            },
        ];
        let live = json!({
            "metadata": {"managedFields": [{"manager": "vpa-recommender", "fieldsV1": {}}]},
            "spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}
        });
        let registry = Registry::new(&rules);
        let verdict = registry.apply(
            "lab",
            &key(),
            &json!({}),
            &live,
            Verdict {
                drifts: vec![
                    drift("/spec/template/spec/containers/0/image", &[]),
                    drift(
                        "/spec/template/spec/containers/0/resources/requests/cpu",
                        &["vpa-recommender"],
                    ),
                    drift("/spec/replicas", &["kubectl-scale"]),
                ],
                ..Verdict::default()
            },
        );
        let kept = &verdict.drifts;
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].path, "/spec/replicas");
        let discounted: Vec<(&str, &str)> = verdict
            .discounted
            .iter()
            .map(|d| (d.path.as_str(), d.detail.as_str()))
            .collect();
        assert_eq!(
            discounted,
            vec![
                (
                    "/spec/template/spec/containers/0/image",
                    "drift.ignore rule at line 1: paths /spec/template/spec/containers/*/image in kind=Deployment"
                ),
                (
                    "/spec/template/spec/containers/0/resources/requests/cpu",
                    "drift.ignore rule at line 2: managers vpa-recommender in every object"
                ),
            ]
        );
        assert!(
            verdict
                .discounted
                .iter()
                .all(|d| d.reason == DiscountReason::IgnoredByRule)
        );
        let stale: Vec<u64> = registry.stale().map(|r| r.line).collect();
        assert_eq!(stale, vec![3]);
    }

    #[test]
    fn a_rule_whose_path_exists_is_not_stale_without_drift() {
        let rules = vec![IgnoreRule {
            line: 7,
            selector: Selector::default(),
            paths: vec![vec!["spec".into(), "replicas".into()]],
            managers: vec![],
        }];
        let registry = Registry::new(&rules);
        let kept = registry.apply(
            "lab",
            &key(),
            &json!({}),
            &json!({"spec": {"replicas": 3}}),
            Verdict::default(),
        );
        assert!(kept.drifts.is_empty() && kept.discounted.is_empty());
        assert_eq!(registry.stale().count(), 0);
    }
}
