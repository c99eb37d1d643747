"""The SES event consumer as a user runs it: the daemon as a subprocess against moto (server
mode, loopback) and `named`, scraped over HTTP; and the `replay` / `classify-bounce` CLIs.

The daemon finds moto through the plain AWS_ENDPOINT_URL variable, with dummy credentials
and no AWS config files, so nothing here can reach AWS.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port
from exposition import Samples, parse_samples
from fakes.sesv2_server import Sesv2Fake
from helpers.daemon import WriteConfig, http_get, reap, reaped, run_cli
from helpers.moto_fixtures import (
    BOUNCE_553_518,
    DATA,
    Moto,
    bounce_553_518,
    daemon_env,
    event,
    sns_envelope,
)

from exporter.events.pipeline import EventPipeline
from exporter.sources.sqs import SqsConsumer, SqsStats

pytestmark = pytest.mark.e2e

SENDING = "healthy.example"
HEALTHY = """
[[domains]]
name = "healthy.example"
mail_from = "mail.healthy.example"
region = "us-east-1"
dkim_tokens = ["h1healthyaaaaaaaaaaaaaaaaaaaaaaa", "h2healthybbbbbbbbbbbbbbbbbbbbbbb", "h3healthyccccccccccccccccccccccc"]
"""

# `python -m exporter run ...` exactly (runpy runs exporter/__main__.py), plus one
# observation: once Daemon.shutdown() has returned (pollers joined, HTTP server closed),
# the final counters go to a JSON file, since no scrape can see them any more.
FINAL_COUNTS_RUNNER = """
import json
import runpy
import sys
from pathlib import Path

from exporter import app

out = Path(sys.argv.pop(1))
original_shutdown = app.Daemon.shutdown


def shutdown(self):
    original_shutdown(self)
    counts = self.pipeline.snapshot()
    out.write_text(json.dumps({
        "events": sum(counts.events.values()),
        "duplicates": counts.duplicates,
        "malformed": sum(counts.malformed.values()),
        "sqs": {
            name: {"received": s.received, "deleted": s.deleted, "delete_failures": s.delete_failures}
            for name, s in self.events.stats.snapshot().items()
        },
    }))


app.Daemon.shutdown = shutdown
sys.argv[0] = "exporter"
runpy.run_module("exporter", run_name="__main__", alter_sys=True)
"""


class Daemon:
    def __init__(self, process: subprocess.Popen[str], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    def get(self, path: str) -> tuple[int, str]:
        return http_get(self.port, path)

    def scrape(self) -> tuple[str, Samples]:
        _, body = self.get("/metrics")
        return body, parse_samples(body)

    def wait_for(
        self, predicate: Callable[[Samples], bool], what: str, timeout: float = 60.0
    ) -> tuple[str, Samples]:
        """Scrape until predicate(samples) holds; returns that scrape (body, samples)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"exporter exited with {self.process.returncode} waiting for {what}; "
                    f"log tail:\n{self.log.read_text()[-3000:]}"
                )
            try:
                body, samples = self.scrape()
                if predicate(samples):
                    return body, samples
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for {what}; log tail:\n{self.log.read_text()[-3000:]}")

    def sigterm(self) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds to exit), failing after 10 s."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit within 10 s of SIGTERM; log:\n{self.log.read_text()[-3000:]}")
        return code, time.monotonic() - started


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def total(samples: Samples, name: str, **match: str) -> float:
    return sum(
        v
        for (n, labels), v in samples.items()
        if n == name and all(dict(labels).get(k) == want for k, want in match.items())
    )


