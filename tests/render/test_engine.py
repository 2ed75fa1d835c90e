"""The render engine: Jinja2 to MJML to HTML, and what it refuses to let through."""

from __future__ import annotations

from digest.render import render_email


def test_render_defuses_control_characters() -> None:
    """A control character that slips past the inputs never reaches the email."""
    email = render_email(
        "confirm",
        {
            "subject": "Confirm",
            "newsletter_name": "News\x00letter\x1b",
            "confirm_url": "https://digest.test/confirm/x",
            "preferences_url": "https://digest.test/preferences/x",
            "postal_address": "1 Street\x07",
            "preheader": "Pre\x00header",
            "expires_days": 7,
        },
    )
    assert "\x00" not in email.html and "\x1b" not in email.text
