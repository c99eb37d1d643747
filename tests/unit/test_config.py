"""Config loading: typed values, and every problem reported at once with its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exporter.cli import main
from exporter.config import ConfigError, load_config, normalize_domain, parse_config, parse_hostport
from exporter.runtime import load_runtime

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_is_valid() -> None:
    """The shipped example documents every key and must load."""
    config = load_config(ROOT / "config.example.toml")
    assert [d.name for d in config.domains] == ["example.com", "example.org"]
    first = config.domains[0]
    assert first.mail_from == "mail.example.com"
    assert first.region == "us-east-1"
    assert len(first.dkim_tokens) == 3
    assert dict(first.labels) == {"team": "payments", "tier": "critical"}
    assert config.server.listen_port == 10190
    assert config.resolver.nameservers is None  # system resolver


def test_demo_config_is_valid() -> None:
    config = load_config(ROOT / "exporter" / "demo" / "demo.toml")
    assert config.resolver.nameservers == ()
    assert all(p.is_file() for p in config.resolver.zone_files)


def test_defaults_for_empty_document() -> None:
    config = parse_config({})
    assert config.domains == ()
    assert config.schedule.interval_seconds == 300
    assert config.resolver.max_queries_per_second == 500


RETIRED_PROCESSES = (
    "resolver.processes: deprecated and ignored: the DNS cycle runs in one process; use "
    "cluster.shard_count to spread domains over processes or pods"
)


def test_retired_processes_key_is_accepted_with_a_warning() -> None:
    """A file that still sets resolver.processes loads, and says the key does nothing."""
    warnings: list[str] = []
    parse_config({"resolver": {"processes": 4}}, warnings=warnings)
    assert warnings == [RETIRED_PROCESSES]
    unset: list[str] = []
    parse_config({"resolver": {"attempts": 3}}, warnings=unset)
    assert unset == []


def test_validate_config_and_the_runtime_name_the_retired_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.toml"
    path.write_text('[resolver]\nnameservers = ["127.0.0.1"]\nprocesses = 2\n', encoding="utf-8")
    assert load_runtime(path).warnings == (RETIRED_PROCESSES,)
    assert main(["validate-config", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{path}: valid, 0 domain(s)",
        f"  warning: {RETIRED_PROCESSES}",
    ]


def test_repeated_values_are_shared_copies_apart_from_the_document() -> None:
    """100,000 domains repeat a few regions and owner labels: each is held once, and not as
    the parsed document's string, so none of the document's memory stays behind."""
    labels = {"team": "payments", "tier": "critical"}
    raw: dict[str, list[dict[str, Any]]] = {
        "domains": [
            {"name": f"d{i}.example.com", "region": "eu-west-1", "labels": dict(labels)}
            for i in range(3)
        ]
    }
    first, *others = parse_config(raw).domains
    assert first.labels == (("team", "payments"), ("tier", "critical"))
    assert all(d.labels is first.labels and d.region is first.region for d in others)
    document = {id(item["region"]) for item in raw["domains"]}
    document |= {id(s) for item in raw["domains"] for pair in item["labels"].items() for s in pair}
    kept = {id(first.region)} | {id(s) for pair in first.labels for s in pair}
    assert not kept & document


def test_every_problem_is_reported_with_its_key() -> None:
    """One pass names every bad key and why, instead of failing on the first."""
    raw = {
        "server": {"listen_address": "0.0.0.0:99999", "bogus": 1},
        "resolver": {
            "nameservers": ["not-an-ip"],
            "timeout_seconds": -1,
            "concurrency": 1.5,
            "processes": 0,
        },
        "schedule": {"interval_seconds": 60, "jitter_seconds": 60},
        "log": {"level": "loud"},
        "domains": [
            {"name": "ok.example.com", "mail_from": "mail.other.com"},
            {"name": "bad_domain..com"},
            {"mail_from": "x.example.com"},
            {"name": "ok.example.com"},
            {
                "name": "t.example.com",
                "dkim_tokens": ["has space"],
                "region": "mars",
                "labels": {"domain": "x", "ok": 1},
            },
        ],
        "extra": {},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    problems = "\n".join(info.value.problems)
    for key in [
        "server.listen_address: port '99999'",
        "server.bogus: unknown key",
        "resolver.nameservers[0]:",
        "resolver.timeout_seconds: must be between",
        "resolver.concurrency: must be a whole number",
        "resolver.processes: must be between 1 and 64",
        "schedule.jitter_seconds: must be smaller",
        "log.level:",
        "domains[0].mail_from: mail.other.com must be a subdomain of ok.example.com",
        "domains[1].name:",
        "domains[2].name: is required",
        "domains[3].name: ok.example.com is already configured at domains[0]",
        "domains[4].dkim_tokens[0]:",
        "domains[4].region:",
        "domains[4].labels.domain:",
        "domains[4].labels.ok: must be a string",
        "extra: unknown key",
    ]:
        assert key in problems, f"missing {key!r} in:\n{problems}"


def test_load_reports_toml_syntax_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "missing.toml")


def test_zone_file_paths_are_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "z.zone").write_text("")
    with pytest.raises(ConfigError, match=r"resolver.zone_files\[1\]: no such file"):
        parse_config({"resolver": {"zone_files": ["z.zone", "nope.zone"]}}, base_dir=tmp_path)
    config = parse_config(
        {"resolver": {"zone_files": ["z.zone"], "nameservers": []}}, base_dir=tmp_path
    )
    assert config.resolver.zone_files == (tmp_path / "z.zone",)


def test_listen_address_that_is_only_a_port_names_the_fix() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"server": {"listen_address": "10190"}})
    assert "server.listen_address: '10190' has no ':': write ':10190'" in info.value.problems[0]


def test_empty_nameservers_need_zone_files() -> None:
    with pytest.raises(ConfigError, match=r"resolver\.nameservers: is empty"):
        parse_config({"resolver": {"nameservers": []}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Example.COM.", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("_dmarc.example.com", "_dmarc.example.com"),
    ],
)
def test_normalize_domain(text: str, expected: str) -> None:
    assert normalize_domain(text) == expected


@pytest.mark.parametrize(
    "text", ["", "com", "-bad.example", "a..b", "x" * 64 + ".com", "sp ace.com"]
)
def test_normalize_domain_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        normalize_domain(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:53", ("::1", 53)),
        ("[::1]", ("::1", 53)),
        ("::1", ("::1", 53)),
        (":10190", ("", 10190)),
    ],
)
def test_parse_hostport(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text, 53) == expected


@pytest.mark.parametrize("text", ["[::1", "[::1]x", "h:0", "h:abc"])
def test_parse_hostport_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hostport(text, 53)


def test_events_section() -> None:
    """Queue URLs name their region; a URL that does not needs aws_region."""
    config = parse_config(
        {
            "events": {
                "queues": [
                    {"url": "https://sqs.eu-west-1.amazonaws.com/123456789012/ses-events"},
                    {"url": "http://127.0.0.1:4566/123456789012/local", "aws_region": "us-east-1"},
                ],
                "watch_recipient_domains": ["Gmail.com"],
                "pollers": 4,
            }
        }
    )
    first, second = config.events.queues
    assert (first.name, first.aws_region) == ("ses-events", "eu-west-1")
    assert (second.name, second.aws_region) == ("local", "us-east-1")
    assert config.events.watch_recipient_domains == ("gmail.com",)
    assert config.events.pollers == 4


def test_events_problems_name_their_keys() -> None:
    raw = {
        "events": {
            "queues": [{"url": "http://127.0.0.1:4566/1/q"}, {"url": "ftp://x"}, "nope"],
            "wait_time_seconds": 20,
            "provider_lookup": "yes",
            "watch_recipient_domains": ["not a domain"],
        }
    }
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    problems = "\n".join(info.value.problems)
    for key in [
        "events.queues[0].aws_region: is required",
        "events.queues[1].url: must be an SQS queue URL",
        "events.queues[2]: must be a table",
        "events.wait_time_seconds: must be between 0 and 5",
        "events.provider_lookup: must be true or false",
        "events.watch_recipient_domains[0]:",
    ]:
        assert key in problems, f"missing {key!r} in:\n{problems}"


def test_smtp_credentials(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    config = parse_config(
        {
            "smtp_credentials": [
                {"name": "relay", "region": "eu-west-1", "iam_user": "u", "ca_file": "ca.pem"},
                {
                    "name": "probe",
                    "region": "us-east-1",
                    "username_env": "U",
                    "password_env": "P",
                    "endpoint": "127.0.0.1:2587",
                },
            ]
        },
        base_dir=tmp_path,
    )
    relay, probe = config.smtp_credentials
    assert relay.endpoint == ("email-smtp.eu-west-1.amazonaws.com", 587)
    assert relay.ca_file == tmp_path / "ca.pem"
    assert probe.endpoint == ("127.0.0.1", 2587)
    with pytest.raises(ConfigError) as info:
        parse_config(
            {
                "smtp_credentials": [
                    {"name": "x", "region": "us-east-1", "username_env": "U"},
                    {"name": "y"},
                ]
            }
        )
    problems = "\n".join(info.value.problems)
    assert "smtp_credentials[0].password_env: username_env and password_env go together" in problems
    assert "smtp_credentials[1].region: is required" in problems
