"""Malformed CSV files (issue 16): bad encodings, BOMs, stray quotes, huge fields, mixed line
endings and truncated files, for members, products and orders.

Generated files are checked twice: many of them in process through the contract's checks
(contract/importfiles.py, the code ``downline load`` runs before it writes), and each kind at
least once, spread over the three files, through the real ``downline load`` against the real
Neo4j, which must exit 1 naming ``file:line`` and write nothing. Each malformation is placed on
a known line, so the line the refusal names is asserted exactly.

By design (README, "The data team's CSV contract"): a BOM before the header is accepted
(spreadsheets write one), line endings may be ``\\n``, ``\\r\\n`` or ``\\r`` in any mix, and
a quote inside an unquoted field is a character of that field. A file cut at the end of a row,
or inside its last field when what is left is still a valid value, cannot be told from a whole
one.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import neo4j
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.importfiles import (
    MEMBER_COLUMNS,
    ORDER_COLUMNS,
    PRODUCT_COLUMNS,
    KnownMember,
    RowError,
    check_members,
    check_orders,
    check_products,
)
from contract.money import parse_timestamp
from contract.settings import Settings
from tests.api.conftest import seed
from tests.cli import downline

FILES = ("members", "products", "orders")
HEADERS = {
    "members": ",".join(MEMBER_COLUMNS),
    "products": ",".join(PRODUCT_COLUMNS),
    "orders": ",".join(ORDER_COLUMNS),
}
# The graph every CLI case loads into (tests/api/conftest.py seed): members A and B, products
# P1 (1500 bp) and GIFT (a gift package).
SEEDED = {
    "A": KnownMember(None, parse_timestamp("2026-01-01T00:00:00+08:00")),
    "B": KnownMember("A", parse_timestamp("2026-01-02T00:00:00+08:00")),
}
SKUS = {"P1": 1500, "GIFT": 0}


def stored(ids: list[str]) -> dict[str, KnownMember]:
    return {i: SEEDED[i] for i in ids if i in SEEDED}


def good_rows(kind: str, n: int) -> list[str]:
    """``n`` valid rows of a file, new to the seeded graph (so a load would write them)."""
    if kind == "members":
        sponsor = ["A", *(f"N{i // 2}" for i in range(2, n + 1))]
        return [
            f"N{i},{sponsor[i - 1]},2026-02-{i % 28 + 1:02d}T09:00:00+08:00,会员{i}"
            for i in range(1, n + 1)
        ]
    if kind == "products":
        return [f"S{i},茶叶 {i},{i}.50,{500 + i}" for i in range(1, n + 1)]
    return [
        f"X{i},RETAIL,{'A' if i % 2 else 'B'},A,P1,100.00,2026-03-{i % 28 + 1:02d}T10:00:00+08:00,"
        for i in range(1, n + 1)
    ]


@dataclass(frozen=True)
class Malformed:
    """A file's bytes and the line a refusal must name (None: the file is valid by design)."""

    data: bytes
    line: int | None
    what: str


def text(kind: str, rows: list[str], ends: list[str] | None = None) -> str:
    lines = [HEADERS[kind], *rows]
    ends = ends or ["\n"] * len(lines)
    return "".join(line + end for line, end in zip(lines, ends, strict=True))


def bad_encoding(kind: str, rows: list[str], at: int, how: str) -> Malformed:
    """Row ``at`` (0-based) ends with bytes that are not UTF-8; the rest is UTF-8."""
    if how == "utf-16":
        return Malformed(text(kind, rows).encode("utf-16"), 1, "the whole file in UTF-16")
    head = text(kind, rows[:at]).encode()
    tail = "".join(row + "\n" for row in rows[at + 1 :]).encode()
    row = rows[at].encode()
    if how == "latin-1":
        return Malformed(head + row + "é\n".encode("latin-1") + tail, at + 2, "latin-1")
    if how == "cut-character":  # a multibyte character cut at the end of the file
        return Malformed(head + row + "张".encode()[:-1], at + 2, "a cut UTF-8 character")
    return Malformed(head + row + b"\xff\n" + tail, at + 2, "a 0xff byte")


