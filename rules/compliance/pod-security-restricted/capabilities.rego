# METADATA
# title: Capabilities
# description: >-
#   Containers must drop ALL capabilities, and are only permitted to add back the
#   NET_BIND_SERVICE capability (Linux pods).
# custom:
#   id: pss-restricted-capabilities
#   severity: medium
#   controls:
#     pss: [restricted/capabilities_restricted]
#   remediation: >-
#     Set securityContext.capabilities.drop: [ALL] on every container; add at most NET_BIND_SERVICE.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
package gitdrift.pss.restricted.capabilities

import data.gitdrift.lib.kubernetes as k8s

deny contains msg if {
	not k8s.windows
	some c in k8s.containers
	not "ALL" in object.get(k8s.security_context(c), ["capabilities", "drop"], [])
	msg := sprintf("capabilities_restricted: %s must drop ALL capabilities", [k8s.describe(c)])
}

deny contains msg if {
	not k8s.windows
	some c in k8s.containers
	some capability in object.get(k8s.security_context(c), ["capabilities", "add"], [])
	capability != "NET_BIND_SERVICE"
	msg := sprintf("capabilities_restricted: %s adds capability %s", [k8s.describe(c), capability])
}
