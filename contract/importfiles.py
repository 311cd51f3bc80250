"""The data team's CSV contract: reading and checking members, products and orders files.

Checking is pure (no database): each file is read once, every bad row is reported with its
file, line and reason, and what the rows refer to is resolved against the other files and
against what the caller says already exists in the graph.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from contract.money import parse_bp, parse_timestamp, parse_yuan
from contract.rules import (
    DEFAULT_RULES,
    EARLIEST,
    Rules,
    check_id,
    check_name,
    gift_package_product,
    is_id,
    kind_problem,
    shown,
)

MEMBER_COLUMNS = ("member_id", "sponsor_id", "joined_at", "name")
IDENTIFIER_KINDS = ("phone_hash", "device_id", "payee_account")
"""Optional members.csv columns after the contract's (any of them, in any order): identity
signals the platform already hashed, opaque strings (docs/model.md, "Identity signals")."""
MAX_IDENTIFIER = 128
_IDENTIFIER = re.compile(r"[\x21-\x7e]{1,128}")
PRODUCT_COLUMNS = ("sku", "name", "price", "commission_bp")
ORDER_COLUMNS = (
    "order_id",
    "kind",
    "buyer_id",
    "seller_id",
    "sku",
    "amount",
    "paid_at",
    "refunded_at",
)
KINDS = frozenset({"RETAIL", "GIFT_PACKAGE"})


@dataclass(frozen=True)
class RowError:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class MemberRow:
    member_id: str
    sponsor_id: str | None
    joined_at: str
    name: str
    identifiers: tuple[tuple[str, str], ...] = ()
    """(kind, value) of the row's identity signals, in IDENTIFIER_KINDS order."""


def check_identifier(value: str, what: str) -> str:
    """An identity signal: 1-128 printable ASCII characters, no whitespace (already hashed)."""
    if not _IDENTIFIER.fullmatch(value):
        if len(value) > MAX_IDENTIFIER:
            raise ValueError(
                f"{what} must be at most {MAX_IDENTIFIER} characters, got {len(value):,}"
            )
        raise ValueError(
            f"{what} must be 1-{MAX_IDENTIFIER} printable ASCII characters without spaces,"
            f" got {shown(value)}"
        )
    return value


@dataclass(frozen=True)
class ProductRow:
    sku: str
    name: str
    price: int
    commission_bp: int


@dataclass(frozen=True)
class OrderRow:
    order_id: str
    kind: str
    buyer_id: str
    seller_id: str | None
    sku: str
    amount: int
    paid_at: str
    refunded_at: str | None


@dataclass(frozen=True)
class KnownMember:
    """What the checks need of a member: its sponsor and when it joined."""

    sponsor_id: str | None
    joined_at: datetime


