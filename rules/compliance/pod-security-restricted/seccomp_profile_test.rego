package gitdrift.pss.restricted.seccomp_profile_test

import data.gitdrift.pss.restricted.seccomp_profile as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_unset_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app"}]})
}

test_container_unconfined_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app", "securityContext": {"seccompProfile": {"type": "Unconfined"}}}], "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}})
}

test_pod_runtime_default_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app"}], "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}})
}

test_container_localhost_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app", "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}}]})
}
