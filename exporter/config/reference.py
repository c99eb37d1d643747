"""Generate the configuration reference and its JSON Schema from the model.

``python -m exporter.config.reference`` rewrites docs/configuration.md and
docs/config.schema.json; ``--check`` only compares them (a test does the same), so the
reference cannot drift from what the loader accepts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from exporter.config.model import Config

DOCS = Path(__file__).resolve().parents[2] / "docs"
MARKDOWN = DOCS / "configuration.md"
SCHEMA = DOCS / "config.schema.json"
_SCHEMA_ID = "https://json-schema.org/draft/2020-12/schema"
_INTRO = """\
# Configuration reference

The exporter reads one TOML file (`--config`). Every key is optional except those marked
*required*; an unknown key is an error. Loading reports every problem at once as
`key: reason` and exits with status 2; a running daemon that reloads an invalid file (on
`SIGHUP` or when the file changes) logs the problems and keeps its configuration.
Numbers are strict: `"2"` is a string, not a number. Relative paths are relative to the
configuration file. [`config.example.toml`](../config.example.toml) shows every key, and
[`config.schema.json`](config.schema.json) is the same reference as a JSON Schema (for
editors that validate TOML against one).

This file is generated from `exporter/config/model.py` by
`python -m exporter.config.reference`; edit the model, not this file.
"""


class TomlSchema(GenerateJsonSchema):
    """JSON Schema as a TOML file sees it: no null (TOML has none), no generated titles."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def field_title_should_be_set(self, schema: Any) -> bool:  # noqa: ARG002 - the override's signature
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        if json_schema.get("default", 0) is None:  # absent: the description says what then
            del json_schema["default"]
        return json_schema


def json_schema() -> dict[str, Any]:
    schema = TypeAdapter(Config).json_schema(schema_generator=TomlSchema)
    return {
        "$schema": _SCHEMA_ID,
        "title": "ses-deliverability-exporter configuration",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def markdown(schema: dict[str, Any]) -> str:
    lines = [_INTRO]
    for name, prop in schema["properties"].items():
        lines += _section(schema, name, prop)
    return "\n".join(lines)


def _section(schema: dict[str, Any], key: str, prop: dict[str, Any]) -> list[str]:
    is_array = prop.get("type") == "array"
    table = _resolve(schema, prop["items"] if is_array else prop)
    heading = f"[[{key}]]" if is_array else f"[{key}]"
    about = table.get("description", "").strip().replace("``", "`")
    lines = [f"## `{heading}`", "", about, ""]
    lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
    nested = []
    required = set(table.get("required", ()))
    for name, field in table["properties"].items():
        if field.get("type") == "array" and "$ref" in field.get("items", {}):
            nested.append((f"{key}.{name}", field))
        row = [
            f"`{name}`",
            _type(schema, field),
            "*required*" if name in required else _default(field),
            field.get("description", "").replace("|", "\\|"),
        ]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    for nested_key, field in nested:
        lines += _section(schema, nested_key, field)
    return lines


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        resolved: dict[str, Any] = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        return resolved
    return node


def _type(schema: dict[str, Any], field: dict[str, Any]) -> str:
    if "anyOf" in field:
        text = " or ".join(_type(schema, option) for option in field["anyOf"])
    elif "const" in field:
        text = json.dumps(field["const"])
    elif "enum" in field:
        text = " or ".join(json.dumps(value) for value in field["enum"])
    elif field.get("type") == "array":
        items = field.get("items", {})
        text = "array of tables" if "$ref" in items else f"array of {_type(schema, items)}s"
    elif field.get("type") == "object":
        text = "table of strings"
    else:
        text = {"number": "float", "boolean": "bool"}.get(field["type"], field["type"])
    if field.get("format") == "path":
        text = "path"
    if "minimum" in field:
        text += f", {_number(field['minimum'])} to {_number(field['maximum'])}"
    return text


def _number(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


def _default(field: dict[str, Any]) -> str:
    if "default" not in field:
        return "see meaning" if "default" in field.get("description", "") else "none"
    value = field["default"]
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def rendered() -> dict[Path, str]:
    """Each generated file and its content."""
    schema = json_schema()
    return {
        MARKDOWN: markdown(schema),
        SCHEMA: json.dumps(schema, indent=2, ensure_ascii=False) + "\n",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="only compare, exit 1 if stale")
    args = parser.parse_args()
    stale = []
    for path, text in rendered().items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    for path in stale:
        sys.stderr.write(f"{path}: {'stale' if args.check else 'written'}\n")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
