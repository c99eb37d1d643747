"""A renderer for Helm charts, for tests: no helm binary exists here, so the tests render the
chart themselves.

A small interpreter of the Go text/template language with the Sprig and Helm functions the
chart in helm/ uses (`FUNCTIONS`). It is strict where Helm is: a field of a missing value, an
unknown function, a comparison of an int with a float (Helm reads every number in values as a
float64: hence `int` in the templates) or a printed map are errors. tests/data/k8s/ holds the
default rendering (first Helm's own output, config checksum included; refreshed with this
renderer when the chart changed, so re-check it with `helm template` where helm exists); the
interpreter's own behaviour is checked by tests/unit/test_helm_render.py.

If a real `helm` ever becomes available, `render_chart` is the one function to replace with
`helm template`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import operator
import re
from pathlib import Path
from typing import Any

import yaml


class TemplateError(Exception):
    pass


_ACTION = re.compile(
    r"\{\{(?P<ltrim>-[ \t\r\n])?\s*(?P<body>/\*.*?\*/|.*?)\s*(?P<rtrim>[ \t\r\n]-)?\}\}", re.DOTALL
)
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`)
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op>:=|=|\||\(|\)|,)
    | (?P<var>\$\w*(?:\.\w+)*)
    | (?P<field>(?:\.\w+)+|\.)
    | (?P<ident>[A-Za-z_]\w*)
    )""",
    re.VERBOSE,
)


