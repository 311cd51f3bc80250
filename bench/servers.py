"""The servers the benchmark runs: its own embedded Neo4j and a real uvicorn serving the API.

Both are started here and always stopped by their pid (a clean SIGTERM first). Their peak
resident memory is read from /proc/<pid>/status (VmHWM) while they still run.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.scales import ROOT
from graph import server


def vm_hwm(pid: int) -> int | None:
    """Peak resident set size of a process in bytes, None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def descendants(pid: int) -> list[int]:
    """A process and every process below it (uvicorn's workers under its supervisor)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found = [pid]
    i = 0
    while i < len(found):
        found.extend(children.get(found[i], []))
        i += 1
    return found


def dir_size(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file():
                total += p.stat().st_blocks * 512
    return total


def store_bytes(store: Path, database: str = "neo4j") -> tuple[int, int]:
    """Disk used by a database's store files and by its transaction logs."""
    return (
        dir_size(store / "data" / "databases" / database),
        dir_size(store / "data" / "transactions" / database),
    )


def tx_log_bytes(store: Path, database: str = "neo4j") -> int:
    """Bytes in the database's transaction logs: they grow with every committed write."""
    logs = store / "data" / "transactions" / database
    return sum(p.stat().st_size for p in logs.glob("neostore.transaction.db.*"))


@dataclass
class Neo4j:
    """An embedded Neo4j the bench started (``paths``) or one it was pointed at."""

    uri: str
    password: str
    paths: server.ServerPaths | None
    pid: int | None
    owned: bool

    @property
    def store(self) -> Path | None:
        return None if self.paths is None else self.paths.store

    @classmethod
    def start(
        cls, root: Path, *, password: str, heap: str, pagecache: str, timeout_s: float
    ) -> Neo4j:
        """A fresh store under ``root`` (an old one there is deleted first)."""
        paths = server.ServerPaths(root)
        if paths.store.exists():
            shutil.rmtree(paths.store)
        port = server.free_port()
        pid = server.start(
            paths,
            port=port,
            password=password,
            heap=heap,
            pagecache=pagecache,
            timeout_s=timeout_s,
        )
        return cls(f"bolt://127.0.0.1:{port}", password, paths, pid, owned=True)

    @classmethod
    def external(cls, uri: str, password: str, root: Path | None) -> Neo4j:
        """A server somebody else runs; with its directory, memory and store size are read too."""
        paths = server.ServerPaths(root) if root is not None else None
        pid = None
        if paths is not None and paths.pid_file.exists():
            with contextlib.suppress(ValueError, OSError):
                pid = int(paths.pid_file.read_text().split()[0])
        return cls(uri, password, paths, pid, owned=False)

    def refresh_pid(self) -> None:
        """Follows a restart (``downline load`` restarts the server around a bulk import)."""
        if self.paths is not None:
            port = server.running_port(self.paths)
            if port is not None and self.paths.pid_file.exists():
                with contextlib.suppress(ValueError, OSError):
                    self.pid = int(self.paths.pid_file.read_text().split()[0])

    def stop(self, *, keep: bool) -> tuple[int, int] | None:
        """Stops a server the bench started; returns its store's and transaction logs' bytes.

        They are read after the clean shutdown, whose checkpoint writes everything to the store
        files (before it much of the data is only in the transaction logs).
        """
        if not self.owned or self.paths is None:
            return None
        server.stop(self.paths)
        sizes = store_bytes(self.paths.store)
        if not keep and self.paths.store.exists():
            shutil.rmtree(self.paths.store, ignore_errors=True)
        return sizes


@dataclass
class Api:
    """``downline serve`` in its own process group, on a free loopback port."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    workers: int
    log_offset: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @classmethod
    def start(cls, env: dict[str, str], *, workers: int, log: Path, timeout_s: float) -> Api:
        port = server.free_port()
        log.parent.mkdir(parents=True, exist_ok=True)
        offset = log.stat().st_size if log.exists() else 0
        with log.open("ab") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "downline",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                    # A line per request costs more than some requests do; errors still log.
                    "--no-access-log",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        api = cls(process, port, log, workers, offset)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"downline serve exited with {process.returncode}; see {log}: {api.tail()}"
                )
            if api.ready(workers):
                return api
            time.sleep(0.3)
        api.stop()
        raise RuntimeError(f"downline serve did not answer within {timeout_s:.0f}s; see {log}")

    def ready(self, workers: int) -> bool:
        """Answers /readyz, and each worker has logged that it started."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/readyz")
            ok = conn.getresponse().status == 200
            conn.close()
        except OSError:
            return False
        # With several workers, wait until each has started (uvicorn logs one line per worker).
        return ok and self.log_text().count("Application startup complete") >= workers

    def log_text(self) -> str:
        try:
            with self.log.open("rb") as f:
                f.seek(self.log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def pids(self) -> list[int]:
        return descendants(self.process.pid)

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM to the process group it leads, SIGKILL if it has not gone in time."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
