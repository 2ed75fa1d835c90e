"""The share image of an issue (Open Graph / Twitter card): a 1200x630 PNG drawn from its cards.

The newsletter's name, the issue number and date, the subject, and up to three comparisons with
the panel's verdicts, in flat colours (a few tens of KB). Text is drawn, never interpreted, so
hostile content is just pixels; lines that do not fit end with an ellipsis.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from digest.render.cards import Card

if TYPE_CHECKING:  # Pillow is imported when an image is drawn: no command pays for it at start
    from PIL.ImageDraw import ImageDraw

WIDTH, HEIGHT = 1200, 630
MARGIN = 64
INK, PAPER, MUTED, SHIP, SKIP = "#14181f", "#ffffff", "#c9d1dc", "#5fd39a", "#ff8a80"
Font = Any  # a Pillow font


@dataclass(frozen=True)
class ShareCard:
    newsletter: str
    number: int
    date: str  # "23 November 2026"
    subject: str
    cards: tuple[Card, ...]
    site: str  # where it lives, shown small: "digest.example.com"


def render_share_image(card: ShareCard) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), INK)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, HEIGHT - 12, WIDTH, HEIGHT), fill="#1d4ed8")
    y = MARGIN
    y = _line(draw, f"{card.newsletter} · Issue #{card.number} · {card.date}", y, 30, MUTED)
    y = _paragraph(draw, card.subject, y + 20, 58, PAPER, lines=3)
    for item in card.cards[:3]:
        y = _verdicts(draw, item, y + 14)
        if y > HEIGHT - 120:
            break
    _line(draw, card.site, HEIGHT - MARGIN - 24, 26, MUTED)
    out = io.BytesIO()
    image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(out, "PNG", optimize=True)
    return out.getvalue()


# A system font with wide coverage when there is one (Debian: fonts-dejavu-core), else Pillow's.
FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf")


def _font(size: int) -> Font:
    from PIL import ImageFont

    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _fit(draw: ImageDraw, text: str, font: Font, width: int) -> str:
    """`text` cut (with an ellipsis) to fit `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _line(draw: ImageDraw, text: str, y: int, size: int, fill: str) -> int:
    font = _font(size)
    draw.text(
        (MARGIN, y),
        _fit(draw, " ".join(text.split()), font, WIDTH - 2 * MARGIN),
        font=font,
        fill=fill,
    )
    return y + int(size * 1.3)


def _paragraph(draw: ImageDraw, text: str, y: int, size: int, fill: str, *, lines: int) -> int:
    font, width = _font(size), WIDTH - 2 * MARGIN
    words, rows, row = text.split(), [], ""
    for word in words:
        trial = f"{row} {word}".strip()
        if draw.textlength(trial, font=font) <= width or not row:
            row = trial
        else:
            rows.append(row)
            row = word
    rows.append(row)
    if len(rows) > lines:
        rows = [*rows[: lines - 1], " ".join(rows[lines - 1 :])]
    for text_row in rows:
        draw.text((MARGIN, y), _fit(draw, text_row, font, width), font=font, fill=fill)
        y += int(size * 1.2)
    return y


def _verdicts(draw: ImageDraw, card: Card, y: int) -> int:
    """One comparison: each tool's name and verdict, coloured and spelled out."""
    font, x = _font(28), MARGIN
    for tool in card.tools[:2]:
        score = tool.score.replace("\u2013", "-")
        label = f"{tool.verdict.upper()} {score}" if tool.verdict else "NO VERDICT"
        colour = SHIP if tool.verdict == "Ship" else SKIP if tool.verdict == "Skip" else MUTED
        name = _fit(draw, tool.name, font, (WIDTH - 2 * MARGIN) // 2 - 180)
        draw.text((x, y), name, font=font, fill=PAPER)
        x += int(draw.textlength(name + "  ", font=font))
        draw.text((x, y), label, font=font, fill=colour)
        x += int(draw.textlength(label + "      ", font=font))
    return y + 40
