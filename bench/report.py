"""The one table the benchmark prints, and the same figures as JSON under bench/results/.

A cell with a target carries it as numbers (``Target``), so the verdict is computed, never
typed: met, missed by a factor up to ``FAIL_FACTOR``, or FAILED beyond it. A FAILED cell fails
the run as a wrong answer does; a benchmark that calls 5 s against 20 ms "missed" lies.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

MET = "met"
MISSED = "missed"
ERROR = "error"
OK = "ok"
WRONG = "WRONG"
SKIPPED = "skipped"
FAILED = "FAILED"
# A cell further than this from its target fails the run: past 10x it is not a near miss.
FAIL_FACTOR = 10.0


@dataclass(frozen=True)
class Target:
    """One number a cell must reach: ``figure`` at least (``higher``) or at most ``limit``."""

    what: str
    figure: float
    limit: float
    higher: bool = False
    unit: str = "s"  # "s" (shown in ms or s), "x" (a ratio), "share", or a rate such as "req/s"

    @property
    def factor(self) -> float:
        """How many times worse than the limit the figure is; at most 1 when met."""
        figure, limit = self.figure, self.limit
        if math.isnan(figure):
            return math.inf  # nothing was measured
        if self.higher:
            return limit / figure if figure > 0 else (1.0 if limit <= 0 else math.inf)
        return figure / limit if limit > 0 else (1.0 if figure <= 0 else math.inf)

    def describe(self) -> str:
        sign = "≥" if self.higher else "≤"
        shown = self.what + " " if self.what not in self.unit else ""
        return f"{shown}{show(self.figure, self.unit)} against {sign} {show(self.limit, self.unit)}"


def show(value: float, unit: str) -> str:
    if unit == "s":
        return ms(value)
    if unit == "x":
        return f"{value:,.1f}×"
    if unit == "share":
        return f"{value * 100:.1f}%"
    return rate(value, unit.removesuffix("/s"))


def factor_text(factor: float) -> str:
    return f"{factor:.1f}x" if math.isfinite(factor) else "∞x"


def judged(targets: Iterable[Target]) -> str:
    """met, missed (within ``FAIL_FACTOR``) or FAILED: the status of a cell with targets."""
    worst = max((t.factor for t in targets), default=1.0)
    if worst <= 1.0:
        return MET
    return MISSED if worst <= FAIL_FACTOR else FAILED


@dataclass(frozen=True)
class Row:
    """One line of the table: the figure, its baselines (naive and numpy), its target."""

    section: str
    measure: str
    value: str
    naive: str = ""
    floor: str = ""
    target: str = ""
    status: str = ""
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    targets: tuple[Target, ...] = ()

    @property
    def factor(self) -> float | None:
        """The worst target's factor, None for a cell without targets."""
        return max((t.factor for t in self.targets), default=None)

    @property
    def failed(self) -> bool:
        factor = self.factor
        return factor is not None and factor > FAIL_FACTOR

    def verdict(self) -> str:
        """The status as the table shows it: ``missed (3.9x)``, ``FAILED (250.0x)``, ``met``."""
        factor = self.factor
        if factor is not None and self.status in (MISSED, FAILED):
            return f"{self.status} ({factor_text(factor)})"
        return self.status

    def failure(self) -> str:
        """What a FAILED cell missed: the cell, its worst target and the figure."""
        worst = max(self.targets, key=lambda t: t.factor)
        target = f" (target: {self.target})" if self.target else ""
        return (
            f"{self.section} / {self.measure}: {worst.describe()},"
            f" {factor_text(worst.factor)} off{target}"
        )


