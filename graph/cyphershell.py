"""Neo4j's own cypher-shell, built from Maven Central, for running the cypher/ files as written.

The data team runs the .cypher files with cypher-shell (each file's header says how), and
Neo4j's distribution is not installed here: ``launcher/cypher-shell/pom.xml`` resolves
cypher-shell and its dependencies into ``target/lib``, built with Maven on first use the way
graph/server.py builds the launcher.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path

from graph.server import ServerError, java_executable

PROJECT_DIR = Path(str(files("launcher"))) / "cypher-shell"
"""The Maven project: the checkout's launcher/cypher-shell/, or the copy an install ships."""
VERSION = "5.26.0"
"""The only 5.26 cypher-shell on Maven Central; it speaks Bolt to every 5.26 server."""
MAIN_CLASS = "org.neo4j.shell.Main"


class CypherShellError(RuntimeError):
    """cypher-shell could not be built; the message says why."""


def _lib(project: Path) -> Path:
    return project / "target" / "lib"


def _stamp(project: Path) -> Path:
    # copy-dependencies keeps the jars' times from ~/.m2, so they cannot tell whether the build
    # is newer than pom.xml; this file, written after a build succeeded, can.
    return project / "target" / "built"


def is_built(project: Path) -> bool:
    stamp = _stamp(project)
    return (
        stamp.exists()
        and (_lib(project) / f"cypher-shell-{VERSION}.jar").exists()
        and stamp.stat().st_mtime >= (project / "pom.xml").stat().st_mtime
    )


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def project_dir(shipped: Path = PROJECT_DIR, cache: Path | None = None) -> Path:
    """The shipped project when it is built or can be built in place, else a copy of it under
    ``$XDG_CACHE_HOME/downline/cypher-shell`` (``~/.cache`` by default), as graph/server.py
    does for the launcher: an installed package may sit where the user cannot write."""
    if is_built(shipped) or _writable(shipped):
        return shipped
    if cache is None:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        cache = base / "downline" / "cypher-shell"
    cache.mkdir(parents=True, exist_ok=True)
    pom = (shipped / "pom.xml").read_bytes()
    copy = cache / "pom.xml"
    if not copy.exists() or copy.read_bytes() != pom:
        copy.write_bytes(pom)  # a new mtime, so an upgraded pom is built again
    return cache


def build(force: bool = False, project: Path | None = None) -> Path:
    """Builds cypher-shell's classpath with Maven the first time or after pom.xml changed.

    Returns the directory of its jars. A lock keeps two first uses from building at once.
    """
    project = project or project_dir()
    if not force and is_built(project):
        return _lib(project)
    try:
        java_executable()
    except ServerError as exc:
        raise CypherShellError(str(exc)) from exc
    mvn = shutil.which("mvn")
    if not mvn:
        raise CypherShellError(
            "Maven was not found: install it (Debian: apt-get install maven); it fetches"
            f" cypher-shell {VERSION} from Maven Central the first time"
        )
    (project / "target").mkdir(exist_ok=True)
    with (project / "target" / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and is_built(project):
            return _lib(project)
        # A jar left from another version would sit on the same classpath.
        shutil.rmtree(_lib(project), ignore_errors=True)
        _stamp(project).unlink(missing_ok=True)
        result = subprocess.run(
            [mvn, "-q", "-B", "package"],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not (_lib(project) / f"cypher-shell-{VERSION}.jar").exists():
            # Debian's Maven colours its output even in batch mode.
            plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
            tail = "\n".join(plain.splitlines()[-25:])
            raise CypherShellError(f"building cypher-shell with Maven failed in {project}:\n{tail}")
        _stamp(project).touch()
    return _lib(project)


def command(project: Path | None = None) -> list[str]:
    """The command line that runs cypher-shell (its arguments go after it), built if needed."""
    lib = build(project=project)
    try:
        java = java_executable()
    except ServerError as exc:
        raise CypherShellError(str(exc)) from exc
    # A short-lived client: the first JIT tier and the serial collector start it a second sooner.
    return [java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", str(lib / "*"), MAIN_CLASS]
