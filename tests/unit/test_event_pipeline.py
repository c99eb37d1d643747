"""The pipeline counts each event once, with bounded labels, and never loses a bad body."""

from __future__ import annotations

import copy
import gc
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from exporter.events import pipeline as module
from exporter.events.pipeline import EventPipeline, Outcome

DATA = Path(__file__).resolve().parents[1] / "data" / "ses-events"


def ses_event(event_type: str, rcpt: str = "user@gmail.com", **section: Any) -> dict[str, Any]:
    key = {"Rendering Failure": "failure", "DeliveryDelay": "deliveryDelay"}.get(
        event_type, event_type.lower()
    )
    return {
        "eventType": event_type,
        "mail": {
            "timestamp": "2026-11-23T09:00:00.000Z",
            "source": "noreply@shop.example",
            "messageId": section.pop("message_id", "m-1"),
            "destination": [rcpt],
            "tags": {
                "ses:configuration-set": [section.pop("config_set", "cs")],
                "ses:from-domain": ["shop.example"],
            },
        },
        key: {"timestamp": section.pop("timestamp", "2026-11-23T09:00:01.000Z"), **section},
    }


def bounce(rcpt: str, diagnostic: str, status: str, **kw: Any) -> dict[str, Any]:
    return ses_event(
        "Bounce",
        rcpt,
        bounceType=kw.pop("bounce_type", "Permanent"),
        bounceSubType=kw.pop("bounce_subtype", "General"),
        bouncedRecipients=[{"emailAddress": rcpt, "status": status, "diagnosticCode": diagnostic}],
        **kw,
    )


def feed(pipeline: EventPipeline, *documents: dict[str, Any]) -> list[Outcome]:
    return [pipeline.handle(json.dumps(d)) for d in documents]


def test_bounce_is_classified_and_labelled() -> None:
    pipeline = EventPipeline(
        known_sending_domains=["shop.example"],
        providers_for=lambda domains: dict.fromkeys(domains, "mimecast"),
    )
    feed(
        pipeline,
        bounce(
            "a@corp.example", "smtp; 553 5.1.8 Domain of sender address does not exist", "5.1.8"
        ),
    )
    counts = pipeline.snapshot()
    ((labels, value),) = counts.bounced.items()
    assert value == 1
    assert labels == (
        "corp.example",
        "mimecast",
        "Permanent",
        "General",
        "5xx",
        "sender_domain_dns",
        "shop.example",
    )
    assert counts.events == {("bounce", "shop.example", "cs"): 1}


def test_unknown_sending_domain_and_enumerations_are_other() -> None:
    pipeline = EventPipeline(known_sending_domains=["elsewhere.example"])
    feed(
        pipeline,
        bounce(
            "a@x.example",
            "smtp; 550 5.1.1 user unknown",
            "5.1.1",
            bounce_type="Weird",
            bounce_subtype="New",
        ),
    )
    ((labels, _),) = pipeline.snapshot().bounced.items()
    assert labels[2:4] == ("other", "other")
    assert labels[-1] == "other"


def test_send_delivery_complaint_delay_tables() -> None:
    pipeline = EventPipeline(known_sending_domains=["shop.example"])
    feed(
        pipeline,
        ses_event("Send", message_id="m1"),
        ses_event(
            "Delivery", message_id="m1", processingTimeMillis=1500, recipients=["user@gmail.com"]
        ),
        ses_event(
            "Complaint",
            message_id="m2",
            complainedRecipients=[{"emailAddress": "user@yahoo.com"}],
            complaintFeedbackType="abuse",
        ),
        ses_event(
            "DeliveryDelay",
            message_id="m3",
            delayType="MailboxFull",
            delayedRecipients=[{"emailAddress": "u@corp.example"}],
        ),
    )
    counts = pipeline.snapshot()
    assert counts.sent == {("gmail.com", "unknown", "shop.example"): 1}
    assert counts.delivered == {("gmail.com", "unknown", "shop.example"): 1}
    assert counts.complained == {("yahoo.com", "unknown", "abuse", "shop.example"): 1}
    assert counts.delayed == {("corp.example", "unknown", "MailboxFull"): 1}
    assert counts.processing.count == 1
    assert counts.processing.total == 1.5


