"""The README's benchmark tables, generated from the results JSON so the two cannot disagree.

``python -m bench.readme`` rewrites what lies between the two marker comments in README.md from
the newest bulk results (the largest scale of the latest day: the README headlines the biggest
run) and, when there are any, the newest write-path (``--write-path``) and grown-store results;
``--check`` only compares and exits 1 when README.md is not what the results say
(tests/bench/test_readme.py runs it).

Cells that vary only by window (``subtreeRevenue``), by metric (``topInfluencers``) or by day
(the grown store) are folded into one line with the range of their figures and the worst
verdict. Results written before cells carried their targets are judged here by the same rules
run.py applies now (``legacy_targets``).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import scales
from bench.report import (
    ERROR,
    FAIL_FACTOR,
    FAILED,
    MET,
    MISSED,
    OK,
    SKIPPED,
    WRONG,
    Row,
    Target,
    factor_text,
    judged,
    ms,
    rate,
)
from bench.scales import ROOT

README = ROOT / "README.md"
RESULTS = ROOT / "bench" / "results"
BEGIN = "<!-- bench-table:begin (python -m bench.readme writes this from bench/results/) -->"
END = "<!-- bench-table:end -->"
NOTE_CHARS = 100


@dataclass(frozen=True)
class Results:
    path: Path
    data: dict[str, Any]
    rows: list[Row]

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", "bulk"))

    @property
    def day(self) -> str:
        return str(self.data["started"])[:10]

    @property
    def members(self) -> int:
        return int(self.data.get("options", {}).get("members", 0))

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.failed]


def legacy_targets(row: dict[str, Any]) -> tuple[Target, ...]:
    """The targets of a row written before rows carried them, from its figures."""
    section, measure, data = row["section"], row["measure"], row.get("data", {})
    if section == "import" and "rows_per_s" in data:
        return (Target("rows/s", data["rows_per_s"], scales.IMPORT_ROWS_S, True, "rows/s"),)
    if section == "settlement" and "orders_per_s" in data:
        limit = (
            scales.SETTLE_FIRST_ORDERS_S
            if measure.startswith("first run")
            else scales.SETTLE_RERUN_ORDERS_S
        )
        return (Target("orders/s", data["orders_per_s"], limit, True, "orders/s"),)
    if section == "rollups" and "seconds" in data:
        return (Target("refresh", data["seconds"], scales.REFRESH_S),)
    if section == "subtreeRevenue" and measure.endswith("· server") and "p99_s" in data:
        targets = [Target("p99", data["p99_s"], scales.SUBTREE_P99_S)]
        if measure.startswith("largest") and "maxDepth" not in measure:
            naive = data.get("naive_p50_s")
            speedup = math.inf if naive is None or not data["p50_s"] else naive / data["p50_s"]
            targets.append(Target("speed-up over naive", speedup, scales.NAIVE_SPEEDUP, True, "x"))
        return tuple(targets)
    if section == "topInfluencers" and measure.endswith("· server") and "p99_s" in data:
        return (Target("p99", data["p99_s"], scales.TOP_SERVE_S),)
    if section == "GraphQL throughput" and "requests" in data:
        return scales.throughput_targets(
            data["clients"], data["requests"], data["errors"], data["per_s"], data["p99_s"]
        )
    return ()


def load(path: Path) -> Results:
    data = json.loads(path.read_text())
    rows: list[Row] = []
    for r in data["rows"]:
        stored = r.get("targets")
        targets = tuple(Target(**t) for t in stored) if stored is not None else legacy_targets(r)
        status = r["status"]
        if stored is None and targets and status in ("", OK, MET, MISSED):
            status = judged(targets)
        rows.append(
            Row(
                section=r["section"],
                measure=r["measure"],
                value=r["value"],
                naive=r.get("naive", ""),
                floor=r.get("floor", ""),
                target=r.get("target", ""),
                status=status,
                note=r.get("note", ""),
                data=r.get("data", {}),
                targets=targets,
            )
        )
    return Results(path, data, rows)


def newest(directory: Path, kind: str) -> Results | None:
    """The latest day's results of this kind; of one day's, the largest scale."""
    # Benchmark runs have rows; other results (the crash drills) have their own report.
    paths = sorted(directory.glob("*.json"))
    found = [load(p) for p in paths if "rows" in json.loads(p.read_text())]
    mine = [r for r in found if r.kind == kind]
    return max(mine, key=lambda r: (r.day, r.members, r.path.name), default=None)


# -- folding cells into lines --------------------------------------------------------------


def _key(row: Row) -> tuple[str, ...]:
    parts = row.measure.split(" · ")
    if row.section.startswith("day "):
        return ("days", row.measure, row.target)
    if row.section == "subtreeRevenue" and len(parts) == 3:
        return (row.section, parts[0].split(" (")[0], parts[2], row.target)
    if row.section == "topInfluencers" and len(parts) == 3:
        return (row.section, parts[1], parts[2], row.target)
    return (row.section, row.measure, row.target)


def _what(rows: list[Row]) -> str:
    first = rows[0]
    parts = first.measure.split(" · ")
    if first.section.startswith("day "):
        days = [int(r.section.split()[1]) for r in rows]
        span = f"day {days[0]}" if len(days) == 1 else f"days {min(days)}–{max(days)}"
        return f"{span}: {first.measure}"
    if first.section == "subtreeRevenue" and len(parts) == 3 and len(rows) > 1:
        return f"`subtreeRevenue`, {parts[0]} · {parts[2]}, {len(rows)} windows"
    if first.section == "topInfluencers" and len(parts) == 3 and len(rows) > 1:
        return f"`topInfluencers`, {len(rows)} metrics · {parts[1]} · {parts[2]}"
    return f"{first.section}: {first.measure}"


def _span(values: Iterable[float], show: Callable[[float], str]) -> str:
    listed = [v for v in values if v == v]  # no NaN
    if not listed:
        return "—"
    low, high = show(min(listed)), show(max(listed))
    return low if low == high else f"{low}–{high}"


def _rate(value: float, unit: str) -> str:
    return rate(value, unit)


def _measured(rows: list[Row]) -> str:
    if len(rows) == 1:
        r = rows[0]
        note = f" ({r.note})" if r.note and len(r.note) <= NOTE_CHARS else ""
        return r.value + note
    data = [r.data for r in rows]
    if all("p99_s" in d and "p50_s" in d for d in data):
        text = (
            f"p50 {_span((d['p50_s'] for d in data), ms)},"
            f" p99 {_span((d['p99_s'] for d in data), ms)}"
        )
        naive = [d.get("naive_p50_s") for d in data]
        if all(n is not None for n in naive):
            text += f"; naive p50 {_span((float(n) for n in naive if n is not None), ms)}"
        errors = sum(int(d.get("errors", 0)) for d in data)
        return text + (f", {errors} errors" if errors else "")
    for key, unit in (("orders_per_s", "orders"), ("rows_per_s", "rows"), ("per_s", "req")):
        if all(key in d for d in data):
            return _span((float(d[key]) for d in data), functools.partial(_rate, unit=unit))
    if all("seconds" in d for d in data):
        return _span((float(d["seconds"]) for d in data), lambda v: f"{v:.1f} s")
    return "; ".join(r.value for r in rows)


def _verdict(rows: list[Row]) -> str:
    statuses = {r.status for r in rows}
    for bad in (WRONG, ERROR, SKIPPED):
        if bad in statuses:
            n = sum(r.status == bad for r in rows)
            return bad if len(rows) == 1 else f"{bad} on {n} of {len(rows)}"
    judged_rows = [r for r in rows if r.targets]
    if not judged_rows:
        return OK if OK in statuses else ""
    failed = [r for r in judged_rows if r.status == FAILED or r.failed]
    missed = [r for r in judged_rows if r.status == MISSED and not r.failed]
    of = f" on {{n}} of {len(judged_rows)}" if len(judged_rows) > 1 else ""
    if failed:
        worst = max(r.factor or 0.0 for r in failed)
        also = f", {MISSED} on {len(missed)}" if missed else ""
        return f"{FAILED} ({factor_text(worst)})" + of.format(n=len(failed)) + also
    if missed:
        text = _span((r.factor or 0.0 for r in missed), lambda v: factor_text(v).rstrip("x"))
        return f"{MISSED} ({text}x)" + of.format(n=len(missed))
    return MET


def lines(rows: list[Row]) -> list[tuple[str, str, str, str]]:
    """(what, measured, target, verdict), in the order the cells were measured."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for r in rows:
        if r.section == "data":
            continue  # the heading says what the network was
        groups.setdefault(_key(r), []).append(r)
    return [(_what(g), _measured(g), g[0].target, _verdict(g)) for g in groups.values()]


