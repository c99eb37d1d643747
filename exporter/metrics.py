"""The catalogue: every metric this exporter exposes, with its help text and labels.

Nothing else in the code base makes up a metric name. The collector builds fresh metric
families from these specs on every scrape; a test walks the catalogue and checks the
Prometheus naming rules, and docs/metrics.md is generated from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.samples import Sample

__all__ = ["CATALOGUE", "MetricSpec", "PrerenderedFamily"]

Kind = Literal["gauge", "counter", "info", "histogram"]
_CACHED = "Refreshed by a background job every deliverability_collector_interval_seconds."


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric: its exposed name, type, HELP text and label names."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...]

    def gauge(self) -> GaugeMetricFamily:
        """A new, empty gauge family for one scrape."""
        self._expect("gauge")
        return GaugeMetricFamily(self.name, self.help, labels=self.labels)

    def counter(self) -> CounterMetricFamily:
        self._expect("counter")
        return CounterMetricFamily(self.name.removesuffix("_total"), self.help, labels=self.labels)

    def info(self, extra_labels: tuple[str, ...] = ()) -> InfoMetricFamily:
        """An info family; ``extra_labels`` (e.g. configured owner labels) follow the fixed ones."""
        self._expect("info")
        labels = [*self.labels, *extra_labels]
        return InfoMetricFamily(self.name.removesuffix("_info"), self.help, labels=labels)

    def histogram(self) -> HistogramMetricFamily:
        self._expect("histogram")
        return HistogramMetricFamily(self.name, self.help, labels=self.labels)

    def prerendered(self, body: bytes, samples: Callable[[], list[Sample]]) -> PrerenderedFamily:
        """A gauge or info family whose sample lines are already rendered (see the class)."""
        if self.kind == "gauge":
            return PrerenderedFamily(self.name, self.help, "gauge", body, samples)
        self._expect("info")
        return PrerenderedFamily(self.name.removesuffix("_info"), self.help, "info", body, samples)

    def _expect(self, kind: Kind) -> None:
        if self.kind != kind:
            raise TypeError(f"{self.name} is a {self.kind}, not a {kind}")


class PrerenderedFamily(Metric):
    """A large family whose exposition lines were rendered once per snapshot.

    ``body`` is the family's sample lines, sorted label names and Go float formatting as
    prometheus_client writes them; for gauges and info metrics these lines are the same in the
    Prometheus text format and in OpenMetrics, so /metrics (exporter.web) writes ``body`` after
    the HELP/TYPE lines the client library renders, instead of formatting 10^5-10^6 samples on
    every scrape. ``samples`` builds the same samples on demand, so anything else that reads a
    family (``generate_latest``, a restricted registry, tests) sees an ordinary metric.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        typ: str,
        body: bytes,
        samples: Callable[[], list[Sample]],
    ) -> None:
        self._build_samples = samples
        super().__init__(name, documentation, typ)
        self.body = body

    @property
    def samples(self) -> list[Sample]:
        return self._build_samples()

    @samples.setter
    def samples(self, _value: list[Sample]) -> None:
        """Metric.__init__ assigns an empty list; the samples come from ``body``'s source."""

    def header(self) -> Metric:
        """An empty family with this one's name, help and type: what its HELP/TYPE lines need."""
        return Metric(self.name, self.documentation, self.type)


