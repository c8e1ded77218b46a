package gitdrift.pss.restricted.proc_mount_test

import data.gitdrift.pss.restricted.proc_mount as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_unmasked_in_user_namespace_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app", "securityContext": {"procMount": "Unmasked"}}], "hostUsers": false})
}

test_default_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app", "securityContext": {"procMount": "Default"}}]})
}
