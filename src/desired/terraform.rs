//! Terraform state (format version 4 JSON) as declared AWS state: each managed resource of a
//! supported type becomes a declared object with its id, region and the properties Terraform
//! recorded, in the shape the EC2 API describes them. Security-group rules declared as their own
//! resources (`aws_security_group_rule`, `aws_vpc_security_group_ingress_rule` / `egress_rule`)
//! join their group. Attributes Terraform records as empty are left out.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::diff::aws::Declaration;
use crate::manifest::FileProblem;
use crate::model::{Body, Object, Origin};

/// Terraform resource types and the AWS Config types they map to.
pub const MAPPED: &[(&str, &str)] = &[
    ("aws_instance", "AWS::EC2::Instance"),
    ("aws_security_group", "AWS::EC2::SecurityGroup"),
    ("aws_vpc", "AWS::EC2::VPC"),
    ("aws_subnet", "AWS::EC2::Subnet"),
    ("aws_route_table", "AWS::EC2::RouteTable"),
    ("aws_internet_gateway", "AWS::EC2::InternetGateway"),
    ("aws_nat_gateway", "AWS::EC2::NatGateway"),
    ("aws_eip", "AWS::EC2::EIP"),
    ("aws_ebs_volume", "AWS::EC2::Volume"),
    ("aws_network_acl", "AWS::EC2::NetworkAcl"),
    ("aws_launch_template", "AWS::EC2::LaunchTemplate"),
    ("aws_key_pair", "AWS::EC2::KeyPair"),
    ("aws_flow_log", "AWS::EC2::FlowLog"),
];

/// Whether a path names a Terraform state file.
pub fn is_state_file(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".tfstate") || lower.ends_with(".tfstate.json")
}

/// What a state file yielded.
#[derive(Debug, Default)]
pub struct StateRead {
    /// Declared AWS objects.
    pub objects: Vec<Object>,
    /// Problems with the file.
    pub errors: Vec<FileProblem>,
    /// Resources of types gitdrift does not map, counted per type.
    pub skipped: BTreeMap<String, usize>,
}

