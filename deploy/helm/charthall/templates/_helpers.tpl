{{/*
The chart's name, or nameOverride.
*/}}
{{- define "charthall.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A fully qualified app name, within the 63 characters a Kubernetes name allows. The
release name alone when it already holds the chart's name.
*/}}
{{- define "charthall.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "charthall.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "charthall.labels" -}}
helm.sh/chart: {{ include "charthall.chart" . }}
{{ include "charthall.selectorLabels" . }}
app.kubernetes.io/version: {{ include "charthall.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the pods; never change them on upgrade (a Deployment's selector is
immutable).
*/}}
{{- define "charthall.selectorLabels" -}}
app.kubernetes.io/name: {{ include "charthall.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The image tag: image.tag, else the chart's appVersion.
*/}}
{{- define "charthall.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString }}
{{- end }}

{{/*
CONTEXT_PATH as the server reads it: "/helm" for "helm", "/helm/" or "/helm"; empty for
"" or "/". Routes, /health included, live under it.
*/}}
{{- define "charthall.contextPath" -}}
{{- $path := trimAll "/" (toString .Values.config.contextPath) }}
{{- if $path }}{{ printf "/%s" $path }}{{ end }}
{{- end }}

{{/*
The Secret that holds the basic-auth user and password.
*/}}
{{- define "charthall.authSecretName" -}}
{{- .Values.auth.existingSecret | default (include "charthall.fullname" .) }}
{{- end }}

{{/*
The PersistentVolumeClaim of /charthall_data.
*/}}
{{- define "charthall.claimName" -}}
{{- .Values.persistence.existingClaim | default (include "charthall.fullname" .) }}
{{- end }}

{{/*
STORAGE: local (a folder on the data volume) or amazon (an S3-compatible bucket).
*/}}
{{- define "charthall.storageBackend" -}}
{{- (.Values.storage | default dict).backend | default "local" | toString }}
{{- end }}

{{/*
True when the charts live in a bucket shared by every replica (storage.backend amazon):
/charthall_data is then per-pod scratch space, an emptyDir.
*/}}
{{- define "charthall.onBucket" -}}
{{- if eq (include "charthall.storageBackend" .) "amazon" }}true{{ end }}
{{- end }}

{{/*
True when the data volume is a PersistentVolumeClaim: a local folder with persistence on.
*/}}
{{- define "charthall.usesClaim" -}}
{{- if and .Values.persistence.enabled (not (include "charthall.onBucket" .)) }}true{{ end }}
{{- end }}

{{/*
True when the data volume can be mounted by one node only (ReadWriteOnce or
ReadWriteOncePod), so two pods cannot hold it at once.
*/}}
{{- define "charthall.volumeIsExclusive" -}}
{{- if and (include "charthall.usesClaim" .) (not (has "ReadWriteMany" .Values.persistence.accessModes)) }}true{{ end }}
{{- end }}

{{/*
The Secret that holds the bucket's credentials, when there are any: storage.amazon.
existingSecret, else the chart's own when accessKeyId is set; empty for IRSA and
instance roles (no credential variables at all).
*/}}
{{- define "charthall.storageSecretName" -}}
{{- $amazon := .Values.storage.amazon }}
{{- if $amazon.existingSecret }}{{ $amazon.existingSecret }}
{{- else if $amazon.accessKeyId }}{{ printf "%s-storage" (include "charthall.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}
{{- end }}

{{/*
Refuses storage values that cannot work.
*/}}
{{- define "charthall.checkStorage" -}}
{{- $backend := include "charthall.storageBackend" . }}
{{- if not (has $backend (list "local" "amazon")) }}
{{- fail (printf "storage.backend must be local or amazon, not %q" $backend) }}
{{- end }}
{{- if include "charthall.onBucket" . }}
{{- $amazon := .Values.storage.amazon }}
{{- if not $amazon.bucket }}
{{- fail "storage.backend=amazon needs storage.amazon.bucket, the bucket that holds the charts" }}
{{- end }}
{{- if ne (not $amazon.accessKeyId) (not $amazon.secretAccessKey) }}
{{- fail "storage.amazon.accessKeyId and storage.amazon.secretAccessKey go together: set both, or neither (storage.amazon.existingSecret, IRSA or an instance role)" }}
{{- end }}
{{- if and $amazon.existingSecret $amazon.accessKeyId }}
{{- fail "set storage.amazon.existingSecret or storage.amazon.accessKeyId and secretAccessKey, not both" }}
{{- end }}
{{- if and (or $amazon.existingSecret $amazon.accessKeyId) (or (not $amazon.accessKeyIdKey) (not $amazon.secretAccessKeyKey)) }}
{{- fail "storage.amazon.accessKeyIdKey and storage.amazon.secretAccessKeyKey must name the keys of the credentials in their Secret" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The pod's ServiceAccount: serviceAccount.name, else the release's name when the chart
creates one; empty: the namespace's default.
*/}}
{{- define "charthall.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- .Values.serviceAccount.name | default (include "charthall.fullname" .) }}
{{- else }}
{{- .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: SHUTDOWN_TIMEOUT plus a margin, so the kubelet's SIGKILL
never lands while the server is still draining requests or writing its caches.
*/}}
{{- define "charthall.terminationGracePeriodSeconds" -}}
{{- add (int .Values.shutdownTimeoutSeconds) (int .Values.terminationGraceMarginSeconds) }}
{{- end }}
