"""The dashboard at / in Debian's headless Chromium, against the real app on a seeded network.

The network is loaded, settled and rolled up with the real ``downline`` commands; the page is the
one ``make setup`` builds from web/. A screenshot of each view lands in artifacts/.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright
from starlette.applications import Starlette

from api import dashboard
from api.auth import Role, mint_token
from contract.money import parse_yuan
from contract.settings import Settings
from tests import network
from tests.cli import ROOT, downline, run_steps
from tests.serving import app_url

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts"
SECRET = "dashboard-tests-secret-long-enough-for-hs256"
CST = timezone(timedelta(hours=8))

# (id, sponsor, days ago joined); the orders below are (id, kind, buyer, seller, sku, yuan, days
# ago paid). R2's branch sells the most, R1 recruits the most.
MEMBERS = [
    ("R1", "", 200, "Root One"),
    ("R2", "", 200, "Root Two"),
    ("D1", "R2", 190, "Dana"),
    ("A1", "R1", 180, "Ann"),
    ("A2", "R1", 170, "Abe"),
    ("A3", "R1", 160, "Ada"),
    ("B1", "A1", 150, "Ben"),
    ("B2", "A1", 140, "Bea"),
    ("C1", "B1", 130, "Cai"),
]
PRODUCTS = [("GP399", "Gift package", "399.00", 0), ("SKU1", "Tea", "100.00", 1500)]
PRODUCTS += [("BIG", "Massage chair", "5000.00", 1000)]
ORDERS = [
    ("G0", "GIFT_PACKAGE", "R1", "", "GP399", "399.00", 195),
    ("G3", "GIFT_PACKAGE", "R2", "", "GP399", "399.00", 185),
    ("G1", "GIFT_PACKAGE", "A1", "", "GP399", "399.00", 120),
    ("G2", "GIFT_PACKAGE", "B1", "", "GP399", "399.00", 100),
    ("O4", "RETAIL", "D1", "R2", "BIG", "5000.00", 75),
    ("O1", "RETAIL", "B2", "A1", "SKU1", "100.00", 60),
    ("O3", "RETAIL", "D1", "R2", "BIG", "5000.00", 45),
    ("O2", "RETAIL", "C1", "B1", "SKU1", "100.00", 20),
]


def _when(days_ago: int) -> datetime:
    day = datetime.now(CST).replace(hour=10, minute=0, second=0, microsecond=0)
    return day - timedelta(days=days_ago)


def _seed(tmp_path: Path, env: dict[str, str]) -> None:
    files = network.write(
        tmp_path,
        [network.MemberRow(m, s or None, _when(d), n) for m, s, d, n in MEMBERS],
        [network.ProductRow(sku, n, parse_yuan(price), bp) for sku, n, price, bp in PRODUCTS],
        [
            network.OrderRow(o, k, b, s or None, sku, parse_yuan(a), _when(d))
            for o, k, b, s, sku, a, d in ORDERS
        ],
    )
    steps = [
        files.load_args(),
        ["plan", "load", str(ROOT / "plans" / "default.toml")],
        ["settle", "--until", datetime.now(UTC).isoformat(timespec="seconds")],
        ["rollups", "refresh"],
    ]
    run_steps(steps, env)


def _column(page: Page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


@pytest.fixture
def site(settings: Settings, cli_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(base URL, admin token) of the app serving the seeded network."""
    assert (dashboard.DIST / "index.html").is_file(), "the dashboard is not built: run make setup"
    env = {**cli_env, "DOWNLINE_JWT_SECRET": SECRET}
    _seed(tmp_path, env)
    minted = downline("token", "--role", "admin", "--ttl", "1h", env=env)
    assert minted.returncode == 0, minted.stderr
    with app_url(replace(settings, jwt_secret=SECRET)) as base:
        yield base, minted.stdout.strip()


def test_page_and_assets_need_no_token_but_the_api_does(site: tuple[str, str]) -> None:
    base, token = site
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assets = [a for a in page.text.split('"') if a.startswith("/dashboard/assets/")]
        assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
        for asset in assets:
            served = client.get(asset)
            assert served.status_code == 200, asset
            assert "immutable" in served.headers["cache-control"]
        assert client.get("/dashboard/assets/nope.js").status_code == 404
        query = {"query": "{ __typename }"}
        assert client.post("/graphql", json=query).status_code == 401
        authed = client.post("/graphql", json=query, headers={"authorization": f"Bearer {token}"})
        assert authed.json() == {"data": {"__typename": "Query"}}


