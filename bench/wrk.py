"""GraphQL throughput with wrk, a real HTTP load generator, on loopback.

wrk (Debian's package) is installed on first use when missing and we may (root). A generated
Lua script rotates POST bodies over a sample of members, counts a response with a status other
than 200 or a GraphQL ``errors`` entry as an error, and prints one JSON line at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCRIPT = """
local bodies = {
%(bodies)s
}
local threads = {}
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  i = id * 7919
  bad = 0
end

function request()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i %% #bodies) + 1])
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"max_us": %%d, "connect": %%d, "read": %%d, "write": %%d, "status": %%d, ' ..
    '"timeout": %%d, "bad": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout, bad_total))
end
"""


@dataclass(frozen=True)
class Throughput:
    clients: int
    requests: int
    seconds: float
    p50_s: float
    p99_s: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def ensure_wrk() -> str:
    """The wrk binary; installs Debian's package when it is missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        result = subprocess.run(install, capture_output=True, text=True, env=env, timeout=300)
        if result.returncode != 0:
            update = ["apt-get", "update", "-q"]
            subprocess.run(update, capture_output=True, text=True, env=env, timeout=300)
            subprocess.run(install, capture_output=True, text=True, env=env, timeout=300)
        found = shutil.which("wrk")
        if found:
            return found
    raise RuntimeError("wrk is not installed: apt-get install wrk")


def script(bodies: list[str], token: str) -> str:
    for body in bodies:
        if "]==]" in body:
            raise ValueError("a body cannot hold ]==]")
    listed = ",\n".join(f"[==[{body}]==]" for body in bodies)
    return SCRIPT % {"bodies": listed, "token": token}


def run(url: str, bodies: list[str], token: str, *, clients: int, seconds: int) -> Throughput:
    """``clients`` connections, each sending its next request when the last one is answered."""
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        lua = Path(tmp) / "graphql.lua"
        lua.write_text(script(bodies, token))
        command = [
            wrk,
            "-t",
            str(min(clients, os.cpu_count() or 1)),
            "-c",
            str(clients),
            "-d",
            f"{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(lua),
            url,
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    lines = [line for line in result.stdout.splitlines() if line.startswith("WRKJSON ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    data = json.loads(lines[-1].removeprefix("WRKJSON "))
    errors = data["connect"] + data["read"] + data["write"] + data["timeout"] + data["bad"]
    return Throughput(
        clients=clients,
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        p50_s=data["p50_us"] / 1e6,
        p99_s=data["p99_us"] / 1e6,
        errors=int(errors),
    )
