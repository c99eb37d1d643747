// The dashboards have one source, dashboards/generate.py; the mixin imports the JSON it
// generates (so it needs the whole repository, not mixin/ alone) and adds _config.selector to
// every deliverability_* series the panels and template variables query.
local utils = import '../lib/utils.libsonnet';

local files = {
  'ses-deliverability-account.json': import '../../dashboards/account.json',
  'ses-deliverability-bounces.json': import '../../dashboards/bounces.json',
  'ses-deliverability-exporter-health.json': import '../../dashboards/exporter-health.json',
  'ses-deliverability-overview.json': import '../../dashboards/overview.json',
};

{
  local selectQueries(value, selector) =
    if std.isObject(value) then {
      [k]: if (k == 'expr' || k == 'query') && std.isString(value[k])
      then utils.withSelector(value[k], selector)
      else selectQueries(value[k], selector)
      for k in std.objectFields(value)
    }
    else if std.isArray(value) then [selectQueries(v, selector) for v in value]
    else value,

  grafanaDashboards+:: {
    [name]: selectQueries(files[name], $._config.selector)
    for name in std.objectFields(files)
  },
}
