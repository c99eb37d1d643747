"""A local HTTP fake of the SESv2 REST operations moto does not implement.

moto 5.2 answers GetAccount, the suppression list, event destinations and recommendations
with an HTML 404 (shared/test-peers.md §1). This fake serves them on ``127.0.0.1:0`` with
the response shapes of the Amazon SES API v2 reference, so a real boto3 ``sesv2`` client
(``endpoint_url=fake.endpoint``) signs, sends and parses real HTTP:

==========================================================  ==============================
``GET  /v2/email/account``                                  GetAccount
``GET  /v2/email/suppression/addresses``                    ListSuppressedDestinations
``POST /v2/email/list-identities``                          ListEmailIdentities (botocore
                                                            >= 1.40 model)
``GET  /v2/email/identities``                               ListEmailIdentities (older
                                                            botocore models)
``GET  /v2/email/identities/{EmailIdentity}``               GetEmailIdentity
``POST /v2/email/list-configuration-sets``                  ListConfigurationSets (botocore
                                                            >= 1.40 model)
``GET  /v2/email/configuration-sets``                       ListConfigurationSets (older
                                                            botocore models)
``GET  /v2/email/configuration-sets/{Name}/event-destinations``
                                                            GetConfigurationSetEventDestinations
``POST /v2/email/vdm/recommendations``                      ListRecommendations
==========================================================  ==============================

(Methods and paths are the ``http`` entries of botocore's sesv2 2019-09-27 service model.)

The test configures it through plain attributes (``account``, ``identities``,
``identity_details``, ``event_destinations`` (its keys are the configuration sets, in
insertion order), ``recommendations``, ``suppressed``) and
helpers (``add_domain_identity``, ``suppress``, ``unsuppress``, ``fail``). Every request is
counted per path (``requests``) and logged with its query and JSON body (``log``).

Conventions of the restJson protocol that botocore relies on:
  - timestamps in response bodies are epoch seconds (JSON numbers);
  - an error is an HTTP 4xx/5xx with the code in the ``x-amzn-ErrorType`` header (botocore
    keeps what is before the first ``:``) and ``{"message": "..."}`` as the body;
  - query-string timestamps (``StartDate``) arrive as ISO 8601 (botocore's default for
    the query string); epoch numbers are accepted too.
Requests are handled one at a time (one lock), so a test can change the data between calls
without races. Signatures are not checked.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import itertools
import json
import socket
import threading
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = [
    "FakeError",
    "LoggedRequest",
    "Sesv2Fake",
    "SuppressedEntry",
    "default_account",
    "dkim_tokens",
    "eventbridge_destination",
    "identity_arn",
    "recommendation",
    "requests_for",
    "sns_destination",
]

API_REFERENCE = "https://docs.aws.amazon.com/ses/latest/APIReference-V2/"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
SUPPRESSION_MAX_PAGE_SIZE = 1000  # ListSuppressedDestinations: PageSize at most 1000
IDENTITIES_MAX_PAGE_SIZE = 1000  # ListEmailIdentities: PageSize 0..1000
CONFIGURATION_SETS_MAX_PAGE_SIZE = 1000  # ListConfigurationSets: PageSize, assumed like the above
RECOMMENDATIONS_MAX_PAGE_SIZE = 100  # ListRecommendations: PageSize at most 100
_SESSION: Any = None  # a boto3 Session, created on first use by Sesv2Fake.client


@dataclass(frozen=True, slots=True)
class SuppressedEntry:
    """One SuppressedDestinationSummary (API_SuppressedDestinationSummary.html)."""

    email: str
    reason: str  # BOUNCE | COMPLAINT
    last_update: float  # epoch seconds

    def summary(self) -> dict[str, Any]:
        return {
            "EmailAddress": self.email,
            "Reason": self.reason,
            "LastUpdateTime": self.last_update,
        }


@dataclass
class FakeError:
    """An error answer for one path: ``times`` answers (None: until cleared)."""

    status: int
    code: str
    message: str = ""
    times: int | None = 1
    method: str | None = None  # None: any method


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int


class _Reply(Exception):  # noqa: N818 - control flow inside the handler, never escapes
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bad_request(message: str, code: str = "BadRequestException") -> _Reply:
    return _Reply(400, code, message)


def _not_found(message: str) -> _Reply:
    return _Reply(404, "NotFoundException", message)


def default_account() -> dict[str, Any]:
    """A production account in good standing (API_GetAccount.html response elements)."""
    return {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": "HEALTHY",
        "ProductionAccessEnabled": True,
        "SendingEnabled": True,
        "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 1234.0},
        "Details": {
            "MailType": "TRANSACTIONAL",
            "WebsiteURL": "https://www.example.com",
            "ContactLanguage": "EN",
            "ReviewDetails": {"Status": "GRANTED", "CaseId": "1234567890"},
        },
        "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
        "VdmAttributes": {
            "VdmEnabled": "ENABLED",
            "DashboardAttributes": {"EngagementMetrics": "ENABLED"},
            "GuardianAttributes": {"OptimizedSharedDelivery": "DISABLED"},
        },
    }


@dataclass
class Sesv2Fake:
    """The fake's data and behaviour; ``start()`` serves it on 127.0.0.1 (a free port)."""

    account: dict[str, Any] = field(default_factory=default_account)
    identities: list[dict[str, Any]] = field(default_factory=list)
    identity_details: dict[str, dict[str, Any]] = field(default_factory=dict)
    event_destinations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    suppressed: Sequence[SuppressedEntry] = field(default_factory=list)
    suppression_default_page_size: int = 100  # assumed; the reference does not state one
    identities_default_page_size: int = 100
    requests: Counter[str] = field(default_factory=Counter)
    log: list[LoggedRequest] = field(default_factory=list)
    keep_log: bool = True  # False for benchmarks (the log would grow per request)
    bind_port: int = 0  # 0: any free port; a fixed one to restart the fake where it was
    _errors: dict[str, FakeError] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: _Server | None = None
    _thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns within 50 ms
            name="sesv2-fake",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Like a dead endpoint: no new connections, and open keep-alive ones are cut."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            for connection in list(self._server.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **config: Any) -> Any:
        """A boto3 sesv2 client for this fake: dummy credentials, us-east-1, no retries."""
        import boto3  # noqa: PLC0415 - only tests that want a client pay for the import
        from botocore.config import Config  # noqa: PLC0415 - same

        options: dict[str, Any] = {
            "connect_timeout": 5,
            "read_timeout": 30,
            "retries": {"mode": "standard", "total_max_attempts": 1},  # the test sees every error
        }
        options.update(config)
        global _SESSION  # noqa: PLW0603 - one session per process: its loader parses the model once
        if _SESSION is None:
            _SESSION = boto3.session.Session()
        return _SESSION.client(
            "sesv2",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(**options),
        )

    # ------------------------------------------------------------------ test controls

    def fail(
        self,
        path: str,
        *,
        code: str,
        status: int = 400,
        message: str = "",
        times: int | None = 1,
        method: str | None = None,
    ) -> None:
        """Answer ``path`` (exact, without query) with an error ``times`` times."""
        with self._lock:
            self._errors[path] = FakeError(status, code, message or code, times, method)

    def clear_failures(self) -> None:
        with self._lock:
            self._errors.clear()

    def suppress(self, email: str, reason: str, at: float) -> None:
        """Add an address, or suppress it again (SES updates Reason and LastUpdateTime)."""
        with self._lock:
            entries = self._entries()
            entry = SuppressedEntry(email, reason, at)
            for i, old in enumerate(entries):
                if old.email.lower() == email.lower():
                    entries[i] = entry
                    return
            entries.append(entry)

    def unsuppress(self, email: str) -> None:
        """DeleteSuppressedDestination, done by the test."""
        with self._lock:
            entries = self._entries()
            entries[:] = [e for e in entries if e.email.lower() != email.lower()]

    def _entries(self) -> list[SuppressedEntry]:
        if not isinstance(self.suppressed, list):
            self.suppressed = list(self.suppressed)
        return self.suppressed

    def add_domain_identity(
        self,
        domain: str,
        *,
        verification_status: str = "SUCCESS",
        sending_enabled: bool = True,
        dkim_status: str = "SUCCESS",
        mail_from: str | None = None,
        mail_from_status: str = "SUCCESS",
        configuration_set: str | None = None,
        dkim_origin: str = "AWS_SES",
        signing_hosted_zone: str | None = "dkim.amazonses.com",
        tokens: Sequence[str] | None = None,
    ) -> None:
        """A verified-by-default DOMAIN identity, in the list and in GetEmailIdentity.

        DKIM (API_DkimAttributes.html): ``dkim_origin`` is SigningAttributesOrigin
        (``AWS_SES`` Easy DKIM, ``EXTERNAL`` BYODKIM, ``AWS_SES_<REGION>`` deterministic Easy
        DKIM); ``tokens`` are the Easy DKIM tokens (default: `dkim_tokens`) or, for
        BYODKIM, ``[selector]``; key lengths and the key generation time are [Easy DKIM]
        members, left out for BYODKIM, and so is SigningHostedZone (SES publishes no key)."""
        self.identities.append(
            {
                "IdentityType": "DOMAIN",
                "IdentityName": domain,
                "SendingEnabled": sending_enabled,
                "VerificationStatus": verification_status,
            }
        )
        detail: dict[str, Any] = {
            "IdentityType": "DOMAIN",
            "FeedbackForwardingStatus": True,
            "VerifiedForSendingStatus": verification_status == "SUCCESS",
            "DkimAttributes": {
                "SigningEnabled": True,
                "Status": dkim_status,
                "Tokens": list(tokens) if tokens is not None else dkim_tokens(domain),
                "SigningAttributesOrigin": dkim_origin,
            },
            "Policies": {},
            "Tags": [],
            "VerificationStatus": verification_status,
        }
        if dkim_origin != "EXTERNAL":
            detail["DkimAttributes"].update(
                {
                    "NextSigningKeyLength": "RSA_2048_BIT",
                    "CurrentSigningKeyLength": "RSA_2048_BIT",
                    "LastKeyGenerationTimestamp": 1_700_000_000,
                }
            )
            if signing_hosted_zone is not None:
                detail["DkimAttributes"]["SigningHostedZone"] = signing_hosted_zone
        if mail_from is not None:
            detail["MailFromAttributes"] = {
                "MailFromDomain": mail_from,
                "MailFromDomainStatus": mail_from_status,
                "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
            }
        if configuration_set is not None:
            detail["ConfigurationSetName"] = configuration_set
        self.identity_details[domain] = detail

    # ------------------------------------------------------------------ dispatch

    def handle(self, method: str, raw_path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """One request -> (status, headers, body); used by the HTTP handler."""
        split = urllib.parse.urlsplit(raw_path)
        path = urllib.parse.unquote(split.path)  # counted and matched decoded: a@b, not a%40b
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        payload: Any = None
        with self._lock:
            self.requests[path] += 1
            try:
                if body:
                    try:
                        payload = json.loads(body)
                    except ValueError as exc:
                        raise _Reply(400, "SerializationException", "malformed JSON") from exc
                self._injected_error(method, path)
                status, result = 200, self._route(method, path, query, payload or {})
                data = json.dumps(result).encode()
                headers = {"Content-Type": "application/json"}
            except _Reply as reply:
                status = reply.status
                data = json.dumps({"message": reply.message}).encode()
                headers = {"Content-Type": "application/json", "x-amzn-ErrorType": reply.code}
            if self.keep_log:
                self.log.append(LoggedRequest(method, path, query, payload, status))
        headers["x-amzn-RequestId"] = str(uuid.uuid4())
        return status, headers, data

    def _injected_error(self, method: str, path: str) -> None:
        error = self._errors.get(path)
        if error is None or (error.method is not None and error.method != method):
            return
        if error.times is not None:
            error.times -= 1
            if error.times <= 0:
                del self._errors[path]
        raise _Reply(error.status, error.code, error.message)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]
    ) -> dict[str, Any]:
        parts = path.strip("/").split("/")
        match method, parts:
            case "GET", ["v2", "email", "account"]:
                return copy.deepcopy(self.account)
            case "GET", ["v2", "email", "suppression", "addresses"]:
                return self._list_suppressed(query)
            case "POST", ["v2", "email", "list-identities"]:
                return self._list_identities(
                    body.get("NextToken"), body.get("PageSize"), body.get("Filter") or {}
                )
            case "GET", ["v2", "email", "identities"]:
                size = _first(query, "PageSize")
                return self._list_identities(
                    _first(query, "NextToken"), None if size is None else _int(size), {}
                )
            case "GET", ["v2", "email", "identities", name]:
                return self._get_identity(name)
            case ("POST", ["v2", "email", "list-configuration-sets"]) | (
                "GET",
                ["v2", "email", "configuration-sets", *_],
            ):
                return self._configuration_sets(method, parts[3:], query, body)
            case "POST", ["v2", "email", "vdm", "recommendations"]:
                return self._list_recommendations(body)
        raise _Reply(404, "UnknownOperationException", f"no fake for {method} {path}")

    # ------------------------------------------------------------------ operations

    def _list_suppressed(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """ListSuppressedDestinations (API_ListSuppressedDestinations.html).

        Query: ``Reason`` (repeatable), ``StartDate``, ``EndDate``, ``NextToken``,
        ``PageSize``. StartDate/EndDate filter on LastUpdateTime, both inclusive (the
        reference says "added to the list after/before a specific date"; an address
        suppressed again counts as updated then). Response: ``SuppressedDestinationSummaries``
        [{EmailAddress, Reason, LastUpdateTime}] and ``NextToken`` when more remain.
        """
        reasons = set(query.get("Reason", []))
        if reasons - {"BOUNCE", "COMPLAINT"}:
            raise _bad_request(f"Invalid Reason: {sorted(reasons)}")
        start = _date(_first(query, "StartDate"), "StartDate")
        end = _date(_first(query, "EndDate"), "EndDate")
        size = self._page_size(query, self.suppression_default_page_size)
        if size > SUPPRESSION_MAX_PAGE_SIZE:
            raise _bad_request("PageSize must be at most 1000")
        offset = _decode_token(
            _first(query, "NextToken"), "suppression", "InvalidNextTokenException"
        )
        source = self.suppressed
        if not reasons and start is None and end is None:
            stop = min(offset + size, len(source))
            page = [source[i] for i in range(offset, stop)]
            more = stop < len(source)
        else:

            def wanted(entry: SuppressedEntry) -> bool:
                return (
                    (not reasons or entry.reason in reasons)
                    and (start is None or entry.last_update >= start)
                    and (end is None or entry.last_update <= end)
                )

            window = list(itertools.islice(filter(wanted, source), offset, offset + size + 1))
            page, more = window[:size], len(window) > size
        result: dict[str, Any] = {"SuppressedDestinationSummaries": [e.summary() for e in page]}
        if more:
            result["NextToken"] = _encode_token("suppression", offset + len(page))
        return result

    def _list_identities(
        self, token: str | None, size: int | None, filters: dict[str, str]
    ) -> dict[str, Any]:
        """ListEmailIdentities (API_ListEmailIdentities.html): EmailIdentities[IdentityInfo]."""
        size = self.identities_default_page_size if size is None else size
        if not 0 <= size <= IDENTITIES_MAX_PAGE_SIZE:
            raise _bad_request("PageSize must be within 0..1000")
        offset = _decode_token(token, "identities")
        rows = [i for i in self.identities if _identity_matches(i, filters)]
        page = rows[offset : offset + size] if size else rows[offset:]
        result: dict[str, Any] = {"EmailIdentities": copy.deepcopy(page)}
        if offset + len(page) < len(rows):
            result["NextToken"] = _encode_token("identities", offset + len(page))
        return result

    def _configuration_sets(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: dict[str, Any]
    ) -> dict[str, Any]:
        """ListConfigurationSets (both models' routes), GetConfigurationSetEventDestinations."""
        match method, rest:
            case "POST", []:
                return self._list_configuration_sets(body.get("NextToken"), body.get("PageSize"))
            case "GET", []:
                size = _first(query, "PageSize")
                return self._list_configuration_sets(
                    _first(query, "NextToken"), None if size is None else _int(size)
                )
            case "GET", [name, "event-destinations"]:
                if name not in self.event_destinations:
                    raise _not_found(f"Configuration set <{name}> does not exist.")
                return {"EventDestinations": copy.deepcopy(self.event_destinations[name])}
        raise _Reply(404, "UnknownOperationException", f"no fake for {method} {'/'.join(rest)}")

    def _list_configuration_sets(self, token: str | None, size: int | None) -> dict[str, Any]:
        """ListConfigurationSets (API_ListConfigurationSets.html): ConfigurationSets [names]."""
        size = self.identities_default_page_size if size is None else size
        if not 0 <= size <= CONFIGURATION_SETS_MAX_PAGE_SIZE:
            raise _bad_request("PageSize must be within 0..1000")
        offset = _decode_token(token, "configuration-sets")
        names = list(self.event_destinations)
        page = names[offset : offset + size] if size else names[offset:]
        result: dict[str, Any] = {"ConfigurationSets": page}
        if offset + len(page) < len(names):
            result["NextToken"] = _encode_token("configuration-sets", offset + len(page))
        return result

    def _get_identity(self, name: str) -> dict[str, Any]:
        """GetEmailIdentity (API_GetEmailIdentity.html)."""
        for candidate, detail in self.identity_details.items():
            if candidate.lower() == name.lower():
                return copy.deepcopy(detail)
        raise _not_found(f"Email identity {name} does not exist.")

    def _list_recommendations(self, body: dict[str, Any]) -> dict[str, Any]:
        """ListRecommendations (API_ListRecommendations.html): Filter, NextToken, PageSize."""
        keys = {
            "TYPE": "Type",
            "IMPACT": "Impact",
            "STATUS": "Status",
            "RESOURCE_ARN": "ResourceArn",
        }
        filters = body.get("Filter") or {}
        if set(filters) - set(keys):
            raise _bad_request(f"Invalid filter keys: {sorted(filters)}")
        size = body.get("PageSize") or RECOMMENDATIONS_MAX_PAGE_SIZE
        if not 1 <= size <= RECOMMENDATIONS_MAX_PAGE_SIZE:
            raise _bad_request("PageSize must be within 1..100")
        rows = [
            r for r in self.recommendations if all(r.get(keys[k]) == v for k, v in filters.items())
        ]
        offset = _decode_token(body.get("NextToken"), "recommendations")
        page = rows[offset : offset + size]
        result: dict[str, Any] = {"Recommendations": copy.deepcopy(page)}
        if offset + len(page) < len(rows):
            result["NextToken"] = _encode_token("recommendations", offset + len(page))
        return result

    @staticmethod
    def _page_size(query: dict[str, list[str]], default: int) -> int:
        raw = _first(query, "PageSize")
        size = default if raw is None else _int(raw)
        if size < 1:
            raise _bad_request("PageSize must be at least 1")
        return size


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    allow_reuse_address = True  # a restarted fake takes its old port back at once

    def __init__(self, fake: Sesv2Fake) -> None:
        self.connections: set[socket.socket] = set()  # so stop() also ends keep-alives
        super().__init__(("127.0.0.1", fake.bind_port), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as AWS endpoints do

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, data = self.server.fake.handle(self.command, self.path, body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's naming

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base signature
        """Quiet: pytest would show every request otherwise."""


# ---------------------------------------------------------------------- helpers


def dkim_tokens(domain: str) -> list[str]:
    """Three Easy DKIM tokens per domain, distinct per domain (moto's are all the same)."""
    return [uuid.uuid5(uuid.NAMESPACE_DNS, f"{i}.{domain}").hex for i in range(3)]


def recommendation(
    resource: str,
    kind: str,
    *,
    status: str = "OPEN",
    impact: str = "HIGH",
    description: str = "",
    created: float = 1_700_000_000.0,
    updated: float | None = None,
) -> dict[str, Any]:
    """One Recommendation (API_Recommendation.html); ``resource`` an identity name or ARN."""
    arn = resource if resource.startswith("arn:") else identity_arn(resource)
    return {
        "ResourceArn": arn,
        "Type": kind,
        "Description": description or f"{kind} recommendation for {resource}",
        "Status": status,
        "CreatedTimestamp": created,
        "LastUpdatedTimestamp": created if updated is None else updated,
        "Impact": impact,
    }


def identity_arn(identity: str) -> str:
    return f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/{identity}"


def sns_destination(name: str, topic: str, events: Iterable[str]) -> dict[str, Any]:
    """One EventDestination with an SnsDestination (API_EventDestination.html)."""
    return {
        "Name": name,
        "Enabled": True,
        "MatchingEventTypes": list(events),
        "SnsDestination": {"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{topic}"},
    }


def eventbridge_destination(name: str, events: Iterable[str]) -> dict[str, Any]:
    """One EventDestination with an EventBridgeDestination (the default event bus)."""
    return {
        "Name": name,
        "Enabled": True,
        "MatchingEventTypes": list(events),
        "EventBridgeDestination": {
            "EventBusArn": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/default"
        },
    }


def _identity_matches(identity: dict[str, Any], filters: dict[str, str]) -> bool:
    for key, value in filters.items():
        if key == "IDENTITY_TYPE" and identity.get("IdentityType") != value:
            return False
        if key == "VERIFICATION_STATUS" and identity.get("VerificationStatus") != value:
            return False
        if key == "IDENTITY_NAME_CONTAINS" and value not in identity.get("IdentityName", ""):
            return False
    return True


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise _bad_request(f"not an integer: {raw!r}") from exc


def _date(raw: str | None, name: str) -> float | None:
    """An ISO 8601 (botocore's query-string format) or epoch-seconds timestamp."""
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(raw)  # 3.11 reads a trailing "Z"
    except ValueError as exc:
        raise _bad_request(f"Invalid {name}: {raw!r}") from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _encode_token(kind: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode()


def _decode_token(token: str | None, kind: str, code: str = "BadRequestException") -> int:
    if not token:
        return 0
    try:
        found, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if found == kind:
            return int(offset)
    except (ValueError, binascii.Error):
        pass
    raise _bad_request("The NextToken is invalid.", code=code)


def requests_for(log: Iterable[LoggedRequest], path: str) -> Iterator[LoggedRequest]:
    """The logged requests for one path, in order."""
    return (r for r in log if r.path == path)
