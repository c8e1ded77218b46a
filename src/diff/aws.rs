//! The judgement for AWS resources. Declared properties must match the resource as the EC2 API
//! describes it; lists are sets (security-group rules, CIDR lists, routes: reordering is never
//! drift, an added or removed element is); tags compare as a map (declared keys must match; extra
//! live tags are drift only where the declaration says its tags are exhaustive). Pure: values
//! in, values out. (Which resources are AWS's own defaults, never unmanaged, each type's file in
//! `live::aws::types` says.)

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::Drift;
use super::path::{Seg, pointer};

/// A declaration of an AWS resource, as `desired` hands it over (the body of a declared object
/// of group `aws`).
#[derive(Clone, Debug, PartialEq)]
pub struct Declaration {
    /// The resource id, when the declaration names it.
    pub id: Option<String>,
    /// Tags that identify the resource, when it is matched by tags.
    pub match_tags: BTreeMap<String, String>,
    /// Declared properties, in the shape the EC2 API describes.
    pub properties: Value,
    /// Whether live tags beyond the declared ones are drift.
    pub exhaustive_tags: bool,
}

impl Declaration {
    /// Reads a declaration back from a declared object's body.
    pub fn from_value(value: &Value) -> Declaration {
        let match_tags = value
            .pointer("/match/tags")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Declaration {
            id: value
                .pointer("/match/id")
                .and_then(Value::as_str)
                .map(str::to_string),
            match_tags,
            properties: value
                .get("properties")
                .cloned()
                .unwrap_or(Value::Object(Map::new())),
            exhaustive_tags: value
                .get("exhaustiveTags")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    /// The body a declared object carries.
    pub fn to_value(&self) -> Value {
        let mut matcher = Map::new();
        if let Some(id) = &self.id {
            matcher.insert("id".into(), Value::String(id.clone()));
        }
        if !self.match_tags.is_empty() {
            matcher.insert(
                "tags".into(),
                Value::Object(
                    self.match_tags
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect(),
                ),
            );
        }
        serde_json::json!({
            "match": matcher,
            "properties": self.properties,
            "exhaustiveTags": self.exhaustive_tags,
        })
    }
}

/// The tags of a described resource (`Tags: [{Key, Value}]`, or already a map).
pub fn tags(value: &Value) -> BTreeMap<String, String> {
    match value.get("Tags") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|t| {
                Some((
                    t.get("Key")?.as_str()?.to_string(),
                    t.get("Value")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ))
            })
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Rules with the same protocol and ports are one rule to AWS, whatever their sources: the API
/// returns one permission with every range, Terraform may record one per source.
fn merge_permissions(list: &[Value]) -> Vec<Value> {
    let mut merged: Vec<Value> = Vec::new();
    for rule in list {
        let key = |r: &Value| {
            (
                canonical(
                    &[Seg::Key("IpProtocol".into())],
                    r.get("IpProtocol").unwrap_or(&Value::Null),
                ),
                r.get("FromPort").and_then(Value::as_i64),
                r.get("ToPort").and_then(Value::as_i64),
            )
        };
        match merged.iter_mut().find(|m| key(m) == key(rule)) {
            Some(existing) => {
                for field in [
                    "IpRanges",
                    "Ipv6Ranges",
                    "UserIdGroupPairs",
                    "PrefixListIds",
                ] {
                    if let Some(Value::Array(more)) = rule.get(field) {
                        let target = existing.as_object_mut().map(|m| {
                            m.entry(field.to_string())
                                .or_insert_with(|| Value::Array(Vec::new()))
                        });
                        if let Some(Value::Array(list)) = target {
                            for item in more {
                                if !list.contains(item) {
                                    list.push(item.clone());
                                }
                            }
                        }
                    }
                }
            }
            None => merged.push(rule.clone()),
        }
    }
    merged
}

/// A described resource with `Tags` as a map and security-group rules merged by protocol and
/// ports (the shape drift paths point into).
pub fn normalize(value: &Value) -> Value {
    let mut out = value.clone();
    if let Some(map) = out.as_object_mut() {
        for key in ["IpPermissions", "IpPermissionsEgress"] {
            if let Some(Value::Array(list)) = map.get(key) {
                let merged = merge_permissions(list);
                map.insert(key.to_string(), Value::Array(merged));
            }
        }
    }
    if let Some(map) = out.as_object_mut()
        && map.contains_key("Tags")
    {
        let tags = tags(value);
        map.insert(
            "Tags".into(),
            Value::Object(
                tags.into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ),
        );
    }
    out
}

/// Compares declared properties with a live resource.
pub fn compare(declaration: &Declaration, live: &Value) -> Vec<Drift> {
    let live = normalize(live);
    let declared = normalize(&declaration.properties);
    let mut out = Vec::new();
    let mut path = Vec::new();
    if let (Value::Object(d), Value::Object(l)) = (&declared, &live) {
        for (key, dv) in d {
            path.push(Seg::Key(key.clone()));
            if key == "Tags" {
                compare_tags(
                    dv,
                    l.get(key),
                    declaration.exhaustive_tags,
                    &mut path,
                    &mut out,
                );
            } else {
                compare_value(dv, l.get(key), &mut path, &mut out);
            }
            path.pop();
        }
    }
    out
}

fn drift(path: &[Seg], desired: &Value, live: &Value) -> Drift {
    // An element only the live list has would be appended to the declared one.
    let git_path = match path.last() {
        Some(Seg::Index(_)) if desired.is_null() => {
            let mut p = path.to_vec();
            if let Some(last) = p.last_mut() {
                *last = Seg::Missing;
            }
            Some(pointer(&p))
        }
        _ => None,
    };
    Drift {
        path: pointer(path),
        desired: desired.clone(),
        live: live.clone(),
        reason: super::Reason::between(desired, live),
        changed_by: None,
        changed_at: None,
        owners: Vec::new(),
        git_path,
        line: None,
        first_seen: None,
    }
}

fn compare_tags(
    declared: &Value,
    live: Option<&Value>,
    exhaustive: bool,
    path: &mut Vec<Seg>,
    out: &mut Vec<Drift>,
) {
    let empty = Map::new();
    let declared = declared.as_object().unwrap_or(&empty);
    let live = live.and_then(Value::as_object).unwrap_or(&empty);
    for (key, value) in declared {
        path.push(Seg::Key(key.clone()));
        match live.get(key) {
            Some(have) if have == value => {}
            Some(have) => out.push(drift(path, value, have)),
            None => out.push(drift(path, value, &Value::Null)),
        }
        path.pop();
    }
    if exhaustive {
        for (key, value) in live {
            if !declared.contains_key(key) {
                path.push(Seg::Key(key.clone()));
                out.push(drift(path, &Value::Null, value));
                path.pop();
            }
        }
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.values().all(is_empty),
        _ => false,
    }
}

fn compare_value(
    declared: &Value,
    live: Option<&Value>,
    path: &mut Vec<Seg>,
    out: &mut Vec<Drift>,
) {
    let Some(live) = live.filter(|l| !l.is_null()) else {
        if !is_empty(declared) {
            out.push(drift(path, declared, &Value::Null));
        }
        return;
    };
    match (declared, live) {
        (Value::Object(d), Value::Object(l)) => {
            for (key, dv) in d {
                path.push(Seg::Key(key.clone()));
                compare_value(dv, l.get(key), path, out);
                path.pop();
            }
        }
        (Value::Array(d), Value::Array(l)) => compare_set(d, l, path, out),
        _ => {
            if !scalar_equal(path, declared, live) {
                out.push(drift(path, declared, live));
            }
        }
    }
}

/// Lists are sets: declared elements must each be in the live list, live elements not declared
/// are drift; order never matters.
fn compare_set(declared: &[Value], live: &[Value], path: &mut Vec<Seg>, out: &mut Vec<Drift>) {
    let scalar = |v: &Value| !v.is_object() && !v.is_array();
    if declared.iter().all(scalar) && live.iter().all(scalar) {
        let d: BTreeSet<String> = declared.iter().map(|v| canonical(path, v)).collect();
        let l: BTreeSet<String> = live.iter().map(|v| canonical(path, v)).collect();
        if d != l {
            out.push(drift(
                path,
                &Value::Array(declared.to_vec()),
                &Value::Array(live.to_vec()),
            ));
        }
        return;
    }
    let mut used = vec![false; live.len()];
    for d in declared {
        let found = live.iter().enumerate().position(|(i, l)| {
            if used[i] {
                return false;
            }
            let mut probe = Vec::new();
            compare_value(d, Some(l), &mut path.clone(), &mut probe);
            probe.is_empty()
        });
        match found {
            Some(i) => used[i] = true,
            None => {
                path.push(Seg::Missing);
                out.push(drift(path, d, &Value::Null));
                path.pop();
            }
        }
    }
    for (i, l) in live.iter().enumerate() {
        if !used[i] {
            path.push(Seg::Index(i));
            out.push(drift(path, &Value::Null, l));
            path.pop();
        }
    }
}

/// Protocol names and numbers mean the same (`tcp` = `6`, `all` = `-1`).
fn canonical(path: &[Seg], value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let is_protocol = matches!(
        path.iter().rev().find_map(Seg::key),
        Some("IpProtocol" | "Protocol")
    );
    if is_protocol {
        return match text.to_ascii_lowercase().as_str() {
            "6" | "tcp" => "tcp".into(),
            "17" | "udp" => "udp".into(),
            "1" | "icmp" => "icmp".into(),
            "58" | "icmpv6" => "icmpv6".into(),
            "-1" | "all" => "-1".into(),
            other => other.to_string(),
        };
    }
    text
}

fn scalar_equal(path: &[Seg], declared: &Value, live: &Value) -> bool {
    if declared == live {
        return true;
    }
    if let (Value::Number(d), Value::Number(l)) = (declared, live) {
        return d.as_f64() == l.as_f64();
    }
    canonical(path, declared) == canonical(path, live)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn declaration(properties: Value, exhaustive: bool) -> Declaration {
        Declaration {
            id: None,
            match_tags: BTreeMap::new(),
            properties,
            exhaustive_tags: exhaustive,
        }
    }

    fn live_group() -> Value {
        json!({
            "GroupId": "sg-1", "GroupName": "web", "VpcId": "vpc-1",
            "IpPermissions": [
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "0.0.0.0/0"}]},
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
            "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "team", "Value": "shop"}]
        })
    }

