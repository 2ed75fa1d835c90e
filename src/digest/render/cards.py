"""Plain view models for the issue templates: one card per comparison, the subject, the preheader.

Templates get ready-made strings, so the MJML and the text twin say exactly the same things.
Everything here is data: escaping happens in the templates (autoescape), never here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.catalog import ComparisonView, ToolView
from digest.models import Persona, Verdict

DASH = "\u2013"  # en dash: "4\u20130"
SUBJECT_BUDGET = 70
PREHEADER_BUDGET = 140
QUOTE_BUDGET = 200
QUOTE_PERSONAS = (Persona.SKEPTIC, Persona.BUILDER, Persona.FOUNDER, Persona.FUTURIST)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class PersonaLine:
    persona: str
    score: str  # "82", or a dash when unknown
    verdict: str  # "Ship", "Skip", or a dash when unknown


@dataclass(frozen=True)
class ToolCard:
    name: str
    tagline: str | None
    verdict: str | None  # "Ship" / "Skip"; None without reviews
    tally: str  # "4 ship / 0 skip"
    score: str  # ships, en dash, skips: "4\u20130"
    percent_ship: int | None
    average_score: float | None
    personas: tuple[PersonaLine, ...]
    pricing_entry: str | None
    pricing_text: str | None
    best_for: str | None


@dataclass(frozen=True)
class Quote:
    text: str
    persona: str
    tool: str


@dataclass(frozen=True)
class Card:
    title: str
    url: str
    tools: tuple[ToolCard, ...]
    quote: Quote | None
    summary: str  # one line: "Claude Files API: Ship (4/0) · Modal: Ship (4/0)"


def shorten(text: str, budget: int) -> str:
    """`text` cut at a word boundary to at most `budget` characters, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= budget:
        return text
    cut = text[: budget - 1]
    if " " in cut[budget // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:—-") + "…"


def build_card(view: ComparisonView, site_url: str) -> Card:
    tools = tuple(_tool_card(tool) for tool in view.tools)
    summary = " · ".join(f"{t.name}: {_short_verdict(t)}" for t in tools)
    return Card(view.comparison.title, view.link(site_url), tools, pull_quote(view), summary)


def _tool_card(view: ToolView) -> ToolCard:
    tool, panel = view.tool, view.panel
    personas = tuple(
        PersonaLine(
            persona.value.capitalize(),
            str(review.score) if review and review.score is not None else DASH,
            Verdict(review.verdict).value.capitalize() if review and review.verdict else DASH,
        )
        for persona, review in ((p, view.review(p)) for p in Persona)
    )
    return ToolCard(
        name=tool.name,
        tagline=tool.tagline,
        verdict=panel.verdict.value.capitalize() if panel.verdict else None,
        tally=panel.tally,
        score=f"{panel.ship}{DASH}{panel.skip}",
        percent_ship=panel.percent_ship,
        average_score=panel.average_score,
        personas=personas,
        pricing_entry=tool.pricing_entry,
        pricing_text=shorten(tool.pricing_text, 160) if tool.pricing_text else None,
        best_for=tool.best_for,
    )


def _short_verdict(tool: ToolCard) -> str:
    if tool.verdict is None:
        return "no panel verdict yet"
    return f"{tool.verdict} ({tool.tally})"


def pull_quote(view: ComparisonView) -> Quote | None:
    """The first sentence of the most telling review: the skeptic on the panel's favourite first."""
    ranked = sorted(view.tools, key=_rank_tool)
    for tool in ranked:
        for persona in QUOTE_PERSONAS:
            review = tool.review(persona)
            if review is not None and review.text and review.text.strip():
                sentence = _SENTENCE_END.split(review.text.strip(), maxsplit=1)[0]
                return Quote(
                    shorten(sentence, QUOTE_BUDGET), persona.value.capitalize(), tool.tool.name
                )
    return None


def _rank_tool(tool: ToolView) -> tuple[int, float]:
    panel = tool.panel
    return (0 if panel.verdict is Verdict.SHIP else 1, -(panel.average_score or 0.0))


def make_subject(cards: list[Card]) -> str:
    """Which tools and what the panel said, under ~70 characters when at all possible."""
    lead, rest = cards[0], len(cards) - 1
    tail = f" + {rest} more" if rest else ""
    for names in (_names(lead, short=False), _names(lead, short=True)):
        for phrase in (_phrase(lead, names, tally=True), _phrase(lead, names, tally=False)):
            if len(phrase + tail) <= SUBJECT_BUDGET:
                return phrase + tail
    return shorten(f"{len(cards)} new verdicts: {lead.title}", SUBJECT_BUDGET)


def _names(card: Card, *, short: bool) -> list[str]:
    if not short:
        return [tool.name for tool in card.tools]
    return [" ".join(tool.name.split()[:2]) for tool in card.tools]


def _phrase(card: Card, names: list[str], *, tally: bool) -> str:
    """ "A vs B: both ship (4-0, 4-0)" or "A ships, B skips (3-1, 1-3)", with en dashes."""
    tools = card.tools
    verdicts = [tool.verdict for tool in tools]
    if None in verdicts:
        return " vs ".join(names)
    scores = f" ({', '.join(tool.score for tool in tools)})" if tally else ""
    if len(set(verdicts)) == 1:
        both = "both" if len(tools) == 2 else "all"
        return f"{' vs '.join(names)}: {both} {str(verdicts[0]).lower()}{scores}"
    parts = [f"{name} {str(v).lower()}s" for name, v in zip(names, verdicts, strict=True)]
    return ", ".join(parts) + scores


def make_preheader(cards: list[Card], note: str | None) -> str:
    """What inbox previews show after the subject: the editor's note, else the week's line-up."""
    if note:
        return shorten(note, PREHEADER_BUDGET)
    count = f"{len(cards)} verdict{'s' if len(cards) != 1 else ''} this week: "
    return shorten(count + "; ".join(card.title for card in cards), PREHEADER_BUDGET)
