# ruff: noqa: INP001  (a script next to the JSON it writes, not part of the exporter package)
"""Build the Grafana dashboards from code: ``python dashboards/generate.py``.

This file is the one source of truth for the dashboards. It builds them with
grafana-foundation-sdk and writes ``dashboards/*.json`` (importable as they are: ``id`` null,
stable ``uid``, a ``datasource`` variable, no ``__inputs``) and ``dashboards/README.md`` (every
panel with what it shows and its query), so the JSON and its documentation cannot drift.
``--check`` only compares and exits 1 when a file is out of date.

Aggregation, so that any number of exporter pods (the Helm chart's sharding: check shards plus
event consumers) shows the same numbers:

* counters are summed (``sum by (...) (rate(...[$__rate_interval]))``): with competing SQS
  consumers each event is counted by exactly one replica, so the sum is the true total;
* per-shard counts (``deliverability_domains``, ``deliverability_check_status_withheld_series``)
  are summed too: each domain is checked and counted by exactly one shard;
* state gauges (a domain's checks, SES account state, suppression list, credentials, queue
  depth) are the same whichever pod reports them (one shard per domain, one pod polling SES,
  every consumer reading the same queue), so they are taken with ``max by (...)``;
* exporter-health gauges take the worst replica (``min`` of up and of last success, ``max`` of
  duration), and process metrics stay per instance.

``panel_queries()`` returns every panel's PromQL with the template variables substituted, for
tests that run the queries against a real Prometheus.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from grafana_foundation_sdk.builders import bargauge, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus as prometheus_builders
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

__all__ = [
    "DASHBOARDS",
    "RECORDING_RULES",
    "SDK_VERSION",
    "build_dashboards",
    "main",
    "panel_queries",
    "render",
    "substitute_variables",
]

HERE = Path(__file__).resolve().parent
# The SDK line these dashboards are built with (schemaVersion 41). Its versions carry an epoch:
# an unpinned install picks the Grafana 10.1 line, whose output differs.
SDK_VERSION = "1769699379!11.6.0"
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid="${datasource}")
TAG = "ses-deliverability"

# Recording rules from rules/ses-deliverability.rules.yml (names must match exactly).
BOUNCE_RATIO = "ses:deliverability_ses_bounce_ratio:rate1h"
COMPLAINT_RATIO = "ses:deliverability_ses_complaint_ratio:rate1h"
DOMAIN_5XX_RATIO = "recipient_domain:deliverability_ses_bounce_5xx_ratio:rate1h"
PROVIDER_5XX_RATIO = "recipient_provider:deliverability_ses_bounce_5xx_ratio:rate1h"
RECORDING_RULES = (BOUNCE_RATIO, COMPLAINT_RATIO, DOMAIN_5XX_RATIO, PROVIDER_5XX_RATIO)

# SES's documented review/pause levels for the account-wide rates.
BOUNCE_REVIEW, BOUNCE_PAUSE = 0.05, 0.10
COMPLAINT_REVIEW, COMPLAINT_PAUSE = 0.001, 0.005

GREEN, ORANGE, RED, GREY = "green", "orange", "red", "#8e8e8e"
STATUS_COLOURS = {"pass": GREEN, "warn": ORANGE, "fail": RED, "unknown": GREY}

PanelT = TypeVar(
    "PanelT", timeseries.Panel, stat.Panel, table.Panel, statetimeline.Panel, bargauge.Panel
)


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL target and its legend."""

    expr: str
    legend: str = "__auto"


def q(expr: str, legend: str = "__auto") -> Query:
    """A query; multi-line expressions are dedented so the JSON and README read well."""
    lines = [line for line in expr.strip("\n").splitlines() if line.strip()]
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    return Query("\n".join(line[indent:].rstrip() for line in lines), legend)


# --- building blocks --------------------------------------------------------------------------


def _mappings(options: dict[str, tuple[str, str]]) -> list[models.ValueMapping]:
    """A value mapping: raw value -> (display text, colour)."""
    results = {
        value: models.ValueMappingResult(text=text, color=colour, index=index)
        for index, (value, (text, colour)) in enumerate(options.items())
    }
    return [models.ValueMap(options=results)]


STATUS_MAPPINGS = _mappings({status: (status, colour) for status, colour in STATUS_COLOURS.items()})


def _thresholds(*steps: tuple[float | None, str]) -> dashboard_builders.ThresholdsConfig:
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps([models.Threshold(value=value, color=colour) for value, colour in steps])
    )


def _transform(transform_id: str, options: dict[str, Any]) -> models.DataTransformerConfig:
    return models.DataTransformerConfig(id_val=transform_id, options=options)


def _organize(
    exclude: Sequence[str] = (), rename: dict[str, str] | None = None
) -> models.DataTransformerConfig:
    return _transform(
        "organize",
        {"excludeByName": dict.fromkeys(exclude, True), "renameByName": rename or {}},
    )


def _cell(kind: str) -> dict[str, str]:
    return {"type": kind}


def _override(**values: Any) -> list[models.DynamicConfigValue]:
    """Override properties; ``custom_cellOptions`` stands for ``custom.cellOptions``."""
    return [
        models.DynamicConfigValue(id_val=key.replace("_", "."), value=value)
        for key, value in values.items()
    ]


def _legend_table() -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.RIGHT)
        .show_legend(show_legend=True)
        .calcs(["lastNotNull", "max"])
    )


def _base(
    panel: PanelT,
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    size: tuple[int, int],
    instant: bool = False,
    table_format: bool = False,
) -> PanelT:
    """Title, description, size, datasource and targets (refId A, B, ...) of any panel."""
    width, height = size
    panel = (
        panel.title(title)
        .description(description)
        .datasource(DATASOURCE)
        .span(width)
        .height(height)
    )
    for index, query in enumerate(queries):
        target = (
            prometheus_builders.Dataquery()
            .expr(query.expr)
            .legend_format(query.legend)
            .ref_id(chr(ord("A") + index))
            .datasource(DATASOURCE)
        )
        target = target.instant() if instant else target.range()
        if table_format:
            target = target.format(PromQueryFormat.TABLE)
        panel = panel.with_target(target)
    return panel


def ts(
    title: str,
    description: str,
    *queries: Query,
    unit: str = "short",
    size: tuple[int, int] = (12, 8),
    stacked: bool = False,
) -> timeseries.Panel:
    panel = _base(timeseries.Panel(), title, description, queries, size=size)
    panel = panel.unit(unit).fill_opacity(10).legend(_legend_table()).min(0)
    panel = panel.tooltip(
        common_builders.VizTooltipOptions()
        .mode(common.TooltipDisplayMode.MULTI)
        .sort(common.SortOrder.DESCENDING)
    )
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    return panel


