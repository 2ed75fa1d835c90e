"""The Resend transport through the real SDK against the fake Resend HTTP server."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from email.header import decode_header, make_header

import pytest

from digest.errors import IdempotencyMismatch, QuotaExceeded, TransportError
from digest.transports.batch_json import encode_body
from digest.transports.resend import ResendTransport
from tests.support.resend_server import FakeResend
from tests.transports.contract import (
    CONTROL,
    HOSTILE,
    Harness,
    TransportContract,
    hostile_email,
    make_email,
)


@pytest.fixture
def fake() -> Iterator[FakeResend]:
    with FakeResend() as server:
        yield server


def transport_for(fake: FakeResend, **kwargs: object) -> ResendTransport:
    return ResendTransport(api_key=fake.api_key, api_url=fake.url, timeout=5, **kwargs)  # type: ignore[arg-type]


class TestResendContract(TransportContract):
    @pytest.fixture
    def harness(self, fake: FakeResend) -> Harness:
        return Harness(transport_for(fake), fake.messages)


def test_the_batch_carries_the_tag_and_one_click_headers(fake: FakeResend) -> None:
    transport_for(fake).send_batch([make_email(1)], idempotency_key="k1")
    (sent,) = fake.accepted
    assert sent["tags"] == [{"name": "issue", "value": "1"}]
    assert sent["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sent["to"] == ["reader1@example.com"]


def test_one_bad_address_fails_alone_and_results_map_by_index(fake: FakeResend) -> None:
    emails = [make_email(0), make_email(1, to="not-an-address"), make_email(2)]
    results = transport_for(fake).send_batch(emails, idempotency_key="k")
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].permanent and "not-an-address" in (results[1].error or "")
    ids = {e["to"][0]: e["id"] for e in fake.accepted}
    assert results[0].provider_id == ids["reader0@example.com"]
    assert results[2].provider_id == ids["reader2@example.com"]


def test_same_key_other_payload_is_an_idempotency_mismatch(fake: FakeResend) -> None:
    transport = transport_for(fake)
    transport.send_batch([make_email(1)], idempotency_key="k")
    with pytest.raises(IdempotencyMismatch) as caught:
        transport.send_batch([make_email(2)], idempotency_key="k")
    assert not caught.value.retryable
    assert fake.recipients() == {"reader1@example.com": 1}


def test_rate_limit_is_retryable_after_the_given_delay() -> None:
    limited = FakeResend(rate_limit=1)
    with limited:
        transport = transport_for(limited)
        transport.send_batch([make_email(1)], idempotency_key="a")
        with pytest.raises(TransportError) as caught:
            transport.send_batch([make_email(2)], idempotency_key="b")
    assert caught.value.retryable and caught.value.retry_after == 1.0
    assert not isinstance(caught.value, QuotaExceeded)


def test_quota_is_its_own_error(fake: FakeResend) -> None:
    fake.quota = 1
    transport = transport_for(fake)
    transport.send_batch([make_email(1)], idempotency_key="a")
    with pytest.raises(QuotaExceeded):
        transport.send_batch([make_email(2)], idempotency_key="b")


@pytest.mark.parametrize(
    ("kind", "status", "retryable"),
    [
        ("status", 500, True),
        ("status", 503, True),
        ("drop_before", 0, True),
        ("status", 401, False),
    ],
)
def test_whole_call_failures(fake: FakeResend, kind: str, status: int, retryable: bool) -> None:
    fake.inject(kind, status=status)
    with pytest.raises(TransportError) as caught:
        transport_for(fake).send_batch([make_email(1)], idempotency_key="k")
    assert caught.value.retryable is retryable
    assert fake.recipients() == {}


def test_answer_lost_after_acceptance_then_retry_sends_nothing_new(fake: FakeResend) -> None:
    fake.inject("drop_after")
    transport = transport_for(fake)
    with pytest.raises(TransportError):
        transport.send_batch([make_email(1)], idempotency_key="k")
    results = transport.send_batch([make_email(1)], idempotency_key="k")
    assert results[0].provider_id == fake.accepted[0]["id"]
    assert fake.recipients() == {"reader1@example.com": 1}


def test_slow_answer_beyond_the_timeout_is_retryable(fake: FakeResend) -> None:
    fake.inject("slow", seconds=1.5)
    transport = ResendTransport(api_key=fake.api_key, api_url=fake.url, timeout=0.5)
    with pytest.raises(TransportError) as caught:
        transport.send_batch([make_email(1)], idempotency_key="k")
    assert caught.value.retryable


def test_wrong_api_key_is_not_retried(fake: FakeResend) -> None:
    transport = ResendTransport(api_key="re_wrong", api_url=fake.url, timeout=5)
    with pytest.raises(TransportError) as caught:
        transport.send_batch([make_email(1)], idempotency_key="k")
    assert not caught.value.retryable and "403" in caught.value.message


def test_one_connection_is_reused_across_calls(fake: FakeResend) -> None:
    transport = transport_for(fake)
    for n in range(5):
        transport.send_batch([make_email(n)], idempotency_key=f"k{n}")
    assert len(fake.connections) == 1


def test_headers_reach_the_observer() -> None:
    seen: list[dict[str, str]] = []
    limited = FakeResend(rate_limit=5)
    with limited:
        transport = transport_for(limited, observer=lambda h: seen.append(dict(h)))
        transport.send_batch([make_email(1)], idempotency_key="k")
    assert seen and seen[0]["ratelimit-policy"] == "5;w=1"


def test_more_than_100_emails_are_refused_before_any_call(fake: FakeResend) -> None:
    with pytest.raises(TransportError) as caught:
        transport_for(fake).send_batch([make_email(n) for n in range(101)], idempotency_key="k")
    assert not caught.value.retryable and sum(fake.statuses.values()) == 0


def test_the_fake_validates_strictly_unless_asked_to_be_permissive(fake: FakeResend) -> None:
    import requests

    emails = [{"from": "a@example.com", "to": ["bad"], "subject": "s", "text": "t"}]
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    strict = requests.post(f"{fake.url}/emails/batch", json=emails, headers=headers, timeout=5)
    too_many = requests.post(
        f"{fake.url}/emails/batch", json=emails * 101, headers=headers, timeout=5
    )
    assert strict.status_code == 422 and "emails[0]" in strict.json()["message"]
    assert too_many.status_code == 422 and fake.accepted == []


ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bBqQ]\?")


def strings_in(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.items() for s in strings_in(list(item))]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return []


@pytest.mark.parametrize("text", HOSTILE)
def test_the_payload_carries_no_line_break_and_no_encoded_word(fake: FakeResend, text: str) -> None:
    """Resend builds the MIME itself: whatever it does with our strings, none of them can
    decode to a line break, in the subject, the sender's name, a header or a tag."""
    results = transport_for(fake).send_batch([hostile_email(1, text)], idempotency_key="k")
    assert results[0].ok
    (sent,) = fake.accepted
    fields = [sent["subject"], sent["from"], sent["headers"], sent["tags"], sent["to"]]
    for value in strings_in(fields):
        decoded = str(make_header(decode_header(value)))  # what a reader's client shows
        assert not CONTROL.search(value) and not CONTROL.search(decoded), value
        assert not ENCODED_WORD.search(decoded), value
    assert sent["to"] == ["reader1@example.com"]
    assert sent["from"].endswith(" <digest@example.com>")
    assert sent["headers"]["List-Unsubscribe"] == "<http://digest.test/unsubscribe/tok1>"
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", s) for tag in sent["tags"] for s in tag.values())


