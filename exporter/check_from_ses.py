"""`check --from-ses`: the DNS inputs of one domain identity, read from SES instead of typed.

Hand-typed DKIM tokens go stale (SES rotates nothing, but people paste the wrong account's),
and a forgotten ``--dkim-token`` used to leave the ``dkim`` check out without a word. One
SESv2 GetEmailIdentity gives the tokens, the zone SES signs from and the MAIL FROM domain.
Which tokens the DNS check may expect is decided exactly as for discovered identities
(`dns_dkim_tokens`): BYODKIM has no Easy DKIM CNAMEs, so its ``dkim`` check is left out and
the output says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from exporter.aws import CLIENT_CONFIG, aws_error_code
from exporter.checks.ses import (
    BYODKIM_ORIGIN,
    IdentityState,
    dns_dkim_signing_zone,
    dns_dkim_tokens,
)

__all__ = [
    "SesIdentityInputs",
    "SesReadError",
    "inputs_from_response",
    "read_identity",
    "ses_region",
]

_OPERATION = "GetEmailIdentity"
# A plugin run is bounded by its scheduler's timeout: a few quick attempts, not adaptive
# pacing that waits out a throttled account.
_PLUGIN_CONFIG = CLIENT_CONFIG.merge(
    BotoConfig(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 2})
)
_MESSAGE_CHARS = 200


class SesReadError(Exception):
    """GetEmailIdentity failed: one line with the AWS error code and message."""


@dataclass(frozen=True, slots=True)
class SesIdentityInputs:
    """What SES says the DNS of one identity must carry, and why ``dkim`` is not checked."""

    identity: str
    region: str
    mail_from: str | None
    dkim_tokens: tuple[str, ...]
    dkim_signing_zone: str | None
    dkim_not_checked: str | None  # the reason, when ``dkim_tokens`` is empty


def ses_region(region: str | None) -> str:
    """``--region``, else the default region of the standard chain (env, profile)."""
    found = region or boto3.Session().region_name
    if not found:
        raise ValueError("--from-ses needs a region: give --region or set AWS_DEFAULT_REGION")
    return str(found)


def read_identity(identity: str, region: str) -> SesIdentityInputs:
    """One GetEmailIdentity; `SesReadError` on any AWS failure (credentials, access,
    throttling, not found, network)."""
    client = boto3.Session().client("sesv2", region_name=region, config=_PLUGIN_CONFIG)
    try:
        response: dict[str, Any] = client.get_email_identity(EmailIdentity=identity)
    except (ClientError, BotoCoreError) as exc:
        raise SesReadError(f"{_OPERATION} {identity} in {region}: {_describe(exc)}") from exc
    return inputs_from_response(identity, region, response)


def inputs_from_response(identity: str, region: str, response: dict[str, Any]) -> SesIdentityInputs:
    """The GetEmailIdentity response (API_GetEmailIdentity.html) as check inputs."""
    dkim = response.get("DkimAttributes") or {}
    origin = str(dkim.get("SigningAttributesOrigin") or "") or None
    tokens = tuple(str(t).lower() for t in dkim.get("Tokens") or ())
    zone = str(dkim.get("SigningHostedZone") or "").lower().removesuffix(".") or None
    state = IdentityState(
        identity=identity,
        region=region,
        dkim_enabled=bool(dkim.get("SigningEnabled", False)),
        dkim_status=dkim.get("Status"),
        dkim_tokens=tokens,
        dkim_origin=origin,
        dkim_signing_zone=None if origin == BYODKIM_ORIGIN else zone,
    )
    mail_from = (response.get("MailFromAttributes") or {}).get("MailFromDomain")
    checked = dns_dkim_tokens(state)
    return SesIdentityInputs(
        identity=identity,
        region=region,
        mail_from=str(mail_from).lower().removesuffix(".") if mail_from else None,
        dkim_tokens=checked,
        dkim_signing_zone=dns_dkim_signing_zone(state),
        dkim_not_checked=None if checked else _why_not(state),
    )


def _why_not(state: IdentityState) -> str:
    if not state.dkim_enabled:
        return "DKIM signing is disabled for the identity in SES"
    if state.dkim_origin == BYODKIM_ORIGIN:
        selectors = ", ".join(state.dkim_tokens) or "none listed"
        return (
            f"BYODKIM (origin EXTERNAL, selector {selectors}): no Easy DKIM CNAMEs to check; "
            "your key is a TXT record you publish"
        )
    if not state.dkim_tokens:
        return "SES lists no DKIM tokens for the identity"
    return (
        f"SES lists {len(state.dkim_tokens)} DKIM token(s) and no signing origin: "
        "likely a BYODKIM selector, not Easy DKIM CNAMEs"
    )


def _describe(exc: Exception) -> str:
    code = aws_error_code(exc)
    if isinstance(exc, ClientError):
        message = str(exc.response.get("Error", {}).get("Message") or "")
    else:
        message = str(exc)
    text = f"{code}: {message}" if message and message != code else code
    return " ".join(text.split())[:_MESSAGE_CHARS]