CHECK_STATUS = MetricSpec(
    "deliverability_check_status",
    "gauge",
    "Verdict of a mail-DNS check on a sending domain: 1 for the current status "
    "(pass, warn, fail, unknown), 0 for the others. With metrics.series_budget set, only "
    "watch-list domains and domains with a check not passing have these series, up to the "
    f"budget (see deliverability_check_status_withheld_series). {_CACHED}",
    ("domain", "check", "status"),
)
DOMAINS = MetricSpec(
    "deliverability_domains",
    "gauge",
    "Monitored sending domains whose check currently has this status, counted over every "
    f"domain whether or not its per-domain series fit metrics.series_budget. {_CACHED}",
    ("check", "status"),
)
CHECK_STATUS_WITHHELD = MetricSpec(
    "deliverability_check_status_withheld_series",
    "gauge",
    "deliverability_check_status series left out by metrics.series_budget, by the worst "
    "check status of the domain they belong to (pass: healthy domains, left out by design; "
    "fail, unknown, warn: the budget is too small for every domain that is not passing). "
    f"0 when there is no budget. {_CACHED}",
    ("worst_status",),
)
CHECK_UNKNOWN_REASON = MetricSpec(
    "deliverability_check_unknown_reason",
    "gauge",
    "Why a check's status is unknown, one series (value 1) per unknown check: timeout, "
    "servfail, refused (the DNS answer to one of its questions), network, or other (an AWS "
    "error, an answer not fetched yet). Exported for the same domains as "
    f"deliverability_check_status. {_CACHED}",
    ("domain", "check", "reason"),
)
MAIL_FROM_RESOLVABLE = MetricSpec(
    "deliverability_mail_from_resolvable",
    "gauge",
    "1 if the custom MAIL FROM domain has an A or AAAA record, 0 if it has neither "
    f"(strict gateways reject with 553 5.1.8); absent while DNS cannot tell. {_CACHED}",
    ("domain", "mail_from_domain"),
)
DMARC_POLICY_LEVEL = MetricSpec(
    "deliverability_dmarc_policy_level",
    "gauge",
    "Effective DMARC policy of the domain: -1 no valid record, 0 none, 1 quarantine, "
    f"2 reject; absent while DNS cannot tell. {_CACHED}",
    ("domain",),
)
SPF_DNS_LOOKUPS = MetricSpec(
    "deliverability_spf_dns_lookups",
    "gauge",
    "DNS-querying terms in the domain's SPF include/redirect tree (RFC 7208 limit: 10); "
    f"absent when there is no SPF record or DNS cannot tell. {_CACHED}",
    ("domain",),
)
DOMAIN_INFO = MetricSpec(
    "deliverability_domain_info",
    "info",
    "A monitored sending domain (configured, or discovered in SES), with its MAIL FROM "
    "domain, region and owner labels (domains[].labels, aws.identity_labels), for routing "
    "alerts to the team that owns it.",
    ("domain", "mail_from_domain", "aws_region"),
)
COLLECTOR_UP = MetricSpec(
    "deliverability_collector_up",
    "gauge",
    "1 if the collector's last run succeeded, 0 if it failed (for dns: the resolver did "
    "not answer at all). Other collectors keep serving their last results.",
    ("collector",),
)
COLLECTOR_LAST_SUCCESS = MetricSpec(
    "deliverability_collector_last_success_timestamp_seconds",
    "gauge",
    "Unix time at which the collector's last successful run finished.",
    ("collector",),
)
COLLECTOR_DURATION = MetricSpec(
    "deliverability_collector_duration_seconds",
    "gauge",
    "How long the collector's last run took.",
    ("collector",),
)
COLLECTOR_INTERVAL = MetricSpec(
    "deliverability_collector_interval_seconds",
    "gauge",
    "Configured interval between the collector's runs, so staleness alerts need not hard-code it.",
    ("collector",),
)
COLLECTOR_FAILURES = MetricSpec(
    "deliverability_collector_failures_total",
    "counter",
    "Collector runs that failed since the exporter started.",
    ("collector",),
)
DNS_QUERIES = MetricSpec(
    "deliverability_dns_queries_total",
    "counter",
    "DNS questions sent to the resolver, by record type and outcome (the response code, "
    "or timeout, network, malformed_response). Each distinct question is asked once per cycle.",
    ("record_type", "outcome"),
)
CONFIG_RELOAD_SUCCESS = MetricSpec(
    "deliverability_config_last_reload_successful",
    "gauge",
    "1 if the last configuration load or reload succeeded, 0 if the new file was invalid "
    "and the previous configuration is still in use.",
    (),
)
CONFIG_RELOAD_TIMESTAMP = MetricSpec(
    "deliverability_config_last_reload_success_timestamp_seconds",
    "gauge",
    "Unix time of the last successful configuration load.",
    (),
)
HTTP_CONNECTIONS_CLOSED = MetricSpec(
    "deliverability_http_connections_closed_total",
    "counter",
    "Client connections the HTTP server closed without an answer: timeout (no TLS handshake "
    "and complete request head, or the answer not read, within the header timeout), evicted "
    "(the oldest connection still sending its request, closed to admit a new one at the "
    "connection cap), refused (the cap was reached by connections being answered).",
    ("reason",),
)
BUILD_INFO = MetricSpec(
    "deliverability_build_info",
    "info",
    "Version and source revision of the exporter, the Python that runs it, the bounce "
    "classifier's version (whose changes can move bounces between categories), and whether "
    "the check cycle's hot path is the mypyc-compiled build (true) or pure Python (false).",
    ("version", "revision", "python_version", "classifier_version", "compiled"),
)