def test_rejects_and_rendering_failures_are_counted_per_recipient() -> None:
    """Both shapes name their recipients in mail.destination only; the reject reason, the
    template name and the rendering error are free text and appear in no label."""
    pipeline = EventPipeline(
        known_sending_domains=["shop.example"],
        providers_for=lambda domains: dict.fromkeys(domains, "google"),
    )
    reject = ses_event("Reject", message_id="m1", reason="Bad content")
    reject["mail"]["destination"] = ["a@gmail.com", "b@corp.example"]
    failure = ses_event(
        "Rendering Failure",
        message_id="m2",
        errorMessage="Attribute 'name' is not present in the rendering data.",
        templateName="Welcome-a@gmail.com",
    )
    feed(pipeline, reject, failure)
    counts = pipeline.snapshot()
    assert counts.rejected == {
        ("gmail.com", "google", "shop.example"): 1,
        ("corp.example", "google", "shop.example"): 1,
    }
    assert counts.rendering_failed == {("gmail.com", "google", "shop.example"): 1}
    assert counts.events == {
        ("reject", "shop.example", "cs"): 1,
        ("rendering_failure", "shop.example", "cs"): 1,
    }
    labels = {v for table in (counts.rejected, counts.rendering_failed) for k in table for v in k}
    assert not labels & {"Bad content", "Welcome-a@gmail.com"}
    assert not any("rendering data" in v for v in labels)


def test_rejects_and_rendering_failures_from_the_corpus() -> None:
    """The real SES payloads (tests/data/ses-events): one recipient each, under an unknown
    sending domain (example.com is not configured here) and the ConfigSet configuration set."""
    pipeline = EventPipeline(known_sending_domains=["shop.example"])
    for name in ("raw-event-reject-bad-content", "raw-event-rendering-failure"):
        assert pipeline.handle((DATA / f"{name}.json").read_bytes()) is Outcome.COUNTED
    counts = pipeline.snapshot()
    assert counts.rejected == {("example.com", "unknown", "other"): 1}
    assert counts.rendering_failed == {("example.com", "unknown", "other"): 1}


def test_redelivery_counts_once_but_a_second_open_counts() -> None:
    pipeline = EventPipeline()
    open_event = ses_event("Open")
    later_open = copy.deepcopy(open_event)
    later_open["open"]["timestamp"] = "2026-11-23T10:00:00.000Z"
    assert feed(pipeline, open_event, open_event, later_open) == [
        Outcome.COUNTED,
        Outcome.DUPLICATE,
        Outcome.COUNTED,
    ]
    counts = pipeline.snapshot()
    assert counts.events == {("open", "other", "cs"): 2}
    assert counts.duplicates == 1


def test_dedupe_window_is_bounded() -> None:
    pipeline = EventPipeline(dedupe_window=1000)
    for i in range(1500):
        feed(pipeline, ses_event("Send", message_id=f"m{i}"))
    assert feed(pipeline, ses_event("Send", message_id="m0")) == [Outcome.COUNTED]  # forgotten
    assert feed(pipeline, ses_event("Send", message_id="m1499")) == [Outcome.DUPLICATE]


def test_malformed_is_counted_once_per_sqs_message() -> None:
    """The queue redelivers a bad body until the redrive policy moves it: count it once."""
    pipeline = EventPipeline()
    for _ in range(3):
        assert pipeline.handle("not json", message_id="sqs-1") is Outcome.MALFORMED
    assert pipeline.handle("{}", message_id="sqs-2") is Outcome.MALFORMED
    assert pipeline.snapshot().malformed == {"not_json": 1, "unrecognised_shape": 1}