@dataclass
class Checked:
    """The outcome of checking all three files: rows to write, or the errors that stop it."""

    members: list[MemberRow] = field(default_factory=list)
    products: list[ProductRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    order_count: int = 0


def read_rows(
    path: Path, columns: tuple[str, ...], *, expected: str | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yields (line number, row); a wrong header raises ValueError naming the file."""
    for line, values in read_values(path, columns, expected=expected):
        if len(values) != len(columns):
            yield line, {"__error__": f"expected {len(columns)} fields, got {len(values)}"}
            continue
        yield line, dict(zip(columns, (v.strip() for v in values), strict=True))


def read_member_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """``read_rows`` of a members file, whose header may add any of IDENTIFIER_KINDS after the
    contract's columns; a column left out reads as empty."""
    columns = _header(path, MEMBER_COLUMNS, IDENTIFIER_KINDS)
    expected = f"{','.join(MEMBER_COLUMNS)} (then any of {','.join(IDENTIFIER_KINDS)})"
    for line, raw in read_rows(path, columns, expected=expected):
        for kind in IDENTIFIER_KINDS:
            raw.setdefault(kind, "")
        yield line, raw


def _header(path: Path, columns: tuple[str, ...], optional: tuple[str, ...]) -> tuple[str, ...]:
    """The file's header when it is ``columns`` then distinct names from ``optional``."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle, strict=True), None)
    except (UnicodeDecodeError, csv.Error):
        header = None
    if header is None:
        return columns  # read_values words the refusal
    names = tuple(h.strip().lstrip("\ufeff") for h in header)
    extra = names[len(columns) :]
    distinct = len(set(extra)) == len(extra)
    if names[: len(columns)] == columns and set(extra) <= set(optional) and distinct:
        return names
    return columns


class _ByteRange(io.RawIOBase):
    """The bytes of an open binary file from where it stands up to ``stop`` (the end: None)."""

    def __init__(self, raw: io.RawIOBase, stop: int | None) -> None:
        self._raw = raw
        self._left = None if stop is None else max(0, stop - raw.tell())

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._left is not None:
            view = view[: self._left]
        count = self._raw.readinto(view) or 0
        if self._left is not None:
            self._left -= count
        return count


def _open_text(path: Path, start: int, stop: int | None) -> IO[str]:
    """The file as text (``newline=""``, for csv), or only its bytes ``start`` to ``stop``."""
    if start == 0 and stop is None:
        return path.open(encoding="utf-8", newline="")
    raw = path.open("rb", buffering=0)
    raw.seek(start)
    return io.TextIOWrapper(
        io.BufferedReader(_ByteRange(raw, stop), buffer_size=1 << 20),
        encoding="utf-8",
        newline="",
    )


def line_start_near(path: Path, offset: int) -> int:
    """The offset of the first line that starts at or after ``offset`` (the file's size when
    none does): where a second reader may take over from a first one that stops there."""
    with path.open("rb") as handle:
        if offset <= 0:
            return 0
        handle.seek(offset - 1)
        handle.readline()
        return handle.tell()


def read_values(
    path: Path,
    columns: tuple[str, ...],
    *,
    expected: str | None = None,
    start: int = 0,
    stop: int | None = None,
) -> Iterator[tuple[int, list[str]]]:
    """Yields (line number, fields as read) of each non-blank row, after checking the header
    (``expected`` words the header a refusal asks for; default: ``columns``).

    Text that is not UTF-8, a field over the csv module's limit and broken quoting (a quote
    left open, text after a closing quote) raise ValueError naming the file and line: the
    lenient reader would otherwise read on and take a truncated or merged field as a value.
    A BOM before the header is allowed (spreadsheets write one).

    ``start`` and ``stop`` read only that byte range (``start`` at a line start, see
    ``line_start_near``); a range after the first has no header, and its line numbers count
    from its own start, so only a reader of the whole file words refusals."""
    wanted = expected or ",".join(columns)
    begin = 1
    try:
        with _open_text(path, start, stop) as handle:
            reader = csv.reader(handle, strict=True)
            if start == 0:
                header = next(reader, None)
                if header is None:
                    raise ValueError(f"{path}:1: the file is empty; expected the header {wanted}")
                header = [h.strip().lstrip("\ufeff") for h in header]
                if tuple(header) != columns:
                    raise ValueError(
                        f"{path}:1: expected the header {wanted}, got {','.join(header)}"
                    )
            begin = reader.line_num + 1
            for values in reader:
                if values and values != [""]:
                    yield reader.line_num, values
                begin = reader.line_num + 1
    except UnicodeDecodeError as exc:
        line, byte = _undecodable(path)
        raise ValueError(
            f"{path}:{line}: the file is not UTF-8 (byte 0x{byte:02x} is not UTF-8 text);"
            " save it as UTF-8"
        ) from exc
    except csv.Error as exc:
        reason = str(exc)
        if "field limit" in reason:
            reason = f"a field is over {csv.field_size_limit():,} characters"
        else:
            reason = f"the row's quoting is broken ({reason})"
        raise ValueError(f"{path}:{begin}: {reason}") from exc


def _undecodable(path: Path) -> tuple[int, int]:
    """The line (as the csv reader counts them) and value of the file's first byte that is not
    UTF-8; read again, in binary, only when decoding failed."""
    line = 1
    with path.open("rb") as handle:
        for raw in handle:  # UTF-8 never has 0x0A inside a character: no split is wrong
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                before = raw[: exc.start]
                return line + before.count(b"\r") - before.count(b"\r\n"), raw[exc.start]
            line += 1 + raw.count(b"\r") - raw.count(b"\r\n")
    return line, 0


def _rule(reasons: list[str], check: Callable[[str, str], object], value: str, what: str) -> None:
    """Runs one of the contract's rules (contract/rules.py), keeping its refusal as a reason."""
    try:
        check(value, what)
    except ValueError as exc:
        reasons.append(str(exc))


def _timestamp(text: str, what: str, rules: Rules, latest: datetime) -> datetime:
    """ISO 8601 with an offset, within the rules' window; the refusal is prefixed with ``what``."""
    try:
        value = parse_timestamp(text)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from exc
    return rules.check_time(value, what, latest=latest)


def check_members(
    path: Path,
    existing: Callable[[list[str]], Mapping[str, KnownMember]],
    errors: list[RowError],
    rules: Rules = DEFAULT_RULES,
) -> tuple[list[MemberRow], dict[str, KnownMember]]:
    """Checks members.csv; returns its rows and every member the orders may refer to."""
    name = path.name
    rows: list[MemberRow] = []
    known: dict[str, KnownMember] = {}
    lines: dict[str, int] = {}
    latest = rules.latest()
    for line, raw in read_member_rows(path):
        if "__error__" in raw:
            errors.append(RowError(name, line, raw["__error__"]))
            continue
        member_id, sponsor_id = raw["member_id"], raw["sponsor_id"] or None
        reasons: list[str] = []
        if not member_id:
            reasons.append("member_id is empty")
        elif member_id in lines:
            reasons.append(f"member {member_id} appears twice (first on line {lines[member_id]})")
        else:
            _rule(reasons, check_id, member_id, "member_id")
        if sponsor_id is not None:
            _rule(reasons, check_id, sponsor_id, "sponsor_id")
        _rule(reasons, check_name, raw["name"], "name")
        identifiers = tuple((k, raw[k]) for k in IDENTIFIER_KINDS if raw[k])
        for kind, value in identifiers:
            _rule(reasons, check_identifier, value, kind)
        if sponsor_id is not None and sponsor_id == member_id:
            reasons.append(f"member {member_id} cannot sponsor itself")
        try:
            joined_at = _timestamp(raw["joined_at"], "joined_at", rules, latest)
        except ValueError as exc:
            reasons.append(str(exc))
        if reasons:
            errors.extend(RowError(name, line, r) for r in reasons)
            if member_id and member_id not in lines:
                lines[member_id] = line
            continue
        lines[member_id] = line
        rows.append(MemberRow(member_id, sponsor_id, raw["joined_at"], raw["name"], identifiers))
        known[member_id] = KnownMember(sponsor_id, joined_at)

    stored = existing(list(known))
    missing_sponsors = sorted({r.sponsor_id for r in rows if r.sponsor_id} - set(known))
    stored_sponsors = existing(missing_sponsors)
    for row in rows:
        line = lines[row.member_id]
        mine = known[row.member_id]
        before = stored.get(row.member_id)
        if before is not None and (
            before.sponsor_id != mine.sponsor_id or before.joined_at != mine.joined_at
        ):
            errors.append(
                RowError(
                    name,
                    line,
                    f"member {row.member_id} already exists with sponsor"
                    f" {before.sponsor_id or '(none)'} and joined_at"
                    f" {before.joined_at.isoformat()}; a sponsor change is an admin transfer",
                )
            )
            continue
        if row.sponsor_id is None:
            continue
        sponsor = known.get(row.sponsor_id) or stored_sponsors.get(row.sponsor_id)
        if sponsor is None:
            errors.append(RowError(name, line, f"sponsor {row.sponsor_id} does not exist"))
        elif sponsor.joined_at > mine.joined_at:
            errors.append(
                RowError(
                    name, line, f"member {row.member_id} joins before its sponsor {row.sponsor_id}"
                )
            )
    for member_id in _members_in_cycles(known):
        errors.append(RowError(name, lines[member_id], f"member {member_id} is in a sponsor cycle"))
    known.update(stored_sponsors)
    return rows, known


def _members_in_cycles(known: Mapping[str, KnownMember]) -> list[str]:
    """Members whose sponsor chain within the file loops back on itself."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done and acyclic, 3: in a cycle
    cyclic: list[str] = []
    for start in known:
        path: list[str] = []
        node: str | None = start
        while node is not None and node in known and node not in state:
            state[node] = 1
            path.append(node)
            node = known[node].sponsor_id
        loop_from = path.index(node) if node is not None and state.get(node) == 1 else len(path)
        for i, member in enumerate(path):
            state[member] = 3 if i >= loop_from else 2
            if i >= loop_from:
                cyclic.append(member)
    return sorted(cyclic)


def check_products(
    path: Path, errors: list[RowError], rules: Rules = DEFAULT_RULES
) -> list[ProductRow]:
    """Checks products.csv; a product whose commission_bp is 0 is a gift package."""
    name = path.name
    rows: list[ProductRow] = []
    lines: dict[str, int] = {}
    for line, raw in read_rows(path, PRODUCT_COLUMNS):
        if "__error__" in raw:
            errors.append(RowError(name, line, raw["__error__"]))
            continue
        reasons: list[str] = []
        sku = raw["sku"]
        if not sku:
            reasons.append("sku is empty")
        elif sku in lines:
            reasons.append(f"product {sku} appears twice (first on line {lines[sku]})")
        else:
            _rule(reasons, check_id, sku, "sku")
        if raw["name"]:
            _rule(reasons, check_name, raw["name"], "name")
        price = commission_bp = 0
        try:
            price = parse_yuan(raw["price"])
            if price <= 0:
                reasons.append(f"price must be positive, got {raw['price']}")
            elif (too_large := rules.too_large(price, "price")) is not None:
                reasons.append(too_large)
        except ValueError as exc:
            reasons.append(f"price: {exc}")
        try:
            commission_bp = parse_bp(raw["commission_bp"])
        except ValueError as exc:
            reasons.append(f"commission_bp: {exc}")
        if sku and sku not in lines:
            lines[sku] = line
        if reasons:
            errors.extend(RowError(name, line, r) for r in reasons)
            continue
        rows.append(ProductRow(sku, raw["name"] or sku, price, commission_bp))
    return rows


GoodOrder = tuple[str, str, str, str, str, int, str, str]
"""A checked order: order_id, kind, buyer_id, seller_id ('' for none), sku, amount in fen,
paid_at and refunded_at ('' for none) as written in the file."""


def check_orders(
    path: Path,
    members: Mapping[str, KnownMember],
    existing: Callable[[list[str]], Mapping[str, KnownMember]],
    skus: Mapping[str, int],
    errors: list[RowError],
    accept: Callable[[GoodOrder], None] | None = None,
    rules: Rules = DEFAULT_RULES,
    *,
    seen: set[str] | None = None,
    start: int = 0,
    stop: int | None = None,
) -> int:
    """Checks orders.csv without keeping its rows (it can hold tens of millions); returns a count.

    ``skus`` maps every product the orders may name to its commission_bp (0: a gift package,
    which only a GIFT_PACKAGE order may be of; any other only a RETAIL order).

    Rows whose buyer or seller is in neither file are put aside and checked after one batched
    look-up of the graph, instead of one query per row. ``accept`` sees every good row, so a
    caller can write them out in the same pass (it must drop what it wrote if errors appear).

    Ten million rows must check in about a minute: a row that passes every check takes a
    straight path with no dict, and only a row with a problem goes through ``_order_problems``,
    which words each reason.
    """
    name = path.name
    seen = set() if seen is None else seen
    deferred: list[tuple[int, dict[str, str]]] = []
    fen_of: dict[str, int] = {}  # amounts repeat (one price per product): parse each text once
    fields = len(ORDER_COLUMNS)
    count = 0
    max_fen = rules.max_amount
    earliest, latest = EARLIEST, rules.latest()
    gift = {sku: gift_package_product(bp) for sku, bp in skus.items()}
    for line, values in read_values(path, ORDER_COLUMNS, start=start, stop=stop):
        if len(values) != fields:
            errors.append(RowError(name, line, f"expected {fields} fields, got {len(values)}"))
            continue
        count += 1
        order_id, kind, buyer_id, seller_id, sku, amount, paid_at, refunded_at = map(
            str.strip, values
        )
        buyer = members.get(buyer_id)
        if buyer is None or (seller_id and seller_id not in members):
            deferred.append((line, dict(zip(ORDER_COLUMNS, values, strict=True))))
            continue
        fen = fen_of.get(amount)
        if fen is None:
            try:
                fen = fen_of[amount] = parse_yuan(amount)
            except ValueError:
                fen = 0
        good = (
            order_id not in seen
            and is_id(order_id)
            and 0 < fen <= max_fen
            and gift.get(sku) is (kind == "GIFT_PACKAGE")
            and kind in KINDS
        )
        if good:
            try:
                paid = datetime.fromisoformat(paid_at)
                good = (
                    paid.utcoffset() is not None
                    and earliest <= paid <= latest
                    and paid >= buyer.joined_at
                )
                if good and refunded_at:
                    refunded = datetime.fromisoformat(refunded_at)
                    good = refunded.utcoffset() is not None and paid <= refunded <= latest
            except (ValueError, OverflowError):
                good = False
        if good:
            seen.add(order_id)
            if accept is not None:
                accept((order_id, kind, buyer_id, seller_id, sku, fen, paid_at, refunded_at))
            continue
        raw = dict(zip(ORDER_COLUMNS, (v.strip() for v in values), strict=True))
        reasons = _order_problems(raw, members, skus, seen, rules, latest)
        errors.extend(RowError(name, line, r) for r in reasons)
    if deferred:
        wanted = {r["buyer_id"] for _, r in deferred} | {r["seller_id"] for _, r in deferred}
        wanted = {i.strip() for i in wanted}
        stored = existing(sorted(i for i in wanted if is_id(i) and i not in members))
        merged = {**stored, **members}
        for line, raw in deferred:
            raw = {k: v.strip() for k, v in raw.items()}
            problems = list(_order_problems(raw, merged, skus, seen, rules, latest))
            if problems:
                errors.extend(RowError(name, line, reason) for reason in problems)
            elif accept is not None:
                accept(
                    (
                        raw["order_id"],
                        raw["kind"],
                        raw["buyer_id"],
                        raw["seller_id"],
                        raw["sku"],
                        parse_yuan(raw["amount"]),
                        raw["paid_at"],
                        raw["refunded_at"],
                    )
                )
    return count


def _order_problems(
    raw: dict[str, str],
    members: Mapping[str, KnownMember],
    skus: Mapping[str, int],
    seen: set[str],
    rules: Rules,
    latest: datetime,
) -> Iterator[str]:
    order_id = raw["order_id"]
    if not order_id:
        yield "order_id is empty"
    elif order_id in seen:
        yield f"order {order_id} appears twice"
    else:
        try:
            check_id(order_id, "order_id")
        except ValueError as exc:
            yield str(exc)
    seen.add(order_id)
    if raw["kind"] not in KINDS:
        yield f"kind must be RETAIL or GIFT_PACKAGE, got {raw['kind']!r}"
    buyer = members.get(raw["buyer_id"])
    if buyer is None:
        yield f"buyer {shown_id(raw['buyer_id'])} does not exist"
    if raw["seller_id"] and raw["seller_id"] not in members:
        yield f"seller {shown_id(raw['seller_id'])} does not exist"
    commission_bp = skus.get(raw["sku"])
    if commission_bp is None:
        yield f"product {shown_id(raw['sku'])} does not exist"
    elif raw["kind"] in KINDS:
        problem = kind_problem(order_id, raw["kind"], raw["sku"], commission_bp)
        if problem is not None:
            yield problem
    try:
        fen = parse_yuan(raw["amount"])
        if fen <= 0:
            yield f"amount must be a positive number of fen, got {raw['amount']}"
        elif (too_large := rules.too_large(fen)) is not None:
            yield too_large
    except ValueError as exc:
        yield f"amount: {exc}"
    try:
        paid_at = _timestamp(raw["paid_at"], "paid_at", rules, latest)
    except ValueError as exc:
        yield str(exc)
        return
    if buyer is not None and paid_at < buyer.joined_at:
        yield f"order {order_id} is paid before its buyer {raw['buyer_id']} joined"
    if raw["refunded_at"]:
        try:
            if _timestamp(raw["refunded_at"], "refunded_at", rules, latest) < paid_at:
                yield f"order {order_id} is refunded before it was paid"
        except ValueError as exc:
            yield str(exc)


def shown_id(value: str) -> str:
    """An id as a message names it: as written when it is a well-formed id, else quoted."""
    return value if is_id(value) else (shown(value) if value else "(empty)")


def order_rows(path: Path) -> Iterator[OrderRow]:
    """The rows of an orders file already checked by ``check_orders``."""
    for _, raw in read_rows(path, ORDER_COLUMNS):
        yield OrderRow(
            raw["order_id"],
            raw["kind"],
            raw["buyer_id"],
            raw["seller_id"] or None,
            raw["sku"],
            parse_yuan(raw["amount"]),
            raw["paid_at"],
            raw["refunded_at"] or None,
        )
