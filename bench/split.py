"""A demo network cut by time, for the grown store: a base load and one set of files per day.

Days are local days (+08:00, the rollups' day buckets). The last ``days`` days before the
midnight after the network's latest event each get a ``members.csv`` (who joined that day) and
an ``orders.csv`` (orders paid that day, and orders paid earlier and refunded that day); the base
holds everything before. An order refunded on a later day than it was paid is listed first
without ``refunded_at`` and again, unchanged but for ``refunded_at``, on the day of its refund:
the loader finds it stored and adds the refund (graph/loader.py, ``ADD_REFUNDS``). Every row of
the network is in exactly one part, the re-listed refunds aside; headers and columns follow the
CSV contract (contract/importfiles.py) exactly.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from contract.importfiles import MEMBER_COLUMNS, ORDER_COLUMNS

CST = timezone(timedelta(hours=8))
FAST_SUFFIX = "+08:00"  # the demo's timestamps: their first ten characters are the local date
PAID, REFUNDED = ORDER_COLUMNS.index("paid_at"), ORDER_COLUMNS.index("refunded_at")
JOINED = MEMBER_COLUMNS.index("joined_at")


@dataclass(frozen=True)
class Day:
    number: int  # 1 for the first replayed day
    start: datetime
    members: Path
    orders: Path
    new_members: int
    new_orders: int
    refunds: int  # orders paid on an earlier day, listed again with their refund

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)


@dataclass(frozen=True)
class Split:
    base: Path  # members.csv, products.csv and orders.csv of everything before the first day
    base_members: int
    base_orders: int
    days: list[Day]

    @property
    def start(self) -> datetime:
        """The first replayed day's midnight: the base ends here."""
        return self.days[0].start

    @property
    def end(self) -> datetime:
        return self.days[-1].end


class _Days:
    """Local dates of timestamps, read cheaply for the demo's format and exactly for any."""

    def __init__(self) -> None:
        self.cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        """The proleptic ordinal of the +08:00 date ``text`` falls on."""
        if len(text) == 25 and text.endswith(FAST_SUFFIX):
            key = text[:10]
            found = self.cache.get(key)
            if found is None:
                found = self.cache[key] = date.fromisoformat(key).toordinal()
            return found
        return datetime.fromisoformat(text).astimezone(CST).date().toordinal()


@contextmanager
def _reading(path: Path) -> Iterator[Iterator[list[str]]]:
    """The non-blank data rows of a CSV file, header skipped."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        yield (row for row in reader if row)


def last_day(source: Path) -> int:
    """The ordinal of the local date of the network's latest event (join, payment, refund)."""
    day = _Days()
    latest = 0
    with _reading(source / "members.csv") as rows:
        for row in rows:
            latest = max(latest, day(row[JOINED]))
    with _reading(source / "orders.csv") as rows:
        for row in rows:
            latest = max(latest, day(row[PAID]))
            if row[REFUNDED]:
                latest = max(latest, day(row[REFUNDED]))
    return latest


def split_network(source: Path, out: Path, days: int) -> Split:
    """Writes the base and the ``days`` daily file sets under ``out``; reuses a matching split."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    files = [source / f for f in ("members.csv", "products.csv", "orders.csv")]
    wanted = {"days": days, "sizes": [f.stat().st_size for f in files]}
    marker = out / "split.json"
    if marker.exists():
        recorded = json.loads(marker.read_text())
        if recorded.get("wanted") == wanted:
            return _from_marker(out, recorded)
    if out.exists():
        shutil.rmtree(out)
    first = last_day(source) - days + 1  # ordinal of day 1
    day = _Days()

    def part(text: str) -> int:
        """0 for the base, else the day's number."""
        return max(0, day(text) - first + 1)

    dirs = [out / "base", *(out / f"day-{n:02d}" for n in range(1, days + 1))]
    for d in dirs:
        d.mkdir(parents=True)
    shutil.copyfile(source / "products.csv", dirs[0] / "products.csv")
    members = [0] * (days + 1)
    orders = [0] * (days + 1)
    refunds = [0] * (days + 1)
    with ExitStack() as stack:
        member_out = []
        order_out = []
        for d in dirs:
            m = stack.enter_context((d / "members.csv").open("w", encoding="utf-8", newline=""))
            o = stack.enter_context((d / "orders.csv").open("w", encoding="utf-8", newline=""))
            member_out.append(csv.writer(m, lineterminator="\n"))
            order_out.append(csv.writer(o, lineterminator="\n"))
            member_out[-1].writerow(MEMBER_COLUMNS)
            order_out[-1].writerow(ORDER_COLUMNS)
        with _reading(source / "members.csv") as rows:
            for row in rows:
                p = part(row[JOINED])
                member_out[p].writerow(row)
                members[p] += 1
        with _reading(source / "orders.csv") as rows:
            for row in rows:
                paid = part(row[PAID])
                orders[paid] += 1
                refunded = part(row[REFUNDED]) if row[REFUNDED] else paid
                if refunded == paid:
                    order_out[paid].writerow(row)
                    continue
                # Paid now, refunded on a later day: stored without the refund until that day.
                order_out[paid].writerow([*row[:REFUNDED], "", *row[REFUNDED + 1 :]])
                order_out[refunded].writerow(row)
                refunds[refunded] += 1
    start = datetime.combine(date.fromordinal(first), time(), CST)
    recorded = {
        "wanted": wanted,
        "start": start.isoformat(),
        "members": members,
        "orders": orders,
        "refunds": refunds,
    }
    marker.write_text(json.dumps(recorded))
    return _from_marker(out, recorded)


def _from_marker(out: Path, recorded: dict[str, Any]) -> Split:
    start = datetime.fromisoformat(recorded["start"])
    members, orders, refunds = recorded["members"], recorded["orders"], recorded["refunds"]
    return Split(
        base=out / "base",
        base_members=members[0],
        base_orders=orders[0],
        days=[
            Day(
                number=n,
                start=start + timedelta(days=n - 1),
                members=out / f"day-{n:02d}" / "members.csv",
                orders=out / f"day-{n:02d}" / "orders.csv",
                new_members=members[n],
                new_orders=orders[n],
                refunds=refunds[n],
            )
            for n in range(1, len(members))
        ],
    )
