"""The two DNS transports on the failure paths: a nameserver that is silent, slow, closed,
fails with an error code or sends replies to other queries must give the same answers,
the same query counts and the same attempts on the wire path as on dnspython's. A timeout
is short only where no reply is to come in time; a reply that is to come has seconds.

The peers are `named` on loopback and scripted loopback nameservers (helpers/dns_responder)
for what `named` will not do on purpose."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

import pytest
from conftest import NamedServer
from helpers.dns_responder import (
    Datagram,
    Outcome,
    ask,
    asked,
    on_both,
    record,
    reply,
    responder,
    txt,
)

from exporter.model import Answer, AnswerKind

pytestmark = pytest.mark.integration

SPF = b"v=spf1 include:amazonses.com -all"
SPF_ANSWER = Answer(AnswerKind.RECORDS, (SPF.decode(),))
FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 1, 2, 3, 4, 5
FAILURES = {"formerr": FORMERR, "servfail": SERVFAIL, "notimp": NOTIMP, "refused": REFUSED}


def silent(_query: bytes) -> list[Datagram]:
    return []


def spf(query: bytes) -> list[Datagram]:
    return [(False, reply(query, record(16, txt(SPF))))]


def failing(rcode: int, *, question: bool = True) -> Callable[[bytes], list[Datagram]]:
    return lambda query: [(False, reply(query, rcode=rcode, question=None if question else b""))]


def test_a_silent_nameserver_times_out_after_every_attempt() -> None:
    def run(transport: str) -> Outcome:
        with responder(silent) as server:
            return ask(transport, [server], ("a.example", "TXT"), timeout=0.5, attempts=3)

    outcome = on_both(run)
    assert outcome.answers == [Answer(AnswerKind.ERROR, error="timeout")]
    assert outcome.counts == {("TXT", "timeout"): 3}
    assert (outcome.udp, outcome.queries_sent, outcome.responses) == ([3], 3, 0)


def test_a_slow_answer_within_the_timeout_is_taken() -> None:
    def run(transport: str) -> Outcome:
        with responder(spf, delay=lambda _: 0.3) as server:
            return ask(transport, [server], ("a.example", "TXT"), timeout=10.0)

    outcome = on_both(run)
    assert outcome.answers == [SPF_ANSWER]
    assert (outcome.udp, outcome.counts) == ([1], {("TXT", "noerror"): 1})


def test_an_answer_later_than_the_timeout_is_not_taken() -> None:
    """The replies come long after the client gave up on each attempt: a timeout."""

    def run(transport: str) -> Outcome:
        with responder(spf, delay=lambda _: 60.0) as server:  # dropped when it closes
            return ask(transport, [server], ("a.example", "TXT"), timeout=0.5)

    outcome = on_both(run)
    assert outcome.answers == [Answer(AnswerKind.ERROR, error="timeout")]
    assert (outcome.udp, outcome.responses) == ([2], 0)


def test_a_late_reply_to_the_first_attempt_does_not_answer_the_second() -> None:
    """The first attempt's reply comes while the second attempt waits (which gets none):
    it answers a query that was given up, whose id the second one does not share."""

    def run(transport: str) -> Outcome:
        seen: list[bytes] = []

        def delay(query: bytes) -> float:
            seen.append(query)
            return 3.0 if len(seen) == 1 else 60.0  # 2 s timeout: 1 s margin either side

        with responder(spf, delay=delay) as server:
            outcome = ask(transport, [server], ("a.example", "TXT"), timeout=2.0)
        assert len({query[:2] for query in seen}) == len(seen)  # a fresh id per attempt
        return outcome

    outcome = on_both(run)
    assert outcome.answers == [Answer(AnswerKind.ERROR, error="timeout")]
    assert outcome.udp == [2]


def test_timeout_fails_over_to_the_second_nameserver(named: NamedServer) -> None:
    def run(transport: str) -> Outcome:
        with responder(silent) as server:
            return ask(
                transport,
                [server, (named.host, named.port)],
                ("healthy.example", "MX"),
                timeout=2.0,
            )

    outcome = on_both(run)
    assert outcome.answers[0].kind is AnswerKind.RECORDS
    assert outcome.counts == {("MX", "timeout"): 1, ("MX", "noerror"): 1}
    assert (outcome.udp, outcome.queries_sent, outcome.responses) == ([1], 2, 1)


def test_attempts_go_round_the_nameservers_in_turn() -> None:
    def run(transport: str) -> Outcome:
        with responder(silent) as first, responder(silent) as second:
            return ask(transport, [first, second], ("a.example", "TXT"), timeout=0.5, attempts=3)

    outcome = on_both(run)
    assert outcome.answers == [Answer(AnswerKind.ERROR, error="timeout")]
    assert outcome.udp == [2, 1]


@pytest.mark.parametrize(("questions", "concurrency"), [(30, 64), (12, 3)], ids=["all", "queued"])
def test_many_questions_some_slow_some_never_answered(questions: int, concurrency: int) -> None:
    """Questions in flight together (or queued for a free slot), half answered after a
    while, half never: each one gets its own outcome through the shared timeouts and
    retries, and a failed attempt frees its slot for the next question."""
    asking = [(f"q{n}.example", "TXT") for n in range(questions)]

    def delay(query: bytes) -> float:
        name, _ = asked(query)
        return 0.2 if int(name.split(".")[0][1:]) % 2 == 0 else 60.0  # dropped when it closes

    def run(transport: str) -> Outcome:
        with responder(spf, delay=delay) as server:
            return ask(transport, [server], *asking, timeout=1.5, concurrency=concurrency)

    outcome = on_both(run)
    half = questions // 2
    assert outcome.answers == [SPF_ANSWER, Answer(AnswerKind.ERROR, error="timeout")] * half
    assert outcome.counts == {("TXT", "noerror"): half, ("TXT", "timeout"): 2 * half}
    assert (outcome.udp, outcome.responses) == ([3 * half], half)


@pytest.fixture(name="closed_port")
def _closed_port() -> tuple[str, int]:
    """A loopback UDP port nobody listens on: the kernel answers port unreachable."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return ("127.0.0.1", sock.getsockname()[1])