def threshold_ts(
    title: str,
    description: str,
    *queries: Query,
    review: float,
    pause: float,
) -> timeseries.Panel:
    """A ratio against SES's review and pause levels, drawn as dashed lines."""
    return (
        ts(title, description, *queries, unit="percentunit")
        .thresholds(_thresholds((None, GREEN), (review, ORANGE), (pause, RED)))
        .thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
            )
        )
        .axis_soft_max(pause * 1.2)
    )


def single_stat(
    title: str,
    description: str,
    query: Query,
    *,
    steps: Sequence[tuple[float | None, str]] = ((None, GREEN),),
    mappings: list[models.ValueMapping] | None = None,
    unit: str = "short",
    size: tuple[int, int] = (6, 4),
    graph: bool = False,
) -> stat.Panel:
    panel = _base(stat.Panel(), title, description, [query], size=size, instant=not graph)
    panel = (
        panel.unit(unit)
        .thresholds(_thresholds(*steps))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA if graph else common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(
            common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(values=False)
        )
    )
    if mappings:
        panel = panel.mappings(mappings)
    return panel


def table_panel(
    title: str,
    description: str,
    *queries: Query,
    transformations: Sequence[models.DataTransformerConfig] = (),
    overrides: dict[str, list[models.DynamicConfigValue]] | None = None,
    mappings: list[models.ValueMapping] | None = None,
    size: tuple[int, int] = (12, 8),
    no_value: str = "",
    sort_by: str = "",
) -> table.Panel:
    """An instant table. Several queries are merged on their common labels."""
    panel = _base(
        table.Panel(), title, description, queries, size=size, instant=True, table_format=True
    )
    steps = [(None, "transparent")]
    panel = panel.thresholds(_thresholds(*steps)).cell_height(common.TableCellHeight.SM)
    if len(queries) > 1:
        panel = panel.with_transformation(_transform("merge", {}))
    for transformation in transformations:
        panel = panel.with_transformation(transformation)
    for name, properties in (overrides or {}).items():
        panel = panel.override_by_name(name, properties)
    if mappings:
        panel = panel.mappings(mappings).cell_options(
            common.TableColoredBackgroundCellOptions(
                mode=common.TableCellBackgroundDisplayMode.BASIC
            )
        )
    if no_value:
        panel = panel.no_value(no_value)
    if sort_by:
        panel = panel.sort_by([common_builders.TableSortByFieldState().display_name(sort_by)])
    return panel


def status_grid(
    title: str, description: str, query: Query, *, size: tuple[int, int]
) -> table.Panel:
    """Rows = domains, columns = checks, each cell the current status in its colour."""
    return table_panel(
        title,
        description,
        query,
        transformations=[
            _transform(
                "groupingToMatrix",
                {"columnField": "check", "rowField": "domain", "valueField": "status"},
            ),
            _organize(rename={"domain\\check": "domain"}),
        ],
        mappings=STATUS_MAPPINGS,
        size=size,
        sort_by="domain",
    )


def state_timeline(
    title: str,
    description: str,
    query: Query,
    *,
    mappings: list[models.ValueMapping],
    size: tuple[int, int] = (24, 8),
) -> statetimeline.Panel:
    return (
        _base(statetimeline.Panel(), title, description, [query], size=size)
        .mappings(mappings)
        .thresholds(_thresholds((None, GREY)))
        .merge_values(merge_values=True)
        .show_value(common.VisibilityMode.AUTO)
        .row_height(0.8)
        .fill_opacity(80)
        .legend(common_builders.VizLegendOptions().show_legend(show_legend=False))
    )


def bars(
    title: str,
    description: str,
    query: Query,
    *,
    unit: str = "short",
    steps: Sequence[tuple[float | None, str]] = ((None, GREEN),),
    size: tuple[int, int] = (12, 8),
    max_value: float | None = None,
) -> bargauge.Panel:
    panel = (
        _base(bargauge.Panel(), title, description, [query], size=size, instant=True)
        .unit(unit)
        .thresholds(_thresholds(*steps))
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .min(0)
        .reduce_options(
            common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(values=False)
        )
    )
    if max_value is not None:
        panel = panel.max(max_value)
    return panel


def row(title: str) -> dashboard_builders.Row:
    return dashboard_builders.Row(title)


def query_variable(name: str, label: str, metric: str) -> dashboard_builders.QueryVariable:
    """A multi-value label filter with All = ``.*`` (used only inside ``=~`` matchers)."""
    return (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .query(f"label_values({metric}, {name})")
        .datasource(DATASOURCE)
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(multi=True)
        .include_all(include_all=True)
        .all_value(".*")
    )


def new_dashboard(uid: str, title: str, description: str) -> dashboard_builders.Dashboard:
    return (
        dashboard_builders.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG, "ses", "email"])
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .link(
            dashboard_builders.DashboardLink("SES deliverability")
            .type(models.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(as_dropdown=True)
            .include_vars(include_vars=True)
            .keep_time(keep_time=True)
        )
        .with_variable(
            dashboard_builders.DatasourceVariable("datasource")
            .label("Data source")
            .type("prometheus")
        )
    )


def _add(
    dashboard: dashboard_builders.Dashboard,
    *items: dashboard_builders.Row | Builder[models.Panel],
) -> dashboard_builders.Dashboard:
    for item in items:
        if isinstance(item, dashboard_builders.Row):
            dashboard = dashboard.with_row(item)
        else:
            dashboard = dashboard.with_panel(item)
    return dashboard


# --- overview ---------------------------------------------------------------------------------

DOMAIN = 'domain=~"$domain"'
REGION = 'aws_region=~"$aws_region"'
RCPT = 'recipient_domain=~"$recipient_domain"'


def _checks_with(status: str) -> str:
    """(domain, check) pairs with this status, over every domain: from the aggregate, which
    the exporter counts whether or not a domain's own series fit its series budget."""
    return f'sum(deliverability_domains{{status="{status}"}}) or vector(0)'


_ALL_DOMAINS = (
    "Counted by the exporter over every monitored domain (summed over the shards when "
    "sharded), so it is exact in series-budget mode too; the domain filter does not apply."
)
_BUDGET_NOTE = (
    "With a series budget (metrics.series_budget) only watch-list domains and domains with a "
    "check not passing have per-domain check series."
)


