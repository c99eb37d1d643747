// Helpers shared by the alerts, the recording rules and the dashboards.
{
  // A text block (|||) as one line: its line breaks become spaces, as in a folded YAML scalar.
  oneLine(text):: std.join(' ', std.split(std.rstripChars(text, '\n'), '\n')),

  // The runbook section of an alert: the base URL, '#', the alert name in lower case (the
  // anchor of its `## AlertName` heading in docs/runbooks.md).
  runbookUrl(config, alert):: config.runbookBaseUrl + '#' + std.asciiLower(alert),

  // A number as PromQL reads it: integers without a fraction, others shortest (%g).
  num(x):: if x == std.floor(x) then '%d' % x else '%g' % x,

  // The owner label names as a label list: `team` or `team, service`.
  labelList(names):: std.join(', ', names),

  // A `for:` duration in words for descriptions: '15m' -> '15 minutes', '1h' -> 'an hour'.
  durationWords(d)::
    local unit = std.substr(d, std.length(d) - 1, 1);
    local n = std.parseInt(std.substr(d, 0, std.length(d) - 1));
    local words = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week' };
    if n == 1 then (if unit == 'h' then 'an hour' else 'a ' + words[unit])
    else '%d %ss' % [n, words[unit]],

  // `selector` added to every selector of a deliverability_* metric in a PromQL expression:
  // `deliverability_x{a="b"}` -> `deliverability_x{job="y", a="b"}`, `deliverability_x` ->
  // `deliverability_x{job="y"}`. Recorded series (`ses:deliverability_...`) are left alone.
  withSelector(expr, selector)::
    local isIdent(c) =
      local cp = std.codepoint(c);
      (cp >= 48 && cp <= 57) || (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122) || c == '_' || c == ':';
    local identLength(s, i) = if i < std.length(s) && isIdent(s[i]) then identLength(s, i + 1) else i;
    local parts = std.split(expr, 'deliverability_');
    local piece(k) =
      local p = parts[k];
      local prev = parts[k - 1];
      if std.length(prev) > 0 && isIdent(prev[std.length(prev) - 1]) then 'deliverability_' + p
      else
        local n = identLength(p, 0);
        local name = std.substr(p, 0, n);
        local rest = std.substr(p, n, std.length(p) - n);
        if std.startsWith(rest, '{}') then 'deliverability_' + name + '{' + selector + rest[1:]
        else if std.startsWith(rest, '{') then 'deliverability_' + name + '{' + selector + ', ' + rest[1:]
        else 'deliverability_' + name + '{' + selector + '}' + rest;
    if selector == '' then expr
    else parts[0] + std.join('', [piece(k) for k in std.range(1, std.length(parts) - 1)]),
}
