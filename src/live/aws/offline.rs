//! AWS state in snapshot folders: the JSON that `aws ec2 describe-*` prints
//! (`{"Reservations": …}`, `{"SecurityGroups": …}`, …), in a folder named after its region
//! (`eu-west-1/security-groups.json`). Read as live AWS state by snapshot targets, and written by
//! `gitdrift snapshot` for AWS targets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::types::{ALL, AwsType, Item, Shape};
use crate::model::Object;

/// Whether a parsed JSON document is `describe-*` output.
pub fn is_describe_output(value: &Value) -> bool {
    !types_in(value).is_empty()
}

/// The resource types a `describe-*` output holds in full.
pub fn types_in(value: &Value) -> Vec<&'static str> {
    let Some(map) = value.as_object() else {
        return Vec::new();
    };
    ALL.iter()
        .filter(|t| map.contains_key(t.snapshot().key))
        .map(|t| t.name())
        .collect()
}

/// The region of a snapshot file: the name of the folder it is in, when that is a region name.
pub fn region_of(path: &Path) -> Option<String> {
    let folder = path.parent()?.file_name()?.to_str()?;
    let parts: Vec<&str> = folder.split('-').collect();
    let looks_like_region = parts.len() >= 3
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_alphanumeric()));
    looks_like_region.then(|| folder.to_string())
}

/// The items of one type in a `describe-*` output.
fn items<'v>(t: &dyn AwsType, value: &'v Value) -> Vec<&'v Value> {
    let snapshot = t.snapshot();
    let Some(held) = value.get(snapshot.key) else {
        return Vec::new();
    };
    match snapshot.shape {
        Shape::List => held
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        Shape::Reservations => held
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| {
                r.get("Instances")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
            .filter(|i| i.pointer("/State/Name").and_then(Value::as_str) != Some("terminated"))
            .collect(),
        Shape::Setting => vec![value],
    }
}

/// The AWS objects in a `describe-*` output, in `region`.
pub fn objects(value: &Value, region: &str) -> Vec<Object> {
    let mut out = Vec::new();
    for t in ALL {
        let snapshot = t.snapshot();
        for item in items(*t, value) {
            let id = match snapshot.shape {
                Shape::Setting => Some(region),
                _ => snapshot
                    .id
                    .iter()
                    .find_map(|field| item.get(*field).and_then(Value::as_str)),
            };
            if let Some(id) = id {
                out.push(super::object(
                    region,
                    t.name(),
                    Item {
                        id: id.to_string(),
                        value: item.clone(),
                    },
                ));
            }
        }
    }
    out
}

/// Writes AWS objects as `describe-*` files, a folder per region. Returns the files written.
pub fn write(
    dir: &Path,
    objects: &[&Object],
    read: &BTreeSet<(String, String)>,
) -> std::io::Result<Vec<PathBuf>> {
    let mut by_file: BTreeMap<(String, &'static str), (&dyn AwsType, Vec<Value>)> = BTreeMap::new();
    // Types read in full with nothing in them are written empty, so that reading the snapshot
    // back knows there is nothing (rather than nothing known). A setting always has a value.
    for (region, kind) in read {
        if let Some(t) = super::types::named(kind).filter(|t| t.snapshot().shape != Shape::Setting)
        {
            by_file
                .entry((region.clone(), t.snapshot().file))
                .or_insert((t, Vec::new()));
        }
    }
    for object in objects {
        let Some(t) = super::types::named(&object.kind) else {
            continue;
        };
        let region = object
            .namespace
            .clone()
            .unwrap_or_else(|| "unknown".to_string());
        by_file
            .entry((region, t.snapshot().file))
            .or_insert((t, Vec::new()))
            .1
            .push(object.value().into_owned());
    }
    let mut written = Vec::new();
    for ((region, file), (t, items)) in by_file {
        let key = t.snapshot().key;
        let document = match t.snapshot().shape {
            Shape::List => json!({ key: items }),
            Shape::Reservations => json!({ key: [{"Instances": items}] }),
            Shape::Setting => items.into_iter().next().unwrap_or(Value::Null),
        };
        let folder = dir.join(&region);
        std::fs::create_dir_all(&folder)?;
        let path = folder.join(file);
        let mut text = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?;
        text.push('\n');
        crate::files::write_atomically(&path, &text, crate::files::Access::Private)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_outputs_are_read_in_their_folders_region() {
        let value = json!({"SecurityGroups": [{"GroupId": "sg-1", "GroupName": "web"}]});
        assert!(is_describe_output(&value));
        assert!(!is_describe_output(&json!({"apiVersion": "v1"})));
        assert_eq!(
            region_of(Path::new("live/eu-west-1/sgs.json")).as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_of(Path::new("live/shop/sgs.json")), None);
        let objects = objects(&value, "eu-west-1");
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].kind, "AWS::EC2::SecurityGroup");
        assert_eq!(objects[0].name, "sg-1");
        let reservations = json!({"Reservations": [{"Instances": [
            {"InstanceId": "i-1", "State": {"Name": "running"}},
            {"InstanceId": "i-2", "State": {"Name": "terminated"}}]}]});
        assert_eq!(super::objects(&reservations, "us-east-1").len(), 1);
    }
}