def test_without_a_build_the_page_says_how_to_make_one(tmp_path: Path) -> None:
    async def get(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=Starlette(routes=dashboard.routes(tmp_path)))
        async with httpx.AsyncClient(transport=transport, base_url="http://dashboard") as client:
            return await client.get(path)

    answer = asyncio.run(get("/"))
    assert answer.status_code == 503
    assert "make setup" in answer.text
    assert asyncio.run(get("/dashboard/assets/index.js")).status_code == 404


def test_dashboard_in_chromium(site: tuple[str, str]) -> None:
    if shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is missing: run make setup")
    base, token = site
    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.on(
                "request",
                lambda r: None if r.url.startswith((base, "data:")) else outside.append(r.url),
            )
            page.goto(base + "/")
            page.get_by_test_id("token").fill(token)
            page.get_by_role("button", name="Log in").click()

            # The leaderboard fills, by group volume over all time: R2's branch sold the most.
            board = page.get_by_test_id("leaderboard")
            page.wait_for_selector("[data-testid=leaderboard][data-metric=GROUP_VOLUME] tbody tr")
            rows = board.locator("tbody tr")
            ranks = _column(page, "[data-testid=leaderboard] tbody td:first-child")
            assert ranks == [str(n) for n in range(1, len(MEMBERS) + 1)]
            ids = [rows.nth(i).get_attribute("data-member") for i in range(3)]
            assert ids == ["R2", "D1", "R1"]
            values = _column(page, "[data-testid=leaderboard] tbody .value-text")
            assert values[:3] == ["¥10,399.00", "¥10,000.00", "¥1,397.00"]
            page.screenshot(path=str(ARTIFACTS / "dashboard-leaderboard.png"), full_page=True)

            # Switching the metric reranks: R1 recruited three, A1 two.
            page.locator("button[data-metric=RECRUITS]").click()
            page.wait_for_selector("[data-testid=leaderboard][data-metric=RECRUITS] tbody tr")
            ids = [rows.nth(i).get_attribute("data-member") for i in range(2)]
            assert ids == ["R1", "A1"]
            assert _column(page, "[data-testid=leaderboard] tbody .value-text")[:2] == ["3", "2"]

            # The window: in the last 30 days only C1's tea (100.00) sold, up C1's chain.
            page.locator("button[data-metric=GROUP_VOLUME]").click()
            page.wait_for_selector("[data-testid=leaderboard][data-metric=GROUP_VOLUME] tbody tr")
            page.get_by_test_id("window").select_option("d30")
            page.wait_for_function(
                "document.querySelector('[data-testid=leaderboard] .value-text')?.textContent"
                " === '¥100.00'"
            )
            ids = [rows.nth(i).get_attribute("data-member") for i in range(4)]
            assert ids == ["A1", "B1", "C1", "R1"]
            page.get_by_test_id("window").select_option("all")
            page.wait_for_function(
                "document.querySelector('[data-testid=leaderboard] .value-text')?.textContent"
                " === '¥10,399.00'"
            )

            # A member: its recruits load with it; expanding one loads exactly one more level.
            page.locator('[data-testid=leaderboard] a[href="#/member/R1"]').click()
            page.wait_for_selector('li[data-member="R1"] > ul > li[data-member="A1"]')
            tree = page.get_by_test_id("tree")
            assert _children(page, "R1") == ["A1", "A2", "A3"]
            assert tree.locator('li[data-member="B1"]').count() == 0
            page.locator('li[data-member="A1"] > .node > button.toggle').click()
            page.wait_for_selector('li[data-member="A1"] > ul > li[data-member="B1"]')
            assert _children(page, "A1") == ["B1", "B2"]
            assert tree.locator('li[data-member="C1"]').count() == 0
            page.locator('li[data-member="B1"] > .node > button.toggle').click()
            page.wait_for_selector('li[data-member="B1"] > ul > li[data-member="C1"]')
            assert "root member" in page.get_by_test_id("upline").inner_text()
            page.wait_for_selector("[data-testid=volume-chart] canvas")
            page.wait_for_selector("[data-testid=member-payouts] table")
            # Growth signals and compliance for R1's branch: six joined below it; its income is
            # gift-package pay on A1's and B1's packages (129.67 + 77.80) and retail overrides.
            growth = page.get_by_test_id("member-growth")
            growth.locator("canvas").wait_for()
            assert "6 members joined the downline" in growth.inner_text()
            assert "0 of 3 direct recruits" in growth.inner_text()
            compliance = page.get_by_test_id("member-compliance")
            compliance.locator("[data-testid=path-check]").wait_for()
            assert "income mostly from recruiting" in compliance.inner_text()
            assert "¥209.72" in compliance.inner_text()
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

            # The upline of a deep member, root first.
            page.goto(base + "/#/member/C1")
            page.wait_for_selector('[data-view=member][data-member="C1"] [data-testid=upline] a')
            upline = page.get_by_test_id("upline").inner_text()
            assert [p.strip() for p in upline.split("›")] == ["R1", "A1", "B1", "C1"]

            # The platform: payouts by tier and kind for the whole network.
            page.get_by_role("link", name="Platform").click()
            page.wait_for_selector("[data-testid=platform-payouts] table")
            # Tier 1: two gift packages (pool 259.35 each, half to the sponsor: 129.67) and four
            # retail sales (500.00 twice at 10%, 15.00 twice at 15%).
            tier1 = page.locator('[data-testid=platform-payouts] tr[data-tier="1"] .value-text')
            assert tier1.all_inner_texts() == ["¥259.34", "¥1,030.00"]
            # Agents by the month of their first gift package, and who is flagged.
            page.wait_for_selector("[data-testid=platform-growth] table.cohorts")
            cohorts = page.locator("[data-testid=platform-growth] table.cohorts tbody tr")
            shown = [
                cohorts.nth(i).locator("td").all_inner_texts()[:2] for i in range(cohorts.count())
            ]
            assert shown == _cohorts()
            # Members joined, new agents, orders and volume per month (platformGrowth).
            page.wait_for_selector("[data-testid=platform-months] table.growth")
            rows = page.locator("[data-testid=platform-months] table.growth tbody tr")
            months = [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]
            assert [m for m in months if m[1:] != ["0", "0", "0", "¥0.00"]] == _growth_months()
            page.wait_for_selector("[data-testid=flagged]")
            flagged = page.locator("[data-testid=flagged] tbody tr td:first-child a")
            assert flagged.all_inner_texts() == ["R1", "A1"]
            check = page.get_by_test_id("path-check").inner_text()
            assert "longest payout path is 3 tiers" in check and "0 payouts off" in check
            page.screenshot(path=str(ARTIFACTS / "dashboard-platform.png"), full_page=True)

            # A bad token is refused at the door; a member's token opens on that member, whose
            # platform figures are not theirs to see.
            page.get_by_role("button", name="Log out").click()
            page.get_by_test_id("token").fill("not-a-token")
            page.get_by_role("button", name="Log in").click()
            page.get_by_text("the token is invalid or has expired").wait_for()
            page.get_by_test_id("token").fill(mint_token(SECRET, role=Role.MEMBER, member_id="A1"))
            page.get_by_role("button", name="Log in").click()
            page.wait_for_selector('li[data-member="A1"] > ul > li[data-member="B1"]')
            assert page.evaluate("sessionStorage.getItem('downline.token')").count(".") == 2
            page.get_by_role("link", name="Platform").click()
            box = page.get_by_test_id("platform-payouts")
            box.get_by_text("for analysts and admins").wait_for()
        finally:
            browser.close()
    assert outside == []


