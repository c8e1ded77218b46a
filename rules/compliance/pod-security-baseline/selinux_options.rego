# METADATA
# title: SELinux
# description: >-
#   Setting a custom SELinux user or role must be forbidden, and the SELinux type may only be
#   one of the container types.
# custom:
#   id: pss-baseline-selinux-options
#   severity: high
#   controls:
#     pss: [baseline/seLinuxOptions]
#   remediation: >-
#     Leave seLinuxOptions.user and role unset; set type only to container_t, container_init_t, container_kvm_t or container_engine_t.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.securityContext.seLinuxOptions
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.securityContext.seLinuxOptions
package gitdrift.pss.baseline.selinux_options

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.pod_security_context
import data.gitdrift.lib.kubernetes.containers

allowed_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

options contains {"where": "pod", "options": o} if {
	o := pod_security_context.seLinuxOptions
}

options contains {"where": k8s.describe(c), "options": o} if {
	some c in containers
	o := c.security_context.seLinuxOptions
}

deny contains msg if {
	some o in options
	not object.get(o.options, "type", "") in allowed_types
	msg := sprintf("seLinuxOptions: %s sets seLinuxOptions.type %q", [o.where, o.options.type])
}

deny contains msg if {
	some o in options
	some field in ["user", "role"]
	object.get(o.options, field, "") != ""
	msg := sprintf("seLinuxOptions: %s sets seLinuxOptions.%s", [o.where, field])
}
