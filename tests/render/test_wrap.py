"""Long words get break opportunities in the text, never in markup; wrapping CSS is dropped."""

from __future__ import annotations

import pytest

from digest.render import render_email
from digest.render.wrap import break_long_words, drop_wrapping_css
from tests.support.email_css import WRAPPING_CSS, styles_of

LONG = "A" * 300


def test_a_long_word_gets_a_break_opportunity_every_few_characters() -> None:
    html = break_long_words(f"<html><head><title>{LONG}</title></head><body><p>{LONG}</p></body>")
    body = html.split("<body>", 1)[1]
    pieces = body.removeprefix("<p>").removesuffix("</p></body>").split("<wbr>")
    assert "".join(pieces) == LONG and max(map(len, pieces)) <= 12
    assert f"<title>{LONG}</title>" in html  # the head is not text on the page


def test_markup_references_markers_and_short_words_stay_whole() -> None:
    url = "https://digest.test/unsubscribe/" + "t" * 80
    source = (
        f'<body><a href="{url}">{"&amp;" * 30}</a><!-- {LONG} -->'
        f"[[digest:unsubscribe_url]][[digest:preferences_url]] short words only here</body>"
    )
    html = break_long_words(source)
    assert f'<a href="{url}">' in html and f"<!-- {LONG} -->" in html
    assert "&amp;" * 12 + "<wbr>" in html  # a reference counts as one character
    assert "[[digest:unsubscribe_url]]" in html and "[[digest:preferences_url]]" in html
    assert "short words only here" in html


@pytest.mark.parametrize(
    "sequence",
    [
        "\U0001f469\u200d\U0001f469\u200d\U0001f467",  # family: joined by ZWJ
        "\U0001f44d\U0001f3fd",  # thumbs up, skin tone
        "\U0001f1e9\U0001f1ea",  # a flag: two regional indicators
        "e\u0301",  # e and a combining accent
    ],
)
def test_a_character_sequence_is_never_split(sequence: str) -> None:
    text = sequence * 40
    html = break_long_words(f"<body>{text}</body>")
    assert html.replace("<wbr>", "") == f"<body>{text}</body>"
    for piece in html.removeprefix("<body>").removesuffix("</body>").split("<wbr>"):
        assert piece.startswith(sequence[0]) and piece.endswith(sequence[-1])


def test_wrapping_css_goes_but_text_about_css_stays() -> None:
    html = drop_wrapping_css(
        "<style>p{word-break:break-word;color:red}</style>"
        '<div style="font-size:1px;white-space:nowrap;overflow-wrap:anywhere">'
        "Use word-break: break-all; sparingly</div>"
    )
    assert html == (
        '<style>p{color:red}</style><div style="font-size:1px;">'
        "Use word-break: break-all; sparingly</div>"
    )


@pytest.mark.parametrize("template", ["confirm", "manage", "data"])
def test_the_transactional_emails_use_no_wrapping_css(template: str) -> None:
    html = render_email(
        template,
        {
            "subject": "s",
            "newsletter_name": LONG,
            "confirm_url": "https://digest.test/confirm/" + "x" * 200,
            "preferences_url": "https://digest.test/preferences/" + "x" * 200,
            "data_url": "https://digest.test/data/" + "x" * 200,
            "data_minutes": 60,
            "postal_address": LONG,
            "preheader": "p",
            "expires_days": 7,
        },
    ).html
    assert not WRAPPING_CSS.search(styles_of(html))
    assert LONG not in html  # broken up wherever it is shown


def test_ordinary_text_is_untouched_and_long_urls_break_after_punctuation() -> None:
    prose = "<body><p>GPU-backed inference, e.g. serverless &amp; self-hosted.</p></body>"
    assert break_long_words(prose) == prose
    url = "https://digest.example/confirm/eyJpIjoyLCJwIjoiY29uZmlybSJ9.Z0xYaA.bS1pZ"
    html = break_long_words(f"<body>{url}</body>")
    assert html.replace("<wbr>", "") == f"<body>{url}</body>"
    assert "https:<wbr>//digest.<wbr>example/<wbr>confirm/<wbr>" in html
