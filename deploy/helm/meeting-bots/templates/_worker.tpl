{{/*
Deployment of a worker (a service without a port), and its PodDisruptionBudget when it has more
than one replica. Takes the dict of the other helpers plus:
  command, args: the container's command line (lists)
  database:      its database (gateway, scheduler, transcriber, webhooks, calendars) or ""
                 for none
  secretKeys:    true when it seals or opens secrets (MB_SECRET_KEYS)
  env:           YAML list of the service's own variables
  volumes, mounts: YAML lists of extra volumes and their mounts
  resources:     YAML resources ("" uses values.resources)
  pod:           YAML of extra pod spec fields
  autoscaled:    true when something else (KEDA) owns the replica count
*/}}
{{- define "mb.workerDeployment" -}}
{{- $v := .values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "mb.fullname" . }}
  labels:
    {{- include "mb.labels" . | nindent 4 }}
spec:
  {{- if not .autoscaled }}
  replicas: {{ $v.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "mb.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "mb.labels" . | nindent 8 }}
        {{- with .root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "mb.podAnnotations" . | nindent 8 }}
    spec:
      {{- include "mb.podCommon" . | nindent 6 }}
      {{- with (include "mb.podPlacement" . | trim) }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- with .pod }}
      {{- . | nindent 6 }}
      {{- end }}
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      containers:
        - name: {{ .name }}
          {{- include "mb.containerCommon" . | nindent 10 }}
          command: {{ toJson .command }}
          {{- with .args }}
          args: {{ toJson . }}
          {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "mb.configName" .root }}
          env:
            {{- if .database }}
            {{- include "mb.databaseEnv" . | nindent 12 }}
            {{- end }}
            {{- if .secretKeys }}
            {{- with (include "mb.secretKeysEnv" .) }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- end }}
            {{- include "mb.commonEnv" . | nindent 12 }}
            {{- with .env }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with (include "mb.extraEnv" .) }}
            {{- . | nindent 12 }}
            {{- end }}
          {{- with $v.livenessProbe }}
          livenessProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          resources:
            {{- .resources | default (toYaml $v.resources) | nindent 12 }}
          volumeMounts:
            {{- include "mb.tmpMount" .root | nindent 12 }}
            {{- with .mounts }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        {{- include "mb.tmpVolume" .root | nindent 8 }}
        {{- with .volumes }}
        {{- . | nindent 8 }}
        {{- end }}
{{- if and (not .autoscaled) $v.pdb.enabled (gt (int $v.replicas) 1) }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "mb.fullname" . }}
  labels:
    {{- include "mb.labels" . | nindent 4 }}
spec:
  minAvailable: {{ $v.pdb.minAvailable }}
  selector:
    matchLabels:
      {{- include "mb.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}
