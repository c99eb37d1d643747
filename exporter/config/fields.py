"""Field types of the configuration: each one validates and converts a TOML value.

Each type is an ``Annotated`` alias the models reuse, so a rule (what a region looks like,
where a relative path points) is written once. A reason is a ``ValueError``; a ``SiblingKeyError``
also names the key it belongs to when that is not the field being validated.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import botocore.session
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
    ValidationInfo,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

DEFAULT_PORT = 10190
SMTP_PORT = 587
DNS_PORT = 53
MAX_PORT = 65535
MAX_NAME_LENGTH = 253  # RFC 1035 limit on a name's text form
MIN_LABELS = 2  # a sending domain has at least a name and a TLD
STS_EXTERNAL_ID_LENGTH = (2, 1224)  # the limits STS puts on AssumeRole's ExternalId
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_PROM_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_SERVICE_NAMES = {"sesv2": "SES", "sqs": "SQS"}
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/.+")
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:[\w-]{1,256}")
_QUEUE_URL = re.compile(r"https?://[^/]+/[^/]+/.+")
_QUEUE_REGION = re.compile(r"https://sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/")
_RESERVED_LABELS = frozenset({"domain", "job", "instance"})


class SiblingKeyError(ValueError):
    """A reason that belongs to a sibling key (or, with ``key`` empty, to the table)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key


def normalize_domain(name: str) -> str:
    """Lower-case, strip the root dot and IDNA-encode; raise ValueError with the reason."""
    text = name.strip().rstrip(".").lower()
    if not text:
        raise ValueError("empty domain name")
    if ":" in text:
        raise ValueError("contains ':' (an IPv6 address or a port?), not a domain name")
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"not a valid internationalized name ({exc})") from exc
    if len(text) > MAX_NAME_LENGTH:
        raise ValueError(f"longer than {MAX_NAME_LENGTH} characters")
    labels = text.split(".")
    if len(labels) < MIN_LABELS:
        raise ValueError("needs at least two labels (e.g. example.com)")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise ValueError(f"label {label!r} is not a valid DNS label")
    if labels[-1].isdigit():  # no top-level domain is numeric: this is an IPv4 address
        raise ValueError("an IP address, not a domain name (its last label is all digits)")
    return text


def parse_hostport(text: str, default_port: int) -> tuple[str, int]:
    """Parse ``host``, ``host:port``, ``[v6]:port`` or ``:port``; raise ValueError."""
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError("unclosed '[' in IPv6 address")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError("expected ':port' after ']'")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif host.isdigit():  # "10190" would be a host named 10190 on the default port
        raise ValueError(f"{text!r} has no ':': write ':{host}' for a port")
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) <= MAX_PORT:
            raise ValueError(f"port {port_text!r} is not a number from 1 to {MAX_PORT}")
        port = int(port_text)
    return host, port


def shard_index_from_hostname(hostname: str | None = None) -> int:
    """A StatefulSet pod is named ``<set>-<ordinal>``: its ordinal is its shard."""
    name = hostname or os.environ.get("HOSTNAME") or socket.gethostname()
    match = re.search(r"-(\d+)$", name.split(".", 1)[0])
    if match is None:
        raise ValueError(
            f"auto needs a hostname ending in -<ordinal> (a StatefulSet pod), got {name!r}"
        )
    return int(match.group(1))


@dataclass(frozen=True, slots=True)
class Between:
    """An inclusive range, reported with both ends (pydantic's ge/le name only one)."""

    low: float
    high: float

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(minimum=self.low, maximum=self.high)
        return json_schema

    def _check(self, value: float) -> float:
        if not self.low <= value <= self.high:  # also refuses NaN
            raise ValueError(f"must be between {self.low:g} and {self.high:g}, got {value:g}")
        return value


@dataclass(frozen=True, slots=True)
class FromString:
    """A value written as one string in TOML (``"host:port"``) and held parsed."""

    parse: Callable[[str], Any]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.parse, core_schema.str_schema())


