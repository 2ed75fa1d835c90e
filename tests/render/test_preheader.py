"""The preheader (the inbox preview line) is hidden the way clients expect, never by colour."""

from __future__ import annotations

import re

import pytest

from digest.render import render_email

CONTEXT = {
    "subject": "Confirm",
    "newsletter_name": "Weekly AI Tool Verdicts",
    "confirm_url": "https://digest.test/confirm/x",
    "preferences_url": "https://digest.test/preferences/x",
    "data_url": "https://digest.test/data/x",
    "data_minutes": 60,
    "postal_address": "1 Street",
    "preheader": "One click and the next issue is yours.",
    "expires_days": 7,
}


@pytest.mark.parametrize("template", ["confirm", "manage", "data"])
def test_the_preheader_leads_the_body_hidden_without_a_colour(template: str) -> None:
    html = render_email(template, CONTEXT).html
    body = html.split("<body", 1)[1]
    first = re.search(r"<div style=\"([^\"]*)\">([^<]*)</div>", body)
    assert first is not None and first.group(2) == CONTEXT["preheader"]
    style = first.group(1)
    assert "display:none" in style and "mso-hide:all" in style and "overflow:hidden" in style
    assert "color" not in style  # white-on-white is what spam filters call hidden text
    assert "#ffffff" not in body[: body.index(first.group(0))]