def _table(results: Results) -> list[str]:
    scale = results.data["scale"]
    out = [
        f"| what | measured ({scale}) | target | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for cells in lines(results.rows):
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return out


def _heading(results: Results) -> str:
    d = results.data
    o = d.get("options", {})
    started = datetime.fromisoformat(d["started"])
    finished = datetime.fromisoformat(d["finished"])
    minutes = round((finished - started).total_seconds() / 60)
    checks = d.get("checks", [])
    right = sum(1 for c in checks if c["ok"])
    workers = str(o.get("workers", "1"))
    api = f"{workers} API worker{'s' if workers != '1' else ''}"
    where = f"{d['machine']['cores']} cores" if d.get("machine") else "the bench machine"
    failed = len(results.failed)
    memory = "".join(
        f"{name} {o[key]}, "
        for key, name in (("heap", "heap"), ("pagecache", "page cache"))
        if key in o
    )
    store = {
        "grown": f"Grown store ({o.get('days')} days replayed through transactions,"
        f" {o.get('mutations_per_day')} GraphQL mutations a day)",
        "write": "Write path only (import, settlement, rollups; `--write-path`)",
    }.get(results.kind, "Latest run")
    return textwrap.fill(
        f"{store}: **{results.day}, SCALE={d['scale']}** ({int(o.get('members', 0)):,} members,"
        f" {int(o.get('orders', 0)):,} orders; {memory}{api}) on {where},"
        f" {started:%H:%M}–{finished:%H:%M} UTC"
        f" ({minutes} min): {right} answers right, {len(checks) - right} wrong,"
        f" {len(d.get('errors', []))} errors, {failed} cell{'s' if failed != 1 else ''} missed"
        f" by more than {FAIL_FACTOR:.0f}x. Full table:"
        f" `bench/results/{results.path.with_suffix('.md').name}`.",
        width=100,
        break_on_hyphens=False,
    )


def block(directory: Path = RESULTS) -> str:
    """What goes between the markers: the bulk table, then the write path's and the grown
    store's if there are any."""
    out: list[str] = []
    for kind in ("bulk", "write", "grown"):
        found = newest(directory, kind)
        if found is None:
            continue
        if out:
            out.append("")
        out += [_heading(found), "", *_table(found)]
    if not out:
        out = ["No benchmark results yet: run `make bench SCALE=100k`."]
    return "\n".join(out)


def rewrite(readme: str, generated: str) -> str:
    """The README with the text between the markers replaced."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise ValueError(f"README.md must hold the markers {BEGIN!r} and {END!r} once each")
    head, rest = readme.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{generated}\n{END}{tail}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.readme", description=__doc__)
    parser.add_argument("--check", action="store_true", help="Only compare; exit 1 on a change.")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    text = args.readme.read_text()
    wanted = rewrite(text, block(args.results_dir))
    if args.check:
        if wanted != text:
            print(
                f"{args.readme}: the benchmark table differs from {args.results_dir};"
                " run python -m bench.readme",
                file=sys.stderr,
            )
            return 1
        return 0
    if wanted != text:
        args.readme.write_text(wanted)
        print(f"rewrote the benchmark table in {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
