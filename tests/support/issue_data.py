"""Comparisons for issue tests: realistic long ones, hostile ones, imported through the catalog."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from digest import catalog
from digest.catalog import validate_document
from digest.db import session_scope

LONG_REVIEW = (
    "The primitive here is clean: persistent references that decouple upload from inference "
    "calls, so you stop paying context tokens on every round-trip for the same document. The DX "
    "bet is that a handle is the right abstraction, and that is correct for most pipelines. The "
    "moment of truth is a developer who has been stuffing the same 200-page knowledge base into "
    "every call: this immediately cuts their bill and latency without touching downstream logic. "
    "It is not a weekend script replacement; lifecycle management, chunking behaviour and "
    "cross-session persistence are exactly the boring infrastructure a vendor is right to own."
)
HOSTILE = (
    '<script>alert("x")</script> "quoted" & \'single\' <b>bold</b> 🚀✨ '
    "مرحبا بالعالم שלום "
    "{{ 7*7 }} [[digest:unsubscribe_url]] " + "A" * 300
)


def tool_doc(
    slug: str,
    name: str,
    *,
    verdicts: str = "ssss",
    long: bool = True,
    category: str = "Developer Tools",
) -> dict[str, Any]:
    """A tool; `verdicts` is four letters, s(hip) or k (skip), builder..futurist."""
    personas = ["builder", "skeptic", "founder", "futurist"]
    reviews = {
        persona: {
            "score": 60 + 7 * index if long else None,
            "verdict": "ship" if letter == "s" else "skip",
            "text": LONG_REVIEW if long else "Short and sharp. Ships.",
        }
        for index, (persona, letter) in enumerate(zip(personas, verdicts, strict=True))
    }
    tagline = "Serverless GPU inference with sub-100ms cold starts for large language models"
    return {
        "slug": slug,
        "name": name,
        "category": category,
        "tagline": tagline + (" and a long explanatory tail for good measure" if long else ""),
        "description": LONG_REVIEW,
        "pricing": {
            "entry": "Paid",
            "text": "Pay per second of GPU time, from $0.000164/s on T4 up to H100s; "
            "a $30 monthly credit on the free starter plan, team plans from $250/month.",
        },
        "best_for": "Teams that want GPU-backed inference without managing Kubernetes, reserving "
        "capacity or paying for idle compute",
        "reviews": reviews,
    }


def comparison_doc(
    index: int,
    published_at: datetime,
    *,
    long: bool = True,
    verdicts: tuple[str, str] = ("ssss", "ssss"),
    categories: tuple[str, str] = ("Developer Tools", "Developer Tools"),
) -> dict[str, Any]:
    first = f"Claude Files API Enterprise Edition {index}"
    second = f"Modal GPU Serverless Inference Platform {index}"
    return {
        "slug": f"tool-a-{index}-vs-tool-b-{index}",
        "title": f"{first} vs {second}",
        "url": f"https://site.test/compare/tool-a-{index}-vs-tool-b-{index}",
        "published_at": published_at.isoformat(),
        "tools": [
            tool_doc(
                f"tool-a-{index}", first, verdicts=verdicts[0], long=long, category=categories[0]
            ),
            tool_doc(
                f"tool-b-{index}", second, verdicts=verdicts[1], long=long, category=categories[1]
            ),
        ],
    }


def hostile_doc(published_at: datetime) -> dict[str, Any]:
    doc = comparison_doc(99, published_at)
    doc["title"] = "Evil & Co <script>alert(1)</script> vs " + HOSTILE[:120]
    for tool in doc["tools"]:
        tool["name"] = tool["name"] + ' <img src=x onerror=alert(1)> & "q"'
        tool["tagline"] = HOSTILE
        tool["best_for"] = HOSTILE
        tool["pricing"]["text"] = HOSTILE
        for review in tool["reviews"].values():
            review["text"] = HOSTILE
    return doc


def import_docs(engine: Engine, docs: list[dict[str, Any]], *, now: datetime) -> None:
    with session_scope(engine) as session:
        catalog.import_comparisons(session, [("test", validate_document("test", docs))], now=now)


def week_of(now: datetime, count: int, **kwargs: Any) -> list[dict[str, Any]]:
    """`count` comparisons published in the hours before `now`, newest = index 0."""
    return [comparison_doc(i, now - timedelta(hours=i + 1), **kwargs) for i in range(count)]


TOPICS = ("Developer Tools", "Design", "Writing", "Data", "Video", "Security")


def topical_week(now: datetime, count: int, **kwargs: Any) -> list[dict[str, Any]]:
    """`count` comparisons in the hours before `now`, each in one or two of TOPICS (index i is
    in TOPICS[i % 6]; every third one also in the next topic), newest = index 0."""
    docs = []
    for i in range(count):
        first = TOPICS[i % len(TOPICS)]
        second = TOPICS[(i + 1) % len(TOPICS)] if i % 3 == 0 else first
        docs.append(
            comparison_doc(i, now - timedelta(hours=i + 1), categories=(first, second), **kwargs)
        )
    return docs


def topics_of_doc(doc: dict[str, Any]) -> set[str]:
    return {tool["category"] for tool in doc["tools"]}