def overview() -> dashboard_builders.Dashboard:
    dashboard = new_dashboard(
        "ses-deliverability-overview",
        "SES deliverability: overview",
        "Mail-DNS checks of every sending domain, SES account state, account-wide bounce and "
        "complaint rates against SES's review levels, and the recipient domains that bounce most.",
    )
    dashboard = dashboard.with_variable(
        query_variable("domain", "Sending domain", "deliverability_check_status")
    ).with_variable(
        query_variable("aws_region", "SES region", "deliverability_ses_sending_enabled")
    )
    not_passing = _mappings({"1": ("warn", ORANGE), "2": ("unknown", GREY), "3": ("fail", RED)})
    return _add(
        dashboard,
        row("Sending domains"),
        single_stat(
            "Failing checks",
            "Checks (DNS and SES verdicts) whose status is fail right now. Anything above 0 "
            f"means mail is, or will be, rejected or junked. {_ALL_DOMAINS}",
            q(_checks_with("fail"), "fail"),
            steps=((None, GREEN), (1, RED)),
        ),
        single_stat(
            "Warning checks",
            "Checks whose status is warn: works today, but weak (DMARC p=none, ?all, no rua=). "
            + _ALL_DOMAINS,
            q(_checks_with("warn"), "warn"),
            steps=((None, GREEN), (1, ORANGE)),
        ),
        single_stat(
            "Unknown checks",
            "Checks DNS (or SES) could not answer: timeouts, SERVFAIL, REFUSED. The exporter "
            f"never reports pass or fail on a resolver hiccup. {_ALL_DOMAINS}",
            q(_checks_with("unknown"), "unknown"),
            steps=((None, GREEN), (1, GREY)),
        ),
        single_stat(
            "Domains monitored",
            "Sending domains monitored (configured and discovered SES identities), counted on "
            "the most common check (every domain has mx once its first DNS cycle ran). "
            + _ALL_DOMAINS,
            q(
                "max(sum by (check) (deliverability_domains))",
                "domains",
            ),
            steps=((None, "blue"),),
        ),
        table_panel(
            "Domains by check and status",
            "For each check, how many domains pass, warn, fail or are unknown right now. "
            + _ALL_DOMAINS,
            q("sum by (check, status) (deliverability_domains)"),
            transformations=[
                _transform(
                    "groupingToMatrix",
                    {"columnField": "status", "rowField": "check", "valueField": "Value"},
                ),
                _organize(rename={"check\\status": "check"}),
            ],
            size=(18, 8),
            sort_by="check",
        ),
        single_stat(
            "Not-passing check series withheld",
            "Per-domain check series of domains that are not passing, left out because the "
            "series budget is used up: those domains are missing from the per-domain panels "
            "and alerts below. Raise metrics.series_budget (the landing page lists them all; "
            "each shard has a budget of its own, summed here). 0 without a budget.",
            q(
                'sum(deliverability_check_status_withheld_series{worst_status!="pass"}) '
                "or vector(0)",
                "withheld",
            ),
            steps=((None, GREEN), (1, RED)),
            size=(6, 8),
        ),
        status_grid(
            "Check status by domain",
            "One row per sending domain, one column per check, each cell the check's current "
            "status: pass green, warn orange, fail red, unknown grey. An empty cell is a check "
            f"that does not apply (no MAIL FROM, no DKIM tokens). {_BUDGET_NOTE}",
            q(f"max by (domain, check, status) (deliverability_check_status{{{DOMAIN}}} == 1)"),
            size=(24, 10),
        ),
        state_timeline(
            "Checks not passing over time",
            "History of every check that was not passing: warn orange, unknown grey, fail red. "
            "A domain/check pair that always passed has no row.",
            q(
                f"""
                max by (domain, check) (
                     (deliverability_check_status{{{DOMAIN}, status="warn"}} == 1)
                  or (deliverability_check_status{{{DOMAIN}, status="unknown"}} == 1) * 2
                  or (deliverability_check_status{{{DOMAIN}, status="fail"}} == 1) * 3
                )
                """,
                "{{domain}} {{check}}",
            ),
            mappings=not_passing,
        ),
        row("DMARC, SPF and MAIL FROM"),
        table_panel(
            "DMARC policy per domain",
            "The effective DMARC policy of each domain, weakest first: reject or quarantine "
            "green, none orange, no valid record red. Absent while DNS cannot tell. Shows the "
            "100 weakest, so it stays readable with 10^5 domains.",
            q(f"bottomk(100, max by (domain) (deliverability_dmarc_policy_level{{{DOMAIN}}}))"),
            transformations=[_organize(["Time"], {"Value": "policy"})],
            overrides={
                "policy": _override(
                    mappings=_mappings(
                        {
                            "-1": ("no valid record", RED),
                            "0": ("none", ORANGE),
                            "1": ("quarantine", GREEN),
                            "2": ("reject", GREEN),
                        }
                    ),
                    custom_cellOptions=_cell("color-background"),
                )
            },
            size=(8, 8),
            sort_by="policy",
        ),
        table_panel(
            "MAIL FROM resolvable",
            "Whether each custom MAIL FROM domain has an A or AAAA record. Without one, strict "
            "gateways reject with 553 5.1.8 while SES still reports the mail as sent. Shows "
            "100, unresolvable first, so it stays readable with 10^5 domains.",
            q(
                f"bottomk(100, max by (domain, mail_from_domain) "
                f"(deliverability_mail_from_resolvable{{{DOMAIN}}}))"
            ),
            transformations=[_organize(["Time"], {"Value": "resolvable"})],
            overrides={
                "resolvable": _override(
                    mappings=_mappings({"1": ("yes", GREEN), "0": ("no A/AAAA", RED)}),
                    custom_cellOptions=_cell("color-background"),
                )
            },
            size=(8, 8),
            sort_by="resolvable",
        ),
        bars(
            "SPF DNS lookups per domain",
            "DNS-querying terms in the SPF include/redirect tree of the 20 domains with the "
            "most. More than 10 is a permerror: receivers treat the SPF as broken.",
            q(
                f"topk(20, max by (domain) (deliverability_spf_dns_lookups{{{DOMAIN}}}))",
                "{{domain}}",
            ),
            steps=((None, GREEN), (8, ORANGE), (11, RED)),
            size=(8, 8),
            max_value=10,
        ),
        row("SES account and reputation"),
        _account_state_table(),
        threshold_ts(
            "Bounce rate vs SES thresholds",
            "Account-wide bounce ratio over the last hour from the event stream (recording "
            "rule), and SES's own reputation bounce rate when CloudWatch metrics are enabled. "
            "SES reviews the account at 5 % and may pause sending at 10 % (dashed lines).",
            q(BOUNCE_RATIO, "bounce ratio (events, 1 h)"),
            q(
                f"max by (aws_account_id, aws_region) "
                f"(deliverability_ses_reputation_bounce_ratio{{{REGION}}})",
                "SES reputation {{aws_account_id}} {{aws_region}}",
            ),
            review=BOUNCE_REVIEW,
            pause=BOUNCE_PAUSE,
        ),
        threshold_ts(
            "Complaint rate vs SES thresholds",
            "Account-wide complaint ratio over the last hour from the event stream (recording "
            "rule), and SES's own reputation complaint rate when CloudWatch metrics are enabled. "
            "SES reviews the account at 0.1 % and may pause sending at 0.5 % (dashed lines).",
            q(COMPLAINT_RATIO, "complaint ratio (events, 1 h)"),
            q(
                f"max by (aws_account_id, aws_region) "
                f"(deliverability_ses_reputation_complaint_ratio{{{REGION}}})",
                "SES reputation {{aws_account_id}} {{aws_region}}",
            ),
            review=COMPLAINT_REVIEW,
            pause=COMPLAINT_PAUSE,
        ),
        bars(
            "Top failing recipient domains",
            "The 10 recipient domains with the highest 5xx (permanent) bounce ratio over the "
            "last hour: where a gateway rejects your mail.",
            q(
                f"topk(10, max by (recipient_domain) ({DOMAIN_5XX_RATIO}) > 0)",
                "{{recipient_domain}}",
            ),
            unit="percentunit",
            steps=((None, GREEN), (0.02, ORANGE), (0.05, RED)),
        ),
        single_stat(
            "SMTP credentials failing",
            "SMTP credentials whose AUTH probe was rejected (a rotated or deactivated IAM key "
            "breaks relays such as Gmail 'Send as').",
            q(
                "count(max by (credential) (deliverability_smtp_auth_probe_success) == 0) "
                "or vector(0)",
                "rejected",
            ),
            steps=((None, GREEN), (1, RED)),
            size=(6, 8),
        ),
        single_stat(
            "Open SES recommendations",
            "Open Deliverability Manager recommendations (missing DKIM, DMARC, ...).",
            q(
                "sum(max by (aws_account_id, aws_region, recommendation_type, impact) "
                f"(deliverability_ses_recommendations_open{{{REGION}}})) or vector(0)",
                "open",
            ),
            steps=((None, GREEN), (1, ORANGE)),
            size=(6, 8),
        ),
    )


