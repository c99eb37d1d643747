"""Hostile configuration files: whatever a file holds, loading it is a ConfigError whose
problems name a key and a reason, never another exception (a reload would kill the daemon)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import ConfigError, load_config, parse_config

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile_configs"
HOSTILE = sorted(CORPUS.glob("*.toml"))


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_the_corpus_is_there() -> None:
    """The daemon's reload test feeds the same files: an empty glob would prove nothing."""
    assert len(HOSTILE) >= 10


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_each_hostile_file_is_a_config_error(path: Path) -> None:
    problems = problems_of(path)
    assert problems
    assert all(": " in p and "Traceback" not in p for p in problems), problems


def test_non_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[[domains]]\nname = "caf\xe9.example.com"\n')
    assert problems_of(path) == ["not UTF-8 text: byte 0xe9 at offset 23"]


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(bytes(range(256)))
    assert problems_of(path)[0].startswith("not UTF-8 text: byte 0x80")


def test_deep_nesting_is_not_a_recursion_error(tmp_path: Path) -> None:
    """tomllib recurses once per level: 100,000 nested arrays exhaust the stack."""
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert problems_of(path) == ["not valid TOML: nested too deeply"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"server": "x"}, "server: must be a table, got string"),
        (
            {"server": {"listen_address": {"a": 1}}},
            "server.listen_address: must be a string, got table",
        ),
        (
            {"domains": {"name": "example.com"}},
            "domains: must be an array of tables ([[domains]]), got table",
        ),
        ({"domains": ["example.com"]}, "domains[0]: must be a table, got string"),
        ({"domains": [{"name": ["example.com"]}]}, "domains[0].name: must be a string, got array"),
        (
            {"domains": [{"name": "example.com", "labels": ["team"]}]},
            "domains[0].labels: must be a table, got array",
        ),
        (
            {"domains": [{"name": "example.com", "labels": {"team": {"a": 1}}}]},
            "domains[0].labels.team: must be a string, got table",
        ),
        (
            {"resolver": {"nameservers": "127.0.0.1"}},
            "resolver.nameservers: must be an array, got string",
        ),
        (
            {"resolver": {"zone_files": [1]}},
            "resolver.zone_files[0]: must be a string, got integer",
        ),
        (
            {"aws": {"accounts": {"name": "prod"}}},
            "aws.accounts: must be an array of tables ([[aws.accounts]]), got table",
        ),
        ({"aws": {"accounts": [[]]}}, "aws.accounts[0]: must be a table, got array"),
        (
            {
                "smtp_credentials": [
                    {"name": "x", "region": "us-east-1", "iam_user": "u", "endpoint": 587}
                ]
            },
            "smtp_credentials[0].endpoint: must be a string, got integer",
        ),
        (
            {"events": {"queues": "https://sqs.us-east-1.amazonaws.com/1/q"}},
            "events.queues: must be an array of tables ([[events.queues]]), got string",
        ),
        (
            {"cluster": {"shard_index": [0]}},
            "cluster.shard_index: must be a whole number, got array",
        ),
        (
            {"log": {"level": 1}},
            "log.level: must be one of debug, info, warning, error, got 1",
        ),
        (
            {"metrics": {"watch_domains": [{"a": 1}]}},
            "metrics.watch_domains[0]: must be a string, got table",
        ),
    ],
)
def test_wrong_types_anywhere(raw: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert expected in info.value.problems


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"resolver": {"attempts": "2"}}, "resolver.attempts: must be a whole number, got '2'"),
        (
            {"resolver": {"timeout_seconds": "2"}},
            "resolver.timeout_seconds: must be a number, got string",
        ),
        ({"resolver": {"attempts": True}}, "resolver.attempts: must be a whole number, got true"),
        (
            {"resolver": {"authoritative": 1}},
            "resolver.authoritative: must be true or false, got integer",
        ),
        (
            {"schedule": {"interval_seconds": float("nan")}},
            "schedule.interval_seconds: must be between 1 and 604800, got nan",
        ),
        (
            {"schedule": {"interval_seconds": float("inf")}},
            "schedule.interval_seconds: must be between 1 and 604800, got inf",
        ),
    ],
)
def test_numbers_are_strict(raw: dict[str, object], expected: str) -> None:
    """A quoted number is a string in TOML: it is refused, not converted."""
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert info.value.problems == [expected]


@pytest.mark.parametrize("region", ["us-east-1\n", " us-east-1", "us-east-1 ", "US-EAST-1"])
def test_region_with_whitespace_or_capitals(region: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"domains": [{"name": "example.com", "region": region}]})
    assert info.value.problems == [
        f"domains[0].region: {region!r} is not an AWS region name like us-east-1"
    ]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("192.0.2.1", "an IP address, not a domain name (its last label is all digits)"),
        ("2001:db8::1", "contains ':' (an IPv6 address or a port?), not a domain name"),
        ("[::1]", "contains ':' (an IPv6 address or a port?), not a domain name"),
    ],
)
def test_ip_literal_is_not_a_domain(name: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"domains": [{"name": name}], "metrics": {"watch_domains": [name]}})
    assert info.value.problems == [
        f"domains[0].name: {name!r}: {reason}",
        f"metrics.watch_domains[0]: {name!r}: {reason}",
    ]


def test_a_huge_value_is_cut_in_the_problem() -> None:
    """The problem goes to the log on a failed reload: it must stay one short line."""
    with pytest.raises(ConfigError) as info:
        parse_config({"resolver": {"attempts": "9" * 100_000}})
    (problem,) = info.value.problems
    assert problem.startswith("resolver.attempts: must be a whole number, got '999")
    assert len(problem) < 120


def test_user_text_with_braces_is_kept_literally() -> None:
    """Reasons are pydantic message templates: braces in a name must not be formatted."""
    raw = {"aws": {"accounts": [{"name": "{x}", "regions": ["us-east-1"]}] * 2}}
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert info.value.problems == ["aws.accounts[1].name: '{x}' is used by another account"]


def test_keys_with_control_characters_are_quoted() -> None:
    """A quoted TOML key can hold any character: the problem (a log line) must not."""
    with pytest.raises(ConfigError) as info:
        parse_config(
            {"server": {"a\nb": 1}, "domains": [{"name": "a.example", "labels": {"x\ty": "v"}}]}
        )
    assert info.value.problems[0].startswith('server."a\\nb": unknown key')
    assert info.value.problems[1].startswith('domains[0].labels."x\\ty": not usable')


def test_a_flood_of_problems_is_cut() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"server": {f"k{i}": i for i in range(100_000)}})
    problems = info.value.problems
    assert len(problems) == 101
    assert problems[-1] == "(document): and 99900 more problems"
