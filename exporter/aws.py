"""boto3 sessions and clients: the standard credential chain, optionally an assumed role.

Endpoints follow boto3's own settings (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_SESV2``,
...), so the same binary runs against moto or LocalStack. Timeouts are explicit and
retries use botocore's adaptive mode, which also paces itself on throttling.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.exceptions import ClientError

from exporter.config import AwsAccountConfig

__all__ = ["CLIENT_CONFIG", "account_session", "aws_error_code"]

CLIENT_CONFIG = BotoConfig(
    connect_timeout=5,
    read_timeout=20,
    retries={"mode": "adaptive", "max_attempts": 5},
    user_agent_extra="ses-deliverability-exporter",
)


def account_session(account: AwsAccountConfig) -> boto3.Session:
    """The default chain (env, profile, IRSA), or a role assumed from it and refreshed."""
    if not account.role_arn:
        return boto3.Session()
    base = botocore.session.Session()
    extra: dict[str, Any] = {"RoleSessionName": "ses-deliverability-exporter"}
    if account.external_id:
        extra["ExternalId"] = account.external_id
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=base.create_client,
        source_credentials=base.get_credentials(),
        role_arn=account.role_arn,
        extra_args=extra,
    )
    assumed = botocore.session.Session()
    # botocore has no public setter for refreshable credentials; this is the documented
    # pattern used by boto3 users for cross-account sessions.
    assumed._credentials = DeferredRefreshableCredentials(  # type: ignore[attr-defined]  # noqa: SLF001
        method="assume-role", refresh_using=fetcher.fetch_credentials
    )
    return boto3.Session(botocore_session=assumed)


def aws_error_code(exc: Exception) -> str:
    """The AWS error code of a ClientError (AccessDenied, ...), else the exception's type name
    (EndpointConnectionError, ReadTimeoutError, ...): the label and log value for failures."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__
