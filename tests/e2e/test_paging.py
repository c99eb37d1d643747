"""End to end with the real stack: BIND `named` -> exporter -> Prometheus (the shipped rules)
-> Alertmanager -> a webhook receiver in the test. Also moto (SQS/SES/STS) and the SESv2
fake, so every dashboard panel's query can be run against this Prometheus.

Break the MAIL FROM A record with a dynamic update -> the alert reaches the webhook with the
domain and its owner's `team` in its labels. A burst of 5.1.8 bounces through SQS meanwhile
is inhibited by it (Alertmanager runs the inhibition rules of docs/alertmanager.md): firing in
Prometheus, suppressed in Alertmanager, absent at the webhook. Restore the record -> the
resolved notification arrives, and the bounce alert, no longer inhibited, pages. The rules
are the shipped file with every `for:` set to 0s (promtool pins the real durations,
tests/unit/test_rules*.py); intervals are 1 s. Bounded waits; every process is stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import dns.query
import dns.rcode
import dns.update
import pytest
import trustme
import yaml
from conftest import DEMO_ZONES, free_port, start_named, stop_named
from fakes.sesv2_server import Sesv2Fake
from helpers.daemon import WriteConfig
from helpers.moto_fixtures import Moto, bounce_553_518, daemon_env, event, sns_envelope
from integration.smtp_server import Recorder, SmtpServer, TlsFiles, start_smtp

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules" / "ses-deliverability.rules.yml"
ALERTMANAGER_DOC = ROOT / "docs" / "alertmanager.md"
DYN_ZONE = """$ORIGIN paging.test.
$TTL 1
@       SOA ns1 hostmaster 1 60 60 60 1
@       NS  ns1
ns1     A   192.0.2.1
@       MX  10 mx1.paging.test.
mx1     A   192.0.2.2
@       TXT "v=spf1 include:amazonses.com -all"
_dmarc  TXT "v=DMARC1; p=reject; rua=mailto:dmarc@paging.test"
mail    A   192.0.2.3
mail    MX  10 feedback-smtp.us-east-1.amazonses.com.
mail    TXT "v=spf1 include:amazonses.com ~all"
"""


class Webhook:
    """Alertmanager's receiver: every POSTed notification, kept in order."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                outer.notifications.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, name: str, status: str) -> list[dict[str, Any]]:
        return [
            a
            for n in list(self.notifications)
            for a in n["alerts"]
            if a["labels"].get("alertname") == name and a["status"] == status
        ]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(predicate: Callable[[], Any], what: str, timeout: float, logs: list[Path]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.25)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-2500:]}" for p in logs if p.exists())
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{tails}")


def spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def prom_query(port: int, expr: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


@pytest.fixture(name="stack")
def _stack(moto: Moto, exporter_config: WriteConfig, tmp_path: Path) -> Iterator[dict[str, Any]]:
    for binary in ("prometheus", "prometheus-alertmanager"):
        if shutil.which(binary) is None:
            pytest.fail(
                f"{binary} is not installed: run the README's test command (it apt-installs it)"
            )
    processes: list[subprocess.Popen[bytes]] = []
    named = None
    smtp: SmtpServer | None = None
    webhook = Webhook()
    sesv2 = Sesv2Fake()
    now = time.time()
    sesv2.suppress("gone@corp.example", "BOUNCE", now - 600)
    sesv2.suppress("angry@corp.example", "COMPLAINT", now - 60)
    sesv2.recommendations.append(
        {
            "ResourceArn": "arn:aws:ses:us-east-1:123456789012:identity/paging.test",
            "Type": "DMARC",
            "Description": "DMARC policy is none",
            "Status": "OPEN",
            "CreatedTimestamp": now - 3600,
            "LastUpdatedTimestamp": now - 3600,
            "Impact": "HIGH",
        }
    )
    # One failed call (not retried by botocore), so the API-error panel has a series.
    sesv2.fail("/v2/email/vdm/recommendations", code="BadRequestException", status=400, times=1)
    sesv2.start()
    try:
        # SMTP: a real STARTTLS server whose CA the exporter is told to trust.
        ca = trustme.CA()
        server_tls = trustme_server_context(ca)
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        iam = moto.client("iam")
        iam.create_user(UserName="ses-smtp-user")
        key = iam.create_access_key(UserName="ses-smtp-user")["AccessKey"]
        boto3.session.Session(
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
        ).client("sts", endpoint_url=moto.endpoint, region_name="us-east-1").get_caller_identity()
        smtp = start_smtp(Recorder("AKIASMTPUSER", "smtp-password"), tls=server_tls)
        # CloudWatch: SES's own reputation figures.
        for metric, value in (
            ("Reputation.BounceRate", 0.012),
            ("Reputation.ComplaintRate", 0.0002),
        ):
            moto.client("cloudwatch").put_metric_data(
                Namespace="AWS/SES",
                MetricData=[
                    {"MetricName": metric, "Value": value, "Timestamp": dt.datetime.now(dt.UTC)}
                ],
            )
        # DNS: a dynamic zone next to the demo zones (named's readiness probe needs those).
        zone = tmp_path / "run" / "paging.test.zone"
        zone.parent.mkdir(parents=True)
        zone.write_text(DYN_ZONE)
        zones = {p.name.removesuffix(".zone"): p for p in DEMO_ZONES.glob("*.zone")}
        named = start_named(
            tmp_path / "named",
            zones,
            extra_conf=f'zone "paging.test" {{ type primary; file "{zone}"; allow-update {{ 127.0.0.1; }}; }};',
        )
        # AWS: an SES identity (discovery), an events queue with a DLQ.
        moto.client("ses").verify_domain_identity(Domain="paging.test")
        sqs = moto.client("sqs")
        dlq = sqs.create_queue(QueueName="ses-events-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue = sqs.create_queue(
            QueueName="ses-events",
            Attributes={
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
            },
        )["QueueUrl"]
        exporter_port, prom_port, am_port = free_port(), free_port(), free_port()
        config = exporter_config(
            f"""
[[smtp_credentials]]
name = "relay"
region = "us-east-1"
iam_user = "ses-smtp-user"
username_env = "TEST_SMTP_USERNAME"
password_env = "TEST_SMTP_PASSWORD"
endpoint = "127.0.0.1:{smtp.port}"
ca_file = "{tmp_path / "ca.pem"}"
probe_interval_seconds = 5
[[domains]]
name = "paging.test"
mail_from = "mail.paging.test"
region = "us-east-1"
labels = {{ team = "mail-platform" }}
""",
            path=tmp_path / "exporter.toml",
            nameserver=named.nameserver,
            port=exporter_port,
            interval_seconds=1,
            json_log=False,
            queues=[queue],
            aws={"interval_seconds": 10, "api_calls_per_second": 50, "reputation_metrics": True},
        ).path
        env = daemon_env(
            tmp_path,
            moto.endpoint,
            AWS_ENDPOINT_URL_SESV2=sesv2.endpoint,
            TEST_SMTP_USERNAME="AKIASMTPUSER",
            TEST_SMTP_PASSWORD="smtp-password",
        )
        logs = [
            tmp_path / "exporter.log",
            tmp_path / "prometheus.log",
            tmp_path / "alertmanager.log",
        ]
        processes.append(
            spawn([sys.executable, "-m", "exporter", "run", "--config", str(config)], logs[0], env)
        )
        # The shipped rules, every `for:` 0s: promtool pins the real durations.
        rules = yaml.safe_load(RULES.read_text())
        for group in rules["groups"]:
            group["interval"] = "1s"
            for rule in group["rules"]:
                if "alert" in rule:
                    rule["for"] = "0s"
        (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
        (tmp_path / "prometheus.yml").write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(tmp_path / "rules.yml")],
                    "alerting": {
                        "alertmanagers": [
                            {"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}
                        ]
                    },
                    "scrape_configs": [
                        {
                            "job_name": "ses-deliverability-exporter",
                            "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                        }
                    ],
                }
            )
        )
        (tmp_path / "alertmanager.yml").write_text(
            yaml.safe_dump(
                {
                    "route": {
                        "receiver": "test",
                        "group_by": ["alertname", "domain"],
                        "group_wait": "1s",
                        "group_interval": "1s",
                        "repeat_interval": "1h",
                    },
                    "receivers": [
                        {
                            "name": "test",
                            "webhook_configs": [
                                {"url": f"http://127.0.0.1:{webhook.port}/", "send_resolved": True}
                            ],
                        }
                    ],
                    "inhibit_rules": documented_inhibit_rules(),
                }
            )
        )
        processes.append(
            spawn(
                [
                    "prometheus-alertmanager",
                    f"--config.file={tmp_path / 'alertmanager.yml'}",
                    f"--storage.path={tmp_path / 'am-data'}",
                    f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address=",
                ],
                logs[2],
            )
        )
        processes.append(
            spawn(
                [
                    "prometheus",
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                logs[1],
            )
        )
        yield {
            "named": named,
            "zone": "paging.test",
            "webhook": webhook,
            "prom_port": prom_port,
            "am_port": am_port,
            "exporter_port": exporter_port,
            "queue": queue,
            "sqs": sqs,
            "logs": logs,
        }
    finally:
        for process in reversed(processes):
            stop(process)
        if named is not None:
            stop_named(named)
        if smtp is not None:
            smtp.stop()
        sesv2.stop()
        webhook.stop()


def documented_inhibit_rules() -> list[dict[str, Any]]:
    """The inhibition rules users are told to add (docs/alertmanager.md), as written there."""
    (block,) = re.findall(
        r"```yaml\n(inhibit_rules:.*?)```", ALERTMANAGER_DOC.read_text(), flags=re.DOTALL
    )
    return yaml.safe_load(block)["inhibit_rules"]  # type: ignore[no-any-return]


def am_alerts(port: int, name: str) -> list[dict[str, Any]]:
    """Alertmanager's view of the alerts named ``name`` (status.inhibitedBy when inhibited)."""
    query = urllib.parse.urlencode({"filter": f'alertname="{name}"'})
    url = f"http://127.0.0.1:{port}/api/v2/alerts?{query}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def trustme_server_context(ca: trustme.CA) -> TlsFiles:
    """Server side for 127.0.0.1 signed by ``ca``; the client side is the exporter's ca_file."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return TlsFiles(server=server, client=client)


def update(stack: dict[str, Any], *, add: bool) -> None:
    message = dns.update.UpdateMessage(stack["zone"])
    if add:
        message.add("mail", 1, "A", "192.0.2.3")
    else:
        message.delete("mail", "A")
    named = stack["named"]
    response = dns.query.tcp(message, named.host, port=named.port, timeout=5)
    assert response.rcode() == dns.rcode.NOERROR


def event_wave(wave: int) -> list[str]:
    """Sends, deliveries, 5.1.8 bounces, complaints, delays, a reject, a rendering failure, one
    malformed and one ignored body."""
    rcpt = [f"user{wave}-{i}@corp.example" for i in range(4)]
    documents = [event("raw-event-send", recipients=[r], from_domain="paging.test") for r in rcpt]
    documents += [
        event("raw-event-delivery", recipients=[r], from_domain="paging.test") for r in rcpt[:2]
    ]
    documents += [bounce_553_518(recipients=[r], from_domain="paging.test") for r in rcpt[2:]]
    documents.append(
        event("raw-event-complaint-abuse", recipients=[rcpt[0]], from_domain="paging.test")
    )
    documents.append(
        event(
            "raw-event-deliverydelay-transientcommunicationfailure",
            recipients=[rcpt[1]],
            from_domain="paging.test",
        )
    )
    documents.append(
        event("raw-event-reject-bad-content", recipients=[rcpt[2]], from_domain="paging.test")
    )
    documents.append(
        event("raw-event-rendering-failure", recipients=[rcpt[3]], from_domain="paging.test")
    )
    bodies = [sns_envelope(json.dumps(d)) for d in documents]
    bodies.append(f"not an SES event, wave {wave}")
    bodies.append(
        json.dumps(
            {
                "Type": "SubscriptionConfirmation",
                "MessageId": f"sub-{wave}",
                "TopicArn": "arn",
                "Message": "x",
            }
        )
    )
    return bodies


def test_mail_from_break_pages_inhibits_its_bounces_and_recovers(stack: dict[str, Any]) -> None:
    webhook: Webhook = stack["webhook"]
    logs = stack["logs"]
    prom = stack["prom_port"]
    name = "DeliverabilityMailFromUnresolvable"

    wait_for(
        lambda: prom_query(prom, 'deliverability_mail_from_resolvable{domain="paging.test"} == 1')[
            "data"
        ]["result"],
        "Prometheus to scrape the healthy MAIL FROM",
        60,
        logs,
    )
    assert not webhook.alerts(name, "firing")

    update(stack, add=False)  # break: the MAIL FROM loses its A record
    fired = wait_for(
        lambda: webhook.alerts(name, "firing"), "the MAIL FROM alert at the webhook", 90, logs
    )
    labels = fired[0]["labels"]
    assert labels["domain"] == "paging.test"
    assert labels["mail_from_domain"] == "mail.paging.test"
    assert labels["team"] == "mail-platform"  # the owner label, joined from domain_info
    assert labels["severity"] == "critical"
    assert "553 5.1.8" in fired[0]["annotations"]["description"]
    assert fired[0]["annotations"]["runbook_url"].endswith("#deliverabilitymailfromunresolvable")

    # A burst of 5.1.8 bounces while the MAIL FROM is broken: the bounce alert fires in
    # Prometheus, but the MAIL FROM page explains it, so Alertmanager inhibits it. Events come
    # in waves, so every counter has several samples; the mix covers every dashboard panel.
    bounces = "DeliverabilityAuthenticationBounces"
    for wave in range(3):
        for body in event_wave(wave):
            stack["sqs"].send_message(QueueUrl=stack["queue"], MessageBody=body)
        time.sleep(3)
    wait_for(
        lambda: prom_query(prom, f'ALERTS{{alertname="{bounces}", alertstate="firing"}}')["data"][
            "result"
        ],
        "the authentication-bounce alert to fire in Prometheus",
        90,
        logs,
    )
    inhibited = wait_for(
        lambda: [a for a in am_alerts(stack["am_port"], bounces) if a["status"]["inhibitedBy"]],
        "Alertmanager to inhibit the authentication-bounce alert",
        60,
        logs,
    )
    assert inhibited[0]["labels"]["domain"] == "paging.test"
    assert inhibited[0]["status"]["state"] == "suppressed"
    time.sleep(3)  # group_wait and group_interval are 1 s: a notification would be out by now
    assert not webhook.alerts(bounces, "firing"), "an inhibited alert reached the webhook"

    update(stack, add=True)  # restore
    wait_for(lambda: webhook.alerts(name, "resolved"), "the resolved notification", 90, logs)
    # The cause is gone, the bounces stay in their window: now they page.
    burst = wait_for(
        lambda: webhook.alerts(bounces, "firing"), "the bounce alert after the inhibition", 90, logs
    )
    assert burst[0]["labels"]["category"] == "sender_domain_dns"
    assert burst[0]["labels"]["domain"] == "paging.test"
    assert burst[0]["labels"]["team"] == "mail-platform"

    # Every dashboard panel's query runs on this Prometheus and returns data.
    sys.path.insert(0, str(ROOT))
    from dashboards.generate import panel_queries  # noqa: PLC0415 - the generator, at the repo root

    empty = []
    for uid, title, expr in panel_queries():
        result = prom_query(prom, expr)
        assert result["status"] == "success", (uid, title, expr, result)
        if not result["data"]["result"]:
            empty.append((uid, title, expr))
    assert not empty, "panels without data:\n" + "\n".join(map(str, empty))
