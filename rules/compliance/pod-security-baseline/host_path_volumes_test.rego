package gitdrift.pss.baseline.host_path_volumes_test

import data.gitdrift.pss.baseline.host_path_volumes as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_host_path_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app"}], "volumes": [{"name": "v", "hostPath": {"path": "/"}}]})
}

test_empty_dir_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app"}], "volumes": [{"name": "v", "emptyDir": {}}]})
}
