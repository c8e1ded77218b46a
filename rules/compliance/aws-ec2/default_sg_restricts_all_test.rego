package gitdrift.aws.ec2.default_sg_restricts_all_test

import data.gitdrift.aws.ec2.default_sg_restricts_all as rule

test_default_with_rules_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"GroupId": "sg-d", "GroupName": "default", "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-d"}]}]}, "gitdrift": {"side": "live"}}
}

test_default_empty_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"GroupId": "sg-d", "GroupName": "default", "IpPermissions": [], "IpPermissionsEgress": []}, "gitdrift": {"side": "live"}}
}

test_other_group_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"GroupId": "sg-1", "GroupName": "web", "IpPermissions": [{"IpProtocol": "-1"}]}, "gitdrift": {"side": "live"}}
}
