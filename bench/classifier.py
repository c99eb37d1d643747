"""CPU time per text of the bounce classifier, cold: every cache of the module is cleared
before each pass, so every text pays the full decision (the pipeline meets a new receiver's
wording this way; repeats are cache hits and cost far less).

Texts: every ``raw_string`` of ``tests/unit/bounce_cases.tsv`` (with ``--corpus``, also of
``tests/data/diagnostic_codes.tsv``), each classified once per pass as the pipeline calls it
(Permanent/General, no status). A round is ``--inner`` passes; the median and best of
``--repeat`` rounds are printed. ``--baseline`` times another version in the same process,
its rounds interleaved with the current version's, so machine load hits both: a directory
is another checkout's ``exporter/checks`` (``git archive <commit> exporter | tar -x -C DIR``),
whose ``bounce.py`` then runs with its own rule modules; a file is a ``bounce.py`` alone,
run with the current rules.

Usage: .venv/bin/python bench/classifier.py [--repeat 7] [--inner 20] [--corpus]
       [--baseline DIR_OR_FILE] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.checks import bounce  # noqa: E402 - after the path is set

UNIT = ROOT / "tests" / "unit"
CASES = UNIT / "bounce_cases.tsv"
CORPUS = ROOT / "tests" / "data" / "diagnostic_codes.tsv"
# The labelled sets --accuracy scores, each a file and the tag its rows' source must carry
# (bounce_sets.md says what the blind sets and the two parts of the second and third ones are).
BLIND2 = UNIT / "bounce_blind2.tsv"
BLIND3 = UNIT / "bounce_blind3.tsv"
BLIND4 = UNIT / "bounce_blind4.tsv"
BLIND5 = UNIT / "bounce_blind5.tsv"
BLIND6 = UNIT / "bounce_blind6.tsv"
BLIND7 = UNIT / "bounce_blind7.tsv"
LABELLED = {
    "bounce_cases": (CASES, ""),
    "corpus": (CORPUS, ""),
    "eval": (UNIT / "bounce_eval.tsv", ""),
    "dev": (UNIT / "bounce_dev.tsv", ""),
    "dev4": (UNIT / "bounce_dev4.tsv", ""),
    "blind": (UNIT / "bounce_blind.tsv", ""),
    "blind2": (BLIND2, ""),
    "blind2-A": (BLIND2, "[blind2-A]"),
    "blind2-B": (BLIND2, "[blind2-B"),
    "blind3": (BLIND3, ""),
    "blind3-A": (BLIND3, "[blind3-A]"),
    "blind3-B": (BLIND3, "[blind3-B"),
    "blind4": (BLIND4, ""),
    "blind5": (BLIND5, ""),
    "blind6": (BLIND6, ""),
    "blind7 (held back)": (BLIND7, ""),
}
ESCAPES = {"\\n": "\n", "\\t": "\t", "\\\\": "\\"}


def load_rows(path: Path, tag: str = "") -> list[tuple[str, str]]:
    """(text, category) of each row of a labelled TSV whose ``source`` holds ``tag``: the
    ``raw_string`` column unescaped, leading ``#`` lines skipped, columns found by the header."""
    lines = path.read_text(encoding="utf-8").split("\n")
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    header = lines[0].split("\t")
    raw_at, category_at = header.index("raw_string"), header.index("category")
    source_at = header.index("source") if tag else 0
    rows = []
    for row in filter(None, lines[1:]):
        fields = row.split("\t")
        if tag not in fields[source_at]:
            continue
        raw, out, i = fields[raw_at], [], 0
        while i < len(raw):
            pair = raw[i : i + 2]
            out.append(ESCAPES.get(pair, raw[i]))
            i += 2 if pair in ESCAPES else 1
        rows.append(("".join(out), fields[category_at]))
    return rows


def load_texts(path: Path) -> list[str]:
    """The texts of a labelled TSV."""
    return [text for text, _ in load_rows(path)]


def accuracy(module: ModuleType, rows: list[tuple[str, str]]) -> dict[str, float]:
    """Share of rows given their label, and share classified ``unknown``."""
    got = [module.classify_bounce("Permanent", "General", None, text).category for text, _ in rows]
    right = sum(category == label for category, (_, label) in zip(got, rows, strict=True))
    return {
        "accuracy": round(right / len(rows), 4),
        "unknown": round(got.count("unknown") / len(rows), 4),
    }


