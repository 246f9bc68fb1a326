{{/* Names, labels and the image: shared by every template. */}}

{{- define "tokenmeter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* RELEASE-CHART, or RELEASE when it already contains the chart name, or fullnameOverride. */}}
{{- define "tokenmeter.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tokenmeter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The ext_proc (data plane) is the release's main Service: FULLNAME. */}}
{{- define "tokenmeter.extproc.fullname" -}}
{{- include "tokenmeter.fullname" . -}}
{{- end -}}

{{- define "tokenmeter.operator.fullname" -}}
{{- printf "%s-operator" (include "tokenmeter.fullname" . | trunc 54 | trimSuffix "-") -}}
{{- end -}}

{{- define "tokenmeter.redis.fullname" -}}
{{- printf "%s-redis" (include "tokenmeter.fullname" . | trunc 57 | trimSuffix "-") -}}
{{- end -}}

{{/* The limits ConfigMap the operator publishes and the ext_proc replicas watch. */}}
{{- define "tokenmeter.policiesConfigMap" -}}
{{- printf "%s-policies" (include "tokenmeter.fullname" . | trunc 54 | trimSuffix "-") -}}
{{- end -}}

{{- define "tokenmeter.operator.settingsConfigMap" -}}
{{- printf "%s-settings" (include "tokenmeter.operator.fullname" .) -}}
{{- end -}}

{{/* Selector labels: (dict "ctx" $ "component" "extproc"). Stable across upgrades (Deployment selectors are immutable). */}}
{{- define "tokenmeter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tokenmeter.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/*
Every label of an object: (dict "ctx" $ "component" "extproc" "extra" (dict ...)); component and extra are optional.
The chart's own labels win over commonLabels and extra.
*/}}
{{- define "tokenmeter.labels" -}}
{{- $ctx := .ctx -}}
{{- $labels := fromYaml (include "tokenmeter.selectorLabels" .) -}}
{{- $_ := set $labels "helm.sh/chart" (include "tokenmeter.chart" $ctx) -}}
{{- $_ := set $labels "app.kubernetes.io/version" ($ctx.Chart.AppVersion | toString) -}}
{{- $_ := set $labels "app.kubernetes.io/managed-by" $ctx.Release.Service -}}
{{- $_ := set $labels "app.kubernetes.io/part-of" "tokenmeter" -}}
{{- toYaml (merge $labels (.extra | default dict) ($ctx.Values.commonLabels | default dict)) -}}
{{- end -}}

{{- define "tokenmeter.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}

{{- define "tokenmeter.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (include "tokenmeter.operator.fullname" .) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tokenmeter.extproc.serviceAccountName" -}}
{{- if .Values.extproc.serviceAccount.create -}}
{{- default (include "tokenmeter.extproc.fullname" .) .Values.extproc.serviceAccount.name -}}
{{- else -}}
{{- required "extproc.serviceAccount.name is required when extproc.serviceAccount.create is false" .Values.extproc.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* "true" when the ext_proc has a Redis (dev, url or Secret); fails when more than one is set. */}}
{{- define "tokenmeter.redis.configured" -}}
{{- $r := .Values.redis -}}
{{- $n := 0 -}}
{{- if $r.dev.enabled }}{{ $n = add1 $n }}{{ end -}}
{{- if $r.url }}{{ $n = add1 $n }}{{ end -}}
{{- if $r.existingSecret.name }}{{ $n = add1 $n }}{{ end -}}
{{- if gt $n 1 -}}
{{- fail "redis: set only one of redis.url, redis.existingSecret.name and redis.dev.enabled" -}}
{{- end -}}
{{- if eq $n 1 }}true{{ end -}}
{{- end -}}

{{/* "true" when more than one ext_proc replica may run. */}}
{{- define "tokenmeter.extproc.multiReplica" -}}
{{- $e := .Values.extproc -}}
{{- if $e.autoscaling.enabled -}}
{{- if gt (int $e.autoscaling.maxReplicas) 1 }}true{{ end -}}
{{- else if gt (int $e.replicas) 1 }}true{{ end -}}
{{- end -}}

{{/* Pod-level settings shared by the components: (dict "ctx" $ "v" .Values.operator). */}}
{{- define "tokenmeter.podScheduling" -}}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
The ledger's store: "sqlite", "postgres" or "none", after checking the values fit it (one URL source for PostgreSQL;
SQLite only with one ext_proc replica, since its file cannot be shared).
*/}}
{{- define "tokenmeter.ledger.store" -}}
{{- $l := .Values.ledger -}}
{{- if eq $l.store "postgres" -}}
{{- if and $l.postgres.url $l.postgres.existingSecret.name -}}
{{- fail "ledger.postgres: set only one of url and existingSecret.name" -}}
{{- end -}}
{{- if not (or $l.postgres.url $l.postgres.existingSecret.name) -}}
{{- fail "ledger.store=postgres needs ledger.postgres.url or ledger.postgres.existingSecret.name" -}}
{{- end -}}
{{- else if eq $l.store "sqlite" -}}
{{- if include "tokenmeter.extproc.multiReplica" . -}}
{{- fail "ledger.store=sqlite keeps the ledger in one file on one volume: it needs exactly one ext_proc replica. Use ledger.store=postgres for several replicas (or ledger.store=none)" -}}
{{- end -}}
{{- end -}}
{{- $l.store -}}
{{- end -}}

{{/* "true" when the ledger's SQLite file lives on a PersistentVolumeClaim. */}}
{{- define "tokenmeter.ledger.persistent" -}}
{{- if and (eq (include "tokenmeter.ledger.store" .) "sqlite") .Values.ledger.persistence.enabled }}true{{ end -}}
{{- end -}}

{{- define "tokenmeter.ledger.claimName" -}}
{{- .Values.ledger.persistence.existingClaim | default (printf "%s-ledger" (include "tokenmeter.extproc.fullname" .)) -}}
{{- end -}}

{{/* The budget console (`tokenmeter console`): FULLNAME-console. */}}
{{- define "tokenmeter.console.fullname" -}}
{{- printf "%s-console" (include "tokenmeter.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}
