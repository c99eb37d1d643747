"""Sharding: the stable hash, the per-role view of the config, and the [cluster] keys and flags."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from exporter.app import load_runtime
from exporter.cli import _parser, _run_overrides
from exporter.config import ClusterConfig, ConfigError, parse_config, shard_index_from_hostname
from exporter.sharding import local_view, owns, shard_of

NAMES = [f"d{i:05d}.example" for i in range(10_000)]
BASE = {
    "domains": [{"name": "a.example"}, {"name": "b.example"}, {"name": "g.example"}],
    "aws": {"accounts": [{"name": "prod", "regions": ["us-east-1"]}]},
    "smtp_credentials": [{"name": "relay", "region": "us-east-1", "iam_user": "ses-smtp"}],
    "events": {"queues": [{"url": "https://sqs.us-east-1.amazonaws.com/123456789012/ses-events"}]},
}


def test_shard_of_is_pinned_across_processes_and_versions() -> None:
    """blake2b, not hash(): a replica restarted (or upgraded) keeps its domains."""
    assert [shard_of(n, 3) for n in ("a.example", "b.example", "g.example")] == [0, 2, 1]
    assert shard_of("example.com", 7) == 2


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_every_domain_is_in_exactly_one_shard(count: int) -> None:
    for name in NAMES[:2000]:
        owners = [i for i in range(count) if owns(ClusterConfig("all", count, i), name)]
        assert owners == [shard_of(name, count)]


def test_shards_are_even_within_five_percent() -> None:
    sizes = Counter(shard_of(name, 4) for name in NAMES)
    assert set(sizes) == {0, 1, 2, 3}
    assert all(abs(size - 2500) < 125 for size in sizes.values()), sizes


def _cluster(count: int, index: int, role: str = "all", **extra: object) -> dict[str, object]:
    return {"role": role, "shard_count": count, "shard_index": index, **extra}


def test_single_process_view_is_the_whole_config() -> None:
    config = parse_config(BASE)
    assert local_view(config) == config


def test_checks_shard_keeps_its_domains_and_leaves_the_queues() -> None:
    views = [
        local_view(parse_config({**BASE, "cluster": _cluster(3, i, "checks")})) for i in (0, 1, 2)
    ]
    names = [[d.name for d in v.domains] for v in views]
    assert names == [["a.example"], ["g.example"], ["b.example"]]
    assert all(v.events.queues == () for v in views)
    assert all(v.aws.accounts for v in views)  # every shard discovers its own identities
    assert [bool(v.smtp_credentials) for v in views] == [True, False, False]  # ses_shard 0
    assert [v.cluster.polls_ses_account for v in views] == [True, False, False]


def test_ses_shard_moves_account_polling() -> None:
    view = local_view(parse_config({**BASE, "cluster": _cluster(3, 2, "checks", ses_shard=2)}))
    assert view.cluster.polls_ses_account
    assert view.smtp_credentials


def test_events_replica_only_consumes() -> None:
    view = local_view(parse_config({**BASE, "cluster": {"role": "events"}}))
    assert (view.domains, view.aws.accounts, view.smtp_credentials) == ((), (), ())
    assert len(view.events.queues) == 1
    assert not view.cluster.runs_checks
    assert not view.cluster.polls_ses_account


def test_all_role_shard_checks_its_domains_and_consumes() -> None:
    view = local_view(parse_config({**BASE, "cluster": _cluster(3, 1)}))
    assert [d.name for d in view.domains] == ["g.example"]
    assert len(view.events.queues) == 1


@pytest.mark.parametrize(
    ("cluster", "problem"),
    [
        ({"role": "dns"}, "cluster.role: must be one of all, checks, events, got 'dns'"),
        ({"shard_count": 0}, "cluster.shard_count: must be between 1 and 1024, got 0"),
        (
            {"shard_count": 3, "shard_index": 3},
            "cluster.shard_index: must be below shard_count (3), got 3",
        ),
        (
            {"shard_count": 2, "ses_shard": 2},
            "cluster.ses_shard: must be below shard_count (2), got 2",
        ),
        ({"shard_index": "first"}, "cluster.shard_index: must be a whole number, got 'first'"),
        ({"shards": 3}, "cluster.shards: unknown key"),
    ],
)
def test_bad_cluster_keys_are_named(cluster: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"cluster": cluster})
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_auto_index_is_the_statefulset_ordinal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert shard_index_from_hostname("ses-exporter-checks-12") == 12
    assert shard_index_from_hostname("ses-exporter-checks-0.ses-exporter.ns.svc") == 0
    monkeypatch.setenv("HOSTNAME", "release-checks-2")
    assert (
        parse_config({"cluster": {"shard_count": 3, "shard_index": "auto"}}).cluster.shard_index
        == 2
    )
    monkeypatch.setenv("HOSTNAME", "laptop")
    with pytest.raises(ConfigError) as err:
        parse_config({"cluster": {"shard_count": 3, "shard_index": "auto"}})
    assert err.value.problems == [
        "cluster.shard_index: auto needs a hostname ending in -<ordinal> (a StatefulSet pod), got 'laptop'"
    ]


def test_run_flags_override_the_file_and_are_validated_as_keys(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[cluster]\nrole = "all"\n\n[[domains]]\nname = "a.example"\n')
    args = _parser().parse_args(
        [
            "run",
            "--config",
            str(config),
            "--role",
            "checks",
            "--shard-count",
            "3",
            "--shard-index",
            "1",
        ]
    )
    flags = _run_overrides(args)
    assert flags == {"cluster": {"role": "checks", "shard_count": 3, "shard_index": 1}}
    cluster = load_runtime(config, flags).config.cluster
    assert (cluster.role, cluster.shard_count, cluster.shard_index) == ("checks", 3, 1)
    bad = _run_overrides(
        _parser().parse_args(
            ["run", "--config", str(config), "--shard-count", "2", "--shard-index", "5"]
        )
    )
    with pytest.raises(ConfigError) as err:
        load_runtime(config, bad)
    assert err.value.problems == ["cluster.shard_index: must be below shard_count (2), got 5"]


def test_web_config_flag_names_its_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    flags = _run_overrides(
        _parser().parse_args(
            ["run", "--config", str(config), "--web-config-file", "/nonexistent/web.yml"]
        )
    )
    with pytest.raises(ConfigError) as err:
        load_runtime(config, flags)
    assert err.value.problems == ["server.web_config_file: no such file: /nonexistent/web.yml"]
