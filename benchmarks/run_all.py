"""Run every benchmark of this folder in turn (``make bench``).

Each ``bench_*.py`` prints its own table (medians and ratios measured in the same run); the
figures recorded in ``docs/performance.md`` come from these scripts, with the command beside each.

Usage::

    python benchmarks/run_all.py            # full sizes
    python benchmarks/run_all.py --quick    # small sizes, a smoke run
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument("--only", default=None, help="run only bench_NAME.py (e.g. core, scan, nn)")
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parent
    scripts = sorted(here.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem == f"bench_{args.only}"]
        if not scripts:
            print(f"run_all: error: no benchmark bench_{args.only}.py", file=sys.stderr)
            return 2
    status = 0
    for script in scripts:
        cmd = [sys.executable, str(script)] + (["--quick"] if args.quick else [])
        print(f"\n$ {' '.join(cmd[1:])}", flush=True)
        rc = subprocess.call(cmd)
        status = status or rc
    return status


if __name__ == "__main__":
    sys.exit(main())
