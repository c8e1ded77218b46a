//! `AWS::EC2::NetworkAcl`: DescribeNetworkAcls. The catch-all deny entries AWS puts in every
//! list (rule number 32767) are not something anyone declares, and are left out.

use futures::future::BoxFuture;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

pub struct NetworkAcls;

impl Collector for NetworkAcls {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::NetworkAcl"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(async move {
            let acls: Vec<_> = ec2
                .describe_network_acls()
                .into_paginator()
                .page_size(ec2.page_size(1000))
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| error(&e))?;
            Ok(acls
                .iter()
                .filter_map(|a| {
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
                                        .map(|p| {
                                            J::new().n("From", p.from()).n("To", p.to()).build()
                                        })
                                        .unwrap_or_default(),
                                )
                                .build()
                        })
                        .list("Associations", a.associations(), |s| {
                            J::new().s("SubnetId", s.subnet_id()).build()
                        })
                        .tags(a.tags())
                        .build();
                    Some(Item {
                        id: id.to_string(),
                        value,
                    })
                })
                .collect())
        })
    }
}
