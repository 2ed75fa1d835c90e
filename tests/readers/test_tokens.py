"""Tokens: purpose-scoped, tamper-proof; confirm tokens expire, unsubscribe tokens never do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from digest.errors import TokenError
from digest.tokens import Purpose, make_token, read_token, tag_matches

SECRET = "s" * 48
WEEK = timedelta(days=7)
NOW = datetime(2026, 11, 16, 8, tzinfo=UTC)
HASH = "ab12cd34" + "0" * 56


def test_round_trip_each_purpose() -> None:
    for purpose in Purpose:
        token = make_token(SECRET, purpose, 42, email_hash=HASH, now=NOW)
        assert read_token(SECRET, purpose, token, now=NOW, max_age=WEEK) == (42, HASH[:8])


@pytest.mark.parametrize("made_for", list(Purpose))
def test_a_token_only_works_for_its_purpose(made_for: Purpose) -> None:
    token = make_token(SECRET, made_for, 7, email_hash=HASH, now=NOW)
    for other in Purpose:
        if other is not made_for:
            with pytest.raises(TokenError):
                read_token(SECRET, other, token, now=NOW, max_age=WEEK)


def test_confirm_expires_after_seven_days() -> None:
    token = make_token(SECRET, Purpose.CONFIRM, 1, email_hash=HASH, now=NOW)
    assert read_token(
        SECRET, Purpose.CONFIRM, token, now=NOW + timedelta(days=6, hours=23), max_age=WEEK
    ) == (
        1,
        HASH[:8],
    )
    with pytest.raises(TokenError, match="expired"):
        read_token(
            SECRET, Purpose.CONFIRM, token, now=NOW + timedelta(days=7, seconds=1), max_age=WEEK
        )


def test_unsubscribe_never_expires_and_is_stable() -> None:
    token = make_token(SECRET, Purpose.UNSUBSCRIBE, 1, email_hash=HASH, now=NOW)
    assert token == make_token(
        SECRET, Purpose.UNSUBSCRIBE, 1, email_hash=HASH, now=NOW + timedelta(days=3)
    )
    assert read_token(
        SECRET, Purpose.UNSUBSCRIBE, token, now=NOW + timedelta(days=3650), max_age=WEEK
    ) == (
        1,
        HASH[:8],
    )


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t[:10],
        lambda t: "",
        lambda t: "x" * 500,
        lambda t: t + ".extra",
        lambda t: "\u00e9\u00e9.\u00e9",
    ],
)
def test_forged_or_damaged_tokens_are_refused(mangle: object) -> None:
    token = make_token(SECRET, Purpose.UNSUBSCRIBE, 1, email_hash=HASH, now=NOW)
    with pytest.raises(TokenError):
        read_token(SECRET, Purpose.UNSUBSCRIBE, mangle(token), now=NOW, max_age=WEEK)  # type: ignore[operator]


def test_other_secret_is_refused() -> None:
    token = make_token(SECRET, Purpose.UNSUBSCRIBE, 1, email_hash=HASH, now=NOW)
    with pytest.raises(TokenError):
        read_token("t" * 48, Purpose.UNSUBSCRIBE, token, now=NOW, max_age=WEEK)


def test_token_carries_the_address_tag() -> None:
    token = make_token(SECRET, Purpose.PREFERENCES, 5, email_hash=HASH, now=NOW)
    _, tag = read_token(SECRET, Purpose.PREFERENCES, token, now=NOW, max_age=WEEK)
    assert tag_matches(tag, HASH)
    assert not tag_matches(tag, "ff" * 32)
