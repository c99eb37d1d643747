"""IAM access keys behind SES SMTP credentials: status, age and last use.

An SMTP password is derived from one secret access key; deactivating or rotating that key
silently breaks every relay still using the old password (the second field report).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exporter.aws import aws_error_code
from exporter.sources.ses import SesApiError

__all__ = ["AccessKeyState", "access_keys"]


@dataclass(frozen=True, slots=True)
class AccessKeyState:
    access_key_id: str  # not a secret: it names the key in IAM and CloudTrail
    active: bool
    created: float
    last_used: float | None  # None: never used


def access_keys(iam: Any, user: str) -> tuple[AccessKeyState, ...]:
    """ListAccessKeys and GetAccessKeyLastUsed for one user; raises SesApiError."""
    try:
        listed = iam.list_access_keys(UserName=user).get("AccessKeyMetadata", [])
        states = []
        for key in listed:
            key_id = key["AccessKeyId"]
            used = iam.get_access_key_last_used(AccessKeyId=key_id).get("AccessKeyLastUsed", {})
            last_used = used.get("LastUsedDate")
            states.append(
                AccessKeyState(
                    access_key_id=key_id,
                    active=key.get("Status") == "Active",
                    created=key["CreateDate"].timestamp(),
                    last_used=last_used.timestamp() if last_used else None,
                )
            )
    except (ClientError, BotoCoreError) as exc:
        raise SesApiError("list_access_keys", aws_error_code(exc)) from exc
    return tuple(sorted(states, key=lambda s: s.created))
