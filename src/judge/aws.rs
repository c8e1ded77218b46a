//! AWS resources: each declaration matched with a live resource by id or by tags, compared as
//! the EC2 API describes it; AWS's own defaults are never unmanaged.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use super::{ResourceReport, TargetJudgement, sort_resources};
use crate::config::Config;
use crate::diff::{Status, ignore};
use crate::live::LiveRead;
use crate::live::aws::types;
use crate::model::aws::API_VERSION;
use crate::model::{Code, Declared, Object, Problem, Severity, SourceRef};

/// Judges the AWS resources of a target: each declaration is matched with a live resource by id
/// or by tags (exactly one), compared as the EC2 API describes it; declarations that match
/// nothing are missing; live resources nothing declares are unmanaged, except AWS's own defaults.
pub fn judge_aws(
    config: &Config,
    target: &str,
    declared: &[Declared],
    live: &[Object],
    read: &LiveRead,
    registry: &ignore::Registry<'_>,
    find_unmanaged: bool,
) -> TargetJudgement {
    use crate::diff::aws::{Declaration, compare, tags};

    let mut out = TargetJudgement {
        resources: Vec::new(),
        problems: Vec::new(),
    };
    if !read.complete {
        return out;
    }
    let unreadable: HashSet<&str> = read
        .unreadable
        .iter()
        .filter(|u| u.gk.group == crate::model::aws::GROUP)
        .map(|u| u.gk.kind.as_str())
        .collect();
    let key = |o: &Object| {
        (
            o.kind.clone(),
            o.namespace.clone().unwrap_or_default(),
            o.name.clone(),
        )
    };
    let by_id: HashMap<(String, String, String), &Object> =
        live.iter().map(|o| (key(o), o)).collect();
    // Each live resource parsed once: for tags, and for telling AWS's own from the rest.
    let values: Vec<Value> = live.iter().map(|o| o.value().into_owned()).collect();
    let own_defaults = own_defaults(live, &values);
    // Live resources with their tags, by type and region, for declarations matched by tags.
    type Tagged<'a> = Vec<(&'a Object, BTreeMap<String, String>)>;
    let mut tagged: HashMap<(&str, &str), Tagged> = HashMap::new();
    for (o, value) in live.iter().zip(&values) {
        tagged
            .entry((o.kind.as_str(), o.namespace.as_deref().unwrap_or_default()))
            .or_default()
            .push((o, tags(value)));
    }
    let mut matched: HashMap<(String, String, String), String> = HashMap::new();
    for item in declared {
        let object = &item.object;
        if unreadable.contains(object.kind.as_str()) {
            continue;
        }
        let region = object.namespace.clone().unwrap_or_default();
        let body = object.value();
        let declaration = Declaration::from_value(&body);
        let at = |problem: Problem| {
            problem
                .source(&item.source)
                .at(&object.origin.file, object.origin.line)
        };
        if !read
            .aws_read
            .contains(&(region.clone(), object.kind.clone()))
        {
            // Not read is not missing: the target does not look there.
            out.problems.push(at(Problem::new(
                Severity::Warning,
                Code::JudgeNotRead,
                format!(
                    "{} {} is not judged: target {target} does not read {} in {region}",
                    object.kind, object.name, object.kind
                ),
            )
            .target(target)));
            continue;
        }
        let found: Option<&Object> = match &declaration.id {
            Some(id) => by_id
                .get(&(object.kind.clone(), region.clone(), id.clone()))
                .copied(),
            None => {
                let candidates: Vec<&Object> = tagged
                    .get(&(object.kind.as_str(), region.as_str()))
                    .into_iter()
                    .flatten()
                    .filter(|(_, have)| {
                        declaration
                            .match_tags
                            .iter()
                            .all(|(k, v)| have.get(k) == Some(v))
                    })
                    .map(|(o, _)| *o)
                    .collect();
                if candidates.len() > 1 {
                    let ids: Vec<&str> = candidates.iter().map(|o| o.name.as_str()).collect();
                    out.problems.push(at(Problem::new(
                        Severity::Error,
                        Code::JudgeAmbiguousTags,
                        format!(
                            "{} {}: its tags match {} resources ({}); add tags or an id",
                            object.kind,
                            object.name,
                            ids.len(),
                            ids.join(", ")
                        ),
                    )));
                    continue;
                }
                candidates.into_iter().next()
            }
        };
        let source = Some(SourceRef {
            name: item.source.clone(),
            file: object.origin.file.clone(),
            line: object.origin.line,
            rendered: None,
        });
        let Some(found) = found else {
            let reason = (declaration.id.is_none()).then(|| {
                let tags: Vec<String> = declaration
                    .match_tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                format!("no resource has the tags {}", tags.join(", "))
            });
            let declared_key = object.key_with_namespace(Some(region));
            out.resources.push(Arc::new(ResourceReport {
                source,
                reason,
                health: Some(crate::health::Health::missing()),
                ..ResourceReport::new(target, API_VERSION, &declared_key, Status::Missing)
            }));
            continue;
        };
        let live_key = key(found);
        if let Some(first) = matched.insert(live_key.clone(), object.origin.to_string()) {
            out.problems.push(at(Problem::new(
                Severity::Error,
                Code::JudgeDeclaredTwice,
                format!(
                    "{} {} is declared twice (first in {first}); the first is used",
                    found.kind, found.name
                ),
            )));
            continue;
        }
        // A live AWS object is frozen: its text is parsed once, for health and judgement.
        let found_value = found.value();
        let health = crate::health::of(&found.group, &found.kind, &found_value);
        let live_value = crate::diff::aws::normalize(&found_value);
        let drifts = compare(&declaration, &live_value);
        let resource_key = found.key_with_namespace(found.namespace.clone());
        let drifts = registry.apply(
            target,
            &resource_key,
            &crate::diff::aws::normalize(&declaration.properties),
            &live_value,
            crate::diff::Verdict {
                drifts,
                ..Default::default()
            },
        );
        out.resources.push(Arc::new(ResourceReport {
            source,
            health: Some(health),
            ..ResourceReport::new(target, API_VERSION, &resource_key, Status::InSync).judged(drifts)
        }));
    }
    if find_unmanaged {
        let no_defaults = BTreeSet::new();
        for (object, value) in live.iter().zip(&values) {
            let live_key = key(object);
            let region = object.namespace.clone().unwrap_or_default();
            let defaults = own_defaults.get(&region).unwrap_or(&no_defaults);
            let resource_key = object.key_with_namespace(object.namespace.clone());
            if matched.contains_key(&live_key)
                || types::named(&object.kind).is_some_and(|t| t.is_aws_default(value, defaults))
                || config
                    .drift
                    .unmanaged_exclude
                    .iter()
                    .any(|s| s.matches(target, &resource_key))
            {
                continue;
            }
            out.resources.push(Arc::new(ResourceReport {
                health: Some(crate::health::of(&object.group, &object.kind, value)),
                ..ResourceReport::new(target, API_VERSION, &resource_key, Status::Unmanaged)
            }));
        }
    }
    sort_resources(&mut out.resources);
    out
}

/// The ids of the resources AWS creates on its own, by region, as their types tell from the
/// resources alone (the default VPC): what other types' defaults follow from (its gateway).
fn own_defaults(live: &[Object], values: &[Value]) -> HashMap<String, BTreeSet<String>> {
    let none = BTreeSet::new();
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (object, value) in live.iter().zip(values) {
        if types::named(&object.kind).is_some_and(|t| t.is_aws_default(value, &none)) {
            out.entry(object.namespace.clone().unwrap_or_default())
                .or_default()
                .insert(object.name.clone());
        }
    }
    out
}
