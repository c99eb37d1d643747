"""Verdicts on SES's own view of an identity: verification, DKIM, MAIL FROM, feedback routing.

Pure: `IdentityState` (what the SES APIs said) in, `CheckResult` out. These join the DNS
checks of the same domain, so one table shows both what DNS publishes and what SES makes
of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.model import CheckResult, Status

__all__ = [
    "ENFORCEMENT_STATUSES",
    "SES_CHECK_IDS",
    "AccountState",
    "IdentityState",
    "check_dkim_status",
    "check_feedback_routing",
    "check_identity_verified",
    "check_mail_from_status",
    "dns_dkim_signing_zone",
    "dns_dkim_tokens",
    "evaluate_identity",
    "feedback_path",
]

SES_CHECK_IDS = (
    "ses_identity_verified",
    "ses_dkim_status",
    "ses_mail_from_status",
    "ses_feedback_routing",
)
ENFORCEMENT_STATUSES = ("HEALTHY", "PROBATION", "SHUTDOWN")
BYODKIM_ORIGIN = "EXTERNAL"  # SESv2 SigningAttributesOrigin of Bring Your Own DKIM
EASY_DKIM_TOKENS = 3  # Easy DKIM (and its deterministic replicas) publishes three CNAMEs


@dataclass(frozen=True, slots=True)
class AccountState:
    """GetAccount (SESv2) for one account and region."""

    sending_enabled: bool
    production_access_enabled: bool
    enforcement_status: str
    max_24_hour_send: float
    max_send_rate: float
    sent_last_24_hours: float


@dataclass(frozen=True, slots=True)
class IdentityState:
    """One domain identity as SES sees it (v1 attribute calls, batched)."""

    identity: str
    region: str
    verification_status: str | None = None  # Success, Pending, Failed, TemporaryFailure, NotStarted
    dkim_enabled: bool = False
    dkim_status: str | None = None
    dkim_tokens: tuple[str, ...] = ()
    mail_from_domain: str | None = None
    mail_from_status: str | None = None
    behavior_on_mx_failure: str | None = None  # UseDefaultValue or RejectMessage
    bounce_topic: str | None = None
    complaint_topic: str | None = None
    forwarding_enabled: bool = True
    # Feedback types (bounce, complaint) an enabled event destination of a configuration
    # set publishes to a machine-readable destination (SNS, EventBridge, Firehose, ...).
    event_destination_feedback: frozenset[str] = frozenset()
    # The AWS error code of a failed lookup that decides routing (configuration sets, their
    # event destinations, the identity's default set): feedback without a topic is unknown.
    routing_error: str | None = None
    # SESv2 GetEmailIdentity DkimAttributes, None until read: SigningAttributesOrigin
    # (AWS_SES Easy DKIM, EXTERNAL BYODKIM, AWS_SES_<REGION> deterministic Easy DKIM
    # replicated from that region) and SigningHostedZone. With an origin, ``dkim_tokens``
    # are SESv2's Tokens: the CNAME tokens, or the BYODKIM selector.
    dkim_origin: str | None = None
    dkim_signing_zone: str | None = None
    dkim_origin_error: str | None = None  # the AWS error code of a failed GetEmailIdentity


def dns_dkim_tokens(state: IdentityState) -> tuple[str, ...]:
    """The tokens whose Easy DKIM CNAMEs the DNS ``dkim`` check may expect.

    None for BYODKIM: its selector names a TXT key, not a CNAME, and checking it as a CNAME
    would be a false ``fail``. While the origin is not known (not read yet, or an AWS
    error), only the three tokens of Easy DKIM are handed on, as before origins were read;
    a lone token is most likely a BYODKIM selector (GetIdentityDkimAttributes, SES v1,
    cannot tell), so the DNS check is left out rather than risk a false ``fail``.
    """
    if not state.dkim_enabled or state.dkim_origin == BYODKIM_ORIGIN:
        return ()
    if state.dkim_origin is None and len(state.dkim_tokens) != EASY_DKIM_TOKENS:
        return ()
    return state.dkim_tokens


def dns_dkim_signing_zone(state: IdentityState) -> str | None:
    """SES's SigningHostedZone, when the DNS check expects CNAMEs into it."""
    if not dns_dkim_tokens(state) or state.dkim_origin is None:
        return None
    return (state.dkim_signing_zone or "").lower().removesuffix(".") or None


def check_identity_verified(state: IdentityState) -> CheckResult:
    status = state.verification_status
    if status == "Success":
        return CheckResult(
            "ses_identity_verified", Status.PASS, f"{state.identity} is verified in {state.region}"
        )
    if status == "Pending":
        return CheckResult(
            "ses_identity_verified",
            Status.WARN,
            f"{state.identity} verification is pending in {state.region}",
            "publish the DKIM CNAMEs (or the _amazonses TXT record) SES asked for; "
            "SES retries for 72 h",
        )
    return CheckResult(
        "ses_identity_verified",
        Status.FAIL,
        f"{state.identity} is not verified in {state.region} ({status or 'not started'}): "
        "SES refuses to send from it",
        "publish the records SES lists for the identity, then restart verification in the "
        "SES console",
    )


