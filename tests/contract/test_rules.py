"""The input rules (contract/rules.py) and the money and time text they build on, without Neo4j."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from contract.money import parse_bp, parse_timestamp, parse_yuan
from contract.rules import (
    DEFAULT_RULES,
    MAX_AMOUNT,
    Rules,
    check_id,
    check_name,
    gift_package_product,
    kind_problem,
)
from contract.settings import Settings, SettingsError

CST = timezone(timedelta(hours=8))
ID_RULE = "1-64 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'"


@pytest.mark.parametrize("text", ["١٤٩", "１４９", "९९", "1.00\n", " 1.00", "1.00 ", "12,00"])
def test_amounts_are_ascii_digits_and_nothing_else(text: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_yuan(text)
    assert str(refused.value) == f"{text!r} is not an amount in yuan with at most 2 decimals"


def test_amounts_as_written() -> None:
    assert parse_yuan("149") == 14_900
    assert parse_yuan("0.5") == 50
    assert parse_yuan("999999999999.99") == MAX_AMOUNT


def test_bp_are_ascii_digits() -> None:
    with pytest.raises(ValueError) as refused:
        parse_bp("١٥٠٠")
    assert str(refused.value) == "'١٥٠٠' is not a whole number of basis points"


def test_the_maximum_amount_is_configured() -> None:
    assert DEFAULT_RULES.check_amount(MAX_AMOUNT) == MAX_AMOUNT
    capped = Rules(max_amount=100_000)
    assert capped.check_amount(100_000) == 100_000
    with pytest.raises(ValueError) as refused:
        capped.check_amount(100_001)
    assert str(refused.value) == "amount must be at most 1000.00 yuan, got 1000.01"


def test_max_order_amount_setting() -> None:
    assert Settings.from_env({}).max_order_amount == MAX_AMOUNT == 99_999_999_999_999
    assert Settings.from_env({"DOWNLINE_MAX_ORDER_AMOUNT": "10000000"}).rules == Rules(
        max_amount=1_000_000_000
    )
    for bad in ("abc", "0", "-5", "١٤٩", "1000000000000.00"):
        with pytest.raises(SettingsError) as refused:
            Settings.from_env({"DOWNLINE_MAX_ORDER_AMOUNT": bad})
        assert str(refused.value) == (
            "DOWNLINE_MAX_ORDER_AMOUNT must be an amount in yuan above 0 and at"
            f" most 999999999999.99, got {bad!r}"
        )


def test_a_timestamp_utc_cannot_hold_is_refused_as_text() -> None:
    # Year 0 in UTC: the driver's "Ticks out of range" before this check.
    with pytest.raises(ValueError) as refused:
        parse_timestamp("0001-01-01T00:00:00+14:00")
    assert str(refused.value) == "'0001-01-01T00:00:00+14:00' is out of range (years 1-9999 in UTC)"
    with pytest.raises(ValueError, match="is not an ISO 8601 timestamp"):
        parse_timestamp("2026-01-01T00:00:00+08:00\n")


def test_the_time_window() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    latest = DEFAULT_RULES.latest(now)
    assert latest == now + timedelta(days=1)
    ok = datetime(2000, 1, 1, tzinfo=UTC)
    assert DEFAULT_RULES.check_time(ok, "paidAt", latest=latest) == ok
    assert DEFAULT_RULES.check_time(latest, "paidAt", latest=latest) == latest
    cases = [
        (
            datetime(2000, 1, 1, 7, 59, tzinfo=CST),
            "paidAt: 2000-01-01T07:59:00+08:00 is before 2000-01-01T00:00:00+00:00",
        ),
        (
            datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
            "paidAt: 0001-01-01T00:00:00+14:00 is before 2000-01-01T00:00:00+00:00",
        ),
        (
            latest + timedelta(seconds=1),
            "paidAt: 2026-12-02T12:00:01+00:00 is more than a day in the future",
        ),
        (
            datetime(9999, 1, 1, tzinfo=CST),
            "paidAt: 9999-01-01T00:00:00+08:00 is more than a day in the future",
        ),
        (
            datetime(2026, 1, 1),
            "paidAt: '2026-01-01T00:00:00' has no UTC offset"
            " (write e.g. 2026-11-30T00:00:00+08:00)",
        ),
    ]
    for value, message in cases:
        with pytest.raises(ValueError) as refused:
            DEFAULT_RULES.check_time(value, "paidAt", latest=latest)
        assert str(refused.value) == message


@pytest.mark.parametrize(
    "value", ["M0000001", "O000000001", "SKU00001", "GP399", "API-01-00001", "a.b:c_d-e", "x" * 64]
)
def test_ids_that_fit(value: str) -> None:
    assert check_id(value, "member id") == value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("", "''"),
        ("M 1", "'M 1'"),
        (" M1", "' M1'"),
        ("M1\x00", "'M1\\x00'"),
        ("M1\u202e", "'M1\\u202e'"),
        ("会员1", "'会员1'"),
        ("M１", "'M１'"),
        ("x" * 65, "'" + "x" * 64 + "'... (65 characters)"),
        ("O" * 100_000, "'" + "O" * 64 + "'... (100,000 characters)"),
    ],
)
def test_ids_that_do_not(value: str, shown: str) -> None:
    with pytest.raises(ValueError) as refused:
        check_id(value, "order id")
    assert str(refused.value) == f"order id must be {ID_RULE}, got {shown}"


def test_names() -> None:
    assert check_name(" 张三 ") == "张三"
    assert check_name("👨\u200d👩\u200d👧") == "👨\u200d👩\u200d👧"  # joiners are fine
    assert check_name("x" * 200) == "x" * 200
    cases = [
        ("  ", "name must not be empty"),
        ("x" * 201, "name must be at most 200 characters, got 201"),
        ("x" * 100_000, "name must be at most 200 characters, got 100,000"),
        (
            "张\x00三",
            "name must not contain control or bidirectional formatting characters"
            " (U+0000 at position 2)",
        ),
        (
            "abc\u202egpj.exe",
            "name must not contain control or bidirectional formatting characters"
            " (U+202E at position 4)",
        ),
        (
            "a\nb",
            "name must not contain control or bidirectional formatting characters"
            " (U+000A at position 2)",
        ),
        (
            "\u2066x",
            "name must not contain control or bidirectional formatting characters"
            " (U+2066 at position 1)",
        ),
    ]
    for value, message in cases:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            check_name(value)


def test_a_gift_package_is_a_product_without_a_rate() -> None:
    assert gift_package_product(0) and not gift_package_product(1500)
    assert kind_problem("O1", "GIFT_PACKAGE", "GP399", 0) is None
    assert kind_problem("O1", "RETAIL", "SKU1", 1500) is None
    assert kind_problem("O1", "RETAIL", "GP399", 0) == (
        "order O1 is RETAIL but product GP399 is a gift package (commission_bp 0)"
    )
    assert kind_problem("O1", "GIFT_PACKAGE", "SKU1", 1500) == (
        "order O1 is a GIFT_PACKAGE but product SKU1 is retail (commission_bp 1500;"
        " a gift package's is 0)"
    )
