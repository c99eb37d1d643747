"""The AWS calls behind `doctor`: each permission the configuration needs, tried by the
read-only call the daemon makes, and what the answers say about the queue and routing.

Nothing here consumes or changes data: SQS is asked ``GetQueueAttributes`` only (a
``ReceiveMessage`` would hide real events and push them towards the dead-letter queue),
and the permissions that have no harmless call (``sqs:ReceiveMessage``,
``sqs:DeleteMessage``) are asked of IAM's policy simulator, or reported as not verifiable.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from exporter.aws import CLIENT_CONFIG, aws_error_code
from exporter.model import Status

__all__ = [
    "AWS_ERRORS",
    "DENIED",
    "POLICY_FILE",
    "Finding",
    "Prober",
    "client_for",
    "queue_policy_finding",
    "role_principal",
]

POLICY_FILE = "deploy/iam-policy.json"
DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",  # SNS
        "UnauthorizedOperation",
        "403",  # a bare HTTP 403 without an error code
    }
)
# Rejected credentials: what an endpoint that checks signatures answers a made-up key.
_BAD_CREDENTIALS = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidSignatureException",
        "IncompleteSignature",
        "AuthFailure",
        "ExpiredToken",
        *DENIED,
    }
)
# The call is authorized and the named thing does not exist: enough to prove the permission.
_AUTHORIZED_MISSING = frozenset({"NotFoundException", "NoSuchEntity"})
# The endpoint (moto, the test fake, an older LocalStack) lacks the operation.
_UNIMPLEMENTED = frozenset(
    {
        "404",
        "501",
        "NotImplemented",
        "InvalidAction",
        "UnknownOperationException",
        "ResponseParserError",  # an HTML error page instead of an AWS answer
    }
)
_DOCTOR_CONFIG = CLIENT_CONFIG.merge(BotoConfig(retries={"mode": "standard", "max_attempts": 2}))
# What a failed call raises: an AWS error, a transport error, or an HTML page (an endpoint
# that crashed on an operation it lacks) that botocore cannot parse.
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError)
_AWS_HOSTS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
_PROBE_KEY = ("AKIAIOSFODNN7EXAMPLE", "doctor-probe-not-a-real-secret")  # AWS's documented example


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report: a check about one subject, its verdict, and the fix."""

    check: str
    subject: str
    status: Status
    summary: str
    fix: str = ""


@dataclass
class Prober:
    """Tries permissions by their calls; remembers whether each endpoint checks credentials.

    AWS always does. A local endpoint (``AWS_ENDPOINT_URL``: moto, LocalStack, a fake) may
    accept anything, and then a successful call proves nothing: it is asked once with a
    made-up key, and if that succeeds too its permissions are reported as not verifiable.
    """

    principal: str
    findings: list[Finding] = field(default_factory=list)
    _enforced: dict[tuple[str, str, str], bool] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def call(
        self, client: Any, action: str, subject: str, operation: str, **kwargs: Any
    ) -> tuple[dict[str, Any] | None, str | None]:
        """Make the call and add its permission finding (once per action and subject: a
        listing's later pages add none); (response, AWS error code)."""
        first = f"{action} {subject}" not in self._seen
        self._seen.add(f"{action} {subject}")
        try:
            response: dict[str, Any] = getattr(client, operation)(**kwargs)
        except AWS_ERRORS as exc:
            code = aws_error_code(exc)
            if first:
                self.findings.append(
                    self._refused(client, action, subject, operation, code=code, kwargs=kwargs)
                )
            return None, code
        if first:
            self.findings.append(self._allowed(client, action, subject, operation, kwargs))
        return response, None

    def simulate(self, iam: Any, actions: list[str], resource: str, subject: str) -> None:
        """Permissions without a harmless call, asked of IAM's policy simulator."""
        principal = role_principal(self.principal)
        try:
            response = iam.simulate_principal_policy(
                PolicySourceArn=principal, ActionNames=actions, ResourceArns=[resource]
            )
        except AWS_ERRORS as exc:
            code = aws_error_code(exc)
            why = (
                "this endpoint has no policy simulator"
                if code in _UNIMPLEMENTED
                else f"iam:SimulatePrincipalPolicy answered {code}"
            )
            self.findings.extend(
                Finding(
                    "permission",
                    f"{action} {subject}",
                    Status.UNKNOWN,
                    f"not verifiable: {why}; checking it by calling it would hide real events",
                    f"allow iam:SimulatePrincipalPolicy on {principal} to let doctor check "
                    f"this, or make sure {action} is granted ({POLICY_FILE})",
                )
                for action in actions
            )
            return
        decisions = {
            r.get("EvalActionName", ""): r.get("EvalDecision", "")
            for r in response.get("EvaluationResults", [])
        }
        for action in actions:
            decision = decisions.get(action, "missing")
            if decision == "allowed":
                self.findings.append(
                    Finding(
                        "permission",
                        f"{action} {subject}",
                        Status.PASS,
                        f"allowed (policy simulator, {principal})",
                    )
                )
            else:
                self.findings.append(
                    Finding(
                        "permission",
                        f"{action} {subject}",
                        Status.FAIL,
                        f"{decision} for {principal} (policy simulator)",
                        f"grant {action} on {resource} ({POLICY_FILE})",
                    )
                )

    def _allowed(
        self, client: Any, action: str, subject: str, operation: str, kwargs: dict[str, Any]
    ) -> Finding:
        if self.enforces(client, operation, kwargs):
            return Finding("permission", f"{action} {subject}", Status.PASS, "allowed")
        return Finding(
            "permission",
            f"{action} {subject}",
            Status.UNKNOWN,
            f"not verifiable: {client.meta.endpoint_url} accepts any credentials",
        )

    def _refused(
        self,
        client: Any,
        action: str,
        subject: str,
        operation: str,
        *,
        code: str,
        kwargs: dict[str, Any],
    ) -> Finding:
        name = f"{action} {subject}"
        if code in DENIED:
            return Finding(
                "permission",
                name,
                Status.FAIL,
                f"denied ({code}) for {self.principal}",
                f"grant {action} to {self.principal} ({POLICY_FILE})",
            )
        if code in _AUTHORIZED_MISSING:
            return self._allowed(client, action, subject, operation, kwargs)
        if code in _UNIMPLEMENTED:
            return Finding(
                "permission",
                name,
                Status.UNKNOWN,
                f"not verifiable: {client.meta.endpoint_url} does not implement {operation}",
            )
        return Finding(
            "permission", name, Status.UNKNOWN, f"not verifiable: the call answered {code}"
        )

    def enforces(self, client: Any, operation: str, kwargs: dict[str, Any]) -> bool:
        """Whether the client's endpoint rejects a made-up key (cached per endpoint)."""
        endpoint = str(client.meta.endpoint_url)
        host = urllib.parse.urlsplit(endpoint).hostname or ""
        if host.endswith(_AWS_HOSTS):
            return True
        key = (client.meta.service_model.service_name, endpoint, client.meta.region_name)
        if key not in self._enforced:
            probe = boto3.session.Session(
                aws_access_key_id=_PROBE_KEY[0], aws_secret_access_key=_PROBE_KEY[1]
            ).client(
                key[0],
                endpoint_url=endpoint,
                region_name=key[2],
                config=BotoConfig(connect_timeout=5, read_timeout=20, retries={"max_attempts": 1}),
            )
            try:
                getattr(probe, operation)(**kwargs)
            except ClientError as exc:
                self._enforced[key] = aws_error_code(exc) in _BAD_CREDENTIALS
            except (BotoCoreError, ResponseParserError):
                self._enforced[key] = False
            else:
                self._enforced[key] = False
        return self._enforced[key]


