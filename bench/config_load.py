"""Benchmark loading a configuration with 100,000 ``[[domains]]`` tables.

The file is generated once (every domain with a MAIL FROM domain, a region, three DKIM
tokens and two owner labels, so each validator runs), then each run loads it in a fresh
process, so its peak RSS is its own. The child reports the import of the config module,
then the ``load_config`` call: wall and CPU seconds, peak RSS (ru_maxrss) before and
after, the RSS still held after it and a garbage collection, and held after glibc's
``malloc_trim(0)`` too (what the daemon keeps: it trims after each load). ``--root DIR``
imports the ``exporter`` package of another tree (``git archive REV exporter | tar -x -C
/tmp/old``), and runs alternate with this one's, so both see the same load on the box;
``--module FILE`` loads a config module that is one file instead
(``git show REV:exporter/config.py > /tmp/old_config.py``).

Usage: .venv/bin/python bench/config_load.py [--domains 100000] [--repeat 3]
       [--root /tmp/old] [--module /tmp/old_config.py] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import ctypes, importlib.util, json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def current_rss_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20

w0, c0 = time.perf_counter(), cpu()
if sys.argv[3]:
    spec = importlib.util.spec_from_file_location("config_under_test", sys.argv[3])
    module = importlib.util.module_from_spec(spec)
    sys.modules["config_under_test"] = module
    spec.loader.exec_module(module)
else:
    import exporter.config as module
w1, c1, rss_before = time.perf_counter(), cpu(), rss_mib()
config = module.load_config(Path(sys.argv[2]))
w2, c2 = time.perf_counter(), cpu()
import gc; gc.collect()
rss_after = current_rss_mib()
ctypes.CDLL(None).malloc_trim(0)
print(json.dumps({
    "domains": len(config.domains),
    "import_wall_s": w1 - w0, "import_cpu_s": c1 - c0,
    "load_wall_s": w2 - w1, "load_cpu_s": c2 - c1,
    "rss_before_load_mib": rss_before, "peak_rss_mib": rss_mib(),
    "rss_after_load_mib": rss_after, "rss_after_trim_mib": current_rss_mib(),
    "held_after_trim_mib": current_rss_mib() - rss_before,
}))
"""


def write_config(path: Path, domains: int) -> None:
    """One realistic table per domain: the validators of every field run."""
    regions = ("us-east-1", "eu-west-1", "ap-southeast-2")
    with path.open("w", encoding="utf-8") as out:
        out.write('[resolver]\nnameservers = ["127.0.0.1"]\n\n')
        for i in range(domains):
            name = f"d{i}.example{i % 97}.com"
            tokens = ", ".join(f'"t{i:08d}{k}abcdefghijklmnopqrstuv"' for k in range(3))
            out.write(
                f'[[domains]]\nname = "{name}"\nmail_from = "mail.{name}"\n'
                f'region = "{regions[i % 3]}"\ndkim_tokens = [{tokens}]\n'
                f'labels = {{ team = "t{i % 50}", tier = "critical" }}\n\n'
            )


def run_once(root: Path, path: Path, module: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(path), module],
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, float] = json.loads(result.stdout)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--root", type=Path, help="also run another tree's exporter package")
    parser.add_argument("--module", default="", help="a config module file to load instead")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "domains.toml"
        write_config(path, args.domains)
        size_mib = path.stat().st_size / 2**20
        roots = [ROOT] if args.root is None else [args.root, ROOT]
        runs: dict[Path, list[dict[str, float]]] = {root: [] for root in roots}
        for _ in range(args.repeat):
            for root in roots:
                runs[root].append(run_once(root, path, args.module))
    print(f"{args.domains} domains, {size_mib:.1f} MiB of TOML, Python {platform.python_version()}")
    report = {}
    for root, root_runs in runs.items():
        print(f"{root}:")
        summary = {}
        for key in root_runs[0]:
            values = [r[key] for r in root_runs]
            summary[key] = statistics.median(values)
            shown = " / ".join(f"{v:.2f}" for v in values)
            print(f"  {key:22} median {summary[key]:9.2f}   runs: {shown}")
        report[str(root)] = {"runs": root_runs, "median": summary}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
