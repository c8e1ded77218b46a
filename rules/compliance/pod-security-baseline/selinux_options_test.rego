package gitdrift.pss.baseline.selinux_options_test

import data.gitdrift.pss.baseline.selinux_options as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_custom_type_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app", "securityContext": {"seLinuxOptions": {"type": "spc_t"}}}]})
}

test_user_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app"}], "securityContext": {"seLinuxOptions": {"user": "root"}}})
}

test_container_t_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app", "securityContext": {"seLinuxOptions": {"type": "container_t", "level": "s0"}}}]})
}

test_unset_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app", "securityContext": {}}]})
}
