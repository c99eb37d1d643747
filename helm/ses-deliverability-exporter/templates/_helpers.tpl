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

{{/* repository@digest when a digest is given, else repository:tag (tag defaults to appVersion). */}}
{{- define "ses-deliverability-exporter.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
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
  automountServiceAccountToken: false
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
{{- end }}