_EVENTS = "Counted from SES events consumed from SQS (or replayed), each event once."
_RCPT = ("recipient_domain", "recipient_provider")
SES_EVENTS = MetricSpec(
    "deliverability_ses_events_total",
    "counter",
    f"SES events by type (send, delivery, bounce, complaint, reject, open, click, "
    f"rendering_failure, delivery_delay, subscription). {_EVENTS}",
    ("event_type", "sending_domain", "configuration_set"),
)
SES_SENT = MetricSpec(
    "deliverability_ses_sent_recipients_total",
    "counter",
    "Recipients of Send events (event publishing only): the denominator of bounce ratios. "
    + _EVENTS,
    (*_RCPT, "sending_domain"),
)
SES_DELIVERED = MetricSpec(
    "deliverability_ses_delivered_recipients_total",
    "counter",
    f"Recipients whose gateway accepted the message (250). {_EVENTS}",
    (*_RCPT, "sending_domain"),
)
SES_BOUNCED = MetricSpec(
    "deliverability_ses_bounced_recipients_total",
    "counter",
    "Bounced recipients, with the SMTP status class (4xx/5xx/unknown) and the root-cause "
    f"category from the bounce classifier. {_EVENTS}",
    (*_RCPT, "bounce_type", "bounce_subtype", "status_class", "category", "sending_domain"),
)
SES_COMPLAINED = MetricSpec(
    "deliverability_ses_complained_recipients_total",
    "counter",
    f"Recipients who complained, by feedback type (none without a feedback report). {_EVENTS}",
    (*_RCPT, "feedback_type", "sending_domain"),
)
SES_DELAYED = MetricSpec(
    "deliverability_ses_delayed_recipients_total",
    "counter",
    f"Recipients of DeliveryDelay events, by SES delay type. {_EVENTS}",
    (*_RCPT, "delay_type"),
)
SES_REJECTED = MetricSpec(
    "deliverability_ses_rejected_recipients_total",
    "counter",
    "Recipients of Reject events: SES refused the message before sending it (a virus; the "
    f"reason text is not a label). {_EVENTS}",
    (*_RCPT, "sending_domain"),
)
SES_RENDERING_FAILED = MetricSpec(
    "deliverability_ses_rendering_failed_recipients_total",
    "counter",
    "Recipients of Rendering Failure events: a template could not be rendered with the data "
    f"given, nothing was sent (the template name and error are not labels). {_EVENTS}",
    (*_RCPT, "sending_domain"),
)
SES_MALFORMED = MetricSpec(
    "deliverability_ses_events_malformed_total",
    "counter",
    "Queue messages that are not a recognisable SES event, by reason; each is counted once "
    "and left in the queue for its redrive policy (dead-letter queue).",
    ("reason",),
)
SES_IGNORED = MetricSpec(
    "deliverability_ses_events_ignored_total",
    "counter",
    "Valid messages that are not email events (subscription confirmations, SES setup "
    "notifications, inbound mail, non-email EventBridge events), by reason; deleted.",
    ("reason",),
)
SES_REFUSED = MetricSpec(
    "deliverability_ses_events_refused_total",
    "counter",
    "Queue messages refused as possibly forged, by reason (topic_not_allowed: an SNS envelope "
    "from a topic outside events.allowed_topic_arns); never counted as events, each counted "
    "once and left in the queue for its redrive policy (dead-letter queue).",
    ("reason",),
)
SES_DUPLICATES = MetricSpec(
    "deliverability_ses_events_duplicate_total",
    "counter",
    "Events seen again within the dedupe window (SQS redelivery) and not counted again.",
    (),
)
SES_PROCESSING = MetricSpec(
    "deliverability_ses_delivery_processing_seconds",
    "histogram",
    "Time SES took from accepting a message to the receiving gateway's answer "
    "(Delivery processingTimeMillis).",
    (),
)
SES_LAG = MetricSpec(
    "deliverability_ses_event_lag_seconds",
    "histogram",
    "Time from an SES event to its consumption by this exporter.",
    (),
)
SES_LAST_EVENT = MetricSpec(
    "deliverability_ses_last_event_timestamp_seconds",
    "gauge",
    "Unix time of the newest SES event counted.",
    (),
)
SES_TRACKED_DOMAINS = MetricSpec(
    "deliverability_ses_recipient_domains_tracked",
    "gauge",
    "Recipient domains that currently have a label value of their own (top-K, besides the "
    'watch-list); all others are counted as recipient_domain="other".',
    (),
)
SQS_RECEIVED = MetricSpec(
    "deliverability_sqs_messages_received_total",
    "counter",
    "Messages received from the exporter's SQS queue.",
    ("queue",),
)
SQS_DELETED = MetricSpec(
    "deliverability_sqs_messages_deleted_total",
    "counter",
    "Messages deleted from the queue after they were counted or ignored.",
    ("queue",),
)
SQS_DELETE_FAILURES = MetricSpec(
    "deliverability_sqs_delete_failures_total",
    "counter",
    "Messages counted but not deleted (they reappear and the dedupe window absorbs them).",
    ("queue",),
)
SQS_RECEIVE_ERRORS = MetricSpec(
    "deliverability_sqs_receive_errors_total",
    "counter",
    "Failed ReceiveMessage calls (throttling, access denied, network).",
    ("queue",),
)
SQS_REDRIVE = MetricSpec(
    "deliverability_sqs_queue_redrive_policy",
    "gauge",
    "1 if the queue has a redrive policy (a dead-letter queue), 0 if malformed messages "
    "would loop forever. Refreshed every minute.",
    ("queue",),
)
SQS_VISIBLE = MetricSpec(
    "deliverability_sqs_queue_visible_messages",
    "gauge",
    "Approximate messages waiting in the queue (backlog). Refreshed every minute.",
    ("queue",),
)
SQS_IN_FLIGHT = MetricSpec(
    "deliverability_sqs_queue_in_flight_messages",
    "gauge",
    "Approximate messages received by a consumer and neither deleted nor visible again yet "
    "(ApproximateNumberOfMessagesNotVisible). Refreshed every minute.",
    ("queue",),
)

