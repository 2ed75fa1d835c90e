"""Bot defences and limits of the public requests, on both engines: single-use stamps, the
canonical mailbox, the hourly cap on mail anyone can cause, valid client addresses only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from digest import throttle
from digest.config import Settings
from digest.db import session_scope
from digest.models import ConsentRoute, ReaderRequest, RequestKind
from digest.readers import defences, signup, subscriptions
from digest.readers.defences import StampCheck
from digest.transports import make_transport
from tests.support.mailbox import outbox_mail
from tests.support.readers import NOW, subscribe_now
from tests.support.settings import make_test_settings


@pytest.mark.parametrize(
    ("typed", "mailbox"),
    [
        ("Ann.Lee@Gmail.com", "annlee@gmail.com"),
        ("a.n.n.l.e.e+news@googlemail.com", "annlee@gmail.com"),
        ("annlee+a+b@gmail.com", "annlee@gmail.com"),
        ("ann.lee+weekly@example.com", "ann.lee@example.com"),  # dots matter elsewhere
        ("ANN.LEE@EXAMPLE.COM", "ann.lee@example.com"),
        ("+tag@example.com", "@example.com"),
    ],
)
def test_canonical_mailbox(typed: str, mailbox: str) -> None:
    assert defences.canonical_mailbox(typed) == mailbox


def count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def request(email: str, **fields: object) -> signup.SignupRequest:
    values: dict[str, object] = {"email": email, "route": ConsentRoute.FORM, "ip": "198.51.100.7"}
    values.update(fields)
    return signup.SignupRequest(**values)  # type: ignore[arg-type]


def test_one_gmail_inbox_gets_at_most_the_address_limit(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    """40 spellings of one inbox once got 40 confirmations; what is stored stays as typed."""
    limited = make_test_settings(
        tmp_path, settings.database_url, subscribe_address_limit=3, subscribe_ip_limit=1000
    )
    variants = ["v.i.c.t.i.m@gmail.com", "vic.tim@gmail.com", "victim@googlemail.com"]
    variants += [f"victim+{i}@gmail.com" for i in range(20)]
    variants += [f"V.ICTIM+x{i}@googlemail.com" for i in range(17)]
    results = []
    for address in variants:
        with session_scope(engine) as session:
            results.append(subscribe_now(session, limited, request(address), now=NOW))
    assert sum(result.held is not None for result in results) == 3
    assert {r.reason for r in results[3:]} == {"mailbox rate limit"}
    with session_scope(engine, read_only=True) as session:
        first = subscriptions.find_by_email(session, variants[0])
    assert first is not None and first.email == "v.i.c.t.i.m@gmail.com"


def test_the_hourly_cap_bounds_mail_from_any_number_of_addresses(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    capped = make_test_settings(
        tmp_path, settings.database_url, confirm_hourly_limit=4, subscribe_ip_limit=1000
    )
    for i in range(10):
        with session_scope(engine) as session:
            subscribe_now(
                session, capped, request(f"reader{i}@example.com", ip=f"10.0.0.{i}"), now=NOW
            )
    assert count(engine, "transactional_message") == 4
    with session_scope(engine) as session:  # the next hour has room again
        later = subscribe_now(
            session, capped, request("late@example.com"), now=NOW + timedelta(hours=1)
        )
    assert later.held is not None


def test_a_stamp_is_good_once(tmp_path: Path, settings: Settings, engine: Engine) -> None:
    stamp = defences.make_form_stamp(settings.secret, now=NOW - timedelta(seconds=5))
    assert defences.judge_stamp(settings, stamp, now=NOW) is StampCheck.GOOD
    spent = []
    for _ in range(3):
        with session_scope(engine) as session:
            spent.append(defences.spend_stamp(session, settings, stamp))
    assert spent == [True, False, False]
    other = defences.make_form_stamp(settings.secret, now=NOW - timedelta(seconds=5))
    with session_scope(engine) as session:
        assert defences.spend_stamp(session, settings, other)


def test_a_replayed_stamp_is_stored_but_acted_on_once(settings: Settings, engine: Engine) -> None:
    """The visitor's request only judges the stamp; acting on the stored requests spends it,
    so the second request with the same stamp is dropped and mails nobody."""
    stamp = defences.make_form_stamp(settings.secret, now=NOW - timedelta(seconds=5))
    for address in ("first@example.com", "replay@example.com"):
        one = signup.SignupRequest(email=address, route=ConsentRoute.FORM, form_stamp=stamp)
        with session_scope(engine) as session:
            receipt = signup.receive_request(session, settings, one, RequestKind.SUBSCRIBE, now=NOW)
        assert receipt.stored, receipt.reason
    done = signup.process_requests(engine, settings, transport=make_transport(settings), now=NOW)
    assert done == 2 and count(engine, "reader_request") == 0
    assert [mail.to for mail in outbox_mail(settings.outbox_dir)] == ["first@example.com"]
    with session_scope(engine, read_only=True) as session:
        assert subscriptions.find_by_email(session, "replay@example.com") is None


def test_an_early_stamp_is_not_spent(settings: Settings, engine: Engine) -> None:
    stamp = defences.make_form_stamp(settings.secret, now=NOW)
    assert defences.judge_stamp(settings, stamp, now=NOW) is StampCheck.EARLY
    later = NOW + timedelta(seconds=settings.subscribe_min_seconds)
    assert defences.judge_stamp(settings, stamp, now=later) is StampCheck.GOOD


@pytest.mark.parametrize("raw", [None, "", "x" * 500, "forged.stamp", "WzEsMl0.bad", "eyJ9.a.b"])
def test_forged_or_damaged_stamps_are_missing(
    settings: Settings, engine: Engine, raw: str | None
) -> None:
    assert defences.judge_stamp(settings, raw, now=NOW) is StampCheck.MISSING
    with session_scope(engine) as session:
        assert raw is None or not defences.spend_stamp(session, settings, raw)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:DB8::1", "2001:db8::1"),
        ("not an ip", None),
        ("1.2.3.4, 5.6.7.8", None),
        ("<script>", None),
        ("", None),
    ],
)
def test_only_a_valid_ip_is_stored(
    settings: Settings, engine: Engine, given: str, stored: str | None
) -> None:
    with session_scope(engine) as session:
        subscribe_now(session, settings, request("ip@example.com", ip=given), now=NOW)
    with session_scope(engine, read_only=True) as session:
        reader = subscriptions.find_by_email(session, "ip@example.com")
    assert reader is not None and reader.consent_ip == stored


def test_ipv6_clients_are_counted_per_64(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    limited = make_test_settings(tmp_path, settings.database_url, subscribe_ip_limit=3)
    reasons = []
    for i in range(6):
        ip = f"2001:db8:1:2::{i + 1:x}" if i < 5 else "2001:db8:1:3::1"
        one = signup.SignupRequest(
            email=f"r{i}@example.com", route=ConsentRoute.API, ip=ip, trusted=True
        )
        with session_scope(engine) as session:
            reasons.append(subscribe_now(session, limited, one, now=NOW).reason)
    queued = "confirmation queued"
    assert reasons == [queued, queued, queued, "ip rate limit", "ip rate limit", queued]


def test_a_web_process_refuses_a_flood_before_storing_it(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    """The web process's own count per client (the store's exact count comes later)."""
    limited = make_test_settings(tmp_path, settings.database_url, subscribe_ip_limit=2)
    local = throttle.LocalLimit(signup.IP_WINDOW)
    stored = []
    for i, ip in enumerate(["203.0.113.9"] * 4 + ["203.0.113.10"]):
        one = signup.SignupRequest(
            email=f"f{i}@example.com", route=ConsentRoute.API, ip=ip, trusted=True
        )
        with session_scope(engine) as session:
            receipt = signup.receive_request(
                session, limited, one, RequestKind.SUBSCRIBE, now=NOW, local_limit=local
            )
        stored.append(receipt.stored)
    assert stored == [True, True, False, False, True]
    assert count(engine, "reader_request") == 3


def test_a_request_that_cannot_be_acted_on_does_not_block_the_others(
    settings: Settings, engine: Engine
) -> None:
    """A stored request that fails (here: an address no validator would have let in) is logged
    and dropped; the requests after it are still acted on."""
    with session_scope(engine) as session:
        session.add(
            ReaderRequest(
                kind=RequestKind.SUBSCRIBE,
                email="not an address",
                route=ConsentRoute.FORM,
                received_at=NOW,
            )
        )
        good = signup.SignupRequest(
            email="after@example.com", route=ConsentRoute.FORM, trusted=True
        )
        signup.receive_request(session, settings, good, RequestKind.SUBSCRIBE, now=NOW)
    transport = make_transport(settings)
    done = signup.process_requests(engine, settings, transport=transport, now=NOW)
    assert done == 1 and count(engine, "reader_request") == 0
    with session_scope(engine, read_only=True) as session:
        assert subscriptions.find_by_email(session, "after@example.com") is not None
    assert [mail.to for mail in outbox_mail(settings.outbox_dir)] == ["after@example.com"]
