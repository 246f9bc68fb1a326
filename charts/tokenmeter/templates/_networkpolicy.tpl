{{/*
One NetworkPolicy rule: (dict "dir" "from"|"to" "peers" LIST "ports" (list (dict "port" N "protocol" "TCP") ...)).
An empty peers list means any address (the from/to key is left out).
*/}}
{{- define "tokenmeter.networkPolicy.rule" -}}
- ports:
    {{- range .ports }}
    - port: {{ .port | int }}
      protocol: {{ .protocol | default "TCP" }}
    {{- end }}
  {{- with .peers }}
  {{ $.dir }}:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* Egress every tokenmeter component needs: DNS and the Kubernetes API server. */}}
{{- define "tokenmeter.networkPolicy.egressDnsApi" -}}
{{- $np := .Values.networkPolicy -}}
{{- include "tokenmeter.networkPolicy.rule" (dict "dir" "to" "peers" $np.dns.peers "ports" (list (dict "port" 53 "protocol" "UDP") (dict "port" 53 "protocol" "TCP"))) }}
{{- $ports := list -}}
{{- range $np.apiServer.ports }}{{ $ports = append $ports (dict "port" .) }}{{ end }}
{{ include "tokenmeter.networkPolicy.rule" (dict "dir" "to" "peers" $np.apiServer.peers "ports" $ports) }}
{{- end -}}
