//! Codified cloud resources: an unmanaged AWS resource written as code git can hold. As
//! gitdrift's own `AWSResource` declaration (matched by id; its properties as the EC2 API
//! describes it, less what AWS sets and changes on its own; tags as a map), or, for a source that
//! reads Terraform state, as a Terraform `import {}` block (Terraform 1.5's config-driven
//! import) and a resource skeleton with the same attributes, laid out as `terraform fmt` lays it
//! out. User data is never written.

use serde_json::Value;

use crate::live::aws::types;

/// Properties AWS sets or changes on its own, at any depth: a declaration holding them would
/// drift by itself (states, times, counters, assigned addresses) or repeat the id it is matched
/// by. User data never leaves the live state.
const VOLATILE: &[&str] = &[
    "State",
    "Status",
    "StateReason",
    "StateTransitionReason",
    "StateMessage",
    "FlowLogStatus",
    "FailureCode",
    "FailureMessage",
    "Events",
    "InstanceStatus",
    "SystemStatus",
    "StatusChecks",
    "AttachTime",
    "LaunchTime",
    "CreateTime",
    "CreationTime",
    "OwnerId",
    "Arn",
    "LatestVersionNumber",
    "DefaultVersionNumber",
    "KeyFingerprint",
    "PublicIpAddress",
    "AssociationId",
    "RequesterManaged",
    "UserData",
];

/// What of a live resource a declaration holds: its description less [`VOLATILE`] and the id
/// fields, a volume's attachments (the instance's side holds them), tags as a map.
pub(super) fn properties(resource_type: &str, live: &Value) -> Value {
    let mut value = strip(live);
    if let (Some(map), Some(described)) = (value.as_object_mut(), types::named(resource_type)) {
        for id in described.snapshot().id {
            map.shift_remove(*id);
        }
        if resource_type == "AWS::EC2::Volume" {
            map.shift_remove("Attachments");
        }
        if map.contains_key("Tags") {
            let tags = crate::diff::aws::tags(live);
            map.insert(
                "Tags".into(),
                Value::Object(
                    tags.into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                ),
            );
        }
    }
    value
}

/// [`VOLATILE`] removed at every depth, but for settings that are named like them (an
/// instance's detailed monitoring is `Monitoring.State`).
fn strip(value: &Value) -> Value {
    strip_under(value, "")
}

/// [`strip`] of a value found under the key `parent` (list elements keep their list's key).
fn strip_under(value: &Value, parent: &str) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| parent == "Monitoring" || !VOLATILE.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), strip_under(v, k)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| strip_under(i, parent)).collect()),
        other => other.clone(),
    }
}

/// An `AWSResource` declaration of a live resource, matched by its id.
pub(super) fn declaration(
    target: &str,
    resource_type: &str,
    region: &str,
    id: &str,
    live: &Value,
) -> Result<String, String> {
    let tags = crate::diff::aws::tags(live);
    let name = kubernetes_name(tags.get("Name").map(String::as_str).unwrap_or(id));
    let document = serde_json::json!({
        "apiVersion": crate::desired::aws::DECLARATION_API_VERSION,
        "kind": crate::desired::aws::DECLARATION_KIND,
        "metadata": {"name": name},
        "spec": {
            "type": resource_type,
            "region": region,
            "match": {"id": id},
            "properties": properties(resource_type, live),
        },
    });
    let yaml = serde_saphyr::to_string(&document).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Imported by gitdrift from the live state of {target}.\n{yaml}"
    ))
}

/// A name a declaration's metadata takes: lowercase letters, digits and `-`.
fn kubernetes_name(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "imported".into()
    } else {
        name.chars().take(63).collect()
    }
}

