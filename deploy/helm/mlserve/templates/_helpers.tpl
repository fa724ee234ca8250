{{/* The chart's name, cut to what a label allows. */}}
{{- define "mlserve.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: <release>-mlserve unless the release already says mlserve. */}}
{{- define "mlserve.fullname" -}}
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

{{- define "mlserve.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlserve.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mlserve.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "mlserve.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "mlserve.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mlserve.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "mlserve.redisSecretName" -}}
{{- default (printf "%s-redis" (include "mlserve.fullname" .)) .Values.redis.existingSecret }}
{{- end }}

{{/*
drainSeconds is config.drain_timeout in whole seconds (30s, 1m30s, 500ms
rounded up); the chart refuses a grace period that does not exceed it plus
config.shutdown_delay.
*/}}
{{- define "mlserve.drainSeconds" -}}
{{- include "mlserve.durationSeconds" (default "30s" .Values.config.drain_timeout) }}
{{- end }}

{{/*
shutdownDelaySeconds is config.shutdown_delay in whole seconds (0 when unset).
*/}}
{{- define "mlserve.shutdownDelaySeconds" -}}
{{- include "mlserve.durationSeconds" (default "0s" .Values.config.shutdown_delay) }}
{{- end }}

{{/*
durationSeconds is a Go duration (30s, 1m30s, 500ms) in whole seconds,
rounded up.
*/}}
{{- define "mlserve.durationSeconds" -}}
{{- $d := toString . }}
{{- $total := 0.0 }}
{{- range $part := regexFindAll "[0-9.]+(ms|h|m|s)" $d -1 }}
{{- $n := float64 (regexFind "[0-9.]+" $part) }}
{{- $u := regexFind "(ms|h|m|s)$" $part }}
{{- if eq $u "h" }}{{ $total = addf $total (mulf $n 3600) }}
{{- else if eq $u "m" }}{{ $total = addf $total (mulf $n 60) }}
{{- else if eq $u "ms" }}{{ $total = addf $total (divf $n 1000) }}
{{- else }}{{ $total = addf $total $n }}{{ end }}
{{- end }}
{{- ceil $total | int }}
{{- end }}
