{{/* Names, labels and the operator's arguments, shared by every template. */}}

{{- define "nylas-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nylas-operator.fullname" -}}
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

{{- define "nylas-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nylas-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nylas-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "nylas-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nylas-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "nylas-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nylas-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* REGISTRY/REPOSITORY:TAG or @DIGEST; global.imageRegistry wins over image.registry. */}}
{{- define "nylas-operator.image" -}}
{{- $registry := default .Values.image.registry (.Values.global).imageRegistry -}}
{{- $repository := .Values.image.repository -}}
{{- if $registry -}}
{{- $repository = printf "%s/%s" (trimSuffix "/" $registry) $repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The public callback URL: explicit, else derived from the ingress host, else from the
HTTPRoute's first hostname (the Gateway terminates TLS). */}}
{{- define "nylas-operator.callbackUrl" -}}
{{- if .Values.operator.callbackUrl -}}
{{- .Values.operator.callbackUrl -}}
{{- else if and .Values.ingress.enabled .Values.ingress.host -}}
{{- printf "%s://%s/consent/callback" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host -}}
{{- else if and .Values.httpRoute.enabled .Values.httpRoute.hostnames -}}
{{- printf "https://%s/consent/callback" (first .Values.httpRoute.hostnames) -}}
{{- end -}}
{{- end -}}

{{/* The liveness canary's ConfigMap name (fixed in the operator) and namespace: the release
namespace if the operator serves it, else the first watched namespace (kopf watches only those). */}}
{{- define "nylas-operator.canaryName" -}}
nylas-operator-canary
{{- end -}}

{{- define "nylas-operator.canaryNamespace" -}}
{{- if or (not .Values.watchNamespaces) (has .Release.Namespace .Values.watchNamespaces) -}}
{{- .Release.Namespace -}}
{{- else -}}
{{- first .Values.watchNamespaces -}}
{{- end -}}
{{- end -}}

{{/* Arguments after the image's entrypoint (`nylas-operator run`). */}}
{{- define "nylas-operator.args" -}}
{{- if .Values.watchNamespaces }}
{{- range .Values.watchNamespaces }}
- --namespace={{ . }}
{{- end }}
{{- else }}
- --all-namespaces
{{- end }}
{{- with (include "nylas-operator.callbackUrl" .) }}
- --callback-url={{ . }}
{{- if $.Values.operator.registerCallbackUrl }}
- --register-callback-url
{{- end }}
{{- end }}
- --health-listen=0.0.0.0:{{ .Values.ports.health }}
{{- if .Values.metrics.enabled }}
- --metrics-listen=0.0.0.0:{{ .Values.ports.metrics }}
{{- end }}
- --log-level={{ .Values.operator.logLevel }}
- --log-format={{ .Values.operator.logFormat }}
- --scope-cache-delay={{ .Values.operator.scopeCacheDelay }}
- --consent-state-ttl={{ .Values.operator.consentStateTtl }}
{{- with .Values.operator.confirmConsent }}
{{- if .enabled }}
- --confirm-consent
- --microsoft-login-url={{ .loginUrl }}
- --microsoft-allowed-hosts={{ join "," .allowedHosts }}
- --consent-confirm-timeout={{ .timeout }}
{{- end }}
{{- end }}
- --drift-interval={{ .Values.operator.driftInterval }}
- --nylas-rate={{ .Values.operator.nylasRate }}
- --nylas-burst={{ .Values.operator.nylasBurst }}
- --nylas-allowed-hosts={{ join "," .Values.operator.nylasAllowedHosts }}
- --max-concurrent-reconciles={{ .Values.operator.maxConcurrentReconciles }}
{{- if .Values.operator.canary.enabled }}
- --canary-namespace={{ include "nylas-operator.canaryNamespace" . }}
- --canary-interval={{ .Values.operator.canary.interval }}
- --canary-deadline={{ .Values.operator.canary.deadline }}
{{- else }}
- --no-canary
{{- end }}
{{- if (include "nylas-operator.leaderElection" .) }}
- --leader-elect
- --leader-election-namespace={{ .Release.Namespace }}
- --leader-election-name={{ include "nylas-operator.fullname" . }}
- --leader-election-lease-duration={{ .Values.leaderElection.leaseDuration }}
- --leader-election-renew-deadline={{ .Values.leaderElection.renewDeadline }}
- --leader-election-retry-period={{ .Values.leaderElection.retryPeriod }}
{{- end }}
{{- range .Values.operator.extraArgs }}
- {{ . }}
{{- end }}
{{- end -}}

{{/* "true" when leader election is on: asked for, or needed by more than one replica. */}}
{{- define "nylas-operator.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicas) 1) }}true{{ end }}
{{- end -}}

{{/* Permissions on the operator's own kinds, Secrets and Events: one list, used by the
ClusterRole (all namespaces) or by one Role per watched namespace. */}}
{{- define "nylas-operator.workloadRules" -}}
- apiGroups: ["nylas-operator.io"]
  resources: ["nylasconnectors", "nylascredentials", "serviceaccountgrants"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["nylas-operator.io"]
  resources: ["nylasconnectors/status", "nylascredentials/status", "serviceaccountgrants/status"]
  verbs: ["get", "patch", "update"]
# Referenced Secrets (API keys, client secrets) are read and watched for rotation; grant output
# Secrets are written. No delete: output Secrets are owned by their grant and garbage-collected.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "update", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.operator.canary.enabled }}
# The liveness canary only: kopf lists and watches ConfigMaps with a metadata.name field selector,
# which is what lets list/watch be restricted by name. Created in one namespace (rbac.yaml).
- apiGroups: [""]
  resources: ["configmaps"]
  resourceNames: [{{ include "nylas-operator.canaryName" . | quote }}]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
{{- end -}}

{{/* The consent server: its own pods (a different app.kubernetes.io/name, so the operator's
selector never matches them) and its own ServiceAccount. */}}
{{- define "nylas-operator.consentServer.fullname" -}}
{{- printf "%s-consent" (include "nylas-operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nylas-operator.consentServer.selectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-consent-server" (include "nylas-operator.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nylas-operator.consentServer.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "nylas-operator.consentServer.selectorLabels" . }}
app.kubernetes.io/component: consent-server
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nylas-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "nylas-operator.consentServer.serviceAccountName" -}}
{{- if .Values.consentServer.serviceAccount.create -}}
{{- default (include "nylas-operator.consentServer.fullname" .) .Values.consentServer.serviceAccount.name -}}
{{- else -}}
{{- required "consentServer.serviceAccount.name is required when consentServer.serviceAccount.create is false" .Values.consentServer.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* What recording consent needs: find the credential by its state (list, get) and annotate it
with the outcome (patch). No status, no Secrets, no other kind. */}}
{{- define "nylas-operator.consentServer.rules" -}}
- apiGroups: ["nylas-operator.io"]
  resources: ["nylascredentials"]
  verbs: ["get", "list", "patch"]
{{- end -}}