_SES = "Polled from the SES API every aws.interval_seconds; the last good value is kept."
_ACCT = ("aws_account_id", "aws_region")
SES_SENDING_ENABLED = MetricSpec(
    "deliverability_ses_sending_enabled",
    "gauge",
    f"1 if the SES account can send in this region (GetAccount SendingEnabled). {_SES}",
    _ACCT,
)
SES_PRODUCTION_ACCESS = MetricSpec(
    "deliverability_ses_production_access_enabled",
    "gauge",
    f"1 if the account has production access, 0 in the sandbox. {_SES}",
    _ACCT,
)
SES_ENFORCEMENT = MetricSpec(
    "deliverability_ses_enforcement_status",
    "gauge",
    "SES's review state of the account: 1 for the current status (HEALTHY, PROBATION, "
    f"SHUTDOWN), 0 for the others. {_SES}",
    (*_ACCT, "status"),
)
SES_QUOTA_MAX_24H = MetricSpec(
    "deliverability_ses_send_quota_max_24h",
    "gauge",
    f"Messages the account may send in 24 hours. {_SES}",
    _ACCT,
)
SES_QUOTA_MAX_RATE = MetricSpec(
    "deliverability_ses_send_quota_max_send_rate",
    "gauge",
    f"Messages per second the account may send. {_SES}",
    _ACCT,
)
SES_QUOTA_SENT_24H = MetricSpec(
    "deliverability_ses_send_quota_sent_last_24h",
    "gauge",
    f"Messages sent in the last 24 hours, as SES counts them. {_SES}",
    _ACCT,
)
SES_IDENTITIES = MetricSpec(
    "deliverability_ses_domain_identities",
    "gauge",
    "Domain identities discovered in the region (after aws.identity_patterns), "
    "rediscovered every aws.discovery_interval_seconds.",
    _ACCT,
)
SES_FEEDBACK_ROUTED = MetricSpec(
    "deliverability_ses_feedback_routed",
    "gauge",
    "1 if the identity's Bounce or Complaint feedback reaches a machine-readable destination "
    "(path identity_topic or event_destination), 0 if only email (email_only) or nothing "
    "(none); absent while an AWS error on the routing lookups keeps it unknown "
    f"(ses_feedback_routing is then unknown). {_SES}",
    (*_ACCT, "identity", "feedback_type", "path"),
)
SES_IDENTITY_DKIM = MetricSpec(
    "deliverability_ses_identity_dkim_info",
    "info",
    "How a discovered domain identity signs, from SESv2 GetEmailIdentity: dkim_origin is "
    "SigningAttributesOrigin (AWS_SES Easy DKIM, EXTERNAL BYODKIM, AWS_SES_<REGION> "
    "deterministic Easy DKIM replicated from that region) or unknown (DKIM off, not read "
    "yet, or an AWS error), with the SigningHostedZone and the BYODKIM selector. "
    "BYODKIM identities get no DNS dkim check (their key is a TXT at the selector).",
    (*_ACCT, "identity", "dkim_origin", "signing_hosted_zone", "dkim_selector"),
)
SES_REPUTATION_BOUNCE = MetricSpec(
    "deliverability_ses_reputation_bounce_ratio",
    "gauge",
    "SES's own account bounce rate (CloudWatch Reputation.BounceRate, 0-1; review at about "
    "0.05, pause at about 0.10). Only with aws.reputation_metrics.",
    _ACCT,
)
SES_REPUTATION_COMPLAINT = MetricSpec(
    "deliverability_ses_reputation_complaint_ratio",
    "gauge",
    "SES's own account complaint rate (CloudWatch Reputation.ComplaintRate, 0-1; review at "
    "about 0.001, pause at about 0.005). Only with aws.reputation_metrics.",
    _ACCT,
)
SES_RECOMMENDATIONS = MetricSpec(
    "deliverability_ses_recommendations_open",
    "gauge",
    f"Open Deliverability Manager recommendations by type and impact. {_SES}",
    (*_ACCT, "recommendation_type", "impact"),
)
SES_OPTIONAL_PART_ENABLED = MetricSpec(
    "deliverability_ses_optional_part_enabled",
    "gauge",
    "1 while an enabled optional SES part (suppression, reputation, recommendations) is "
    "polled, 0 while AWS denies it (AccessDenied, or the feature is not enabled): tried "
    "again every aws.discovery_interval_seconds.",
    (*_ACCT, "part"),
)
SES_SUPPRESSED = MetricSpec(
    "deliverability_ses_suppressed_destinations",
    "gauge",
    "Addresses on the account-level suppression list, by reason (BOUNCE, COMPLAINT); "
    "incremental between full recounts (aws.suppression_full_recount_seconds).",
    (*_ACCT, "reason"),
)
SES_SUPPRESSED_RECENT = MetricSpec(
    "deliverability_ses_suppressed_destinations_recent",
    "gauge",
    "Suppression list entries added or updated in the last 24 hours.",
    _ACCT,
)
SES_SUPPRESSED_RECOUNT = MetricSpec(
    "deliverability_ses_suppressed_destinations_last_recount_timestamp_seconds",
    "gauge",
    "Unix time at which the last full recount of the suppression list started: the counts "
    "are exact as of then; removals from the list are seen only by a full recount.",
    _ACCT,
)
SES_SUPPRESSED_DOMAINS = MetricSpec(
    "deliverability_ses_suppressed_destinations_by_domain",
    "gauge",
    "Suppression list entries of the recipient domains with the most entries (top 20).",
    (*_ACCT, "recipient_domain"),
)

