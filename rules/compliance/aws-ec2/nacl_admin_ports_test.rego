package gitdrift.aws.ec2.nacl_admin_ports_test

import data.gitdrift.aws.ec2.nacl_admin_ports as rule

test_ssh_allowed_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"NetworkAclId": "acl-1", "Entries": [{"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 22, "To": 22}}]}, "gitdrift": {"side": "live"}}
}

test_all_allowed_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"NetworkAclId": "acl-1", "Entries": [{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"}]}, "gitdrift": {"side": "live"}}
}

test_https_only_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"NetworkAclId": "acl-1", "Entries": [{"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 443, "To": 443}}]}, "gitdrift": {"side": "live"}}
}

test_egress_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"NetworkAclId": "acl-1", "Entries": [{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0"}]}, "gitdrift": {"side": "live"}}
}
