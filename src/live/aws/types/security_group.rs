//! `AWS::EC2::SecurityGroup`: DescribeSecurityGroups, with ingress and egress rules; Terraform
//! `aws_security_group`, joined by the rules Terraform declares as their own resources
//! (`aws_security_group_rule`, `aws_vpc_security_group_ingress_rule` / `egress_rule`). Default
//! security groups are AWS's own.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::IpPermission;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::{AwsError, AwsType, Item, Shape, Snapshot, pages, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::{J, strings, text};

reads! {
    describe_security_groups: DescribeSecurityGroupsFluentBuilder => "DescribeSecurityGroups";
}

pub struct SecurityGroups;

/// A rule as the API prints it.
fn permission(p: &IpPermission) -> Value {
    J::new()
        .s("IpProtocol", p.ip_protocol())
        .n("FromPort", p.from_port())
        .n("ToPort", p.to_port())
        .list("IpRanges", p.ip_ranges(), |r| {
            J::new()
                .s("CidrIp", r.cidr_ip())
                .s("Description", r.description())
                .build()
        })
        .list("Ipv6Ranges", p.ipv6_ranges(), |r| {
            J::new()
                .s("CidrIpv6", r.cidr_ipv6())
                .s("Description", r.description())
                .build()
        })
        .list("UserIdGroupPairs", p.user_id_group_pairs(), |g| {
            J::new()
                .s("GroupId", g.group_id())
                .s("UserId", g.user_id())
                .s("Description", g.description())
                .build()
        })
        .list("PrefixListIds", p.prefix_list_ids(), |l| {
            J::new()
                .s("PrefixListId", l.prefix_list_id())
                .s("Description", l.description())
                .build()
        })
        .build()
}

impl AwsType for SecurityGroups {
    fn name(&self) -> &'static str {
        "AWS::EC2::SecurityGroup"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "SecurityGroups",
            id: &["GroupId"],
            file: "security-groups.json",
            shape: Shape::List,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let paginator = ec2.describe_security_groups().into_paginator();
            let groups = pages(paginator.page_size(ec2.page_size(1000)).items().send()).await?;
            Ok(Item::each(&groups, |g| {
                let id = g.group_id()?;
                let value = J::new()
                    .s("GroupId", Some(id))
                    .s("GroupName", g.group_name())
                    .s("Description", g.description())
                    .s("VpcId", g.vpc_id())
                    .s("OwnerId", g.owner_id())
                    .list("IpPermissions", g.ip_permissions(), permission)
                    .list("IpPermissionsEgress", g.ip_permissions_egress(), permission)
                    .tags(g.tags())
                    .build();
                Some((id, value))
            }))
        })
    }

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_security_group"]
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        J::new()
            .v("GroupId", Value::String(id.to_string()))
            .text("GroupName", a, "name")
            .text("Description", a, "description")
            .text("VpcId", a, "vpc_id")
            .v("IpPermissions", inline_rules(a, "ingress", id))
            .v("IpPermissionsEgress", inline_rules(a, "egress", id))
            .tf_tags(a)
            .build()
    }

    fn terraform_parts(&self) -> &'static [&'static str] {
        &[
            "aws_security_group_rule",
            "aws_vpc_security_group_ingress_rule",
            "aws_vpc_security_group_egress_rule",
        ]
    }

    fn terraform_part(
        &self,
        terraform_type: &str,
        a: &Map<String, Value>,
    ) -> Option<(String, &'static str, Value)> {
        let (egress, rule) = match terraform_type {
            "aws_security_group_rule" => (text(a, "type") == Some("egress"), legacy_rule(a)),
            "aws_vpc_security_group_ingress_rule" => (false, vpc_rule(a)),
            "aws_vpc_security_group_egress_rule" => (true, vpc_rule(a)),
            _ => return None,
        };
        let group = text(a, "security_group_id")?;
        let list = if egress {
            "IpPermissionsEgress"
        } else {
            "IpPermissions"
        };
        Some((group.to_string(), list, rule))
    }

    fn is_aws_default(&self, value: &Value, _defaults: &BTreeSet<String>) -> bool {
        value.get("GroupName").and_then(Value::as_str) == Some("default")
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

/// A Terraform rule in the API's shape.
fn declared_permission(rule: Rule<'_>) -> Value {
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
    let ranges = |key: &str, values: Vec<String>| -> Value {
        Value::Array(
            values
                .into_iter()
                .map(|value| {
                    let mut range = json!({ key: value });
                    if let Some(d) = description {
                        range["Description"] = Value::String(d.to_string());
                    }
                    range
                })
                .collect(),
        )
    };
    let port = |value: Option<&Value>| match value {
        Some(v) if !all => v.clone(),
        _ => Value::Null,
    };
    J::new()
        .v(
            "IpProtocol",
            protocol.map_or(Value::Null, |p| Value::String(p.to_string())),
        )
        .v("FromPort", port(from))
        .v("ToPort", port(to))
        .v("IpRanges", ranges("CidrIp", cidrs))
        .v("Ipv6Ranges", ranges("CidrIpv6", ipv6))
        .v("UserIdGroupPairs", ranges("GroupId", groups))
        .v("PrefixListIds", ranges("PrefixListId", prefix_lists))
        .build()
}

fn inline_rules(attrs: &Map<String, Value>, key: &str, group_id: &str) -> Value {
    let rules = attrs
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|r| {
            let mut groups = strings(r, "security_groups");
            if r.get("self").and_then(Value::as_bool) == Some(true) {
                groups.push(group_id.to_string());
            }
            declared_permission(Rule {
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
        .collect();
    Value::Array(rules)
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
    declared_permission(Rule {
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
    declared_permission(Rule {
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
