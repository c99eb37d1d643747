"""How the UDP multiplexer's sockets are watched: on Linux through an epoll set of its own
(the event loop watches that set), elsewhere each socket as one of the loop's readers. Both
ways answer every question from named through sockets that rotate, and leave nothing open."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from conftest import NamedServer, start_named, stop_named, zone_files

from exporter.sources.dns_udp import HAS_EPOLL, QUERIES_PER_PORT, UdpMultiplexer
from exporter.sources.dns_wire import QTYPES, WireResponse

pytestmark = pytest.mark.integration

QUESTIONS = 5 * QUERIES_PER_PORT  # enough for sockets to be replaced several times


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamedServer]:
    server = start_named(tmp_path_factory.mktemp("named"), zone_files())
    yield server
    stop_named(server)


@pytest.mark.parametrize(
    "use_epoll",
    [
        pytest.param(True, marks=pytest.mark.skipif(not HAS_EPOLL, reason="no epoll here")),
        False,
    ],
)
def test_every_question_is_answered_and_nothing_stays_open(
    named: NamedServer, use_epoll: bool
) -> None:
    async def main() -> tuple[list[tuple[int, WireResponse | None, str]], int, int]:
        loop = asyncio.get_running_loop()
        readers_before = len(loop._selector.get_map())  # type: ignore[attr-defined]  # noqa: SLF001
        done: list[tuple[int, WireResponse | None, str]] = []
        finished = loop.create_future()

        def on_done(token: int, response: WireResponse | None, error: str) -> None:
            done.append((token, response, error))
            if len(done) == QUESTIONS:
                finished.set_result(None)

        mux = UdpMultiplexer(named.host, named.port, 10.0, on_done, use_epoll=use_epoll)
        for i in range(QUESTIONS):
            mux.send(i, "healthy.example", QTYPES["MX"])
        await asyncio.wait_for(finished, 60)
        mux.close()
        mux.close()  # twice: nothing left to do
        readers_after = len(loop._selector.get_map())  # type: ignore[attr-defined]  # noqa: SLF001
        if use_epoll:
            with pytest.raises(OSError, match="closed"):
                mux.send(0, "healthy.example", QTYPES["MX"])
        return done, readers_before, readers_after

    done, readers_before, readers_after = asyncio.run(main())
    assert sorted(token for token, _, _ in done) == list(range(QUESTIONS))
    assert all(error == "" and response is not None for _, response, error in done)
    assert all(response.rcode == 0 and response.answers for _, response, _ in done if response)
    assert readers_after == readers_before
