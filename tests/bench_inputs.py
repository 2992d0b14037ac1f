"""Hostile inputs on the command line: how fast `ceremony verify-ksr` refuses a device, a FIFO and
a huge sparse file, and how much memory the process needs for it (issue 10 point 4).

Figures: wall time of the whole process (interpreter start included) and its peak resident set,
next to the same process refusing a plain missing file, so what the refusal itself costs shows.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from tests.bench_verify import _command


def _run(argv: list[str]) -> tuple[float, int, int]:
    """(seconds, peak RSS in KiB, exit code) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss, process.returncode


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-inputs-") as folder:
        fifo = Path(folder) / "request.xml"
        os.mkfifo(fifo)
        sparse = Path(folder) / "huge.xml"
        with open(sparse, "wb") as stream:
            stream.truncate(1 << 40)  # 1 TiB, sparse
        cases = {"a missing file": Path(folder) / "none.xml", "/dev/zero": "/dev/zero", "a FIFO": fifo,
                 "a 1 TiB sparse file": sparse}
        for label, path in cases.items():
            runs = [_run([*_command(), "verify-ksr", str(path)]) for _ in range(3)]
            best = min(seconds for seconds, _, _ in runs)
            peak = max(rss for _, rss, _ in runs)
            codes = sorted({code for _, _, code in runs})
            print(f"  verify-ksr {label}: best {best * 1000:.0f} ms, peak RSS {peak / 1024:.1f} MiB, exit {codes}",
                  flush=True)


if __name__ == "__main__":
    main()
