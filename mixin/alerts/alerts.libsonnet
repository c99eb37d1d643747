// The alerts, in four groups: the sending domains' DNS, the SES account, the SES events and
// the exporter itself. Thresholds, `for:` durations, owner labels, the selector and the runbook
// URL come from _config (config.libsonnet); each rule's `comment` (hidden) is written into the
// rendered rules file above or below its name.
local utils = import '../lib/utils.libsonnet';

// SES's rate over the shortest window with enough volume: `or` keeps the first that fires.
local sesRate(ratio, counted, threshold, volumes, countKey) = std.join('or\n', [
  |||
    (
      ses:deliverability_ses_%(ratio)s:rate%(window)s > %(threshold)s
      and ses:deliverability_ses_sent_recipients:increase%(window)s > %(recipients)s
      and ses:deliverability_ses_%(counted)s:increase%(window)s >= %(count)s
    )
  ||| % {
    ratio: ratio,
    counted: counted,
    window: window,
    threshold: utils.num(threshold),
    recipients: utils.num(volumes[window].recipients),
    count: utils.num(volumes[window][countKey]),
  }
  for window in ['1h', '24h', '7d']
]);

{
  local c = $._config { owners: utils.labelList($._config.ownerLabels) },
  local forWords(alert) = utils.durationWords($._config.forDuration[alert]),

  prometheusAlerts+:: {
    groups+: [
      {
        name: "ses-deliverability.dns",
        rules: [
          {
            alert: "DeliverabilityMailFromUnresolvable",
            comment:: |||
              The last known verdict: a zone that starts to SERVFAIL keeps the page (see the rule).
            |||,
            expr: |||
              (
                domain:deliverability_mail_from_resolvable:last_known == 0
              )
              * on (domain) group_left (%(owners)s) domain:deliverability_domain_info:owner
              or
              (
                domain:deliverability_mail_from_resolvable:last_known == 0
                unless on (domain) domain:deliverability_domain_info:owner
              )
            ||| % c,
            'for': $._config.forDuration.DeliverabilityMailFromUnresolvable,
            labels: { severity: "critical" },
            annotations: {
              summary: "A custom MAIL FROM domain has no A or AAAA record.",
              description: utils.oneLine(|||
                  MAIL FROM {{ $labels.mail_from_domain }} of {{ $labels.domain }} does not resolve to
                  an address; strict corporate gateways reject the mail with "553 5.1.8 Domain of sender
                  address does not exist" while Gmail accepts it. Publish an A (and AAAA) record for
                  {{ $labels.mail_from_domain }}; `ses-deliverability-exporter check {{ $labels.domain }}
                  --mail-from {{ $labels.mail_from_domain }}` shows the exact records.
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityMailFromUnresolvable"),
            },
          },
          {
            alert: "DeliverabilityDkimBroken",
            expr: |||
              (
                domain_check:deliverability_check_status:last_known_fail{check="dkim"}
              )
              * on (domain) group_left (%(owners)s) domain:deliverability_domain_info:owner
              or
              (
                domain_check:deliverability_check_status:last_known_fail{check="dkim"}
                unless on (domain) domain:deliverability_domain_info:owner
              )
            ||| % c,
            'for': $._config.forDuration.DeliverabilityDkimBroken,
            labels: { severity: "critical" },
            annotations: {
              summary: "SES Easy DKIM CNAMEs are missing or wrong.",
              description: utils.oneLine(|||
                  The DKIM CNAMEs of {{ $labels.domain }} do not all lead to SES's keys: receivers see
                  unsigned or unverifiable mail and DMARC rests on SPF alone. Publish
                  <token>._domainkey.{{ $labels.domain }} CNAME <token>.dkim.amazonses.com for every
                  token; `ses-deliverability-exporter check {{ $labels.domain }} --dkim-token ...` lists them.
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityDkimBroken"),
            },
          },
          {
            alert: "DeliverabilityDmarcMissingOrInvalid",
            expr: |||
              (
                domain_check:deliverability_check_status:last_known_fail{check="dmarc"}
              )
              * on (domain) group_left (%(owners)s) domain:deliverability_domain_info:owner
              or
              (
                domain_check:deliverability_check_status:last_known_fail{check="dmarc"}
                unless on (domain) domain:deliverability_domain_info:owner
              )
            ||| % c,
            'for': $._config.forDuration.DeliverabilityDmarcMissingOrInvalid,
            labels: { severity: "warning" },
            annotations: {
              summary: "No valid DMARC record applies to a sending domain.",
              description: utils.oneLine(|||
                  {{ $labels.domain }} has no valid DMARC record (nor does its organizational domain);
                  Gmail and Yahoo require one from bulk senders. Publish _dmarc.{{ $labels.domain }} TXT
                  "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{{ $labels.domain }}".
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityDmarcMissingOrInvalid"),
            },
          },
          {
            alert: "DeliverabilityDmarcPolicyWeakened",
            comment:: |||
              Over pods on both sides: a domain that moved to another shard keeps its history.
            |||,
            expr: |||
              (
                min without (instance, pod) (deliverability_dmarc_policy_level)
                < max without (instance, pod) (max_over_time(deliverability_dmarc_policy_level[1d] offset 15m))
              )
              * on (domain) group_left (%(owners)s) domain:deliverability_domain_info:owner
              or
              (
                min without (instance, pod) (deliverability_dmarc_policy_level)
                < max without (instance, pod) (max_over_time(deliverability_dmarc_policy_level[1d] offset 15m))
                unless on (domain) domain:deliverability_domain_info:owner
              )
            ||| % c,
            'for': $._config.forDuration.DeliverabilityDmarcPolicyWeakened,
            labels: { severity: "warning" },
            annotations: {
              summary: "A domain's DMARC policy was weakened.",
              description: utils.oneLine(|||
                  The effective DMARC policy of {{ $labels.domain }} dropped to level {{ $value }}
                  (-1 none valid, 0 none, 1 quarantine, 2 reject) from a stronger one during the last
                  day. If the change was not intended, restore the previous _dmarc record.
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityDmarcPolicyWeakened"),
            },
          },
          {
            alert: "DeliverabilitySpfPermerror",
            expr: |||
              (
                domain_check:deliverability_check_status:last_known_fail{check=~"spf|mail_from_spf"}
              )
              * on (domain) group_left (%(owners)s) domain:deliverability_domain_info:owner
              or
              (
                domain_check:deliverability_check_status:last_known_fail{check=~"spf|mail_from_spf"}
                unless on (domain) domain:deliverability_domain_info:owner
              )
            ||| % c,
            'for': $._config.forDuration.DeliverabilitySpfPermerror,
            labels: { severity: "critical" },
            annotations: {
              summary: "An SPF record fails or does not authorize SES.",
              description: utils.oneLine(|||
                  The {{ $labels.check }} check of {{ $labels.domain }} fails: a permerror (too many
                  DNS lookups, several records, a syntax error, a missing include), +all, or a MAIL FROM
                  whose SPF does not include amazonses.com. Receivers treat the mail as SPF fail.
                  `ses-deliverability-exporter check {{ $labels.domain }}` names the record to publish.
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilitySpfPermerror"),
            },
          },
          {
            alert: "DeliverabilityCheckFailing",
            expr: |||
              (
                domain_check:deliverability_check_status:last_known_fail{check!~"mail_from_resolvable|dkim|dmarc|spf|mail_from_spf|ses_feedback_routing"}
              )
              * on (domain) group_left (%(owners)s) domain:deliverability_domain_info:owner
              or
              (
                domain_check:deliverability_check_status:last_known_fail{check!~"mail_from_resolvable|dkim|dmarc|spf|mail_from_spf|ses_feedback_routing"}
                unless on (domain) domain:deliverability_domain_info:owner
              )
            ||| % c,
            'for': $._config.forDuration.DeliverabilityCheckFailing,
            labels: { severity: "warning" },
            annotations: {
              summary: "A deliverability check fails.",
              description: utils.oneLine(|||
                  The {{ $labels.check }} check of {{ $labels.domain }} fails. The landing page and
                  `ses-deliverability-exporter check {{ $labels.domain }}` give the summary and the remedy.
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityCheckFailing"),
            },
          },
          {
            alert: "DeliverabilityCheckUnverifiable",
            comment:: |||
              Unknown with no known failure before it (that one keeps its own alert firing).
            |||,
            expr: |||
              (
                max without (instance, pod) (deliverability_check_unknown_reason) == 1
                unless on (domain, check) domain_check:deliverability_check_status:last_known_fail
              )
              * on (domain) group_left (%(owners)s) domain:deliverability_domain_info:owner
              or
              (
                max without (instance, pod) (deliverability_check_unknown_reason) == 1
                unless on (domain, check) domain_check:deliverability_check_status:last_known_fail
                unless on (domain) domain:deliverability_domain_info:owner
              )
            ||| % c,
            'for': $._config.forDuration.DeliverabilityCheckUnverifiable,
            labels: { severity: "warning" },
            annotations: {
              summary: "A deliverability check cannot be verified.",
              description: utils.oneLine(|||
                  The {{ $labels.check }} check of {{ $labels.domain }} has been unknown for %s
                  ({{ $labels.reason }}): nothing tells whether it passes. servfail or
                  refused for one domain while others resolve point at its zone (a broken DNSSEC
                  chain, a lame delegation), which receivers see too; timeout or network at the path
                  from the exporter to the resolver.
                ||| % forWords('DeliverabilityCheckUnverifiable')),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityCheckUnverifiable"),
            },
          },
          {
            alert: "DeliverabilityMailFromZoneBroken",
            comment:: |||
              SERVFAIL or REFUSED for the MAIL FROM domain while most other checks of the same
              cycle get answers: the zone is broken, not the resolver (a resolver that fails
              everything leaves most checks unknown and pages nobody). A failing check that turns
              unknown stays DeliverabilityMailFromUnresolvable.
            |||,
            expr: |||
              (
                max without (instance, pod) (deliverability_check_unknown_reason{check="mail_from_resolvable", reason=~"servfail|refused"}) == 1
                unless on (domain) domain_check:deliverability_check_status:last_known_fail
                and on (job) (
                  sum by (job) (deliverability_domains{status="unknown"})
                  < 0.5 * sum by (job) (deliverability_domains)
                )
              )
              * on (domain) group_left (%(owners)s) domain:deliverability_domain_info:owner
              or
              (
                max without (instance, pod) (deliverability_check_unknown_reason{check="mail_from_resolvable", reason=~"servfail|refused"}) == 1
                unless on (domain) domain_check:deliverability_check_status:last_known_fail
                and on (job) (
                  sum by (job) (deliverability_domains{status="unknown"})
                  < 0.5 * sum by (job) (deliverability_domains)
                )
                unless on (domain) domain:deliverability_domain_info:owner
              )
            ||| % c,
            'for': $._config.forDuration.DeliverabilityMailFromZoneBroken,
            labels: { severity: "critical" },
            annotations: {
              summary: "The MAIL FROM domain's DNS servers fail, so receivers cannot verify the sender.",
              description: utils.oneLine(|||
                  The A/AAAA lookup for the MAIL FROM domain of {{ $labels.domain }} gets
                  {{ $labels.reason }} while other domains resolve: a delivery problem, not a monitoring
                  one. Receiving gateways treat the sender domain's SERVFAIL as a failure and defer or
                  reject the mail (451/553 5.1.8). Fix the zone: `dig +dnssec` the MAIL FROM domain and
                  check its DS/DNSKEY records and its delegation.
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityMailFromZoneBroken"),
            },
          },
        ],
      },
      {
        name: "ses-deliverability.account",
        rules: [
          {
            alert: "SESAccountUnderReview",
            expr: "max without (instance, pod) (deliverability_ses_enforcement_status{status=\"PROBATION\"}) == 1",
            'for': $._config.forDuration.SESAccountUnderReview,
            labels: { severity: "critical" },
            annotations: {
              summary: "SES placed the account under review (PROBATION).",
              description: utils.oneLine(|||
                  SES account {{ $labels.aws_account_id }} in {{ $labels.aws_region }} is on PROBATION:
                  fix the bounce or complaint rate before SES pauses sending, and answer the case in
                  the AWS console.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESAccountUnderReview"),
            },
          },
          {
            alert: "SESAccountSendingPaused",
            expr: "max without (instance, pod) (deliverability_ses_enforcement_status{status=\"SHUTDOWN\"}) == 1",
            'for': $._config.forDuration.SESAccountSendingPaused,
            labels: { severity: "critical" },
            annotations: {
              summary: "SES paused the account's sending (SHUTDOWN).",
              description: utils.oneLine(|||
                  SES account {{ $labels.aws_account_id }} in {{ $labels.aws_region }} can no longer send
                  (enforcement status SHUTDOWN). Fix the cause and request reinstatement in the console.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESAccountSendingPaused"),
            },
          },
          {
            alert: "SESSendingDisabled",
            expr: "min without (instance, pod) (deliverability_ses_sending_enabled) == 0",
            'for': $._config.forDuration.SESSendingDisabled,
            labels: { severity: "critical" },
            annotations: {
              summary: "Sending is disabled for the SES account.",
              description: utils.oneLine(|||
                  SES sending is disabled for account {{ $labels.aws_account_id }} in
                  {{ $labels.aws_region }}; every send fails. Re-enable it (PutAccountSendingAttributes)
                  once the cause is understood.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESSendingDisabled"),
            },
          },
          {
            alert: "SESProductionAccessLost",
            expr: |||
              min without (instance, pod) (deliverability_ses_production_access_enabled) == 0
              and max without (instance, pod) (max_over_time(deliverability_ses_production_access_enabled[7d])) == 1
            |||,
            'for': $._config.forDuration.SESProductionAccessLost,
            labels: { severity: "critical" },
            annotations: {
              summary: "The SES account is back in the sandbox.",
              description: utils.oneLine(|||
                  Account {{ $labels.aws_account_id }} in {{ $labels.aws_region }} lost production
                  access: it can only send to verified addresses, at most 200 a day.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESProductionAccessLost"),
            },
          },
          {
            alert: "SESBounceRateHigh",
            comment:: |||
              Over the windows that fit the volume: the last hour for big senders, a day or a week
              for small ones, each with a minimum number of recipients and of bounces. `or` keeps
              the shortest window that fires: one alert, whose value is that window's ratio.
            |||,
            expr: sesRate('bounce_ratio', 'hard_bounced_recipients', c.sesBounceRate.warning, c.sesBounceMinVolume, 'bounces'),
            'for': $._config.forDuration.SESBounceRateHigh,
            labels: { severity: "warning" },
            annotations: {
              summary: "The hard bounce rate is approaching SES's review threshold (about 5%).",
              description: utils.oneLine(|||
                  {{ $value | humanizePercentage }} of recipients hard-bounced over the last hour,
                  day or week (the shortest with enough volume); SES reviews accounts at about 5% and
                  may pause at 10%. See which recipient domains and categories on the bounces dashboard.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESBounceRateHigh"),
            },
          },
          {
            alert: "SESBounceRateCritical",
            expr: sesRate('bounce_ratio', 'hard_bounced_recipients', c.sesBounceRate.critical, c.sesBounceMinVolume, 'bounces'),
            'for': $._config.forDuration.SESBounceRateCritical,
            labels: { severity: "critical" },
            annotations: {
              summary: "The hard bounce rate is just below SES's review threshold.",
              description: utils.oneLine(|||
                  {{ $value | humanizePercentage }} of recipients hard-bounced over the last hour,
                  day or week (the shortest with enough volume); SES reviews the account at about 5%. Stop the campaign or list that causes it.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESBounceRateCritical"),
            },
          },
          {
            alert: "SESComplaintRateHigh",
            comment:: |||
              As for bounces: a small sender is judged over a day or a week.
            |||,
            expr: sesRate('complaint_ratio', 'complained_recipients', c.sesComplaintRate.warning, c.sesComplaintMinVolume, 'complaints'),
            'for': $._config.forDuration.SESComplaintRateHigh,
            labels: { severity: "warning" },
            annotations: {
              summary: "The complaint rate is approaching SES's review threshold (about 0.1%).",
              description: utils.oneLine(|||
                  {{ $value | humanizePercentage }} of recipients complained over the last hour, day
                  or week (the shortest with enough volume); SES reviews at about 0.1% and may pause at
                  0.5%. Gmail complaints are not included:
                  check Postmaster Tools too.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESComplaintRateHigh"),
            },
          },
          {
            alert: "SESComplaintRateCritical",
            expr: sesRate('complaint_ratio', 'complained_recipients', c.sesComplaintRate.critical, c.sesComplaintMinVolume, 'complaints'),
            'for': $._config.forDuration.SESComplaintRateCritical,
            labels: { severity: "critical" },
            annotations: {
              summary: "The complaint rate is just below SES's review threshold.",
              description: utils.oneLine(|||
                  {{ $value | humanizePercentage }} of recipients complained over the last hour, day
                  or week (the shortest with enough volume); SES reviews the account at about 0.1%. Stop the campaign or
                  list that causes it and check the unsubscribe link.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESComplaintRateCritical"),
            },
          },
          {
            alert: "SESReputationBounceRateHigh",
            expr: 'max without (instance, pod) (deliverability_ses_reputation_bounce_ratio) >= ' + utils.num(c.sesReputationBounceRate.warning),
            'for': $._config.forDuration.SESReputationBounceRateHigh,
            labels: { severity: "warning" },
            annotations: {
              summary: "SES's own bounce rate is at half its review threshold.",
              description: utils.oneLine(|||
                  SES reports a bounce rate of {{ $value | humanizePercentage }} for account
                  {{ $labels.aws_account_id }} in {{ $labels.aws_region }} (CloudWatch
                  Reputation.BounceRate): half of the 5% at which SES reviews the account.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESReputationBounceRateHigh"),
            },
          },
          {
            alert: "SESReputationBounceRateCritical",
            expr: 'max without (instance, pod) (deliverability_ses_reputation_bounce_ratio) >= ' + utils.num(c.sesReputationBounceRate.critical),
            'for': $._config.forDuration.SESReputationBounceRateCritical,
            labels: { severity: "critical" },
            annotations: {
              summary: "SES's own bounce rate is at its review threshold.",
              description: utils.oneLine(|||
                  SES reports a bounce rate of {{ $value | humanizePercentage }} for account
                  {{ $labels.aws_account_id }} in {{ $labels.aws_region }}: SES reviews accounts
                  at 5% and may pause sending at 10%. Stop the source now.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESReputationBounceRateCritical"),
            },
          },
          {
            alert: "SESReputationComplaintRateHigh",
            expr: 'max without (instance, pod) (deliverability_ses_reputation_complaint_ratio) >= ' + utils.num(c.sesReputationComplaintRate.warning),
            'for': $._config.forDuration.SESReputationComplaintRateHigh,
            labels: { severity: "warning" },
            annotations: {
              summary: "SES's own complaint rate is at half its review threshold.",
              description: utils.oneLine(|||
                  SES reports a complaint rate of {{ $value | humanizePercentage }} for account
                  {{ $labels.aws_account_id }} in {{ $labels.aws_region }} (CloudWatch
                  Reputation.ComplaintRate): half of the 0.1% at which SES reviews the account.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESReputationComplaintRateHigh"),
            },
          },
          {
            alert: "SESReputationComplaintRateCritical",
            expr: 'max without (instance, pod) (deliverability_ses_reputation_complaint_ratio) >= ' + utils.num(c.sesReputationComplaintRate.critical),
            'for': $._config.forDuration.SESReputationComplaintRateCritical,
            labels: { severity: "critical" },
            annotations: {
              summary: "SES's own complaint rate is at its review threshold.",
              description: utils.oneLine(|||
                  SES reports a complaint rate of {{ $value | humanizePercentage }} for account
                  {{ $labels.aws_account_id }} in {{ $labels.aws_region }}: SES reviews accounts
                  at 0.1% and may pause sending at 0.5%. Stop the source now.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESReputationComplaintRateCritical"),
            },
          },
          {
            alert: "SESEventsMissing",
            comment:: |||
              SES counted sends in the last 6 hours (its rolling 24-hour count moved) but a queue
              received nothing: every rate alert is blind.
            |||,
            expr: |||
              sum without (instance, pod) (increase(deliverability_sqs_messages_received_total[6h])) == 0
              and on ()
              (
                max(deliverability_ses_send_quota_sent_last_24h) > 100
                and max(changes(deliverability_ses_send_quota_sent_last_24h[6h])) > 0
              )
            |||,
            'for': $._config.forDuration.SESEventsMissing,
            labels: { severity: "warning" },
            annotations: {
              summary: "SES sends mail but no SES events reach the exporter's queue.",
              description: utils.oneLine(|||
                  SES counted sends in the last hours but queue {{ $labels.queue }} received no
                  message in 6 hours: the bounce and complaint rate alerts see nothing. Check the
                  configuration set's event destination or the identity's SNS topics, the SNS
                  subscription to the queue and the queue policy.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESEventsMissing"),
            },
          },
          {
            alert: "SESSuppressionListGrowingFast",
            expr: "max without (instance, pod) (deliverability_ses_suppressed_destinations_recent) > 500",
            'for': $._config.forDuration.SESSuppressionListGrowingFast,
            labels: { severity: "warning" },
            annotations: {
              summary: "Many addresses were added to the SES suppression list.",
              description: utils.oneLine(|||
                  {{ $value }} suppression-list entries of account {{ $labels.aws_account_id }} in
                  {{ $labels.aws_region }} were added or updated in the last 24 hours: a list with many
                  dead addresses is being mailed.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESSuppressionListGrowingFast"),
            },
          },
          {
            alert: "SESFeedbackNotRouted",
            comment:: |||
              `domain`: the identity, or the domain of an address identity.
            |||,
            expr: |||
              (
                label_replace(
                  min without (instance, pod) (deliverability_ses_feedback_routed) == 0,
                  "domain", "$1", "identity", "(?:.*@)?(.+)"
                )
              )
              * on (domain) group_left (%(owners)s) domain:deliverability_domain_info:owner
              or
              (
                label_replace(
                  min without (instance, pod) (deliverability_ses_feedback_routed) == 0,
                  "domain", "$1", "identity", "(?:.*@)?(.+)"
                )
                unless on (domain) domain:deliverability_domain_info:owner
              )
            ||| % c,
            'for': $._config.forDuration.SESFeedbackNotRouted,
            labels: { severity: "warning" },
            annotations: {
              summary: "Bounce or complaint feedback reaches no machine-readable destination.",
              description: utils.oneLine(|||
                  {{ $labels.feedback_type }} feedback of {{ $labels.identity }} ({{ $labels.aws_region }})
                  goes to {{ $labels.path }}: nothing can count it. Set an SNS topic on the identity or an
                  event destination on its configuration set, and subscribe the exporter's queue.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESFeedbackNotRouted"),
            },
          },
          {
            alert: "SESSmtpCredentialRejected",
            expr: "min without (instance, pod) (deliverability_smtp_auth_probe_success) == 0",
            'for': $._config.forDuration.SESSmtpCredentialRejected,
            labels: { severity: "critical" },
            annotations: {
              summary: "An SES SMTP credential no longer authenticates.",
              description: utils.oneLine(|||
                  The SMTP credential {{ $labels.credential }} is rejected by the SES SMTP endpoint
                  (usually a rotated or deleted IAM key): relays using it, such as Gmail "Send mail as",
                  fail silently. Derive the new password with `ses-deliverability-exporter smtp-password`
                  and update every relay.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESSmtpCredentialRejected"),
            },
          },
          {
            alert: "SESSmtpAccessKeyInactive",
            expr: "max without (instance, pod, access_key_id) (deliverability_iam_access_key_active) == 0",
            'for': $._config.forDuration.SESSmtpAccessKeyInactive,
            labels: { severity: "critical" },
            annotations: {
              summary: "No active IAM key is left behind an SES SMTP credential.",
              description: utils.oneLine(|||
                  Every access key of IAM user {{ $labels.iam_user }} (credential
                  {{ $labels.credential }}) is inactive: its SMTP password cannot authenticate.
                |||),
              runbook_url: utils.runbookUrl($._config, "SESSmtpAccessKeyInactive"),
            },
          },
        ],
      },
      {
        name: "ses-deliverability.events",
        rules: [
          {
            alert: "DeliverabilityRecipientDomain5xxSpike",
            expr: |||
              recipient_domain:deliverability_ses_bounce_5xx_ratio:rate1h > %(ratio)s
              and recipient_domain:deliverability_ses_sent_recipients:increase1h > %(minRecipients)s
              unless (recipient_domain:deliverability_ses_bounce_5xx_ratio:rate1h offset 1d) * %(factorOverYesterday)s > recipient_domain:deliverability_ses_bounce_5xx_ratio:rate1h
            ||| % std.mapWithKey(function(k, v) utils.num(v), c.recipientDomain5xx),
            'for': $._config.forDuration.DeliverabilityRecipientDomain5xxSpike,
            labels: { severity: "warning" },
            annotations: {
              summary: "A recipient domain suddenly rejects much more mail.",
              description: utils.oneLine(|||
                  {{ $value | humanizePercentage }} of recipients at {{ $labels.recipient_domain }} got a
                  5xx bounce over the last hour, at least three times yesterday's ratio. Look at the
                  categories on the bounces dashboard: a gateway rejecting SPF/DKIM/DMARC or the MAIL
                  FROM domain affects every domain behind it.
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityRecipientDomain5xxSpike"),
            },
          },
          {
            alert: "DeliverabilityAuthenticationBounces",
            comment:: |||
              The second half catches a series that first appears already non-zero (a new
              label combination): increase() cannot see its first bounces.
              At least 5 in 30 minutes for 10 minutes: one misclassified bounce pages nobody.
            |||,
            expr: |||
              (
                domain_category:deliverability_ses_authentication_bounced_recipients:increase30m >= 5
              )
              * on (domain) group_left (%(owners)s) domain:deliverability_domain_info:owner
              or
              (
                domain_category:deliverability_ses_authentication_bounced_recipients:increase30m >= 5
                unless on (domain) domain:deliverability_domain_info:owner
              )
            ||| % c,
            'for': $._config.forDuration.DeliverabilityAuthenticationBounces,
            labels: { severity: "critical" },
            annotations: {
              summary: "Receivers reject mail because of the sender's DNS or authentication.",
              description: utils.oneLine(|||
                  {{ $value }} recipients bounced in 30 minutes with category {{ $labels.category }}
                  for sending domain {{ $labels.domain }}. These are fixed in your DNS, not by the
                  recipients: `ses-deliverability-exporter check {{ $labels.domain }}`.
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityAuthenticationBounces"),
            },
          },
          {
            alert: "DeliverabilityEventConsumerStalled",
            comment:: |||
              No consumer at all received anything: one idle replica among busy ones is fine.
            |||,
            expr: |||
              max without (instance, pod) (deliverability_sqs_queue_visible_messages) > 100
              and sum without (instance, pod) (rate(deliverability_sqs_messages_received_total[15m])) == 0
            |||,
            'for': $._config.forDuration.DeliverabilityEventConsumerStalled,
            labels: { severity: "warning" },
            annotations: {
              summary: "SES events wait in the queue but nothing consumes them.",
              description: utils.oneLine(|||
                  {{ $value }} messages wait in {{ $labels.queue }} and no exporter replica received any in
                  15 minutes: check their SQS permissions, that the event consumers run (KEDA's
                  ScaledObject when sharded) and the deliverability_collector_up series.
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityEventConsumerStalled"),
            },
          },
          {
            alert: "DeliverabilityMalformedEvents",
            comment:: |||
              At least 3 in 30 minutes: one stray message is left for the dead-letter queue quietly.
            |||,
            expr: |||
              sum without (instance, pod) (
                (
                  increase(deliverability_ses_events_malformed_total[30m])
                  and deliverability_ses_events_malformed_total offset 30m
                )
                or
                (
                  deliverability_ses_events_malformed_total
                  unless deliverability_ses_events_malformed_total offset 30m
                )
              ) >= 3
            |||,
            'for': $._config.forDuration.DeliverabilityMalformedEvents,
            labels: { severity: "warning" },
            annotations: {
              summary: "Queue messages that are not SES events are arriving.",
              description: utils.oneLine(|||
                  {{ $value }} messages with reason {{ $labels.reason }} could not be read in 30 minutes;
                  they are left for the dead-letter queue. Inspect one there (the exporter logs each
                  SQS message id once).
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityMalformedEvents"),
            },
          },
          {
            alert: "DeliverabilityEventsFromForeignTopic",
            expr: |||
              sum without (instance, pod) (
                increase(deliverability_ses_events_refused_total{reason="topic_not_allowed"}[15m])
              ) > 0
            |||,
            'for': $._config.forDuration.DeliverabilityEventsFromForeignTopic,
            labels: { severity: "warning" },
            annotations: {
              summary: "SNS envelopes from a topic outside the allow-list keep arriving.",
              description: utils.oneLine(|||
                  {{ $value }} messages in 15 minutes came in SNS envelopes from a topic not in
                  events.allowed_topic_arns, for %s: a foreign subscription or forged messages.
                  They are not counted as events and are left for the dead-letter queue; read the
                  TopicArn of one there and check the queue policy's aws:SourceArn condition.
                ||| % forWords('DeliverabilityEventsFromForeignTopic')),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityEventsFromForeignTopic"),
            },
          },
          {
            alert: "DeliverabilityTemplateRenderingFailures",
            expr: |||
              (
                domain:deliverability_ses_rendering_failed_recipients:increase30m >= 3
              )
              * on (domain) group_left (%(owners)s) domain:deliverability_domain_info:owner
              or
              (
                domain:deliverability_ses_rendering_failed_recipients:increase30m >= 3
                unless on (domain) domain:deliverability_domain_info:owner
              )
            ||| % c,
            'for': $._config.forDuration.DeliverabilityTemplateRenderingFailures,
            labels: { severity: "warning" },
            annotations: {
              summary: "SES could not render a template, so the mail was never sent.",
              description: utils.oneLine(|||
                  {{ $value }} recipients of mail from {{ $labels.domain }} got nothing in the
                  last 30 minutes: SES reported Rendering Failure (a template variable missing from
                  the send's data, or a template that does not parse). The SES event's
                  failure.errorMessage and templateName name the template; fix it or the data the
                  sending application passes.
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityTemplateRenderingFailures"),
            },
          },
          {
            alert: "DeliverabilityQueueWithoutRedrivePolicy",
            expr: "min without (instance, pod) (deliverability_sqs_queue_redrive_policy) == 0",
            'for': $._config.forDuration.DeliverabilityQueueWithoutRedrivePolicy,
            labels: { severity: "warning" },
            annotations: {
              summary: "The event queue has no dead-letter queue.",
              description: utils.oneLine(|||
                  Queue {{ $labels.queue }} has no redrive policy: a malformed message is received
                  forever. Add a RedrivePolicy with a dead-letter queue.
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityQueueWithoutRedrivePolicy"),
            },
          },
        ],
      },
      {
        name: "ses-deliverability.exporter",
        rules: [
          {
            alert: "DeliverabilityCollectorDown",
            expr: "deliverability_collector_up == 0",
            'for': $._config.forDuration.DeliverabilityCollectorDown,
            labels: { severity: "warning" },
            annotations: {
              summary: "A collector of the exporter keeps failing.",
              description: utils.oneLine(|||
                  Collector {{ $labels.collector }} of {{ $labels.instance }} has failed for %s;
                  its last good values are still served. The exporter logs the error.
                ||| % forWords('DeliverabilityCollectorDown')),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityCollectorDown"),
            },
          },
          {
            alert: "DeliverabilityCollectorStale",
            expr: "time() - deliverability_collector_last_success_timestamp_seconds > 2 * deliverability_collector_interval_seconds + 60",
            'for': $._config.forDuration.DeliverabilityCollectorStale,
            labels: { severity: "warning" },
            annotations: {
              summary: "A collector has not succeeded for two intervals.",
              description: utils.oneLine(|||
                  Collector {{ $labels.collector }} of {{ $labels.instance }} last succeeded
                  {{ $value | humanizeDuration }} ago, more than two intervals: its values are stale.
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityCollectorStale"),
            },
          },
          {
            alert: "DeliverabilityFailingChecksWithheld",
            comment:: |||
              Each process (each shard) applies the budget to its own domains: summed over shards.
            |||,
            expr: "sum without (instance, pod) (deliverability_check_status_withheld_series{worst_status=\"fail\"}) > 0",
            'for': $._config.forDuration.DeliverabilityFailingChecksWithheld,
            labels: { severity: "warning" },
            annotations: {
              summary: "The series budget is too small to show every failing domain.",
              description: utils.oneLine(|||
                  {{ $value }} check series of failing domains are withheld by metrics.series_budget
                  (a budget per exporter process, so per shard when sharded): per-domain alerts cannot
                  see those domains. Raise the budget (the landing page and deliverability_domains
                  still count them).
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityFailingChecksWithheld"),
            },
          },
          {
            alert: "DeliverabilityConfigReloadFailed",
            expr: "deliverability_config_last_reload_successful == 0",
            'for': $._config.forDuration.DeliverabilityConfigReloadFailed,
            labels: { severity: "warning" },
            annotations: {
              summary: "The exporter refused an invalid configuration.",
              description: utils.oneLine(|||
                  {{ $labels.instance }} keeps running the previous configuration because the new
                  file is invalid; `ses-deliverability-exporter validate-config FILE` lists every problem.
                |||),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityConfigReloadFailed"),
            },
          },
          {
            alert: "DeliverabilityExporterAbsent",
            comment:: |||
              No target up, or some down: a down shard leaves its domains unchecked.
            |||,
            expr: |||
              absent(up{%(selector)s} == 1)
              or count(up{%(selector)s} == 0) > 0
            ||| % c,
            'for': $._config.forDuration.DeliverabilityExporterAbsent,
            labels: { severity: "warning" },
            annotations: {
              summary: "Prometheus cannot scrape the deliverability exporter.",
              description: utils.oneLine(|||
                  No target of %(selector)s has been up for %(for)s, or some target is down
                  (sharded: its shard's domains are not checked): the alerts that depend on it
                  cannot fire. `up{%(selector)s} == 0` names the targets.
                ||| % c { 'for': forWords('DeliverabilityExporterAbsent') }),
              runbook_url: utils.runbookUrl($._config, "DeliverabilityExporterAbsent"),
            },
          },
        ],
      },
    ],
  },
}