def test_ignored_messages() -> None:
    pipeline = EventPipeline()
    body = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "x",
        "TopicArn": "arn",
        "Message": "hi",
    }
    assert feed(pipeline, body) == [Outcome.IGNORED]
    assert pipeline.snapshot().ignored == {"sns_subscription": 1}


def test_configuration_sets_are_capped() -> None:
    pipeline = EventPipeline(max_configuration_sets=2)
    for i in range(5):
        feed(pipeline, ses_event("Send", message_id=f"m{i}", config_set=f"cs{i}"))
    assert {labels[2] for labels in pipeline.snapshot().events} == {"cs0", "cs1", "other"}


def test_a_configuration_set_name_ses_would_refuse_is_no_label() -> None:
    """The tag is text in the body: only a name SES accepts may become a label value."""
    pipeline = EventPipeline()
    for i, name in enumerate(["Alice Smith", "x" * 65, "cs.example", "ok_Set-1"]):
        feed(pipeline, ses_event("Send", message_id=f"m{i}", config_set=name))
    assert {labels[2] for labels in pipeline.snapshot().events} == {"invalid", "ok_Set-1"}


def test_recipient_domains_are_bounded_and_evicted_series_disappear() -> None:
    pipeline = EventPipeline(max_recipient_domains=2, watch_recipient_domains=["gmail.com"])
    for i in range(200):
        feed(pipeline, ses_event("Send", f"u@d{i}.example", message_id=f"m{i}"))
    for i in range(30):
        feed(pipeline, ses_event("Send", "u@busy.example", message_id=f"b{i}"))
    feed(pipeline, ses_event("Send", "u@gmail.com", message_id="g"))
    domains = {labels[0] for labels in pipeline.snapshot().sent}
    assert "busy.example" in domains
    assert "gmail.com" in domains
    assert "other" in domains
    assert len(domains) <= 2 + 1 + 1


def test_evicted_domains_lose_their_reject_and_rendering_failure_series() -> None:
    pipeline = EventPipeline(max_recipient_domains=1)
    feed(pipeline, ses_event("Reject", "u@first.example", message_id="r0"))
    feed(pipeline, ses_event("Rendering Failure", "u@first.example", message_id="f0"))
    for i in range(30):
        feed(pipeline, ses_event("Send", "u@busy.example", message_id=f"b{i}"))
    counts = pipeline.snapshot()
    assert counts.rejected == {}
    assert counts.rendering_failed == {}
    feed(pipeline, ses_event("Reject", "u@first.example", message_id="r1"))
    assert pipeline.snapshot().rejected == {("other", "unknown", "other"): 1}


def test_lag_is_observed_when_the_receive_time_is_known() -> None:
    pipeline = EventPipeline()
    event = ses_event("Send")
    pipeline.handle(json.dumps(event), received_at=1795424401.0 + 30)  # 2026-11-23T09:00:01Z + 30 s
    lag = pipeline.snapshot().lag
    assert lag.count == 1
    assert lag.buckets()[2] == ("15.0", 0.0)
    assert lag.buckets()[3] == ("30.0", 1.0)


def sns(
    message: dict[str, Any], message_id: str, topic: str = "arn:aws:sns:us-east-1:1:ses"
) -> str:
    return json.dumps(
        {"Type": "Notification", "MessageId": message_id, "TopicArn": topic, "Message": message}
    )


def test_dedupe_window_memory_does_not_grow_with_the_message_id() -> None:
    """2,000 envelopes with 200 KB SNS MessageIds (400 MB of ids): the window keeps a fixed
    digest of each, so what stays allocated is a few hundred bytes per message."""
    messages, id_bytes = 2000, 200_000
    pipeline = EventPipeline(dedupe_window=100_000)
    pipeline.handle(sns(ses_event("Send"), "warm-up"))  # first-use allocations
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for i in range(messages):
            message_id = f"{i:08d}".ljust(id_bytes, "x")
            body = sns(ses_event("Send", message_id=f"m{i}"), message_id)
            assert pipeline.handle(body) is Outcome.COUNTED
            del body, message_id
        gc.collect()
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert retained - before < 1000 * messages  # the ids alone would be 200,000 each
    redelivered = sns(ses_event("Send", message_id="m0"), "00000000".ljust(id_bytes, "x"))
    assert pipeline.handle(redelivered) is Outcome.DUPLICATE  # still recognised


