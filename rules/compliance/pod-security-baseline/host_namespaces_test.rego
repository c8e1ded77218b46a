package gitdrift.pss.baseline.host_namespaces_test

import data.gitdrift.pss.baseline.host_namespaces as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_host_network_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app"}], "hostNetwork": true})
}

test_host_pid_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app"}], "hostPID": true})
}

test_host_false_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app"}], "hostIPC": false})
}
