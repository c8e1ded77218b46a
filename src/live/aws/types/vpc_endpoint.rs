//! `AWS::EC2::VPCEndpoint`: DescribeVpcEndpoints, except deleted ones; Terraform
//! `aws_vpc_endpoint`. The policy document is compared as JSON, not as text: AWS and Terraform
//! write the same policy with other spacing.

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::{AwsError, AwsType, Item, Shape, Snapshot, pages, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::{J, strings, text};

reads! {
    describe_vpc_endpoints: DescribeVpcEndpointsFluentBuilder => "DescribeVpcEndpoints";
}

pub struct VpcEndpoints;

/// A policy document as JSON (as text where it does not parse).
fn policy(document: Option<&str>) -> Value {
    document.map_or(Value::Null, |text| {
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
    })
}

fn texts(values: &[String]) -> Value {
    Value::Array(values.iter().cloned().map(Value::String).collect())
}

impl AwsType for VpcEndpoints {
    fn name(&self) -> &'static str {
        "AWS::EC2::VPCEndpoint"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "VpcEndpoints",
            id: &["VpcEndpointId"],
            file: "vpc-endpoints.json",
            shape: Shape::List,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let paginator = ec2.describe_vpc_endpoints().into_paginator();
            let endpoints = pages(paginator.page_size(ec2.page_size(1000)).items().send()).await?;
            Ok(Item::each(&endpoints, |e| {
                let state = e.state().map(|s| s.as_str());
                if matches!(state, Some("deleted" | "deleting")) {
                    return None;
                }
                let id = e.vpc_endpoint_id()?;
                let value = J::new()
                    .s("VpcEndpointId", Some(id))
                    .s("VpcEndpointType", e.vpc_endpoint_type().map(|t| t.as_str()))
                    .s("VpcId", e.vpc_id())
                    .s("ServiceName", e.service_name())
                    .s("State", state)
                    .v(
                        "LastError",
                        e.last_error().map_or(Value::Null, |l| {
                            J::new()
                                .s("Code", l.code())
                                .s("Message", l.message())
                                .build()
                        }),
                    )
                    .v("PolicyDocument", policy(e.policy_document()))
                    .v("RouteTableIds", texts(e.route_table_ids()))
                    .v("SubnetIds", texts(e.subnet_ids()))
                    .list("Groups", e.groups(), |g| {
                        J::new()
                            .s("GroupId", g.group_id())
                            .s("GroupName", g.group_name())
                            .build()
                    })
                    .b("PrivateDnsEnabled", e.private_dns_enabled())
                    .b("RequesterManaged", e.requester_managed())
                    .s("OwnerId", e.owner_id())
                    .tags(e.tags())
                    .build();
                Some((id, value))
            }))
        })
    }

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_vpc_endpoint"]
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        let groups = strings(a, "security_group_ids")
            .into_iter()
            .map(|g| json!({"GroupId": g}))
            .collect();
        J::new()
            .v("VpcEndpointId", Value::String(id.to_string()))
            .text("VpcEndpointType", a, "vpc_endpoint_type")
            .text("VpcId", a, "vpc_id")
            .text("ServiceName", a, "service_name")
            .v("PolicyDocument", policy(text(a, "policy")))
            .v("RouteTableIds", texts(&strings(a, "route_table_ids")))
            .v("SubnetIds", texts(&strings(a, "subnet_ids")))
            .v("Groups", Value::Array(groups))
            .raw("PrivateDnsEnabled", a, "private_dns_enabled")
            .tf_tags(a)
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_declares_an_endpoint_as_the_api_describes_it() {
        let attributes = json!({
            "id": "vpce-1", "vpc_id": "vpc-1", "service_name": "com.amazonaws.eu-west-1.s3",
            "vpc_endpoint_type": "Gateway", "route_table_ids": ["rtb-1"], "subnet_ids": [],
            "security_group_ids": [], "private_dns_enabled": false, "tags": {"Name": "s3"},
            "policy": "{\"Statement\":[{\"Action\":\"*\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Resource\":\"*\"}],\"Version\":\"2008-10-17\"}"
        });
        let attributes = attributes.as_object().unwrap();
        let id = VpcEndpoints.terraform_id(attributes).unwrap();
        assert_eq!(
            VpcEndpoints.terraform_properties(id, attributes),
            json!({
                "VpcEndpointId": "vpce-1", "VpcEndpointType": "Gateway", "VpcId": "vpc-1",
                "ServiceName": "com.amazonaws.eu-west-1.s3",
                "PolicyDocument": {"Version": "2008-10-17", "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]},
                "RouteTableIds": ["rtb-1"], "PrivateDnsEnabled": false, "Tags": {"Name": "s3"}
            }),
            "empty lists are left out; the policy is JSON, not text"
        );
        assert_eq!(policy(Some("not json")), json!("not json"));
    }
}
