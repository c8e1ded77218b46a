//! `AWS::EC2::NetworkAcl`: DescribeNetworkAcls; Terraform `aws_network_acl`. The catch-all deny
//! entries AWS puts in every list (rule number 32767) are not something anyone declares, and are
//! left out; a VPC's default network ACL is AWS's own.

use std::collections::BTreeSet;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::{AwsError, AwsType, Item, Shape, Snapshot, pages, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::{J, strings, text};

reads! {
    describe_network_acls: DescribeNetworkAclsFluentBuilder => "DescribeNetworkAcls";
}

pub struct NetworkAcls;

impl AwsType for NetworkAcls {
    fn name(&self) -> &'static str {
        "AWS::EC2::NetworkAcl"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "NetworkAcls",
            id: &["NetworkAclId"],
            file: "network-acls.json",
            shape: Shape::List,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let paginator = ec2.describe_network_acls().into_paginator();
            let acls = pages(paginator.page_size(ec2.page_size(1000)).items().send()).await?;
            Ok(Item::each(&acls, |a| {
                let id = a.network_acl_id()?;
                let entries: Vec<_> = a
                    .entries()
                    .iter()
                    .filter(|e| e.rule_number() != Some(32767))
                    .collect();
                let value = J::new()
                    .s("NetworkAclId", Some(id))
                    .s("VpcId", a.vpc_id())
                    .b("IsDefault", a.is_default())
                    .list("Entries", &entries, |e| {
                        J::new()
                            .n("RuleNumber", e.rule_number())
                            .s("Protocol", e.protocol())
                            .s("RuleAction", e.rule_action().map(|r| r.as_str()))
                            .b("Egress", e.egress())
                            .s("CidrBlock", e.cidr_block())
                            .s("Ipv6CidrBlock", e.ipv6_cidr_block())
                            .v(
                                "PortRange",
                                e.port_range()
                                    .map(|p| J::new().n("From", p.from()).n("To", p.to()).build())
                                    .unwrap_or_default(),
                            )
                            .build()
                    })
                    .list("Associations", a.associations(), |s| {
                        J::new().s("SubnetId", s.subnet_id()).build()
                    })
                    .tags(a.tags())
                    .build();
                Some((id, value))
            }))
        })
    }

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_network_acl"]
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        let entries = |key: &str, egress: bool| -> Vec<Value> {
            a.get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .map(|e| {
                    let all = matches!(text(e, "protocol"), Some("-1" | "all"));
                    J::new()
                        .raw("RuleNumber", e, "rule_no")
                        .text("Protocol", e, "protocol")
                        .text("RuleAction", e, "action")
                        .v("Egress", Value::Bool(egress))
                        .text("CidrBlock", e, "cidr_block")
                        .text("Ipv6CidrBlock", e, "ipv6_cidr_block")
                        .v(
                            "PortRange",
                            if all {
                                Value::Null
                            } else {
                                json!({"From": e.get("from_port"), "To": e.get("to_port")})
                            },
                        )
                        .build()
                })
                .collect()
        };
        let mut all_entries = entries("ingress", false);
        all_entries.extend(entries("egress", true));
        let associations = strings(a, "subnet_ids")
            .into_iter()
            .map(|s| json!({"SubnetId": s}))
            .collect();
        J::new()
            .v("NetworkAclId", Value::String(id.to_string()))
            .text("VpcId", a, "vpc_id")
            .v("Entries", Value::Array(all_entries))
            .v("Associations", Value::Array(associations))
            .tf_tags(a)
            .build()
    }

    fn is_aws_default(&self, value: &Value, _defaults: &BTreeSet<String>) -> bool {
        value.get("IsDefault").and_then(Value::as_bool) == Some(true)
    }
}
