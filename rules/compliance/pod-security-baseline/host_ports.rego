# METADATA
# title: Host ports
# description: >-
#   HostPorts should be disallowed entirely: they bind a node's port and bypass network policy.
# custom:
#   id: pss-baseline-host-ports
#   severity: high
#   controls:
#     pss: [baseline/hostPorts]
#   remediation: >-
#     Remove hostPort from every container port (use a Service instead).
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.ports.*.hostPort
package gitdrift.pss.baseline.host_ports

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.containers

deny contains msg if {
	some c in containers
	some port in object.get(c.container, "ports", [])
	object.get(port, "hostPort", 0) != 0
	msg := sprintf("hostPorts: %s uses hostPort %v", [k8s.describe(c), port.hostPort])
}
