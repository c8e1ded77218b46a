package gitdrift.pss.baseline.capabilities_test

import data.gitdrift.pss.baseline.capabilities as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_sys_admin_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]})
}

test_net_bind_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app", "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}}]})
}
