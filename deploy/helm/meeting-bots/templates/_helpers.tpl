{{/*
Helpers shared by every workload. Most take a dict:
  root:   the chart's root context ($)
  name:   the service name (api-gateway, scheduler, bot-runner, transcriber, webhook-dispatcher,
          calendar-sync)
  values: that service's values (.Values.apiGateway, ...)
*/}}

{{/* Resource name: the service name, behind the optional prefix. */}}
{{- define "mb.fullname" -}}
{{- printf "%s%s" .root.Values.namePrefix .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of the chart-wide ConfigMap and Secret. */}}
{{- define "mb.configName" -}}
{{- include "mb.fullname" (dict "root" . "name" "meeting-bots") -}}
{{- end -}}

{{- define "mb.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "mb.configName" .) -}}
{{- end -}}

{{- define "mb.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "mb.labels" -}}
{{ include "mb.selectorLabels" . }}
app.kubernetes.io/component: {{ .name }}
app.kubernetes.io/part-of: meeting-bots
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Image reference: registry/repository, then @digest or :tag (tag, default tag, appVersion). */}}
{{- define "mb.image" -}}
{{- $image := .values.image -}}
{{- $repository := $image.repository -}}
{{- if .root.Values.image.registry -}}
{{- $repository = printf "%s/%s" (trimSuffix "/" .root.Values.image.registry) $repository -}}
{{- end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository ($image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* Pod template annotations: roll the pods when the shared settings or secrets change. */}}
{{- define "mb.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- if not .root.Values.secrets.existingSecret }}
checksum/secret: {{ include (print .root.Template.BasePath "/secret.yaml") .root | sha256sum }}
{{- end }}
{{- with .root.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod-level fields every workload shares. */}}
{{- define "mb.podCommon" -}}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .root.Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* Scheduling fields of a service's pods. */}}
{{- define "mb.podPlacement" -}}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The container fields every workload shares: image, security context. */}}
{{- define "mb.containerCommon" -}}
image: {{ include "mb.image" . | quote }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
securityContext:
  {{- toYaml .root.Values.containerSecurityContext | nindent 2 }}
{{- end -}}

{{/* A value from the chart's Secret (or the existing one). Args: root, var, key. */}}
{{- define "mb.secretEnv" -}}
- name: {{ .var }}
  valueFrom:
    secretKeyRef:
      name: {{ include "mb.secretName" .root }}
      key: {{ .key }}
{{- end -}}

{{/*
Environment every service gets besides the ConfigMap: object-store credentials (every
service's settings check them), NATS_URL when it is secret, and the pod's identity for traces.
*/}}
{{- define "mb.commonEnv" -}}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: K8S_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: OTEL_RESOURCE_ATTRIBUTES
  value: "k8s.pod.name=$(K8S_POD_NAME),k8s.namespace.name=$(K8S_NAMESPACE),deployment.environment={{ .root.Values.environment }}"
{{ include "mb.secretEnv" (dict "root" .root "var" "S3_ACCESS_KEY" "key" "S3_ACCESS_KEY") }}
{{ include "mb.secretEnv" (dict "root" .root "var" "S3_SECRET_KEY" "key" "S3_SECRET_KEY") }}
{{- if .root.Values.nats.urlFromSecret }}
{{ include "mb.secretEnv" (dict "root" .root "var" "NATS_URL" "key" "NATS_URL") }}
{{- end }}
{{- end -}}

{{/* MB_SECRET_KEYS of the generated Secret as one comma-separated string; "" when not given. */}}
{{- define "mb.secretKeys" -}}
{{- include "mb.csv" .Values.secrets.secretKeys -}}
{{- end -}}

{{/*
MB_SECRET_KEYS, only for the services that seal or open secrets: api-gateway, scheduler,
transcriber, webhook-dispatcher, calendar-sync, meetings (never the bot-runner). Nothing when the generated
Secret has no key (development). Args: root, and secretName for another Secret than the release's.
*/}}
{{- define "mb.secretKeysEnv" -}}
{{- $existing := .root.Values.secrets.existingSecret -}}
{{- if or $existing (include "mb.secretKeys" .root) -}}
- name: MB_SECRET_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ .secretName | default (include "mb.secretName" .root) }}
      key: MB_SECRET_KEYS
      {{- if and $existing (eq .root.Values.environment "development") }}
      optional: true
      {{- end }}
{{- end -}}
{{- end -}}

{{/*
DATABASE_URL from the Secret key of a database (gateway, scheduler, transcriber, webhooks,
calendars, meetings).
*/}}
{{- define "mb.databaseEnv" -}}
{{ include "mb.secretEnv" (dict "root" .root "var" "DATABASE_URL" "key" (printf "%s_DATABASE_URL" (upper .database))) }}
{{- end -}}

{{/* A service's free-form `env` map, as container variables (sorted by name). */}}
{{- define "mb.extraEnv" -}}
{{- $env := list -}}
{{- range $name, $value := .values.env -}}
{{- $env = append $env (dict "name" $name "value" (toString $value)) -}}
{{- end -}}
{{- if $env }}{{ toYaml $env }}{{ end -}}
{{- end -}}

{{/* A list, or a comma-separated string, as "a,b,c" (items trimmed, empty ones dropped). */}}
{{- define "mb.csv" -}}
{{- $items := list -}}
{{- $raw := kindIs "slice" . | ternary . (splitList "," (toString (. | default ""))) -}}
{{- range $raw -}}
{{- $item := toString . | trim -}}
{{- if $item }}{{ $items = append $items $item }}{{ end -}}
{{- end -}}
{{- join "," $items -}}
{{- end -}}

{{/* A database URL for the generated Secret. Args: root, database. */}}
{{- define "mb.databaseUrl" -}}
{{- $pg := .root.Values.postgresql -}}
{{- $url := printf "postgresql://%s:%s@%s:%v/%s" (urlquery $pg.username) (urlquery $pg.password) $pg.host $pg.port .database -}}
{{- if $pg.params }}{{ $url = printf "%s?%s" $url $pg.params }}{{ end -}}
{{- $url -}}
{{- end -}}

{{/* The keys of the generated Secret (shared by the release's Secret and the migrations hook's). */}}
{{- define "mb.secretData" -}}
{{- $dbs := .Values.postgresql.databases -}}
GATEWAY_DATABASE_URL: {{ include "mb.databaseUrl" (dict "root" . "database" $dbs.gateway) | quote }}
SCHEDULER_DATABASE_URL: {{ include "mb.databaseUrl" (dict "root" . "database" $dbs.scheduler) | quote }}
TRANSCRIBER_DATABASE_URL: {{ include "mb.databaseUrl" (dict "root" . "database" $dbs.transcriber) | quote }}
WEBHOOKS_DATABASE_URL: {{ include "mb.databaseUrl" (dict "root" . "database" $dbs.webhooks) | quote }}
CALENDARS_DATABASE_URL: {{ include "mb.databaseUrl" (dict "root" . "database" $dbs.calendars) | quote }}
MEETINGS_DATABASE_URL: {{ include "mb.databaseUrl" (dict "root" . "database" $dbs.meetings) | quote }}
MEETINGS_SUMMARY_API_KEY: {{ .Values.meetings.summaryApi.apiKey | quote }}
S3_ACCESS_KEY: {{ .Values.s3.accessKey | quote }}
S3_SECRET_KEY: {{ .Values.s3.secretKey | quote }}
{{- with (include "mb.secretKeys" .) }}
MB_SECRET_KEYS: {{ . | quote }}
{{- end }}
{{- if .Values.nats.urlFromSecret }}
NATS_URL: {{ .Values.nats.url | quote }}
{{- end }}
{{- end -}}

{{/* Writable directories: every pod gets /tmp. */}}
{{- define "mb.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}

{{- define "mb.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* bot-runner resources: explicit, or base + maxConcurrentBots x perBot. */}}
{{- define "mb.botRunner.resources" -}}
{{- $v := .Values.botRunner -}}
{{- if $v.resources -}}
{{ toYaml $v.resources }}
{{- else -}}
{{- $n := int $v.maxConcurrentBots -}}
{{- $base := $v.baseResources -}}
{{- $per := $v.perBotResources -}}
requests:
  cpu: {{ add $base.cpuRequestMillis (mul $n $per.cpuRequestMillis) }}m
  memory: {{ add $base.memoryMi (mul $n $per.memoryMi) }}Mi
limits:
  cpu: {{ add $base.cpuLimitMillis (mul $n $per.cpuLimitMillis) }}m
  memory: {{ add $base.memoryMi (mul $n $per.memoryMi) }}Mi
{{- end -}}
{{- end -}}

{{/*
CALENDAR_PUSH_URL, the gateway's public base URL that Google and Microsoft push to:
calendarSync.pushUrl, else https://<the first host of apiGateway.ingress> when the ingress is
enabled and calendarSync.pushUrlFromIngress; "" for none (calendars then synced periodically only).
*/}}
{{- define "mb.calendarSync.pushUrl" -}}
{{- $v := .Values.calendarSync -}}
{{- $ingress := .Values.apiGateway.ingress -}}
{{- if $v.pushUrl -}}
{{- trimSuffix "/" $v.pushUrl -}}
{{- else if and $v.pushUrlFromIngress $ingress.enabled $ingress.hosts -}}
{{- with (first $ingress.hosts).host }}{{ printf "https://%s" . }}{{ end -}}
{{- end -}}
{{- end -}}

{{/* Checks that fail the install early with a message, instead of pods that crash later. */}}
{{- define "mb.validate" -}}
{{- if not .Values.secrets.existingSecret -}}
{{- if not .Values.postgresql.password -}}
{{- fail "set postgresql.password, or secrets.existingSecret to a Secret you manage" -}}
{{- end -}}
{{- if or (not .Values.s3.accessKey) (not .Values.s3.secretKey) -}}
{{- fail "set s3.accessKey and s3.secretKey, or secrets.existingSecret to a Secret you manage" -}}
{{- end -}}
{{- if and (ne .Values.environment "development") (has (lower .Values.s3.secretKey) (list "changeme" "change-me" "secret" "minioadmin")) -}}
{{- fail "s3.secretKey is a placeholder; the services refuse it outside development" -}}
{{- end -}}
{{- $keys := include "mb.secretKeys" . -}}
{{- if and (not $keys) (ne .Values.environment "development") -}}
{{- fail "set secrets.secretKeys (MB_SECRET_KEYS, the key ring that seals secrets at rest; see deploy/README.md), or secrets.existingSecret to a Secret you manage holding MB_SECRET_KEYS" -}}
{{- end -}}
{{- range (splitList "," $keys | compact) -}}
{{- if not (regexMatch "^[A-Za-z0-9_-]{43}=$" .) -}}
{{- fail "secrets.secretKeys holds a value that is not a Fernet key (44 characters of url-safe base64, as Fernet.generate_key() makes)" -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $delays := include "mb.csv" .Values.retryDelaysS -}}
{{- if not $delays -}}
{{- fail "retryDelaysS must hold at least one wait (seconds)" -}}
{{- end -}}
{{- range (splitList "," $delays) -}}
{{- if not (regexMatch "^[0-9]+([.][0-9]+)?$" .) -}}
{{- fail (printf "retryDelaysS: %q is not a number of seconds" .) -}}
{{- end -}}
{{- end -}}
{{- if lt (int .Values.botRunner.maxConcurrentBots) 1 -}}
{{- fail "botRunner.maxConcurrentBots must be at least 1" -}}
{{- end -}}
{{- $windowDays := int .Values.calendarSync.windowDays -}}
{{- if or (lt $windowDays 1) (gt $windowDays 365) -}}
{{- fail "calendarSync.windowDays must be between 1 and 365" -}}
{{- end -}}
{{- $pushUrl := include "mb.calendarSync.pushUrl" . -}}
{{- if and $pushUrl (ne .Values.environment "development") (not (regexMatch "^https://[^/?#]+" $pushUrl)) -}}
{{- fail (printf "calendarSync.pushUrl: %q is not an https URL; Google and Microsoft push only to https (leave it empty to sync calendars periodically only)" $pushUrl) -}}
{{- end -}}
{{- end -}}
