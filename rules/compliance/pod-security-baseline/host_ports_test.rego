package gitdrift.pss.baseline.host_ports_test

import data.gitdrift.pss.baseline.host_ports as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_host_port_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app", "ports": [{"containerPort": 80, "hostPort": 80}]}]})
}

test_host_port_zero_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app", "ports": [{"containerPort": 80, "hostPort": 0}]}]})
}
