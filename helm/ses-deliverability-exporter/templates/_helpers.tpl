{{/* The chart name, or nameOverride. */}}
{{- define "ses-deliverability-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: fullnameOverride, else the release name if it
already contains the chart name, else "<release>-<chart>". 63 characters at most (DNS label).
*/}}
{{- define "ses-deliverability-exporter.fullname" -}}
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

{{/* "<chart>-<version>" for the helm.sh/chart label. */}}
{{- define "ses-deliverability-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "ses-deliverability-exporter.labels" -}}
helm.sh/chart: {{ include "ses-deliverability-exporter.chart" . }}
{{ include "ses-deliverability-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the pods (never change them: a Deployment's selector is immutable). */}}
{{- define "ses-deliverability-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ses-deliverability-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the pod runs as. */}}
{{- define "ses-deliverability-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ses-deliverability-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
[registry/]repository@digest when a digest is given, else [registry/]repository:tag (tag
defaults to appVersion).
*/}}
{{- define "ses-deliverability-exporter.image" -}}
{{- $repository := .Values.image.repository }}
{{- with .Values.image.registry }}
{{- $repository = printf "%s/%s" . $repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The exporter's config.toml: configToml as it is, a TOML string given as config as it is, else
the structured config rendered to TOML.
*/}}
{{- define "ses-deliverability-exporter.configToml" -}}
{{- if .Values.configToml }}
{{- .Values.configToml }}
{{- else if kindIs "string" .Values.config }}
{{- .Values.config }}
{{- else }}
{{- include "ses-deliverability-exporter.tomlTable" (dict "table" (.Values.config | default (dict)) "path" "") | trim }}
{{- end }}
{{- end }}

{{/*
One TOML table: its plain keys, then its sub-tables ([path.key]) and arrays of tables
([[path.key]]), keys sorted. Keys other than bare TOML keys are quoted, null values are left
out (TOML has no null).
*/}}
{{- define "ses-deliverability-exporter.tomlTable" -}}
{{- $path := .path }}
{{- range $key, $value := .table }}
{{- if not (or (kindIs "invalid" $value) (kindIs "map" $value) (include "ses-deliverability-exporter.tomlIsTableArray" $value)) }}
{{ include "ses-deliverability-exporter.tomlKey" $key }} = {{ include "ses-deliverability-exporter.tomlValue" $value }}
{{- end }}
{{- end }}
{{- range $key, $value := .table }}
{{- $sub := include "ses-deliverability-exporter.tomlKey" $key }}
{{- if $path }}
{{- $sub = printf "%s.%s" $path $sub }}
{{- end }}
{{- if kindIs "map" $value }}

[{{ $sub }}]
{{- include "ses-deliverability-exporter.tomlTable" (dict "table" $value "path" $sub) }}
{{- else if include "ses-deliverability-exporter.tomlIsTableArray" $value }}
{{- range $item := $value }}

[[{{ $sub }}]]
{{- include "ses-deliverability-exporter.tomlTable" (dict "table" $item "path" $sub) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* A TOML key: bare when it may be, else a quoted (JSON) string. */}}
{{- define "ses-deliverability-exporter.tomlKey" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ . | toJson }}{{ end }}
{{- end }}

{{/* "true" when the value is a non-empty list of tables (a TOML array of tables). */}}
{{- define "ses-deliverability-exporter.tomlIsTableArray" -}}
{{- if and (kindIs "slice" .) . }}
{{- if kindIs "map" (first .) }}true{{ end }}
{{- end }}
{{- end }}

{{/*
A TOML value: strings as JSON strings (valid TOML basic strings), whole numbers as integers
(Helm reads every number in values as a float64, and the exporter's integers are strict),
lists inline.
*/}}
{{- define "ses-deliverability-exporter.tomlValue" -}}
{{- if kindIs "string" . }}
{{- . | toJson }}
{{- else if kindIs "bool" . }}
{{- ternary "true" "false" . }}
{{- else if kindIs "float64" . }}
{{- if eq (float64 (int64 .)) . }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- else if kindIs "slice" . }}
{{- $items := list }}
{{- range $item := . }}
{{- $items = append $items (include "ses-deliverability-exporter.tomlValue" $item) }}
{{- end }}
{{- printf "[%s]" (join ", " $items) }}
{{- else }}
{{- . }}
{{- end }}
{{- end }}

{{/*
The selector labels of one component's pods when sharding is on ("checks" or "events"): the
StatefulSet's and the events Deployment's selectors must not overlap, while the scrape
Service, which selects on the common labels only, reaches every pod of both.
*/}}
{{- define "ses-deliverability-exporter.componentSelectorLabels" -}}
{{ include "ses-deliverability-exporter.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
The mount path of webConfig.secretName: a directory of its own, not a subdirectory of the
ConfigMap's mount (a mount nested in a read-only, atomically swapped ConfigMap volume is
fragile), so the web.yml's relative cert_file/key_file resolve next to it.
*/}}
{{- define "ses-deliverability-exporter.webConfigDir" -}}
/etc/ses-deliverability-exporter-web
{{- end }}

{{/*
The pod template of every workload: the single Deployment (sharding off, role all), the
checks StatefulSet and the events Deployment. Called with
  (dict "root" $ "component" "checks" "args" (list "--role" "checks") "resources" (dict))
component "" (the single Deployment) adds no label and args (list) no flag, so the default
rendering is unchanged. Empty resources fall back to .Values.resources.
*/}}
{{- define "ses-deliverability-exporter.podTemplate" -}}
{{- $root := .root }}
{{- $values := $root.Values }}
{{- $web := $values.webConfig | default (dict) }}
{{- $resources := .resources | default $values.resources }}
metadata:
  labels:
    {{- include "ses-deliverability-exporter.labels" $root | nindent 4 }}
    {{- with .component }}
    app.kubernetes.io/component: {{ . }}
    {{- end }}
    {{- with $values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Rolls the pod on `helm upgrade` when the config changes (the exporter also
    # reloads a changed file by itself).
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    {{- with $values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "ses-deliverability-exporter.serviceAccountName" $root }}
  automountServiceAccountToken: {{ $values.serviceAccount.automountServiceAccountToken | default false }}
  {{- with $values.priorityClassName }}
  priorityClassName: {{ . | quote }}
  {{- end }}
  {{- with $values.dnsConfig }}
  dnsConfig:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $values.podSecurityContext | nindent 4 }}
  containers:
    - name: exporter
      image: {{ include "ses-deliverability-exporter.image" $root | quote }}
      imagePullPolicy: {{ $values.image.pullPolicy }}
      args:
        - run
        - --config
        - /etc/ses-deliverability-exporter/config.toml
        - --listen-address
        - {{ $values.listenAddress | quote }}
        {{- if $web.secretName }}
        - --web-config-file
        - {{ include "ses-deliverability-exporter.webConfigDir" $root }}/web.yml
        {{- end }}
        {{- range .args }}
        - {{ . | quote }}
        {{- end }}
      ports:
        - name: http
          containerPort: 10190
          protocol: TCP
      {{- with $values.extraEnv }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.extraEnvFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      # Liveness never depends on DNS or AWS; readiness waits for the first DNS cycle.
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
          {{- if $web.tls }}
          scheme: HTTPS
          {{- end }}
        periodSeconds: 10
        timeoutSeconds: 3
        failureThreshold: 3
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
          {{- if $web.tls }}
          scheme: HTTPS
          {{- end }}
        periodSeconds: 10
        timeoutSeconds: 3
        failureThreshold: 3
      {{- with $resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $values.securityContext | nindent 8 }}
      volumeMounts:
        # The whole directory, not a subPath: a subPath mount never sees ConfigMap updates.
        - name: config
          mountPath: /etc/ses-deliverability-exporter
          readOnly: true
        {{- if $web.secretName }}
        # web.yml and the certificate and key files it names.
        - name: web-config
          mountPath: {{ include "ses-deliverability-exporter.webConfigDir" $root }}
          readOnly: true
        {{- end }}
        # The only writable path (readOnlyRootFilesystem); HOME=/tmp in the image.
        - name: tmp
          mountPath: /tmp
        {{- with $values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "ses-deliverability-exporter.fullname" $root }}
    {{- if $web.secretName }}
    - name: web-config
      secret:
        secretName: {{ $web.secretName }}
    {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- with $values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