def test_a_closed_port_is_a_network_error_after_every_attempt(closed_port: tuple[str, int]) -> None:
    questions = [(f"q{n}.example", "TXT") for n in range(5)]
    outcome = on_both(lambda transport: ask(transport, [closed_port], *questions))
    assert outcome.answers == [Answer(AnswerKind.ERROR, error="network")] * 5
    assert (outcome.counts, outcome.responses) == ({("TXT", "network"): 10}, 0)


def test_a_closed_port_fails_over_to_the_second_nameserver(
    closed_port: tuple[str, int], named: NamedServer
) -> None:
    questions = [("healthy.example", "MX"), ("healthy.example", "TXT"), ("corp.example", "MX")]
    nameservers = [closed_port, (named.host, named.port)]
    outcome = on_both(lambda transport: ask(transport, nameservers, *questions))
    assert [a.kind for a in outcome.answers] == [
        AnswerKind.RECORDS,
        AnswerKind.RECORDS,
        AnswerKind.NODATA,
    ]
    assert outcome.counts == {
        ("MX", "network"): 2,
        ("TXT", "network"): 1,
        ("MX", "noerror"): 2,
        ("TXT", "noerror"): 1,
    }


@pytest.mark.parametrize("error", FAILURES)
def test_a_failure_code_fails_over_to_the_second_nameserver(error: str, named: NamedServer) -> None:
    def run(transport: str) -> Outcome:
        with responder(failing(FAILURES[error])) as server:
            return ask(transport, [server, (named.host, named.port)], ("healthy.example", "MX"))

    outcome = on_both(run)
    assert outcome.answers[0].kind is AnswerKind.RECORDS
    assert outcome.counts == {("MX", error): 1, ("MX", "noerror"): 1}
    assert (outcome.udp, outcome.responses) == ([1], 2)


@pytest.mark.parametrize("question", [True, False], ids=["with_question", "bare"])
@pytest.mark.parametrize("error", FAILURES)
def test_a_failure_code_is_an_error_after_every_attempt(error: str, question: bool) -> None:
    """SERVFAIL, REFUSED, FORMERR and NOTIMP, with the question or without it (dnspython
    accepts these four codes without one): an ERROR named after the code, never NODATA."""

    def run(transport: str) -> Outcome:
        with responder(failing(FAILURES[error], question=question)) as server:
            return ask(transport, [server], ("a.example", "TXT"), ("b.example", "MX"))

    outcome = on_both(run)
    assert outcome.answers == [Answer(AnswerKind.ERROR, error=error)] * 2
    assert outcome.counts == {("TXT", error): 2, ("MX", error): 2}
    assert (outcome.udp, outcome.responses) == ([4], 4)


