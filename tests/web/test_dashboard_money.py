"""The money views in Chromium: a member's balance, ledger and withdrawals; finance approving and
rejecting; the audit trail; a candidate plan previewed against the default plan.

The network is loaded and settled with the real ``downline`` commands; adjustments and withdrawal
requests go through GraphQL over HTTP with staff and member tokens, the way the platform's apps
send them. Every figure asserted is worked out below from the rules of the default plan.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from api import dashboard
from api.auth import Role, mint_token
from contract.money import format_yuan, parse_yuan
from contract.settings import Settings
from tests import network
from tests.cli import ROOT, run_steps
from tests.serving import app_url
from tests.web.test_dashboard import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, CST, SECRET, _when

# A line R > A > B > C, every one an agent. (id, sponsor, days ago joined, name)
MEMBERS = [
    ("R", "", 90, "Rui"),
    ("A", "R", 85, "Ann"),
    ("B", "A", 80, "Bo"),
    ("C", "B", 75, "Cai"),
]
PRODUCTS = [("GP399", "Gift package", "399.00", 0), ("TEA", "Tea", "100.00", 1500)]
# (id, kind, buyer, seller, sku, yuan, days ago paid, days ago refunded or None). S2 is refunded
# after the first run settled it, so the second run reverses it; P1 is still in its hold.
ORDERS = [
    ("GR", "GIFT_PACKAGE", "R", "", "GP399", "399.00", 70, None),
    ("GA", "GIFT_PACKAGE", "A", "", "GP399", "399.00", 60, None),
    ("GB", "GIFT_PACKAGE", "B", "", "GP399", "399.00", 50, None),
    ("GC", "GIFT_PACKAGE", "C", "", "GP399", "399.00", 40, None),
    ("S1", "RETAIL", "C", "B", "TEA", "100.00", 30, None),
    ("S2", "RETAIL", "C", "B", "TEA", "100.00", 30, 10),
    ("P1", "RETAIL", "C", "B", "TEA", "100.00", 2, None),
]

# The default plan's shares of these orders, in fen (domain.md): a gift package's pool is
# 39 900 x 6500 / 10 000; the tea pays its seller 15% and the seller's two sponsors 10% and 5%
# of that.
POOL = 39_900 * (10_000 - 3500) // 10_000  # 25 935
GIFT = [POOL * bp // 10_000 for bp in (5000, 3000, 2000)]  # 12 967, 7 780, 5 187
TEA = 10_000 * 1500 // 10_000  # 1 500
TEA_UP = [TEA * bp // 10_000 for bp in (1000, 500)]  # 150, 75
# A candidate plan that pays tier 1 more of a gift package and tier 3 less.
CANDIDATE_BP = (6000, 3000, 1000)
CANDIDATE = [POOL * bp // 10_000 for bp in CANDIDATE_BP]  # 15 561, 7 780, 2 593

# Adjustments an admin adds to A by hand: fifteen of 1.00 and a correction of -0.50, so A's
# ledger has more lines than one page (20) holds.
ADJUSTMENTS = [("1.00", f"welcome bonus {n}") for n in range(1, 16)] + [("-0.50", "correction")]

# A earns tier 1 on B's package, tier 2 on C's package and on both teas (S2's reversed).
A_EARNED = GIFT[0] + GIFT[1] + TEA_UP[0] + TEA_UP[0] - TEA_UP[0]  # 20 897
A_BALANCE = A_EARNED + sum(parse_yuan(a) for a, _ in ADJUSTMENTS)  # 22 347
# B earns tier 1 on C's package and as the seller of both teas (S2's reversed).
B_BALANCE = GIFT[0] + TEA + TEA - TEA  # 14 467
A_WITHDRAWAL, B_WITHDRAWAL = 20_000, 10_000
REASON = "payee account does not match the member"

RESULT = "__typename ... on MutationError { code message }"
ADJUST = (
    "mutation ($id: ID!, $amount: Decimal!, $reason: String!) {"
    " adjustBalance(memberId: $id, amount: $amount, reason: $reason) {"
    " __typename ... on Adjustment { id } ... on MutationError { code message } } }"
)
REQUEST = (
    "mutation ($amount: Decimal!, $key: String!) {"
    " requestWithdrawal(amount: $amount, idempotencyKey: $key) {"
    " __typename ... on Withdrawal { id state } ... on MutationError { code message } } }"
)

BALANCE = "query ($id: ID!) { member(id: $id) { balance { balance available pending paid } } }"


def _yuan(fen: int) -> str:
    """As format.ts shows an amount: ¥, thousands grouped, to the fen."""
    text = format_yuan(abs(fen))
    whole, cents = text.split(".")
    return f"{'-' if fen < 0 else ''}¥{int(whole):,}.{cents}"


def _seed(tmp_path: Path, env: dict[str, str]) -> None:
    files = network.write(
        tmp_path,
        [network.MemberRow(m, s or None, _when(d), n) for m, s, d, n in MEMBERS],
        [network.ProductRow(sku, n, parse_yuan(price), bp) for sku, n, price, bp in PRODUCTS],
        [
            network.OrderRow(
                o, k, b, s or None, sku, parse_yuan(a), _when(d), None if r is None else _when(r)
            )
            for o, k, b, s, sku, a, d, r in ORDERS
        ],
    )
    # The first run's cutoff (20 days ago) settles every order but P1, S2 included; the second
    # (now) reverses S2, refunded 10 days ago.
    steps = [
        files.load_args(),
        ["plan", "load", str(ROOT / "plans" / "default.toml"), "--actor", "ops"],
        ["settle", "--until", _when(20).isoformat(), "--actor", "ops"],
        ["settle", "--until", datetime.now(CST).isoformat(timespec="seconds"), "--actor", "ops"],
    ]
    run_steps(steps, env)


def _post(client: httpx.Client, token: str, query: str, **variables: Any) -> dict[str, Any]:
    answer = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


@pytest.fixture
def site(settings: Settings, cli_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """The app serving the seeded network, with A's and B's withdrawal requests open."""
    assert (dashboard.DIST / "index.html").is_file(), "the dashboard is not built: run make setup"
    env = {**cli_env, "DOWNLINE_JWT_SECRET": SECRET}
    _seed(tmp_path, env)
    alice = mint_token(SECRET, role=Role.ADMIN, sub="alice")
    # A deadline with room for planning on a busy machine (as tests/api/conftest.py allows).
    served = replace(settings, jwt_secret=SECRET, request_deadline_s=30.0)
    with app_url(served) as base:
        with httpx.Client(base_url=base, timeout=30) as client:
            for amount, reason in ADJUSTMENTS:
                made = _post(client, alice, ADJUST, id="A", amount=amount, reason=reason)
                assert made["adjustBalance"]["__typename"] == "Adjustment", made
            for member, fen in (("A", A_WITHDRAWAL), ("B", B_WITHDRAWAL)):
                token = mint_token(SECRET, role=Role.MEMBER, member_id=member)
                asked = _post(client, token, REQUEST, amount=format_yuan(fen), key="first")
                assert asked["requestWithdrawal"]["state"] == "REQUESTED", asked
            # What the page will show, as the API answers it.
            balance = _post(client, alice, BALANCE, id="A")["member"]["balance"]
            assert balance == {
                "balance": format_yuan(A_BALANCE),
                "available": format_yuan(A_BALANCE - A_WITHDRAWAL),
                "pending": format_yuan(TEA_UP[0]),
                "paid": "0.00",
            }
        yield base


def _login(browser: Browser, base: str, token: str) -> Page:
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    # Room for a member page's dozen queries on a busy machine; a bound, not a measurement.
    page.set_default_timeout(90_000)
    page.goto(base + "/")
    page.get_by_test_id("token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.locator("header nav.tabs").wait_for()
    return page


def _cells(page: Page, row_selector: str) -> list[list[str]]:
    rows = page.locator(row_selector)
    return [
        [t.strip() for t in rows.nth(i).locator("td").all_inner_texts()]
        for i in range(rows.count())
    ]


def _stat(page: Page, key: str) -> str:
    return page.locator(f"[data-testid=balance-{key}] .stat-value").inner_text().strip()


def test_money_views_in_chromium(site: str) -> None:
    if shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is missing: run make setup")
    base = site
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            _member_page(browser, base)
            admin = _login(browser, base, mint_token(SECRET, role=Role.ADMIN, sub="alice"))
            _finance(admin, base)
            _audit(admin)
            _preview(admin)
            # B's page after the decision: the rejection and its reason; the amount is free again.
            admin.goto(base + "/#/member/B")
            admin.wait_for_selector("[data-testid=member-withdrawals] tr[data-state=REJECTED]")
            row = _cells(admin, "[data-testid=member-withdrawals] tbody tr")[0]
            assert row[1:3] == [_yuan(B_WITHDRAWAL), "REJECTED"]
            assert row[4:6] == ["alice", REASON]
            admin.wait_for_selector("[data-testid=member-balance][data-state=ready]")
            assert _stat(admin, "available") == _yuan(B_BALANCE) == "¥144.67"
            assert _stat(admin, "pending") == _yuan(TEA) == "¥15.00"
        finally:
            browser.close()


def _member_page(browser: Browser, base: str) -> None:
    """A's own token opens on A's page: balance, income details page by page, the request."""
    page = _login(browser, base, mint_token(SECRET, role=Role.MEMBER, member_id="A"))
    page.wait_for_selector("[data-testid=member-balance][data-state=ready]")
    assert _stat(page, "balance") == _yuan(A_BALANCE) == "¥223.47"
    assert _stat(page, "available") == _yuan(A_BALANCE - A_WITHDRAWAL) == "¥23.47"
    assert _stat(page, "withdrawing") == "¥200.00"
    assert _stat(page, "pending") == _yuan(TEA_UP[0]) == "¥1.50"  # P1, tier 2, in its hold
    assert _stat(page, "paid") == "¥0.00"

    page.wait_for_selector("[data-testid=member-ledger][data-state=ready] tbody tr")
    lines = "[data-testid=member-ledger] tbody tr"
    assert page.locator(lines).count() == 20
    more = page.get_by_test_id("ledger-more")
    assert more.is_visible()
    more.click()
    page.wait_for_function(
        f"document.querySelectorAll('{lines}').length === {len(ADJUSTMENTS) + 5}"
    )
    assert more.is_hidden()
    assert page.get_by_test_id("ledger-count").inner_text() == "21 of 21 lines, newest first."
    shown = _cells(page, lines)
    # Newest first: the adjustments, the last one made on top; then the second run's reversal;
    # then the first run's four lines, in an order the cursor fixes (same run, same time).
    adjustments = [[r[2], r[3], r[4], r[5], r[7], r[8]] for r in shown[:16]]
    assert adjustments == [
        [f"Adjustment ({reason})", "–", _yuan(parse_yuan(amount)), "", "–", "–"]
        for amount, reason in reversed(ADJUSTMENTS)
    ]
    settled = [[r[1], r[2], r[3], r[4], r[5], r[7], r[8]] for r in shown[16:]]
    assert settled[0] == ["S2", "Retail", "2", "-¥1.50", "reversal", "C Cai", "B Bo"]
    assert sorted(settled[1:]) == sorted(
        [
            ["GB", "Gift package", "1", _yuan(GIFT[0]), "", "B Bo", "–"],
            ["GC", "Gift package", "2", _yuan(GIFT[1]), "", "C Cai", "–"],
            ["S1", "Retail", "2", _yuan(TEA_UP[0]), "", "C Cai", "B Bo"],
            ["S2", "Retail", "2", _yuan(TEA_UP[0]), "", "C Cai", "B Bo"],
        ]
    )
    assert {r[6] for r in shown[:16]} == {"–"}  # adjustments belong to no run
    runs = {r[6] for r in shown[16:]}
    assert len(runs) == 2 and "–" not in runs  # the reversal's run and the first run

    page.wait_for_selector("[data-testid=member-withdrawals][data-state=ready] tbody tr")
    withdrawals = _cells(page, "[data-testid=member-withdrawals] tbody tr")
    assert [w[1:3] for w in withdrawals] == [["¥200.00", "REQUESTED"]]
    page.screenshot(path=str(ARTIFACTS / "dashboard-member-money.png"), full_page=True)
    page.close()


def _finance(page: Page, base: str) -> None:
    """Both requests, oldest first; A's approved stays (until paid), B's rejected leaves."""
    page.goto(base + "/#/finance")
    page.wait_for_selector("[data-testid=open-withdrawals][data-state=ready] tbody tr")
    rows = "[data-testid=open-withdrawals] tbody tr"
    shown = _cells(page, rows)
    assert [r[1:4] for r in shown] == [
        ["A Ann", "¥200.00", "REQUESTED"],
        ["B Bo", "¥100.00", "REQUESTED"],
    ]
    assert (
        page.get_by_test_id("open-count").inner_text() == "2 of 2 open withdrawals, oldest first."
    )

    a_row = page.locator(f"{rows}[data-member=A]")
    a_row.get_by_test_id("approve").click()
    page.wait_for_selector(f"{rows}[data-member=A][data-state=APPROVED]")
    approved = _cells(page, f"{rows}[data-member=A]")[0]
    assert approved[1:4] == ["A Ann", "¥200.00", "APPROVED"]
    assert approved[4].startswith("approved by alice")

    # A rejection without a reason is not sent: the browser holds the form back.
    b_row = page.locator(f"{rows}[data-member=B]")
    b_row.get_by_test_id("reject").click()
    assert b_row.get_by_test_id("reject-reason").evaluate("el => el.validity.valueMissing")
    assert b_row.get_attribute("data-state") == "REQUESTED"
    b_row.get_by_test_id("reject-reason").fill(REASON)
    b_row.get_by_test_id("reject").click()
    page.wait_for_selector(f"{rows}[data-member=B]", state="detached")
    assert [r[1:4] for r in _cells(page, rows)] == [["A Ann", "¥200.00", "APPROVED"]]
    assert (
        page.get_by_test_id("open-count").inner_text() == "1 of 1 open withdrawals, oldest first."
    )
    page.screenshot(path=str(ARTIFACTS / "dashboard-finance.png"), full_page=True)

    # Reloaded, the list is what the server holds: A's approved request only.
    page.reload()
    page.wait_for_selector("[data-testid=open-withdrawals][data-state=ready] tbody tr")
    assert [r[1:4] for r in _cells(page, rows)] == [["A Ann", "¥200.00", "APPROVED"]]


def _audit(page: Page) -> None:
    """The decisions on top with their actor; 21 records in all, the last one behind More."""
    page.get_by_role("link", name="Audit").click()
    page.wait_for_selector("[data-testid=audit-log][data-state=ready] tbody tr")
    rows = "[data-testid=audit-log] tbody tr"
    shown = _cells(page, rows)
    assert len(shown) == 20
    # actor, time, action, target, before, after, reason
    reject, approve = shown[0], shown[1]
    assert [reject[0], reject[2], reject[3], reject[6]] == [
        "alice",
        "withdrawal.reject",
        "B",
        REASON,
    ]
    assert "state=REQUESTED" in reject[4] and "amount=10000" in reject[4]
    assert "state=REJECTED" in reject[5]
    assert [approve[0], approve[2], approve[3], approve[6]] == [
        "alice",
        "withdrawal.approve",
        "A",
        "",
    ]
    assert "state=APPROVED" in approve[5] and "amount=20000" in approve[5]
    assert [(r[0], r[2], r[3], r[6]) for r in shown[2:18]] == [
        ("alice", "adjust", "A", reason) for _, reason in reversed(ADJUSTMENTS)
    ]
    assert [(r[0], r[2]) for r in shown[18:20]] == [("ops", "settle"), ("ops", "settle")]
    page.get_by_test_id("audit-more").click()
    page.wait_for_function(f"document.querySelectorAll('{rows}').length === 21")
    last = _cells(page, rows)[20]
    assert (last[0], last[2], last[3]) == ("ops", "plan.load", "default")
    assert page.get_by_test_id("audit-more").is_hidden()

    # Filtered by target B: only the rejection.
    page.get_by_test_id("audit-target").fill("B")
    page.get_by_role("button", name="Show").click()
    page.wait_for_function(f"document.querySelectorAll('{rows}').length === 1")
    page.wait_for_selector("[data-testid=audit-log][data-state=ready]")
    assert [(r[2], r[3]) for r in _cells(page, rows)] == [("withdrawal.reject", "B")]
    # By action: A's approval.
    page.get_by_test_id("audit-target").fill("")
    page.get_by_test_id("audit-action").select_option("withdrawal.approve")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector(f"{rows}[data-action='withdrawal.approve']")
    page.wait_for_function(f"document.querySelectorAll('{rows}').length === 1")
    assert [(r[0], r[3]) for r in _cells(page, rows)] == [("alice", "A")]
    page.screenshot(path=str(ARTIFACTS / "dashboard-audit.png"), full_page=True)


def _preview(page: Page) -> None:
    """A candidate paying 60/30/10 of a gift package's pool beside the default's 50/30/20."""
    page.get_by_role("link", name="Preview").click()
    plan = (ROOT / "plans" / "default.toml").read_text(encoding="utf-8")
    plan = plan.replace('id = "default"', 'id = "candidate"')
    plan = plan.replace("[5000, 3000, 2000]", "[" + ", ".join(map(str, CANDIDATE_BP)) + "]")
    page.get_by_test_id("preview-plan").fill(plan)
    page.get_by_role("button", name="Preview").click()
    page.wait_for_selector("[data-testid=preview-result][data-state=ready]")
    page.wait_for_selector("[data-testid=preview-differences] tbody tr")

    def row(key: str) -> list[str]:
        cells = page.locator(f"[data-testid=preview-differences] tr[data-row={key}] td")
        return [t.strip() for t in cells.all_inner_texts()]

    # Tier 1 of the three packages with a sponsor (GA, GB, GC) gets 155.61 instead of 129.67;
    # tier 3 exists for GC only, 25.93 instead of 51.87; tier 2 and the teas do not change.
    tier1 = 3 * (CANDIDATE[0] - GIFT[0])
    tier3 = CANDIDATE[2] - GIFT[2]
    assert row("tier-1")[2] == "+" + _yuan(tier1) == "+¥77.82"
    assert row("tier-2")[2] == "¥0.00"
    assert row("tier-3")[2] == _yuan(tier3) == "-¥25.94"
    committed_gift = 3 * GIFT[0] + 2 * GIFT[1] + GIFT[2]
    candidate_gift = 3 * CANDIDATE[0] + 2 * CANDIDATE[1] + CANDIDATE[2]
    assert row("kind-GIFT_PACKAGE") == [
        _yuan(committed_gift),
        _yuan(candidate_gift),
        "+" + _yuan(candidate_gift - committed_gift),
    ]
    assert row("kind-GIFT_PACKAGE") == ["¥596.48", "¥648.36", "+¥51.88"]
    assert row("kind-RETAIL")[2] == "¥0.00"
    # What the candidate pays more is what the platform keeps less.
    assert row("retained")[2] == _yuan(-(tier1 + tier3)) == "-¥51.88"

    chart = page.get_by_test_id("preview-chart")
    assert chart.locator("svg").count() == 1
    bars = chart.locator("rect[data-row]")
    drawn = {
        bars.nth(i).get_attribute("data-row"): bars.nth(i).get_attribute("data-difference")
        for i in range(bars.count())
    }
    assert drawn == {
        "tier-1": "77.82",
        "tier-2": "0.00",
        "tier-3": "-25.94",
        "kind-GIFT_PACKAGE": "51.88",
        "kind-RETAIL": "0.00",
        "retained": "-51.88",
    }
    page.screenshot(path=str(ARTIFACTS / "dashboard-preview.png"), full_page=True)
