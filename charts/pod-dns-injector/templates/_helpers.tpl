{{/*
Names are the product's contract (config/names.ts), not the release name: one injector per
cluster, and the settings name the Service and the webhook configurations.
*/}}
{{- define "pod-dns-injector.name" -}}pod-dns-injector{{- end }}

{{/* The labels kustomize's base puts on every object, then Helm's own. */}}
{{- define "pod-dns-injector.labels" -}}
app.kubernetes.io/name: pod-dns-injector
app.kubernetes.io/part-of: pod-dns-injector
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Whether the MutatingWebhookConfiguration is installed (admission.mode webhook or both). */}}
{{- define "pod-dns-injector.podWebhook" -}}
{{- if ne .Values.admission.mode "policy" }}true{{ end }}
{{- end }}

{{/*
Whether the reservation guard is on: guardian.reservationGuard as config.yaml says it, which
is where the chart's reservationGuard.enabled is folded in (_settings.tpl), so the webhook is
registered exactly when the injector enforces it.
*/}}
{{- define "pod-dns-injector.reservationGuard" -}}
{{- if (include "pod-dns-injector.settings" . | fromYaml).guardian.reservationGuard }}true{{ end }}
{{- end }}

{{/*
The clientConfig of every webhook: the Service in the release namespace (caBundle is filled
in by the injector, or by cert-manager's cainjector).
*/}}
{{- define "pod-dns-injector.clientConfig" -}}
clientConfig:
  service:
    namespace: {{ .root.Release.Namespace }}
    name: {{ .root.Values.certificates.serviceName }}
    path: {{ .path }}
    port: 443
{{- end }}

{{/* cert-manager's cainjector fills caBundle from the serving Certificate. */}}
{{- define "pod-dns-injector.certManagerAnnotations" -}}
{{- if .Values.certManager.enabled }}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/pod-dns-injector-serving
{{- end }}
{{- end }}

{{/* Values no schema can refuse: combinations. */}}
{{- define "pod-dns-injector.validate" -}}
{{- if and (include "pod-dns-injector.podWebhook" .) (not .Values.certificates.mutatingWebhookConfiguration) }}
{{- fail (printf "certificates.mutatingWebhookConfiguration is empty, but admission.mode %s installs the MutatingWebhookConfiguration: name it (default pod-dns-injector)" .Values.admission.mode) }}
{{- end }}
{{- if and .Values.certManager.enabled (or .Values.webhook.tlsCertFile .Values.webhook.tlsKeyFile) }}
{{- fail "certManager.enabled serves the cert-manager Secret's files: leave webhook.tlsCertFile and webhook.tlsKeyFile empty" }}
{{- end }}
{{- if ne (not .Values.webhook.tlsCertFile) (not .Values.webhook.tlsKeyFile) }}
{{- fail "webhook.tlsCertFile and webhook.tlsKeyFile go together: set both, or neither" }}
{{- end }}
{{- end }}
