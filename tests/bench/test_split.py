"""The grown store's data: a demo network cut by time into a base and daily files.

Each day's files must pass the loader's row checks against what the earlier parts stored, every
row must be in exactly one part, and a refund must come on the day it happens.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import pytest

from bench import split
from contract.importfiles import (
    MEMBER_COLUMNS,
    ORDER_COLUMNS,
    KnownMember,
    RowError,
    check_members,
    check_orders,
    check_products,
)
from downline.demo import write_demo_network

DAYS = 6


def read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    return header, rows


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    write_demo_network(out, members=1_500, seed=7)
    return out


@pytest.fixture(scope="module")
def cut(network: Path, tmp_path_factory: pytest.TempPathFactory) -> split.Split:
    return split.split_network(network, tmp_path_factory.mktemp("grown") / "files", DAYS)


def test_days_are_the_last_local_days_of_the_network(network: Path, cut: split.Split) -> None:
    assert [d.number for d in cut.days] == list(range(1, DAYS + 1))
    assert all(d.start.utcoffset() == split.CST.utcoffset(None) for d in cut.days)
    assert all(d.start.time().isoformat() == "00:00:00" for d in cut.days)
    assert all(b.start == a.end for a, b in zip(cut.days, cut.days[1:], strict=False))
    _, orders = read(network / "orders.csv")
    latest = max(datetime.fromisoformat(t) for row in orders for t in row[6:8] if t)
    assert cut.days[-1].start <= latest < cut.end


def test_every_row_is_in_exactly_one_part_and_refunds_come_on_their_day(
    network: Path, cut: split.Split
) -> None:
    parts = [(None, cut.base / "members.csv", cut.base / "orders.csv")] + [
        (d, d.members, d.orders) for d in cut.days
    ]
    _, members = read(network / "members.csv")
    _, orders = read(network / "orders.csv")
    seen_members: list[list[str]] = []
    first: dict[str, list[str]] = {}
    again: dict[str, list[str]] = {}
    for day, members_file, orders_file in parts:
        header, rows = read(members_file)
        assert tuple(header) == MEMBER_COLUMNS
        for row in rows:
            joined = datetime.fromisoformat(row[2])
            assert joined < cut.start if day is None else day.start <= joined < day.end
        seen_members += rows
        header, rows = read(orders_file)
        assert tuple(header) == ORDER_COLUMNS
        relisted = 0
        for row in rows:
            paid = datetime.fromisoformat(row[6])
            if row[0] in first:
                # A later listing is the refund of an order stored on an earlier day.
                assert row[0] not in again and row[7]
                assert day is not None and day.start <= datetime.fromisoformat(row[7]) < day.end
                assert paid < day.start
                again[row[0]] = row
                relisted += 1
                continue
            assert paid < cut.start if day is None else day.start <= paid < day.end
            if row[7]:  # refunded within the same part
                refunded = datetime.fromisoformat(row[7])
                assert refunded < cut.start if day is None else refunded < day.end
            first[row[0]] = row
        assert relisted == (0 if day is None else day.refunds)

    assert Counter(map(tuple, seen_members)) == Counter(map(tuple, members))
    assert len(first) == len(orders)
    assert sum(d.refunds for d in cut.days) == len(again) > 0
    for row in orders:
        listed = first[row[0]]
        if row[0] in again:
            assert listed == [*row[:7], ""] and again[row[0]] == row
        else:
            assert listed == row
    assert cut.base_members + sum(d.new_members for d in cut.days) == len(members)
    assert cut.base_orders + sum(d.new_orders for d in cut.days) == len(orders)


def test_each_day_passes_the_loaders_row_checks_against_what_came_before(
    cut: split.Split,
) -> None:
    stored: dict[str, KnownMember] = {}

    def existing(ids: list[str]) -> Mapping[str, KnownMember]:
        return {i: stored[i] for i in ids if i in stored}

    errors: list[RowError] = []
    skus = {p.sku: p.commission_bp for p in check_products(cut.base / "products.csv", errors)}
    parts = [(cut.base / "members.csv", cut.base / "orders.csv")] + [
        (d.members, d.orders) for d in cut.days
    ]
    for members_file, orders_file in parts:
        rows, known = check_members(members_file, existing, errors)
        count = check_orders(orders_file, known, existing, skus, errors)
        assert errors == [], [str(e) for e in errors[:5]]
        assert count == len(read(orders_file)[1])
        stored.update({r.member_id: known[r.member_id] for r in rows})
    assert len(stored) == cut.base_members + sum(d.new_members for d in cut.days)


def test_a_split_is_reused_while_its_source_is_the_same(network: Path, tmp_path: Path) -> None:
    out = tmp_path / "files"
    made = split.split_network(network, out, 2)
    marker = (out / "split.json").stat().st_mtime_ns
    assert split.split_network(network, out, 2) == made
    assert (out / "split.json").stat().st_mtime_ns == marker
    other = split.split_network(network, out, 3)
    assert len(other.days) == 3 and not (out / "day-04").exists()
    with pytest.raises(ValueError, match="at least 1"):
        split.split_network(network, out, 0)
