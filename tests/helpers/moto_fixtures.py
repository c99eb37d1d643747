"""moto in server mode (real HTTP on loopback) and realistic SES event bodies.

A pytest plugin, registered by tests/conftest.py: the fixtures `moto_server` and `moto` reach
every test (integration and e2e) without an import; the helpers (`Moto`, the event builders,
`daemon_env`, `SqsFaultProxy`, ...) are imported by name from `helpers.moto_fixtures`.
One `ThreadedMotoServer` per session on a free port; every test resets its state with
``POST /moto-api/reset`` and gets dummy credentials through the environment.

The event bodies are built from the real payloads in tests/data/ses-events/ (copied from
the shared corpus, see the README there): only ids, recipients and diagnostic codes are
changed, so each test can make distinct events without inventing new shapes.
"""

from __future__ import annotations

import copy
import functools
import http.client
import json
import logging
import os
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

DATA = Path(__file__).resolve().parent.parent / "data" / "ses-events"
REGION = "us-east-1"
DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def daemon_env(workdir: Path, endpoint: str, **extra: str) -> dict[str, str]:
    """The environment of an exporter subprocess pointed at moto (``endpoint``) and the
    fakes named in ``extra`` (e.g. AWS_ENDPOINT_URL_SESV2): this environment without its
    AWS settings, dummy credentials and no AWS config files, so nothing can reach AWS."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **DUMMY_ENV,
        "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
        "AWS_ENDPOINT_URL": endpoint,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


# --------------------------------------------------------------------------- moto server


@dataclass
class Moto:
    """A running moto server and helpers over its SQS/SNS APIs."""

    endpoint: str
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str, **config: Any) -> Any:
        """A boto3 client for moto (one shared per service unless ``config`` is given)."""
        if not config and service in self._clients:
            return self._clients[service]
        made = boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            config=BotoConfig(connect_timeout=5, read_timeout=30, **config),
        )
        if not config:
            self._clients[service] = made
        return made

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def create_queue(
        self,
        name: str,
        *,
        dead_letter_arn: str | None = None,
        max_receive_count: int = 2,
        visibility_timeout: int | None = None,
    ) -> tuple[str, str]:
        """Create a queue; returns (url, arn)."""
        sqs = self.client("sqs")
        attributes: dict[str, str] = {}
        if visibility_timeout is not None:
            attributes["VisibilityTimeout"] = str(visibility_timeout)
        if dead_letter_arn is not None:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receive_count}
            )
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return url, arn

    def depth(self, url: str) -> tuple[int, int]:
        """(visible, in flight) messages of a queue."""
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def send_bodies(self, url: str, bodies: list[str]) -> None:
        sqs = self.client("sqs")
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            response = sqs.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
            )
            assert not response.get("Failed"), response.get("Failed")

    def take_all(self, url: str, *, max_polls: int = 20) -> list[dict[str, Any]]:
        """Receive and delete every message of a queue (e.g. to read a DLQ); bounded."""
        sqs = self.client("sqs")
        taken: list[dict[str, Any]] = []
        for _ in range(max_polls):
            messages = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])
            if not messages:
                break
            taken.extend(messages)
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        return taken

    def sns_topic_to_queue(self, topic: str, queue_arn: str, *, raw: bool) -> str:
        """An SNS topic with the queue subscribed (raw delivery on or off); returns its ARN."""
        sns = self.client("sns")
        topic_arn = sns.create_topic(Name=topic)["TopicArn"]
        attributes = {"RawMessageDelivery": "true"} if raw else {}
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
        return topic_arn


def start_moto_server() -> tuple[Any, str]:
    """A ThreadedMotoServer on a free loopback port; returns (server, endpoint URL)."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - slow import, only when used

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


@pytest.fixture(name="moto_server", scope="session")
def _moto_server() -> Iterator[str]:
    """One moto server for the session; yields its endpoint URL."""
    server, endpoint = start_moto_server()
    yield endpoint
    server.stop()


