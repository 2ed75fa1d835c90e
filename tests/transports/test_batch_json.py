"""The batch body built from pieces is byte for byte orjson's document of the same batch."""

from __future__ import annotations

import json
import random

import orjson

from digest.transports.batch_json import BatchEncoder, PiecedText, encode_body, pieced

ALPHABET = (
    'abc XYZ 019 <a href="x?a=1&b=2"> \\ / " \' \n \r \t \x00 \x01 \x1f \x7f é ✓ 🚀 中文 '
    "\u2028 \u2029 \u200b \u202e \ufeff"
)


def random_text(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))


def copy_of(rng: random.Random, frozen: list[str]) -> dict[str, object]:
    """One email's params: frozen pieces shared by every copy, this reader's values between."""
    values = [random_text(rng, 30) for _ in frozen[1:]]
    pieces: list[str] = [frozen[0]]
    for value, literal in zip(values, frozen[1:], strict=True):
        pieces += [value, literal]
    body = "".join(pieces)
    return {
        "from": "Weekly <news@example.com>",
        "to": [f"reader{rng.randint(0, 999)}@example.com"],
        "subject": random_text(rng, 40),
        "html": pieced(body, tuple(pieces)),
        "text": pieced(body.upper(), tuple(piece.upper() for piece in pieces)),
        "headers": {"List-Unsubscribe": "<https://x.example/u?t=abc>"},
        "tags": [{"name": "issue", "value": "7"}],
    }


def test_pieces_make_the_same_bytes_as_the_whole_document() -> None:
    rng = random.Random(14)
    encoder = BatchEncoder()
    for _round in range(40):
        frozen = [random_text(rng, 400) for _ in range(rng.randint(1, 6))]
        batch: list[dict[str, object]] = [
            copy_of(rng, frozen) for _ in range(rng.randint(1, 12))
        ] + [{}]
        assert encoder.encode(batch) == orjson.dumps(batch)
        assert encoder.encode(batch) == orjson.dumps(batch)  # again, from the cache
        assert json.loads(encoder.encode(batch))[0]["html"] == batch[0]["html"]


def test_the_frozen_text_is_escaped_once_and_the_cache_stays_bounded() -> None:
    rng = random.Random(7)
    encoder = BatchEncoder()
    frozen = ['<p class="x">' * 100, "</p>\n" * 50]
    encoder.encode([copy_of(rng, frozen) for _ in range(50)])
    # The frozen pieces only (even positions: frozen, value, frozen), html's and text's.
    assert set(encoder.escaped) == {*frozen, *(piece.upper() for piece in frozen)}
    for n in range(3000):
        encoder.encode([copy_of(rng, [f"issue {n} top", f"issue {n} end"])])
    assert len(encoder.escaped) <= 1024


def test_a_lone_surrogate_falls_back_to_the_stdlib_document() -> None:
    broken = pieced("a\ud800b", ("a", "\ud800", "b"))
    batch = [{"html": broken, "to": ["x@example.com"]}]
    body = BatchEncoder().encode(batch)
    assert body == encode_body(batch)
    assert json.loads(body) == [{"html": "a\ud800b", "to": ["x@example.com"]}]


def test_anything_but_a_batch_with_pieces_is_encoded_whole() -> None:
    encoder = BatchEncoder()
    for value in [{"a": 1}, [{"a": "b"}], [1, PiecedText("x")], None, "text"]:
        assert encoder.encode(value) == encode_body(value)
    assert pieced("plain", ()) == "plain" and type(pieced("plain", ())) is str
