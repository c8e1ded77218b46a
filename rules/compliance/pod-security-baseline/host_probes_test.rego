package gitdrift.pss.baseline.host_probes_test

import data.gitdrift.pss.baseline.host_probes as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_http_host_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app", "livenessProbe": {"httpGet": {"host": "example.com", "port": 80}}}]})
}

test_hook_host_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app", "lifecycle": {"preStop": {"tcpSocket": {"host": "10.0.0.1", "port": 80}}}}]})
}

test_no_host_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app", "readinessProbe": {"httpGet": {"port": 80}}}]})
}
