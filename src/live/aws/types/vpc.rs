//! `AWS::EC2::VPC`: DescribeVpcs; Terraform `aws_vpc`. The default VPC is AWS's own; rules see
//! a VPC's flow logs beside it.

use std::collections::BTreeSet;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::{AwsError, AwsType, Estate, Item, Shape, Snapshot, pages, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;
use crate::model::Object;

reads! {
    describe_vpcs: DescribeVpcsFluentBuilder => "DescribeVpcs";
}

pub struct Vpcs;

impl AwsType for Vpcs {
    fn name(&self) -> &'static str {
        "AWS::EC2::VPC"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "Vpcs",
            id: &["VpcId"],
            file: "vpcs.json",
            shape: Shape::List,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let paginator = ec2.describe_vpcs().into_paginator();
            let vpcs = pages(paginator.page_size(ec2.page_size(1000)).items().send()).await?;
            Ok(Item::each(&vpcs, |v| {
                let id = v.vpc_id()?;
                let value = J::new()
                    .s("VpcId", Some(id))
                    .s("CidrBlock", v.cidr_block())
                    .s("DhcpOptionsId", v.dhcp_options_id())
                    .s("InstanceTenancy", v.instance_tenancy().map(|t| t.as_str()))
                    .b("IsDefault", v.is_default())
                    .s("State", v.state().map(|s| s.as_str()))
                    .s("OwnerId", v.owner_id())
                    .tags(v.tags())
                    .build();
                Some((id, value))
            }))
        })
    }

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_vpc"]
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        J::new()
            .v("VpcId", Value::String(id.to_string()))
            .text("CidrBlock", a, "cidr_block")
            .text("InstanceTenancy", a, "instance_tenancy")
            .tf_tags(a)
            .build()
    }

    fn is_aws_default(&self, value: &Value, _defaults: &BTreeSet<String>) -> bool {
        value.get("IsDefault").and_then(Value::as_bool) == Some(true)
    }

    fn related(&self, vpc: &Object, estate: &Estate<'_>) -> Option<Value> {
        let region = vpc.namespace.as_deref().unwrap_or_default();
        let flow_logs: Vec<&Value> = estate
            .of_type("AWS::EC2::FlowLog", region)
            .map(|(_, log)| log)
            .filter(|log| log.get("ResourceId").and_then(Value::as_str) == Some(&vpc.name))
            .collect();
        Some(json!({ "flow_logs": flow_logs }))
    }
}