@dataclass(frozen=True)
class Check:
    """One answer compared with numpy's (or one invariant such as "the re-run wrote nothing")."""

    what: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    scale: str
    options: dict[str, Any]
    kind: str = ""  # "" for the bulk-loaded store, "grown" for the store grown day by day
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    rows: list[Row] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(what, ok, detail))
        return ok

    def error(self, section: str, measure: str, message: str) -> None:
        self.errors.append(f"{section} / {measure}: {message}")
        self.rows.append(Row(section, measure, "—", status=ERROR, note=message[:300]))

    @property
    def wrong(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def failed(self) -> list[Row]:
        """Cells that missed a target by more than ``FAIL_FACTOR``: they fail the run."""
        return [r for r in self.rows if r.failed]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.wrong and not self.failed

    @property
    def name(self) -> str:
        return f"{self.scale}-{self.kind}" if self.kind else self.scale

    @property
    def title(self) -> str:
        store = f" ({self.kind} store)" if self.kind else ""
        return f"Downline benchmark{store}, scale {self.scale}, {self.started:%Y-%m-%d}"

    def to_json(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "kind": self.kind or "bulk",
            "started": self.started.isoformat(),
            "finished": datetime.now(UTC).isoformat(),
            "machine": machine(),
            "options": self.options,
            "ok": self.ok,
            "rows": [asdict(r) for r in self.rows],
            "checks": [asdict(c) for c in self.checks],
            "errors": self.errors,
            "failed": [r.failure() for r in self.failed],
        }

    def write(self, directory: Path) -> Path:
        """``<date>-<scale>[-<kind>].json`` and the Markdown table beside it as ``.md``."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.started.date().isoformat()}-{self.name}.json"
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")
        path.with_suffix(".md").write_text(self.markdown())
        return path

    def markdown(self) -> str:
        """The same table in Markdown, for the README."""
        head = ["section", "measure", "value", "naive", "numpy floor", "target", "status"]
        lines = [
            f"{self.title} ({_options_text(self.options)})",
            "",
            "| " + " | ".join(head) + " |",
            "|" + " --- |" * len(head),
        ]
        for r in self.rows:
            verdict = " ".join(x for x in (r.verdict(), f"({r.note})" if r.note else "") if x)
            cells = (r.section, r.measure, r.value, r.naive, r.floor, r.target, verdict)
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        right = sum(1 for c in self.checks if c.ok)
        lines += ["", f"Answers checked against numpy: {right} right, {len(self.wrong)} wrong."]
        if self.failed:
            lines += ["", f"Cells missed by more than {FAIL_FACTOR:.0f}x (the run fails):", ""]
            lines += [f"- {r.failure()}" for r in self.failed]
        return "\n".join(lines) + "\n"

    def render(self, console: Console) -> None:
        table = Table(title=self.title, show_lines=False)
        for name in ("section", "measure", "value", "naive", "numpy floor", "target", "status"):
            table.add_column(name, overflow="fold")
        section = None
        for r in self.rows:
            if section is not None and r.section != section:
                table.add_section()
            label = r.section if r.section != section else ""
            section = r.section
            status = r.verdict() + (f" ({r.note})" if r.note else "")
            style = {MISSED: "yellow", ERROR: "red", WRONG: "red", FAILED: "red"}.get(r.status, "")
            table.add_row(
                label, r.measure, r.value, r.naive, r.floor, r.target, status, style=style
            )
        console.print(table)
        right = sum(1 for c in self.checks if c.ok)
        console.print(f"answers checked against numpy: {right} right, {len(self.wrong)} wrong")
        for c in self.wrong:
            console.print(f"[red]WRONG[/] {c.what}: {c.detail}", highlight=False)
        for e in self.errors:
            console.print(f"[red]error[/] {e}", highlight=False)
        for r in self.failed:
            console.print(f"[red]FAILED[/] {escape(r.failure())}", highlight=False)


def _options_text(options: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in options.items())


def machine() -> dict[str, Any]:
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_bytes": memory,
        "cpu": cpu,
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
    }


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank, so p99 is a latency somebody really saw."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def ms(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "—"
    value = seconds * 1000
    if value < 0.1:
        return f"{value * 1000:.0f} µs"
    if value < 10:
        return f"{value:.2f} ms"
    if value < 10_000:
        return f"{value:.0f} ms"
    return f"{seconds:.0f} s"


def rate(per_second: float, unit: str) -> str:
    return f"{per_second:,.0f} {unit}/s"


def size(n_bytes: int) -> str:
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    value = float(n_bytes)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            return f"{value:,.1f} {unit}" if unit != "B" else f"{n_bytes} B"
        value /= 1024
    return f"{n_bytes} B"
