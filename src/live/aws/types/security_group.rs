//! `AWS::EC2::SecurityGroup`: DescribeSecurityGroups, with ingress and egress rules.

use aws_sdk_ec2::types::IpPermission;
use futures::future::BoxFuture;
use serde_json::Value;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

pub struct SecurityGroups;

/// A rule as the API prints it.
pub fn permission(p: &IpPermission) -> Value {
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

impl Collector for SecurityGroups {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::SecurityGroup"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(async move {
            let groups: Vec<_> = ec2
                .describe_security_groups()
                .into_paginator()
                .page_size(ec2.page_size(1000))
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| error(&e))?;
            Ok(groups
                .iter()
                .filter_map(|g| {
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
                    Some(Item {
                        id: id.to_string(),
                        value,
                    })
                })
                .collect())
        })
    }
}
