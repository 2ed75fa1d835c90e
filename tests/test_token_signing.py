"""make_token's keyed-once HMAC writes exactly itsdangerous's tokens: links already in readers'
inboxes (made by `URLSafeSerializer.dumps`) keep working, and new ones are the same bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeSerializer

from digest.errors import TokenError
from digest.tokens import Purpose, make_token, read_token

SECRET = "k" * 48
NOW = datetime(2026, 11, 16, 8, tzinfo=UTC)
HASH = "9f86d081" + "e" * 56


def old_way(secret: str, purpose: Purpose, subscriber_id: int, issued: int, tag: str) -> str:
    """How every token was made before issue 14."""
    return URLSafeSerializer(secret, salt=f"digest.{purpose.value}").dumps(
        [subscriber_id, issued, tag]
    )


@pytest.mark.parametrize("purpose", list(Purpose))
@pytest.mark.parametrize("subscriber_id", [1, 42, 99_999, 10_000_000, 2**53])
def test_tokens_are_byte_for_byte_the_old_ones(purpose: Purpose, subscriber_id: int) -> None:
    issued = int(NOW.timestamp()) if purpose in (Purpose.CONFIRM, Purpose.DATA) else 0
    made = make_token(SECRET, purpose, subscriber_id, email_hash=HASH, now=NOW)
    assert made == old_way(SECRET, purpose, subscriber_id, issued, HASH[:8])


def test_a_token_made_the_old_way_still_verifies() -> None:
    token = old_way(SECRET, Purpose.UNSUBSCRIBE, 1234, 0, HASH[:8])
    assert read_token(SECRET, Purpose.UNSUBSCRIBE, token, now=NOW, max_age=None) == (
        1234,
        HASH[:8],
    )


def test_the_keyed_hmac_is_per_secret_and_per_purpose() -> None:
    token = make_token(SECRET, Purpose.PREFERENCES, 7, email_hash=HASH, now=NOW)
    other = make_token("o" * 48, Purpose.PREFERENCES, 7, email_hash=HASH, now=NOW)
    assert token != other
    with pytest.raises(TokenError):
        read_token("o" * 48, Purpose.PREFERENCES, token, now=NOW, max_age=None)
    with pytest.raises(TokenError):
        read_token(SECRET, Purpose.UNSUBSCRIBE, token, now=NOW, max_age=None)


def test_expiry_is_unchanged_for_fast_made_confirm_tokens() -> None:
    token = make_token(SECRET, Purpose.CONFIRM, 5, email_hash=HASH, now=NOW)
    later = NOW + timedelta(days=8)
    with pytest.raises(TokenError, match="expired"):
        read_token(SECRET, Purpose.CONFIRM, token, now=later, max_age=timedelta(days=7))


def test_a_non_hex_tag_is_escaped_as_itsdangerous_would() -> None:
    odd = 'é"\\x' + "0" * 60  # never a real hash; proves the JSON matches anyway
    made = make_token(SECRET, Purpose.UNSUBSCRIBE, 3, email_hash=odd, now=NOW)
    assert made == old_way(SECRET, Purpose.UNSUBSCRIBE, 3, 0, odd[:8])
