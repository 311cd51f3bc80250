"""Heavy steps run in a child process, so the bench can bound them in time and kill them.

``python -m bench.tasks settle --until T``, ``python -m bench.tasks preview --until T [--plan F]``
or ``python -m bench.tasks refresh`` runs the same graph function the CLI runs, times it
in-process (no interpreter start-up in the figure) and prints one JSON line, with the
process's peak resident memory (``peak_rss_bytes``, its ``VmHWM``: the client side of the step,
which for the refresh holds the tree and the orders in numpy). Connection settings come from the
environment, as for ``downline``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from bench.servers import vm_hwm
from contract.money import parse_timestamp
from contract.settings import Settings
from graph.db import connect, connect_async
from graph.preview import parse_plan, preview
from graph.rollups import refresh
from graph.settlement import settle


def step_seconds(started: float, ended: float, marks: list[tuple[float, str]]) -> dict[str, float]:
    """Where a run's time went, from its progress messages: "prepare" up to the first (the
    statistics, the pending count, the run record and lock), each step up to its "done", and
    "finish" after the last (totals, lock release, the statistics again)."""
    out: dict[str, float] = {}
    last = started
    for at, message in marks:
        if message.endswith(" done"):
            out[message.rsplit(" ", 2)[-2]] = at - last
        elif "settling" in message:
            out["prepare"] = at - last
        else:
            continue
        last = at
    out["finish"] = ended - last
    return out


def run_settle(until: str) -> dict[str, Any]:
    config = Settings.from_env()
    cutoff = parse_timestamp(until)
    marks: list[tuple[float, str]] = []

    def mark(message: str) -> None:
        marks.append((time.perf_counter(), message))

    with connect(config) as driver:
        started = time.perf_counter()
        outcome = settle(
            driver,
            cutoff=cutoff,
            database=config.neo4j_database,
            batch=config.settle_batch,
            parallel=config.settle_concurrency,
            progress=mark,
        )
        seconds = time.perf_counter() - started
    run = outcome.run
    return {
        "seconds": seconds,
        "steps": step_seconds(started, started + seconds, marks),
        "pending": outcome.pending_orders,
        "run": None
        if run is None
        else {
            "id": run.id,
            "status": run.status,
            "orders_settled": run.orders_settled,
            "orders_reversed": run.orders_reversed,
            "payouts": run.payouts,
            "paid": run.paid,
            "pool": run.pool,
            "retained": run.retained,
        },
    }


def run_refresh() -> dict[str, Any]:
    config = Settings.from_env()
    with connect(config) as driver:
        started = time.perf_counter()
        report = refresh(driver, config.neo4j_database)
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "members": report.members,
        "orders": report.orders,
        "checkpoints": report.checkpoints,
        "days": report.days,
    }


def run_preview(until: str, plan: str | None) -> dict[str, Any]:
    """``settle --preview``: what a run at ``until`` would pay (or, with ``plan``, a TOML file,
    what that candidate would have paid for the orders already settled), timed in-process."""
    config = Settings.from_env()
    cutoff = parse_timestamp(until)
    candidate = None if plan is None else parse_plan(Path(plan).read_text(encoding="utf-8"))

    async def go() -> dict[str, Any]:
        async with connect_async(config) as driver:
            started = time.perf_counter()
            found = await preview(
                driver, cutoff=cutoff, plan=candidate, database=config.neo4j_database
            )
            seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "orders": found.orders,
            "orders_reversed": found.orders_reversed,
            "paid": found.paid,
            "retained": found.retained,
        }

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tasks")
    sub = parser.add_subparsers(dest="task", required=True)
    settle_parser = sub.add_parser("settle")
    settle_parser.add_argument("--until", required=True)
    sub.add_parser("refresh")
    preview_parser = sub.add_parser("preview")
    preview_parser.add_argument("--until", required=True)
    preview_parser.add_argument("--plan")
    args = parser.parse_args()
    if args.task == "preview":
        result = run_preview(args.until, args.plan)
    else:
        result = run_settle(args.until) if args.task == "settle" else run_refresh()
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over exec from the forked
    # parent, so a child of the bench (which holds the whole network in numpy) would report the
    # bench's size (3.5 GiB at 1M for both the settlement and the refresh, 2026-12-04).
    result["peak_rss_bytes"] = vm_hwm(os.getpid())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
