//! AWS state in snapshot folders: the JSON that `aws ec2 describe-*` prints
//! (`{"Reservations": …}`, `{"SecurityGroups": …}`, …), in a folder named after its region
//! (`eu-west-1/security-groups.json`). Read as live AWS state by snapshot targets, and written by
//! `gitdrift snapshot` for AWS targets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::types::Item;
use crate::model::Object;

/// Each `describe-*` output key, the type its items are, the field that holds their id, and the
/// file name `gitdrift snapshot` writes.
const SHAPES: &[(&str, &str, &str, &str)] = &[
    (
        "SecurityGroups",
        "AWS::EC2::SecurityGroup",
        "GroupId",
        "security-groups.json",
    ),
    ("Vpcs", "AWS::EC2::VPC", "VpcId", "vpcs.json"),
    ("Subnets", "AWS::EC2::Subnet", "SubnetId", "subnets.json"),
    (
        "RouteTables",
        "AWS::EC2::RouteTable",
        "RouteTableId",
        "route-tables.json",
    ),
    (
        "InternetGateways",
        "AWS::EC2::InternetGateway",
        "InternetGatewayId",
        "internet-gateways.json",
    ),
    (
        "NatGateways",
        "AWS::EC2::NatGateway",
        "NatGatewayId",
        "nat-gateways.json",
    ),
    (
        "Addresses",
        "AWS::EC2::EIP",
        "AllocationId",
        "addresses.json",
    ),
    ("Volumes", "AWS::EC2::Volume", "VolumeId", "volumes.json"),
    (
        "NetworkAcls",
        "AWS::EC2::NetworkAcl",
        "NetworkAclId",
        "network-acls.json",
    ),
    (
        "LaunchTemplates",
        "AWS::EC2::LaunchTemplate",
        "LaunchTemplateId",
        "launch-templates.json",
    ),
    (
        "KeyPairs",
        "AWS::EC2::KeyPair",
        "KeyPairId",
        "key-pairs.json",
    ),
    (
        "FlowLogs",
        "AWS::EC2::FlowLog",
        "FlowLogId",
        "flow-logs.json",
    ),
];

/// Whether a parsed JSON document is `describe-*` output.
pub fn is_describe_output(value: &Value) -> bool {
    value.as_object().is_some_and(|map| {
        map.contains_key("Reservations")
            || map.contains_key("EbsEncryptionByDefault")
            || SHAPES.iter().any(|(key, ..)| map.contains_key(*key))
    })
}

/// The resource types a `describe-*` output holds in full.
pub fn types_in(value: &Value) -> Vec<&'static str> {
    let Some(map) = value.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if map.contains_key("Reservations") {
        out.push("AWS::EC2::Instance");
    }
    if map.contains_key("EbsEncryptionByDefault") {
        out.push("AWS::EC2::EBSEncryptionByDefault");
    }
    out.extend(
        SHAPES
            .iter()
            .filter(|(key, ..)| map.contains_key(*key))
            .map(|(_, t, ..)| *t),
    );
    out
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

/// The AWS objects in a `describe-*` output, in `region`.
pub fn objects(value: &Value, region: &str) -> Vec<Object> {
    let mut out = Vec::new();
    let mut push = |resource_type: &str, id: Option<&str>, item: &Value| {
        if let Some(id) = id {
            out.push(super::object(
                region,
                resource_type,
                Item {
                    id: id.to_string(),
                    value: item.clone(),
                },
            ));
        }
    };
    if let Some(reservations) = value.get("Reservations").and_then(Value::as_array) {
        for reservation in reservations {
            for instance in reservation
                .get("Instances")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if instance.pointer("/State/Name").and_then(Value::as_str) == Some("terminated") {
                    continue;
                }
                push(
                    "AWS::EC2::Instance",
                    instance.get("InstanceId").and_then(Value::as_str),
                    instance,
                );
            }
        }
    }
    for (key, resource_type, id_field, _) in SHAPES {
        for item in value
            .get(*key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = item
                .get(*id_field)
                .and_then(Value::as_str)
                .or_else(|| match *key {
                    "Addresses" => item.get("PublicIp").and_then(Value::as_str),
                    "KeyPairs" => item.get("KeyName").and_then(Value::as_str),
                    _ => None,
                });
            push(resource_type, id, item);
        }
    }
    if value.get("EbsEncryptionByDefault").is_some() {
        push("AWS::EC2::EBSEncryptionByDefault", Some(region), value);
    }
    out
}

/// Writes AWS objects as `describe-*` files, a folder per region. Returns the files written.
pub fn write(
    dir: &Path,
    objects: &[&Object],
    read: &BTreeSet<(String, String)>,
) -> std::io::Result<Vec<PathBuf>> {
    let file_of = |kind: &str| -> Option<&'static str> {
        match kind {
            "AWS::EC2::Instance" => Some("instances.json"),
            "AWS::EC2::EBSEncryptionByDefault" => None,
            kind => SHAPES
                .iter()
                .find(|(_, t, ..)| *t == kind)
                .map(|(.., file)| *file),
        }
    };
    let mut by_file: BTreeMap<(String, &'static str), Vec<Value>> = BTreeMap::new();
    // Types read in full with nothing in them are written empty, so that reading the snapshot
    // back knows there is nothing (rather than nothing known).
    for (region, kind) in read {
        if let Some(file) = file_of(kind) {
            by_file.entry((region.clone(), file)).or_default();
        }
    }
    for object in objects {
        let region = object
            .namespace
            .clone()
            .unwrap_or_else(|| "unknown".to_string());
        let file = match object.kind.as_str() {
            "AWS::EC2::EBSEncryptionByDefault" => "ebs-encryption-by-default.json",
            kind => match file_of(kind) {
                Some(file) => file,
                None => continue,
            },
        };
        by_file
            .entry((region, file))
            .or_default()
            .push(object.value().into_owned());
    }
    let mut written = Vec::new();
    for ((region, file), items) in by_file {
        let document = match file {
            "instances.json" => json!({"Reservations": [{"Instances": items}]}),
            "ebs-encryption-by-default.json" => items.into_iter().next().unwrap_or(Value::Null),
            _ => {
                let key = SHAPES
                    .iter()
                    .find(|(.., f)| *f == file)
                    .map(|(k, ..)| *k)
                    .unwrap_or("Items");
                json!({ key: items })
            }
        };
        let folder = dir.join(&region);
        std::fs::create_dir_all(&folder)?;
        let path = folder.join(file);
        let mut text = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?;
        text.push('\n');
        crate::files::write_atomically(&path, &text)?;
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
