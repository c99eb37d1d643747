"""What dns_cycle.py measures (exporter variants, floors, blackbox_exporter) and its summary table.

One markdown table row per N and method: medians and spreads over the rounds, CPU per domain
first (the figure that holds on a shared box), then wall clock, named's CPU and the load.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Method", "Variant", "print_report"]

DASH = "\N{EN DASH}"  # ranges and empty cells, as in bench/README.md
TARGET_COLD_MS = 0.35  # CPU per checked domain, cold cycle
TARGET_WARM_MS = 0.2  # and in steady state (nothing changed since the last cycle)


@dataclass(frozen=True)
class Variant:
    """An exporter build: ``pythonpath`` first on the path (None: the environment as it is,
    "": no PYTHONPATH at all), run by ``python``."""

    name: str
    pythonpath: str | None
    python: str

    @classmethod
    def parse(cls, text: str) -> Variant:
        """``NAME=PYTHONPATH:PYTHON``, e.g. ``before=/tmp/old:.venv/bin/python`` or
        ``compiled=-:.venv-compiled/bin/python``. Relative paths are made absolute (the
        interpreter's symlink is kept: it is what selects the venv)."""
        name, sep, rest = text.partition("=")
        path, colon, python = rest.rpartition(":")
        if not (name and sep and colon and path and python):
            raise argparse.ArgumentTypeError(f"expected NAME=PYTHONPATH:PYTHON, got {text!r}")
        paths = [str(Path(each).absolute()) for each in path.split(":")]
        pythonpath = "" if path == "-" else ":".join(paths)
        return cls(name, pythonpath, str(Path(python).absolute()))

    def env(self) -> dict[str, str] | None:
        if self.pythonpath is None:
            return None
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        return env


@dataclass(frozen=True)
class Method:
    """One thing measured each round: an exporter variant, a floor mode, or blackbox."""

    kind: str  # "exporter", "floor-resolver", "floor-udp", "floor-pycares" or "blackbox"
    label: str
    variant: Variant | None = None


HEADER = (
    "| N | what | runs | verdicts | **CPU ms/domain, cold**: median (min" + DASH + "max) "
    "| CPU ms/domain, warm | domains/s, cold | CPU µs/question | named CPU ms/domain "
    "| questions/domain | peak RSS MB | load 1/5/15: start → end |\n"
    "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"
)


def _spread(values: Sequence[float], digits: int = 3) -> str:
    if not values:
        return DASH
    median = f"{statistics.median(values):,.{digits}f}"
    if len(values) == 1:
        return median
    return f"{median} ({min(values):,.{digits}f}{DASH}{max(values):,.{digits}f})"


def _load(start: Sequence[float], end: Sequence[float]) -> str:
    return f"{'/'.join(f'{x:.1f}' for x in start)} → {'/'.join(f'{x:.1f}' for x in end)}"


@dataclass
class Row:
    """The figures of one N and method over its runs."""

    cells: list[str]
    ok: bool
    cold: list[float]
    warm: list[float]


def _exporter_row(method: Method, n: int, runs: list[dict[str, Any]]) -> Row:
    first = [run["cycles"][0] for run in runs]
    cold = [cycle["cpu_ms_per_domain"] for cycle in first]
    warm = [cycle["cpu_ms_per_domain"] for run in runs for cycle in run["cycles"][1:]]
    mismatches = sum(run["mismatch_count"] for run in runs)
    build = {True: "compiled", False: "pure Python"}.get(runs[0]["compiled"], "no build flag")
    cells = [
        method.label if build.split()[0] in method.label else f"{method.label} ({build})",
        str(len(runs)),
        f"**FAILED**: {mismatches} mismatches" if mismatches else "all as generated",
        f"**{_spread(cold)}**",
        _spread(warm),
        _spread([n / c["wall_s"] for c in first], 0),
        _spread([1e6 * c["cpu_s"] / c["queries_sent"] for c in first], 1),
        _spread([1000 * c["named_cpu_s"] / n for c in first]),
        f"{statistics.median(c['queries_sent'] / n for c in first):.2f}",
        f"{max(run['peak_rss_kib'] for run in runs) / 1024:.0f}",
        _load(first[0]["load_start"], runs[-1]["cycles"][-1]["load_end"]),
    ]
    return Row(cells, not mismatches, cold, warm)


def _other_row(method: Method, n: int, runs: list[dict[str, Any]]) -> Row:
    """A floor or blackbox_exporter: the CPU of the process that asks (blackbox_exporter's
    own; its driver's is named in the label)."""
    domains = runs[0]["domains"]
    label = method.label
    if method.kind == "blackbox":
        driver = _spread([1000 * run["driver_cpu_s"] / domains for run in runs])
        label = f"{runs[0]['version'].split(' (')[0]}; its driver: {driver} ms/domain more"
    if domains < n:
        label += f" (the first {domains:,} domains' questions)"
    errors = sum(run["errors"] for run in runs)
    cold = [1000 * run["cpu_s"] / domains for run in runs]
    cells = [
        label,
        str(len(runs)),
        f"**FAILED**: {errors} errors" if errors else "no errors",
        f"**{_spread(cold)}**",
        DASH,
        _spread([domains / run["wall_s"] for run in runs], 0),
        _spread([1e6 * run["cpu_s"] / run["questions"] for run in runs], 1),
        _spread([1000 * run["named_cpu_s"] / domains for run in runs]),
        f"{runs[0]['questions'] / domains:.2f}",
        f"{max(run['peak_rss_kib'] for run in runs) / 1024:.0f}",
        _load(runs[0]["load_start"], runs[-1]["load_end"]),
    ]
    return Row(cells, not errors, cold, [])


def _meets(value: float, target: float) -> str:
    return f"{value:.3f} {'meets' if value <= target else 'MISSES'} ≤ {target}"


def print_report(
    context: dict[str, Any],
    args: argparse.Namespace,
    methods: list[Method],
    runs: dict[str, list[dict[str, Any]]],
    failures: dict[str, str],
) -> bool:
    """The summary: context, one markdown table, the targets. False if any row failed."""
    print(
        f"\n{context['machine']}, {context['named']}, checkout {context['tree']}; "
        f"{context['pinning']}; "
        f"{args.repeat} round(s) per N, methods interleaved; concurrency {args.concurrency}; "
        f"{args.cycles} exporter cycle(s) per run (the first cold, the later ones warm, one "
        f"verdict memo); named RSS {context['named_rss_mib'] or 0:.0f} MB; load average "
        f"{_load(context['load_before'], context['load_after'])} over the whole run\n"
    )
    print(HEADER)
    ok = True
    targets = []
    for n in args.sizes:
        for method in methods:
            results = runs.get(f"{n}:{method.label}")
            if not results:
                continue
            make = _exporter_row if method.variant is not None else _other_row
            row = make(method, n, results)
            ok &= row.ok
            print(f"| {n:,} | " + " | ".join(row.cells) + " |")
            if method.variant is not None:
                warm = statistics.median(row.warm) if row.warm else None
                reading = f"warm {_meets(warm, TARGET_WARM_MS)}" if warm is not None else ""
                cold = _meets(statistics.median(row.cold), TARGET_COLD_MS)
                targets.append(f"N={n:,} {method.label}: cold {cold}; {reading}".rstrip("; "))
    for key, error in failures.items():
        n, label = key.split(":", 1)
        print(f"\n**FAILED**: N={int(n):,} {label}: {error}")
    print("\nCPU per domain against the targets (medians, ms):")
    print("\n".join(f"- {line}" for line in targets))
    return ok and not failures
