package gitdrift.pss.restricted.run_as_user_test

import data.gitdrift.pss.restricted.run_as_user as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_root_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app", "securityContext": {"runAsUser": 0}}]})
}

test_user_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app"}], "securityContext": {"runAsUser": 1000}})
}
