"""The benchmark harness end to end at a tiny scale: its table, its JSON, and its verdict.

The graph is made to disagree with the CSV files after the load (every order one fen more), so
every revenue answer is wrong while counts stay right: the bench must say so and exit non-zero.
"""

from __future__ import annotations

import json
from pathlib import Path

import neo4j
import pytest

from bench.report import Target, judged
from bench.run import main
from contract.settings import Settings

SECTIONS = {
    "data",
    "import",
    "settlement",
    "rollups",
    "subtreeRevenue",
    "topInfluencers",
    "GraphQL throughput",
    "next day",
    "memory",
}


def one_fen_more(driver: neo4j.Driver) -> None:
    driver.execute_query("MATCH (o:Order) SET o.amount = o.amount + 1")


def test_a_wrong_answer_fails_the_benchmark(
    settings: Settings,
    graph: neo4j.Driver,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEO4J_PASSWORD", settings.require_password())
    code = main(
        [
            "--scale",
            "2k",
            "--members",
            "300",
            "--orders",
            "1500",
            "--neo4j-uri",
            settings.neo4j_uri,
            "--neo4j-dir",
            str(settings.neo4j_data_dir),
            "--data-dir",
            str(tmp_path / "data"),
            "--results-dir",
            str(tmp_path / "results"),
            "--seconds",
            "1",
            "--reps",
            "2",
            "--cell-seconds",
            "0.1",
        ],
        after_load=one_fen_more,
    )
    out = capsys.readouterr().out

    assert code == 1
    [path] = (tmp_path / "results").glob("*-300m1500o.json")
    result = json.loads(path.read_text())
    assert path.with_suffix(".md").read_text().startswith("Downline benchmark, scale 300m1500o")
    assert result["ok"] is False
    assert result["errors"] == []
    assert {row["section"] for row in result["rows"]} == SECTIONS
    for row in result["rows"]:
        assert row["status"] in {"", "ok", "met", "missed", "FAILED", "WRONG"}, row
        if row["target"]:
            assert row["targets"], row
    measures = {row["measure"] for row in result["rows"]}
    for kind in ("largest", "p99", "median"):
        for variant in ("all time", "last 30 days", "30 days to 18:00", "maxDepth 3"):
            for side in ("server", "HTTP"):
                assert any(
                    m.startswith(f"{kind} (") and m.endswith(f"· {variant} · {side}")
                    for m in measures
                ), (kind, variant, side)
    for metric in ("GROUP_VOLUME", "DOWNLINE_SIZE", "RECRUITS", "INFLUENCE", "AT_RISK"):
        assert f"{metric} · all time · server" in measures
        assert f"{metric} · last 30 days · HTTP" in measures
    for query in ("member", "subtreeRevenue"):
        for clients in ("1 client", "16 clients", "64 clients"):
            assert f"{query} · {clients}" in measures

    checks = {c["what"]: c["ok"] for c in result["checks"]}
    # What the extra fen does not touch is still right ...
    assert checks["members and orders in the graph after the load"]
    assert checks["re-run with the same cutoff writes nothing"]
    assert checks["topInfluencers DOWNLINE_SIZE · all time (graph)"]
    # ... and every sum over orders is caught, from the graph, the naive walk and over HTTP.
    wrong = [what for what, ok in checks.items() if not ok]
    assert any(w.startswith("subtreeRevenue largest") and w.endswith("(graph)") for w in wrong)
    assert any(w.startswith("subtreeRevenue largest") and w.endswith("(HTTP)") for w in wrong)
    assert any(w.startswith("naive sum largest") for w in wrong)
    assert not checks["topInfluencers GROUP_VOLUME · all time (graph)"]
    statuses = {row["measure"]: row["status"] for row in result["rows"]}
    assert statuses["GROUP_VOLUME · all time · server"] == "WRONG"
    assert statuses["DOWNLINE_SIZE · all time · server"] in {"met", "missed", "FAILED"}
    # Targets are set for 1M members on 2 cores: at 300 members some are far off, and a cell
    # more than 10x off fails the run as a wrong answer does, named with its figure.
    for row in result["rows"]:
        if row["targets"] and row["status"] != "WRONG":
            assert row["status"] == judged(Target(**t) for t in row["targets"]), row
    failed = [r for r in result["rows"] if r["status"] == "FAILED"]
    assert len(result["failed"]) >= len(failed)
    for row in failed:
        assert f"FAILED {row['section']} / {row['measure']}: " in " ".join(out.split())
    assert "WRONG" in out
    assert "benchmark FAILED" in out


def test_the_write_path_alone(
    settings: Settings,
    graph: neo4j.Driver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEO4J_PASSWORD", settings.require_password())
    main(
        [
            "--scale",
            "2k",
            "--members",
            "300",
            "--orders",
            "1500",
            "--write-path",
            "--neo4j-uri",
            settings.neo4j_uri,
            "--neo4j-dir",
            str(settings.neo4j_data_dir),
            "--data-dir",
            str(tmp_path / "data"),
            "--results-dir",
            str(tmp_path / "results"),
        ]
    )

    # Its verdict is not asserted: at 300 members the transactional import is far from the target.
    [path] = (tmp_path / "results").glob("*-300m1500o-write.json")
    result = json.loads(path.read_text())
    assert result["kind"] == "write" and result["errors"] == []
    assert all(check["ok"] for check in result["checks"]) and result["checks"]
    assert {row["section"] for row in result["rows"]} == {
        "data",
        "import",
        "settlement",
        "rollups",
        "next day",
        "memory",
    }
    peaks = {r["measure"]: r["data"] for r in result["rows"] if r["section"] == "memory"}
    for step in ("settlement, first run", "rollups refresh"):
        assert 10 << 20 < peaks[f"{step}: its process's peak (VmHWM)"]["peak_rss_bytes"] < 1 << 30
    load, preview, settle, again = [r for r in result["rows"] if r["section"] == "next day"]
    assert preview["measure"].startswith("downline settle --preview --until ")
    assert preview["value"].startswith("5 orders in ") and preview["data"]["orders"] == 5
    assert preview["target"] == "≤ 2 s, interpreter start included"
    assert preview["data"]["paid"] == settle["data"]["paid"] > 0
    assert "the preview of the next day pays what its run paid" in {
        c["what"] for c in result["checks"]
    }
    # 1,500 orders, one in 365 again as the next day's: 5, settled by the run a day later.
    assert load["measure"] == "downline load --transactional (5 orders)"
    assert settle["measure"].startswith("downline settle --until ")
    assert settle["value"].startswith("5 orders in ") and settle["data"]["orders_settled"] == 5
    assert settle["target"] == "≤ 2 s, CLI start included"
    assert settle["status"] in {"met", "missed"} and settle["data"]["seconds"] > 0
    assert again["status"] == "ok" and again["note"] == "wrote nothing"
