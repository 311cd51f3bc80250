"""An install outside the checkout: the wheel carries the queries, the plans, the launcher's
sources and the dashboard, and the installed ``downline`` runs, settles and serves with them.

The fresh virtualenv gets the wheel alone (``--no-deps``); its dependencies come from the
development environment through a path file, so the test needs no network.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from graph.server import free_port
from tests.cli import ROOT

# What a source copy leaves out: build outputs, caches and data (the built dashboard stays).
SKIP = shutil.ignore_patterns(
    ".git",
    ".venv",
    "var",
    "data",
    "node_modules",
    "target",
    "artifacts",
    "build",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The ``bin`` directory of a fresh virtualenv with only the wheel installed."""
    if not (ROOT / "api" / "static" / "dist" / "index.html").exists():
        pytest.fail("the dashboard is not built: run 'make setup' first")
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=SKIP)
    wheels = work / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("downline-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    shutil.rmtree(source)
    yield venv / "bin"


def run(
    bin_dir: Path, env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "downline"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture
def outside(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The test server's environment, with nothing that points into the checkout."""
    env = {k: v for k, v in cli_env.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    return env


def test_the_installed_package_settles_and_serves_from_outside_the_checkout(
    installed: Path, outside: dict[str, str], tmp_path: Path
) -> None:
    python = installed / "python"
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import json, importlib.resources as r, downline, api.dashboard as d;"
            "print(json.dumps([str(r.files(p)) for p in ('cypher', 'plans', 'launcher')]"
            " + [downline.__file__, str(d.DIST)]))",
        ],
        env=outside,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    found = [Path(p) for p in json.loads(where.stdout)]
    venv = installed.parent
    assert all(p.is_relative_to(venv) for p in found), found
    cypher, plans, launcher, _, dist = found
    assert (cypher / "settlement" / "payouts.cypher").is_file()
    assert (plans / "default.toml").is_file()
    assert (launcher / "pom.xml").is_file()
    assert (launcher / "src" / "main" / "java" / "com" / "downline" / "launcher").is_dir()
    assert (dist / "index.html").is_file()

    usage = run(installed, outside, tmp_path, "--help")
    assert usage.returncode == 0, usage.stderr
    for command in ("load", "settle", "serve", "cypher", "plan"):
        assert command in usage.stdout

    demo = tmp_path / "demo"
    steps = [
        ("db", "schema"),
        ("demo-data", "--members", "60", "--seed", "3", "--out", str(demo)),
        (
            "load",
            *("--members", str(demo / "members.csv")),
            *("--products", str(demo / "products.csv")),
            *("--orders", str(demo / "orders.csv")),
        ),
        ("plan", "load"),
        ("settle", "--until", "2030-01-01T00:00:00+08:00"),
    ]
    for step in steps:
        done = run(installed, outside, tmp_path, *step)
        assert done.returncode == 0, (step, done.stdout, done.stderr)
    assert "settled" in done.stdout, done.stdout

    shipped = cypher / "analytics" / "top_recruits.cypher"
    top = run(
        installed,
        outside,
        tmp_path,
        *("cypher", "run", str(shipped), "--format", "csv"),
        *("-p", "from=2020-01-01T00:00:00+08:00", "-p", "to=2030-01-01T00:00:00+08:00"),
        *("-p", "limit=3"),
    )
    assert top.returncode == 0, top.stderr
    header, *rows = top.stdout.strip().splitlines()
    assert header.startswith("rank,member_id")
    assert [row.split(",")[0] for row in rows] == ["1", "2", "3"]

    port = free_port()
    serving = subprocess.Popen(
        [str(installed / "downline"), "serve", "--port", str(port)],
        env={**outside, "PYTHONUNBUFFERED": "1"},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(400):
                try:
                    page = client.get("/")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
        assert page is not None and page.status_code == 200
        assert page.text == (dist / "index.html").read_text("utf-8")
    finally:
        serving.terminate()
        serving.wait(timeout=30)
