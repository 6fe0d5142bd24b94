{{/*
Named templates for putting the gateway into your own pod. In your pod spec:

  serviceAccountName: {{ include "gamelift-streams-gateway.serviceAccountName" . }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  initContainers:
    {{- include "gamelift-streams-gateway.initContainers" . | nindent 4 }}
  containers:
    - name: my-app
      env:
        {{- include "gamelift-streams-gateway.appEnv" . | nindent 8 }}
    {{- include "gamelift-streams-gateway.containers" . | nindent 4 }}
  volumes:
    {{- include "gamelift-streams-gateway.volumes" . | nindent 4 }}

Each of them renders nothing where the mode does not need it.
*/}}

{{- define "gamelift-streams-gateway.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gamelift-streams-gateway.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gamelift-streams-gateway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "gamelift-streams-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "gamelift-streams-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gamelift-streams-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gamelift-streams-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gamelift-streams-gateway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: the existing ServiceAccount to use when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Seconds in-flight calls get after SIGTERM: within the pod's grace period. */}}
{{- define "gamelift-streams-gateway.drainSeconds" -}}
{{- $grace := int64 .Values.terminationGracePeriodSeconds -}}
{{- $delay := ternary (int64 .Values.gateway.shutdownDelaySeconds) 0 (eq .Values.sidecarMode "classic") -}}
{{- if not (kindIs "invalid" .Values.gateway.drainSeconds) -}}
{{- $drain := .Values.gateway.drainSeconds -}}
{{- if ge (add (int64 $drain) $delay) $grace -}}
{{- fail (printf "gateway.drainSeconds (%v) plus the shutdown delay (%v) must stay below terminationGracePeriodSeconds (%v)" $drain $delay $grace) -}}
{{- end -}}
{{- $drain -}}
{{- else -}}
{{- $drain := sub (sub $grace 5) $delay -}}
{{- if lt $drain 1 -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) leaves no time to drain: give at least %v" $grace (add 6 $delay)) -}}
{{- end -}}
{{- $drain -}}
{{- end -}}
{{- end -}}

{{/* One EnvVar if the value is set. */}}
{{- define "gamelift-streams-gateway.envVar" -}}
{{- if not (or (kindIs "invalid" .value) (eq (toString .value) "")) }}
- name: {{ .name }}
  value: {{ .value | toString | quote }}
{{- end -}}
{{- end -}}

{{/* The gateway's environment: every setting of values.gateway, aws, auth, emulator and otel. */}}
{{- define "gamelift-streams-gateway.env" -}}
{{- $g := .Values.gateway -}}
{{- if and .Values.emulator.enabled .Values.aws.endpointUrl -}}
{{- fail "emulator.enabled and aws.endpointUrl cannot be combined" -}}
{{- end -}}
- name: GLS_GATEWAY_LISTEN
  value: {{ printf "127.0.0.1:%d" (int64 $g.port) | quote }}
- name: GLS_GATEWAY_HEALTH_LISTEN
  value: {{ printf "0.0.0.0:%d" (int64 $g.healthPort) | quote }}
{{- if $g.metricsPort }}
- name: GLS_GATEWAY_METRICS_LISTEN
  value: {{ printf "0.0.0.0:%d" (int64 $g.metricsPort) | quote }}
{{- end }}
- name: GLS_GATEWAY_LOG_FORMAT
  value: {{ $g.logFormat | quote }}
- name: RUST_LOG
  value: {{ $g.logLevel | quote }}
- name: GLS_GATEWAY_DRAIN_SECONDS
  value: {{ include "gamelift-streams-gateway.drainSeconds" . | quote }}
- name: GLS_GATEWAY_SHUTDOWN_DELAY_SECONDS
  value: {{ ternary $g.shutdownDelaySeconds 0 (eq .Values.sidecarMode "classic") | toString | quote }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "AWS_REGION" "value" .Values.aws.region) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "AWS_ENDPOINT_URL" "value" .Values.aws.endpointUrl) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_AWS_ATTEMPT_TIMEOUT_SECONDS" "value" $g.awsAttemptTimeoutSeconds) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_RETRY_MAX_ATTEMPTS" "value" $g.retry.maxAttempts) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_RETRY_BASE_DELAY_MS" "value" $g.retry.baseDelayMs) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_RETRY_MAX_DELAY_MS" "value" $g.retry.maxDelayMs) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_RETRY_BUDGET_TOKENS" "value" $g.retry.budgetTokens) }}
{{- if $g.rateLimits }}
{{- $limits := list -}}
{{- range $op, $rate := $g.rateLimits -}}
{{- $limits = append $limits (printf "%s=%v" $op $rate) -}}
{{- end }}
- name: GLS_GATEWAY_RATE_LIMITS
  value: {{ join "," $limits | quote }}
{{- end }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_IDEMPOTENCY_NAMESPACE" "value" $g.idempotency.namespace) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_IDEMPOTENCY_RETENTION_SECONDS" "value" $g.idempotency.retentionSeconds) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_IDEMPOTENCY_MAX_ENTRIES" "value" $g.idempotency.maxEntries) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_WATCH_FAST_INTERVAL_SECONDS" "value" $g.watch.fastIntervalSeconds) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_WATCH_NORMAL_INTERVAL_SECONDS" "value" $g.watch.normalIntervalSeconds) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_WATCH_SLOW_INTERVAL_SECONDS" "value" $g.watch.slowIntervalSeconds) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_WATCH_HEARTBEAT_SECONDS" "value" $g.watch.heartbeatSeconds) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_WATCH_POLL_SHARE" "value" $g.watch.pollShare) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_STAGE_WATCH_INTERVAL_SECONDS" "value" $g.stageWatch.intervalSeconds) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_STAGE_WATCH_IDLE_INTERVAL_SECONDS" "value" $g.stageWatch.idleIntervalSeconds) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_MAX_REQUEST_BYTES" "value" $g.limits.maxRequestBytes) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_MAX_CONNECTIONS" "value" $g.limits.maxConnections) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_HANDSHAKE_TIMEOUT_SECONDS" "value" $g.limits.handshakeTimeoutSeconds) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_KEEPALIVE_INTERVAL_SECONDS" "value" $g.limits.keepaliveIntervalSeconds) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_KEEPALIVE_TIMEOUT_SECONDS" "value" $g.limits.keepaliveTimeoutSeconds) }}
{{- if $g.logWireUnsafe }}
- name: GLS_GATEWAY_LOG_WIRE_UNSAFE
  value: "true"
{{- end }}
{{- if .Values.auth.enabled }}
- name: GLS_GATEWAY_AUTH_TOKEN_FILE
  value: /var/run/secrets/gamelift-streams-gateway/{{ .Values.auth.secretKey }}
{{- end }}
{{- if .Values.fleet.enabled }}
- name: GLS_GATEWAY_REDIS_URL
  value: {{ required "fleet.redisUrl: redis:// or rediss:// URL of the fleet's Redis" .Values.fleet.redisUrl | quote }}
{{- if .Values.fleet.passwordSecret.name }}
- name: GLS_GATEWAY_REDIS_PASSWORD_FILE
  value: /var/run/secrets/gamelift-streams-gateway-redis/{{ .Values.fleet.passwordSecret.key }}
{{- end }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_REDIS_KEY_PREFIX" "value" .Values.fleet.keyPrefix) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_REDIS_TIMEOUT_MS" "value" .Values.fleet.timeoutMs) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_FLEET_HEARTBEAT_SECONDS" "value" .Values.fleet.heartbeatSeconds) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_FLEET_GET_MAX_AGE_MS" "value" .Values.fleet.getMaxAgeMs) }}
{{- if .Values.fleet.cluster }}
- name: GLS_GATEWAY_REDIS_CLUSTER
  value: "true"
{{- end }}
{{- $expected := .Values.fleet.expectedMembers }}
{{- if and (kindIs "invalid" $expected) .Values.example.enabled }}
{{- $expected = .Values.example.replicas }}
{{- end }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_FLEET_EXPECTED_MEMBERS" "value" $expected) }}
{{- end }}
{{- if .Values.emulator.enabled }}
- name: GLS_GATEWAY_EMULATOR
  value: "true"
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_EMULATOR_TIME_SCALE" "value" .Values.emulator.timeScale) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "GLS_GATEWAY_EMULATOR_ACTIVATION_SECONDS" "value" .Values.emulator.activationSeconds) }}
{{- if .Values.emulator.capacity }}
{{- $capacity := list -}}
{{- range $location, $slots := .Values.emulator.capacity -}}
{{- $capacity = append $capacity (printf "%s=%v" $location $slots) -}}
{{- end }}
- name: GLS_GATEWAY_EMULATOR_CAPACITY
  value: {{ join "," $capacity | quote }}
{{- end }}
{{- end }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "OTEL_EXPORTER_OTLP_ENDPOINT" "value" .Values.otel.endpoint) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "OTEL_SERVICE_NAME" "value" .Values.otel.serviceName) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "OTEL_TRACES_SAMPLER" "value" .Values.otel.tracesSampler) }}
{{- include "gamelift-streams-gateway.envVar" (dict "name" "OTEL_RESOURCE_ATTRIBUTES" "value" .Values.otel.resourceAttributes) }}
{{- with $g.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The gateway container, as one list item. */}}
{{- define "gamelift-streams-gateway.container" -}}
{{- if and (eq .Values.sidecarMode "native") (not (semverCompare ">=1.29.0-0" .Capabilities.KubeVersion.Version)) -}}
{{- fail (printf "sidecarMode native needs Kubernetes >= 1.29 (this cluster is %s): use sidecarMode: classic" .Capabilities.KubeVersion.Version) -}}
{{- end -}}
- name: gamelift-streams-gateway
  image: {{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  {{- if eq .Values.sidecarMode "native" }}
  restartPolicy: Always
  {{- end }}
  args: [serve]
  env:
    {{- include "gamelift-streams-gateway.env" . | nindent 4 }}
  ports:
    - name: gls-health
      containerPort: {{ int64 .Values.gateway.healthPort }}
      protocol: TCP
    {{- if .Values.gateway.metricsPort }}
    - name: gls-metrics
      containerPort: {{ int64 .Values.gateway.metricsPort }}
      protocol: TCP
    {{- end }}
  startupProbe:
    grpc:
      port: {{ int64 .Values.gateway.healthPort }}
    periodSeconds: {{ .Values.probes.startup.periodSeconds }}
    failureThreshold: {{ .Values.probes.startup.failureThreshold }}
  readinessProbe:
    grpc:
      port: {{ int64 .Values.gateway.healthPort }}
    periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
    failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
  livenessProbe:
    grpc:
      port: {{ int64 .Values.gateway.healthPort }}
    periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
    failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  {{- $redisPassword := and .Values.fleet.enabled .Values.fleet.passwordSecret.name }}
  {{- if or .Values.auth.enabled $redisPassword }}
  volumeMounts:
    {{- if .Values.auth.enabled }}
    - name: gamelift-streams-gateway-token
      mountPath: /var/run/secrets/gamelift-streams-gateway
      readOnly: true
    {{- end }}
    {{- if $redisPassword }}
    - name: gamelift-streams-gateway-redis
      mountPath: /var/run/secrets/gamelift-streams-gateway-redis
      readOnly: true
    {{- end }}
  {{- end }}
{{- end -}}

{{/* The gateway for initContainers: there in native mode only. */}}
{{- define "gamelift-streams-gateway.initContainers" -}}
{{- if eq .Values.sidecarMode "native" -}}
{{- include "gamelift-streams-gateway.container" . -}}
{{- end -}}
{{- end -}}

{{/* The gateway for containers: there in classic mode only. */}}
{{- define "gamelift-streams-gateway.containers" -}}
{{- if eq .Values.sidecarMode "classic" -}}
{{- include "gamelift-streams-gateway.container" . -}}
{{- end -}}
{{- end -}}

{{/* The volumes the gateway needs (the token Secret, with auth on). */}}
{{- define "gamelift-streams-gateway.volumes" -}}
{{- if .Values.auth.enabled }}
- name: gamelift-streams-gateway-token
  secret:
    secretName: {{ required "auth.existingSecret: the Secret holding the token" .Values.auth.existingSecret }}
    items:
      - key: {{ .Values.auth.secretKey }}
        path: {{ .Values.auth.secretKey }}
{{- end }}
{{- if and .Values.fleet.enabled .Values.fleet.passwordSecret.name }}
- name: gamelift-streams-gateway-redis
  secret:
    secretName: {{ .Values.fleet.passwordSecret.name }}
    items:
      - key: {{ .Values.fleet.passwordSecret.key }}
        path: {{ .Values.fleet.passwordSecret.key }}
{{- end }}
{{- end -}}

{{/* The app's environment: where the gateway is, and its token. */}}
{{- define "gamelift-streams-gateway.appEnv" -}}
- name: GLS_GATEWAY_ADDR
  value: {{ printf "127.0.0.1:%d" (int64 .Values.gateway.port) | quote }}
{{- if .Values.auth.enabled }}
- name: GLS_GATEWAY_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.existingSecret }}
      key: {{ .Values.auth.secretKey }}
{{- end }}
{{- end -}}