/// Reads a state file.
pub fn parse(file: &str, bytes: &[u8], default_region: Option<&str>) -> StateRead {
    let mut out = StateRead::default();
    let state: Value = match serde_json::from_slice(bytes) {
        Ok(state) => state,
        Err(err) => {
            out.errors.push(FileProblem {
                line: Some(err.line() as u64),
                message: format!(
                    "invalid Terraform state: {}",
                    err.to_string().split(" at line").next().unwrap_or("")
                ),
            });
            return out;
        }
    };
    match state.get("version").and_then(Value::as_u64) {
        Some(4) => {}
        other => {
            out.errors.push(FileProblem {
                line: None,
                message: format!(
                    "Terraform state format version {} is not supported (version 4 is)",
                    other.map_or("missing".to_string(), |v| v.to_string())
                ),
            });
            return out;
        }
    }
    let resources = state
        .get("resources")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Rules that live in their own resources, by group id.
    let mut rules: BTreeMap<String, (Vec<Value>, Vec<Value>)> = BTreeMap::new();
    for resource in &resources {
        if resource.get("mode").and_then(Value::as_str) != Some("managed") {
            continue;
        }
        let kind = resource.get("type").and_then(Value::as_str).unwrap_or("");
        for attrs in instances(resource) {
            let (group, egress, rule) = match kind {
                "aws_security_group_rule" => (
                    text(attrs, "security_group_id"),
                    text(attrs, "type") == Some("egress"),
                    legacy_rule(attrs),
                ),
                "aws_vpc_security_group_ingress_rule" | "aws_vpc_security_group_egress_rule" => (
                    text(attrs, "security_group_id"),
                    kind.ends_with("egress_rule"),
                    vpc_rule(attrs),
                ),
                _ => continue,
            };
            if let Some(group) = group {
                let entry = rules.entry(group.to_string()).or_default();
                if egress {
                    entry.1.push(rule);
                } else {
                    entry.0.push(rule);
                }
            }
        }
    }
    for resource in &resources {
        if resource.get("mode").and_then(Value::as_str) != Some("managed") {
            continue;
        }
        let kind = resource.get("type").and_then(Value::as_str).unwrap_or("");
        let name = resource.get("name").and_then(Value::as_str).unwrap_or("");
        let Some((_, aws_type)) = MAPPED.iter().find(|(tf, _)| *tf == kind) else {
            if kind.starts_with("aws_")
                && !kind.contains("security_group_rule")
                && !kind.ends_with("_rule")
            {
                *out.skipped.entry(kind.to_string()).or_default() += 1;
            }
            continue;
        };
        for attrs in instances(resource) {
            let Some((id, mut properties)) = convert(kind, attrs) else {
                out.errors.push(FileProblem {
                    line: None,
                    message: format!("{kind}.{name} has no id"),
                });
                continue;
            };
            if kind == "aws_security_group"
                && let Some((ingress, egress)) = rules.get(&id)
            {
                extend(&mut properties, "IpPermissions", ingress);
                extend(&mut properties, "IpPermissionsEgress", egress);
            }
            let Some(region) = region(attrs).or(default_region.map(str::to_string)) else {
                out.errors.push(FileProblem {
                    line: None,
                    message: format!(
                        "{kind}.{name}: no region in its attributes; set the source's `region`"
                    ),
                });
                continue;
            };
            let declaration = Declaration {
                id: Some(id.clone()),
                match_tags: BTreeMap::new(),
                properties,
                // Terraform owns every tag: the next apply removes the ones added by hand.
                exhaustive_tags: true,
            };
            out.objects.push(Object {
                api_version: crate::model::aws::API_VERSION.to_string(),
                group: crate::model::aws::GROUP.to_string(),
                kind: (*aws_type).to_string(),
                namespace: Some(region),
                name: id,
                body: Body::Tree(declaration.to_value()),
                origin: Origin {
                    file: file.to_string(),
                    line: None,
                    rendered: None,
                },
                owned: false,
            });
        }
    }
    out
}

fn instances(resource: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    resource
        .get("instances")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("attributes").and_then(Value::as_object))
}

