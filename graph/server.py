"""The embedded Neo4j Community server: build its launcher, start it, stop it, ask how it is.

There is no Docker engine on our machines, so the project runs Neo4j itself: a small Java
launcher (``launcher/``) that starts Neo4j embedded with Bolt on loopback. This module drives it
as a background process with a pid file and a log file beside the store.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import neo4j
from neo4j.exceptions import AuthError, ServiceUnavailable

LAUNCHER_SOURCES = Path(str(files("launcher")))
"""The launcher's Maven project: the checkout's launcher/, or the copy an install ships."""
JAR_NAME = "neo4j-launcher-1.0.0.jar"


def launcher_dir() -> Path:
    """Where the launcher is built: in place (a checkout, or an install the user may write to),
    else in a copy under ``$XDG_CACHE_HOME/downline/launcher`` (``~/.cache`` by default)."""
    if os.access(LAUNCHER_SOURCES, os.W_OK):
        return LAUNCHER_SOURCES
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "downline" / "launcher"


# Servers started by this process, kept so they are reaped on stop (and not reported by the
# interpreter as still-running subprocesses when their handle is dropped).
_children: dict[int, subprocess.Popen[bytes]] = {}


class ServerError(RuntimeError):
    """The embedded Neo4j could not be built, started or stopped; the message says why."""


@dataclass(frozen=True)
class ServerPaths:
    """Where one embedded server keeps its store, pid and log."""

    root: Path

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def pid_file(self) -> Path:
        return self.root / "neo4j.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "neo4j.log"

    @property
    def launch_file(self) -> Path:
        """How the server was last started, so a restart (after a bulk import) starts it alike."""
        return self.root / "launch.json"

    def database_dirs(self, database: str) -> tuple[Path, Path]:
        """A database's store files and its transaction logs."""
        data = self.store / "data"
        return data / "databases" / database, data / "transactions" / database


@dataclass(frozen=True)
class Launch:
    """The arguments of the last start (everything but the password, which is never stored)."""

    port: int
    user: str
    heap: str
    pagecache: str
    extra_conf: dict[str, str]


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    port: int | None
    reachable: bool
    log_file: Path


# The JVM options of Neo4j 5.26's own neo4j.conf (server.jvm.additional), which its start script
# passes and a plain `java -jar` does not. Without the --add-opens the page cache logs "Reflection
# access to java.nio.DirectByteBuffer is not available, using fallback mode. This could have
# negative impact on performance and memory usage", and without TrustFinalNonStaticFields the JIT
# cannot fold the final fields the kernel is written around. AlwaysPreTouch is left out: it
# would make every start touch the whole heap (tests start many small servers).
JVM_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
)


def java_executable() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise ServerError(
            "Java was not found: install a JDK 17 or newer (Debian: apt-get install openjdk-17-jdk)"
            " or set JAVA_HOME"
        )
    return found


def build_launcher(force: bool = False) -> Path:
    """Builds the launcher jar with Maven the first time, or when its sources changed."""
    sources = [LAUNCHER_SOURCES / "pom.xml", *LAUNCHER_SOURCES.joinpath("src").rglob("*.java")]
    newest = max(p.stat().st_mtime for p in sources)
    where = launcher_dir()
    jar = where / "target" / JAR_NAME
    built = jar.exists() and (where / "target" / "lib").is_dir()
    if not force and built and jar.stat().st_mtime >= newest:
        return jar
    java_executable()
    mvn = shutil.which("mvn")
    if not mvn:
        raise ServerError(
            "Maven was not found: install it (Debian: apt-get install maven); it builds the"
            " Neo4j launcher from Maven Central the first time"
        )
    if where != LAUNCHER_SOURCES:
        shutil.copytree(LAUNCHER_SOURCES, where, dirs_exist_ok=True)
    result = subprocess.run(
        [mvn, "-q", "-B", "package", "-DskipTests"],
        cwd=where,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not jar.exists():
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        raise ServerError(f"building the Neo4j launcher with Maven failed in {where}:\n{tail}")
    return jar


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); look at its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"


def _read_pid(paths: ServerPaths) -> tuple[int, int] | None:
    try:
        pid_text, port_text = paths.pid_file.read_text().split()
        return int(pid_text), int(port_text)
    except (OSError, ValueError):
        return None


def _reachable(uri: str, auth: tuple[str, str]) -> bool:
    try:
        with neo4j.GraphDatabase.driver(uri, auth=auth, connection_timeout=2) as driver:
            driver.verify_connectivity()
        return True
    except (ServiceUnavailable, AuthError, OSError):
        return False


def status(paths: ServerPaths, auth: tuple[str, str]) -> ServerStatus:
    recorded = _read_pid(paths)
    if recorded is None or not _pid_alive(recorded[0]):
        return ServerStatus(False, None, None, False, paths.log_file)
    pid, port = recorded
    return ServerStatus(
        True, pid, port, _reachable(f"bolt://127.0.0.1:{port}", auth), paths.log_file
    )


