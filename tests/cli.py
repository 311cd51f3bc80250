"""Running the real ``downline`` command in a subprocess, as users do."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def downline(
    *args: str, env: dict[str, str], input: str | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "downline", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        check=False,
    )


def run_steps(steps: Sequence[Sequence[str]], env: dict[str, str]) -> None:
    """Runs each ``downline`` command in order, as an operator would; the first that fails
    fails the test with what it printed."""
    for step in steps:
        done = downline(*step, env=env)
        assert done.returncode == 0, (step, done.stdout, done.stderr)
