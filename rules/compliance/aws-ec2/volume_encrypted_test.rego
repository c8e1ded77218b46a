package gitdrift.aws.ec2.volume_encrypted_test

import data.gitdrift.aws.ec2.volume_encrypted as rule

test_unencrypted_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"VolumeId": "vol-1", "Encrypted": false}, "gitdrift": {"side": "live"}}
}

test_encrypted_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"VolumeId": "vol-1", "Encrypted": true}, "gitdrift": {"side": "live"}}
}

test_undeclared_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"Size": 8}, "gitdrift": {"side": "desired"}}
}