SES_API_ERRORS = MetricSpec(
    "deliverability_ses_api_errors_total",
    "counter",
    "Failed SES collection parts by AWS error code (ThrottlingException, AccessDenied, "
    "EndpointConnectionError, ...); the part keeps its last good values meanwhile.",
    (*_ACCT, "part", "error"),
)
_CRED = ("credential", "iam_user", "access_key_id")
IAM_KEY_ACTIVE = MetricSpec(
    "deliverability_iam_access_key_active",
    "gauge",
    "1 if the IAM access key behind an SES SMTP credential is active, 0 if inactive (its "
    "derived SMTP password no longer authenticates).",
    _CRED,
)
IAM_KEY_CREATED = MetricSpec(
    "deliverability_iam_access_key_created_timestamp_seconds",
    "gauge",
    "Unix time the access key was created; a newer key than the one a relay uses means the "
    "relay's SMTP password is stale.",
    _CRED,
)
IAM_KEY_LAST_USED = MetricSpec(
    "deliverability_iam_access_key_last_used_timestamp_seconds",
    "gauge",
    "Unix time the access key was last used (absent if never).",
    _CRED,
)
SMTP_PROBE_SUCCESS = MetricSpec(
    "deliverability_smtp_auth_probe_success",
    "gauge",
    "1 if the SMTP credential authenticated (STARTTLS, AUTH, QUIT; no mail is sent), 0 if "
    "the server rejected it; absent while the endpoint could not be reached.",
    ("credential",),
)
SMTP_PROBE_CODE = MetricSpec(
    "deliverability_smtp_auth_probe_reply_code",
    "gauge",
    "The SMTP reply code to AUTH in the last probe (235 accepted, 535 rejected, ...).",
    ("credential",),
)

