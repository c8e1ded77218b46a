# METADATA
# title: Sysctls
# description: >-
#   Sysctls can disable security mechanisms or affect all containers on a host, and should be
#   disallowed except for an allowed safe subset.
# custom:
#   id: pss-baseline-sysctls
#   severity: high
#   controls:
#     pss: [baseline/sysctls]
#   remediation: >-
#     Use only the namespaced safe sysctls (kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, net.ipv4.tcp_syncookies, …).
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.securityContext.sysctls.*.name
package gitdrift.pss.baseline.sysctls

import data.gitdrift.lib.kubernetes.pod_security_context

allowed := {
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
	"net.ipv4.tcp_slow_start_after_idle",
	"net.ipv4.tcp_notsent_lowat",
}

deny contains msg if {
	some sysctl in object.get(pod_security_context, "sysctls", [])
	not sysctl.name in allowed
	msg := sprintf("sysctls: pod sets sysctl %s", [sysctl.name])
}
