"""A member asked with its sponsor (one read for both) answers as two reads would."""

from __future__ import annotations

from typing import Any

import pytest

from contract.settings import Settings
from tests.api.conftest import Gql, member_principal, seed

# A ── B ── C
TREE = [
    ("A", None, "2026-01-01T00:00:00+08:00"),
    ("B", "A", "2026-01-02T00:00:00+08:00"),
    ("C", "B", "2026-01-03T00:00:00+08:00"),
]
ORDERS = [("G1", "GIFT_PACKAGE", "B", None, 39_900, "2026-02-01T10:00:00+08:00")]
FIELDS = "id name joinedAt isAgent agentSince suspended"


@pytest.fixture
def tree(api_settings: Settings, gql: Gql) -> Gql:
    seed(api_settings, TREE, ORDERS)
    return gql


def member(result: dict[str, Any]) -> Any:
    assert result["errors"] == [], result["errors"]
    return result["data"]["member"]


def test_sponsor_fields_match_the_sponsor_read_alone(tree: Gql) -> None:
    both = member(tree(f'{{ member(id: "C") {{ {FIELDS} sponsor {{ {FIELDS} }} }} }}'))
    alone = member(tree(f'{{ member(id: "B") {{ {FIELDS} }} }}'))
    assert both["sponsor"] == alone
    assert alone["isAgent"] is True and alone["agentSince"] == "2026-02-01T10:00:00+08:00"
    assert both["id"] == "C" and both["isAgent"] is False and both["name"] == "Name C"


@pytest.mark.parametrize(
    "selection",
    [
        "sponsor { id isAgent sponsor { id isAgent } }",
        "...F",
        "... on Member { sponsor { id isAgent sponsor { id isAgent } } }",
    ],
)
def test_sponsor_asked_directly_in_a_fragment_or_nested(tree: Gql, selection: str) -> None:
    query = f'{{ member(id: "C") {{ id {selection} }} }}'
    if "...F" in selection:
        query += "\nfragment F on Member { sponsor { id isAgent sponsor { id isAgent } } }"
    found = member(tree(query))
    assert found["sponsor"] == {
        "id": "B",
        "isAgent": True,
        "sponsor": {"id": "A", "isAgent": False},
    }


def test_a_root_member_and_a_missing_one(tree: Gql) -> None:
    assert member(tree('{ member(id: "A") { id sponsor { id } } }')) == {
        "id": "A",
        "sponsor": None,
    }
    assert member(tree('{ member(id: "nobody") { id sponsor { id } } }')) is None


def test_a_member_token_still_may_not_see_its_sponsor(tree: Gql) -> None:
    result = tree('{ member(id: "B") { id sponsor { id name } } }', member_principal("B"))
    assert [e["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert result["data"]["member"] == {"id": "B", "sponsor": None}
    seen = tree('{ member(id: "C") { id sponsor { id name } } }', member_principal("B"))
    assert member(seen) == {"id": "C", "sponsor": {"id": "B", "name": "Name B"}}
