"""CPU pinning and /proc readings for the DNS benchmarks (named on one core, clients on another).

On a shared box wall clock moves 2-3x from run to run while CPU per unit of work moves ~15 %,
so the benchmarks pin the server and the measured client to different cores (neither steals
the other's core) and report CPU, read from ``/proc``, with the load average around each run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuPlan", "load_average", "pin_all_threads", "plan", "process_cpu_s"]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuPlan:
    """Which cores the server and the clients get; empty sets: not pinned (see ``note``)."""

    server: frozenset[int]
    client: frozenset[int]
    note: str

    @property
    def pinned(self) -> bool:
        return bool(self.server and self.client)

    def pin_client(self) -> None:
        """For ``subprocess``'s ``preexec_fn``: the child and everything it starts run on the
        client core (affinity is inherited across fork and exec)."""
        if self.client:
            os.sched_setaffinity(0, self.client)


def plan() -> CpuPlan:
    """The server on the first core this process may use, the clients on the second; with
    one core (or an affinity call refused, e.g. by a container's cpuset) nothing is pinned."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except OSError as error:
        return CpuPlan(frozenset(), frozenset(), f"not pinned: sched_getaffinity failed ({error})")
    if len(cores) < 2:  # a server core and a client core
        return CpuPlan(frozenset(), frozenset(), f"not pinned: only {len(cores)} usable core")
    server, client = frozenset(cores[:1]), frozenset(cores[1:2])
    return CpuPlan(server, client, f"named pinned to CPU {cores[0]}, clients to CPU {cores[1]}")


def pin_all_threads(pid: int, cores: frozenset[int]) -> str | None:
    """Pin every thread of ``pid`` (``sched_setaffinity`` on a pid moves one thread only;
    threads started later inherit it). Returns why it failed, or None."""
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), cores)
    except OSError as error:
        return f"pinning {pid} failed: {error}"
    return None


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of every thread of ``pid`` so far (``/proc/<pid>/stat``)."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces; fields 3 and on
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()
