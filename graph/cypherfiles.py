"""Runs the project's .cypher files the way cypher-shell does: statement by statement.

Each statement runs in its own auto-commit transaction, because ``CALL { ... } IN
TRANSACTIONS`` is only allowed there. Values always travel as parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import neo4j

CYPHER = Path(str(files("cypher")))
"""The shipped .cypher files: the checkout's cypher/, or the copy an install ships."""

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class StatementResult:
    statement: str
    keys: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    counters: Mapping[str, int]


def split_statements(text: str) -> list[str]:
    """Splits on semicolons outside strings and comments; drops comment-only pieces."""
    statements: list[str] = []
    current: list[str] = []
    i = 0
    quote: str | None = None
    while i < len(text):
        ch = text[i]
        if quote:
            current.append(ch)
            if ch == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
            current.append(ch)
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end == -1 else end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end == -1 else end + 2
            continue
        elif ch == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def parameters_of(statement: str) -> set[str]:
    return set(_PARAM.findall(statement))


def run_file(
    driver: neo4j.Driver,
    path: Path,
    params: Mapping[str, Any],
    *,
    database: str = "neo4j",
) -> list[StatementResult]:
    """Runs every statement of a file in order; stops at the first failure."""
    statements = split_statements(path.read_text(encoding="utf-8"))
    needed = set().union(*(parameters_of(s) for s in statements)) if statements else set()
    missing = sorted(needed - set(params))
    if missing:
        raise ValueError(f"{path}: missing parameter(s): {', '.join(missing)}")
    results: list[StatementResult] = []
    with driver.session(database=database) as session:
        for statement in statements:
            used = {k: v for k, v in params.items() if k in parameters_of(statement)}
            result = session.run(neo4j.Query(statement), used)
            records = list(result)
            summary = result.consume()
            counters = {k: v for k, v in vars(summary.counters).items() if isinstance(v, int) and v}
            results.append(
                StatementResult(
                    statement=statement,
                    keys=tuple(result.keys()),
                    rows=tuple(tuple(r.values()) for r in records),
                    counters=counters,
                )
            )
    return results


def section(path: Path, name: str) -> str:
    """The text between ``// section NAME`` and ``// end NAME`` of a file (comments kept)."""
    text = path.read_text(encoding="utf-8")
    found = re.search(
        rf"^[ \t]*// section {re.escape(name)}\b[^\n]*\n(.*?)^[ \t]*// end {re.escape(name)}\b",
        text,
        re.MULTILINE | re.DOTALL,
    )
    if found is None:
        raise LookupError(f"{path} has no section {name!r}")
    return found.group(1)
