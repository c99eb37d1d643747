"""Real SMTP peers on 127.0.0.1 for the SMTP credential probe's tests.

- `start_smtp`: aiosmtpd in a thread, with STARTTLS (or implicit TLS, or no TLS at all),
  accepting exactly one username and password, recording every command it received.
- `SilentServer`: accepts TCP connections and never says a word.
- `closed_port`: a loopback port nothing listens on.

Certificates come from `trustme` (a throw-away CA, a leaf for 127.0.0.1 and localhost).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

__all__ = [
    "Recorder",
    "SilentServer",
    "SmtpServer",
    "TlsFiles",
    "closed_port",
    "make_tls",
    "start_smtp",
]

READY_TIMEOUT = 5.0
SENDING_COMMANDS = frozenset({"MAIL", "RCPT", "DATA", "BDAT"})


@dataclass
class TlsFiles:
    """A server context (our leaf) and a client context trusting only our CA."""

    server: ssl.SSLContext
    client: ssl.SSLContext


def make_tls() -> TlsFiles:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return TlsFiles(server=server, client=client)


@dataclass
class Recorder:
    """The aiosmtpd handler and authenticator: one valid login, everything recorded."""

    username: str
    password: str
    # Sent instead of aiosmtpd's "535 5.7.8 Authentication credentials invalid" when set.
    reject_reply: str | None = None
    commands: list[str] = field(default_factory=list)
    auth_attempts: list[tuple[str, bool]] = field(default_factory=list)  # (mechanism, ok)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, command: str) -> None:
        with self._lock:
            self.commands.append(command)

    def sent_mail_commands(self) -> list[str]:
        with self._lock:
            return [c for c in self.commands if c in SENDING_COMMANDS]

    def authenticate(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.username.encode()
            and auth_data.password == self.password.encode()
        )
        with self._lock:
            self.auth_attempts.append((mechanism, ok))
        if ok:
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False, message=self.reject_reply)

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        return "554 5.7.1 this test server never accepts mail"


class RecordingSMTP(SMTP):
    """aiosmtpd's SMTP, noting each command before it is handled.

    Overriding the ``smtp_<VERB>`` methods (aiosmtpd's documented extension point) sees
    every command that reaches dispatch, whatever the session state.
    """

    event_handler: Recorder

    async def _recorded(self, verb: str, arg: str | None) -> None:
        self.event_handler.record(verb)
        await getattr(super(), f"smtp_{verb}")(arg)

    async def smtp_HELO(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's method names
        await self._recorded("HELO", arg)

    async def smtp_EHLO(self, arg: str) -> None:  # noqa: N802
        await self._recorded("EHLO", arg)

    async def smtp_STARTTLS(self, arg: str) -> None:  # noqa: N802
        await self._recorded("STARTTLS", arg)

    async def smtp_AUTH(self, arg: str) -> None:  # noqa: N802
        await self._recorded("AUTH", arg)

    async def smtp_MAIL(self, arg: str | None) -> None:  # noqa: N802
        await self._recorded("MAIL", arg)

    async def smtp_RCPT(self, arg: str | None) -> None:  # noqa: N802
        await self._recorded("RCPT", arg)

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802
        await self._recorded("DATA", arg)

    async def smtp_RSET(self, arg: str) -> None:  # noqa: N802
        await self._recorded("RSET", arg)

    async def smtp_NOOP(self, arg: str) -> None:  # noqa: N802
        await self._recorded("NOOP", arg)

    async def smtp_VRFY(self, arg: str) -> None:  # noqa: N802
        await self._recorded("VRFY", arg)

    async def smtp_QUIT(self, arg: str) -> None:  # noqa: N802
        await self._recorded("QUIT", arg)


class _RecordingController(Controller):
    def factory(self) -> SMTP:
        return RecordingSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: Recorder
    controller: Controller

    def stop(self) -> None:
        self.controller.stop()


def start_smtp(
    recorder: Recorder,
    *,
    tls: TlsFiles | None,
    implicit_tls: bool = False,
    exclude_mechanisms: tuple[str, ...] = (),
) -> SmtpServer:
    """Start aiosmtpd on a free 127.0.0.1 port; the caller must `stop()` it.

    ``tls`` None: no STARTTLS offered, AUTH offered in clear text (a server the probe must
    refuse to log in to). ``implicit_tls``: TLS from the first byte (port 465 style).
    Otherwise STARTTLS is offered and AUTH only after it, as SES does.
    """
    port = closed_port()
    kwargs: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "port": port,
        "server_hostname": "smtp.test",  # the greeting's name: no getfqdn() lookup
        "ready_timeout": READY_TIMEOUT,
        "authenticator": recorder.authenticate,
        "auth_exclude_mechanism": list(exclude_mechanisms),
        "timeout": 10,  # idle sessions end by themselves
    }
    if tls is None:
        kwargs["auth_require_tls"] = False
    elif implicit_tls:
        kwargs["ssl_context"] = tls.server
        kwargs["auth_require_tls"] = False  # the whole session is TLS already
    else:
        kwargs["tls_context"] = tls.server
        kwargs["auth_require_tls"] = True
        kwargs["auth_required"] = True
    controller = _RecordingController(recorder, **kwargs)
    controller.start()
    return SmtpServer("127.0.0.1", port, recorder, controller)


def closed_port() -> int:
    """A loopback TCP port that was free a moment ago (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SilentServer:
    """Accepts connections on 127.0.0.1 and never writes a byte; `stop()` closes all."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="silent-smtp", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)
            self.accepted += 1

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            with contextlib.suppress(OSError):
                conn.close()
        self._listener.close()
