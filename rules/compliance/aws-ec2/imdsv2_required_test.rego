package gitdrift.aws.ec2.imdsv2_required_test

import data.gitdrift.aws.ec2.imdsv2_required as rule

test_optional_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"InstanceId": "i-1", "MetadataOptions": {"HttpTokens": "optional", "HttpEndpoint": "enabled"}}, "gitdrift": {"side": "live"}}
}

test_unknown_live_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"InstanceId": "i-1"}, "gitdrift": {"side": "live"}}
}

test_declared_optional_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"MetadataOptions": {"HttpTokens": "optional"}}, "gitdrift": {"side": "desired"}}
}

test_undeclared_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"InstanceType": "t3.micro"}, "gitdrift": {"side": "desired"}}
}

test_required_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"InstanceId": "i-1", "MetadataOptions": {"HttpTokens": "required"}}, "gitdrift": {"side": "live"}}
}

test_endpoint_disabled_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"InstanceId": "i-1", "MetadataOptions": {"HttpTokens": "optional", "HttpEndpoint": "disabled"}}, "gitdrift": {"side": "live"}}
}
