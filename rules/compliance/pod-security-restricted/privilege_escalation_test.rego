package gitdrift.pss.restricted.privilege_escalation_test

import data.gitdrift.pss.restricted.privilege_escalation as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_unset_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app"}]})
}

test_false_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app", "securityContext": {"allowPrivilegeEscalation": false}}]})
}

test_windows_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app"}], "os": {"name": "windows"}})
}
