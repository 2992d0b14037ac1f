"""`make bench`: runs main() of every tests/bench_*.py module, in name order, and prints figures.

Benchmarks are separate from the tests: they measure, they do not pass or fail on a time. A
module joins by being named bench_<room>.py and defining main(); `python -m tests.bench verify`
runs only the modules whose name contains "verify". Helpers here keep the figures uniform.
"""

from __future__ import annotations

import importlib
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path


def measure(label: str, action: Callable[[], object], repeat: int = 5, per: int = 1, unit: str = "") -> list[float]:
    """Run `action` `repeat` times; print best and median seconds (and a rate when `per` items each)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    best, median = min(times), statistics.median(times)
    line = f"  {label}: best {best * 1000:.1f} ms, median {median * 1000:.1f} ms over {repeat} runs"
    if per > 1:
        line += f" ({per / median:,.0f} {unit or 'items'}/s at the median)"
    print(line, flush=True)
    return times


def against_floor(label: str, action: Callable[[], object], floor_label: str, floor: Callable[[], object],
                  repeat: int = 15, goal: float | None = None) -> float:
    """Time `action` and its `floor` (the least any program doing the same work could take), each
    starting child processes, alternately so that both see the same machine load. Prints wall time
    and the children's CPU time (user + system: steadier on a shared machine) for both, and the
    ratio of the medians; returns the wall-time ratio."""
    wall: dict[str, list[float]] = {label: [], floor_label: []}
    cpu: dict[str, list[float]] = {label: [], floor_label: []}
    for _ in range(repeat):
        for name, run in ((label, action), (floor_label, floor)):
            before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            run()
            wall[name].append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    for name in wall:
        print(f"  {name}: wall best {min(wall[name]) * 1000:.1f} ms, median {statistics.median(wall[name]) * 1000:.1f} ms;"
              f" CPU median {statistics.median(cpu[name]) * 1000:.1f} ms; over {repeat} runs", flush=True)
    ratio = statistics.median(wall[label]) / statistics.median(wall[floor_label])
    cpu_ratio = statistics.median(cpu[label]) / statistics.median(cpu[floor_label])
    verdict = "" if goal is None else f"; goal <= {goal}: {'met' if ratio <= goal else 'NOT met'}"
    print(f"  ratio to the floor (medians): wall {ratio:.2f}, CPU {cpu_ratio:.2f}{verdict}", flush=True)
    return ratio


def modules(filters: list[str]) -> list[str]:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    return [n for n in names if not filters or any(f in n for f in filters)]


def main(argv: list[str]) -> int:
    failed = []
    for name in modules(argv):
        print(f"== {name}", flush=True)
        try:
            importlib.import_module(f"tests.{name}").main()
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