def test_an_unsendable_email_is_left_out_of_the_payload(fake: FakeResend) -> None:
    emails = [make_email(0), make_email(1, to="a@example.com\r\nBcc: b@evil.io"), make_email(2)]
    results = transport_for(fake).send_batch(emails, idempotency_key="k")
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].permanent and "not sent" in (results[1].error or "")
    assert [e["to"] for e in fake.accepted] == [["reader0@example.com"], ["reader2@example.com"]]
    ids = {e["to"][0]: e["id"] for e in fake.accepted}
    assert results[2].provider_id == ids["reader2@example.com"]


def test_check_proves_the_key_without_sending(fake: FakeResend) -> None:
    assert "accepts the key" in transport_for(fake).check()
    assert fake.probes == 1 and fake.accepted == []


def test_check_takes_a_sending_only_key() -> None:
    with FakeResend(sending_only=True) as fake:
        assert "sending access" in transport_for(fake).check()


def test_check_refuses_a_wrong_key_for_good_and_an_absent_api_for_now(fake: FakeResend) -> None:
    wrong = ResendTransport(api_key="re_wrong", api_url=fake.url, timeout=5)
    with pytest.raises(TransportError) as refused:
        wrong.check()
    assert not refused.value.retryable and "invalid_api_key" in refused.value.message
    gone = ResendTransport(api_key="re_x", api_url="http://127.0.0.1:1", timeout=2)
    with pytest.raises(TransportError) as down:
        gone.check()
    assert down.value.retryable


def test_the_body_is_the_same_json_document_the_stdlib_would_send() -> None:
    params = [{"subject": "Café ✓ 🚀", "html": '<a href="x?a=1&b=2">"q"</a>', "n": [1, None]}]
    body = encode_body(params)
    assert json.loads(body) == params
    assert "Café ✓ 🚀".encode() in body  # UTF-8 on the wire, not \\u escapes


def test_a_lone_surrogate_still_encodes_as_the_stdlib_escapes_it() -> None:
    body = encode_body({"text": "broken \ud800 half"})
    assert json.loads(body) == {"text": "broken \ud800 half"}


def test_non_ascii_content_arrives_intact_through_the_sdk(fake: FakeResend) -> None:
    email = make_email(1)
    email = dataclasses.replace(email, subject="Ünïcode ✓ verdicts", html="<p>naïve 🚀</p>")
    (result,) = transport_for(fake).send_batch([email], idempotency_key="k-utf8")
    assert result.ok
    (sent,) = fake.accepted
    assert sent["subject"] == "Ünïcode ✓ verdicts" and sent["html"] == "<p>naïve 🚀</p>"