    #[test]
    fn rules_and_cidrs_in_another_order_are_in_sync() {
        let d = declaration(
            json!({"GroupName": "web", "IpPermissions": [
                {"IpProtocol": "6", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "10.0.0.0/8"}]}
            ], "Tags": {"Name": "web"}}),
            false,
        );
        assert_eq!(compare(&d, &live_group()), Vec::<Drift>::new());
    }

    #[test]
    fn a_rule_added_by_hand_and_a_tag_removed_are_drift() {
        let d = declaration(
            json!({"IpPermissions": [
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ], "Tags": {"Name": "web", "env": "prod"}}),
            true,
        );
        let drifts = compare(&d, &live_group());
        let paths: Vec<&str> = drifts.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, vec!["/IpPermissions/0", "/Tags/env", "/Tags/team"]);
        assert_eq!(drifts[0].desired, Value::Null);
        assert_eq!(drifts[1].live, Value::Null);
    }

    #[test]
    fn rules_split_by_source_equal_one_rule_with_every_range() {
        let d = declaration(
            json!({"IpPermissions": [
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ]}),
            false,
        );
        assert_eq!(compare(&d, &live_group()), Vec::<Drift>::new());
    }

    #[test]
    fn extra_tags_are_drift_only_when_tags_are_exhaustive() {
        let d = declaration(json!({"Tags": {"Name": "web"}}), false);
        assert!(compare(&d, &live_group()).is_empty());
    }

    #[test]
    fn scalars_and_missing_fields() {
        let live = json!({"InstanceType": "t3.large", "EbsOptimized": false});
        let d = declaration(
            json!({"InstanceType": "t3.micro", "KeyName": "ops", "SecurityGroups": []}),
            false,
        );
        let drifts = compare(&d, &live);
        assert_eq!(drifts.len(), 2);
        assert_eq!(drifts[0].path, "/InstanceType");
        assert_eq!(drifts[1].path, "/KeyName");
    }
}
