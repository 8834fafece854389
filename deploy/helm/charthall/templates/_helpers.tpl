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
True when the data volume can be mounted by one node only (ReadWriteOnce or
ReadWriteOncePod), so two pods cannot hold it at once.
*/}}
{{- define "charthall.volumeIsExclusive" -}}
{{- if and .Values.persistence.enabled (not (has "ReadWriteMany" .Values.persistence.accessModes)) }}true{{ end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: SHUTDOWN_TIMEOUT plus a margin, so the kubelet's SIGKILL
never lands while the server is still draining requests or writing its caches.
*/}}
{{- define "charthall.terminationGracePeriodSeconds" -}}
{{- add (int .Values.shutdownTimeoutSeconds) (int .Values.terminationGraceMarginSeconds) }}
{{- end }}
