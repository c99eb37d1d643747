"""One check of one SES SMTP credential: its IAM keys and, optionally, an AUTH probe.

The probe connects, upgrades with STARTTLS, authenticates and quits: it never sends mail.
The username and password come from the environment variables the config names, and
labels name the credential by its configured name only.
"""

from __future__ import annotations

import os
import ssl
import time
from dataclasses import dataclass
from typing import Any

import boto3
import structlog

from exporter.aws import CLIENT_CONFIG
from exporter.config import SmtpCredentialConfig
from exporter.sources.iam_keys import AccessKeyState, access_keys
from exporter.sources.ses import SesApiError
from exporter.sources.smtp_probe import SmtpProbeResult, probe_smtp_auth

__all__ = ["SmtpCredentialResult", "check_smtp_credential", "iam_client"]

log = structlog.get_logger("exporter.smtp")


@dataclass(frozen=True, slots=True)
class SmtpCredentialResult:
    name: str
    iam_user: str | None
    keys: tuple[AccessKeyState, ...] | None = None  # None: not configured or IAM failed
    probe: SmtpProbeResult | None = None  # None: no probe configured
    checked_at: float = 0.0
    error: str = ""

    @property
    def key(self) -> str:
        return f"smtp:{self.name}"


def check_smtp_credential(
    credential: SmtpCredentialConfig, iam: Any | None, *, tls_context: ssl.SSLContext | None = None
) -> SmtpCredentialResult:
    """IAM key state (if ``iam_user``) and an AUTH probe (if the secrets are in the env)."""
    keys, error = None, ""
    if credential.iam_user and iam is not None:
        try:
            keys = access_keys(iam, credential.iam_user)
        except SesApiError as exc:
            error = f"iam: {exc.code}"
    probe = None
    if credential.username_env and credential.password_env:
        username = os.environ.get(credential.username_env)
        password = os.environ.get(credential.password_env)
        if username is None or password is None:
            names = f"{credential.username_env}/{credential.password_env}"
            error = error or f"environment variables {names} not set"
        else:
            host, port = credential.endpoint
            if tls_context is None and credential.ca_file is not None:
                tls_context = ssl.create_default_context(cafile=str(credential.ca_file))
            # 465 and 2465 are SES's implicit-TLS ports; the others upgrade with STARTTLS.
            starttls = port not in (465, 2465)
            probe = probe_smtp_auth(
                host,
                port,
                username,
                password,
                timeout=10.0,
                starttls=starttls,
                tls_context=tls_context,
            )
            if probe.status == "auth_failed":
                log.warning(
                    "smtp credential rejected",
                    credential=credential.name,
                    smtp_code=probe.smtp_code,
                )
    return SmtpCredentialResult(
        name=credential.name,
        iam_user=credential.iam_user,
        keys=keys,
        probe=probe,
        checked_at=time.time(),
        error=error,
    )


def iam_client() -> Any:
    """IAM is global; the default credential chain's account."""
    return boto3.session.Session().client("iam", region_name="us-east-1", config=CLIENT_CONFIG)
