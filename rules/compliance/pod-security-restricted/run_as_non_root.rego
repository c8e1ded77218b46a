# METADATA
# title: Running as non-root
# description: >-
#   Containers must be required to run as non-root users: runAsNonRoot must be true on the pod
#   or on every container, and no container may set it to false.
# custom:
#   id: pss-restricted-run-as-non-root
#   severity: medium
#   controls:
#     pss: [restricted/runAsNonRoot]
#   remediation: >-
#     Set securityContext.runAsNonRoot: true on the pod (and false nowhere).
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.securityContext.runAsNonRoot
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.securityContext.runAsNonRoot
package gitdrift.pss.restricted.run_as_non_root

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.pod_security_context
import data.gitdrift.lib.kubernetes.containers

pod_non_root if pod_security_context.runAsNonRoot == true

deny contains msg if {
	some c in containers
	c.security_context.runAsNonRoot == false
	msg := sprintf("runAsNonRoot: %s sets securityContext.runAsNonRoot=false", [k8s.describe(c)])
}

deny contains msg if {
	not pod_non_root
	some c in containers
	not c.security_context.runAsNonRoot == true
	msg := sprintf("runAsNonRoot: neither the pod nor %s sets runAsNonRoot=true", [k8s.describe(c)])
}
