//! `AWS::EC2::FlowLog`: DescribeFlowLogs.

use futures::future::BoxFuture;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

pub struct FlowLogs;

impl Collector for FlowLogs {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::FlowLog"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(async move {
            let logs: Vec<_> = ec2
                .describe_flow_logs()
                .into_paginator()
                .page_size(ec2.page_size(1000))
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| error(&e))?;
            Ok(logs
                .iter()
                .filter_map(|f| {
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
                    Some(Item {
                        id: id.to_string(),
                        value,
                    })
                })
                .collect())
        })
    }
}