def _account_state_table() -> table.Panel:
    account = "aws_account_id, aws_region"
    return table_panel(
        "Account state per region",
        "Per SES account and region: SES's review state (HEALTHY, PROBATION, SHUTDOWN), "
        "whether sending is enabled, production access or sandbox, and the share of the "
        "24-hour quota used.",
        q(f"max by ({account}, status) (deliverability_ses_enforcement_status{{{REGION}}} == 1)"),
        q(f"max by ({account}) (deliverability_ses_sending_enabled{{{REGION}}})"),
        q(f"max by ({account}) (deliverability_ses_production_access_enabled{{{REGION}}})"),
        q(
            f"max by ({account}) (deliverability_ses_send_quota_sent_last_24h{{{REGION}}})\n"
            f"/ max by ({account}) (deliverability_ses_send_quota_max_24h{{{REGION}}})"
        ),
        transformations=[
            _organize(
                ["Time", "Value #A"],
                {
                    "status": "enforcement",
                    "Value #B": "sending",
                    "Value #C": "production access",
                    "Value #D": "quota used (24 h)",
                },
            )
        ],
        overrides={
            "enforcement": _override(
                mappings=_mappings(
                    {
                        "HEALTHY": ("HEALTHY", GREEN),
                        "PROBATION": ("PROBATION", ORANGE),
                        "SHUTDOWN": ("SHUTDOWN", RED),
                    }
                ),
                custom_cellOptions=_cell("color-background"),
            ),
            "sending": _override(
                mappings=_mappings({"1": ("enabled", GREEN), "0": ("paused", RED)}),
                custom_cellOptions=_cell("color-background"),
            ),
            "production access": _override(
                mappings=_mappings({"1": ("production", GREEN), "0": ("sandbox", ORANGE)}),
                custom_cellOptions=_cell("color-background"),
            ),
            "quota used (24 h)": _override(
                unit="percentunit",
                thresholds=_thresholds((None, GREEN), (0.8, ORANGE), (0.95, RED)).build(),
                custom_cellOptions=_cell("color-text"),
            ),
        },
        size=(24, 6),
        no_value="no SES account polled",
    )


# --- bounces ----------------------------------------------------------------------------------


def _bounced_by(label: str) -> Query:
    return q(
        f"sum by ({label}) (rate(deliverability_ses_bounced_recipients_total"
        f"{{{RCPT}}}[$__rate_interval]))",
        f"{{{{{label}}}}}",
    )


def _quantiles(metric: str) -> list[Query]:
    return [
        q(
            f"histogram_quantile({quantile}, sum by (le) "
            f"(rate({metric}_bucket[$__rate_interval])))",
            f"p{round(quantile * 100)}",
        )
        for quantile in (0.5, 0.9, 0.99)
    ]


