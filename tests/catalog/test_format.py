"""Every kind of bad import input gets a clear error naming file, field path and problem,
and leaves the store exactly as it was."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from digest import catalog
from digest.catalog import parse_document
from digest.db import session_scope
from digest.errors import InvalidInput
from tests.support.samples import NOW, SAMPLES, load, sample_documents

GOOD: dict[str, Any] = json.loads(SAMPLES[0].read_text())


def edited(change: Any) -> bytes:
    data = copy.deepcopy(GOOD)
    change(data)
    return json.dumps(data).encode()


def _del(path: list[Any]) -> Any:
    def change(data: Any) -> None:
        for key in path[:-1]:
            data = data[key]
        del data[path[-1]]

    return change


def _set(path: list[Any], value: Any) -> Any:
    def change(data: Any) -> None:
        for key in path[:-1]:
            data = data[key]
        data[path[-1]] = value

    return change


def _two_comparisons_one_slug() -> bytes:
    return json.dumps({"comparisons": [GOOD, GOOD]}).encode()


def _same_tool_twice(data: Any) -> None:
    data["tools"][1] = copy.deepcopy(data["tools"][0])


def _unknown_persona(data: Any) -> None:
    data["tools"][0]["reviews"]["optimist"] = {"score": 50, "verdict": "ship", "text": "Hi"}


CASES: dict[str, tuple[bytes, str, str]] = {
    "malformed json": (b'{"slug": "x", ', "", "malformed JSON at line 1"),
    "not utf-8": ('{"title": "caf\u00e9"}'.encode("latin-1"), "", "not UTF-8"),
    "missing title": (edited(_del(["title"])), "title", "required field is missing"),
    "missing tool name": (
        edited(_del(["tools", 0, "name"])),
        "tools.0.name",
        "required field is missing",
    ),
    "score over 100": (
        edited(_set(["tools", 0, "reviews", "builder", "score"], 101)),
        "tools.0.reviews.builder.score",
        "less than or equal to 100",
    ),
    "negative score": (
        edited(_set(["tools", 1, "reviews", "skeptic", "score"], -1)),
        "tools.1.reviews.skeptic.score",
        "greater than or equal to 0",
    ),
    "unknown persona": (
        edited(_unknown_persona),
        "tools.0.reviews.optimist",
        "unknown persona 'optimist'",
    ),
    "bad verdict": (
        edited(_set(["tools", 0, "reviews", "founder", "verdict"], "maybe")),
        "tools.0.reviews.founder.verdict",
        "'ship' or 'skip'",
    ),
    "same tool twice": (edited(_same_tool_twice), "tools", "appears twice in one comparison"),
    "two comparisons one slug": (_two_comparisons_one_slug(), "comparisons.1.slug", "already used"),
    "naive timestamp": (
        edited(_set(["published_at"], "2026-11-16T09:00:00")),
        "published_at",
        "has no time zone",
    ),
    "unknown field": (edited(_set(["colour"], "red")), "colour", "unknown field"),
    "bad slug": (edited(_set(["slug"], "Not A Slug!")), "slug", "should match pattern"),
    "one tool only": (edited(lambda d: d["tools"].pop()), "tools", "at least 2"),
}


def snapshot(engine: Engine) -> dict[str, list[Any]]:
    tables = ["tool", "review", "comparison", "comparison_tool"]
    with engine.connect() as connection:
        return {
            table: sorted(map(tuple, connection.execute(text(f"SELECT * FROM {table}"))), key=repr)
            for table in tables
        }


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_named_and_changes_nothing(engine: Engine, case: str) -> None:
    load(engine, sample_documents())
    before = snapshot(engine)
    raw, where, what = CASES[case]
    good_and_bad = [("good.json", edited(_set(["slug"], "a-new-good-one"))), ("bad.json", raw)]
    with pytest.raises(InvalidInput) as caught:
        load(engine, good_and_bad)  # the good file in the same call must not land either
    error = caught.value
    assert error.source == "bad.json"
    assert any(loc == where and what in problem for loc, problem in error.problems), error.problems
    assert error.message.startswith("bad.json: ")
    assert snapshot(engine) == before


def test_same_slug_in_two_files_of_one_call_is_refused(engine: Engine) -> None:
    raw = SAMPLES[0].read_bytes()
    with pytest.raises(InvalidInput, match=r"b\.json: slug: .* is also in a\.json"):
        load(engine, [("a.json", raw), ("b.json", raw)])
    assert snapshot(engine) == {t: [] for t in ["tool", "review", "comparison", "comparison_tool"]}


def test_a_failure_while_writing_rolls_back_everything(engine: Engine) -> None:
    """Even an error the validator cannot see (here: a DB constraint) leaves nothing behind."""
    good = parse_document("good.json", edited(_set(["slug"], "first-one")))
    bad = parse_document("bad.json", edited(_set(["slug"], "second-one")))
    object.__setattr__(bad[0].tools[0].reviews[next(iter(bad[0].tools[0].reviews))], "score", 500)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        catalog.import_comparisons(session, [("good.json", good), ("bad.json", bad)], now=NOW)
    assert snapshot(engine)["comparison"] == []


def test_document_forms(tmp_path: Path) -> None:
    single = SAMPLES[0].read_bytes()
    as_list = json.dumps([GOOD]).encode()
    wrapped = json.dumps({"comparisons": [GOOD]}).encode()
    for raw in (single, as_list, wrapped):
        assert [c.slug for c in parse_document("x", raw)] == [GOOD["slug"]]
    with pytest.raises(InvalidInput, match="unexpected top-level field"):
        parse_document("x", json.dumps({"comparisons": [], "extra": 1}).encode())
