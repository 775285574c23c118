{{- define "peapods.name" -}}peapods-operator{{- end -}}

{{- define "peapods.labels" -}}
app.kubernetes.io/name: peapods
app.kubernetes.io/component: operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "peapods.selector" -}}
app.kubernetes.io/name: peapods
app.kubernetes.io/component: operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "peapods.image" -}}{{ .Values.image.repository }}:{{ .Values.image.tag }}{{- end -}}

{{- /* The Pea NetworkPolicy's file in the operator's ConfigMap volume (networkpolicy.yaml). */ -}}
{{- define "peapods.peaNetworkPolicyFile" -}}pea-network-policy.json{{- end -}}
