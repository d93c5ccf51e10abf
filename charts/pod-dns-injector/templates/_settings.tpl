{{/* Generated from config/settings-schema.ts by `npm run chart:generate` (charts/values-schema.ts); do not edit. */}}
{{/* The configuration file: every setting of the settings schema, from the values of the same names. */}}
{{- define "pod-dns-injector.settings" -}}
{{- $s := deepCopy (pick .Values "clusterDomain" "dnsService" "dnsServices" "nodeLocalDNS" "defaultProfile" "profiles" "excludedNamespaces" "injectorNamespace" "webhook" "ops" "windows" "logLevel" "guardian" "audit" "admission" "certificates") }}
{{- if not (hasKey $s "dnsService") }}{{ $_ := set $s "dnsService" dict }}{{ end }}
{{- if not (hasKey $s.dnsService "clusterIP") }}{{ $_ := set $s.dnsService "clusterIP" nil }}{{ end }}
{{- if not (hasKey $s "webhook") }}{{ $_ := set $s "webhook" dict }}{{ end }}
{{- if not (hasKey $s.webhook "host") }}{{ $_ := set $s.webhook "host" nil }}{{ end }}
{{- if not (hasKey $s.webhook "tlsCertFile") }}{{ $_ := set $s.webhook "tlsCertFile" nil }}{{ end }}
{{- if not (hasKey $s.webhook "tlsKeyFile") }}{{ $_ := set $s.webhook "tlsKeyFile" nil }}{{ end }}
{{- if not (hasKey $s "ops") }}{{ $_ := set $s "ops" dict }}{{ end }}
{{- if not (hasKey $s.ops "host") }}{{ $_ := set $s.ops "host" nil }}{{ end }}
{{- if not (hasKey $s "certificates") }}{{ $_ := set $s "certificates" dict }}{{ end }}
{{- if not (hasKey $s.certificates "mutatingWebhookConfiguration") }}{{ $_ := set $s.certificates "mutatingWebhookConfiguration" nil }}{{ end }}
{{- if not (hasKey $s.certificates "validatingWebhookConfiguration") }}{{ $_ := set $s.certificates "validatingWebhookConfiguration" nil }}{{ end }}
{{- /* reservationGuard.enabled: the chart's switch for guardian.reservationGuard (either true turns it on). */}}
{{- if not (hasKey $s "guardian") }}{{ $_ := set $s "guardian" dict }}{{ end }}
{{- if .Values.reservationGuard.enabled }}{{ $_ := set $s.guardian "reservationGuard" true }}{{ end }}
{{- toYaml $s }}
{{- end }}
