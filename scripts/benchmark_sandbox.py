"""What the sandbox costs per notebook: grading the same notebooks with and without it.

    .venv/bin/python scripts/benchmark_sandbox.py [--repeats 3]

First the bare cost: starting a kernel and running one empty cell, sandboxed and not. Then, for
every lesson in solutions/ (its solution as the submission), grades it alternately sandboxed and
unsandboxed and prints the median seconds of each and the difference per notebook. The harness's
benchmark can call `sandbox_cost(...)` and `kernel_start_cost(...)` for the same figures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from autograder.engine import grade_notebook
from autograder.sandbox.kernels import Limits, SandboxedKernel
from mlcourse.lessons import lesson_names as lessons

ROOT = Path(__file__).resolve().parents[1]


def sandbox_cost(source: Path, submitted: bytes, repeats: int = 3) -> dict[str, float]:
    """Median seconds to grade `submitted` with and without the sandbox, and their difference."""
    seconds: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        # Untimed: the grader's own first imports (the setup cell run here) would weigh on
        # whichever ran first.
        grade_notebook(source, submitted, student="benchmark", scratch=Path(tmp) / "warm-up",
                       sandbox=False)
        for run in range(repeats):
            for sandbox in (True, False):  # alternated, so a busy machine weighs on both alike
                start = time.perf_counter()
                result = grade_notebook(source, submitted, student="benchmark",
                                        scratch=Path(tmp) / f"{run}-{sandbox}", sandbox=sandbox)
                seconds[sandbox].append(time.perf_counter() - start)
                assert result.score == result.max_score, f"{source.name}: {result.problems}"
    sandboxed, plain = statistics.median(seconds[True]), statistics.median(seconds[False])
    return {"sandboxed": sandboxed, "unsandboxed": plain, "extra": sandboxed - plain}


def kernel_start_cost(repeats: int = 10) -> dict[str, float]:
    """Median seconds to start a kernel and run one empty cell, with and without the sandbox."""
    seconds: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(repeats):
            for sandbox in (True, False):
                start = time.perf_counter()
                kernel = SandboxedKernel(Path(tmp) / f"{run}-{sandbox}", Limits(), sandbox)
                kernel.start()
                kernel.request({"op": "run", "source": "pass"}, 30)
                kernel.stop()
                seconds[sandbox].append(time.perf_counter() - start)
    sandboxed, plain = statistics.median(seconds[True]), statistics.median(seconds[False])
    return {"sandboxed": sandboxed, "unsandboxed": plain, "extra": sandboxed - plain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    start = kernel_start_cost(5 * repeats)
    print(f"kernel start + one cell: {start['sandboxed']:.3f} s sandboxed, "
          f"{start['unsandboxed']:.3f} s plain, "
          f"{start['extra']:+.3f} s for the sandbox")
    print(f"{'notebook':40} {'sandboxed s':>12} {'plain s':>9} {'extra s':>8} {'ratio':>6}")
    for lesson in lessons(ROOT):
        source = ROOT / "solutions" / lesson / f"{lesson}.ipynb"
        # the solution, graded as a submission
        cost = sandbox_cost(source, source.read_bytes(), repeats)
        print(f"{lesson:40} {cost['sandboxed']:12.2f} {cost['unsandboxed']:9.2f} "
              f"{cost['extra']:8.2f} "
              f"{cost['sandboxed'] / cost['unsandboxed']:6.2f}")


if __name__ == "__main__":
    main()
