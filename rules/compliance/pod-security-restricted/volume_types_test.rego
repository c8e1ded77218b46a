package gitdrift.pss.restricted.volume_types_test

import data.gitdrift.pss.restricted.volume_types as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_nfs_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app"}], "volumes": [{"name": "v", "nfs": {"server": "x", "path": "/"}}]})
}

test_secret_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app"}], "volumes": [{"name": "v", "secret": {"secretName": "s"}}, {"name": "d"}]})
}
