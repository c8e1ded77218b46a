# METADATA
# title: Capabilities
# description: >-
#   Adding capabilities beyond the default set must be disallowed.
# custom:
#   id: pss-baseline-capabilities
#   severity: high
#   controls:
#     pss: [baseline/capabilities_baseline]
#   remediation: >-
#     Add only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID or SYS_CHROOT.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.securityContext.capabilities
package gitdrift.pss.baseline.capabilities

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.containers

allowed := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

deny contains msg if {
	some c in containers
	some capability in object.get(c.security_context, ["capabilities", "add"], [])
	not capability in allowed
	msg := sprintf("capabilities_baseline: %s adds capability %s", [k8s.describe(c), capability])
}