def bom(kind: str, rows: list[str], at: int | None) -> Malformed:
    """A BOM before the header (accepted) or at the start of row ``at`` (its first field, an
    id, is then not an id)."""
    if at is None:
        return Malformed(("\ufeff" + text(kind, rows)).encode(), None, "a BOM before the header")
    rows = [*rows[:at], "\ufeff" + rows[at], *rows[at + 1 :]]
    return Malformed(text(kind, rows).encode(), at + 2, "a BOM inside the file")


def stray_quote(kind: str, rows: list[str], at: int, field: int, how: str) -> Malformed:
    """A quote opened and never closed, or text after a closing quote, in row ``at``."""
    fields = rows[at].split(",")
    field %= len(fields)
    if how == "open":
        fields[field] = '"' + fields[field]
    else:
        fields[field] = f'"{fields[field]}"x'
    rows = [*rows[:at], ",".join(fields), *rows[at + 1 :]]
    return Malformed(text(kind, rows).encode(), at + 2, f"a stray quote ({how})")


def huge_field(kind: str, rows: list[str], at: int, size: int, quoted: bool) -> Malformed:
    """Row ``at``'s first field (an id) or a whole row padded to ``size`` characters."""
    fields = rows[at].split(",")
    big = fields[0] + "x" * size
    fields[0] = f'"{big}"' if quoted else big
    rows = [*rows[:at], ",".join(fields), *rows[at + 1 :]]
    return Malformed(text(kind, rows).encode(), at + 2, f"a field of {size:,} characters")


def mixed_endings(kind: str, rows: list[str], ends: list[str], at: int) -> Malformed:
    """Rows ended by any mix of \\n, \\r\\n and \\r, and row ``at`` with one field too many:
    the refusal must still name its line."""
    rows = [*rows[:at], rows[at] + ",extra", *rows[at + 1 :]]
    return Malformed(text(kind, rows, ends).encode(), at + 2, "mixed line endings")


def truncated(kind: str, rows: list[str], cut: int) -> Malformed:
    """The file cut inside its last row, before that row's last two fields."""
    whole = text(kind, rows).encode()
    last = rows[-1].encode()
    limit = last.rindex(b",", 0, last.rindex(b","))
    kept = last[: max(1, min(cut, limit))]
    return Malformed(whole[: len(whole) - len(last) - 1] + kept, len(rows) + 1, "truncated")


ENCODINGS = ("utf-16", "latin-1", "cut-character", "0xff")


@st.composite
def malformed(draw: st.DrawFn, kind: str) -> Malformed:
    n = draw(st.integers(min_value=1, max_value=8))
    rows = good_rows(kind, n)
    at = draw(st.integers(min_value=0, max_value=n - 1))
    which = draw(st.sampled_from(["encoding", "bom", "quote", "huge", "endings", "truncated"]))
    if which == "encoding":
        how = draw(st.sampled_from(ENCODINGS))
        return bad_encoding(kind, rows, n - 1 if how == "cut-character" else at, how)
    if which == "bom":
        return bom(kind, rows, draw(st.none() | st.just(at)))
    if which == "quote":
        field = draw(st.integers(min_value=0, max_value=7))
        return stray_quote(kind, rows, at, field, draw(st.sampled_from(["open", "after"])))
    if which == "huge":
        size = draw(st.sampled_from([100, 5_000, 200_000]))
        return huge_field(kind, rows, at, size, draw(st.booleans()))
    if which == "endings":
        ends = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=n + 1, max_size=n + 1))
        return mixed_endings(kind, rows, ends, at)
    return truncated(kind, rows, draw(st.integers(min_value=0, max_value=40)))


def check(kind: str, path: Path) -> list[str]:
    """What the contract's checks refuse in the file (``file:line: reason`` each)."""
    errors: list[RowError] = []
    try:
        if kind == "members":
            check_members(path, stored, errors)
        elif kind == "products":
            check_products(path, errors)
        else:
            check_orders(path, SEEDED, stored, SKUS, errors)
    except ValueError as exc:  # the header, the encoding, the quoting, a field over the limit
        return [str(exc)]
    return [str(e) for e in errors]


