package gitdrift.aws.ec2.ebs_encryption_by_default_test

import data.gitdrift.aws.ec2.ebs_encryption_by_default as rule

test_off_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"EbsEncryptionByDefault": false}, "gitdrift": {"side": "live"}}
}

test_declared_off_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"EbsEncryptionByDefault": false}, "gitdrift": {"side": "desired"}}
}

test_on_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"EbsEncryptionByDefault": true}, "gitdrift": {"side": "live"}}
}
