"""The subscriber exports of the tools people migrate from import as they come (one sample file
of each in tests/support/exports/), and readers those tools mark as gone are never imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.db import session_scope
from digest.errors import InvalidInput
from digest.models import Subscriber, SubscriberStatus
from digest.readers import csv_io
from digest.readers.csv_io import ImportRow
from tests.support.ledger import NOW

EXPORTS = Path(__file__).parents[1] / "support" / "exports"


def parse(name: str) -> list[ImportRow]:
    path = EXPORTS / name
    return csv_io.parse_csv(name, path.read_bytes())


def summary(rows: list[ImportRow]) -> list[tuple[str, str | None, str | None, bool]]:
    return [(row.email, row.name, row.left, row.unconfirmed) for row in rows]


def test_mailchimp_audience_export() -> None:
    assert summary(parse("mailchimp_subscribed.csv")) == [
        ("mc.one@example.com", "Ada Lovelace", None, False),
        ("mc.two@example.com", None, None, False),
        ("mc.three@example.com", "Grace", None, False),
    ]


def test_mailchimp_unsubscribed_and_cleaned_exports_import_nobody() -> None:
    assert summary(parse("mailchimp_unsubscribed.csv")) == [
        ("mc.gone@example.com", None, "unsubscribed", False)
    ]
    assert summary(parse("mailchimp_cleaned.csv")) == [
        ("mc.bounced@example.com", None, "cleaned (bounced)", False)
    ]


def test_substack_export() -> None:
    assert summary(parse("substack.csv")) == [
        ("ss.paid@example.com", None, None, False),
        ("ss.free@example.com", None, None, False),
        ("ss.disabled@example.com", None, "email disabled", False),
    ]


def test_buttondown_export() -> None:
    assert summary(parse("buttondown.csv")) == [
        ("bd.regular@example.com", None, None, False),
        ("bd.premium@example.com", None, None, False),
        ("bd.left@example.com", None, "unsubscribed", False),
        ("bd.new@example.com", None, None, True),
    ]


def test_listmonk_export() -> None:
    assert summary(parse("listmonk.csv")) == [
        ("lm.one@example.com", "Margaret Hamilton", None, False),
        ("lm.two@example.com", None, None, False),
        ("lm.blocked@example.com", None, "blocklisted", False),
    ]


@pytest.mark.parametrize(
    "header",
    ["Email Address,First Name", "email_address,first_name", "E-Mail,Full Name", "EMAIL,NAME"],
)
def test_header_spellings(header: str) -> None:
    (row,) = csv_io.parse_csv("x.csv", f"{header}\nOne@Example.com,Ann\n".encode())
    assert (row.email, row.name) == ("one@example.com", "Ann")


def test_a_file_without_an_address_column_names_what_it_needs() -> None:
    with pytest.raises(InvalidInput, match="Email Address"):
        csv_io.parse_csv("x.csv", b"First Name,Last Name\nAnn,Lee\n")


def test_an_address_column_named_twice_is_refused() -> None:
    with pytest.raises(InvalidInput, match="twice"):
        csv_io.parse_csv("x.csv", b"Email,email\na@example.com,b@example.com\n")
    with pytest.raises(InvalidInput, match="two address columns"):
        csv_io.parse_csv("x.csv", b"Email,email_address\na@example.com,b@example.com\n")


def test_importing_every_sample_as_confirmed(engine: Engine) -> None:
    rows = [row for name in sorted(EXPORTS.glob("*.csv")) for row in parse(name.name)]
    with session_scope(engine) as session:
        report = csv_io.import_rows(session, rows, confirmed=True, now=NOW)
    assert sorted(report.left_before) == [
        "bd.left@example.com",
        "lm.blocked@example.com",
        "mc.bounced@example.com",
        "mc.gone@example.com",
        "ss.disabled@example.com",
    ]
    assert list(report.asked_to_confirm) == ["bd.new@example.com"] and report.confirmations == 1
    with session_scope(engine, read_only=True) as session:
        stored = {s.email: s for s in session.exec(select(Subscriber)).all()}
    assert set(stored) == {row.email for row in rows if row.left is None}
    assert stored["bd.new@example.com"].status == SubscriberStatus.PENDING
    assert stored["mc.one@example.com"].status == SubscriberStatus.CONFIRMED
    assert stored["mc.one@example.com"].name == "Ada Lovelace"
    assert stored["lm.one@example.com"].name == "Margaret Hamilton"