def _cohorts() -> list[list[str]]:
    """[month, agents] of each month in which members bought their first gift package."""
    months: dict[str, int] = {}
    for _, kind, _, _, _, _, days_ago in ORDERS:  # one gift package per buyer
        if kind == "GIFT_PACKAGE":
            month = _when(days_ago).isoformat()[:7]
            months[month] = months.get(month, 0) + 1
    return [[m, str(n)] for m, n in sorted(months.items())]


def _growth_months() -> list[list[str]]:
    """[month, joined, new agents, orders, volume] of each month with any of them."""
    months: dict[str, list[int]] = {}
    for _, _, days_ago, _ in MEMBERS:
        months.setdefault(_when(days_ago).isoformat()[:7], [0, 0, 0, 0])[0] += 1
    for _, kind, _, _, _, amount, days_ago in ORDERS:  # one gift package per buyer, no refunds
        row = months.setdefault(_when(days_ago).isoformat()[:7], [0, 0, 0, 0])
        row[1] += kind == "GIFT_PACKAGE"
        row[2] += 1
        row[3] += parse_yuan(amount)
    return [
        [m, str(j), str(a), str(n), f"¥{fen // 100:,}.{fen % 100:02d}"]
        for m, (j, a, n, fen) in sorted(months.items())
    ]


def _children(page: Page, member_id: str) -> list[str]:
    items = page.locator(f'li[data-member="{member_id}"] > ul > li[data-member]')
    return [items.nth(i).get_attribute("data-member") or "" for i in range(items.count())]