def shared(value: str, info: ValidationInfo) -> str:
    """One copy of a value many tables repeat (a region, an owner label), made apart from
    the parsed document, so the document's memory is given back once it is freed.

    The copies live in the load's ``interned`` context; without one (a value validated on
    its own) the value is kept as is."""
    table: dict[str, str] | None = (info.context or {}).get("interned")
    if table is None:
        return value
    kept = table.get(value)
    if kept is None:
        kept = value.encode().decode()  # a new string, not the parser's
        table[kept] = kept
    return kept


@dataclass(frozen=True, slots=True)
class FromTable:
    """Owner labels are a TOML table, held as sorted ``(name, value)`` pairs (hashable);
    tables with the same labels share one tuple."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        table = handler.generate_schema(dict[LabelName, str])
        return core_schema.with_info_after_validator_function(_label_pairs, table)


def _label_pairs(value: dict[str, str], info: ValidationInfo) -> tuple[tuple[str, str], ...]:
    pairs = tuple((shared(k, info), shared(v, info)) for k, v in sorted(value.items()))
    tables: dict[Any, Any] | None = (info.context or {}).get("interned")
    return pairs if tables is None else tables.setdefault(pairs, pairs)


@dataclass(frozen=True, slots=True)
class Retired:
    """A key that is still accepted but no longer does anything: loading a file that sets
    it adds a warning (``key: deprecated and ignored: reason``) to the load's ``warnings``
    context, and the JSON Schema marks it deprecated."""

    key: str
    reason: str

    @property
    def warning(self) -> str:
        return f"{self.key}: deprecated and ignored: {self.reason}"

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_after_validator_function(self._warn, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["deprecated"] = True
        return json_schema

    def _warn(self, value: Any, info: ValidationInfo) -> Any:
        warnings: list[str] | None = (info.context or {}).get("warnings")
        if warnings is not None:
            warnings.append(self.warning)
        return value


def _region(text: str) -> str:
    if not _REGION.fullmatch(text):
        raise ValueError(f"{text!r} is not an AWS region name like us-east-1")
    return text


@cache
def known_regions(service: str) -> frozenset[str]:
    """Every region of ``service`` in the installed botocore's endpoint data, across every
    partition it knows (aws, aws-cn, aws-us-gov, ...)."""
    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions(service, partition)
    )


def check_service_region(text: str, service: str, extra: Collection[str] = ()) -> str:
    """``text`` as a region where ``service`` exists; a typo names the close ones, and
    ``extra`` lists regions newer than the installed botocore (``aws.extra_regions``)."""
    _region(text)
    known = known_regions(service)
    if text in known or text in extra:
        return text
    close = difflib.get_close_matches(text, sorted(known), n=3, cutoff=0.8)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    name = _SERVICE_NAMES.get(service, service)
    raise ValueError(
        f"{text!r} is not a region where {name} exists{hint}; a region newer than the "
        "installed botocore goes in aws.extra_regions"
    )


def _ses_region(text: str, info: ValidationInfo) -> str:
    extra = (info.context or {}).get("extra_regions", ())
    return shared(check_service_region(text, "sesv2", extra), info)


def _sqs_region(text: str, info: ValidationInfo) -> str:
    return check_service_region(text, "sqs", (info.context or {}).get("extra_regions", ()))


def _domain(text: str) -> str:
    try:
        return normalize_domain(text)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None


def _dns_label(text: str) -> str:
    label = text.strip().lower()
    if not _LABEL.fullmatch(label):
        raise ValueError(f"{text!r} is not a valid DNS label")
    return label


def _label_name(name: str) -> str:
    if not _PROM_LABEL.fullmatch(name) or name.startswith("__") or name in _RESERVED_LABELS:
        raise ValueError(
            "not usable as a Prometheus label name "
            "([a-zA-Z_][a-zA-Z0-9_]*, not __*, not domain/job/instance)"
        )
    return name


def _topic_arn(text: str) -> str:
    if not _TOPIC_ARN.fullmatch(text):
        raise ValueError(f"{text!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")
    return text


def _nameserver(text: str) -> tuple[str, int]:
    try:
        host, port = parse_hostport(text, DNS_PORT)
        ipaddress.ip_address(host)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an IP address with optional port ({exc})") from None
    return host, port


def _existing_file(path: Path, info: ValidationInfo) -> Path:
    """Relative paths are relative to the config file, so a file and its zones move together."""
    base_dir: Path = (info.context or {}).get("base_dir") or Path.cwd()
    resolved = path if path.is_absolute() else base_dir / path
    if not resolved.is_file():
        raise ValueError(f"no such file: {resolved}")
    return resolved


def no_default(schema: dict[str, Any]) -> None:
    """A default that depends on another key (the region) is given in the description."""
    schema.pop("default", None)


def lower(value: Any) -> Any:
    """Enumerated words are matched case-insensitively (``level = "INFO"``)."""
    return value.lower() if isinstance(value, str) else value


def below(other: str) -> Callable[[int, ValidationInfo], int]:
    """A number that must stay below an earlier field's (a shard index and the count)."""

    def check(value: int, info: ValidationInfo) -> int:
        limit = info.data.get(other)
        if limit is not None and value >= limit:
            raise ValueError(f"must be below {other} ({limit}), got {value}")
        return value

    return check


