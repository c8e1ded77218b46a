# METADATA
# title: Windows HostProcess
# description: >-
#   Windows pods offer the ability to run HostProcess containers, which give privileged access
#   to the Windows node; they must not be used.
# custom:
#   id: pss-baseline-host-process
#   severity: high
#   controls:
#     pss: [baseline/windowsHostProcess]
#   remediation: >-
#     Remove windowsOptions.hostProcess (or set it to false) from the pod and its containers.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.securityContext.windowsOptions.hostProcess
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.securityContext.windowsOptions.hostProcess
package gitdrift.pss.baseline.host_process

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.pod_security_context
import data.gitdrift.lib.kubernetes.containers

deny contains msg if {
	pod_security_context.windowsOptions.hostProcess == true
	msg := "windowsHostProcess: pod sets securityContext.windowsOptions.hostProcess=true"
}

deny contains msg if {
	some c in containers
	c.security_context.windowsOptions.hostProcess == true
	msg := sprintf("windowsHostProcess: %s sets securityContext.windowsOptions.hostProcess=true", [k8s.describe(c)])
}
