// The recording rules: the ratios SES judges on, over its windows, and the last known
// verdicts and owner labels the alerts read. Each rule's `comment` (hidden) is written into
// the rendered rules file above it.
local utils = import '../lib/utils.libsonnet';

{
  // The rendered file's header comment (scripts/render-rules.py writes it).
  rulesFileHeader:: |||
    Recording and alerting rules for ses-deliverability-exporter. Rendered from the monitoring
    mixin (mixin/, its default _config) by scripts/render-rules.py: edit the mixin, not this file.
    The Helm chart ships a render with placeholders for the selector and the runbook URL.
    Every alert has a promtool test where it fires and one where it must not
    (tests/unit/test_rules*.py).
    Sharded or not, any number of pods gives the same alerts (the Helm chart's README, "Scaling
    out on Kubernetes"):
    - counters and per-shard counts are summed, `sum without (instance, pod, ...)`: each event is
      counted by one consumer, each domain by one shard;
    - per-domain, per-account and per-queue state is taken over pods, `max without (instance,
      pod)` for "== 1 is bad" and `min without` for "== 0 is bad", so an alert names the domain,
      account or queue, not the pod that saw it: it keeps its `for:` when a domain moves to
      another shard or a pod is rescheduled with a new address, and fires once if two pods
      briefly report the same domain;
    - exporter-health alerts (collectors, config reload) stay per pod on purpose: it is that
      pod that is failing.
    - `domain` is the sending domain on every per-domain alert (label_replace maps
      `sending_domain` and `identity`), and every per-domain alert carries the domain's owner
      labels from deliverability_domain_info through a left join that keeps alerts of domains
      without an info series. The owner label names are the mixin's _config.ownerLabels (here
      `%(owners)s`), in domain:deliverability_domain_info:owner and in every `group_left (%(owners)s)` below:
      set it to route on other labels (the exporter's `labels` of [[domains]] and
      aws.identity_labels).
    - Severity: critical when mail is being lost now or SES enforcement is near, warning for
      everything else (docs/runbooks.md, "Severity"). No alert fires on one stray event: each has a
      `for:` and, where it counts events, a minimum count.
    Written for Prometheus >= 2.42.
  ||| % { owners: utils.labelList($._config.ownerLabels) },

  prometheusRules+:: {
    groups+: [
      {
        name: "ses-deliverability.recording",
        rules: [
          {
            record: "sending_domain_recipient_domain:deliverability_ses_recipients:rate1h",
            comment:: |||
              The denominator of every ratio: recipients mail was sent to, per recipient domain and
              sending domain. Send events (configuration-set event publishing) give it exactly. A
              sender with identity notifications only has no Send events: there, delivered plus
              bounced recipients stand in (one recipient can have a Delivery and a later Bounce, so
              it over-counts slightly). Where deliveries are not routed either, there is no
              denominator and no ratio: bounces over bounces would read 100% and page falsely.
              A sending domain that publishes deliveries at all (it has a delivery series for some
              recipient domain) has delivered nothing to a recipient domain without one (a new
              domain that rejects everything, or counters since an exporter restart): its bounces
              alone are the denominator there, so a domain rejecting all mail reads 100%.
            |||,
            expr: |||
              sum without (instance, pod) (rate(deliverability_ses_sent_recipients_total[1h]))
              or
              sum without (instance, pod) (rate(deliverability_ses_delivered_recipients_total[1h]))
              + sum without (instance, pod, bounce_type, bounce_subtype, status_class, category) (
                rate(deliverability_ses_bounced_recipients_total[1h])
              )
              or
              (
                sum without (instance, pod, bounce_type, bounce_subtype, status_class, category) (
                  rate(deliverability_ses_bounced_recipients_total[1h])
                )
                and on (job, sending_domain)
                count without (instance, pod, recipient_domain, recipient_provider) (
                  deliverability_ses_delivered_recipients_total
                )
              )
              or
              sum without (instance, pod) (rate(deliverability_ses_delivered_recipients_total[1h]))
            |||,
          },
          {
            record: "ses:deliverability_ses_sent_recipients:increase1h",
            comment:: |||
              SES counts hard bounces, minus the account suppression list, over recipients sent.
            |||,
            expr: |||
              3600 * sum without (recipient_domain, recipient_provider, sending_domain) (
                sending_domain_recipient_domain:deliverability_ses_recipients:rate1h
              )
            |||,
          },
          {
            record: "ses:deliverability_ses_bounce_ratio:rate1h",
            expr: |||
              sum without (instance, pod, recipient_domain, recipient_provider, bounce_type, bounce_subtype, status_class, category, sending_domain) (
                rate(deliverability_ses_bounced_recipients_total{bounce_type="Permanent", bounce_subtype!="OnAccountSuppressionList"}[1h])
              )
              /
              (sum without (recipient_domain, recipient_provider, sending_domain) (
                sending_domain_recipient_domain:deliverability_ses_recipients:rate1h
              ) > 0)
            |||,
          },
          {
            record: "ses:deliverability_ses_complaint_ratio:rate1h",
            expr: |||
              sum without (instance, pod, recipient_domain, recipient_provider, feedback_type, sending_domain) (
                rate(deliverability_ses_complained_recipients_total[1h])
              )
              /
              (sum without (recipient_domain, recipient_provider, sending_domain) (
                sending_domain_recipient_domain:deliverability_ses_recipients:rate1h
              ) > 0)
            |||,
          },
          {
            record: "recipient_domain:deliverability_ses_sent_recipients:increase1h",
            expr: |||
              3600 * sum without (recipient_provider, sending_domain) (
                sending_domain_recipient_domain:deliverability_ses_recipients:rate1h
              )
            |||,
          },
          {
            record: "recipient_domain:deliverability_ses_bounce_5xx_ratio:rate1h",
            expr: |||
              sum without (instance, pod, recipient_provider, bounce_type, bounce_subtype, status_class, category, sending_domain) (
                rate(deliverability_ses_bounced_recipients_total{status_class="5xx"}[1h])
              )
              /
              (sum without (recipient_provider, sending_domain) (
                sending_domain_recipient_domain:deliverability_ses_recipients:rate1h
              ) > 0)
            |||,
          },
          {
            record: "recipient_provider:deliverability_ses_bounce_5xx_ratio:rate1h",
            expr: |||
              sum without (instance, pod, recipient_domain, bounce_type, bounce_subtype, status_class, category, sending_domain) (
                rate(deliverability_ses_bounced_recipients_total{status_class="5xx"}[1h])
              )
              /
              (sum without (recipient_domain, sending_domain) (
                sending_domain_recipient_domain:deliverability_ses_recipients:rate1h
              ) > 0)
            |||,
          },
          {
            record: "ses:deliverability_ses_hard_bounced_recipients:increase1h",
            blankLineBefore:: true,
            comment:: |||
              Rates over the windows SES judges on (a representative volume, not an hour), built from
              the 1h rules (not rate() over the raw, high-cardinality counters): the average of the
              per-minute 1h increases times the window's hours. A numerator reads 0, not absent,
              while its denominator exists, so both average the same minutes.
            |||,
            expr: |||
              3600 * sum without (instance, pod, recipient_domain, recipient_provider, bounce_type, bounce_subtype, status_class, category, sending_domain) (
                rate(deliverability_ses_bounced_recipients_total{bounce_type="Permanent", bounce_subtype!="OnAccountSuppressionList"}[1h])
              )
              or 0 * ses:deliverability_ses_sent_recipients:increase1h
            |||,
          },
          {
            record: "ses:deliverability_ses_complained_recipients:increase1h",
            expr: |||
              3600 * sum without (instance, pod, recipient_domain, recipient_provider, feedback_type, sending_domain) (
                rate(deliverability_ses_complained_recipients_total[1h])
              )
              or 0 * ses:deliverability_ses_sent_recipients:increase1h
            |||,
          },
          {
            record: "ses:deliverability_ses_sent_recipients:increase24h",
            comment:: |||
              A window's volume exists once Prometheus has data from (nearly) its start: 23 hours
              for the day, 3 days for the week (whose average is then scaled to seven), so an hour of
              data is never scaled up to a day's volume.
            |||,
            expr: |||
              24 * avg_over_time(ses:deliverability_ses_sent_recipients:increase1h[1d])
              and ses:deliverability_ses_sent_recipients:increase1h offset 23h
            |||,
          },
          {
            record: "ses:deliverability_ses_hard_bounced_recipients:increase24h",
            expr: "24 * avg_over_time(ses:deliverability_ses_hard_bounced_recipients:increase1h[1d])",
          },
          {
            record: "ses:deliverability_ses_complained_recipients:increase24h",
            expr: "24 * avg_over_time(ses:deliverability_ses_complained_recipients:increase1h[1d])",
          },
          {
            record: "ses:deliverability_ses_sent_recipients:increase7d",
            expr: |||
              168 * avg_over_time(ses:deliverability_ses_sent_recipients:increase1h[7d])
              and ses:deliverability_ses_sent_recipients:increase1h offset 3d
            |||,
          },
          {
            record: "ses:deliverability_ses_hard_bounced_recipients:increase7d",
            expr: "168 * avg_over_time(ses:deliverability_ses_hard_bounced_recipients:increase1h[7d])",
          },
          {
            record: "ses:deliverability_ses_complained_recipients:increase7d",
            expr: "168 * avg_over_time(ses:deliverability_ses_complained_recipients:increase1h[7d])",
          },
          {
            record: "ses:deliverability_ses_bounce_ratio:rate24h",
            expr: "ses:deliverability_ses_hard_bounced_recipients:increase24h / (ses:deliverability_ses_sent_recipients:increase24h > 0)",
          },
          {
            record: "ses:deliverability_ses_complaint_ratio:rate24h",
            expr: "ses:deliverability_ses_complained_recipients:increase24h / (ses:deliverability_ses_sent_recipients:increase24h > 0)",
          },
          {
            record: "ses:deliverability_ses_bounce_ratio:rate7d",
            expr: "ses:deliverability_ses_hard_bounced_recipients:increase7d / (ses:deliverability_ses_sent_recipients:increase7d > 0)",
          },
          {
            record: "ses:deliverability_ses_complaint_ratio:rate7d",
            expr: "ses:deliverability_ses_complained_recipients:increase7d / (ses:deliverability_ses_sent_recipients:increase7d > 0)",
          },
          {
            record: "domain_category:deliverability_ses_authentication_bounced_recipients:increase30m",
            comment:: |||
              Bounces that the sender's DNS or authentication caused, per sending domain (as
              `domain`) and category over 30 minutes. A series that appears during the window (a new
              label combination) counts with its whole value: increase() cannot see its first bounces.
            |||,
            expr: |||
              sum without (instance, pod, recipient_domain, recipient_provider, bounce_type, bounce_subtype, status_class, sending_domain) (
                label_replace(
                  (
                    increase(deliverability_ses_bounced_recipients_total{category=~"sender_domain_dns|spf|dkim|dmarc|authentication"}[30m])
                    and deliverability_ses_bounced_recipients_total offset 30m
                  )
                  or
                  (
                    deliverability_ses_bounced_recipients_total{category=~"sender_domain_dns|spf|dkim|dmarc|authentication"}
                    unless deliverability_ses_bounced_recipients_total offset 30m
                  ),
                  "domain", "$1", "sending_domain", "(.*)"
                )
              )
            |||,
          },
          {
            record: "domain:deliverability_ses_rendering_failed_recipients:increase30m",
            expr: |||
              sum without (instance, pod, recipient_domain, recipient_provider, sending_domain) (
                label_replace(
                  (
                    increase(deliverability_ses_rendering_failed_recipients_total[30m])
                    and deliverability_ses_rendering_failed_recipients_total offset 30m
                  )
                  or
                  (
                    deliverability_ses_rendering_failed_recipients_total
                    unless deliverability_ses_rendering_failed_recipients_total offset 30m
                  ),
                  "domain", "$1", "sending_domain", "(.*)"
                )
              )
            |||,
          },
          {
            record: "domain:deliverability_domain_info:owner",
            comment:: |||
              The owner labels per-domain alerts copy (group_left (team)): one series per domain,
              even while a domain's labels change or two shards report it.
            |||,
            expr: 'topk by (domain) (1, max by (domain, %s) (deliverability_domain_info))' % utils.labelList($._config.ownerLabels),
          },
          {
            record: "domain_check:deliverability_check_status:last_known_fail",
            comment:: |||
              The last known verdict while a check is `unknown`. `unknown` is not silence: a
              failing check whose lookups start to SERVFAIL or time out is still failing as far as
              anyone knows, and receivers treat a SERVFAIL for the sender's domain as a failure too.
              Each rule reads its own previous value (the latest evaluation; the series is marked
              stale as soon as the check passes or warns): a `fail` holds while the check is
              `unknown` and ends at the first known other verdict. `keep_firing_for` would also hold
              the alert after a pass, and a subquery for the last non-unknown sample would read
              every check series over the whole lookback at every evaluation; these rules touch
              only the failing and unknown ones. A Prometheus outage longer than the 5-minute
              lookback forgets the hold: a check still unknown then warns as unverifiable instead.
            |||,
            expr: |||
              max without (instance, pod) (deliverability_check_status{status="fail"}) == 1
              or
              (
                domain_check:deliverability_check_status:last_known_fail
                and ignoring (status)
                max without (instance, pod, status) (deliverability_check_status{status="unknown"}) == 1
              )
            |||,
          },
          {
            record: "domain:deliverability_mail_from_resolvable:last_known",
            comment:: |||
              The gauge is absent while DNS cannot tell: its last value holds while the check is unknown.
            |||,
            expr: |||
              min without (instance, pod) (deliverability_mail_from_resolvable)
              or
              (
                domain:deliverability_mail_from_resolvable:last_known
                and on (job, domain)
                max without (instance, pod, check, status) (deliverability_check_status{check="mail_from_resolvable", status="unknown"}) == 1
              )
            |||,
          },
        ],
      },
    ],
  },
}
