{{/* The release's full name, at most 63 characters. */}}
{{- define "gitdrift.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gitdrift.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gitdrift.labels" -}}
{{ include "gitdrift.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "gitdrift.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gitdrift.fullname" .) .Values.serviceAccount.name -}}
{{- else if .Values.serviceAccount.name -}}
{{- .Values.serviceAccount.name -}}
{{- else if .Values.rbac.create -}}
{{- fail "serviceAccount.create is false: name the account in serviceAccount.name (binding the read-only ClusterRole to the namespace's default account would grant it to every pod there)" -}}
{{- else -}}
default
{{- end -}}
{{- end -}}

{{/* The pod: the same for the Deployment and the StatefulSet. */}}
{{- define "gitdrift.pod" -}}
metadata:
  labels:
    {{- include "gitdrift.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "gitdrift.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: gitdrift
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - serve
        - --config=/etc/gitdrift/gitdrift.yaml
        - --data-dir=/var/lib/gitdrift
        - --listen=0.0.0.0:{{ .Values.service.port }}
        {{- if gt (int .Values.shards) 1 }}
        - --shard-count={{ .Values.shards }}
        - --shard-peer-url=http://{{ include "gitdrift.fullname" . }}-{index}.{{ include "gitdrift.fullname" . }}-shards.{{ .Release.Namespace }}.svc:{{ .Values.service.port }}
        {{- end }}
      env:
        - name: GITDRIFT_CACHE_DIR
          value: /var/cache/gitdrift
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- range $name, $value := .Values.env }}
        - name: {{ $name }}
          value: {{ $value | quote }}
        {{- end }}
        {{- range $name, $ref := .Values.secretEnv }}
        - name: {{ $name }}
          valueFrom:
            secretKeyRef:
              name: {{ required (printf "secretEnv.%s.secret is required" $name) $ref.secret }}
              key: {{ required (printf "secretEnv.%s.key is required" $name) $ref.key }}
        {{- end }}
      ports:
        - name: http
          containerPort: {{ .Values.service.port }}
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: 20
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: 10
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        runAsNonRoot: true
        capabilities:
          drop: [ALL]
        seccompProfile:
          type: RuntimeDefault
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/gitdrift
          readOnly: true
        - name: data
          mountPath: /var/lib/gitdrift
        - name: cache
          mountPath: /var/cache/gitdrift
        - name: tmp
          mountPath: /tmp
        {{- if .Values.auth.enabled }}
        - name: api-tokens
          mountPath: /etc/gitdrift-auth
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "gitdrift.fullname" . }}
    - name: cache
      emptyDir: {}
    - name: tmp
      emptyDir: {}
    {{- if .Values.auth.enabled }}
    - name: api-tokens
      secret:
        secretName: {{ include "gitdrift.apiTokensSecret" . }}
        items:
          - key: tokens
            path: tokens
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- if not .Values.persistence.enabled }}
    - name: data
      emptyDir: {}
    {{- else if le (int .Values.shards) 1 }}
    - name: data
      persistentVolumeClaim:
        claimName: {{ include "gitdrift.fullname" . }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* The Secret holding the API tokens (`tokens`: the file serve reads; `admin`, `prometheus`). */}}
{{- define "gitdrift.apiTokensSecret" -}}
{{- default (printf "%s-api-tokens" (include "gitdrift.fullname" .)) .Values.auth.existingSecret -}}
{{- end }}

{{/* gitdrift.yaml: the configuration from values, with the API tokens' file when auth is on. */}}
{{- define "gitdrift.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- if .Values.auth.enabled -}}
{{- $serve := default (dict) (get $config "serve") -}}
{{- $auth := default (dict) (get $serve "auth") -}}
{{- $_ := set $auth "tokens_file" "/etc/gitdrift-auth/tokens" -}}
{{- if .Values.auth.protectMetrics -}}
{{- $_ := set $auth "protect_metrics" true -}}
{{- end -}}
{{- $_ := set $serve "auth" $auth -}}
{{- $_ := set $config "serve" $serve -}}
{{- end -}}
{{- toYaml $config -}}
{{- end }}
