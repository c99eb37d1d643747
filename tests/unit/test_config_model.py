"""The configuration model: checks between keys, the objects the daemon holds, and the
reference and JSON Schema generated from it."""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest

from exporter.config import ConfigError, load_config, parse_config
from exporter.config.reference import MARKDOWN, SCHEMA, rendered

ROOT = Path(__file__).resolve().parents[2]


def test_checks_between_keys_are_reported_next_to_other_problems(tmp_path: Path) -> None:
    """jitter < interval, shard_index < shard_count and mail_from under name still run when
    another key of the same table is invalid, so one pass names all of them."""
    path = tmp_path / "config.toml"
    path.write_text(
        "[schedule]\ninterval_seconds = 60\njitter_seconds = 60\nbogus = 1\n\n"
        '[cluster]\nrole = "leader"\nshard_count = 2\nshard_index = 2\nses_shard = 5\n\n'
        '[[domains]]\nname = "ok.example.com"\nmail_from = "mail.other.com"\n'
        'region = "mars"\ndkim_tokens = ["has space"]\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert sorted(info.value.problems) == sorted(
        [
            "schedule.jitter_seconds: must be smaller than interval_seconds (60)",
            "schedule.bogus: unknown key (allowed: interval_seconds, jitter_seconds)",
            "cluster.role: must be one of all, checks, events, got 'leader'",
            "cluster.shard_index: must be below shard_count (2), got 2",
            "cluster.ses_shard: must be below shard_count (2), got 5",
            "domains[0].mail_from: mail.other.com must be a subdomain of ok.example.com",
            "domains[0].region: 'mars' is not an AWS region name like us-east-1",
            "domains[0].dkim_tokens[0]: 'has space' is not a valid DNS label",
        ]
    )


def test_duplicates_are_reported_next_to_invalid_items() -> None:
    raw = {
        "domains": [{"name": "a.example"}, {"name": "A.example."}, {"name": "bad..example"}],
        "smtp_credentials": [
            {"name": "relay", "region": "us-east-1", "iam_user": "u"},
            {"name": "relay", "region": "mars", "iam_user": "u"},
        ],
    }
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    problems = info.value.problems
    assert "domains[1].name: a.example is already configured at domains[0]" in problems
    assert "domains[2].name: 'bad..example': label '' is not a valid DNS label" in problems
    assert "smtp_credentials[1].name: 'relay' is used twice" in problems
    assert "smtp_credentials[1].region: 'mars' is not an AWS region name like us-east-1" in problems


def test_an_invalid_only_nameserver_is_one_problem() -> None:
    """The list is not also reported empty when its only entry is invalid."""
    with pytest.raises(ConfigError) as info:
        parse_config({"resolver": {"nameservers": ["not-an-ip"]}})
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("resolver.nameservers[0]: 'not-an-ip' is not an IP")


def test_problems_use_no_pydantic_wording() -> None:
    raw = {
        "server": {"listen_address": ":0"},
        "resolver": {"zone_files": ["missing.zone"], "attempts": 0},
        "events": {"queues": [{"url": "ftp://x"}]},
        "aws": {"accounts": [{"regions": ["us-east-1"], "role_arn": "nope"}]},
        "smtp_credentials": [{"name": "x y", "region": "us-east-1"}],
    }
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    text = "\n".join(info.value.problems)
    assert len(info.value.problems) == 7, text
    assert not re.search(r"Value error|Input should|validation error|pydantic", text), text


def test_accounts_are_named_after_their_position() -> None:
    config = parse_config({"aws": {"accounts": [{"regions": ["us-east-1"]}] * 2}})
    assert [a.name for a in config.aws.accounts] == ["account0", "account1"]


def test_the_daemon_holds_frozen_slotted_dataclasses() -> None:
    """Loading builds the runtime objects directly: no pydantic model, no per-object dict
    (100,000 domains stay small), and a reloaded equal file compares equal."""
    path = ROOT / "config.example.toml"
    config = load_config(path)
    domain = config.domains[0]
    for value in (config, config.server, domain, config.events.queues[0]):
        assert dataclasses.is_dataclass(value)
        assert not hasattr(value, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        domain.name = "other.example"  # type: ignore[misc]
    assert load_config(path) == config
    assert hash(load_config(path)) == hash(config)


def test_generated_reference_is_committed() -> None:
    """docs/configuration.md and docs/config.schema.json equal a fresh generation: run
    `python -m exporter.config.reference` after changing the model."""
    for path, text in rendered().items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale"


def test_schema_accepts_the_shipped_files_and_refuses_unknown_keys() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for path in (ROOT / "config.example.toml", ROOT / "exporter" / "demo" / "demo.toml"):
        validator.validate(tomllib.loads(path.read_text()))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"resolver": {"attempts": "2"}})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"domains": [{"name": "example.com", "owner": "x"}]})


def test_example_shows_every_key_of_the_reference() -> None:
    """Every key the model knows appears in config.example.toml, set or commented out;
    deprecated keys (accepted, ignored) do not."""
    example = (ROOT / "config.example.toml").read_text()
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|(.*)$", MARKDOWN.read_text(), flags=re.MULTILINE)
    keys = [
        key
        for key, kind, rest in rows
        if kind != "array of tables"  # shown as [[key]]
        and "deprecated and ignored" not in rest
    ]
    deprecated = [key for key, _, rest in rows if "deprecated and ignored" in rest]
    assert deprecated == ["processes"]
    assert not [k for k in deprecated if re.search(rf"^#? ?{k} = ", example, flags=re.MULTILINE)]
    assert len(keys) > 50
    missing = [k for k in keys if not re.search(rf"^#? ?{k} = ", example, flags=re.MULTILINE)]
    assert not missing, f"config.example.toml does not show: {missing}"
