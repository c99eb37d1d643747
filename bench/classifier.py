"""CPU time per text of the bounce classifier, cold: every cache of the module is cleared
before each pass, so every text pays the full decision (the pipeline meets a new receiver's
wording this way; repeats are cache hits and cost far less).

Texts: every ``raw_string`` of ``tests/unit/bounce_cases.tsv`` (with ``--corpus``, also of
``tests/data/diagnostic_codes.tsv``), each classified once per pass as the pipeline calls it
(Permanent/General, no status). A round is ``--inner`` passes; the median and best of
``--repeat`` rounds are printed. ``--baseline FILE`` times another version of
``exporter/checks/bounce.py`` (say ``git show <commit>:exporter/checks/bounce.py``) in the
same process, its rounds interleaved with the current version's, so machine load hits both.

Usage: .venv/bin/python bench/classifier.py [--repeat 7] [--inner 20] [--corpus]
       [--baseline FILE] [--json out.json]
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

CASES = ROOT / "tests" / "unit" / "bounce_cases.tsv"
CORPUS = ROOT / "tests" / "data" / "diagnostic_codes.tsv"
ESCAPES = {"\\n": "\n", "\\t": "\t", "\\\\": "\\"}


def load_texts(path: Path) -> list[str]:
    """The unescaped first column of a labelled TSV (leading ``#`` lines and the header
    skipped)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    texts = []
    for row in filter(None, lines[1:]):
        raw, out, i = row.split("\t", 1)[0], [], 0
        while i < len(raw):
            pair = raw[i : i + 2]
            out.append(ESCAPES.get(pair, raw[i]))
            i += 2 if pair in ESCAPES else 1
        texts.append("".join(out))
    return texts


def load_module(path: Path) -> ModuleType:
    """Another version of the classifier, imported from a file under its own name."""
    spec = importlib.util.spec_from_file_location("bounce_baseline", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


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
    parser.add_argument("--baseline", type=Path, help="another bounce.py to time alongside")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    texts = load_texts(CASES) + (load_texts(CORPUS) if args.corpus else [])
    versions = {"current": bounce}
    if args.baseline:
        versions["baseline"] = load_module(args.baseline)
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
        result["speedup_median"] = round(
            statistics.median(rounds["baseline"]) / statistics.median(rounds["current"]), 2
        )
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