def test_a_message_id_that_is_not_valid_unicode_is_still_deduplicated() -> None:
    """JSON may carry a lone surrogate; the digest must take it rather than fail the batch."""
    pipeline = EventPipeline()
    body = sns(ses_event("Send"), "\ud800-id")
    assert [pipeline.handle(body), pipeline.handle(body)] == [Outcome.COUNTED, Outcome.DUPLICATE]


def test_envelope_from_another_topic_is_refused_counted_once_and_never_an_event() -> None:
    """A forged envelope (foreign TopicArn) counts in the refused table, once per SQS
    message however often it is redelivered, and moves no event counter."""
    ours = "arn:aws:sns:us-east-1:123456789012:ses-events"
    pipeline = EventPipeline(known_sending_domains=["shop.example"], allowed_topic_arns=[ours])
    forged = sns(bounce("a@corp.example", "smtp; 550 5.1.1 unknown", "5.1.1"), "f-1", "arn:x")
    for _ in range(3):
        assert pipeline.handle(forged, message_id="sqs-1") is Outcome.REFUSED
    assert pipeline.handle(forged, message_id="sqs-2") is Outcome.REFUSED
    counts = pipeline.snapshot()
    assert counts.refused == {"topic_not_allowed": 2}
    assert counts.malformed == {}
    assert counts.events == {}
    assert counts.bounced == {}
    assert counts.last_event_timestamp is None
    assert not Outcome.REFUSED.deletable
    genuine = sns(ses_event("Send", "a@corp.example"), "g-1", ours)
    assert pipeline.handle(genuine, message_id="sqs-3") is Outcome.COUNTED
    assert pipeline.snapshot().events == {("send", "shop.example", "cs"): 1}


def test_replayed_documents_obey_the_allow_list() -> None:
    pipeline = EventPipeline(allowed_topic_arns=["arn:ours"])
    document = json.loads(sns(ses_event("Send"), "r-1", "arn:theirs"))
    assert pipeline.handle_document(document) is Outcome.REFUSED
    assert pipeline.snapshot().events == {}


def test_a_display_name_never_becomes_a_recipient_label() -> None:
    pipeline = EventPipeline()
    feed(
        pipeline,
        ses_event("Send", "alice@corp.example (Alice Smith)", message_id="m-1"),
        ses_event("Send", "bob@[192.0.2.1]", message_id="m-2"),
    )
    assert pipeline.snapshot().sent == {
        ("invalid", "unknown", "other"): 1,
        ("[192.0.2.1]", "unknown", "other"): 1,
    }


def test_bounces_are_classified_with_the_mail_from_domain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The classifier gets the envelope sender's domain, so a sender-side diagnosis names it."""
    seen: list[str | None] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("mail_from_domain"))
        return classify(*args, **kwargs)

    classify = module.classify_bounce
    monkeypatch.setattr(module, "classify_bounce", recording)
    pipeline = EventPipeline(known_sending_domains=["shop.example"])
    document = bounce("a@corp.example", "smtp; 553 5.1.8 Domain of sender address", "5.1.8")
    document["mail"]["source"] = "bounces@mail.shop.example"  # the From tag stays shop.example
    feed(pipeline, document)
    assert seen == ["mail.shop.example"]
    assert (
        "mail.shop.example"
        in classify("Permanent", "General", "5.1.8", "553 5.1.8", mail_from_domain=seen[0]).remedy
    )