CATALOGUE: tuple[MetricSpec, ...] = (
    CHECK_STATUS,
    DOMAINS,
    CHECK_STATUS_WITHHELD,
    CHECK_UNKNOWN_REASON,
    MAIL_FROM_RESOLVABLE,
    DMARC_POLICY_LEVEL,
    SPF_DNS_LOOKUPS,
    DOMAIN_INFO,
    COLLECTOR_UP,
    COLLECTOR_LAST_SUCCESS,
    COLLECTOR_DURATION,
    COLLECTOR_INTERVAL,
    COLLECTOR_FAILURES,
    DNS_QUERIES,
    CONFIG_RELOAD_SUCCESS,
    CONFIG_RELOAD_TIMESTAMP,
    HTTP_CONNECTIONS_CLOSED,
    BUILD_INFO,
    SES_EVENTS,
    SES_SENT,
    SES_DELIVERED,
    SES_BOUNCED,
    SES_COMPLAINED,
    SES_DELAYED,
    SES_REJECTED,
    SES_RENDERING_FAILED,
    SES_MALFORMED,
    SES_IGNORED,
    SES_REFUSED,
    SES_DUPLICATES,
    SES_PROCESSING,
    SES_LAG,
    SES_LAST_EVENT,
    SES_TRACKED_DOMAINS,
    SQS_RECEIVED,
    SQS_DELETED,
    SQS_DELETE_FAILURES,
    SQS_RECEIVE_ERRORS,
    SQS_REDRIVE,
    SQS_VISIBLE,
    SQS_IN_FLIGHT,
    SES_SENDING_ENABLED,
    SES_PRODUCTION_ACCESS,
    SES_ENFORCEMENT,
    SES_QUOTA_MAX_24H,
    SES_QUOTA_MAX_RATE,
    SES_QUOTA_SENT_24H,
    SES_IDENTITIES,
    SES_FEEDBACK_ROUTED,
    SES_IDENTITY_DKIM,
    SES_REPUTATION_BOUNCE,
    SES_REPUTATION_COMPLAINT,
    SES_RECOMMENDATIONS,
    SES_OPTIONAL_PART_ENABLED,
    SES_SUPPRESSED,
    SES_SUPPRESSED_RECENT,
    SES_SUPPRESSED_RECOUNT,
    SES_SUPPRESSED_DOMAINS,
    SES_API_ERRORS,
    IAM_KEY_ACTIVE,
    IAM_KEY_CREATED,
    IAM_KEY_LAST_USED,
    SMTP_PROBE_SUCCESS,
    SMTP_PROBE_CODE,
)