def bounces() -> dashboard_builders.Dashboard:
    dashboard = new_dashboard(
        "ses-deliverability-bounces",
        "SES deliverability: bounces and events",
        "Bounced, delayed and complained recipients from the SES event stream, by recipient "
        "domain, provider, root cause and SMTP status class; 5xx ratios; the event pipeline.",
    ).with_variable(
        query_variable(
            "recipient_domain", "Recipient domain", "deliverability_ses_bounced_recipients_total"
        )
    )
    rcpt_rate = "rate(deliverability_ses_{}_recipients_total{{" + RCPT + "}}[$__rate_interval])"
    return _add(
        dashboard,
        row("Bounced recipients"),
        ts(
            "Bounced recipients by recipient domain",
            "Bounced recipients per second by recipient domain (top-K domains have their own "
            "label, the rest is 'other').",
            _bounced_by("recipient_domain"),
            unit="cps",
            stacked=True,
        ),
        ts(
            "Bounced recipients by recipient provider",
            "Bounced recipients per second by the provider behind the recipient domain's MX: "
            "a corporate gateway problem shows across every domain behind it.",
            _bounced_by("recipient_provider"),
            unit="cps",
            stacked=True,
        ),
        ts(
            "Bounced recipients by category",
            "Bounced recipients per second by the classifier's root cause (e.g. the MAIL FROM "
            "domain does not resolve, SPF, reputation, mailbox full, unknown user).",
            _bounced_by("category"),
            unit="cps",
            stacked=True,
        ),
        ts(
            "Bounced recipients by status class",
            "Bounced recipients per second by SMTP status class: 5xx permanent, 4xx temporary, "
            "unknown without an SMTP code.",
            _bounced_by("status_class"),
            unit="cps",
            stacked=True,
        ),
        ts(
            "Bounced recipients by bounce type",
            "Bounced recipients per second by SES bounce type and subtype.",
            q(
                "sum by (bounce_type, bounce_subtype) "
                "(rate(deliverability_ses_bounced_recipients_total"
                f"{{{RCPT}}}[$__rate_interval]))",
                "{{bounce_type}} / {{bounce_subtype}}",
            ),
            unit="cps",
            stacked=True,
        ),
        ts(
            "Recipients: sent, delivered, bounced, complained",
            "Recipients per second of Send, Delivery, Bounce and Complaint events (Send only "
            "with configuration-set event publishing).",
            *(
                q(f"sum({rcpt_rate.format(kind)})", kind)
                for kind in ("sent", "delivered", "bounced", "complained")
            ),
            unit="cps",
        ),
        row("5xx bounce ratios (1 h)"),
        ts(
            "5xx bounce ratio per recipient provider",
            "Share of recipients per provider that bounced with a 5xx (permanent) status over "
            "the last hour (recording rule).",
            q(f"max by (recipient_provider) ({PROVIDER_5XX_RATIO})", "{{recipient_provider}}"),
            unit="percentunit",
        ),
        ts(
            "5xx bounce ratio per recipient domain",
            "Share of recipients per recipient domain that bounced with a 5xx status over the "
            "last hour (recording rule); domains without 5xx bounces are hidden.",
            q(
                f"max by (recipient_domain) ({DOMAIN_5XX_RATIO}{{{RCPT}}}) > 0",
                "{{recipient_domain}}",
            ),
            unit="percentunit",
        ),
        row("Delays and complaints"),
        ts(
            "Delivery delays by delay type",
            "Recipients per second of DeliveryDelay events by SES delay type (e.g. "
            "MailboxFull, TransientCommunicationFailure, IPFailure).",
            q(
                f"sum by (delay_type) ({rcpt_rate.format('delayed')})",
                "{{delay_type}}",
            ),
            unit="cps",
            stacked=True,
        ),
        ts(
            "Complaints by feedback type",
            "Complaining recipients per second by feedback type ('none' without a feedback "
            "report).",
            q(
                f"sum by (feedback_type) ({rcpt_rate.format('complained')})",
                "{{feedback_type}}",
            ),
            unit="cps",
            stacked=True,
        ),
        ts(
            "Rejected and rendering-failed recipients",
            "Recipients per second of mail SES never sent, by recipient domain: Reject events "
            "(SES found a virus or bad content) and Rendering Failure events (a template that "
            "did not render, e.g. a missing variable).",
            q(
                f"sum by (recipient_domain) ({rcpt_rate.format('rejected')})",
                "rejected {{recipient_domain}}",
            ),
            q(
                f"sum by (recipient_domain) ({rcpt_rate.format('rendering_failed')})",
                "rendering failed {{recipient_domain}}",
            ),
            unit="cps",
            size=(24, 8),
        ),
        row("Event stream"),
        ts(
            "SES events by type",
            "SES events per second by type (send, delivery, bounce, complaint, reject, open, "
            "click, rendering_failure, delivery_delay, subscription).",
            q(
                "sum by (event_type) (rate(deliverability_ses_events_total[$__rate_interval]))",
                "{{event_type}}",
            ),
            unit="cps",
            stacked=True,
        ),
        ts(
            "Malformed, ignored and duplicate events",
            "Queue messages that are not SES events (left for the dead-letter queue), valid "
            "non-events that were deleted, and redeliveries recognised by the dedupe window.",
            q(
                "sum by (reason) "
                "(rate(deliverability_ses_events_malformed_total[$__rate_interval]))",
                "malformed: {{reason}}",
            ),
            q(
                "sum by (reason) (rate(deliverability_ses_events_ignored_total[$__rate_interval]))",
                "ignored: {{reason}}",
            ),
            q(
                "sum(rate(deliverability_ses_events_duplicate_total[$__rate_interval]))",
                "duplicate",
            ),
            unit="cps",
        ),
        ts(
            "Event lag",
            "Time from an SES event to its consumption by the exporter (50th, 90th and 99th "
            "percentile): SNS/SQS delay plus the exporter's backlog.",
            *_quantiles("deliverability_ses_event_lag_seconds"),
            unit="s",
        ),
        ts(
            "Delivery processing time",
            "SES's time from accepting a message to the receiving gateway's answer (50th, 90th "
            "and 99th percentile of Delivery events).",
            *_quantiles("deliverability_ses_delivery_processing_seconds"),
            unit="s",
        ),
    )


# --- account ----------------------------------------------------------------------------------

ACCOUNT = "aws_account_id, aws_region"
LEGEND_ACCOUNT = "{{aws_account_id}} {{aws_region}}"


def _per_account(metric: str, extra_labels: str = "") -> str:
    labels = f"{ACCOUNT}, {extra_labels}" if extra_labels else ACCOUNT
    return f"max by ({labels}) ({metric}{{{REGION}}})"


