package gitdrift.aws.ec2.vpc_flow_logs_test

import data.gitdrift.aws.ec2.vpc_flow_logs as rule

test_no_flow_log_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"VpcId": "vpc-1"}, "gitdrift": {"side": "live", "related": {"flow_logs": []}}}
}

test_with_flow_log_is_allowed if {
	flow_log := {"FlowLogId": "fl-1", "ResourceId": "vpc-1", "TrafficType": "REJECT"}
	count(rule.deny) == 0 with input as {"resource": {"VpcId": "vpc-1"}, "gitdrift": {"side": "live", "related": {"flow_logs": [flow_log]}}}
}

test_declared_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"CidrBlock": "10.0.0.0/16"}, "gitdrift": {"side": "desired"}}
}
