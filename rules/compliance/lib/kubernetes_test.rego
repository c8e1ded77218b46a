package gitdrift.lib.kubernetes_test

import data.gitdrift.lib.kubernetes as k8s

deployment := {"kind": "Deployment", "spec": {"template": {
	"metadata": {"annotations": {"a": "b"}},
	"spec": {"containers": [{"name": "web"}], "initContainers": [{"name": "setup"}]},
}}}

test_pod_spec_of_a_workload if {
	spec := k8s.pod_spec with input as {"resource": deployment}
	spec == deployment.spec.template.spec
}

test_pod_metadata_of_a_workload if {
	k8s.pod_metadata.annotations.a == "b" with input as {"resource": deployment}
}

test_pod_spec_of_a_cronjob if {
	job := {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"hostPID": true}}}}}}
	k8s.pod_spec.hostPID with input as {"resource": job}
}

test_containers_are_described if {
	names := {k8s.describe(c) | some c in k8s.containers} with input as {"resource": deployment}
	names == {"container \"web\"", "init container \"setup\""}
}

test_no_pod_spec_for_other_kinds if {
	not k8s.pod_spec with input as {"resource": {"kind": "ConfigMap", "data": {}}}
}

test_containers_carry_their_security_context if {
	d := {"kind": "Deployment", "spec": {"template": {"spec": {
		"containers": [{"name": "web", "securityContext": {"privileged": true}}, {"name": "side"}],
		"initContainers": ["not a container"],
	}}}}
	contexts := {c.name: c.security_context | some c in k8s.containers} with input as {"resource": d}
	contexts == {"web": {"privileged": true}, "side": {}}
}