def promtool_check(body: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(
            "promtool is not installed: run the README's test command (it apt-installs prometheus)"
        )
    lint = subprocess.run(
        [promtool, "check", "metrics"],
        input=body,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.fixture(name="spawn")
def _spawn(exporter_config: WriteConfig, tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Start daemons (killed at teardown if still running) pointed at an SQS endpoint.
    ``header`` goes to the exporter_config fixture (nameserver, timeout_seconds, ...)."""
    processes: list[subprocess.Popen[str]] = []

    def spawn(
        *,
        queues: list[str],
        endpoint: str,
        pollers: int = 2,
        final_counts: Path | None = None,
        provider_lookup: bool = False,
        **header: Any,
    ) -> Daemon:
        workdir = tmp_path / f"daemon{len(processes)}"
        config = exporter_config(
            HEALTHY,
            path=workdir / "config.toml",
            queues=queues,
            events={"pollers": pollers, "provider_lookup": provider_lookup},
            **header,
        )
        runner: list[str] = ["-m", "exporter"]
        if final_counts is not None:
            script = workdir / "final_counts_runner.py"
            script.write_text(FINAL_COUNTS_RUNNER)
            runner = [str(script), str(final_counts)]
        daemon = launch(workdir, config.port, endpoint, runner, "run", "--config", str(config.path))
        processes.append(daemon.process)
        return daemon

    yield spawn
    for process in processes:
        reap(process)


def launch(
    workdir: Path,
    port: int,
    endpoint: str,
    runner: list[str],
    *args: str,
    extra_env: dict[str, str] | None = None,
) -> Daemon:
    """`python <runner> <args>` with dummy AWS credentials pointed at ``endpoint`` and no
    AWS config files (nothing can reach AWS); output to ``workdir``/exporter.log."""
    env = daemon_env(workdir, endpoint, **(extra_env or {}))
    log = workdir / "exporter.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, *runner, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    return Daemon(process, port, log)


def mixed_bodies(n: int) -> list[str]:
    """n distinct events from healthy.example: sends and deliveries, raw and in envelopes."""
    bodies = []
    for i in range(n):
        kind = "raw-event-send" if i % 2 else "raw-event-delivery"
        text = json.dumps(event(kind, from_domain=SENDING))
        bodies.append(sns_envelope(text) if i % 3 == 0 else text)
    return bodies


# --------------------------------------------------------------------------- 4. SIGTERM


def test_sigterm_mid_batch_loses_nothing(
    moto: Moto, spawn: Callable[..., Daemon], tmp_path: Path
) -> None:
    """SIGTERM while the daemon is draining 200 messages: it exits 0 within 10 s, leaves no
    message in flight (the batch in hand is counted and deleted), and what it counted plus
    what a fresh consumer then drains is exactly 200: none lost, none counted twice.
    The exposition served meanwhile passes `promtool check metrics`."""
    url, _ = moto.create_queue("ses-events")
    moto.send_bodies(url, mixed_bodies(200))
    assert moto.depth(url) == (200, 0)
    final = tmp_path / "final.json"
    daemon = spawn(queues=[url], endpoint=moto.endpoint, final_counts=final)

    body, _ = daemon.wait_for(
        lambda s: total(s, "deliverability_sqs_messages_received_total") > 0,
        "the first messages to be consumed",
    )
    code, seconds = daemon.sigterm()
    assert code == 0, daemon.log.read_text()[-3000:]
    assert seconds < 10

    first = json.loads(final.read_text())
    queue = first["sqs"]["ses-events"]
    assert 0 < first["events"] < 200, "SIGTERM was not sent mid-drain"
    # Everything received was deleted; moto, like SQS, may hand one message to both pollers:
    # that copy is a duplicate, not a second event.
    assert queue["received"] == queue["deleted"] == first["events"] + first["duplicates"]
    assert (first["malformed"], queue["delete_failures"]) == (0, 0)
    assert moto.depth(url) == (200 - first["events"], 0)  # nothing left in flight

    pipeline = EventPipeline(known_sending_domains=[SENDING])
    consumer = SqsConsumer(
        client=moto.client("sqs"),
        queue_url=url,
        queue_name="ses-events",
        pipeline=pipeline,
        stats=SqsStats(),
        stop=threading.Event(),
        pollers=1,
        wait_time_seconds=0,
    )
    for _ in range(60):
        consumer.poll_once()
        if moto.depth(url) == (0, 0):
            break
    assert moto.depth(url) == (0, 0)
    second = pipeline.snapshot()
    assert first["events"] + sum(second.events.values()) == 200
    assert second.duplicates == 0

    log = [json.loads(line) for line in daemon.log.read_text().splitlines() if line[:1] == "{"]
    assert any(line.get("event") == "exporter stopped" for line in log)
    promtool_check(body)


def test_silent_resolver_holds_no_batch_and_no_sigterm(
    moto: Moto, spawn: Callable[..., Daemon], silent_udp: str
) -> None:
    """Provider lookups on, and the resolver never answers: 200 messages, each to a new
    recipient domain, are still consumed (recipient_provider "unknown"), the lookups that
    were tried show in deliverability_dns_queries_total{record_type="MX"} as timeouts, and
    SIGTERM mid-drain exits 0 within 10 s."""
    url, _ = moto.create_queue("ses-events")
    moto.send_bodies(
        url,
        [
            json.dumps(event("raw-event-delivery", recipients=[f"u@d{i}.example"]))
            for i in range(200)
        ],
    )
    daemon = spawn(
        queues=[url],
        endpoint=moto.endpoint,
        nameserver=silent_udp,
        timeout_seconds=0.5,  # it never answers: time out quickly
        provider_lookup=True,
    )
    _, samples = daemon.wait_for(
        lambda s: (
            total(s, "deliverability_ses_delivered_recipients_total") >= 20
            and total(s, "deliverability_dns_queries_total", record_type="MX") > 0
        ),
        "deliveries counted past a silent resolver",
    )
    assert total(samples, "deliverability_dns_queries_total", record_type="MX") == total(
        samples, "deliverability_dns_queries_total", record_type="MX", outcome="timeout"
    )
    delivered = total(samples, "deliverability_ses_delivered_recipients_total")
    assert (
        total(
            samples, "deliverability_ses_delivered_recipients_total", recipient_provider="unknown"
        )
        == delivered
    )
    code, seconds = daemon.sigterm()
    assert code == 0, daemon.log.read_text()[-3000:]
    assert seconds < 10


# --------------------------------------------------------------------------- 5. redrive gauge


def test_redrive_policy_gauge_per_queue_and_event_counters(
    moto: Moto, spawn: Callable[..., Daemon]
) -> None:
    """Two queues, one with a redrive policy (-> deliverability_sqs_queue_redrive_policy 1)
    and one without (-> 0); events from both are counted under the configured sending
    domain, each queue's collector is up, and promtool accepts the exposition."""
    _, dlq_arn = moto.create_queue("ses-events-dlq")
    with_dlq, _ = moto.create_queue("ses-events", dead_letter_arn=dlq_arn)
    without_dlq, _ = moto.create_queue("ses-events-nodlq")
    moto.send_bodies(with_dlq, mixed_bodies(6))
    moto.send_bodies(
        without_dlq,
        [
            json.dumps(bounce_553_518(from_domain=SENDING)),
            "not an event",
        ],
    )
    daemon = spawn(queues=[with_dlq, without_dlq], endpoint=moto.endpoint)

    redrive = "deliverability_sqs_queue_redrive_policy"
    body, samples = daemon.wait_for(
        lambda s: (
            value(s, redrive, queue="ses-events-nodlq") is not None
            and value(s, redrive, queue="ses-events") is not None
            and total(s, "deliverability_ses_events_total") == 7
            and total(s, "deliverability_ses_events_malformed_total") == 1
            # an event is counted before its message is deleted: wait for the deletes too
            and total(s, "deliverability_sqs_messages_deleted_total", queue="ses-events") >= 6
        ),
        "both queues' attributes, 7 events and their deletes",
    )
    assert value(samples, redrive, queue="ses-events") == 1
    assert value(samples, redrive, queue="ses-events-nodlq") == 0
    for queue in ("ses-events", "ses-events-nodlq"):
        assert value(samples, "deliverability_collector_up", collector=f"sqs:{queue}") == 1
    deleted = value(samples, "deliverability_sqs_messages_deleted_total", queue="ses-events")
    assert deleted is not None
    assert deleted >= 6  # a copy handed to both pollers is deleted twice, counted once
    assert total(samples, "deliverability_ses_events_total", sending_domain=SENDING) == 7
    assert (
        total(
            samples,
            "deliverability_ses_bounced_recipients_total",
            category="sender_domain_dns",
            status_class="5xx",
            sending_domain=SENDING,
        )
        == 1
    )
    assert value(samples, "deliverability_ses_events_malformed_total", reason="not_json") == 1
    promtool_check(body)
    code, _ = daemon.sigterm()
    assert code == 0


# --------------------------------------------------------------------------- discovered sender


def test_discovered_identity_labels_its_events(
    moto: Moto, exporter_config: WriteConfig, tmp_path: Path
) -> None:
    """No [[domains]] at all: the SES identity discovered.example is found by discovery
    (moto's SES v1, the SESv2 fake for account state), and the events it then sends carry
    sending_domain="discovered.example"; a sender that is no identity stays "other"."""
    moto.client("ses").verify_domain_identity(Domain="discovered.example")
    url, _ = moto.create_queue("ses-events")
    config = exporter_config(
        queues=[url],
        interval_seconds=None,
        aws={"api_calls_per_second": 50, "recommendations": False, "suppression_list": False},
    )
    with Sesv2Fake() as sesv2:
        daemon = launch(
            tmp_path,
            config.port,
            moto.endpoint,
            ["-m", "exporter"],
            "run",
            "--config",
            str(config.path),
            extra_env={"AWS_ENDPOINT_URL_SESV2": sesv2.endpoint},
        )
        with reaped(daemon.process):
            daemon.wait_for(
                lambda s: total(s, "deliverability_ses_domain_identities") == 1,
                "the identity to be discovered",
            )
            moto.send_bodies(
                url,
                [
                    json.dumps(bounce_553_518(from_domain="discovered.example")),
                    json.dumps(event("raw-event-delivery", from_domain="discovered.example")),
                    json.dumps(event("raw-event-delivery", from_domain="unlisted.example")),
                ],
            )
            body, samples = daemon.wait_for(
                lambda s: total(s, "deliverability_ses_events_total") == 3, "three events"
            )
            events = "deliverability_ses_events_total"
            assert total(samples, events, sending_domain="discovered.example") == 2
            assert total(samples, events, sending_domain="other") == 1
            bounced = "deliverability_ses_bounced_recipients_total"
            assert total(samples, bounced, sending_domain="discovered.example") == 1
            promtool_check(body)
            code, _ = daemon.sigterm()
            assert code == 0


# --------------------------------------------------------------------------- 6. unreachable


def test_unreachable_sqs_is_down_while_dns_stays_up(spawn: Callable[..., Daemon]) -> None:
    """An SQS endpoint nobody listens on (a closed loopback port): the queue's collector
    reports up 0 with receive errors counted, the DNS collector is still up, /readyz is
    ready, and SIGTERM still exits 0 within 10 s."""
    closed = free_port()
    url = f"http://127.0.0.1:{closed}/123456789012/ses-events"
    daemon = spawn(queues=[url], endpoint=f"http://127.0.0.1:{closed}")
    _, samples = daemon.wait_for(
        lambda s: (
            total(s, "deliverability_sqs_receive_errors_total", queue="ses-events") > 0
            and value(s, "deliverability_collector_up", collector="dns") == 1
        ),
        "a failed receive and a successful DNS cycle",
    )
    assert value(samples, "deliverability_collector_up", collector="sqs:ses-events") == 0
    assert value(samples, "deliverability_collector_up", collector="dns") == 1
    assert value(samples, "deliverability_collector_failures_total", collector="sqs:ses-events")
    assert daemon.get("/readyz")[0] == 200
    code, _ = daemon.sigterm()
    assert code == 0


# --------------------------------------------------------------------------- 9. replay CLI

REPLAY_DIR_FILES = [
    "raw-event-send",
    "raw-event-delivery",
    "raw-event-bounce-permanent-general",
    "raw-notification-complaint-abuse-feedback-report",
    "sns-notification-bounce-permanent-onaccountsuppressionlist",
    "lambda-sns-record-event-send",
    "sns-subscription-confirmation",
    "eventbridge-ses-sending-status-disabled",
    "sns-notification-plaintext-message-raw-delivery-disabled",
    "raw-event-reject-bad-content",
    "raw-event-rendering-failure",
]


def replay(*paths: Path) -> Samples:
    result = run_cli("replay", *map(str, paths))
    assert result.returncode == 0, result.stderr
    return parse_samples(result.stdout)


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    totals: Counter[str] = Counter()
    for (n, labels), v in samples.items():
        if n == name and v:
            totals[dict(labels)[label]] += v
    return dict(totals)


def test_replay_directory_of_corpus_payloads(tmp_path: Path) -> None:
    """`replay DIR` reads one JSON document per file in every accepted shape (raw records,
    SNS envelopes, a Lambda SNS record, EventBridge) and prints the counters: events by
    type, ignored and malformed by reason, rejects and rendering failures per recipient;
    promtool accepts the exposition. Exit 1: the file whose one document is malformed gave
    no event, and stderr names it."""
    directory = tmp_path / "archive"
    directory.mkdir()
    for name in REPLAY_DIR_FILES:
        shutil.copy(DATA / f"{name}.json", directory)
    result = run_cli("replay", str(directory))
    assert result.returncode == 1, result.stderr
    assert "sns-notification-plaintext-message-raw-delivery-disabled.json: no readable" in (
        result.stderr
    )
    promtool_check(result.stdout)
    samples = parse_samples(result.stdout)
    assert by_label(samples, "deliverability_ses_events_total", "event_type") == {
        "send": 2,
        "delivery": 1,
        "bounce": 2,
        "complaint": 1,
        "reject": 1,
        "rendering_failure": 1,
    }
    for family in ("rejected", "rendering_failed"):
        name = f"deliverability_ses_{family}_recipients_total"
        assert by_label(samples, name, "recipient_domain") == {"example.com": 1}
        assert by_label(samples, name, "sending_domain") == {"other": 1}
    assert by_label(samples, "deliverability_ses_events_ignored_total", "reason") == {
        "sns_subscription": 1,
        "eventbridge_not_email_event": 1,
    }
    assert by_label(samples, "deliverability_ses_events_malformed_total", "reason") == {
        "sns_message_not_json": 1
    }
    assert by_label(samples, "deliverability_ses_bounced_recipients_total", "bounce_subtype") == {
        "General": 1,
        "OnAccountSuppressionList": 1,
    }
    assert by_label(samples, "deliverability_ses_sent_recipients_total", "recipient_domain") == {
        "example.com": 1,
        "simulator.amazonses.com": 1,
    }
    # No config: no sending domain is known, so every event is sending_domain="other".
    assert by_label(samples, "deliverability_ses_events_total", "sending_domain") == {"other": 8}


def test_replay_json_lines_and_json_array(tmp_path: Path) -> None:
    """`replay` of a JSON-lines archive (one body per line, blank lines skipped, a bad line
    counted malformed) and of a JSON array (documents, SNS envelopes and string bodies);
    the bounce in the array is classified (553 5.1.8 -> sender_domain_dns, 5xx)."""
    lines = tmp_path / "events.jsonl"
    docs = [event("raw-event-send"), event("raw-event-send"), event("raw-event-delivery")]
    lines.write_text(
        "\n".join([*map(json.dumps, docs), "", "this line is not JSON", json.dumps(docs[0])]) + "\n"
    )
    samples = replay(lines)
    assert by_label(samples, "deliverability_ses_events_total", "event_type") == {
        "send": 2,
        "delivery": 1,
    }
    assert value(samples, "deliverability_ses_events_duplicate_total") == 1
    assert by_label(samples, "deliverability_ses_events_malformed_total", "reason") == {
        "not_json": 1
    }

    array = tmp_path / "events.json"
    bounce_553 = bounce_553_518()
    array.write_text(
        json.dumps(
            [
                event("raw-event-send"),
                json.dumps(event("raw-event-delivery")),  # a raw SQS body, as a string
                json.loads(sns_envelope(json.dumps(bounce_553))),
            ]
        )
    )
    samples = replay(array)
    assert by_label(samples, "deliverability_ses_events_total", "event_type") == {
        "send": 1,
        "delivery": 1,
        "bounce": 1,
    }
    bounced = by_label(samples, "deliverability_ses_bounced_recipients_total", "category")
    assert bounced == {"sender_domain_dns": 1}
    assert by_label(samples, "deliverability_ses_bounced_recipients_total", "status_class") == {
        "5xx": 1
    }


def test_replay_missing_path_exits_2(tmp_path: Path) -> None:
    """`replay` of a path that does not exist prints the path and exits 2, with no output."""
    missing = tmp_path / "nope.jsonl"
    result = run_cli("replay", str(missing))
    assert result.returncode == 2
    assert str(missing) in result.stderr
    assert result.stdout == ""


def test_classify_bounce_cli_553_518(tmp_path: Path) -> None:
    """`classify-bounce --json` explains a 553 5.1.8 as the sender (MAIL FROM) domain's DNS
    and exits 0."""
    result = run_cli(
        "classify-bounce",
        BOUNCE_553_518,
        "--bounce-type",
        "Permanent",
        "--status",
        "5.1.8",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    diagnosis: dict[str, Any] = json.loads(result.stdout)
    assert diagnosis["category"] == "sender_domain_dns"
    assert diagnosis["status_class"] == "5xx"
    assert str(diagnosis["smtp_code"]) == "553"
    assert diagnosis["enhanced_status"] == "5.1.8"
