package gitdrift.pss.baseline.host_process_test

import data.gitdrift.pss.baseline.host_process as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_pod_host_process_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app"}], "securityContext": {"windowsOptions": {"hostProcess": true}}})
}

test_container_host_process_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app", "securityContext": {"windowsOptions": {"hostProcess": true}}}]})
}

test_no_host_process_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app", "securityContext": {"windowsOptions": {"hostProcess": false}}}]})
}
