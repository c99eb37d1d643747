// ses-deliverability-exporter's monitoring mixin: prometheusRules (recording rules),
// prometheusAlerts and grafanaDashboards, all driven by _config (config.libsonnet).
(import 'config.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
