# ruff: noqa: INP001 - a script, not a package
"""Copy the exporter's config schema into the Helm chart's values.schema.json.

The chart's structured `config` value is the exporter's configuration as YAML. Its schema is
docs/config.schema.json (generated from the config model by `python -m
exporter.config.reference`), placed under the chart schema's definitions as `config` and
`config.<Name>` (draft-07 `definitions`, the refs rewritten), so `helm install` rejects an
unknown key or a wrong type before any pod starts.

    python scripts/sync-chart-schema.py          # rewrite values.schema.json's config part
    python scripts/sync-chart-schema.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG_SCHEMA = ROOT / "docs" / "config.schema.json"
VALUES_SCHEMA = ROOT / "helm" / "ses-deliverability-exporter" / "values.schema.json"
PREFIX = "config"


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = f"#/definitions/{PREFIX}.{value.removeprefix('#/$defs/')}"
            else:
                out[key] = _rewrite_refs(value)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def config_definitions(config_schema: dict[str, Any]) -> dict[str, Any]:
    """The config schema as draft-07 definitions: `config` (the root) and `config.<Name>`."""
    schema = _rewrite_refs(config_schema)
    defs = schema.pop("$defs", {})
    schema.pop("$schema", None)
    schema.pop("$id", None)
    definitions = {f"{PREFIX}.{name}": value for name, value in sorted(defs.items())}
    return {PREFIX: schema, **definitions}


def synced(values_schema: dict[str, Any], config_schema: dict[str, Any]) -> dict[str, Any]:
    """values_schema with its config definitions replaced by config_schema's."""
    kept = {
        name: value
        for name, value in values_schema.get("definitions", {}).items()
        if name != PREFIX and not name.startswith(f"{PREFIX}.")
    }
    return {**values_schema, "definitions": {**kept, **config_definitions(config_schema)}}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if out of date")
    args = parser.parse_args(argv)
    current = VALUES_SCHEMA.read_text(encoding="utf-8")
    wanted = render(
        synced(json.loads(current), json.loads(CONFIG_SCHEMA.read_text(encoding="utf-8")))
    )
    if args.check:
        if current != wanted:
            print(  # noqa: T201 - a command line prints its result
                f"{VALUES_SCHEMA.relative_to(ROOT)} is out of date: "
                "run python scripts/sync-chart-schema.py",
                file=sys.stderr,
            )
            return 1
        return 0
    VALUES_SCHEMA.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
