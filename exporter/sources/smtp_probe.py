"""Do these SMTP credentials still authenticate? One login attempt, never a message.

The second field report's Gmail "Send mail as" relay kept an SES SMTP password derived
from a rotated IAM secret, and every relayed message failed with ``535``. This probe asks
the SMTP endpoint the same question a relay asks, and nothing more:

    connect, EHLO, STARTTLS, EHLO, AUTH (one attempt), QUIT

It never sends MAIL, RCPT or DATA, and it never sends the credentials over a connection
that is not TLS-protected: a server that does not offer STARTTLS (or whose certificate
does not verify) gets no AUTH at all. ``starttls=False`` is for implicit TLS (port 465).

Only ``535`` to AUTH (RFC 4954: "authentication credentials invalid") makes the verdict
``auth_failed``. Everything else that keeps the probe from an answer (refused or timed out
connection, DNS failure, TLS failure, an unexpected reply, a temporary ``454``) is
``unknown``: a network problem must never page as a credential problem. Nothing raises:
errors come back in the result, in words that never contain the username or password.
"""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Literal

__all__ = ["ProbeStatus", "SmtpProbeResult", "probe_smtp_auth"]

ProbeStatus = Literal["ok", "auth_failed", "unknown"]

_GREETING_OK = 220
_EHLO_OK = 250
_READY_FOR_TLS = 220
_AUTH_OK = 235
_AUTH_INVALID = 535  # RFC 4954 §6, enhanced code 5.7.8
_MAX_ERROR_CHARS = 200
_PLACEHOLDER_EHLO = "localhost"  # replaced by an address literal once connected


@dataclass(frozen=True, slots=True)
class SmtpProbeResult:
    """The verdict of one probe.

    ``smtp_code`` is the reply code to AUTH (235, 535, 454, ...); when the probe never got
    that far it is the last reply code seen, or None when the server never replied.
    ``error`` is empty for ``ok`` and a short reason otherwise.
    """

    status: ProbeStatus
    smtp_code: int | None
    error: str
    duration_seconds: float


class _Refused(Exception):  # noqa: N818 - internal control flow, never escapes
    """The conversation cannot go on safely or usefully; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Redactor:
    """Removes the credentials, plain or base64 as smtplib sends them, from any text."""

    def __init__(self, username: str, password: str) -> None:
        forms = {username, password}
        for raw in (username, password, f"\0{username}\0{password}"):
            try:
                forms.add(base64.b64encode(raw.encode("utf-8")).decode("ascii"))
            except UnicodeEncodeError:  # lone surrogates: nothing smtplib could send either
                continue
        patterns = sorted((f for f in forms if f), key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(re.escape(p) for p in patterns), re.IGNORECASE)
            if patterns
            else None
        )

    def __call__(self, text: str) -> str:
        text = " ".join(text.split())
        if self._pattern is not None:
            text = self._pattern.sub("***", text)
        if len(text) > _MAX_ERROR_CHARS:
            text = text[: _MAX_ERROR_CHARS - 3] + "..."
        return text


def _reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _address_literal(smtp: smtplib.SMTP) -> str:
    """The EHLO name RFC 5321 §4.1.3 allows without DNS: our end's address literal."""
    if smtp.sock is None:
        return _PLACEHOLDER_EHLO
    address = str(smtp.sock.getsockname()[0]).split("%", 1)[0]
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


