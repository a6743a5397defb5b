"""Benchmarks of the ai-connect bridge over the real protocol (issue 2, point 11).

    python bench/run.py [latency|throughput|broadcast|register|all]
                        [--store sqlite|memory] [--synchronous FULL|NORMAL]
                        [--quick] [--markdown] [--profile DIR]

Each benchmark starts its own bridge process (``python -m ai_connect bridge --port 0``
on 127.0.0.1, fresh database) and drives it from this process with a lean protocol-v1
load generator (bench/wire.py). Every run is bounded in messages and in time. See
bench/README.md for the definitions and bench/RESULTS.md for recorded figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import BridgeOptions, raise_nofile
from profiling import summarise
from scenarios import Row, broadcast, latency, register, throughput

BENCHMARKS = ("latency", "throughput", "broadcast", "register")
TIME_LIMIT_S = {"latency": 180, "throughput": 300, "broadcast": 300, "register": 600}

Job = tuple[str, str, Callable[[], Coroutine[Any, Any, list[Row]]]]


def plan(name: str, options: BridgeOptions, quick: bool) -> list[Job]:
    """The runs of one benchmark: (benchmark, profile label, coroutine factory)."""
    if name == "latency":
        samples, warm = (300, 50) if quick else (2000, 200)
        return [(name, "latency", lambda: latency(options, samples, warm))]
    if name == "throughput":
        one, ten = (3000, 500) if quick else (30_000, 5000)
        return [
            (name, "throughput-1x1", lambda: throughput(options, 1, one)),
            (name, "throughput-10x10", lambda: throughput(options, 10, ten)),
        ]
    if name == "broadcast":
        rounds = 5 if quick else 20
        return [
            (name, "broadcast-50", lambda: broadcast(options, 50, rounds)),
            (name, "broadcast-1000", lambda: broadcast(options, 1000, rounds)),
        ]
    sizes = (200, 1000) if quick else (1000, 10_000)
    return [(name, f"register-{n}", lambda n=n: register(options, n)) for n in sizes]


def table(rows: list[Row], markdown: bool) -> str:
    head = ("benchmark", "figure", "value", "target", "original", "")
    body = [
        (
            r.bench,
            r.figure,
            r.shown(),
            r.target,
            r.original,
            "" if r.ok is None else ("met" if r.ok else "MISSED"),
        )
        for r in rows
    ]
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(line) + " |" for line in body]
        return "\n".join(out)
    widths = [max(len(str(line[i])) for line in [head, *body]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'>' if i == 2 else '<'}{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*line).rstrip() for line in [head, *body])


async def run(jobs: list[Job], profile_dir: Path | None) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    failures: list[str] = []
    for bench, label, factory in jobs:
        print(f"… {label}", file=sys.stderr, flush=True)
        try:
            got = await asyncio.wait_for(factory(), TIME_LIMIT_S[bench])
        except Exception as exc:  # one failed benchmark must not hide the others' figures
            failures.append(f"{label}: {type(exc).__name__}: {exc}")
            print(f"  FAILED: {exc}", file=sys.stderr, flush=True)
            continue
        rows += got
        print(table(got, markdown=False), file=sys.stderr, flush=True)
        if profile_dir is not None:
            print(summarise(profile_dir / f"{label}.txt"), file=sys.stderr, flush=True)
    return rows, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", nargs="?", default="all", choices=[*BENCHMARKS, "all"])
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "memory"])
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    parser.add_argument("--quick", action="store_true", help="small counts: a sanity run")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="record the bridge with py-spy into DIR"
    )
    args = parser.parse_args(argv)
    limit = raise_nofile()
    options = BridgeOptions(
        store=args.store,
        synchronous=args.synchronous,
        profile_dir=args.profile.resolve() if args.profile else None,
    )
    names = BENCHMARKS if args.benchmark == "all" else (args.benchmark,)
    jobs = [job for name in names for job in plan(name, options, args.quick)]
    rows, failures = asyncio.run(run(jobs, options.profile_dir))
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    load = os.getloadavg()
    print(
        f"\nai-connect bridge benchmarks, {stamp}; store: {options.describe()}; "
        f"{os.cpu_count()} CPUs; load average {load[0]:.2f}; "
        f"Python {platform.python_version()}; open-file limit {limit}"
        + ("; QUICK (small counts)" if args.quick else "")
    )
    print(table(rows, args.markdown))
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