def account() -> dashboard_builders.Dashboard:
    dashboard = (
        new_dashboard(
            "ses-deliverability-account",
            "SES deliverability: account",
            "SES account state per region: quota, review status, production access, the "
            "suppression list, identities and their feedback routing, SES's own verdicts, SMTP "
            "credentials and Deliverability Manager recommendations.",
        )
        .with_variable(
            query_variable("aws_region", "SES region", "deliverability_ses_sending_enabled")
        )
        .with_variable(query_variable("domain", "Sending domain", "deliverability_check_status"))
    )
    enforcement = _mappings(
        {"0": ("HEALTHY", GREEN), "1": ("PROBATION", ORANGE), "2": ("SHUTDOWN", RED)}
    )

    def enforcement_status(status: str) -> str:
        return f'deliverability_ses_enforcement_status{{{REGION}, status="{status}"}}'

    return _add(
        dashboard,
        row("Sending quota"),
        single_stat(
            "Quota used (24 h)",
            "Messages sent in the last 24 hours as a share of the 24-hour sending quota.",
            q(
                f"{_per_account('deliverability_ses_send_quota_sent_last_24h')}\n"
                f"/ {_per_account('deliverability_ses_send_quota_max_24h')}",
                LEGEND_ACCOUNT,
            ),
            steps=((None, GREEN), (0.8, ORANGE), (0.95, RED)),
            unit="percentunit",
            size=(8, 6),
            graph=True,
        ),
        ts(
            "Sent in the last 24 h vs quota",
            "Messages sent in the last 24 hours as SES counts them, and the 24-hour quota.",
            q(
                _per_account("deliverability_ses_send_quota_sent_last_24h"),
                f"sent {LEGEND_ACCOUNT}",
            ),
            q(_per_account("deliverability_ses_send_quota_max_24h"), f"quota {LEGEND_ACCOUNT}"),
            size=(10, 6),
        ),
        single_stat(
            "Max send rate",
            "Messages per second the account may send in each region.",
            q(_per_account("deliverability_ses_send_quota_max_send_rate"), LEGEND_ACCOUNT),
            steps=((None, "blue"),),
            unit="suffix: msg/s",
            size=(6, 6),
        ),
        row("Account review and access"),
        state_timeline(
            "Enforcement status",
            "SES's review state of each account and region over time: HEALTHY green, "
            "PROBATION orange, SHUTDOWN red.",
            q(
                f"""
                max by ({ACCOUNT}) (
                     (({enforcement_status("HEALTHY")}) == 1) * 0
                  or (({enforcement_status("PROBATION")}) == 1)
                  or (({enforcement_status("SHUTDOWN")}) == 1) * 2
                )
                """,
                LEGEND_ACCOUNT,
            ),
            mappings=enforcement,
            size=(12, 6),
        ),
        single_stat(
            "Sending enabled",
            "Whether the account can send in each region (SES pauses sending on SHUTDOWN).",
            q(_per_account("deliverability_ses_sending_enabled"), LEGEND_ACCOUNT),
            mappings=_mappings({"1": ("enabled", GREEN), "0": ("paused", RED)}),
            size=(6, 6),
        ),
        single_stat(
            "Production access",
            "Production access, or the sandbox (only verified recipients, 200 messages a day).",
            q(_per_account("deliverability_ses_production_access_enabled"), LEGEND_ACCOUNT),
            mappings=_mappings({"1": ("production", GREEN), "0": ("sandbox", ORANGE)}),
            size=(6, 6),
        ),
        row("Suppression list"),
        ts(
            "Suppressed destinations by reason",
            "Addresses on the account-level suppression list by reason (BOUNCE, COMPLAINT). "
            "Deletions show only after a full recount.",
            q(
                _per_account("deliverability_ses_suppressed_destinations", "reason"),
                "{{reason}} " + LEGEND_ACCOUNT,
            ),
            size=(8, 8),
        ),
        ts(
            "Suppression list additions (24 h)",
            "Suppression list entries added or updated in the last 24 hours.",
            q(_per_account("deliverability_ses_suppressed_destinations_recent"), LEGEND_ACCOUNT),
            size=(8, 8),
        ),
        bars(
            "Top suppressed recipient domains",
            "Recipient domains with the most suppression list entries, over the selected "
            "accounts and regions.",
            q(
                "topk(20, sum by (recipient_domain) ("
                + _per_account(
                    "deliverability_ses_suppressed_destinations_by_domain", "recipient_domain"
                )
                + "))",
                "{{recipient_domain}}",
            ),
            steps=((None, "blue"),),
            size=(8, 8),
        ),
        row("Identities and feedback"),
        single_stat(
            "Domain identities",
            "SES domain identities discovered per account and region (after the identity "
            "patterns).",
            q(_per_account("deliverability_ses_domain_identities"), LEGEND_ACCOUNT),
            steps=((None, "blue"),),
            size=(6, 8),
        ),
        table_panel(
            "Feedback not routed",
            "Identities whose Bounce or Complaint feedback reaches only email (email_only) or "
            "nothing (none): invisible to this exporter and to any monitoring.",
            q(
                _per_account("deliverability_ses_feedback_routed", "identity, feedback_type, path")
                + " == 0"
            ),
            transformations=[_organize(["Time", "Value"])],
            size=(18, 8),
            no_value="every identity routes Bounce and Complaint feedback to SNS or events",
            sort_by="identity",
        ),
        status_grid(
            "SES verdicts per domain",
            "SES's own verdicts per domain identity: verification, DKIM status, MAIL FROM "
            "status and feedback routing (pass green, warn orange, fail red, unknown grey).",
            q(
                "max by (domain, check, status) "
                f'(deliverability_check_status{{{DOMAIN}, check=~"ses_.*"}} == 1)'
            ),
            size=(24, 8),
        ),
        row("SMTP credentials"),
        table_panel(
            "SMTP AUTH probe",
            "Per SMTP credential: whether the AUTH probe (STARTTLS, AUTH, QUIT; no mail sent) "
            "authenticated, and the reply code (235 accepted, 535 rejected). Empty while the "
            "endpoint cannot be reached.",
            q("max by (credential) (deliverability_smtp_auth_probe_success)"),
            q("max by (credential) (deliverability_smtp_auth_probe_reply_code)"),
            transformations=[
                _organize(["Time"], {"Value #A": "authenticated", "Value #B": "reply code"})
            ],
            overrides={
                "authenticated": _override(
                    mappings=_mappings({"1": ("yes", GREEN), "0": ("rejected", RED)}),
                    custom_cellOptions=_cell("color-background"),
                )
            },
            size=(10, 6),
            no_value="no SMTP credential configured",
        ),
        table_panel(
            "IAM keys behind SMTP credentials",
            "The IAM access keys the SMTP passwords derive from: active or not, key age (a "
            "newer key than the relay's means a stale password) and time since last use.",
            q(
                "max by (credential, iam_user, access_key_id) "
                "(deliverability_iam_access_key_active)"
            ),
            q(
                "time() - max by (credential, iam_user, access_key_id) "
                "(deliverability_iam_access_key_created_timestamp_seconds)"
            ),
            q(
                "time() - max by (credential, iam_user, access_key_id) "
                "(deliverability_iam_access_key_last_used_timestamp_seconds)"
            ),
            transformations=[
                _organize(
                    ["Time"],
                    {"Value #A": "active", "Value #B": "key age", "Value #C": "last used"},
                )
            ],
            overrides={
                "active": _override(
                    mappings=_mappings({"1": ("active", GREEN), "0": ("inactive", RED)}),
                    custom_cellOptions=_cell("color-background"),
                ),
                "key age": _override(unit="s"),
                "last used": _override(unit="s"),
            },
            size=(14, 6),
            no_value="no IAM user configured",
        ),
        row("Recommendations and API errors"),
        table_panel(
            "Open recommendations",
            "Open Deliverability Manager recommendations by type and impact.",
            q(
                _per_account(
                    "deliverability_ses_recommendations_open", "recommendation_type, impact"
                )
                + " > 0"
            ),
            transformations=[_organize(["Time"], {"Value": "open"})],
            size=(12, 8),
            no_value="no open recommendation",
            sort_by="impact",
        ),
        ts(
            "SES API errors",
            "Failed SES collection parts per second by part and AWS error code; the part "
            "keeps its last good values meanwhile.",
            q(
                "sum by (aws_region, part, error) "
                f"(rate(deliverability_ses_api_errors_total{{{REGION}}}[$__rate_interval]))",
                "{{aws_region}} {{part}}: {{error}}",
            ),
            unit="cps",
        ),
    )


