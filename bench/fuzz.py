"""``python -m bench.fuzz [--cases N]``: the GraphQL fuzzing of the suite at bench size.

Runs tests/fuzz/test_graphql_fuzz.py (schemathesis over HTTP against the real app and a real
Neo4j, admin, analyst and member tokens) with DOWNLINE_FUZZ_CASES=N (5,000 by default) in its own
pytest process, and writes what it counted to bench/results/<date>-fuzz.md and .json: cases per
role, operation and generation mode, error codes, accepted and refused mutations, graph resets.
A failing case fails the command (exit 1) and the report says so with pytest's output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.scales import ROOT

RESULTS = ROOT / "bench" / "results"
TEST = "tests/fuzz/test_graphql_fuzz.py"


def run(cases: int) -> tuple[int, str, dict[str, Any]]:
    """pytest's exit code, the end of its output, and the test's tallies."""
    with tempfile.TemporaryDirectory() as work:
        report = Path(work) / "fuzz.json"
        env = {**os.environ, "DOWNLINE_FUZZ_CASES": str(cases), "DOWNLINE_FUZZ_REPORT": str(report)}
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        tally = json.loads(report.read_text()) if report.exists() else {}
    output = (done.stdout + done.stderr).strip().splitlines()
    # pytest's "E" lines say what failed; the log's end (strawberry logs every error it masks
    # with a traceback) would bury them.
    failed = [line for line in output if line.startswith("E ")][:60]
    return done.returncode, "\n".join([*failed, *output[-3:]]), tally


def table(title: str, counts: dict[str, int], unit: str = "cases") -> list[str]:
    lines = [f"| {title} | {unit} |", "| --- | ---: |"]
    lines += [f"| {k} | {v:,} |" for k, v in sorted(counts.items())]
    return [*lines, ""]


def markdown(result: dict[str, Any]) -> str:
    tally: dict[str, Any] = result["tally"]
    passed = result["exit_code"] == 0
    lines = [
        f"# GraphQL fuzzing, {result['date']}",
        "",
        f"`python -m bench.fuzz --cases {result['cases_asked']}`, started {result['started']},"
        f" finished {result['finished']}: `{TEST}` with DOWNLINE_FUZZ_CASES="
        f"{result['cases_asked']}, schemathesis {result['schemathesis']}.",
        "",
        f"**{'passed' if passed else 'FAILED'}**: {tally.get('cases', 0):,} cases sent; every"
        " response under 500, JSON, coded errors and none INTERNAL, no unmasked message, within"
        " the request deadline plus 1 s, and no write left by a refused mutation"
        + ("." if passed else " (see pytest's output below)."),
        "",
        f"Graph resets after accepted writes: {tally.get('resets', 0):,}. Statuses:"
        f" {', '.join(f'{k} x {v:,}' for k, v in sorted(tally.get('statuses', {}).items()))}.",
        "",
    ]
    lines += table("role", tally.get("by_role", {}))
    lines += table("generation mode", tally.get("by_mode", {}))
    lines += table("operation", tally.get("by_operation", {}))
    lines += table("error code", tally.get("codes", {}), "errors")
    mutations = sorted(set(tally.get("accepted", {})) | set(tally.get("refused", {})))
    lines += [
        "| mutation | accepted | refused | reached the resolver |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in mutations:
        accepted = tally.get("accepted", {}).get(name, 0)
        refused = tally.get("refused", {}).get(name, 0)
        reached = tally.get("reached", {}).get(name, 0)
        lines.append(f"| {name} | {accepted:,} | {refused:,} | {reached:,} |")
    lines.append("")
    if not passed:
        lines += ["pytest's output (its end):", "", "```", result["output"], "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz")
    parser.add_argument("--cases", type=int, default=5_000)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    code, output, tally = run(args.cases)
    finished = datetime.now(UTC)
    result: dict[str, Any] = {
        "kind": "fuzz",
        "date": started.date().isoformat(),
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "cases_asked": args.cases,
        "schemathesis": version("schemathesis"),
        "exit_code": code,
        "output": output,
        "tally": tally,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stem = args.results_dir / f"{result['date']}-fuzz"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    stem.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(f"{tally.get('cases', 0):,} cases, exit {code}: {stem}.md")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
