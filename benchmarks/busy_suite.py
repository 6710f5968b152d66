"""Run the test suite several times in a row while other processes burn every core.

The tests wait on the app's own state, never on time, so they must pass on a machine that is
busy with other work. This makes the machine busy on purpose and says how the runs went:

    .venv/bin/python benchmarks/busy_suite.py                  # the whole suite, 3 times, 2 burners
    .venv/bin/python benchmarks/busy_suite.py --runs 2 -- -m browser -x

Arguments after ``--`` go to pytest. Only the burners this script started are stopped.
"""
import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BURN = "while True: pass"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="suite runs in a row (default 3)")
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2,
                        help="CPU-burning processes beside the tests (default: one per core)")
    args, pytest_args = parser.parse_known_args(argv)
    pytest_args = [a for a in pytest_args if a != "--"]
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(args.burners)]
    results = []
    try:
        for run in range(1, args.runs + 1):
            t0 = time.monotonic()
            # each run its own Playwright output folder: pytest-playwright empties it when it starts
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                       "--output", f"test-results/busy-run-{run}", *pytest_args]
            proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            seconds = time.monotonic() - t0
            summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
            failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.M)
            results.append((run, proc.returncode, seconds, summary, failed))
            print(f"run {run}: exit {proc.returncode} in {seconds:.0f} s: {summary}", flush=True)
            for name in failed:
                print(f"    {name}", flush=True)
            if proc.returncode:  # pytest's whole report, for the failures' details
                log = ROOT / "test-results" / f"busy-run-{run}.log"
                log.parent.mkdir(exist_ok=True)
                log.write_text(proc.stdout + proc.stderr)
                print(f"    details: {log.relative_to(ROOT)}", flush=True)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    print(f"{sum(code == 0 for _, code, *_ in results)} of {len(results)} runs passed "
          f"with {args.burners} burners beside them")
    return 0 if all(code == 0 for _, code, *_ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