# --- exporter health --------------------------------------------------------------------------

EXPORTER = "on (instance, job) group_left () deliverability_build_info"


def exporter_health() -> dashboard_builders.Dashboard:
    dashboard = new_dashboard(
        "ses-deliverability-exporter",
        "SES deliverability: exporter health",
        "The exporter itself: collectors, DNS queries, the SQS event consumer, configuration "
        "reloads, build and process. Collector panels show the worst replica.",
    )
    up_mappings = _mappings({"1": ("up", GREEN), "0": ("down", RED)})
    return _add(
        dashboard,
        row("Collectors"),
        state_timeline(
            "Collector up",
            "Whether each collector's last run succeeded (dns, ses:<account>:<region>, "
            "sqs:<queue>, ...); the worst replica.",
            q("min by (collector) (deliverability_collector_up)", "{{collector}}"),
            mappings=up_mappings,
            size=(24, 6),
        ),
        ts(
            "Time since last success vs interval",
            "Seconds since each collector's last successful run (stalest replica), next to its "
            "configured interval (dashed). Alerts fire at 2-3 intervals.",
            q(
                "time() - min by (collector) "
                "(deliverability_collector_last_success_timestamp_seconds)",
                "{{collector}}",
            ),
            q(
                "max by (collector) (deliverability_collector_interval_seconds)",
                "{{collector}} interval",
            ),
            unit="s",
        ).override_by_regexp(
            ".* interval",
            _override(custom_lineStyle={"fill": "dash", "dash": [10, 10]}, custom_fillOpacity=0),
        ),
        ts(
            "Collector run duration",
            "How long each collector's last run took (slowest replica).",
            q("max by (collector) (deliverability_collector_duration_seconds)", "{{collector}}"),
            unit="s",
        ),
        ts(
            "Collector failures",
            "Failed collector runs per second.",
            q(
                "sum by (collector) "
                "(rate(deliverability_collector_failures_total[$__rate_interval]))",
                "{{collector}}",
            ),
            unit="cps",
        ),
        row("DNS"),
        ts(
            "DNS queries by outcome",
            "DNS questions per second by outcome: response code (NOERROR, NXDOMAIN, SERVFAIL, "
            "REFUSED) or timeout, network, malformed_response.",
            q(
                "sum by (outcome) (rate(deliverability_dns_queries_total[$__rate_interval]))",
                "{{outcome}}",
            ),
            unit="qps",
            stacked=True,
        ),
        ts(
            "DNS queries by record type",
            "DNS questions per second by record type.",
            q(
                "sum by (record_type) (rate(deliverability_dns_queries_total[$__rate_interval]))",
                "{{record_type}}",
            ),
            unit="qps",
            stacked=True,
        ),
        row("SQS event consumer"),
        ts(
            "SQS messages received and deleted",
            "Messages per second received from and deleted from each queue (deleted only after "
            "they were counted).",
            q(
                "sum by (queue) "
                "(rate(deliverability_sqs_messages_received_total[$__rate_interval]))",
                "{{queue}} received",
            ),
            q(
                "sum by (queue) "
                "(rate(deliverability_sqs_messages_deleted_total[$__rate_interval]))",
                "{{queue}} deleted",
            ),
            unit="cps",
        ),
        ts(
            "SQS delete failures and receive errors",
            "Messages counted but not deleted (they come back; the dedupe window absorbs them) "
            "and failed ReceiveMessage calls, per second.",
            q(
                "sum by (queue) (rate(deliverability_sqs_delete_failures_total[$__rate_interval]))",
                "{{queue}} delete failures",
            ),
            q(
                "sum by (queue) (rate(deliverability_sqs_receive_errors_total[$__rate_interval]))",
                "{{queue}} receive errors",
            ),
            unit="cps",
        ),
        ts(
            "Queue backlog",
            "Approximate messages waiting in each queue, and received but not yet deleted "
            "(in flight: being counted, or held by a consumer that died until the visibility "
            "timeout ends).",
            q("max by (queue) (deliverability_sqs_queue_visible_messages)", "{{queue}} waiting"),
            q(
                "max by (queue) (deliverability_sqs_queue_in_flight_messages)",
                "{{queue}} in flight",
            ),
            size=(8, 7),
        ),
        table_panel(
            "Queue redrive policy",
            "Whether each queue has a dead-letter queue. Without one, a malformed message "
            "comes back forever.",
            q("min by (queue) (deliverability_sqs_queue_redrive_policy)"),
            transformations=[_organize(["Time"], {"Value": "dead-letter queue"})],
            overrides={
                "dead-letter queue": _override(
                    mappings=_mappings({"1": ("yes", GREEN), "0": ("none", RED)}),
                    custom_cellOptions=_cell("color-background"),
                )
            },
            size=(8, 7),
            no_value="no queue configured",
        ),
        single_stat(
            "Since the newest SES event",
            "Time since the newest SES event counted by any replica.",
            q("time() - max(deliverability_ses_last_event_timestamp_seconds)", "newest event"),
            steps=((None, "blue"),),
            unit="s",
            size=(4, 7),
        ),
        single_stat(
            "Recipient domains tracked",
            "Recipient domains with a label value of their own (top-K plus the watch-list).",
            q("max(deliverability_ses_recipient_domains_tracked)", "tracked"),
            steps=((None, "blue"),),
            size=(4, 7),
        ),
        row("Configuration, build and process"),
        single_stat(
            "Config reload",
            "0 while an invalid new configuration file is being ignored (on any replica).",
            q("min(deliverability_config_last_reload_successful)", "last reload"),
            mappings=_mappings({"1": ("ok", GREEN), "0": ("invalid file ignored", RED)}),
            size=(6, 5),
        ),
        single_stat(
            "Since last config load",
            "Time since the last successful configuration load (oldest replica).",
            q(
                "time() - min(deliverability_config_last_reload_success_timestamp_seconds)",
                "since load",
            ),
            steps=((None, "blue"),),
            unit="s",
            size=(6, 5),
        ),
        table_panel(
            "Build info",
            "Exporter and Python versions, with the number of replicas running each.",
            q("count by (version, python_version) (deliverability_build_info)"),
            transformations=[_organize(["Time"], {"Value": "replicas"})],
            size=(12, 5),
        ),
        ts(
            "Resident memory",
            "Resident memory of each exporter process.",
            q(f"process_resident_memory_bytes * {EXPORTER}", "{{instance}}"),
            unit="bytes",
            size=(8, 8),
        ),
        ts(
            "CPU",
            "CPU used by each exporter process, in cores.",
            q(
                f"rate(process_cpu_seconds_total[$__rate_interval]) * {EXPORTER}",
                "{{instance}}",
            ),
            unit="percentunit",
            size=(8, 8),
        ),
        ts(
            "Open file descriptors",
            "Open file descriptors of each exporter process.",
            q(f"process_open_fds * {EXPORTER}", "{{instance}}"),
            size=(8, 8),
        ),
    )