def start(
    paths: ServerPaths,
    *,
    port: int,
    password: str,
    user: str = "neo4j",
    heap: str = "2g",
    pagecache: str = "2g",
    timeout_s: float = 120.0,
    extra_conf: dict[str, str] | None = None,
    keep_password: bool = False,
) -> int:
    """Starts the server in the background and returns its pid once Bolt answers.

    ``keep_password`` skips setting the password, for a restart of a store that has it already.
    """
    current = _read_pid(paths)
    if current is not None and _pid_alive(current[0]):
        raise ServerError(
            f"Neo4j is already running here (pid {current[0]}, port {current[1]});"
            " 'downline db stop' stops it"
        )
    if not port_is_free("127.0.0.1", port):
        raise ServerError(
            f"port {port} on 127.0.0.1 is already in use by another process: stop it, or choose"
            " another port with NEO4J_URI=bolt://127.0.0.1:PORT"
        )
    jar = build_launcher()
    java = java_executable()
    paths.root.mkdir(parents=True, exist_ok=True)
    command = [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        *JVM_OPTIONS,
        "-jar",
        str(jar),
        "--data",
        str(paths.store),
        "--port",
        str(port),
        "--pagecache",
        pagecache,
    ]
    for key, value in (extra_conf or {}).items():
        command += ["--conf", f"{key}={value}"]
    if keep_password:
        command += ["--keep-password", "true"]
    env = dict(os.environ, NEO4J_PASSWORD=password)
    log_offset = paths.log_file.stat().st_size if paths.log_file.exists() else 0
    with paths.log_file.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    _children[process.pid] = process
    paths.pid_file.write_text(f"{process.pid} {port}\n")
    launch = Launch(port, user, heap, pagecache, dict(extra_conf or {}))
    paths.launch_file.write_text(json.dumps(vars(launch)) + "\n")
    deadline = time.monotonic() + timeout_s
    uri = f"bolt://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            paths.pid_file.unlink(missing_ok=True)
            raise ServerError(
                f"Neo4j exited with code {code} while starting; the end of {paths.log_file}:\n"
                + _log_tail(paths.log_file)
            )
        # Bolt may listen before the launcher has set the password; READY comes after both.
        if not _log_says_ready(paths.log_file, log_offset):
            time.sleep(0.3)
            continue
        try:
            with neo4j.GraphDatabase.driver(uri, auth=(user, password), connection_timeout=2) as d:
                d.verify_connectivity()
            return process.pid
        except AuthError as exc:
            stop(paths)
            raise ServerError(f"Neo4j started but refused the credentials: {exc.message}") from exc
        except (ServiceUnavailable, OSError):
            time.sleep(0.3)
    stop(paths)
    raise ServerError(
        f"Neo4j did not answer on {uri} within {timeout_s:.0f}s; the end of {paths.log_file}:\n"
        + _log_tail(paths.log_file)
    )


def stop(paths: ServerPaths, timeout_s: float = 60.0) -> bool:
    """Stops the server with SIGTERM (a clean shutdown); returns False when none was running."""
    recorded = _read_pid(paths)
    if recorded is None or not _pid_alive(recorded[0]):
        paths.pid_file.unlink(missing_ok=True)
        return False
    pid = recorded[0]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            break
        _reap(pid)
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    _reap(pid)
    paths.pid_file.unlink(missing_ok=True)
    return True


def last_launch(paths: ServerPaths) -> Launch | None:
    try:
        data = json.loads(paths.launch_file.read_text())
        return Launch(
            int(data["port"]),
            str(data["user"]),
            str(data["heap"]),
            str(data["pagecache"]),
            {str(k): str(v) for k, v in dict(data["extra_conf"]).items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_port(paths: ServerPaths) -> int | None:
    """The Bolt port of the server this directory runs now, None when none runs."""
    recorded = _read_pid(paths)
    if recorded is None or not _pid_alive(recorded[0]):
        return None
    return recorded[1]


def restart(paths: ServerPaths, launch: Launch, *, password: str, timeout_s: float = 600.0) -> int:
    """Starts a stopped server again as it was started before (its password is in its store)."""
    return start(
        paths,
        port=launch.port,
        password=password,
        user=launch.user,
        heap=launch.heap,
        pagecache=launch.pagecache,
        timeout_s=timeout_s,
        extra_conf=launch.extra_conf,
        keep_password=True,
    )


def bulk_import(
    paths: ServerPaths, args: list[str], *, heap: str, log: Path
) -> subprocess.CompletedProcess[bytes]:
    """Runs Neo4j's offline importer (the launcher's import mode) on this stopped store.

    ``args`` are those of ``neo4j-admin database import full``; its output goes to ``log``.
    """
    return admin(paths, "import", args, heap=heap, log=log)


def admin(
    paths: ServerPaths,
    mode: str,
    args: list[str],
    *,
    heap: str,
    log: Path,
    stdin: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Runs an offline ``neo4j-admin database`` command (``import``, ``dump``, ``load`` or
    ``check``) through the launcher on this stopped store; its output goes to ``log``.

    ``stdin`` feeds a file to the command (``load --from-stdin``).
    """
    jar = build_launcher()
    command = [
        java_executable(),
        f"-Xms{heap}",
        f"-Xmx{heap}",
        *JVM_OPTIONS,
        "-jar",
        str(jar),
        mode,
        "--data",
        str(paths.store),
        *args,
    ]
    with log.open("ab") as out, contextlib.ExitStack() as stack:
        source = stack.enter_context(stdin.open("rb")) if stdin is not None else None
        return subprocess.run(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=source if source is not None else subprocess.DEVNULL,
            check=False,
        )


def kill(paths: ServerPaths) -> bool:
    """Kills the server with SIGKILL, as a crash would (the crash drills); False if none ran.

    The store is left as the crash leaves it: the next start recovers it from the transaction log.
    """
    recorded = _read_pid(paths)
    if recorded is None or not _pid_alive(recorded[0]):
        paths.pid_file.unlink(missing_ok=True)
        return False
    pid, port = recorded
    os.kill(pid, signal.SIGKILL)
    child = _children.pop(pid, None)
    deadline = time.monotonic() + 30
    if child is not None:
        # Reaped only once every thread is gone; a zombie leader may still hold the port.
        child.wait(timeout=30)
    while _pid_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    while not port_is_free("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.05)
    paths.pid_file.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _children[pid]
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _log_says_ready(path: Path, offset: int) -> bool:
    with path.open("rb") as log:
        log.seek(offset)
        return b"READY bolt://" in log.read()


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
