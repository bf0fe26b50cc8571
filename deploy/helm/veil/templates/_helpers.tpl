{{/*
Names, labels, and the pieces every Veil pod shares: the config and secret volumes, the *_FILE
variables, the security contexts.
*/}}

{{- define "veil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every resource name; at most 40 characters so suffixes stay within 63. */}}
{{- define "veil.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "veil.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "veil.labels" -}}
helm.sh/chart: {{ include "veil.chart" . }}
{{ include "veil.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "veil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "veil.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component: (dict "ctx" $ "component" "hub"). */}}
{{- define "veil.componentLabels" -}}
{{ include "veil.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "veil.componentSelectorLabels" -}}
{{ include "veil.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "veil.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "veil.configMapName" -}}
{{- printf "%s-config" (include "veil.fullname" .) }}
{{- end }}

{{- define "veil.hubServiceName" -}}
{{- printf "%s-hub" (include "veil.fullname" .) }}
{{- end }}

{{- define "veil.postgresqlName" -}}
{{- printf "%s-postgresql" (include "veil.fullname" .) }}
{{- end }}

{{- define "veil.rabbitmqName" -}}
{{- printf "%s-rabbitmq" (include "veil.fullname" .) }}
{{- end }}

{{- define "veil.minioName" -}}
{{- printf "%s-minio" (include "veil.fullname" .) }}
{{- end }}

{{/* ServiceAccount of a component: (dict "ctx" $ "component" "hub"). */}}
{{- define "veil.serviceAccountName" -}}
{{- printf "%s-%s" (include "veil.fullname" .ctx) .component }}
{{- end }}

{{/* The namespace task Jobs run in. */}}
{{- define "veil.jobsNamespace" -}}
{{- default .Release.Namespace .Values.config.kubernetes.namespace }}
{{- end }}

{{/* The ServiceAccount of task Jobs. */}}
{{- define "veil.jobServiceAccountName" -}}
{{- default (printf "%s-job" (include "veil.fullname" .)) .Values.config.kubernetes.service_account }}
{{- end }}

{{/* "true" when processes of this release create Kubernetes Jobs. */}}
{{- define "veil.managesJobs" -}}
{{- if or .Values.dispatcher.enabled (and .Values.worker.enabled (eq .Values.config.runner "kubernetes")) }}true{{ end }}
{{- end }}

{{/* "true" when the worker creates Kubernetes Jobs. */}}
{{- define "veil.workerManagesJobs" -}}
{{- if and .Values.worker.enabled (eq .Values.config.runner "kubernetes") }}true{{ end }}
{{- end }}

{{/* "true" when the rendered config carries a [kubernetes] section. */}}
{{- define "veil.kubernetesSection" -}}
{{- if or .Values.dispatcher.enabled (eq .Values.config.runner "kubernetes") }}true{{ end }}
{{- end }}

{{/* The blob store settings, as JSON: provision.minio's when it is on, else config.blob's. */}}
{{- define "veil.blobSettings" -}}
{{- if .Values.provision.minio.enabled }}
{{- dict "url" (printf "s3://%s" .Values.provision.minio.bucket) "endpoint" (printf "http://%s:9000" (include "veil.minioName" .)) "region" "us-east-1" "allow_http" true | toJson }}
{{- else }}
{{- $b := .Values.config.blob }}
{{- dict "url" $b.url "endpoint" $b.s3.endpoint "region" $b.s3.region "allow_http" $b.s3.allow_http | toJson }}
{{- end }}
{{- end }}

{{/*
The environment of task pods (they get no config file), as JSON: the settings of `config` that have a
VEIL_* override, a writable data directory, then config.kubernetes.env on top.
*/}}
{{- define "veil.taskEnv" -}}
{{- $c := .Values.config }}
{{- $blob := include "veil.blobSettings" . | fromJson }}
{{- $env := dict
  "VEIL_DATA_DIR" "/tmp/veil"
  "VEIL_METADATA_MAX_CONNECTIONS" (int64 $c.metadata.max_connections | toString)
  "VEIL_BLOB_URL" $blob.url
  "VEIL_S3_REGION" $blob.region
  "VEIL_S3_ALLOW_HTTP" (toString $blob.allow_http)
  "VEIL_QUEUE_LEASE_SECONDS" (int64 $c.queue.lease_seconds | toString)
  "VEIL_QUEUE_HEARTBEAT_SECONDS" (int64 $c.queue.heartbeat_seconds | toString)
  "VEIL_QUEUE_MAX_ATTEMPTS" (int64 $c.queue.max_attempts | toString)
  "VEIL_QUEUE_BACKOFF_BASE_MS" (int64 $c.queue.backoff_base_ms | toString)
  "VEIL_QUEUE_BACKOFF_MAX_MS" (int64 $c.queue.backoff_max_ms | toString)
  "VEIL_QUEUE_POLL_INTERVAL_MS" (int64 $c.queue.poll_interval_ms | toString)
  "VEIL_LINKAGE_CHUNK_COMPARISONS" (int64 $c.linkage.chunk_comparisons | toString)
  "VEIL_LINKAGE_MAX_CANDIDATES" (int64 $c.linkage.max_candidates | toString)
  "VEIL_LOG_FORMAT" $c.log.format
  "VEIL_LOG" $c.log.filter }}
{{- with $blob.endpoint }}
{{- $_ := set $env "VEIL_S3_ENDPOINT" . }}
{{- end }}
{{- range $name, $value := $c.kubernetes.env }}
{{- $_ := set $env $name (toString $value) }}
{{- end }}
{{- toJson $env }}
{{- end }}

{{/* The Secret task pods take their environment from, or "" for none. */}}
{{- define "veil.taskEnvSecretName" -}}
{{- if .Values.config.kubernetes.env_from_secret }}
{{- .Values.config.kubernetes.env_from_secret }}
{{- else if not .Values.secrets.existingSecret }}
{{- printf "%s-task-env" (include "veil.fullname" .) }}
{{- end }}
{{- end }}

{{/* "true" when any in-chart service is provisioned. */}}
{{- define "veil.provisionAny" -}}
{{- with .Values.provision }}
{{- if or .postgresql.enabled .rabbitmq.enabled .minio.enabled }}true{{ end }}
{{- end }}
{{- end }}

{{/* The Secret holding Veil's secrets: the existing one, or the one the chart creates. */}}
{{- define "veil.secretName" -}}
{{- default (printf "%s-secrets" (include "veil.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{/* Which secret keys exist: "true" or "". */}}
{{- define "veil.hasMetadataUrl" -}}
{{- if or .Values.secrets.existingSecret .Values.secrets.metadataUrl .Values.provision.postgresql.enabled }}true{{ end }}
{{- end }}

{{- define "veil.hasQueueUrl" -}}
{{- if .Values.secrets.existingSecret }}
{{- if .Values.secrets.existingSecretHas.queueUrl }}true{{ end }}
{{- else if or .Values.secrets.queueUrl .Values.provision.rabbitmq.enabled }}true{{ end }}
{{- end }}

{{- define "veil.hasRootKey" -}}
{{- if .Values.secrets.existingSecret }}
{{- if .Values.secrets.existingSecretHas.rootKey }}true{{ end }}
{{- else if or .Values.secrets.rootKey .Values.secrets.generateRootKey }}true{{ end }}
{{- end }}

{{- define "veil.hasAdminPassword" -}}
{{- if .Values.secrets.existingSecret }}
{{- if .Values.secrets.existingSecretHas.adminPassword }}true{{ end }}
{{- else if .Values.secrets.adminPassword }}true{{ end }}
{{- end }}

{{- define "veil.hasS3Credentials" -}}
{{- if .Values.secrets.existingSecret }}
{{- if .Values.secrets.existingSecretHas.s3Credentials }}true{{ end }}
{{- else if or .Values.secrets.s3AccessKeyId .Values.provision.minio.enabled }}true{{ end }}
{{- end }}

{{/*
The secret keys a component mounts, as a list of [key, variable] pairs:
(dict "ctx" $ "component" "dispatcher"). The dispatcher never sees the metadata database.
*/}}
{{- define "veil.secretFiles" -}}
{{- $ctx := .ctx }}
{{- $files := list }}
{{- if ne .component "dispatcher" }}
{{- $files = append $files (list "metadata-url" "VEIL_METADATA_URL_FILE") }}
{{- end }}
{{- if include "veil.hasQueueUrl" $ctx }}
{{- $files = append $files (list "queue-url" "VEIL_QUEUE_URL_FILE") }}
{{- end }}
{{- if include "veil.hasRootKey" $ctx }}
{{- $files = append $files (list "root-key" "VEIL_ROOT_KEY_FILE") }}
{{- end }}
{{- if eq .component "hub" }}
{{- $files = append $files (list "auth-token-key" "VEIL_AUTH_TOKEN_KEY_FILE") }}
{{- if include "veil.hasAdminPassword" $ctx }}
{{- $files = append $files (list "admin-password" "VEIL_ADMIN_PASSWORD_FILE") }}
{{- end }}
{{- end }}
{{- if include "veil.hasS3Credentials" $ctx }}
{{- $files = append $files (list "s3-access-key-id" "VEIL_S3_ACCESS_KEY_ID_FILE") }}
{{- $files = append $files (list "s3-secret-access-key" "VEIL_S3_SECRET_ACCESS_KEY_FILE") }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{/* Environment of a Veil container: (dict "ctx" $ "component" "hub" "extraEnv" list). */}}
{{- define "veil.env" -}}
{{- range $pair := include "veil.secretFiles" . | fromJsonArray }}
- name: {{ index $pair 1 }}
  value: /etc/veil/secrets/{{ index $pair 0 }}
{{- end }}
{{- if and (eq .component "hub") (include "veil.hasAdminPassword" .ctx) }}
- name: VEIL_ADMIN_USER
  value: {{ .ctx.Values.secrets.adminUser | quote }}
{{- end }}
{{- with .extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volume mounts of a Veil container: (dict "ctx" $ "component" "hub"). */}}
{{- define "veil.volumeMounts" -}}
- name: config
  mountPath: /etc/veil/veil.toml
  subPath: veil.toml
  readOnly: true
{{- if include "veil.secretFiles" . | fromJsonArray }}
- name: secrets
  mountPath: /etc/veil/secrets
  readOnly: true
{{- end }}
- name: data
  mountPath: {{ .ctx.Values.config.data_dir }}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Volumes of a Veil pod: (dict "ctx" $ "component" "hub" "dataDirSizeLimit" "10Gi"). */}}
{{- define "veil.volumes" -}}
- name: config
  configMap:
    name: {{ include "veil.configMapName" .ctx }}
{{- $files := include "veil.secretFiles" . | fromJsonArray }}
{{- if $files }}
- name: secrets
  secret:
    secretName: {{ include "veil.secretName" .ctx }}
    defaultMode: 0440
    items:
      {{- range $pair := $files }}
      - key: {{ index $pair 0 }}
        path: {{ index $pair 0 }}
      {{- end }}
{{- end }}
- name: data
  emptyDir:
    sizeLimit: {{ .dataDirSizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- end }}

{{/* The pod-level settings every Veil pod shares. */}}
{{- define "veil.podCommon" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Annotations that restart pods when the rendered config changes. */}}
{{- define "veil.configChecksum" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end }}

{{/* A TOML value from a Helm value: integers stay integers, strings are quoted. */}}
{{- define "veil.tomlInt" -}}
{{- int64 . }}
{{- end }}

{{- define "veil.tomlString" -}}
{{- toString . | toJson }}
{{- end }}

{{/* Security context of a provisioned service's pod, running as its image's own user. */}}
{{- define "veil.thirdPartyPodSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "veil.thirdPartyContainerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .uid }}
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
The claim template of a provisioned service's data, when persistence is on:
(dict "ctx" $ "component" "postgresql" "persistence" .persistence).
*/}}
{{- define "veil.thirdPartyClaim" -}}
{{- if .persistence.enabled }}
volumeClaimTemplates:
  - metadata:
      name: data
      labels:
        {{- include "veil.componentSelectorLabels" . | nindent 8 }}
    spec:
      accessModes:
        - ReadWriteOnce
      {{- with .persistence.storageClass }}
      storageClassName: {{ . }}
      {{- end }}
      resources:
        requests:
          storage: {{ .persistence.size }}
{{- end }}
{{- end }}

{{/* Egress rules shared by the dispatcher and its task pods: DNS, broker, object store, extraEgress. */}}
{{- define "veil.dispatcherEgress" -}}
{{- $np := .Values.dispatcher.networkPolicy }}
- to:
    - namespaceSelector:
        {{- toYaml $np.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml $np.dns.podSelector | nindent 8 }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- if or $np.broker.cidrs .Values.provision.rabbitmq.enabled }}
- to:
    {{- range $np.broker.cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
    {{- if .Values.provision.rabbitmq.enabled }}
    - podSelector:
        matchLabels:
          {{- include "veil.componentSelectorLabels" (dict "ctx" . "component" "rabbitmq") | nindent 10 }}
    {{- end }}
  ports:
    {{- range $np.broker.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end }}
{{- if or $np.objectStore.cidrs .Values.provision.minio.enabled }}
- to:
    {{- range $np.objectStore.cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
    {{- if .Values.provision.minio.enabled }}
    - podSelector:
        matchLabels:
          {{- include "veil.componentSelectorLabels" (dict "ctx" . "component" "minio") | nindent 10 }}
    {{- end }}
  ports:
    {{- range $np.objectStore.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end }}
{{- with $np.extraEgress }}
{{ toYaml . }}
{{- end }}
{{- end }}
