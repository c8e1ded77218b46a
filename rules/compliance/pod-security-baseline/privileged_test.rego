package gitdrift.pss.baseline.privileged_test

import data.gitdrift.pss.baseline.privileged as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_privileged_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app", "securityContext": {"privileged": true}}]})
}

test_not_privileged_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app", "securityContext": {"privileged": false}}]})
}