# --- output -----------------------------------------------------------------------------------

# file name -> builder; the order is the README's.
DASHBOARDS: dict[str, Callable[[], dashboard_builders.Dashboard]] = {
    "overview.json": overview,
    "bounces.json": bounces,
    "account.json": account,
    "exporter-health.json": exporter_health,
}


def _finish(built: models.Dashboard) -> dict[str, Any]:
    """Plain JSON with ``id`` null and stable panel ids (1, 2, ... in grid order)."""
    data: dict[str, Any] = json.loads(json.dumps(built, cls=JSONEncoder))
    data["id"] = None
    data["annotations"] = data.get("annotations") or {"list": []}
    for panel_id, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = panel_id
    return data


def build_dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON (as Python data)."""
    return {name: _finish(build().build()) for name, build in DASHBOARDS.items()}


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _panels(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows included, in order (collapsed rows carry their panels inside)."""
    panels: list[dict[str, Any]] = []
    for panel in data.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")


def substitute_variables(expr: str, rate_interval: str = "5m") -> str:
    """The expression as Prometheus itself would accept it.

    ``$__rate_interval`` becomes ``rate_interval``; every template variable (always used as
    ``label=~"$var"``) becomes ``.*``, i.e. "All".
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return rate_interval if name == "__rate_interval" else ".*"

    return _VARIABLE.sub(replace, expr)


def panel_queries(rate_interval: str = "5m") -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, PromQL) for every target, variables substituted."""
    queries: list[tuple[str, str, str]] = []
    for data in build_dashboards().values():
        for panel in _panels(data):
            queries.extend(
                (data["uid"], panel["title"], substitute_variables(target["expr"], rate_interval))
                for target in panel.get("targets", [])
            )
    return queries


def _readme(dashboards: dict[str, dict[str, Any]]) -> str:
    out = [
        "# Grafana dashboards",
        "",
        "Generated by `python dashboards/generate.py` (grafana-foundation-sdk) together with the",
        "JSON files next to it: edit the generator, never the JSON or this file.",
        "`python dashboards/generate.py --check` fails when they are out of date, and",
        "`tests/unit/test_dashboards.py` checks them (queries parsed by `promtool`, metric names",
        "against the exporter's catalogue).",
        "",
        "Import a JSON file in Grafana (Dashboards > New > Import) or provision it: every",
        "dashboard has `id` null, a stable `uid`, a `datasource` variable (any Prometheus data",
        "source) and no `__inputs`. Rates use `$__rate_interval`. Counters and per-shard counts",
        "(`deliverability_domains`, withheld series) are summed and state gauges taken with `max`,",
        "so any number of exporter pods (the Helm chart's sharding) shows the same numbers.",
        "The ratio panels use the recording rules of `rules/ses-deliverability.rules.yml`:",
        ",\n".join(f"`{name}`" for name in RECORDING_RULES) + ".",
        "",
        "| file | uid | title | panels |",
        "|---|---|---|---|",
    ]
    for name, data in dashboards.items():
        count = sum(1 for p in _panels(data) if p["type"] != "row")
        out.append(f"| [`{name}`]({name}) | `{data['uid']}` | {data['title']} | {count} |")
    for name, data in dashboards.items():
        out += ["", f"## {data['title']}", "", f"`{name}`, uid `{data['uid']}`.", ""]
        out += [data["description"], ""]
        variables = [
            f"`${v['name']}` ({v.get('query', '')})"
            if v["type"] == "query"
            else f"`${v['name']}` ({v['type']}: {v['query']})"
            for v in data["templating"]["list"]
        ]
        out += ["Variables: " + ", ".join(variables) + ".", ""]
        for panel in _panels(data):
            if panel["type"] == "row":
                out += [f"### {panel['title']}", ""]
                continue
            out.append(f"- **{panel['title']}** ({panel['type']}): {panel['description']}")
            out.append("")
            for target in panel["targets"]:
                out += ["  ```promql", *(f"  {line}" for line in target["expr"].splitlines())]
                out += ["  ```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def render() -> dict[str, str]:
    """File name (relative to dashboards/) -> exact content, README.md included."""
    dashboards = build_dashboards()
    files = {name: _dump(data) for name, data in dashboards.items()}
    files["README.md"] = _readme(dashboards)
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report out-of-date files")
    parser.add_argument("--out", type=Path, default=HERE, help="output directory")
    args = parser.parse_args(argv)
    stale = []
    for name, content in render().items():
        path: Path = args.out / name
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(content, encoding="utf-8")
    verb = "out of date" if args.check else "written"
    for name in stale:
        sys.stderr.write(f"{args.out / name}: {verb}\n")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
