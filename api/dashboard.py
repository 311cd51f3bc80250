"""The growth team's dashboard: the page built from ``web/`` at set-up time, served at ``/``.

The page and its assets need no token; every GraphQL call it makes sends the one pasted into it.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

DIST = Path(__file__).resolve().parent / "static" / "dist"
"""Where ``npm run build`` in ``web/`` writes (``base: "/dashboard/"`` in web/vite.config.ts)."""

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Downline: dashboard not built</title></head>
<body><h1>The dashboard is not built</h1>
<p>Run <code>make setup</code> (it runs <code>npm ci</code> and <code>npm run build</code> in
<code>web/</code>); the GraphQL API is at <a href="/graphql">/graphql</a> meanwhile.</p>
</body></html>
"""


class _Assets(StaticFiles):
    """Built assets carry a content hash in their names, so browsers may keep them for good."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if Path(full_path).parent.name == "assets":
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


def routes(dist: Path = DIST) -> list[BaseRoute]:
    """``/`` (the page) and ``/dashboard/...`` (its assets), for the app's route list."""
    index = dist / "index.html"

    async def page(request: Request) -> Response:
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503, headers={"cache-control": "no-store"})
        return FileResponse(index, headers={"cache-control": "no-cache"})

    return [
        Route("/", page, methods=["GET", "HEAD"], name="dashboard"),
        Mount("/dashboard", app=_Assets(directory=dist, check_dir=False), name="dashboard-assets"),
    ]
