"""Paired rounds: the ratio of two commands' wall times, robust to a machine whose speed drifts.

A virtual machine with noisy neighbours can run the same command 1.7 times slower from one
minute to the next; hyperfine times all runs of one command, then all of the next, so a slow
spell lands on one side of a ratio. Here each round runs both commands back to back (in
alternating order) and the ratio is taken within the round; the median over rounds is what
the speed targets are checked against.

    usage: python3 benchmarks/paired.py ROUNDS 'COMMAND A' 'COMMAND B'
    prints: median_ratio min_ratio max_ratio median_a median_b   (ratios are A / B)
"""

from __future__ import annotations

import shlex
import statistics
import subprocess
import sys
import time


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    rounds, a, b = int(sys.argv[1]), shlex.split(sys.argv[2]), shlex.split(sys.argv[3])
    wall(a), wall(b)  # warm the page cache
    ratios, times_a, times_b = [], [], []
    for n in range(rounds):
        if n % 2:
            tb, ta = wall(b), wall(a)
        else:
            ta, tb = wall(a), wall(b)
        ratios.append(ta / tb)
        times_a.append(ta)
        times_b.append(tb)
    print(
        f"{statistics.median(ratios):.3f} {min(ratios):.3f} {max(ratios):.3f} "
        f"{statistics.median(times_a):.3f} {statistics.median(times_b):.3f}"
    )


if __name__ == "__main__":
    main()
