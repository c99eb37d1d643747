"""Reading a configuration file, and pydantic's errors as ``key: reason`` problems.

Every problem is collected and reported at once, each naming its key in TOML's own
notation (``domains[3].mail_from``) and a reason in the words of a TOML file (table, array),
so a user fixes a file in one pass. Whatever the file holds, the only exception that leaves
here is ``ConfigError``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from exporter.config.fields import SiblingKeyError
from exporter.config.model import Config

Overrides = Mapping[str, Mapping[str, Any]]
_ADAPTER = TypeAdapter(Config)
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_MAX_PROBLEMS = 100  # a file of 100,000 unknown keys is one screen of problems, not 100,000
_SHOWN_CHARACTERS = 60  # a longer value is cut in a problem, so a huge one cannot flood the log
_TOML_TYPES = {
    str: "string",
    int: "integer",
    float: "float",
    bool: "boolean",
    dict: "table",
    list: "array",
    datetime: "date-time",
    date: "date",
    time: "time",
}


_REASONS = {
    "missing": "is required",
    "int_type": "must be a whole number, got {shown}",
    "int_parsing": "must be a whole number, got {shown}",
    "int_from_float": "must be a whole number, got {shown}",
    "float_type": "must be a number, got {kind}",
    "float_parsing": "must be a number, got {kind}",
    "bool_type": "must be true or false, got {kind}",
    "bool_parsing": "must be true or false, got {kind}",
    "string_type": "must be a string, got {kind}",
    "path_type": "must be a string, got {kind}",
    "tuple_type": "must be an array, got {kind}",
    "list_type": "must be an array, got {kind}",
    "dataclass_type": "must be a table, got {kind}",
    "dataclass_exact_type": "must be a table, got {kind}",
    "dict_type": "must be a table, got {kind}",
    "too_short": "must not be empty",
}


class ConfigError(Exception):
    """A configuration that cannot be used; ``problems`` lists every ``key: reason``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def load_config(
    path: Path, overrides: Overrides | None = None, warnings: list[str] | None = None
) -> Config:
    """Read and validate a TOML file; raise ConfigError listing every problem.

    ``overrides`` (table -> key -> value, from command-line flags) replace the file's values
    before validation, so a bad flag is reported under its config key like a bad file.
    ``warnings`` receives a line per key that is accepted but ignored.
    """
    raw = _read_toml(path)
    for table, values in (overrides or {}).items():
        section = raw.setdefault(table, {})
        if isinstance(section, dict):
            section.update(values)
    return parse_config(raw, source=str(path), base_dir=path.parent, warnings=warnings)


def _read_toml(path: Path) -> dict[str, Any]:
    """The parsed document; the file's text is freed on return, before validation."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"
        raise ConfigError(str(path), [problem]) from None
    try:
        return tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, and its wrapped date errors
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    except RecursionError:
        raise ConfigError(str(path), ["not valid TOML: nested too deeply"]) from None


def _extra_regions(raw: dict[str, Any]) -> frozenset[str]:
    """``aws.extra_regions`` as written, read before validation: the region fields of every
    other table accept them (its own validation reports a malformed value)."""
    aws = raw.get("aws")
    extra = aws.get("extra_regions") if isinstance(aws, dict) else None
    if not isinstance(extra, list):
        return frozenset()
    return frozenset(item for item in extra if isinstance(item, str))


def parse_config(
    raw: dict[str, Any],
    *,
    source: str = "<config>",
    base_dir: Path | None = None,
    warnings: list[str] | None = None,
) -> Config:
    """Validate an already-parsed TOML document (relative paths against ``base_dir``);
    ``warnings`` receives a line per key that is accepted but ignored.

    Values many tables repeat (regions, owner labels) are shared, and copied apart from the
    document: the document's memory goes back once it is freed, not kept by a few strings
    in each of its pages."""
    try:
        context = {
            "base_dir": base_dir or Path.cwd(),
            "extra_regions": _extra_regions(raw),
            "interned": {},
            "warnings": [] if warnings is None else warnings,
        }
        return _ADAPTER.validate_python(raw, context=context)
    except ValidationError as exc:
        problems = list(dict.fromkeys(_problem(error) for error in exc.errors()))
        if len(problems) > _MAX_PROBLEMS:
            more = len(problems) - _MAX_PROBLEMS
            problems = [*problems[:_MAX_PROBLEMS], f"(document): and {more} more problems"]
        raise ConfigError(source, problems) from None


@cache
def _schema() -> dict[str, Any]:
    """The JSON Schema of a file: where a key is, which keys a table allows."""
    return _ADAPTER.json_schema()


def _problem(error: ErrorDetails) -> str:
    loc = tuple(part for part in error["loc"] if part != "[key]")
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, SiblingKeyError):
        loc = loc[:-1] + ((cause.key,) if cause.key else ())
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{_key(part)}" for part in loc)
    return f"{key.lstrip('.') or '(document)'}: {_reason(error, loc)}"


def _reason(error: ErrorDetails, loc: tuple[str | int, ...]) -> str:
    kind, value, ctx = error["type"], error["input"], error.get("ctx", {})
    if kind in {"unexpected_keyword_argument", "extra_forbidden"}:
        allowed = ", ".join(sorted(_node(loc[:-1]).get("properties", {})))
        return f"unknown key (allowed: {allowed})"
    if kind in {"tuple_type", "list_type"} and "$ref" in _node(loc).get("items", {}):
        name = "".join(f".{part}" for part in loc if isinstance(part, str)).lstrip(".")
        return f"must be an array of tables ([[{name}]]), got {_kind(value)}"
    if kind == "config":
        return str(ctx["reason"])
    if kind == "value_error":
        return str(ctx["error"])
    if kind == "literal_error":
        choices = ", ".join(re.findall(r"'([^']*)'", ctx["expected"]))
        return f"must be one of {choices}, got {_shown(value)}"
    template = _REASONS.get(kind)
    if template is None:
        return error["msg"]
    return template.format(kind=_kind(value), shown=_shown(value))


def _node(loc: tuple[str | int, ...]) -> dict[str, Any]:
    """The JSON Schema of the value at ``loc``: its keys, and whether it holds tables."""
    schema = _schema()
    node = schema
    for part in (None, *loc):
        node = _resolved(schema, node)
        if part is None:
            continue
        node = node.get("items", {}) if isinstance(part, int) else node["properties"][part]
    return _resolved(schema, node)


def _resolved(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while True:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:
            node = next(n for n in node["anyOf"] if n.get("type") != "null")
        else:
            return node


def _kind(value: Any) -> str:
    return _TOML_TYPES.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str | int | float):
        return _kind(value)
    return _cut(repr(value))


def _key(part: str) -> str:
    """A key as TOML writes it: quoted unless bare, so a control character cannot leak."""
    return part if _BARE_KEY.fullmatch(part) else _cut(json.dumps(part))


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARACTERS else text[: _SHOWN_CHARACTERS - 3] + "..."
