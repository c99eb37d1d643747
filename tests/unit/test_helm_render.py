"""tests/helpers/helm_render.py, the Go-template interpreter the chart tests render with: the
language (actions, trimming, blocks, variables, pipelines, define/include), the Sprig and Helm
functions the chart uses, Helm's numbers, .Files, and a whole chart rendered from a directory.
Its fidelity to Helm on the real chart is tests/unit/test_packaging.py's
test_renderer_reproduces_helms_rendering_of_the_defaults."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from helpers.helm_render import ChartFiles, GoTemplates, TemplateError, helm_values, render_chart

VALUES = {"replicas": 1, "image": {"repository": "r", "tag": "t"}, "name": "", "ports": [80, 443]}


def render(template: str, dot: Any = None, **others: str) -> str:
    """One template named "t" (plus ``others`` by name), run with ``dot``."""
    return GoTemplates({"t": template, **others}).render("t", dot)


def values(**extra: Any) -> dict[str, Any]:
    return {"Values": helm_values({**VALUES, **extra})}


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("{{ nosuchfunction 1 }}", "not defined"),
        ("{{ .Values.nothing.deeper }}", "can't evaluate field"),
        ("{{ gt .Values.replicas 1 }}", "incompatible types"),  # float64 values vs an int
        ("{{ .Values.image }}", "printing a dict"),
        ('{{ required "needed" .Values.name }}', "needed"),
        ("{{ $undefined }}", "undefined variable"),
        ("{{ if true }}open", "unclosed block"),
        ('{{ include "nowhere" . }}', "no template"),
        ("{{ .Values.replicas 1 }}", "non-function"),
    ],
)
def test_renderer_fails_where_helm_fails(snippet: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render(snippet, values())


def test_renderer_trims_like_go() -> None:
    template = (
        "a  {{- 1 -}}  b\n{{/* gone {{ x }} */}}{{ if false }}no{{ else if true }}yes{{ end }}"
    )
    assert render(template, {}) == "a1b\nyes"


def test_values_numbers_are_floats_and_print_as_go_prints_them() -> None:
    """Helm reads values through JSON: a whole number prints without a point, compares only
    after `int`, and goes back to an int in toYaml."""
    assert helm_values({"n": 3, "b": True, "l": [1]}) == {"n": 3.0, "b": True, "l": [1.0]}
    assert render("{{ .Values.replicas }} {{ eq (int .Values.replicas) 1 }}", values()) == "1 true"
    assert render("{{ toYaml .Values.ports }}", values()) == "- 80\n- 443"
    assert render("{{ 2.5 }} {{ true }} {{ .Values.missing }}", values()) == "2.5 true "


def test_if_with_and_range_blocks() -> None:
    dot = values(labels={"b": "2", "a": "1"}, empty=[])
    assert render("{{ range $k, $v := .Values.labels }}{{ $k }}={{ $v }};{{ end }}", dot) == (
        "a=1;b=2;"  # a map is ranged in key order
    )
    assert render("{{ range $i, $p := .Values.ports }}{{ $i }}:{{ $p }} {{ end }}", dot) == (
        "0:80 1:443 "
    )
    assert render("{{ range .Values.ports }}[{{ . }}]{{ end }}", dot) == "[80][443]"
    assert render("{{ range .Values.empty }}x{{ else }}none{{ end }}", dot) == "none"
    assert render("{{ with .Values.image }}{{ .tag }}{{ end }}", dot) == "t"
    assert render("{{ with .Values.name }}x{{ else }}{{ .Values.replicas }}{{ end }}", dot) == "1"
    chain = "{{ if .Values.name }}a{{ else if .Values.empty }}b{{ else }}c{{ end }}"
    assert render(chain, dot) == "c"


def test_variables_are_scoped_and_assignable() -> None:
    template = (
        "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}"
        "{{ range .Values.ports }}{{ $.Values.replicas }}{{ end }}"
    )
    assert render(template, values()) == "211"
    with pytest.raises(TemplateError, match=r"undefined variable \$y"):
        render("{{ if true }}{{ $y := 3 }}{{ end }}{{ $y }}", values())


def test_define_include_and_pipelines() -> None:
    helpers = (
        '{{- define "name" -}}{{ .Values.image.repository }}-{{ .Values.image.tag }}{{- end }}'
    )
    template = 'key:{{ include "name" . | nindent 2 }}\n{{ include "name" . | quote }}'
    assert render(template, values(), helpers=helpers) == 'key:\n  r-t\n"r-t"'
    assert render('{{ (.Values.image).tag }} {{ (dict "a" 1).a }}', values()) == "t 1"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{{ default "x" "" }} {{ default "x" "y" }}', "x y"),
        ('{{ printf "%s:%d" "a" 5 }} {{ print "a" 1 }}', "a:5 a1"),
        ('{{ quote "a\\"b" }} {{ toString 4 }}', '"a\\"b" 4'),
        (
            '{{ trunc 3 "abcdef" }} {{ trimSuffix "-" "ab-" }} {{ replace "a" "b" "aa" }}',
            "abc ab bb",
        ),
        ('{{ contains "b" "abc" }} {{ empty "" }} {{ not 0 }}', "true true true"),
        ('{{ and 1 0 }} {{ or 0 "" "z" }} {{ ne 1 2 }} {{ eq 2 1 2 }}', "0 z true true"),
        ('{{ int "12" }} {{ int "x" }} {{ lt 1 2 }} {{ ge 2.5 2.5 }}', "12 0 true true"),
        ('{{ $d := dict "a" 1 "b" 2 }}{{ hasKey $d "a" }} {{ get $d "c" }}|', "true |"),
        ('{{ toYaml (omit (dict "a" 1 "b" 2) "a") }}', "b: 2"),
        ('{{ toYaml (set (dict) "k" (list 1 "x")) }}', "k:\n- 1\n- x"),
        ("{{ has 2 (append (list 1) 2) }}", "true"),
        ('{{ (fromYaml "a: {b: 1}").a.b }}', "1"),
        ('{{ indent 2 "a\\nb" }}', "  a\n  b"),
        ('{{ sha256sum "x" }}', hashlib.sha256(b"x").hexdigest()),
    ],
)
def test_functions(template: str, expected: str) -> None:
    assert render(template, {}) == expected


def test_deep_copy_leaves_the_original_alone() -> None:
    template = '{{ $c := deepCopy .Values.image }}{{ $_ := set $c "tag" "new" }}{{ .Values.image.tag }}{{ $c.tag }}'
    assert render(template, values()) == "tnew"


def test_files_get_and_glob_as_config(tmp_path: Path) -> None:
    (tmp_path / "files" / "deeper").mkdir(parents=True)
    (tmp_path / "files" / "b.yml").write_text("b: 1\n")
    (tmp_path / "files" / "a.yml").write_text("a: 1\n")
    (tmp_path / "files" / "deeper" / "c.yml").write_text("c: 1\n")  # `*` does not cross a /
    files = ChartFiles(tmp_path)
    dot = {"Files": files}
    assert render('{{ .Files.Get "files/a.yml" }}', dot) == "a: 1\n"
    assert render('{{ (.Files.Glob "files/*.yml").AsConfig }}', dot) == (
        "a.yml: 'a: 1\n\n  '\nb.yml: 'b: 1\n\n  '"
    )
    listing = '{{ range $path, $_ := .Files.Glob "files/*.yml" }}{{ $path }} {{ end }}'
    assert render(listing, dot) == "files/a.yml files/b.yml "


def test_render_chart_from_a_directory(tmp_path: Path) -> None:
    """Every template but the `_` helpers, with Release, Chart and Values; only .yaml documents
    are returned, empty ones dropped; NOTES.txt is run (it must not fail)."""
    (tmp_path / "Chart.yaml").write_text("name: demo\nversion: 1.2.3\nappVersion: '4.5'\n")
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "_helpers.tpl").write_text(
        '{{- define "demo.name" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end }}'
    )
    (templates / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        '  name: {{ include "demo.name" . }}\n  namespace: {{ .Release.Namespace }}\n'
        "data:\n  replicas: {{ .Values.replicas | quote }}\n  version: {{ .Chart.AppVersion }}\n"
        "---\n{{- if .Values.extra }}\nkind: Extra\n{{- end }}\n"
    )
    (templates / "off.yaml").write_text("{{- if .Values.extra }}\nkind: Off\n{{- end }}\n")
    (templates / "NOTES.txt").write_text("{{ .Template.BasePath }}\n")
    rendering = render_chart(tmp_path, {"replicas": 2, "extra": False}, release="r", namespace="n")
    assert rendering == {
        "cm.yaml": [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "r-demo", "namespace": "n"},
                "data": {"replicas": "2", "version": 4.5},
            }
        ]
    }
    (templates / "NOTES.txt").write_text("{{ nosuchfunction }}\n")
    with pytest.raises(TemplateError, match="nosuchfunction"):
        render_chart(tmp_path, {}, release="r", namespace="n")
