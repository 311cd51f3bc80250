"""Plans: the TOML contract, every refusal (storing nothing), and the plan in effect."""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import neo4j
import pytest

from graph.errors import Conflict
from graph.plans import PlanRefused, load_plans, plan_from_mapping, read_plan_file, store_plan
from graph.settlement import settle
from tests.cli import ROOT, downline
from tests.graph.netbuild import CST, DEFAULT_PLAN, Ord, at, seed

DEFAULT_FILE = ROOT / "plans" / "default.toml"


def plan_data(**changes: Any) -> dict[str, Any]:
    data = tomllib.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        *path, key = dotted.split("__")
        target = data
        for part in path:
            target = target[part]
        target[key] = value
    return data


def test_default_file_is_the_default_plan_of_the_domain() -> None:
    assert read_plan_file(DEFAULT_FILE) == DEFAULT_PLAN


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"tiers": 4, "gift_package__shares_bp": [4000, 3000, 2000, 1000]},
            "pays 4 tiers: a lawful plan pays three tiers at most",
        ),
        ({"retail__override_bp": [1000, 500, 100]}, "pays 4 tiers"),
        ({"tiers": 0}, "tiers must be 1, 2 or 3"),
        ({"gift_package__cost_bp": 10_001}, "gift_package.cost_bp is 10001 bp"),
        ({"retail__override_bp": [1000, -1]}, "retail.override_bp[1] is -1 bp"),
        ({"gift_package__shares_bp": [5000, 3000, 2001]}, "add up to 10001 bp"),
        ({"gift_package__shares_bp": [5000, 3000]}, "needs 3 entries"),
        ({"hold_days": 7.5}, "hold_days must be a whole number"),
        ({"effective_from": datetime(2000, 1, 1)}, "with a UTC offset"),
        ({"bonus": 1}, "unknown plan key(s): bonus"),
        ({"min_withdrawal": 100.0}, "min_withdrawal must be an amount in yuan as a string"),
        ({"min_withdrawal": 100}, "min_withdrawal must be an amount in yuan as a string"),
        ({"min_withdrawal": "100.001"}, "min_withdrawal: '100.001' is not an amount"),
        ({"min_withdrawal": "0.00"}, "min_withdrawal must be above 0.00, got 0.00"),
        ({"min_withdrawal": "-1.00"}, "min_withdrawal must be above 0.00, got -1.00"),
    ],
)
def test_bad_plans_are_refused_with_a_clear_message(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanRefused, match=None) as caught:
        plan_from_mapping(plan_data(**changes))
    assert message in caught.value.message


def test_a_refused_plan_file_stores_nothing(
    graph: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path
) -> None:
    text = DEFAULT_FILE.read_text(encoding="utf-8").replace("tiers = 3", "tiers = 4")
    text = text.replace("shares_bp = [5000, 3000, 2000]", "shares_bp = [4000, 3000, 2000, 1000]")
    bad = tmp_path / "four.toml"
    bad.write_text(text, encoding="utf-8")
    result = downline("plan", "load", str(bad), env=cli_env)
    assert result.returncode == 1
    assert "three tiers at most" in result.stderr
    assert load_plans(graph) == []


def test_plan_load_stores_once(graph: neo4j.Driver, cli_env: dict[str, str]) -> None:
    first = downline("plan", "load", "plans/default.toml", env=cli_env)
    assert first.returncode == 0, first.stderr
    assert "plan default stored" in first.stdout
    again = downline("plan", "load", "plans/default.toml", env=cli_env)
    assert again.returncode == 0
    assert "already stored" in again.stdout
    assert load_plans(graph) == [DEFAULT_PLAN]


def test_the_same_id_with_other_rules_is_refused(graph: neo4j.Driver) -> None:
    store_plan(graph, DEFAULT_PLAN)
    with pytest.raises(Conflict, match="plans never change"):
        store_plan(graph, dataclasses.replace(DEFAULT_PLAN, hold_days=3))
    assert load_plans(graph) == [DEFAULT_PLAN]


def test_two_plans_at_the_same_instant_are_refused(graph: neo4j.Driver) -> None:
    store_plan(graph, DEFAULT_PLAN)
    with pytest.raises(Conflict, match="already takes effect"):
        store_plan(graph, dataclasses.replace(DEFAULT_PLAN, id="other"))


def test_a_plan_that_rewrites_settled_orders_is_refused(
    graph: neo4j.Driver, tmp_path: Path
) -> None:
    seed(
        graph,
        tmp_path,
        {"A": None, "B": "A"},
        [Ord("G1", "GIFT_PACKAGE", "A", day=0), Ord("G2", "GIFT_PACKAGE", "B", day=2)],
    )
    settle(graph, cutoff=at(30))
    later = dataclasses.replace(DEFAULT_PLAN, id="v2", effective_from=at(1), hold_days=1)
    with pytest.raises(Conflict, match=r"1 order\(s\) paid since then already settled"):
        store_plan(graph, later)
    assert [p.id for p in load_plans(graph)] == ["default"]
    after = dataclasses.replace(later, effective_from=at(3))
    assert store_plan(graph, after)
    assert [p.id for p in load_plans(graph)] == ["default", "v2"]


def test_plans_are_listed_oldest_first(graph: neo4j.Driver) -> None:
    newer = dataclasses.replace(
        DEFAULT_PLAN, id="v2", effective_from=datetime(2030, 1, 1, tzinfo=CST)
    )
    store_plan(graph, newer)
    store_plan(graph, DEFAULT_PLAN)
    assert [p.id for p in load_plans(graph)] == ["default", "v2"]


def test_min_withdrawal_is_read_stored_and_defaults_to_100(graph: neo4j.Driver) -> None:
    assert DEFAULT_PLAN.min_withdrawal == 10_000
    data = plan_data(min_withdrawal="250.50")
    assert plan_from_mapping(data).min_withdrawal == 25_050
    del data["min_withdrawal"]
    assert plan_from_mapping(data).min_withdrawal == 10_000
    later = dataclasses.replace(
        DEFAULT_PLAN, id="v2", effective_from=datetime(2030, 1, 1, tzinfo=CST), min_withdrawal=50
    )
    store_plan(graph, later)
    assert load_plans(graph) == [later]
    # A plan stored before min_withdrawal existed has the default, and is still "the same".
    graph.execute_query("MATCH (p:Plan) REMOVE p.min_withdrawal")
    store_plan(graph, DEFAULT_PLAN)
    graph.execute_query("MATCH (p:Plan {id: 'default'}) REMOVE p.min_withdrawal")
    assert store_plan(graph, DEFAULT_PLAN) is False
    assert [p.min_withdrawal for p in load_plans(graph)] == [10_000, 10_000]
