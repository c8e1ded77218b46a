package gitdrift.pss.restricted.capabilities_test

import data.gitdrift.pss.restricted.capabilities as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_no_drop_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app"}]})
}

test_add_chown_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}}]})
}

test_drop_all_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}]})
}
