"""Remedies as DNS records that edit what exists instead of replacing it.

A remedy a user pastes must never make things worse: it keeps every tag, mechanism and
modifier it need not change, raises only what is too weak and never lowers a policy. So
the records here are built from the published record, not from a template.
"""

from __future__ import annotations

from exporter.model import RecordAction, RecordChange

__all__ = [
    "DOC_IPV4",
    "dmarc_with",
    "record",
    "spf_with_include",
    "spf_with_softfail",
    "txt_value",
]

DOC_IPV4 = "192.0.2.1"  # RFC 5737 documentation address: the user puts in their own
_TXT_CHUNK = 255  # RFC 1035 §3.3.14: one character-string holds at most 255 octets


def txt_value(text: str) -> str:
    """A TXT record's presentation form: quoted strings of at most 255 octets each."""
    data = text.encode()
    chunks = [data[i : i + _TXT_CHUNK] for i in range(0, len(data), _TXT_CHUNK)] or [b""]
    return " ".join(
        '"' + c.decode(errors="replace").replace("\\", "\\\\").replace('"', '\\"') + '"'
        for c in chunks
    )


def record(action: RecordAction, name: str, rdtype: str, value: str) -> RecordChange:
    """A record change; TXT values are given as plain text and quoted here."""
    name = name.lower().removesuffix(".")
    return RecordChange(action, name, rdtype, txt_value(value) if rdtype == "TXT" else value)


def dmarc_with(text: str, changes: dict[str, str | None]) -> str:
    """The DMARC record ``text`` with ``changes`` applied, every other tag kept as written.

    A value of None drops the tag; a tag not in the record is added at the end (``p=``
    right after ``v=``, where RFC 7489 §6.4 puts it). A repeated tag is changed where it
    first appears and its repeats dropped, as receivers read the first.
    """
    tags: list[tuple[str, str]] = []
    seen: set[str] = set()
    for part in text.split(";"):
        name, _, value = part.partition("=")
        key = name.strip(" \t").lower()
        if not part.strip(" \t") or key in seen:
            continue
        seen.add(key)
        if key in changes:
            new = changes[key]
            if new is not None:
                tags.append((name.strip(" \t"), new))
            continue
        tags.append((name.strip(" \t"), value.strip(" \t")))
    for key, new in changes.items():
        if key not in seen and new is not None:
            tags.insert(1 if key == "p" else len(tags), (key, new))
    return "; ".join(f"{name}={value}" for name, value in tags)


def _terms(text: str) -> list[str]:
    return [term for term in text.split(" ") if term]


def _is_all(term: str) -> bool:
    return term.lower().lstrip("+-~?") == "all"


def _is_redirect(term: str) -> bool:
    return term.lower().startswith("redirect=")


def spf_with_softfail(text: str) -> str | None:
    """The SPF record ``text`` ending in ``~all`` where it ended in ``+all``, ``?all`` or
    nothing; None where a ``redirect=`` decides the end (the target's record does)."""
    terms = _terms(text)
    alls = [i for i, term in enumerate(terms) if _is_all(term)]
    if alls:
        if terms[alls[0]][0] != "-":
            terms[alls[0]] = "~all"
        return " ".join(terms)
    if any(_is_redirect(term) for term in terms):
        return None
    return " ".join([*terms, "~all"])


def spf_with_include(text: str, domain: str) -> str:
    """The SPF record ``text`` with ``include:<domain>`` before its first ``all`` (or its
    modifiers): a mechanism after ``all`` is never evaluated (RFC 7208 §5.1)."""
    terms = _terms(text)
    at = next(
        (i for i, term in enumerate(terms) if i and (_is_all(term) or "=" in term.split(":")[0])),
        len(terms),
    )
    return " ".join([*terms[:at], f"include:{domain}", *terms[at:]])
