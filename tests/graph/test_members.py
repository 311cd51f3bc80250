"""Registering, transferring and suspending members: each refusal writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import neo4j
import pytest

from graph.errors import BadInput, Conflict, NotFound
from graph.members import get_member, register_member, set_suspended, transfer_member

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=CST)


def count(driver: neo4j.Driver, query: str) -> int:
    records, _, _ = driver.execute_query(query)
    return int(records[0][0])


def nodes(driver: neo4j.Driver) -> int:
    return count(driver, "MATCH (n) RETURN count(n)")


def rels(driver: neo4j.Driver) -> int:
    return count(driver, "MATCH ()-[r]->() RETURN count(r)")


def sponsors(driver: neo4j.Driver) -> dict[str, str]:
    records, _, _ = driver.execute_query("MATCH (m)-[:SPONSORED_BY]->(s) RETURN m.id, s.id")
    return {r[0]: r[1] for r in records}


@pytest.fixture
def tree(arun: Callable[..., Any]) -> None:
    """M1 <- M2 <- M3, and M1 <- M4."""
    arun(register_member, member_id="M1", name="张三", joined_at=T0, sponsor_id=None)
    arun(register_member, member_id="M2", name="李四", joined_at=T0 + timedelta(1), sponsor_id="M1")
    arun(register_member, member_id="M3", name="王五", joined_at=T0 + timedelta(2), sponsor_id="M2")
    arun(register_member, member_id="M4", name="赵六", joined_at=T0 + timedelta(3), sponsor_id="M1")


def test_register_stores_member_and_sponsor(arun: Callable[..., Any], tree: None) -> None:
    member = arun(get_member, member_id="M3")
    assert member.sponsor_id == "M2"
    assert member.name == "王五"
    assert member.joined_at == T0 + timedelta(2)
    assert member.suspended is False
    assert arun(get_member, member_id="M1").sponsor_id is None


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"member_id": "M2", "sponsor_id": "M1"}, Conflict, "M2 already exists"),
        ({"member_id": "M9", "sponsor_id": "M404"}, NotFound, "sponsor M404 does not exist"),
        ({"member_id": "M9", "sponsor_id": "M9"}, BadInput, "cannot sponsor itself"),
        ({"member_id": "  ", "sponsor_id": None}, BadInput, "member id must be"),
        ({"member_id": "M9", "sponsor_id": "M1", "name": " "}, BadInput, "name must not be empty"),
        (
            {"member_id": "M9", "sponsor_id": "M1", "joined_at": datetime(2026, 2, 1, 9)},
            BadInput,
            "no UTC offset",
        ),
        (
            {"member_id": "M9", "sponsor_id": "M4", "joined_at": T0},
            BadInput,
            "cannot join before its sponsor M4",
        ),
    ],
)
def test_register_refusals_write_nothing(
    arun: Callable[..., Any],
    graph: neo4j.Driver,
    tree: None,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    before = (nodes(graph), rels(graph))
    args = {"name": "新人", "joined_at": T0 + timedelta(10), **kwargs}
    with pytest.raises(error, match=message):
        arun(register_member, **args)
    assert (nodes(graph), rels(graph)) == before


def test_transfer_moves_member_with_its_downline(
    arun: Callable[..., Any], graph: neo4j.Driver, tree: None
) -> None:
    moved = arun(transfer_member, member_id="M2", new_sponsor_id="M4", at=T0 + timedelta(30))
    assert moved.sponsor_id == "M4"
    upline = count(
        graph,
        "MATCH p = (:Member {id: 'M3'})-[:SPONSORED_BY*]->(:Member {id: 'M1'}) RETURN length(p)",
    )
    assert upline == 3
    assert count(graph, "MATCH (:Member {id: 'M2'})-[r:SPONSORED_BY]->() RETURN count(r)") == 1


@pytest.mark.parametrize(
    ("member", "sponsor", "error", "message"),
    [
        ("M1", "M3", Conflict, "would make a cycle"),
        ("M2", "M3", Conflict, "would make a cycle"),
        ("M2", "M2", BadInput, "cannot sponsor itself"),
        ("M404", "M1", NotFound, "member M404 does not exist"),
        ("M2", "M404", NotFound, "sponsor M404 does not exist"),
    ],
)
def test_transfer_refusals_write_nothing(
    arun: Callable[..., Any],
    graph: neo4j.Driver,
    tree: None,
    member: str,
    sponsor: str,
    error: type[Exception],
    message: str,
) -> None:
    before = sponsors(graph)
    with pytest.raises(error, match=message):
        arun(transfer_member, member_id=member, new_sponsor_id=sponsor, at=datetime.now(UTC))
    assert sponsors(graph) == before


def test_suspend_and_unsuspend(arun: Callable[..., Any], tree: None) -> None:
    assert arun(set_suspended, member_id="M2", suspended=True).suspended is True
    assert arun(get_member, member_id="M2").suspended is True
    assert arun(set_suspended, member_id="M2", suspended=False).suspended is False
    with pytest.raises(NotFound):
        arun(set_suspended, member_id="M404", suspended=True)
