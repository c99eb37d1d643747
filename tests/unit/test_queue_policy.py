"""The shipped SQS queue policy: only SNS, only for the SES event topic, may send; and the
docs/events.md shows the file as it is (a CloudFormation template substitutes the same text)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "deploy" / "sqs-queue-policy.json"
QUEUE = "arn:aws:sqs:eu-west-1:123456789012:ses-deliverability-exporter"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events"


def policy() -> dict[str, Any]:
    """The policy with its Fn::Sub placeholders filled in."""
    text = POLICY.read_text().replace("${QueueArn}", QUEUE).replace("${TopicArn}", TOPIC)
    assert "${" not in text, "a placeholder other than ${QueueArn} and ${TopicArn}"
    return json.loads(text)  # type: ignore[no-any-return]


def statements(effect: str) -> list[dict[str, Any]]:
    return [s for s in policy()["Statement"] if s["Effect"] == effect]


def test_only_sns_may_send_and_only_for_the_event_topic() -> None:
    (allow,) = statements("Allow")
    assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Resource"] == QUEUE
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": TOPIC}}


def test_every_other_sender_is_denied() -> None:
    """Negated operators match a request without aws:SourceArn, so a direct SendMessage by
    any principal of the account is denied as well as another topic's."""
    (deny,) = statements("Deny")
    assert deny["Principal"] == "*"
    assert deny["Action"] == "sqs:SendMessage"
    assert deny["Resource"] == QUEUE
    assert deny["Condition"] == {"ArnNotEquals": {"aws:SourceArn": TOPIC}}


def test_the_docs_show_the_file_as_it_is() -> None:
    readme = (ROOT / "docs" / "events.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", readme, flags=re.DOTALL)
    assert POLICY.read_text() in blocks