def check_dkim_status(state: IdentityState) -> CheckResult:
    if not state.dkim_enabled:
        return CheckResult(
            "ses_dkim_status",
            Status.FAIL,
            f"DKIM signing is disabled for {state.identity} in {state.region}: mail is unsigned "
            "and DMARC rests on SPF alignment alone",
            "enable Easy DKIM for the identity and publish its three CNAMEs",
        )
    status = (state.dkim_status or "").upper()
    publish = "publish the DKIM CNAMEs exactly as SES lists them (see the dkim check)"
    if state.dkim_origin == BYODKIM_ORIGIN:
        selectors = ", ".join(f"{t}._domainkey.{state.identity}" for t in state.dkim_tokens)
        publish = f"publish your public key as a TXT record at {selectors or 'your selector'}"
    if status == "SUCCESS":
        return CheckResult(
            "ses_dkim_status", Status.PASS, f"SES DKIM status SUCCESS for {state.identity}"
        )
    if status == "PENDING":
        return CheckResult(
            "ses_dkim_status",
            Status.WARN,
            f"SES has not yet found the DKIM records of {state.identity} (PENDING)",
            f"{publish}; SES looks for up to 72 h",
        )
    return CheckResult(
        "ses_dkim_status",
        Status.FAIL,
        f"SES DKIM status {status or 'unknown'} for {state.identity} in {state.region}",
        f"{publish}; FAILED stays failed until you re-enable DKIM",
    )


def check_mail_from_status(state: IdentityState) -> CheckResult:
    """A failed custom MAIL FROM is worse than it looks: with UseDefaultValue SES silently
    falls back to amazonses.com and SPF no longer aligns with the From domain."""
    status = (state.mail_from_status or "").lower()
    name = state.mail_from_domain
    if status == "success":
        return CheckResult("ses_mail_from_status", Status.PASS, f"SES MAIL FROM {name}: Success")
    remedy = (
        f"publish MX 10 feedback-smtp.{state.region}.amazonses.com. and TXT "
        f'"v=spf1 include:amazonses.com ~all" at {name}'
    )
    if state.behavior_on_mx_failure == "RejectMessage":
        consequence = "SES rejects every send from this identity"
    else:
        consequence = (
            "SES silently sends with MAIL FROM amazonses.com, so SPF does not align for DMARC"
        )
    if status == "pending":
        return CheckResult(
            "ses_mail_from_status",
            Status.WARN,
            f"SES MAIL FROM {name} is pending: until it succeeds {consequence}",
            remedy,
        )
    return CheckResult(
        "ses_mail_from_status",
        Status.FAIL,
        f"SES MAIL FROM {name} status {state.mail_from_status or 'unknown'}: {consequence}",
        remedy,
    )


def feedback_path(state: IdentityState, feedback_type: str) -> str:
    """Where one feedback type goes: identity_topic, event_destination, email_only, none,
    or unknown (an AWS error kept the configuration-set routing from being read)."""
    topic = state.bounce_topic if feedback_type == "bounce" else state.complaint_topic
    if topic:
        return "identity_topic"
    if state.routing_error is not None:
        return "unknown"
    if feedback_type in state.event_destination_feedback:
        return "event_destination"
    return "email_only" if state.forwarding_enabled else "none"


def check_feedback_routing(state: IdentityState) -> CheckResult:
    """Bounces that only reach a mailbox are invisible to monitoring (the first field report)."""
    paths = {kind: feedback_path(state, kind) for kind in ("bounce", "complaint")}
    described = ", ".join(f"{kind}: {path}" for kind, path in paths.items())
    if all(path in ("identity_topic", "event_destination") for path in paths.values()):
        return CheckResult(
            "ses_feedback_routing",
            Status.PASS,
            f"feedback of {state.identity} is routed ({described})",
        )
    if "unknown" in paths.values() and not {"email_only", "none"} & set(paths.values()):
        return CheckResult(
            "ses_feedback_routing",
            Status.UNKNOWN,
            f"feedback routing of {state.identity} is unknown ({described}): "
            f"SES answered {state.routing_error} when asked for its configuration set's "
            "event destinations",
            "grant ses:ListConfigurationSets, ses:GetConfigurationSetEventDestinations and "
            "ses:GetEmailIdentity (deploy/iam-policy.json); throttling clears by itself",
        )
    return CheckResult(
        "ses_feedback_routing",
        Status.FAIL,
        f"feedback of {state.identity} reaches no machine-readable destination ({described}): "
        "bounces and complaints stay invisible",
        "set SNS topics for Bounce and Complaint on the identity, or add an enabled event "
        "destination for BOUNCE and COMPLAINT to its configuration set, and subscribe the "
        "exporter's SQS queue",
    )


def evaluate_identity(state: IdentityState) -> tuple[CheckResult, ...]:
    checks = [check_identity_verified(state), check_dkim_status(state)]
    if state.mail_from_domain:
        checks.append(check_mail_from_status(state))
    checks.append(check_feedback_routing(state))
    return tuple(checks)
