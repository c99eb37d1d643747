"""The [metrics] section of the configuration (exporter/config/): the series budget and the
watch-list of domains that keep their per-domain check series."""

from __future__ import annotations

import pytest

from exporter.config import ConfigError, MetricsConfig, parse_config


def test_metrics_config_defaults_to_no_budget() -> None:
    """Without [metrics] every domain x check x status is exported, as before."""
    assert parse_config({}).metrics == MetricsConfig(series_budget=0, watch_domains=())


def test_metrics_config_normalises_the_watch_list() -> None:
    config = parse_config(
        {
            "metrics": {
                "series_budget": 200000,
                "watch_domains": ["Shop.Example.", "bücher.example", "shop.example"],
            }
        }
    )
    assert config.metrics.series_budget == 200000
    assert config.metrics.watch_domains == ("shop.example", "xn--bcher-kva.example")


def test_metrics_config_reports_every_problem() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(
            {"metrics": {"series_budget": -1, "watch_domains": ["ok.example", "nodot"], "x": 1}}
        )
    problems = "\n".join(error.value.problems)
    assert "metrics.series_budget: must be between 0 and" in problems
    assert "metrics.watch_domains[1]: 'nodot'" in problems
    assert "metrics.x: unknown key" in problems
    with pytest.raises(ConfigError, match=r"metrics\.series_budget: must be a whole number"):
        parse_config({"metrics": {"series_budget": 1.5}})