/// An attribute of a Terraform resource: from a described property (a scalar, or a list of
/// scalars), or a special rule.
enum Attribute {
    /// `terraform attribute ← EC2 property`.
    Same(&'static str, &'static str),
    /// A list of the `field` of each element of the property's list.
    Each(&'static str, &'static str, &'static str),
    /// The `field` of the property list's first element.
    First(&'static str, &'static str, &'static str),
}

use Attribute::{Each, First, Same};

/// The Terraform resource type and attributes of each AWS type that Terraform imports by id.
fn terraform_shape(resource_type: &str) -> Option<(&'static str, Vec<Attribute>)> {
    Some(match resource_type {
        "AWS::EC2::Instance" => (
            "aws_instance",
            vec![
                Same("ami", "ImageId"),
                Same("instance_type", "InstanceType"),
                Same("subnet_id", "SubnetId"),
                Same("key_name", "KeyName"),
                Same("ebs_optimized", "EbsOptimized"),
                Same("source_dest_check", "SourceDestCheck"),
                Each("vpc_security_group_ids", "SecurityGroups", "GroupId"),
            ],
        ),
        "AWS::EC2::SecurityGroup" => (
            "aws_security_group",
            vec![
                Same("name", "GroupName"),
                Same("description", "Description"),
                Same("vpc_id", "VpcId"),
            ],
        ),
        "AWS::EC2::VPC" => (
            "aws_vpc",
            vec![
                Same("cidr_block", "CidrBlock"),
                Same("instance_tenancy", "InstanceTenancy"),
            ],
        ),
        "AWS::EC2::Subnet" => (
            "aws_subnet",
            vec![
                Same("vpc_id", "VpcId"),
                Same("cidr_block", "CidrBlock"),
                Same("availability_zone", "AvailabilityZone"),
                Same("map_public_ip_on_launch", "MapPublicIpOnLaunch"),
            ],
        ),
        "AWS::EC2::RouteTable" => ("aws_route_table", vec![Same("vpc_id", "VpcId")]),
        "AWS::EC2::InternetGateway" => (
            "aws_internet_gateway",
            vec![First("vpc_id", "Attachments", "VpcId")],
        ),
        "AWS::EC2::NatGateway" => (
            "aws_nat_gateway",
            vec![
                Same("subnet_id", "SubnetId"),
                Same("connectivity_type", "ConnectivityType"),
                First("allocation_id", "NatGatewayAddresses", "AllocationId"),
            ],
        ),
        "AWS::EC2::EIP" => (
            "aws_eip",
            vec![Same("domain", "Domain"), Same("instance", "InstanceId")],
        ),
        "AWS::EC2::Volume" => (
            "aws_ebs_volume",
            vec![
                Same("availability_zone", "AvailabilityZone"),
                Same("size", "Size"),
                Same("type", "VolumeType"),
                Same("encrypted", "Encrypted"),
                Same("iops", "Iops"),
                Same("throughput", "Throughput"),
                Same("kms_key_id", "KmsKeyId"),
                Same("snapshot_id", "SnapshotId"),
                Same("multi_attach_enabled", "MultiAttachEnabled"),
            ],
        ),
        "AWS::EC2::NetworkAcl" => ("aws_network_acl", vec![Same("vpc_id", "VpcId")]),
        "AWS::EC2::LaunchTemplate" => (
            "aws_launch_template",
            vec![
                Same("name", "LaunchTemplateName"),
                Same("image_id", "ImageId"),
                Same("instance_type", "InstanceType"),
                Same("key_name", "KeyName"),
            ],
        ),
        "AWS::EC2::KeyPair" => ("aws_key_pair", vec![Same("key_name", "KeyName")]),
        "AWS::EC2::FlowLog" => (
            "aws_flow_log",
            vec![
                Same("traffic_type", "TrafficType"),
                Same("log_destination_type", "LogDestinationType"),
                Same("log_destination", "LogDestination"),
                Same("iam_role_arn", "DeliverLogsPermissionArn"),
            ],
        ),
        "AWS::EC2::VPCEndpoint" => (
            "aws_vpc_endpoint",
            vec![
                Same("vpc_id", "VpcId"),
                Same("service_name", "ServiceName"),
                Same("vpc_endpoint_type", "VpcEndpointType"),
                Same("private_dns_enabled", "PrivateDnsEnabled"),
                Same("subnet_ids", "SubnetIds"),
                Same("route_table_ids", "RouteTableIds"),
                Each("security_group_ids", "Groups", "GroupId"),
            ],
        ),
        _ => return None,
    })
}

/// A Terraform `import {}` block and the resource it imports into, with the live resource's
/// attributes and tags, as `terraform fmt` writes them. `Err` for types Terraform does not
/// import by id.
pub(super) fn terraform(resource_type: &str, id: &str, live: &Value) -> Result<String, String> {
    let (tf_type, attributes) = terraform_shape(resource_type).ok_or_else(|| {
        format!("{resource_type} has no Terraform resource gitdrift imports by id")
    })?;
    // Terraform imports a key pair by its name, everything else by its id.
    let id = match (resource_type, live.get("KeyName").and_then(Value::as_str)) {
        ("AWS::EC2::KeyPair", Some(name)) => name,
        _ => id,
    };
    let address = format!("{tf_type}.{}", identifier(id));
    let mut lines: Vec<(String, String)> = Vec::new();
    for attribute in attributes {
        let value = match attribute {
            Same(name, property) => live.get(property).map(|v| (name, v.clone())),
            Each(name, property, field) => {
                live.get(property).and_then(Value::as_array).map(|items| {
                    (
                        name,
                        Value::Array(items.iter().filter_map(|i| i.get(field).cloned()).collect()),
                    )
                })
            }
            First(name, property, field) => live
                .get(property)
                .and_then(Value::as_array)
                .and_then(|items| items.first())
                .and_then(|i| i.get(field))
                .map(|v| (name, v.clone())),
        };
        if let Some((name, value)) = value
            && let Some(text) = hcl(&value)
        {
            lines.push((name.to_string(), text));
        }
    }
    let mut out = format!(
        "import {{\n  to = {address}\n  id = {}\n}}\n\nresource \"{tf_type}\" \"{}\" {{\n",
        string(id),
        identifier(id)
    );
    out.push_str(&aligned(&lines, "  "));
    if resource_type == "AWS::EC2::KeyPair" {
        out.push_str(
            "  # public_key: the EC2 API does not return it; set it before `terraform plan`.\n",
        );
    }
    // Keys under `aws:` are AWS's own: no one can set them, Terraform neither.
    let tags = crate::diff::aws::tags(live);
    let entries: Vec<(String, String)> = tags
        .iter()
        .filter(|(k, _)| !k.starts_with("aws:"))
        .map(|(k, v)| {
            let key = if is_identifier(k) {
                k.clone()
            } else {
                string(k)
            };
            (key, string(v))
        })
        .collect();
    if !entries.is_empty() {
        out.push_str("\n  tags = {\n");
        out.push_str(&aligned(&entries, "    "));
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    Ok(out)
}

/// `key = value` lines with their `=` aligned, as `terraform fmt` aligns a run of attributes.
fn aligned(lines: &[(String, String)], indent: &str) -> String {
    let width = lines
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    lines
        .iter()
        .map(|(k, v)| {
            format!(
                "{indent}{k}{} = {v}\n",
                " ".repeat(width - k.chars().count())
            )
        })
        .collect()
}

/// A value as an HCL literal: strings, numbers, booleans and lists of them.
fn hcl(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(string(s)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let items: Option<Vec<String>> = items
                .iter()
                .map(|i| match i {
                    Value::Array(_) | Value::Object(_) | Value::Null => None,
                    other => hcl(other),
                })
                .collect();
            Some(format!("[{}]", items?.join(", ")))
        }
        _ => None,
    }
}

/// A quoted HCL string with HCL's escapes (`\n`, `\r`, `\t`, `\"`, `\\`, `\uNNNN` for other
/// control characters; HCL has no `\b` or `\f`) and its template sequences escaped (`$${`, `%%{`).
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether a map key can stand unquoted.
fn is_identifier(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A Terraform resource name from an id: `sg-0ab1` → `sg_0ab1`.
fn identifier(id: &str) -> String {
    let name: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name
    } else {
        format!("r_{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Tag keys that are not identifiers are quoted and aligned with the rest; template
    /// sequences in values are escaped; ids become resource names.
    #[test]
    fn terraform_blocks_quote_escape_and_align() {
        let live = json!({"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16",
            "Tags": [{"Key": "team name", "Value": "a${b}%{c}\u{8}"}, {"Key": "Name", "Value": "x\"y"},
                {"Key": "aws:cloudformation:stack-name", "Value": "set by AWS"}]});
        let hcl = terraform("AWS::EC2::VPC", "vpc-1", &live).unwrap();
        assert!(
            hcl.starts_with("import {\n  to = aws_vpc.vpc_1\n  id = \"vpc-1\"\n}\n"),
            "{hcl}"
        );
        assert!(hcl.contains("  cidr_block = \"10.0.0.0/16\"\n"), "{hcl}");
        assert!(
            hcl.contains(
                "    Name        = \"x\\\"y\"\n    \"team name\" = \"a$${b}%%{c}\\u0008\"\n  }"
            ),
            "{hcl}"
        );
        assert!(!hcl.contains("aws:"), "{hcl}");
        let key = json!({"KeyName": "deploy", "KeyPairId": "key-0ab"});
        let hcl = terraform("AWS::EC2::KeyPair", "key-0ab", &key).unwrap();
        assert!(
            hcl.starts_with("import {\n  to = aws_key_pair.deploy\n  id = \"deploy\"\n}\n"),
            "{hcl}"
        );
        assert!(terraform("AWS::EC2::EBSEncryptionByDefault", "eu-west-1", &live).is_err());
        assert_eq!(identifier("123"), "r_123");
        assert_eq!(kubernetes_name("Web Server #1"), "web-server--1");
    }
}
