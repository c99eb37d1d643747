"""CPU time per text of the bounce classifier, cold: both of its caches are cleared before
each round, so every text pays the full decision (the pipeline meets a new receiver's
wording this way; repeats are cache hits and cost far less).

Texts: every ``raw_string`` of ``tests/unit/bounce_cases.tsv`` (and, with ``--corpus``, of
``tests/data/diagnostic_codes.tsv``), each classified once per round as the pipeline calls
it (Permanent/General, no status). A round is repeated ``--inner`` times over the same
list, caches cleared before each pass. Prints the median and best round.

Usage: .venv/bin/python bench/classifier.py [--repeat 7] [--inner 20] [--corpus] [--json out]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.checks import bounce  # noqa: E402 - after the path is set

CASES = ROOT / "tests" / "unit" / "bounce_cases.tsv"
CORPUS = ROOT / "tests" / "data" / "diagnostic_codes.tsv"


def load_texts(path: Path) -> list[str]:
    """The unescaped first column of a labelled TSV (leading ``#`` lines and the header skipped)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    rows = [line for line in lines[1:] if line]
    escapes = {"\\n": "\n", "\\t": "\t", "\\\\": "\\"}
    texts = []
    for row in rows:
        raw = row.split("\t", 1)[0]
        out, i = [], 0
        while i < len(raw):
            pair = raw[i : i + 2]
            out.append(escapes.get(pair, raw[i]))
            i += 2 if pair in escapes else 1
        texts.append("".join(out))
    return texts


def cold_round(texts: list[str], inner: int) -> float:
    """CPU seconds per text over ``inner`` passes, each after clearing the caches."""
    spent = 0.0
    for _ in range(inner):
        bounce.clear_caches()
        started = time.process_time()
        for text in texts:
            bounce.classify_bounce("Permanent", "General", None, text)
        spent += time.process_time() - started
    return spent / (inner * len(texts))


def main() -> None:
    """Run the rounds and print texts/s and µs per text."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--inner", type=int, default=20)
    parser.add_argument("--corpus", action="store_true", help="add the corpus texts")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    texts = load_texts(CASES) + (load_texts(CORPUS) if args.corpus else [])
    cold_round(texts, 1)  # imports, compiled patterns and allocator warm-up
    rounds = [cold_round(texts, args.inner) for _ in range(args.repeat)]
    median, best = statistics.median(rounds), min(rounds)
    result = {
        "classifier_version": bounce.CLASSIFIER_VERSION,
        "texts": len(texts),
        "median_us_per_text": round(median * 1e6, 2),
        "best_us_per_text": round(best * 1e6, 2),
        "median_texts_per_s": round(1 / median),
        "best_texts_per_s": round(1 / best),
        "python": platform.python_version(),
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