class _Conversation:
    """One SMTP session under one overall deadline, remembering the last reply code."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.last_code: int | None = None
        self._smtp: smtplib.SMTP | None = None

    @property
    def smtp(self) -> smtplib.SMTP:
        if self._smtp is None:  # connect() always runs first
            raise RuntimeError("not connected")
        return self._smtp

    def remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        return remaining

    def arm(self) -> None:
        """Give the next read or write only the time left of the whole probe."""
        remaining = self.remaining()
        if self.smtp.sock is not None:
            self.smtp.sock.settimeout(remaining)

    def connect(self, host: str, port: int, *, implicit_tls: bool, context: ssl.SSLContext) -> None:
        """Connect and read the 220 greeting (smtplib raises SMTPConnectError otherwise).

        The host goes to the constructor, not to ``connect()``: only the constructor
        records it as the name that STARTTLS and implicit TLS verify the certificate for.
        """
        timeout = self.remaining()
        self._smtp = (
            smtplib.SMTP_SSL(
                host, port, local_hostname=_PLACEHOLDER_EHLO, timeout=timeout, context=context
            )
            if implicit_tls
            else smtplib.SMTP(host, port, local_hostname=_PLACEHOLDER_EHLO, timeout=timeout)
        )
        self.last_code = _GREETING_OK

    def ehlo(self, name: str) -> None:
        self.arm()
        code, reply = self.smtp.ehlo(name)
        self.last_code = code
        if code != _EHLO_OK:
            raise _Refused(f"EHLO refused: {code} {_reply_text(reply)}")

    def starttls(self, context: ssl.SSLContext) -> None:
        if not self.smtp.has_extn("starttls"):
            raise _Refused(
                "server does not offer STARTTLS: credentials not sent over a clear-text connection"
            )
        self.arm()
        try:
            code, _ = self.smtp.starttls(context=context)  # raises unless 220
        except ssl.SSLError:
            self.last_code = _READY_FOR_TLS  # smtplib starts the handshake only after a 220
            raise
        self.last_code = code

    def authenticate(self, username: str, password: str) -> int:
        """One AUTH attempt, PLAIN if offered, else LOGIN; returns the reply code."""
        offered = self.smtp.esmtp_features.get("auth", "").upper().split()
        if "PLAIN" in offered:
            mechanism, method = "PLAIN", self.smtp.auth_plain
        elif "LOGIN" in offered:
            mechanism, method = "LOGIN", self.smtp.auth_login
        else:
            listed = " ".join(offered) or "none"
            raise _Refused(f"server offers no AUTH PLAIN or LOGIN (offered: {listed})")
        self.smtp.user, self.smtp.password = username, password
        self.arm()
        # smtp.auth rather than smtp.login: login() retries with every other offered
        # mechanism after a 535, which would double the failed attempts SES sees.
        code, _ = self.smtp.auth(mechanism, method)
        self.last_code = code
        return code

    def close(self, *, polite: bool) -> None:
        """QUIT when the session is still sane, then close the socket in any case."""
        if self._smtp is None:
            return
        try:
            if polite and self._smtp.sock is not None:
                self.arm()
                self._smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
        finally:
            self._smtp.close()


def _failure(exc: Exception, host: str, timeout: float) -> tuple[str, bool]:  # noqa: C901 - a flat table
    """Why the probe got no answer, and whether the session is still sane enough to QUIT."""
    if isinstance(exc, _Refused):
        return exc.reason, True
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib turns a socket error while reading or writing into this; say which.
        cause = exc.__context__
        if isinstance(cause, OSError) and not isinstance(cause, smtplib.SMTPException):
            return _failure(cause, host, timeout)
        return "server closed the connection", False
    if isinstance(exc, smtplib.SMTPConnectError):
        return f"greeting refused: {exc.smtp_code} {_reply_text(exc.smtp_error)}", True
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"unexpected reply: {exc.smtp_code} {_reply_text(exc.smtp_error)}", True
    if isinstance(exc, smtplib.SMTPException):
        return f"SMTP error: {exc}", True
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {exc.verify_message or exc.reason}", False
    if isinstance(exc, ssl.SSLError):
        return f"TLS failure: {exc.reason or type(exc).__name__}", False
    if isinstance(exc, TimeoutError):
        return f"timed out (limit {timeout:g} s)", False
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused", False
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {host}: {exc.strerror}", False
    if isinstance(exc, OSError):
        return f"network error: {exc.strerror or type(exc).__name__}", False
    return f"unexpected {type(exc).__name__}", False


def probe_smtp_auth(
    host: str,
    port: int,
    username: str,
    password: str,
    *,
    timeout: float = 10.0,
    tls_context: ssl.SSLContext | None = None,
    starttls: bool = True,
    ehlo_hostname: str | None = None,
) -> SmtpProbeResult:
    """Try ``username``/``password`` once against the SMTP server at ``host``:``port``.

    ``timeout`` bounds the whole probe (connect, TLS handshake and every reply), in
    seconds. ``tls_context`` defaults to ``ssl.create_default_context()`` (certificate
    and host name verified). ``starttls=False`` means implicit TLS from the first byte
    (port 465). ``ehlo_hostname`` defaults to the address literal of our end of the
    connection, so the probe does no DNS lookup of its own name. Raises ValueError only
    for a timeout that is not positive; every network or protocol outcome is a result.
    """
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    started = time.monotonic()
    context = tls_context if tls_context is not None else ssl.create_default_context()
    talk = _Conversation(started + timeout)
    status: ProbeStatus = "unknown"
    code: int | None = None
    error = ""
    polite = True  # False once the connection is broken or stuck: no QUIT then
    try:
        talk.connect(host, port, implicit_tls=not starttls, context=context)
        name = ehlo_hostname or _address_literal(talk.smtp)
        talk.ehlo(name)
        if starttls:
            talk.starttls(context)
            talk.ehlo(name)
        code = talk.authenticate(username, password)
        if code == _AUTH_OK:
            status = "ok"
        else:  # 503 "already authenticated": not an answer to our question
            error = f"unexpected reply to AUTH: {code}"
    except smtplib.SMTPAuthenticationError as exc:
        code = exc.smtp_code
        verdict = "rejected" if code == _AUTH_INVALID else "not completed"
        status = "auth_failed" if code == _AUTH_INVALID else "unknown"
        error = f"authentication {verdict}: {code} {_reply_text(exc.smtp_error)}"
    except Exception as exc:  # noqa: BLE001 - the boundary: nothing raises into the scheduler
        if isinstance(exc, smtplib.SMTPResponseException):
            talk.last_code = exc.smtp_code
        error, polite = _failure(exc, host, timeout)
    finally:
        talk.close(polite=polite)
    if status == "unknown" and code is None:
        code = talk.last_code
    return SmtpProbeResult(
        status=status,
        smtp_code=code,
        error=_Redactor(username, password)(error) if error else "",
        duration_seconds=time.monotonic() - started,
    )
