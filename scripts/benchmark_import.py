"""Print how long `import mlcourse` takes in a fresh interpreter (median of 5), against
`import numpy`."""

import statistics
import subprocess
import sys

PROBE = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"


def seconds(module: str, runs: int = 5) -> float:
    out = [float(subprocess.run([sys.executable, "-c", PROBE.format(module)], capture_output=True,
                                text=True, check=True).stdout) for _ in range(runs)]
    return statistics.median(out)


if __name__ == "__main__":
    library, numpy = seconds("mlcourse"), seconds("numpy")
    print(f"import mlcourse: {library:.3f} s "
          f"(import numpy alone: {numpy:.3f} s, ratio {library / numpy:.2f})")