@pytest.fixture(name="moto")
def _moto(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Moto:
    """A freshly reset moto, dummy credentials in the environment, no AWS config files."""
    for key, value in DUMMY_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    moto = Moto(moto_server)
    moto.reset()
    return moto


def wait_until(predicate: Any, what: str, timeout: float = 10.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


# --------------------------------------------------------------------------- SES events


def corpus(name: str) -> dict[str, Any]:
    """A payload from tests/data/ses-events/ (a fresh copy: mutate freely)."""
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def new_message_id() -> str:
    return f"0100{uuid.uuid4().hex[:12]}-{uuid.uuid4()}-000000"


def event(
    name: str,
    *,
    message_id: str | None = None,
    recipients: list[str] | None = None,
    from_domain: str | None = None,
) -> dict[str, Any]:
    """A corpus event with a new SES message id (and optionally new recipients/sender)."""
    document = copy.deepcopy(corpus(name))
    mail = document["mail"]
    mail["messageId"] = message_id or new_message_id()
    if recipients is not None:
        mail["destination"] = list(recipients)
        section = document.get("delivery")
        if isinstance(section, dict) and "recipients" in section:
            section["recipients"] = list(recipients)
        for key, field in (
            ("bounce", "bouncedRecipients"),
            ("complaint", "complainedRecipients"),
            ("deliveryDelay", "delayedRecipients"),
        ):
            if key in document:
                template = document[key][field][0]
                document[key][field] = [{**template, "emailAddress": r} for r in recipients]
    if from_domain is not None:
        mail["source"] = f"noreply@{from_domain}"
        if "tags" in mail:
            mail["tags"]["ses:from-domain"] = [from_domain]
    return document


def bounce(
    name: str = "raw-event-bounce-permanent-general",
    *,
    bounce_type: str,
    bounce_subtype: str,
    status: str,
    diagnostic_code: str,
    recipients: list[str] | None = None,
    from_domain: str | None = None,
) -> dict[str, Any]:
    """A corpus bounce with its type, sub-type, DSN status and diagnostic code replaced."""
    document = event(name, recipients=recipients, from_domain=from_domain)
    section = document["bounce"]
    section["bounceType"] = bounce_type
    section["bounceSubType"] = bounce_subtype
    for recipient in section["bouncedRecipients"]:
        recipient["status"] = status
        recipient["diagnosticCode"] = diagnostic_code
    return document


def bounce_553_518(
    name: str = "raw-event-bounce-permanent-general",
    *,
    recipients: list[str] | None = None,
    from_domain: str | None = None,
) -> dict[str, Any]:
    """The field report's bounce: permanent, 5.1.8, "553 ... Sender address rejected: Domain
    not found" (the sending domain's MAIL FROM does not resolve)."""
    return bounce(
        name,
        bounce_type="Permanent",
        bounce_subtype="General",
        status="5.1.8",
        diagnostic_code=BOUNCE_553_518,
        recipients=recipients,
        from_domain=from_domain,
    )


def sns_envelope(message: str, *, message_id: str | None = None) -> str:
    """An SNS Notification envelope as SNS delivers it to SQS (pretty-printed, sorted keys)."""
    envelope = {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
        "Subject": "Amazon SES Email Event Notification",
        "Message": message,
        "Timestamp": "2026-11-23T09:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }
    return json.dumps(envelope, indent=2, sort_keys=True, separators=(",", " : "))


def corpus_text(name: str) -> str:
    """A corpus file's exact bytes, as text (for bodies sent unchanged)."""
    return (DATA / f"{name}.json").read_text(encoding="utf-8")


SES_SETUP_TEXT = "Successfully validated SNS topic for Amazon SES event publishing."
BOUNCE_553_518 = "smtp; 553 5.1.8 <noreply@example.com>: Sender address rejected: Domain not found"
BOUNCE_452_422 = (
    "smtp; 452-4.2.2 The email account that you tried to reach is over quota. Please direct\n"
    "452 4.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp"
)


# --------------------------------------------------------------------------- fault proxy

SQS_TARGET_PREFIX = "AmazonSQS."
FAULTS = ("error500", "throttle", "drop_before", "drop_after", "partial_delete")


class SqsFaultProxy:
    """A loopback HTTP proxy in front of moto that fails chosen SQS calls on purpose.

    moto has no fault injection, so a test points its SQS client here instead. Calls are
    numbered per action as the proxy sees them (botocore's retries are calls too), and
    ``plan[(action, n)]`` names what happens to the n-th one:

    - ``error500``: an InternalError (HTTP 500), moto never sees the call;
    - ``throttle``: RequestThrottled (HTTP 400), moto never sees the call;
    - ``drop_before``: the connection is closed before the call reaches moto;
    - ``drop_after``: moto does the call, then the connection is closed unanswered (a
      receive whose messages are now in flight, a delete that happened unbeknown);
    - ``partial_delete`` (DeleteMessageBatch): the first half of the entries reaches
      moto, the rest comes back in ``Failed`` (an error mid-batch).

    The proxy also reads the traffic: which SQS message each receipt handle belongs to,
    and the message ids of every DeleteMessageBatch before it is forwarded; ``on_delete``
    is called with them (a test checks there that each was counted), and ``deleted``
    keeps the ids moto reported deleted.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.plan: dict[tuple[str, int], str] = {}
        self.calls: Counter[str] = Counter()
        self.injected: list[tuple[str, int, str]] = []
        self.handles: dict[str, str] = {}  # receipt handle -> SQS MessageId
        self.deleted: list[str] = []
        self.on_delete: Callable[[list[str]], None] | None = None
        self._lock = threading.Lock()
        handler = type("Handler", (_ProxyHandler,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SqsFaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail(self, action: str, calls: Iterable[int], fault: str) -> None:
        """Plan ``fault`` for these call numbers (1-based) of ``action``."""
        assert fault in FAULTS, fault
        for n in calls:
            self.plan[(action, n)] = fault

    def _next(self, action: str) -> str | None:
        with self._lock:
            self.calls[action] += 1
            n = self.calls[action]
            fault = self.plan.get((action, n))
            if fault is not None:
                self.injected.append((action, n, fault))
            return fault

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        connection = http.client.HTTPConnection(
            self.upstream.hostname, self.upstream.port, timeout=60
        )
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _observe(self, action: str, request: dict[str, Any], status: int, data: bytes) -> None:
        """Learn receipt handles from receives, and what moto says it deleted."""
        if status != 200:
            return
        reply = json.loads(data or b"{}")
        with self._lock:
            if action == "ReceiveMessage":
                for message in reply.get("Messages", []):
                    self.handles[message["ReceiptHandle"]] = message["MessageId"]
            elif action == "DeleteMessageBatch":
                entries = request.get("Entries", [])
                by_id = {e["Id"]: self.handles.get(e["ReceiptHandle"], "?") for e in entries}
                self.deleted.extend(by_id[e["Id"]] for e in reply.get("Successful", []))

    def _ids(self, entries: list[dict[str, Any]]) -> list[str]:
        with self._lock:
            return [self.handles.get(e["ReceiptHandle"], "?") for e in entries]


class _ProxyHandler(BaseHTTPRequestHandler):
    """One request through `SqsFaultProxy` (its ``proxy`` is set per proxy)."""

    protocol_version = "HTTP/1.1"
    proxy: SqsFaultProxy

    def log_message(self, *_args: Any) -> None:  # no access log on stderr
        return

    def do_GET(self) -> None:
        self._relay(b"")

    def do_POST(self) -> None:
        self._relay(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def _relay(self, body: bytes) -> None:
        proxy = self.proxy
        target = self.headers.get("X-Amz-Target", "")
        action = target.removeprefix(SQS_TARGET_PREFIX) if target else "other"
        fault = proxy._next(action)  # noqa: SLF001
        if fault in ("error500", "throttle"):
            self._error(fault)
            return
        if fault == "drop_before":
            self.close_connection = True
            return
        request = json.loads(body) if target and body else {}
        failed: list[dict[str, Any]] = []
        if action == "DeleteMessageBatch":
            failed, body = self._before_delete(request, body, partial=fault == "partial_delete")
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
        }
        status, reply_headers, data = proxy._forward(self.command, self.path, headers, body)  # noqa: SLF001
        proxy._observe(action, request, status, data)  # noqa: SLF001
        if fault == "drop_after":
            self.close_connection = True
            return
        if failed:
            reply = json.loads(data)
            reply.setdefault("Failed", []).extend(
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError"} for e in failed
            )
            data = json.dumps(reply).encode()
        self._reply(status, reply_headers, data)

    def _before_delete(
        self, request: dict[str, Any], body: bytes, *, partial: bool
    ) -> tuple[list[dict[str, Any]], bytes]:
        """Keep half of a partial delete's entries (the rest fail); show them to on_delete."""
        failed: list[dict[str, Any]] = []
        if partial:
            keep = len(request["Entries"]) // 2
            failed = request["Entries"][keep:]
            request["Entries"] = request["Entries"][:keep]
            body = json.dumps(request).encode()
        if self.proxy.on_delete is not None:
            self.proxy.on_delete(self.proxy._ids(request["Entries"]))  # noqa: SLF001
        return failed, body

    def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in ("content-length", "connection", "date", "server"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, fault: str) -> None:
        status, code, sender = (
            (400, "RequestThrottled", "Sender")
            if fault == "throttle"
            else (500, "InternalError", "Receiver")
        )
        data = json.dumps(
            {"__type": f"com.amazonaws.sqs#{code}", "message": f"injected {fault}"}
        ).encode()
        self._reply(
            status,
            [
                ("Content-Type", "application/x-amz-json-1.0"),
                ("x-amzn-query-error", f"{code};{sender}"),
            ],
            data,
        )


# --------------------------------------------------------------------------- moto's SQS races

_SQS_LOCKED = (
    "send_message",
    "send_message_batch",
    "receive_message",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "get_queue_attributes",
)


def serialize_moto_sqs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the in-process moto's SQS queue operations one-at-a-time, for this test.

    moto 5.2.5's SQS is not thread-safe, and concurrent callers (several pollers plus a
    producer) hit it: two receives redriving the same message make one of them fail with
    ``list.remove(x): x not in list`` (HTTP 500) *after* marking its batch received, so
    those messages come back with a receive count nobody saw and can reach the DLQ
    uncounted; a delete rebuilds the message list and drops a message sent meanwhile;
    and two receives can hand out one message twice. Real SQS does none of this. The
    lock is released while a long poll waits, as SQS would let other calls through.
    """
    from moto.sqs import models  # noqa: PLC0415 - slow import, only when used

    lock = threading.RLock()

    def locked(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(*args, **kwargs)

        return call

    for name in _SQS_LOCKED:
        monkeypatch.setattr(models.SQSBackend, name, locked(getattr(models.SQSBackend, name)))
    wait = models.Queue.wait_for_messages

    def wait_unlocked(queue: Any, timeout: int) -> None:
        lock.release()  # held exactly once: receive_message is never nested
        try:
            wait(queue, timeout)
        finally:
            lock.acquire()

    monkeypatch.setattr(models.Queue, "wait_for_messages", wait_unlocked)