fn text<'a>(attrs: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    attrs
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn strings(attrs: &Map<String, Value>, key: &str) -> Vec<String> {
    attrs
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The region, from an ARN (`arn:aws:ec2:REGION:…`) or an availability zone.
fn region(attrs: &Map<String, Value>) -> Option<String> {
    if let Some(arn) = text(attrs, "arn") {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() > 3 && !parts[3].is_empty() {
            return Some(parts[3].to_string());
        }
    }
    text(attrs, "availability_zone").map(|az| {
        az.trim_end_matches(|c: char| c.is_ascii_lowercase())
            .to_string()
    })
}

/// An object builder that leaves out what Terraform records as empty.
struct P(Map<String, Value>);

impl P {
    fn new() -> P {
        P(Map::new())
    }
    fn put(mut self, key: &str, value: Value) -> P {
        let empty = match &value {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if !empty {
            self.0.insert(key.to_string(), value);
        }
        self
    }
    fn text(self, key: &str, attrs: &Map<String, Value>, tf: &str) -> P {
        let value = text(attrs, tf).map_or(Value::Null, |s| Value::String(s.to_string()));
        self.put(key, value)
    }
    fn raw(self, key: &str, attrs: &Map<String, Value>, tf: &str) -> P {
        let value = attrs.get(tf).cloned().unwrap_or(Value::Null);
        self.put(key, value)
    }
    /// `tags_all` (the resource's tags with the provider's `default_tags`) where the state has
    /// it, else `tags`.
    fn tags(self, attrs: &Map<String, Value>) -> P {
        let tags = attrs
            .get("tags_all")
            .and_then(Value::as_object)
            .or_else(|| attrs.get("tags").and_then(Value::as_object))
            .cloned()
            .unwrap_or_default();
        self.put("Tags", Value::Object(tags))
    }
    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

/// A security-group rule as Terraform records it, in any of its three resource shapes.
struct Rule<'a> {
    protocol: Option<&'a str>,
    from: Option<&'a Value>,
    to: Option<&'a Value>,
    cidrs: Vec<String>,
    ipv6: Vec<String>,
    groups: Vec<String>,
    prefix_lists: Vec<String>,
    description: Option<&'a str>,
}

/// A rule in the API's shape.
fn permission(rule: Rule<'_>) -> Value {
    let Rule {
        protocol,
        from,
        to,
        cidrs,
        ipv6,
        groups,
        prefix_lists,
        description,
    } = rule;
    let all = matches!(protocol, Some("-1" | "all"));
    let with_description = |mut v: Value| {
        if let Some(d) = description {
            v["Description"] = Value::String(d.to_string());
        }
        v
    };
    P::new()
        .put(
            "IpProtocol",
            protocol.map_or(Value::Null, |p| Value::String(p.to_string())),
        )
        .put(
            "FromPort",
            if all {
                Value::Null
            } else {
                from.cloned().unwrap_or(Value::Null)
            },
        )
        .put(
            "ToPort",
            if all {
                Value::Null
            } else {
                to.cloned().unwrap_or(Value::Null)
            },
        )
        .put(
            "IpRanges",
            Value::Array(
                cidrs
                    .into_iter()
                    .map(|c| with_description(json!({"CidrIp": c})))
                    .collect(),
            ),
        )
        .put(
            "Ipv6Ranges",
            Value::Array(
                ipv6.into_iter()
                    .map(|c| with_description(json!({"CidrIpv6": c})))
                    .collect(),
            ),
        )
        .put(
            "UserIdGroupPairs",
            Value::Array(
                groups
                    .into_iter()
                    .map(|g| with_description(json!({"GroupId": g})))
                    .collect(),
            ),
        )
        .put(
            "PrefixListIds",
            Value::Array(
                prefix_lists
                    .into_iter()
                    .map(|p| with_description(json!({"PrefixListId": p})))
                    .collect(),
            ),
        )
        .done()
}

fn inline_rules(attrs: &Map<String, Value>, key: &str, group_id: &str) -> Value {
    let rules = attrs
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Value::Array(
        rules
            .iter()
            .filter_map(Value::as_object)
            .map(|r| {
                let mut groups = strings(r, "security_groups");
                if r.get("self").and_then(Value::as_bool) == Some(true) {
                    groups.push(group_id.to_string());
                }
                permission(Rule {
                    protocol: text(r, "protocol"),
                    from: r.get("from_port"),
                    to: r.get("to_port"),
                    cidrs: strings(r, "cidr_blocks"),
                    ipv6: strings(r, "ipv6_cidr_blocks"),
                    groups,
                    prefix_lists: strings(r, "prefix_list_ids"),
                    description: text(r, "description"),
                })
            })
            .collect(),
    )
}

fn legacy_rule(attrs: &Map<String, Value>) -> Value {
    let mut groups: Vec<String> = text(attrs, "source_security_group_id")
        .map(|g| vec![g.to_string()])
        .unwrap_or_default();
    if attrs.get("self").and_then(Value::as_bool) == Some(true)
        && let Some(own) = text(attrs, "security_group_id")
    {
        groups.push(own.to_string());
    }
    permission(Rule {
        protocol: text(attrs, "protocol"),
        from: attrs.get("from_port"),
        to: attrs.get("to_port"),
        cidrs: strings(attrs, "cidr_blocks"),
        ipv6: strings(attrs, "ipv6_cidr_blocks"),
        groups,
        prefix_lists: strings(attrs, "prefix_list_ids"),
        description: text(attrs, "description"),
    })
}

fn vpc_rule(attrs: &Map<String, Value>) -> Value {
    let one = |key: &str| {
        text(attrs, key)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default()
    };
    permission(Rule {
        protocol: text(attrs, "ip_protocol"),
        from: attrs.get("from_port"),
        to: attrs.get("to_port"),
        cidrs: one("cidr_ipv4"),
        ipv6: one("cidr_ipv6"),
        groups: one("referenced_security_group_id"),
        prefix_lists: one("prefix_list_id"),
        description: text(attrs, "description"),
    })
}

fn extend(properties: &mut Value, key: &str, more: &[Value]) {
    if more.is_empty() {
        return;
    }
    let list = properties.as_object_mut().map(|p| {
        p.entry(key.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
    });
    if let Some(Value::Array(list)) = list {
        for rule in more {
            if !list.contains(rule) {
                list.push(rule.clone());
            }
        }
    }
}

/// A resource's id and properties in the API's shape.
fn convert(kind: &str, a: &Map<String, Value>) -> Option<(String, Value)> {
    let id = match kind {
        "aws_key_pair" => text(a, "key_pair_id").or(text(a, "id"))?,
        _ => text(a, "id")?,
    }
    .to_string();
    let properties = match kind {
        "aws_instance" => P::new()
            .put("InstanceId", Value::String(id.clone()))
            .text("InstanceType", a, "instance_type")
            .text("ImageId", a, "ami")
            .text("KeyName", a, "key_name")
            .text("SubnetId", a, "subnet_id")
            .put(
                "SecurityGroups",
                Value::Array(
                    strings(a, "vpc_security_group_ids")
                        .into_iter()
                        .map(|g| json!({"GroupId": g}))
                        .collect(),
                ),
            )
            .raw("EbsOptimized", a, "ebs_optimized")
            .raw("SourceDestCheck", a, "source_dest_check")
            .put(
                "Monitoring",
                match a.get("monitoring").and_then(Value::as_bool) {
                    Some(true) => json!({"State": "enabled"}),
                    Some(false) => json!({"State": "disabled"}),
                    None => Value::Null,
                },
            )
            .put(
                "MetadataOptions",
                a.get("metadata_options")
                    .and_then(Value::as_array)
                    .and_then(|m| m.first())
                    .and_then(Value::as_object)
                    .map(|m| P::new().text("HttpTokens", m, "http_tokens").done())
                    .unwrap_or(Value::Null),
            )
            .tags(a)
            .done(),
        "aws_security_group" => P::new()
            .put("GroupId", Value::String(id.clone()))
            .text("GroupName", a, "name")
            .text("Description", a, "description")
            .text("VpcId", a, "vpc_id")
            .put("IpPermissions", inline_rules(a, "ingress", &id))
            .put("IpPermissionsEgress", inline_rules(a, "egress", &id))
            .tags(a)
            .done(),
        "aws_vpc" => P::new()
            .put("VpcId", Value::String(id.clone()))
            .text("CidrBlock", a, "cidr_block")
            .text("InstanceTenancy", a, "instance_tenancy")
            .tags(a)
            .done(),
        "aws_subnet" => P::new()
            .put("SubnetId", Value::String(id.clone()))
            .text("VpcId", a, "vpc_id")
            .text("CidrBlock", a, "cidr_block")
            .text("AvailabilityZone", a, "availability_zone")
            .raw("MapPublicIpOnLaunch", a, "map_public_ip_on_launch")
            .tags(a)
            .done(),
        "aws_route_table" => {
            let routes = a
                .get("route")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            P::new()
                .put("RouteTableId", Value::String(id.clone()))
                .text("VpcId", a, "vpc_id")
                .put(
                    "Routes",
                    Value::Array(
                        routes
                            .iter()
                            .filter_map(Value::as_object)
                            .map(|r| {
                                P::new()
                                    .text("DestinationCidrBlock", r, "cidr_block")
                                    .text("DestinationIpv6CidrBlock", r, "ipv6_cidr_block")
                                    .text("GatewayId", r, "gateway_id")
                                    .text("NatGatewayId", r, "nat_gateway_id")
                                    .text("VpcPeeringConnectionId", r, "vpc_peering_connection_id")
                                    .text("TransitGatewayId", r, "transit_gateway_id")
                                    .text("NetworkInterfaceId", r, "network_interface_id")
                                    .done()
                            })
                            .collect(),
                    ),
                )
                .tags(a)
                .done()
        }
        "aws_internet_gateway" => P::new()
            .put("InternetGatewayId", Value::String(id.clone()))
            .put(
                "Attachments",
                text(a, "vpc_id").map_or(Value::Null, |v| json!([{"VpcId": v}])),
            )
            .tags(a)
            .done(),
        "aws_nat_gateway" => P::new()
            .put("NatGatewayId", Value::String(id.clone()))
            .text("SubnetId", a, "subnet_id")
            .text("ConnectivityType", a, "connectivity_type")
            .put(
                "NatGatewayAddresses",
                text(a, "allocation_id").map_or(Value::Null, |v| json!([{"AllocationId": v}])),
            )
            .tags(a)
            .done(),
        "aws_eip" => P::new()
            .put("AllocationId", Value::String(id.clone()))
            .text("PublicIp", a, "public_ip")
            .text("Domain", a, "domain")
            .text("InstanceId", a, "instance")
            .tags(a)
            .done(),
        "aws_ebs_volume" => P::new()
            .put("VolumeId", Value::String(id.clone()))
            .raw("Size", a, "size")
            .text("VolumeType", a, "type")
            .raw("Iops", a, "iops")
            .raw("Throughput", a, "throughput")
            .raw("Encrypted", a, "encrypted")
            .text("KmsKeyId", a, "kms_key_id")
            .text("AvailabilityZone", a, "availability_zone")
            .text("SnapshotId", a, "snapshot_id")
            .tags(a)
            .done(),
        "aws_network_acl" => {
            let entries = |key: &str, egress: bool| -> Vec<Value> {
                a.get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .map(|e| {
                        let all = matches!(text(e, "protocol"), Some("-1" | "all"));
                        P::new()
                            .raw("RuleNumber", e, "rule_no")
                            .text("Protocol", e, "protocol")
                            .text("RuleAction", e, "action")
                            .put("Egress", Value::Bool(egress))
                            .text("CidrBlock", e, "cidr_block")
                            .text("Ipv6CidrBlock", e, "ipv6_cidr_block")
                            .put(
                                "PortRange",
                                if all {
                                    Value::Null
                                } else {
                                    json!({"From": e.get("from_port"), "To": e.get("to_port")})
                                },
                            )
                            .done()
                    })
                    .collect()
            };
            let mut all_entries = entries("ingress", false);
            all_entries.extend(entries("egress", true));
            P::new()
                .put("NetworkAclId", Value::String(id.clone()))
                .text("VpcId", a, "vpc_id")
                .put("Entries", Value::Array(all_entries))
                .put(
                    "Associations",
                    Value::Array(
                        strings(a, "subnet_ids")
                            .into_iter()
                            .map(|s| json!({"SubnetId": s}))
                            .collect(),
                    ),
                )
                .tags(a)
                .done()
        }
        "aws_launch_template" => P::new()
            .put("LaunchTemplateId", Value::String(id.clone()))
            .text("LaunchTemplateName", a, "name")
            .raw("DefaultVersionNumber", a, "default_version")
            .put(
                "LaunchTemplateData",
                P::new()
                    .text("ImageId", a, "image_id")
                    .text("InstanceType", a, "instance_type")
                    .text("KeyName", a, "key_name")
                    .put(
                        "SecurityGroupIds",
                        Value::Array(
                            strings(a, "vpc_security_group_ids")
                                .into_iter()
                                .map(Value::String)
                                .collect(),
                        ),
                    )
                    .done(),
            )
            .tags(a)
            .done(),
        "aws_key_pair" => P::new()
            .put("KeyPairId", Value::String(id.clone()))
            .text("KeyName", a, "key_name")
            .text("KeyType", a, "key_type")
            .tags(a)
            .done(),
        "aws_flow_log" => P::new()
            .put("FlowLogId", Value::String(id.clone()))
            .put(
                "ResourceId",
                text(a, "vpc_id")
                    .or(text(a, "subnet_id"))
                    .or(text(a, "eni_id"))
                    .map_or(Value::Null, |r| Value::String(r.to_string())),
            )
            .text("TrafficType", a, "traffic_type")
            .text("LogDestinationType", a, "log_destination_type")
            .text("LogDestination", a, "log_destination")
            .text("DeliverLogsPermissionArn", a, "iam_role_arn")
            .raw("MaxAggregationInterval", a, "max_aggregation_interval")
            .tags(a)
            .done(),
        _ => return None,
    };
    Some((id, properties))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r#"{
      "version": 4, "terraform_version": "1.9.8", "serial": 12, "lineage": "x",
      "resources": [
        {"mode": "managed", "type": "aws_security_group", "name": "web", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
         "instances": [{"schema_version": 1, "attributes": {
            "arn": "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0a1", "id": "sg-0a1", "name": "web",
            "description": "web tier", "vpc_id": "vpc-1",
            "ingress": [{"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"],
                         "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": false, "description": ""}],
            "egress": [{"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"],
                        "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": false, "description": ""}],
            "tags": {"Name": "web"}}}]},
        {"mode": "managed", "type": "aws_vpc_security_group_ingress_rule", "name": "ssh",
         "instances": [{"attributes": {"id": "sgr-1", "security_group_id": "sg-0a1", "ip_protocol": "tcp",
            "from_port": 22, "to_port": 22, "cidr_ipv4": "10.0.0.0/8"}}]},
        {"mode": "managed", "type": "aws_instance", "name": "app",
         "instances": [{"attributes": {"id": "i-0b2", "ami": "ami-1", "instance_type": "t3.micro",
            "availability_zone": "eu-west-1a", "vpc_security_group_ids": ["sg-0a1"], "key_name": "",
            "tags": {"Name": "app"}, "monitoring": false}}]},
        {"mode": "data", "type": "aws_ami", "name": "ubuntu", "instances": [{"attributes": {"id": "ami-1"}}]},
        {"mode": "managed", "type": "aws_s3_bucket", "name": "logs", "instances": [{"attributes": {"id": "logs"}}]}
      ]}"#;

    #[test]
    fn state_resources_become_declared_aws_objects() {
        let read = parse("infra/terraform.tfstate", STATE.as_bytes(), None);
        assert!(read.errors.is_empty(), "{:?}", read.errors);
        assert_eq!(read.objects.len(), 2);
        let sg = &read.objects[0];
        assert_eq!(sg.kind, "AWS::EC2::SecurityGroup");
        assert_eq!(sg.namespace.as_deref(), Some("eu-west-1"));
        let d = Declaration::from_value(&sg.value());
        assert_eq!(d.id.as_deref(), Some("sg-0a1"));
        let ingress = d.properties["IpPermissions"].as_array().unwrap();
        assert_eq!(ingress.len(), 2, "the separate rule joined its group");
        assert_eq!(ingress[1]["FromPort"], 22);
        let egress = &d.properties["IpPermissionsEgress"][0];
        assert_eq!(egress["IpProtocol"], "-1");
        assert!(
            egress.get("FromPort").is_none(),
            "all-protocol rules have no ports"
        );
        let instance = Declaration::from_value(&read.objects[1].value());
        assert_eq!(read.objects[1].namespace.as_deref(), Some("eu-west-1"));
        assert_eq!(instance.properties["InstanceType"], "t3.micro");
        assert!(
            instance.properties.get("KeyName").is_none(),
            "empty attributes are left out"
        );
        assert_eq!(instance.properties["Monitoring"]["State"], "disabled");
        assert_eq!(read.skipped.get("aws_s3_bucket"), Some(&1));
    }

    #[test]
    fn bad_states_are_errors() {
        assert!(!parse("x.tfstate", b"{", None).errors.is_empty());
        let read = parse("x.tfstate", br#"{"version": 3, "modules": []}"#, None);
        assert!(read.errors[0].message.contains("version 3"));
    }
}
