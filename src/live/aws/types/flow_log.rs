//! `AWS::EC2::FlowLog`: DescribeFlowLogs; Terraform `aws_flow_log`.

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::{AwsError, AwsType, Item, Shape, Snapshot, pages, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::{J, text};

reads! {
    describe_flow_logs: DescribeFlowLogsFluentBuilder => "DescribeFlowLogs";
}

pub struct FlowLogs;

impl AwsType for FlowLogs {
    fn name(&self) -> &'static str {
        "AWS::EC2::FlowLog"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "FlowLogs",
            id: &["FlowLogId"],
            file: "flow-logs.json",
            shape: Shape::List,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let paginator = ec2.describe_flow_logs().into_paginator();
            let logs = pages(paginator.page_size(ec2.page_size(1000)).items().send()).await?;
            Ok(Item::each(&logs, |f| {
                let id = f.flow_log_id()?;
                let value = J::new()
                    .s("FlowLogId", Some(id))
                    .s("ResourceId", f.resource_id())
                    .s("TrafficType", f.traffic_type().map(|t| t.as_str()))
                    .s(
                        "LogDestinationType",
                        f.log_destination_type().map(|t| t.as_str()),
                    )
                    .s("LogDestination", f.log_destination())
                    .s("LogGroupName", f.log_group_name())
                    .s("DeliverLogsPermissionArn", f.deliver_logs_permission_arn())
                    .n("MaxAggregationInterval", f.max_aggregation_interval())
                    .s("LogFormat", f.log_format())
                    .s("FlowLogStatus", f.flow_log_status())
                    .tags(f.tags())
                    .build();
                Some((id, value))
            }))
        })
    }

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_flow_log"]
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        let resource = text(a, "vpc_id")
            .or(text(a, "subnet_id"))
            .or(text(a, "eni_id"))
            .map_or(Value::Null, |r| Value::String(r.to_string()));
        J::new()
            .v("FlowLogId", Value::String(id.to_string()))
            .v("ResourceId", resource)
            .text("TrafficType", a, "traffic_type")
            .text("LogDestinationType", a, "log_destination_type")
            .text("LogDestination", a, "log_destination")
            .text("DeliverLogsPermissionArn", a, "iam_role_arn")
            .raw("MaxAggregationInterval", a, "max_aggregation_interval")
            .tf_tags(a)
            .build()
    }
}