def _lex(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise TemplateError(f"cannot lex {text[pos:]!r}")
        kind = match.lastgroup
        assert kind is not None
        value = match.group(kind)
        if kind == "field" and tokens and tokens[-1] == ("op", ")") and text[pos] == ".":
            kind = "chain"  # (pipeline).Field, no space between
        tokens.append((kind, value))
        pos = match.end()
    return tokens


def _go_str(value: Any) -> str:
    """fmt.Sprint of a value as templates print it (Helm turns <no value> into "")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, (dict, list)):
        raise TemplateError(f"printing a {type(value).__name__}: {value!r}")
    return str(value)


def _truth(value: Any) -> bool:
    return value not in (None, False, 0, "") and not (isinstance(value, (dict, list)) and not value)


def _numbers_as_floats(value: Any) -> Any:
    """Helm reads values through JSON: every number becomes a float64."""
    if isinstance(value, dict):
        return {k: _numbers_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_floats(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _kind(value: Any) -> str | None:
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("string", str)):
        if isinstance(value, types):
            return kind
    return None


def _compare(a: Any, b: Any) -> tuple[Any, Any]:
    """Go's eq/lt/...: both basic values of one kind (an int is not a float64)."""
    if _kind(a) is None or _kind(a) != _kind(b):
        raise TemplateError(f"incompatible types for comparison: {a!r} and {b!r}")
    return a, b


def _plain(value: Any) -> Any:
    """Integral floats back to ints for YAML output, as Go's YAML encoder writes them."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _toyaml(value: Any) -> str:
    text = yaml.safe_dump(_plain(value), default_flow_style=False, sort_keys=True, width=1 << 16)
    return text.removesuffix("...\n").rstrip("\n")


def _printf(fmt: str, *args: Any) -> str:
    return re.sub(r"%[sdv]", "{}", fmt).format(*(_go_str(a) for a in args))


def _indent(width: Any, text: Any) -> str:
    pad = " " * int(width)
    return pad + str(text).replace("\n", "\n" + pad)


def _required(message: str, value: Any) -> Any:
    if value is None or value == "":
        raise TemplateError(message)
    return value


def _to_int(value: Any) -> int:
    if isinstance(value, str):
        return int(value) if value.strip().lstrip("-").isdigit() else 0
    return int(value or 0)


def _empty(value: Any) -> bool:
    return not _truth(value)


def _kind_is(kind: str, value: Any) -> bool:
    """Sprig's kindIs: Go's reflect kind of a value as Helm holds it (numbers from values are
    float64, from template literals int)."""
    actual = {
        bool: "bool",
        int: "int",
        float: "float64",
        str: "string",
        dict: "map",
        list: "slice",
    }.get(type(value), "invalid" if value is None else type(value).__name__)
    return actual == kind


def _merge(dst: dict[str, Any], *sources: dict[str, Any]) -> dict[str, Any]:
    """Sprig's merge: keys of the sources fill in what dst lacks (dst wins), maps recursively;
    dst is changed and returned."""
    for source in sources:
        for key, value in source.items():
            if key not in dst or dst[key] is None:
                dst[key] = value
            elif isinstance(dst[key], dict) and isinstance(value, dict):
                _merge(dst[key], value)
    return dst


def _to_json(value: Any) -> str:
    """Go's json.Marshal, as Sprig's toJson: compact, keys sorted, <, > and & escaped."""
    text = json.dumps(_plain(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _fail(message: str) -> None:
    raise TemplateError(message)


FUNCTIONS: dict[str, Any] = {
    "and": lambda *a: next((x for x in a if not _truth(x)), a[-1]),
    "or": lambda *a: next((x for x in a if _truth(x)), a[-1]),
    "not": lambda a: not _truth(a),
    "eq": lambda a, *b: any(operator.eq(*_compare(a, x)) for x in b),
    "ne": lambda a, b: operator.ne(*_compare(a, b)),
    "gt": lambda a, b: operator.gt(*_compare(a, b)),
    "ge": lambda a, b: operator.ge(*_compare(a, b)),
    "lt": lambda a, b: operator.lt(*_compare(a, b)),
    "le": lambda a, b: operator.le(*_compare(a, b)),
    "int": _to_int,
    "toString": _go_str,
    "quote": lambda *a: " ".join(json.dumps(_go_str(x)) for x in a if x is not None),
    "default": lambda d, v=None: d if _empty(v) else v,
    "empty": _empty,
    "required": _required,
    "print": lambda *a: "".join(_go_str(x) for x in a),
    "printf": _printf,
    "trunc": lambda n, s: s[: int(n)],
    "trimSuffix": lambda suffix, s: s.removesuffix(suffix),
    "replace": lambda old, new, s: s.replace(old, new),
    "contains": lambda sub, s: sub in s,
    "sha256sum": lambda s: hashlib.sha256(s.encode()).hexdigest(),
    "toYaml": _toyaml,
    "fromYaml": lambda s: yaml.safe_load(s) or {},
    "indent": _indent,
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "list": lambda *a: list(a),
    "dict": lambda *a: dict(zip(a[::2], a[1::2], strict=True)),
    "append": lambda items, v: [*items, v],
    "has": lambda v, items: v in items,
    "hasKey": lambda d, k: k in d,
    "get": lambda d, k: d.get(k, ""),
    "set": lambda d, k, v: d.__setitem__(k, v) or d,
    "omit": lambda d, *keys: {k: v for k, v in d.items() if k not in keys},
    "deepCopy": copy.deepcopy,
    "kindIs": _kind_is,
    "merge": _merge,
    "toJson": _to_json,
    "first": lambda items: items[0] if items else None,
    "join": lambda sep, items: sep.join(_go_str(i) for i in items),
    "int64": _to_int,
    "float64": lambda v: float(v or 0),
    "ternary": lambda yes, no, cond: yes if _truth(cond) else no,
    "fail": _fail,
    "regexMatch": lambda pattern, s: re.search(pattern, s) is not None,
    "trim": lambda s: s.strip(" \t\r\n"),
}


class ChartFiles:
    """.Files: Get, and Glob with AsConfig (Helm's `*` never crosses a slash)."""

    def __init__(self, root: Path, paths: list[str] | None = None) -> None:
        self.root = root
        self.paths = paths

    def Get(self, path: str) -> str:  # noqa: N802 - Helm's name
        return (self.root / path).read_text(encoding="utf-8")

    def Glob(self, pattern: str) -> ChartFiles:  # noqa: N802 - Helm's name
        found = sorted(str(p.relative_to(self.root)) for p in self.root.glob(pattern))
        return ChartFiles(self.root, found)

    def AsConfig(self) -> str:  # noqa: N802 - Helm's name
        return _toyaml({Path(p).name: self.Get(p) for p in self.paths or []})

    def items(self) -> list[tuple[str, str]]:
        return [(p, self.Get(p)) for p in self.paths or []]


class GoTemplates:
    """Parses every template of the chart; render(name, dot) runs one."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.trees: dict[str, list[Any]] = {}
        for name, text in sources.items():
            self.trees[name] = self._parse(self._tokens(text), name)

    @staticmethod
    def _tokens(text: str) -> list[tuple[str, str]]:
        pieces: list[tuple[str, str]] = []
        pos = 0
        for match in _ACTION.finditer(text):
            pieces.append(("text", text[pos : match.start()]))
            if match.group("ltrim"):
                pieces[-1] = ("text", pieces[-1][1].rstrip())
            pieces.append(("rtrim" if match.group("rtrim") else "action", match.group("body")))
            pos = match.end()
        pieces.append(("text", text[pos:]))
        result: list[tuple[str, str]] = []
        for (kind, value), before in zip(pieces, [("", ""), *pieces], strict=False):
            trimmed = value.lstrip() if kind == "text" and before[0] == "rtrim" else value
            result.append(("action" if kind == "rtrim" else kind, trimmed))
        return [(k, v) for k, v in result if not (k == "action" and v.startswith("/*"))]

    def _parse(self, tokens: list[tuple[str, str]], name: str) -> list[Any]:
        stack: list[tuple[list[Any], Any]] = [([], None)]
        for kind, value in tokens:
            body = stack[-1][0]
            if kind == "text":
                body.append(("text", value))
                continue
            word, _, rest = value.partition(" ")
            if word in ("if", "with", "range"):
                node = [word, rest, [], None]  # keyword, pipeline, body, else-body
                body.append(node)
                stack.append((node[2], node))
            elif word == "define":
                node = ["define", json.loads(rest), [], None]
                stack.append((node[2], node))
            elif word == "else":
                self._else(stack, rest)
            elif word == "end":
                _, node = stack.pop()
                while len(node) == 5:  # close the else-if chain up to its first if
                    _, node = stack.pop()
                if node[0] == "define":
                    self.trees[node[1]] = node[2]
            else:
                body.append(("action", value))
        if len(stack) != 1:
            raise TemplateError(f"{name}: unclosed block")
        return stack[0][0]

    @staticmethod
    def _else(stack: list[tuple[list[Any], Any]], rest: str) -> None:
        _, node = stack.pop()
        node[3] = []
        stack.append((node[3], node))
        if rest.startswith("if "):  # else if: an if nested in the else branch, ended with it
            inner = ["if", rest[3:], [], None, "chained"]
            node[3].append(inner)
            stack.append((inner[2], inner))

    def render(self, name: str, dot: Any) -> str:
        if name not in self.trees:
            raise TemplateError(f"no template {name!r}")
        out: list[str] = []
        self._run(self.trees[name], dot, [{"$": dot}], out)
        return "".join(out)

    def _run(
        self, nodes: list[Any], dot: Any, scopes: list[dict[str, Any]], out: list[str]
    ) -> None:
        for node in nodes:
            if node[0] == "text":
                out.append(node[1])
            elif node[0] == "action":
                value = self._pipeline(_lex(node[1]), dot, scopes)
                if value is not _ASSIGNED:
                    out.append(_go_str(value))
            else:
                self._block(node, dot, scopes, out)

    def _block(
        self, node: list[Any], dot: Any, scopes: list[dict[str, Any]], out: list[str]
    ) -> None:
        keyword, pipeline, body, else_body = node[:4]
        inner = [*scopes, {}]
        tokens = _lex(pipeline)
        names: list[str] = []
        if keyword == "range" and any(t == ("op", ":=") for t in tokens):
            split = tokens.index(("op", ":="))
            names = [v for k, v in tokens[:split] if k == "var"]
            tokens = tokens[split + 1 :]
        value = self._pipeline(tokens, dot, inner)
        if keyword == "if":
            branch = body if _truth(value) else else_body
            self._run(branch or [], dot, inner, out)
        elif keyword == "with":
            if _truth(value):
                self._run(body, value, inner, out)
            else:
                self._run(else_body or [], dot, inner, out)
        else:
            if isinstance(value, (dict, ChartFiles)):
                pairs = sorted(value.items()) if isinstance(value, dict) else value.items()
            else:
                pairs = list(enumerate(value or []))
            for key, item in pairs:
                scope = dict(
                    zip(names[-2:], [key, item] if len(names) > 1 else [item], strict=False)
                )
                self._run(body, item, [*inner, scope], out)
            if not pairs:
                self._run(else_body or [], dot, inner, out)

    def _pipeline(
        self, tokens: list[tuple[str, str]], dot: Any, scopes: list[dict[str, Any]]
    ) -> Any:
        if len(tokens) > 1 and tokens[0][0] == "var" and tokens[1] in (("op", ":="), ("op", "=")):
            value = self._pipeline(tokens[2:], dot, scopes)
            name = tokens[0][1]
            if tokens[1][1] == ":=":
                scopes[-1][name] = value
            else:
                target = next((s for s in reversed(scopes) if name in s), None)
                if target is None:
                    raise TemplateError(f"undefined variable {name}")
                target[name] = value
            return _ASSIGNED
        commands: list[list[tuple[str, str]]] = [[]]
        depth = 0
        for token in tokens:
            depth += {("op", "("): 1, ("op", ")"): -1}.get(token, 0)
            if token == ("op", "|") and depth == 0:
                commands.append([])
            else:
                commands[-1].append(token)
        value: Any = _NOTHING
        for command in commands:
            value = self._command(command, dot, scopes, value)
        return value

    def _command(
        self, tokens: list[tuple[str, str]], dot: Any, scopes: list[dict[str, Any]], piped: Any
    ) -> Any:
        operands = self._operands(tokens, dot, scopes)
        head_kind, head = operands[0]
        if head_kind == "ident" and head not in ("true", "false", "nil"):
            args = [self._operand(o, dot, scopes) for o in operands[1:]]
            if piped is not _NOTHING:
                args.append(piped)
            if head == "include":
                return self.render(args[0], args[1])
            if head not in FUNCTIONS:
                raise TemplateError(f"function {head!r} not defined")
            return FUNCTIONS[head](*args)
        value = self._operand(operands[0], dot, scopes)
        rest = [self._operand(o, dot, scopes) for o in operands[1:]]
        if piped is not _NOTHING:
            rest.append(piped)
        if callable(value):
            return value(*rest)
        if rest:
            raise TemplateError(f"can't give argument to non-function {head}")
        return value

    def _operands(
        self, tokens: list[tuple[str, str]], dot: Any, scopes: list[dict[str, Any]]
    ) -> list[tuple[str, Any]]:
        """The command's words, each parenthesized pipeline (and its .Field) evaluated."""
        operands: list[tuple[str, Any]] = []
        pos = 0
        while pos < len(tokens):
            if tokens[pos] != ("op", "("):
                operands.append(tokens[pos])
                pos += 1
                continue
            depth, end = 1, pos + 1
            while depth:
                depth += {("op", "("): 1, ("op", ")"): -1}.get(tokens[end], 0)
                end += 1
            value = self._pipeline(tokens[pos + 1 : end - 1], dot, scopes)
            pos = end
            if pos < len(tokens) and tokens[pos][0] == "chain":
                value = self._fields(value, tokens[pos][1])
                pos += 1
            operands.append(("value", value))
        return operands

    def _operand(self, operand: tuple[str, Any], dot: Any, scopes: list[dict[str, Any]]) -> Any:
        kind, text = operand
        if kind == "value":
            return text
        if kind == "str":
            return json.loads(text) if text.startswith('"') else text[1:-1]
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "ident":
            return {"true": True, "false": False, "nil": None}[text]
        if kind == "field":
            return dot if text == "." else self._fields(dot, text)
        if kind == "var":
            name, _, path = text.partition(".")
            scope = next((s for s in reversed(scopes) if name in s), None)
            if scope is None:
                raise TemplateError(f"undefined variable {name}")
            return self._fields(scope[name], "." + path) if path else scope[name]
        raise TemplateError(f"unexpected {text!r}")

    @staticmethod
    def _fields(value: Any, chain: str) -> Any:
        for field in chain.strip(".").split("."):
            if isinstance(value, dict):
                value = value.get(field)
            elif isinstance(value, ChartFiles):
                value = getattr(value, field)
                if field == "AsConfig":  # Go calls a method without arguments in a chain
                    value = value()
            else:
                raise TemplateError(f"can't evaluate field {field} in {value!r}")
        return value


_ASSIGNED = object()
_NOTHING = object()


def helm_values(values: Any) -> Any:
    """Values as a template sees them: Helm reads values through JSON, so every number is a
    float64."""
    return _numbers_as_floats(values)


def chart_context(
    chart: Path, values: dict[str, Any], *, release: str, namespace: str
) -> dict[str, Any]:
    """The top-level object a template of ``chart`` sees (`.`), for this release."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))
    return {
        "Values": helm_values(values),
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"},
        "Chart": {
            "Name": meta["name"],
            "Version": meta["version"],
            "AppVersion": meta["appVersion"],
        },
        "Template": {"BasePath": f"{meta['name']}/templates"},
        "Files": ChartFiles(chart),
    }


def render_chart(
    chart: Path, values: dict[str, Any], *, release: str, namespace: str
) -> dict[str, list[dict[str, Any]]]:
    """`helm template RELEASE CHART --namespace NAMESPACE` with ``values`` (already coalesced
    with the chart's defaults): template file name -> its manifests (empty documents dropped).
    Every template is rendered, those of subdirectories (tests/) too, keyed by their path
    under templates/ (NOTES.txt too: it must not fail); helpers (`_*`) only through
    `include`, and only the .yaml ones' documents are returned."""
    templates = chart / "templates"
    top = chart_context(chart, values, release=release, namespace=namespace)
    base = top["Template"]["BasePath"]
    files = sorted(p for p in templates.rglob("*") if p.is_file())
    names = {p: p.relative_to(templates).as_posix() for p in files}
    engine = GoTemplates({f"{base}/{names[p]}": p.read_text(encoding="utf-8") for p in files})
    result: dict[str, list[dict[str, Any]]] = {}
    for path in files:
        if path.name.startswith("_"):
            continue
        text = engine.render(f"{base}/{names[path]}", top)
        docs = [d for d in yaml.safe_load_all(text) if d] if path.suffix == ".yaml" else []
        if docs:
            result[names[path]] = docs
    return result
