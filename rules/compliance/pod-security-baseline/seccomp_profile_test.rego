package gitdrift.pss.baseline.seccomp_profile_test

import data.gitdrift.pss.baseline.seccomp_profile as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_unconfined_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app", "securityContext": {"seccompProfile": {"type": "Unconfined"}}}]})
}

test_runtime_default_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app"}], "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}})
}
