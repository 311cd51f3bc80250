"""The risk view (#/risk) in Debian's headless Chromium, against the real app on a seeded network
with identity signals: loaded, settled and risk-refreshed with the real ``downline`` commands.

It lists the clusters with their evidence, pages through them, and draws one with cytoscape
(read back from ``window.__riskGraph`` and the drawing's data attributes). A screenshot lands in
artifacts/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright

from api import dashboard
from api.auth import Role, mint_token
from contract.money import parse_yuan
from contract.settings import Settings
from graph.risk import flag_id
from tests import network
from tests.cli import ROOT, run_steps
from tests.serving import app_url
from tests.web.test_dashboard import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, SECRET, _when

PAIRS = 21
"""Root pairs sharing a phone each: with the four clusters below, more than a page (20)."""

# (id, sponsor, days ago joined, (phone_hash, device_id, payee_account)).
# F's recruits F1-F3 joined within three days on one device: a farm, and duplicate accounts.
# S3 shares S1's phone two tiers down: a self-referral, and duplicate accounts. H1 is honest.
MEMBERS: list[tuple[str, str, int, tuple[str, str, str]]] = [
    ("R1", "", 200, ("", "", "")),
    ("F", "R1", 150, ("ph:f", "", "")),
    ("F1", "F", 30, ("", "dev:farm", "")),
    ("F2", "F", 29, ("", "dev:farm", "")),
    ("F3", "F", 28, ("ph:f3", "dev:farm", "")),
    ("S1", "R1", 120, ("ph:s", "", "")),
    ("S2", "S1", 110, ("", "", "")),
    ("S3", "S2", 100, ("ph:s", "dev:s3", "")),
    ("H1", "R1", 90, ("ph:h1", "dev:h1", "pay:h1")),
]
MEMBERS += [
    (f"P{n:02d}{side}", "", 80, (f"ph:p{n:02d}", "", ""))
    for n in range(1, PAIRS + 1)
    for side in "ab"
]
PRODUCTS = [("GP399", "Gift package", "399.00", 0), ("SKU1", "Tea", "100.00", 1500)]
# (id, kind, buyer, seller, sku, yuan, days ago paid): R1, F and S1 become agents (only agents
# earn); F is paid tier 1 on each of its three recruits' gift packages (half of the 259.35 pool:
# 129.67), and S1 the 15.00 commission (1500 bp) on its sale to S3.
ORDERS = [
    ("G0", "GIFT_PACKAGE", "R1", "", "GP399", "399.00", 190),
    ("GF", "GIFT_PACKAGE", "F", "", "GP399", "399.00", 140),
    ("GS", "GIFT_PACKAGE", "S1", "", "GP399", "399.00", 115),
    ("G1", "GIFT_PACKAGE", "F1", "", "GP399", "399.00", 27),
    ("G2", "GIFT_PACKAGE", "F2", "", "GP399", "399.00", 26),
    ("G3", "GIFT_PACKAGE", "F3", "", "GP399", "399.00", 25),
    ("O1", "RETAIL", "S3", "S1", "SKU1", "100.00", 60),
]

FARM = flag_id("farm", ["F", "F1", "F2", "F3"])
SELF = flag_id("self_referral", ["S1", "S3"])
# Each expected row: [kind, members, identifiers shared, tier distance, money at stake, state].
CLUSTERS: dict[str, list[str]] = {
    FARM: ["farm", "4: F, F1, F2, F3 (sponsor F)", "device_id dev:farm", "–", "¥389.01", "open"],
    flag_id("duplicate_accounts", ["F1", "F2", "F3"]): [
        "duplicate-accounts",
        "3: F1, F2, F3",
        "device_id dev:farm",
        "–",
        "¥0.00",
        "open",
    ],
    SELF: ["self-referral", "2: S1, S3", "phone_hash ph:s", "2", "¥15.00", "open"],
    flag_id("duplicate_accounts", ["S1", "S3"]): [
        "duplicate-accounts",
        "2: S1, S3",
        "phone_hash ph:s",
        "–",
        "¥15.00",
        "open",
    ],
}
CLUSTERS |= {
    flag_id("duplicate_accounts", [f"P{n:02d}a", f"P{n:02d}b"]): [
        "duplicate-accounts",
        f"2: P{n:02d}a, P{n:02d}b",
        f"phone_hash ph:p{n:02d}",
        "–",
        "¥0.00",
        "open",
    ]
    for n in range(1, PAIRS + 1)
}
BY_ID = sorted(CLUSTERS)  # riskClusters pages by flag id


def _seed(tmp_path: Path, env: dict[str, str]) -> None:
    files = network.write(
        tmp_path,
        [network.MemberRow(m, s or None, _when(d), m, ids) for m, s, d, ids in MEMBERS],
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
        ["risk", "refresh"],
    ]
    run_steps(steps, env)


@pytest.fixture
def site(settings: Settings, cli_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """The base URL of the app serving the seeded, risk-refreshed network."""
    assert (dashboard.DIST / "index.html").is_file(), "the dashboard is not built: run make setup"
    _seed(tmp_path, {**cli_env, "DOWNLINE_JWT_SECRET": SECRET})
    with app_url(replace(settings, jwt_secret=SECRET)) as base:
        yield base


def _rows(page: Page) -> dict[str, list[str]]:
    """The cluster list as shown: flag id to its cells (the Draw button's cell left out)."""
    rows = page.locator("[data-testid=risk-clusters] tbody tr")
    shown = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        shown[row.get_attribute("data-flag") or ""] = cells[:-1]
    return shown


def _drawn(page: Page, flag: str) -> dict[str, Any]:
    page.wait_for_selector(f"[data-testid=risk-graph][data-flag='{flag}']")
    counts: dict[str, Any] = page.evaluate(
        """() => {
          const cy = window.__riskGraph;
          const box = document.querySelector('[data-testid=risk-graph]').dataset;
          return {
            members: cy.nodes('.member').map((n) => n.data('member')).sort(),
            identifiers: cy.nodes('.identifier').map((n) => n.data('label')).sort(),
            uses: cy.edges('.uses').map((e) => e.source().data('member') + '>'
              + e.target().data('label')).sort(),
            sponsorships: cy.edges('.sponsor').map((e) => e.source().data('member') + '>'
              + e.target().data('member')).sort(),
            nodes: cy.nodes().length,
            edges: cy.edges().length,
            canvas: document.querySelectorAll('[data-testid=risk-graph] canvas').length > 0,
            attributes: [box.members, box.identifiers, box.uses, box.sponsorships],
          };
        }"""
    )
    return counts


def _log_in(page: Page, base: str, token: str) -> None:
    page.goto(base + "/")
    page.get_by_test_id("token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("header nav.tabs")


def test_risk_view_in_chromium(site: str) -> None:
    if shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is missing: run make setup")
    base = site
    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 1000})
            page.on(
                "request",
                lambda r: None if r.url.startswith((base, "data:")) else outside.append(r.url),
            )
            _log_in(page, base, mint_token(SECRET, role=Role.ANALYST))
            page.get_by_role("link", name="Risk").click()

            # The first page: the first 20 clusters by id, each with its evidence.
            page.wait_for_selector("[data-testid=risk-clusters][data-state=ready] tbody tr")
            assert _rows(page) == {f: CLUSTERS[f] for f in BY_ID[:20]}
            assert page.get_by_test_id("risk-count").inner_text() == "20 of 25 clusters"
            # "More" brings the rest through the cursor, and then there is no more.
            page.get_by_test_id("risk-more").click()
            page.wait_for_function(
                "document.querySelectorAll('[data-testid=risk-clusters] tbody tr').length === 25"
            )
            assert _rows(page) == CLUSTERS
            assert list(_rows(page)) == BY_ID
            assert page.get_by_test_id("risk-count").inner_text() == "25 of 25 clusters"
            assert page.get_by_test_id("risk-more").is_hidden()

            # At least three members: the farm and its recruits' duplicate accounts.
            page.get_by_test_id("risk-min-size").fill("3")
            page.get_by_test_id("risk-min-size").dispatch_event("change")
            page.wait_for_function(
                "document.querySelectorAll('[data-testid=risk-clusters] tbody tr').length === 2"
            )
            big = [flag_id("duplicate_accounts", ["F1", "F2", "F3"]), FARM]
            assert _rows(page) == {f: CLUSTERS[f] for f in sorted(big)}
            # The farm alone, drawn: F and its three recruits, the one device they share (F's own
            # phone and F3's are no evidence), three USES edges and three SPONSORED_BY edges.
            page.get_by_test_id("risk-kind").select_option("FARM")
            page.wait_for_function(
                "document.querySelectorAll('[data-testid=risk-clusters] tbody tr').length === 1"
                " && document.querySelector('[data-testid=risk-clusters] tbody tr')"
                f".dataset.flag === '{FARM}'"
            )
            assert page.get_by_test_id("risk-count").inner_text() == "1 of 1 clusters"
            page.locator(f"tr[data-flag='{FARM}'] button.draw").click()
            drawn = _drawn(page, FARM)
            assert drawn == {
                "members": ["F", "F1", "F2", "F3"],
                "identifiers": ["device_id dev:farm"],
                "uses": [f"F{n}>device_id dev:farm" for n in (1, 2, 3)],
                "sponsorships": ["F1>F", "F2>F", "F3>F"],
                "nodes": 5,
                "edges": 6,
                "canvas": True,
                "attributes": ["4", "1", "3", "3"],
            }
            page.screenshot(path=str(ARTIFACTS / "dashboard-risk.png"), full_page=True)

            # The self-referral, two tiers apart: one phone, no sponsor edge between them.
            page.get_by_test_id("risk-kind").select_option("SELF_REFERRAL")
            page.get_by_test_id("risk-min-size").fill("2")
            page.get_by_test_id("risk-min-size").dispatch_event("change")
            page.wait_for_selector(f"tr[data-flag='{SELF}'] button.draw")
            assert _rows(page) == {SELF: CLUSTERS[SELF]}
            page.locator(f"tr[data-flag='{SELF}'] button.draw").click()
            assert _drawn(page, SELF) == {
                "members": ["S1", "S3"],
                "identifiers": ["phone_hash ph:s"],
                "uses": ["S1>phone_hash ph:s", "S3>phone_hash ph:s"],
                "sponsorships": [],
                "nodes": 3,
                "edges": 2,
                "canvas": True,
                "attributes": ["2", "1", "2", "0"],
            }

            # The member page lists the member's flags for an analyst.
            page.goto(base + "/#/member/S1")
            page.wait_for_selector("[data-testid=member-risk][data-state=ready] tbody tr")
            flags = page.locator("[data-testid=member-risk] tbody tr")
            shown = [flags.nth(i).locator("td").all_inner_texts() for i in range(flags.count())]
            assert shown == [
                ["duplicate-accounts", "2", "1", "–", "¥15.00", "open"],
                ["self-referral", "2", "1", "2", "¥15.00", "open"],
            ]

            # A member's token sees neither its flags nor the clusters: a notice, no table.
            page.get_by_role("button", name="Log out").click()
            _log_in(page, base, mint_token(SECRET, role=Role.MEMBER, member_id="S1"))
            box = page.get_by_test_id("member-risk")
            box.get_by_text("for analysts and admins").wait_for()
            assert page.locator("[data-testid=member-risk][data-state=forbidden]").count() == 1
            page.get_by_role("link", name="Risk").click()
            clusters = page.get_by_test_id("risk-clusters")
            clusters.get_by_text("for analysts and admins").wait_for()
            assert clusters.get_attribute("data-state") == "forbidden"
            assert clusters.locator("tr").count() == 0
        finally:
            browser.close()
    assert outside == []