def role_principal(arn: str) -> str:
    """The IAM ARN the policy simulator takes for a caller: an assumed role's session ARN
    (``arn:aws:sts::123:assumed-role/Name/session``) names its role (without its path)."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):  # noqa: PLR2004 - the six fields of an ARN
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return arn


def queue_policy_finding(subject: str, policy_text: str | None, topics: list[str]) -> Finding:
    """Whether the queue's resource policy lets SNS deliver from ``topics`` (without it,
    SNS is refused and every event is lost before it reaches the queue)."""
    fix = "apply deploy/sqs-queue-policy.json with the topic's ARN (or deploy deploy/aws/)"
    allowed, unrestricted = _senders(policy_text)
    matched = [t for t in topics if t in allowed or any(_arn_like(a, t) for a in allowed)]
    if matched:
        return Finding(
            "sqs_queue_policy", subject, Status.PASS, f"SNS may send from {', '.join(matched)}"
        )
    if unrestricted:
        return Finding(
            "sqs_queue_policy",
            subject,
            Status.WARN,
            "the queue policy lets any SNS topic send: anyone's topic can feed it events",
            f"restrict it with aws:SourceArn: {fix}",
        )
    if not policy_text:
        return Finding(
            "sqs_queue_policy",
            subject,
            Status.FAIL,
            "the queue has no policy: SNS cannot deliver to it and every event is lost",
            fix,
        )
    named = f" ({', '.join(allowed)})" if allowed else ""
    return Finding(
        "sqs_queue_policy",
        subject,
        Status.FAIL,
        f"the queue policy lets no subscribed topic send{named}: SNS deliveries are refused",
        fix,
    )


def _senders(policy_text: str | None) -> tuple[list[str], bool]:
    """(the aws:SourceArn values allowed to send, whether SNS may send without one)."""
    try:
        policy = json.loads(policy_text) if policy_text else {}
    except ValueError:
        policy = {}
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    allowed: list[str] = []
    unrestricted = False
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if not _grants_send(statement.get("Action")):
            continue
        sources = _source_arns(statement.get("Condition"))
        if sources:
            allowed.extend(sources)
        elif _sns_may(statement.get("Principal")):
            unrestricted = True
    return allowed, unrestricted


def _grants_send(action: object) -> bool:
    actions = [action] if isinstance(action, str) else action if isinstance(action, list) else []
    return any(str(a).lower() in ("sqs:sendmessage", "sqs:*", "*") for a in actions)


def _sns_may(principal: object) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        service = principal.get("Service")
        services = [service] if isinstance(service, str) else service or []
        return "sns.amazonaws.com" in services or principal.get("AWS") == "*"
    return False


def _source_arns(condition: object) -> list[str]:
    """The aws:SourceArn values of an Allow statement's ArnEquals/ArnLike/StringEquals."""
    found: list[str] = []
    if not isinstance(condition, dict):
        return found
    for operator, values in condition.items():
        if operator not in ("ArnEquals", "ArnLike", "StringEquals", "StringLike"):
            continue
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if key.lower() == "aws:sourcearn":
                found.extend([value] if isinstance(value, str) else list(value))
    return found


def _arn_like(pattern: str, arn: str) -> bool:
    from fnmatch import fnmatchcase  # noqa: PLC0415 - only for wildcard conditions

    return "*" in pattern and fnmatchcase(arn, pattern)


def client_for(session: Any, service: str, region: str) -> Any:
    """A client like the daemon's (its timeouts), retrying less: someone is waiting."""
    return session.client(service, region_name=region, config=_DOCTOR_CONFIG)
