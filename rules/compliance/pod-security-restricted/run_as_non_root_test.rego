package gitdrift.pss.restricted.run_as_non_root_test

import data.gitdrift.pss.restricted.run_as_non_root as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_unset_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app"}]})
}

test_container_false_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app", "securityContext": {"runAsNonRoot": false}}], "securityContext": {"runAsNonRoot": true}})
}

test_pod_true_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app"}], "securityContext": {"runAsNonRoot": true}})
}

test_container_true_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app", "securityContext": {"runAsNonRoot": true}}]})
}