def load_module(path: Path, name: str = "bounce_baseline") -> ModuleType:
    """A module imported from a file under its own name."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# The modules ``bounce.py`` imports, in import order: each of a baseline's is loaded after
# those it imports, so that every one of them sees its own checkout's version, not ours.
RULE_MODULES = (
    "rule_table",
    "bounce_rules_categories",
    "bounce_rules_reputation",
    "bounce_rules_sender",
    "bounce_rules_domain",
    "bounce_rules_recipient",
    "bounce_rules_message",
    "bounce_rules",
    "bounce_codes",
    "bounce_text",
)


def load_baseline(path: Path) -> ModuleType:
    """Another classifier: a ``bounce.py``, or a checkout's ``exporter/checks`` directory whose
    ``bounce.py`` imports that checkout's rule modules (swapped in while it loads)."""
    if not path.is_dir():
        return load_module(path)
    package = sys.modules["exporter.checks"]
    saved = {name: getattr(package, name, None) for name in RULE_MODULES}
    try:
        for name in RULE_MODULES:
            if (path / f"{name}.py").exists():
                module = load_module(path / f"{name}.py", f"baseline_{name}")
                sys.modules[f"exporter.checks.{name}"] = module
                setattr(package, name, module)
        return load_module(path / "bounce.py")
    finally:
        for name, module in saved.items():
            if module is not None:
                sys.modules[f"exporter.checks.{name}"] = module
                setattr(package, name, module)


def clear_caches(module: ModuleType) -> None:
    """Empty every ``functools.lru_cache`` of the module."""
    for value in vars(module).values():
        if callable(getattr(value, "cache_clear", None)) and hasattr(value, "cache_info"):
            value.cache_clear()


def cold_round(module: ModuleType, texts: list[str], inner: int) -> float:
    """CPU seconds per text over ``inner`` passes, each after clearing the caches."""
    spent = 0.0
    for _ in range(inner):
        clear_caches(module)
        started = time.process_time()
        for text in texts:
            module.classify_bounce("Permanent", "General", None, text)
        spent += time.process_time() - started
    return spent / (inner * len(texts))


def summary(rounds: list[float]) -> dict[str, float]:
    median, best = statistics.median(rounds), min(rounds)
    return {
        "median_us_per_text": round(median * 1e6, 2),
        "best_us_per_text": round(best * 1e6, 2),
        "median_texts_per_s": round(1 / median),
        "best_texts_per_s": round(1 / best),
    }


def main() -> None:
    """Run the rounds and print texts/s and µs of CPU per text."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--inner", type=int, default=20)
    parser.add_argument("--corpus", action="store_true", help="add the corpus texts")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout's exporter/checks, or a bounce.py"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--accuracy", action="store_true", help="score the labelled sets instead of timing"
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    texts = load_texts(CASES) + (load_texts(CORPUS) if args.corpus else [])
    versions = {"current": bounce}
    if args.baseline:
        versions["baseline"] = load_baseline(args.baseline)
    if args.accuracy:
        scored = {
            name: {"rows": len(rows), **{v: accuracy(m, rows) for v, m in versions.items()}}
            for name, rows in ((name, load_rows(*spec)) for name, spec in LABELLED.items())
        }
        print(json.dumps(scored, indent=2))
        return
    rounds: dict[str, list[float]] = {name: [] for name in versions}
    for module in versions.values():
        cold_round(module, texts, 1)  # compiled patterns, allocator warm-up
    for _ in range(args.repeat):
        for name, module in versions.items():
            rounds[name].append(cold_round(module, texts, args.inner))
    result: dict[str, object] = {
        "classifier_version": bounce.CLASSIFIER_VERSION,
        "texts": len(texts),
        "python": platform.python_version(),
        "load_average_1m": os.getloadavg()[0],
        **{name: summary(values) for name, values in rounds.items()},
    }
    if args.baseline:
        result["baseline_classifier_version"] = versions["baseline"].CLASSIFIER_VERSION
        result["speedup_median"] = round(
            statistics.median(rounds["baseline"]) / statistics.median(rounds["current"]), 2
        )
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
