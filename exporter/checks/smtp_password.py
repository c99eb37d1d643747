"""The SES SMTP password of an IAM secret access key, and the SMTP endpoint of a region.

SES derives the SMTP password from the IAM secret access key with a fixed Signature
Version 4 chain (SES Developer Guide, "Obtaining Amazon SES SMTP credentials", converting
an existing secret access key):

    k = HMAC-SHA256("AWS4" + secret, "11111111")   # the fixed "date"
    k = HMAC-SHA256(k, region)
    k = HMAC-SHA256(k, "ses")                       # the service
    k = HMAC-SHA256(k, "aws4_request")              # the terminal
    k = HMAC-SHA256(k, "SendRawEmail")              # the message
    password = base64(0x04 || k)                    # 0x04: the v4 version byte

So the password depends on the region, and a rotated or replaced secret access key makes
every password derived from the old one fail with ``535 Authentication Credentials
Invalid`` (the Gmail "Send mail as" relay of the second field report). The formula in that
report (one HMAC over "112358132134") is wrong.

Pure: no I/O. The secret and the password are never logged nor put in an error message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

__all__ = ["SMTP_SUBMISSION_PORT", "derive_smtp_password", "smtp_endpoint"]

SMTP_SUBMISSION_PORT = 587  # STARTTLS; SES also listens on 25 and 2587, and on 465/2465 (TLS)

_DATE = "11111111"
_SERVICE = "ses"
_TERMINAL = "aws4_request"
_MESSAGE = "SendRawEmail"
_VERSION = 0x04

# An AWS region name: "us-east-1", "eu-central-2", "us-gov-west-1", "il-central-1",
# "us-isob-east-1". \Z, not $: "us-east-1\n" is not a region.
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}\Z", re.ASCII)


def _check_region(region: str) -> str:
    if not _REGION.match(region):
        raise ValueError(f"not an AWS region name: {region!r} (expected e.g. 'us-east-1')")
    return region


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def derive_smtp_password(secret_access_key: str, region: str) -> str:
    """The SES SMTP password (v4) for an IAM secret access key, valid in ``region`` only.

    Raises ValueError for a malformed region or an empty secret (the message never
    contains the secret).
    """
    _check_region(region)
    if not secret_access_key:
        raise ValueError("the secret access key is empty")
    signature = _sign(("AWS4" + secret_access_key).encode("utf-8"), _DATE)
    for part in (region, _SERVICE, _TERMINAL, _MESSAGE):
        signature = _sign(signature, part)
    return base64.b64encode(bytes([_VERSION]) + signature).decode("ascii")


def smtp_endpoint(region: str) -> tuple[str, int]:
    """The SES SMTP endpoint of ``region`` and its STARTTLS submission port.

    Raises ValueError for a malformed region. Whether SES offers SMTP in that region is
    not checked here: an endpoint that does not resolve makes the probe ``unknown``.
    """
    return f"email-smtp.{_check_region(region)}.amazonaws.com", SMTP_SUBMISSION_PORT