@pytest.mark.parametrize("kind", FILES)
@settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_malformed_files_are_refused_with_their_line(
    kind: str, data: st.DataObject, tmp_path: Path
) -> None:
    case = data.draw(malformed(kind))
    path = tmp_path / f"{kind}.csv"
    path.write_bytes(case.data)
    refusals = check(kind, path)
    if case.line is None:
        assert refusals == [], case.what
        return
    assert refusals, f"{case.what} was accepted: {case.data[:300]!r}"
    assert any(f"{kind}.csv:{case.line}: " in r for r in refusals), (case.what, refusals)
    assert all(not r.startswith("Traceback") for r in refusals)


def test_a_quote_inside_an_unquoted_field_is_a_character(tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_text(text("members", ['N1,,2026-02-01T09:00:00+08:00,Tea "Master" Li']))
    errors: list[RowError] = []
    rows, _ = check_members(path, lambda ids: {}, errors)
    assert errors == []
    assert [r.name for r in rows] == ['Tea "Master" Li']


def test_a_field_over_the_csv_limit_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    rows = good_rows("products", 3)
    path.write_bytes(huge_field("products", rows, 1, csv.field_size_limit() + 1, False).data)
    assert check("products", path) == [f"{path}:3: a field is over 131,072 characters"]


def test_undecodable_bytes_name_their_line_after_mixed_endings(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    rows = good_rows("orders", 3)
    path.write_bytes(text("orders", rows[:2], ["\r", "\r\n", "\n"]).encode() + b"X9,\xc0\xaf\n")
    assert check("orders", path) == [
        f"{path}:4: the file is not UTF-8 (byte 0xc0 is not UTF-8 text); save it as UTF-8"
    ]


# Through the real CLI: one of each kind, per file, into a seeded graph.

CLI_CASES: dict[str, Callable[[str, list[str]], Malformed]] = {
    "latin-1": lambda k, r: bad_encoding(k, r, 1, "latin-1"),
    "utf-16": lambda k, r: bad_encoding(k, r, 0, "utf-16"),
    "bom-inside": lambda k, r: bom(k, r, 2),
    "quote-open": lambda k, r: stray_quote(k, r, 1, 2, "open"),
    "quote-after": lambda k, r: stray_quote(k, r, 2, 0, "after"),
    "huge": lambda k, r: huge_field(k, r, 1, 200_000, True),
    "endings": lambda k, r: mixed_endings(k, r, ["\r", "\r\n", "\n", "\r", "\r\n"], 2),
    "truncated": lambda k, r: truncated(k, r, 3),
}

COUNTS = (
    "CALL () { MATCH (n) RETURN count(n) AS nodes } MATCH ()-[r]->() RETURN nodes, count(r) AS rels"
)


def graph_counts(driver: neo4j.Driver) -> tuple[int, int]:
    records, _, _ = driver.execute_query(COUNTS)
    return records[0]["nodes"], records[0]["rels"]


@pytest.mark.parametrize(
    ("kind", "how"),
    [
        ("members", "latin-1"),
        ("products", "utf-16"),
        ("orders", "bom-inside"),
        ("members", "quote-open"),
        ("products", "quote-after"),
        ("orders", "huge"),
        ("members", "endings"),
        ("orders", "truncated"),
        ("products", "huge"),
        ("orders", "quote-open"),
    ],
)
def test_downline_load_refuses_a_malformed_file_and_writes_nothing(
    kind: str,
    how: str,
    cli_env: dict[str, str],
    graph: neo4j.Driver,
    settings: Settings,
    tmp_path: Path,
) -> None:
    seed(
        settings,
        [("A", None, "2026-01-01T00:00:00+08:00"), ("B", "A", "2026-01-02T00:00:00+08:00")],
    )
    before = graph_counts(graph)
    case = CLI_CASES[how](kind, good_rows(kind, 4))
    path = tmp_path / f"{kind}.csv"
    path.write_bytes(case.data)
    result = downline("load", f"--{kind}", str(path), env=cli_env)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"{kind}.csv:{case.line}: " in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert graph_counts(graph) == before
