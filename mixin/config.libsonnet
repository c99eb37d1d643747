{
  _config+:: {
    // The exporter's scrape targets: DeliverabilityExporterAbsent reads up{<selector>}, and
    // the dashboards add it to every deliverability_* series they query.
    selector: 'job="ses-deliverability-exporter"',

    // Where runbook_url annotations point, `#<alert name in lower case>` appended: the same
    // setting as the exporter's server.runbook_base_url (the landing page's runbook links).
    runbookBaseUrl: 'https://github.com/ses-deliverability-exporter/ses-deliverability-exporter/blob/main/docs/runbooks.md',

    // The labels of deliverability_domain_info that per-domain alerts copy (the exporter's
    // `labels` of [[domains]] and aws.identity_labels), to route alerts on their owners.
    ownerLabels: ['team'],

    // SES's hard bounce and complaint rates, computed from the exporter's events: warning and
    // critical ratios, and over each window the minimum recipients and bounces (complaints)
    // before a ratio counts, so that a small sender is judged over a day or a week.
    sesBounceRate: { warning: 0.02, critical: 0.04 },
    sesBounceMinVolume: {
      '1h': { recipients: 200, bounces: 5 },
      '24h': { recipients: 500, bounces: 10 },
      '7d': { recipients: 1000, bounces: 20 },
    },
    sesComplaintRate: { warning: 0.0005, critical: 0.0008 },
    sesComplaintMinVolume: {
      '1h': { recipients: 1000, complaints: 3 },
      '24h': { recipients: 5000, complaints: 5 },
      '7d': { recipients: 10000, complaints: 10 },
    },
    // The rates SES itself reports (CloudWatch Reputation.BounceRate and ComplaintRate).
    sesReputationBounceRate: { warning: 0.025, critical: 0.05 },
    sesReputationComplaintRate: { warning: 0.0005, critical: 0.001 },

    // A recipient domain's 5xx ratio over an hour, its minimum recipients in that hour, and
    // how many times yesterday's ratio it must be.
    recipientDomain5xx: { ratio: 0.1, minRecipients: 50, factorOverYesterday: 3 },

    // How long each alert's condition must hold before it fires.
    forDuration: {
      DeliverabilityMailFromUnresolvable: '10m',
      DeliverabilityDkimBroken: '10m',
      DeliverabilityDmarcMissingOrInvalid: '10m',
      DeliverabilityDmarcPolicyWeakened: '10m',
      DeliverabilitySpfPermerror: '10m',
      DeliverabilityCheckFailing: '15m',
      DeliverabilityCheckUnverifiable: '30m',
      DeliverabilityMailFromZoneBroken: '10m',
      SESAccountUnderReview: '5m',
      SESAccountSendingPaused: '5m',
      SESSendingDisabled: '10m',
      SESProductionAccessLost: '10m',
      SESBounceRateHigh: '15m',
      SESBounceRateCritical: '10m',
      SESComplaintRateHigh: '15m',
      SESComplaintRateCritical: '15m',
      SESReputationBounceRateHigh: '30m',
      SESReputationBounceRateCritical: '15m',
      SESReputationComplaintRateHigh: '30m',
      SESReputationComplaintRateCritical: '15m',
      SESEventsMissing: '30m',
      SESSuppressionListGrowingFast: '30m',
      SESFeedbackNotRouted: '1h',
      SESSmtpCredentialRejected: '5m',
      SESSmtpAccessKeyInactive: '10m',
      DeliverabilityRecipientDomain5xxSpike: '15m',
      DeliverabilityAuthenticationBounces: '10m',
      DeliverabilityEventConsumerStalled: '15m',
      DeliverabilityMalformedEvents: '10m',
      DeliverabilityEventsFromForeignTopic: '30m',
      DeliverabilityTemplateRenderingFailures: '5m',
      DeliverabilityQueueWithoutRedrivePolicy: '1h',
      DeliverabilityCollectorDown: '15m',
      DeliverabilityCollectorStale: '5m',
      DeliverabilityFailingChecksWithheld: '15m',
      DeliverabilityConfigReloadFailed: '10m',
      DeliverabilityExporterAbsent: '15m',
    },
  },
}