def unique_domains(names: tuple[str, ...]) -> tuple[str, ...]:
    """A watch-list keeps the first mention of each name."""
    return tuple(dict.fromkeys(names))


def _auto_shard(value: Any) -> Any:
    return shard_index_from_hostname() if value == "auto" else value


FORBID = ConfigDict(extra="forbid")  # every table: an unknown key is a problem
Int = Annotated[int, Strict()]  # strict: "2" is a string in TOML, not a number
Float = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]
Region = Annotated[str, AfterValidator(_region)]
SesRegion = Annotated[str, AfterValidator(_ses_region)]
DomainName = Annotated[str, AfterValidator(_domain)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
LabelName = Annotated[str, AfterValidator(_label_name)]
Labels = Annotated[tuple[tuple[str, str], ...], FromTable()]
TopicArn = Annotated[str, AfterValidator(_topic_arn)]
Nameserver = Annotated[tuple[str, int], FromString(_nameserver)]
ExistingFile = Annotated[Path, AfterValidator(_existing_file)]
ShardIndex = Annotated[
    int, BeforeValidator(_auto_shard, json_schema_input_type=int | Literal["auto"])
]


def hostport(default_port: int) -> FromString:
    """``host:port`` with a default port, held as ``(host, port)``."""
    return FromString(lambda text: parse_hostport(text, default_port))


def queue_url(url: str) -> str:
    if not _QUEUE_URL.fullmatch(url):
        raise ValueError("must be an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)")
    return url


def queue_region(region: str, info: ValidationInfo) -> str:
    """An SQS URL names its region; only other endpoints (a local one) need it given."""
    if not region and (url := info.data.get("url")) is not None:
        match = _QUEUE_REGION.match(url)
        if match is None:
            raise ValueError("is required when the URL does not name the region")
        region = match.group(1)
    return _sqs_region(region, info) if region else region


def check_role_arn(text: str) -> str:
    if not _ROLE_ARN.fullmatch(text):
        raise ValueError(f"{text!r} is not an IAM role ARN")
    return text


def check_external_id(text: str) -> str:
    low, high = STS_EXTERNAL_ID_LENGTH
    if not low <= len(text) <= high:
        raise ValueError(f"must be {low} to {high} characters (an STS limit)")
    return text


def credential_name(name: str) -> str:
    if not _PROM_LABEL.fullmatch(name.replace("-", "_")):
        raise ValueError("letters, digits, - and _ only (it becomes a label)")
    return name
