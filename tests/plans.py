"""Plan shapes, read with EXPLAIN: which operators a hot statement uses, whatever the statistics.

A good plan for a hot statement starts from its intended anchor and reaches everything else by
expanding relationships from bound nodes. ``assert_shape`` fails on any scan or non-unique index
seek that the test did not name as allowed, and prints the whole plan so a regression is easy to
read. Unique-index seeks (constrained keys) are always allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import neo4j

# Operators that find nodes or relationships without a bound node to expand from.
_FINDING = re.compile(r"Scan|Seek")
_UNIQUE = re.compile(r"UniqueIndexSeek")
_JOINS = {"NodeHashJoin", "ValueHashJoin", "NodeLeftOuterHashJoin", "NodeRightOuterHashJoin"}


@dataclass(frozen=True)
class Operator:
    name: str
    details: str
    depth: int

    def __str__(self) -> str:
        return f"{self.name} {self.details}"


def explain(
    driver: neo4j.Driver, query: str, params: Mapping[str, Any] | None = None, *, database: str
) -> dict[str, Any]:
    """The plan Neo4j would run ``query`` with, as the driver returns it (nothing executes)."""
    with driver.session(database=database) as session:
        summary = session.run("EXPLAIN " + query, dict(params or {})).consume()
    assert summary.plan is not None
    return dict(summary.plan)


def operators(plan: Mapping[str, Any], depth: int = 0) -> Iterator[Operator]:
    name = str(plan["operatorType"]).split("@")[0]
    details = str((plan.get("args") or {}).get("Details", ""))
    yield Operator(name, " ".join(details.split()), depth)
    for child in plan.get("children", []):
        yield from operators(child, depth + 1)


def render(plan: Mapping[str, Any]) -> str:
    return "\n".join("  " * op.depth + str(op)[:200] for op in operators(plan))


def finders(plan: Mapping[str, Any]) -> list[Operator]:
    """Every scan and non-unique index seek in the plan."""
    return [
        op for op in operators(plan) if _FINDING.search(op.name) and not _UNIQUE.search(op.name)
    ]


def assert_shape(
    plan: Mapping[str, Any],
    *,
    anchors: Iterable[str] = (),
    allowed: Iterable[str] = (),
) -> None:
    """Each of ``anchors`` must appear; no scan or seek may appear that matches none of
    ``anchors`` and ``allowed`` (regular expressions searched in "Operator details"); no hash
    join (a join on values means a side was found without a bound node)."""
    anchors, allowed = list(anchors), list(allowed)
    ops = list(operators(plan))
    for anchor in anchors:
        assert any(re.search(anchor, str(op)) for op in ops), (
            f"the intended anchor {anchor!r} is not in the plan:\n{render(plan)}"
        )
    unexpected = [
        op for op in finders(plan) if not any(re.search(p, str(op)) for p in anchors + allowed)
    ]
    assert not unexpected, (
        "unexpected " + "; ".join(str(op)[:120] for op in unexpected) + f" in:\n{render(plan)}"
    )
    joins = [op for op in ops if op.name in _JOINS]
    assert not joins, f"hash join {joins[0]} in:\n{render(plan)}"
