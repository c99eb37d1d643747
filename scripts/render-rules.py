#!/usr/bin/env python3
"""Render the Prometheus rules from the monitoring mixin (mixin/, jsonnet) into YAML files.

The alerts and recording rules live in mixin/ only. This writes
- rules/ses-deliverability.rules.yml: the mixin with its default _config;
- the Helm chart's files/ses-deliverability.rules.yml: the same rules with the placeholders
  __SELECTOR__ and __RUNBOOK_BASE_URL__, which templates/prometheusrule.yaml replaces with
  prometheusRule.selector and prometheusRule.runbookBaseUrl at install time.

--check compares the committed files with a fresh render instead (exit 1 if they differ);
--config '{"selector": "job=\\"mail\\""}' prints a render with those _config fields (merged as a
JSON merge patch: nested objects such as forDuration keep their other keys) to stdout.
Needs the PyPI `jsonnet` binding (the project's `test` extra).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import _jsonnet  # type: ignore[import-untyped]  # the binding ships no type information
import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules" / "ses-deliverability.rules.yml"
CHART_RULES = ROOT / "helm" / "ses-deliverability-exporter" / "files" / RULES.name
PLACEHOLDERS = {"selector": "__SELECTOR__", "runbookBaseUrl": "__RUNBOOK_BASE_URL__"}
WIDTH = 100  # folded descriptions wrap here
NBSP = "\x00"  # a space the wrapping keeps
RULE_KEYS = ("alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations")
ANNOTATION_KEYS = ("summary", "description", "runbook_url")

# The mixin's rules with their comments (hidden fields, which a mixin's consumers never see).
SNIPPET = """
local mixin = (import 'mixin/mixin.libsonnet') + {
  _config:: std.mergePatch(super._config, std.parseJson(std.extVar('config'))),
};
local shown(o, k) = if std.objectHasAll(o, k) then o[k] else null;
local withComments(group) = group + {
  rules: [r + { comment::: shown(r, 'comment'), blankLineBefore::: shown(r, 'blankLineBefore') }
          for r in group.rules],
};
{
  header: mixin.rulesFileHeader,
  groups: [withComments(g) for g in mixin.prometheusRules.groups + mixin.prometheusAlerts.groups],
}
"""


def evaluate(config: dict[str, Any]) -> dict[str, Any]:
    """The mixin's header and rule groups (comments included) under _config overrides."""
    text = _jsonnet.evaluate_snippet(
        "render-rules", SNIPPET, jpathdir=[str(ROOT)], ext_vars={"config": json.dumps(config)}
    )
    result: dict[str, Any] = json.loads(text)
    return result


def _plain_ok(value: str) -> bool:
    """A plain YAML scalar reads back as this very string."""
    if value != value.strip() or not value:
        return False
    try:
        return bool(yaml.safe_load(f"k: {value}") == {"k": value})
    except yaml.YAMLError:
        return False


def _has_placeholder(value: str) -> bool:
    return any(p in value for p in PLACEHOLDERS.values())


def _comment(text: str | None, indent: int) -> list[str]:
    if not text:
        return []
    pad = " " * indent
    return [f"{pad}# {line}".rstrip() for line in text.rstrip("\n").split("\n")]


def _scalar(key: str, value: object, indent: int) -> list[str]:
    """`key: value` at indent; a string in the YAML style that keeps it readable.

    Multi-line strings (expressions) are literal blocks, descriptions folded blocks; a string
    with a chart placeholder is a block too, so that whatever replaces it at install time
    (quotes, colons, #) stays inside the scalar.
    """
    pad = " " * indent
    if not isinstance(value, str):
        return [f"{pad}{key}: {json.dumps(value)}"]
    inner = " " * (indent + 2)
    if "\n" in value:
        chomp = "" if value.endswith("\n") and not value.endswith("\n\n") else "-"
        body = value[:-1] if chomp == "" else value
        return [f"{pad}{key}: |{chomp}"] + [
            f"{inner}{line}" if line else "" for line in body.split("\n")
        ]
    if key == "description" or _has_placeholder(value):
        # A Prometheus template ({{ $labels.x }}) stays on one line.
        glued = re.sub(r"\{\{.*?\}\}", lambda m: m.group(0).replace(" ", NBSP), value)
        lines = textwrap.wrap(
            glued,
            width=WIDTH - len(inner),
            break_long_words=False,
            break_on_hyphens=False,
        )
        return [f"{pad}{key}: >-"] + [f"{inner}{line.replace(NBSP, ' ')}" for line in lines]
    if _plain_ok(value):
        return [f"{pad}{key}: {value}"]
    return [f"{pad}{key}: {json.dumps(value)}"]


def _mapping(data: dict[str, Any], order: tuple[str, ...], indent: int) -> list[str]:
    keys = [k for k in order if k in data] + sorted(k for k in data if k not in order)
    out: list[str] = []
    for key in keys:
        value = data[key]
        if isinstance(value, dict):
            inner_order = ANNOTATION_KEYS if key == "annotations" else ()
            out += [" " * indent + f"{key}:", *_mapping(value, inner_order, indent + 2)]
        else:
            out += _scalar(key, value, indent)
    return out


def to_yaml(rendered: dict[str, Any]) -> str:
    """The rules file: the header and rule comments as YAML comments, keys in the order people
    read them (name, expr, for, labels, annotations), and a check that it parses back."""
    out = [*_comment(rendered["header"], 0), "groups:"]
    groups: list[dict[str, Any]] = []
    for index, group in enumerate(rendered["groups"]):
        if index:
            out.append("")
        rest = {k: v for k, v in group.items() if k not in ("name", "rules")}
        out += _scalar("- name", group["name"], 2)
        out += _mapping(rest, (), 4)
        out.append("    rules:")
        rules = []
        for rule in group["rules"]:
            comment = rule.pop("comment")
            if rule.pop("blankLineBefore"):
                out.append("")
            rules.append(rule)
            kind = "alert" if "alert" in rule else "record"
            if kind == "record":
                out += _comment(comment, 6)
            out += _scalar(f"- {kind}", rule[kind], 6)
            if kind == "alert":
                out += _comment(comment, 8)
            out += _mapping({k: v for k, v in rule.items() if k != kind}, RULE_KEYS, 8)
        groups.append({**group, "rules": rules})
    text = "\n".join(out) + "\n"
    if yaml.safe_load(text) != {"groups": groups}:  # pragma: no cover - a bug in this emitter
        msg = "the emitted YAML does not read back as the mixin's rules"
        raise AssertionError(msg)
    return text


def render(config: dict[str, Any] | None = None) -> str:
    return to_yaml(evaluate(config or {}))


def renders() -> dict[Path, str]:
    return {RULES: render(), CHART_RULES: render(PLACEHOLDERS)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--config", help="JSON _config overrides: print that render to stdout")
    args = parser.parse_args(argv)
    if args.config is not None:
        sys.stdout.write(render(json.loads(args.config)))
        return 0
    stale = []
    for path, text in renders().items():
        name = path.relative_to(ROOT)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(name))
        else:
            path.write_text(text, encoding="utf-8")
            sys.stdout.write(f"render-rules: wrote {name}\n")
    if stale:
        sys.stderr.write(f"render-rules: {', '.join(stale)} differ from mixin/: run {__file__}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