@pytest.mark.parametrize(
    ("order", "error"), [(("refusing", "silent"), "timeout"), (("silent", "refusing"), "refused")]
)
def test_the_last_attempt_names_the_error(order: tuple[str, str], error: str) -> None:
    scripts = {"refusing": failing(REFUSED), "silent": silent}

    def run(transport: str) -> Outcome:
        with responder(scripts[order[0]]) as first, responder(scripts[order[1]]) as second:
            return ask(transport, [first, second], ("a.example", "TXT"), timeout=2.0)

    outcome = on_both(run)
    assert outcome.answers == [Answer(AnswerKind.ERROR, error=error)]


def not_answers(query: bytes) -> list[Datagram]:
    """Replies that answer another query, or no query: each one is to be ignored."""
    qid = struct.unpack_from("!H", query)[0]
    other_name = b"\x01b" + reply(query)[14:]  # same length, another first label
    notify = bytearray(reply(query, rcode=NXDOMAIN))
    notify[2] |= 0x20  # opcode NOTIFY (4)
    return [
        (False, reply(query, rcode=NXDOMAIN, qid=qid ^ 0x5A5A)),  # another id
        (False, reply(query, rcode=REFUSED, qid=qid ^ 0x0101, question=b"")),  # another id
        (False, reply(query, rcode=NXDOMAIN, question=other_name)),  # another question
        (False, reply(query, rcode=NXDOMAIN, question=b"")),  # no question, not a failure
        (False, reply(query, question=b"")),  # NOERROR without the question
        (False, bytes(notify)),  # another opcode
        (False, query),  # the query itself: not a response
        (True, reply(query, rcode=NXDOMAIN)),  # from another port
    ]


def test_replies_to_other_queries_alone_end_in_a_timeout() -> None:
    def run(transport: str) -> Outcome:
        with responder(not_answers) as server:
            return ask(transport, [server], ("a.example", "TXT"), timeout=0.5)

    outcome = on_both(run)
    assert outcome.answers == [Answer(AnswerKind.ERROR, error="timeout")]
    assert (outcome.counts, outcome.responses) == ({("TXT", "timeout"): 2}, 0)


def test_replies_to_other_queries_then_the_genuine_one_on_the_retry() -> None:
    """The first attempt gets only replies to other queries (a timeout), the second those
    and then the genuine answer: the verdict is the genuine answer's."""

    def run(transport: str) -> Outcome:
        seen: list[bytes] = []

        def script(query: bytes) -> list[Datagram]:
            seen.append(query)
            return not_answers(query) + (spf(query) if len(seen) > 1 else [])

        with responder(script) as server:
            return ask(transport, [server], ("a.example", "TXT"), timeout=2.0)

    outcome = on_both(run)
    assert outcome.answers == [SPF_ANSWER]
    assert outcome.counts == {("TXT", "timeout"): 1, ("TXT", "noerror"): 1}
    assert (outcome.udp, outcome.responses) == ([2], 1)


def opt_with_rcode_bits(query: bytes) -> list[Datagram]:
    """A NOERROR header whose OPT record's extended code bits make it BADVERS (16)."""
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 1 << 24, 0)
    head = bytearray(reply(query, tail=opt))
    head[11] = 1  # ARCOUNT: the OPT record
    return [(False, bytes(head))]


OTHER_CODES: dict[str, Callable[[bytes], list[Datagram]]] = {
    "yxdomain": failing(6),
    "notauth": failing(9),
    "notzone": failing(10),
    "badvers": opt_with_rcode_bits,
}


@pytest.mark.parametrize("script", OTHER_CODES.values(), ids=OTHER_CODES)
def test_other_error_codes_are_read_alike(script: Callable[[bytes], list[Datagram]]) -> None:
    """YXDOMAIN, NOTAUTH, NOTZONE, and BADVERS (an extended code, in the OPT record): one
    reading and one counter on both transports."""

    def run(transport: str) -> Outcome:
        with responder(script) as server:
            return ask(transport, [server], ("a.example", "TXT"))

    on_both(run)


@pytest.mark.parametrize("script", OTHER_CODES.values(), ids=OTHER_CODES)
def test_other_error_codes_are_errors_not_nodata(
    script: Callable[[bytes], list[Datagram]],
) -> None:
    """A code that is neither NOERROR nor NXDOMAIN says nothing about the records: an
    ERROR (`unknown`), as dnspython's own Resolver treats it."""

    def run(transport: str) -> Outcome:
        with responder(script) as server:
            return ask(transport, [server], ("a.example", "TXT"))

    (answer,) = on_both(run).answers
    assert answer.kind is AnswerKind.ERROR
