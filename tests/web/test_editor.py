"""Editor pages over real HTTP: login, preview, subject/note, test send, 404 when disabled."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest import issues
from digest.config import Settings
from digest.db import session_scope
from digest.models import IssueStatus
from tests.support.issue_data import comparison_doc, import_docs, topical_week, week_of
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings

PASSWORD = "correct horse battery staple"


@pytest.fixture
def editor_settings(tmp_path: Path, settings: Settings) -> Settings:
    return make_test_settings(tmp_path, settings.database_url, editor_password=PASSWORD)


@pytest.fixture
def web_settings(editor_settings: Settings, engine: Engine) -> Settings:
    return editor_settings


@pytest.fixture
def base_url(web_settings: Settings) -> Iterator[str]:
    with live_server(web_settings) as url:
        yield url


@pytest.fixture
def with_content(engine: Engine) -> None:
    now = datetime.now(UTC)
    import_docs(engine, week_of(now, 6), now=now)


def login(client: httpx.Client, password: str = PASSWORD, email: str = "") -> httpx.Response:
    """Log in as a browser does: load the form (its CSRF cookie and token), then post it."""
    return client.post("/editor/login", data=login_form(client, password=password, email=email))


def login_form(client: httpx.Client, **fields: str) -> dict[str, str]:
    return {"csrf": csrf_of(client.get("/editor/login").text), **fields}


def path_of(redirect: httpx.Response) -> str:
    """Where a redirect leads, on the server under test (Location is under DIGEST_BASE_URL)."""
    target = urlsplit(redirect.headers["location"])
    return target.path + (f"?{target.query}" if target.query else "")


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/editor"),
        ("GET", "/editor/login"),
        ("POST", "/editor/login"),
        ("GET", "/editor/preview"),
        ("POST", "/editor/issue"),
        ("POST", "/editor/test-send"),
    ],
)
def test_editor_is_404_without_a_password(
    engine: Engine, settings: Settings, method: str, path: str
) -> None:
    with live_server(settings) as base:
        body = {"password": ""} if method == "POST" else None
        response = httpx.request(method, f"{base}{path}", data=body)
    assert response.status_code == 404


def test_preview_needs_login(engine: Engine, editor_settings: Settings, with_content: None) -> None:
    with live_server(editor_settings) as base, httpx.Client(base_url=base) as client:
        location = client.get("/editor/preview").headers["location"]
        assert location == f"{editor_settings.base_url}/editor/login?next=%2Feditor%2Fpreview"
        wrong = login(client, "guess")
        assert wrong.status_code == 401 and "not right" in wrong.text
        assert "digest_editor" not in client.cookies
        with httpx.Client(base_url=base, cookies={"digest_editor": "x.1.2"}) as forger:
            assert forger.get("/editor/preview").status_code == 303
        assert login(client).status_code == 303
        page = client.get("/editor/preview")
    assert page.status_code == 200
    assert 'width="600"' in page.text and 'width="375"' in page.text
    assert page.text.count("srcdoc=") == 2
    assert (
        'id="text-part"' in page.text and "Read the full comparison: https://site.test" in page.text
    )
    assert "Claude Files" in page.text  # subject
    assert "ok</td><td>size" in page.text and "Ready to send." in page.text
    assert "[[digest:" not in page.text
    assert page.text.count("(listed)</span></li>") == 1  # 6 comparisons: 5 cards + 1 listed


def test_editor_sets_subject_and_note(
    engine: Engine, editor_settings: Settings, with_content: None
) -> None:
    with live_server(editor_settings) as base, httpx.Client(base_url=base) as client:
        login(client)
        token = csrf_of(client.get("/editor/preview").text)
        refused = client.post("/editor/issue", data={"csrf": "0" * 64, "subject": "Nope"})
        assert refused.status_code == 403
        note = "Big *week* & a < b"
        saved = client.post(
            "/editor/issue", data={"csrf": token, "subject": "GPUs & files", "note": note}
        )
        assert saved.status_code == 303
        page = client.get(path_of(saved)).text
        too_long = client.post("/editor/issue", data={"csrf": token, "subject": "x" * 151})
        raw = client.post("/editor/issue", data={"csrf": token, "note": "Big <week>"})
    assert "Saved." in page
    assert '<dd id="subject">GPUs &amp; files</dd>' in page
    # inside srcdoc: escaped twice, shown once; Markdown emphasis became <em>
    assert "Big &lt;em&gt;week&lt;/em&gt; &amp;amp; a &amp;lt; b" in page
    assert too_long.status_code == 200 and "at most 150 characters" in too_long.text
    assert raw.status_code == 200 and "raw HTML is not allowed" in raw.text
    assert "Big &lt;week&gt;</textarea>" in raw.text  # what the editor typed is kept
    with session_scope(engine, read_only=True) as session:
        draft = issues.find_draft(session)
    assert draft is not None
    assert (draft.subject_override, draft.editor_note) == ("GPUs & files", note)


def test_get_never_changes_state(
    engine: Engine, editor_settings: Settings, with_content: None
) -> None:
    with live_server(editor_settings) as base, httpx.Client(base_url=base) as client:
        login(client)
        client.get("/editor/preview")
        client.get("/editor/issue", params={"subject": "via GET"})
    with session_scope(engine, read_only=True) as session:
        assert issues.list_issues(session) == []


def test_test_send_delivers_one_marked_copy(
    engine: Engine, editor_settings: Settings, with_content: None
) -> None:
    outbox = editor_settings.outbox_dir
    with live_server(editor_settings) as base, httpx.Client(base_url=base) as client:
        login(client)
        token = csrf_of(client.get("/editor/preview").text)
        bad = client.post("/editor/test-send", data={"csrf": token, "to": "not-an-address"})
        assert bad.status_code == 422 and "must have an @-sign" in bad.text
        assert not outbox.exists() or not list(outbox.iterdir())
        sent = client.post("/editor/test-send", data={"csrf": token, "to": "Editor@Example.COM"})
        assert sent.status_code == 303
        assert "Test copy sent" in client.get(path_of(sent)).text
    [path] = list(outbox.glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["Subject"].startswith("[TEST] Claude Files")
    assert message["To"] == "Editor@example.com"
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "[[digest:" not in html + text
    assert f"{editor_settings.base_url}/unsubscribe" in text
    with session_scope(engine, read_only=True) as session:
        assert issues.list_issues(session) == []  # a test copy claims nothing


def test_empty_week_says_so(engine: Engine, editor_settings: Settings) -> None:
    old = datetime.now(UTC) - timedelta(days=30)
    import_docs(engine, week_of(old, 1), now=old)
    with live_server(editor_settings) as base, httpx.Client(base_url=base) as client:
        login(client)
        page = client.get("/editor/preview")
    assert page.status_code == 200 and "Nothing to send yet" in page.text
    assert "srcdoc" not in page.text and 'name="subject"' in page.text


def test_transport_failure_is_reported_not_crashed(
    tmp_path: Path, engine: Engine, settings: Settings, with_content: None
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the outbox folder should be")
    broken = make_test_settings(
        tmp_path, settings.database_url, editor_password=PASSWORD, outbox_dir=blocker
    )
    with live_server(broken) as base, httpx.Client(base_url=base) as client:
        login(client)
        token = csrf_of(client.get("/editor/preview").text)
        answer = client.post("/editor/test-send", data={"csrf": token, "to": "ed@example.com"})
    assert answer.status_code == 502
    assert "cannot write to outbox" in answer.text and "Traceback" not in answer.text
    assert 'value="ed@example.com"' in answer.text  # the form keeps what the editor typed


def test_editor_overrides_drop_control_characters(
    base_url: str, engine: Engine, web_settings: Settings
) -> None:
    """Control characters pasted into the subject or note are dropped before they are stored."""
    now = datetime.now(UTC)
    import_docs(engine, week_of(now, 3), now=now)
    with httpx.Client(base_url=base_url) as client:
        login(client)
        page = client.get("/editor/preview").text
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        saved = client.post(
            "/editor/issue",
            data={"csrf": csrf, "subject": "Big\x00 week\x1f", "note": "A\x0bnote\ufffe\nok"},
        )
        assert saved.status_code == 303
        preview = client.get("/editor/preview")
    assert preview.status_code == 200
    with session_scope(engine, read_only=True) as session:
        draft = issues.find_draft(session)
    assert draft is not None
    assert (draft.subject_override, draft.editor_note) == ("Big week", "Anote\nok")


def test_editor_login_is_rate_limited(base_url: str) -> None:
    """Login guesses are limited per client, in the database, whatever address they try;
    the right password while blocked gets no session."""
    with httpx.Client(base_url=base_url) as client:
        for n in range(10):
            wrong = login(client, "guess", email=f"guess{n}@example.com")
            assert wrong.status_code == 401 and "do not match" in wrong.text
        blocked = login(client)
    assert blocked.status_code == 401 and "Too many attempts" in blocked.text
    assert "digest_editor" not in blocked.headers.get("set-cookie", "")


def test_the_shared_password_locks_after_a_few_failures(base_url: str) -> None:
    """Five wrong guesses at one address (here: the shared password) lock it for the window,
    from any client; the right password then gets no session either."""
    from digest.web.login_limits import ADDRESS_LIMIT

    with httpx.Client(base_url=base_url) as client:
        for _ in range(ADDRESS_LIMIT):
            assert "not right" in login(client, "guess").text
    with httpx.Client(base_url=base_url) as other:
        blocked = login(other)
    assert blocked.status_code == 401 and "Too many attempts" in blocked.text
    assert "digest_editor" not in blocked.headers.get("set-cookie", "")


def test_the_login_form_needs_its_csrf_token(base_url: str) -> None:
    """Another site cannot post the login form: no token, a wrong one, or another browser's
    token with no cookie is a 403, and no session starts."""
    with httpx.Client(base_url=base_url) as client:
        bare = client.post("/editor/login", data={"password": PASSWORD})
        token = login_form(client)["csrf"]
        wrong = client.post("/editor/login", data={"csrf": "0" * 64, "password": PASSWORD})
    with httpx.Client(base_url=base_url) as stranger:
        borrowed = stranger.post("/editor/login", data={"csrf": token, "password": PASSWORD})
    for answer in (bare, wrong, borrowed):
        assert answer.status_code == 403 and "expired" in answer.text
        assert "digest_editor=" not in answer.headers.get("set-cookie", "")


def test_non_ascii_csrf_is_refused_not_a_500(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        login(client)
        answer = client.post("/editor/issue", data={"csrf": "é" * 64, "subject": "x"})
    assert answer.status_code == 403


def test_the_editor_says_what_goes_out_next_as_the_cli_does(
    engine: Engine, editor_settings: Settings
) -> None:
    """This week's issue went out; a comparison came in since: the page names #2 and its time,
    and saving a subject puts the draft in the week the plan names."""
    now = datetime.now(UTC)
    import_docs(engine, week_of(now, 1), now=now)
    with session_scope(engine) as session:
        sent = issues.claim_issue(session, editor_settings, now=now)
        sent = issues.freeze_issue(session, editor_settings, sent, now=now)
        sent.status = IssueStatus.SENT
        session.add(sent)
    later = datetime.now(UTC)
    import_docs(engine, [comparison_doc(41, later)], now=later)
    with session_scope(engine, read_only=True) as session:
        plan = issues.next_issue(session, editor_settings, now=datetime.now(UTC))
    assert plan.number == 2 and plan.comparisons and not plan.sendable_now
    with live_server(editor_settings) as base, httpx.Client(base_url=base) as client:
        login(client)
        page = client.get("/editor/preview").text
        client.post("/editor/issue", data={"csrf": csrf_of(page), "subject": "Next week"})
    assert f"<strong>Next:</strong> {plan.describe()}" in page
    assert "Next issue #2" in page
    with session_scope(engine, read_only=True) as session:
        draft = issues.find_draft(session)
    assert draft is not None and (draft.number, draft.period) == (2, plan.period)


def test_logout_revokes_the_session_everywhere(
    engine: Engine, editor_settings: Settings, with_content: None
) -> None:
    """A copy of the cookie (another browser, a proxy log) dies with the logout."""
    with live_server(editor_settings) as base, httpx.Client(base_url=base) as client:
        login(client)
        cookie = client.cookies["digest_editor"]
        token = csrf_of(client.get("/editor/preview").text)
        assert client.post("/editor/logout", data={"csrf": "0" * 64}).status_code == 403
        out = client.post("/editor/logout", data={"csrf": token})
        assert out.status_code == 303 and path_of(out) == "/editor/login"
        with httpx.Client(base_url=base, cookies={"digest_editor": cookie}) as copy:
            again = copy.get("/editor/preview")
            assert again.status_code == 303
            assert path_of(again) == "/editor/login?next=%2Feditor%2Fpreview"
            refused = copy.post("/editor/issue", data={"csrf": token, "subject": "after logout"})
            assert refused.status_code == 303
    with session_scope(engine, read_only=True) as session:
        draft = issues.find_draft(session)
    assert draft is None or draft.subject_override is None


def test_test_copies_are_limited(
    engine: Engine, editor_settings: Settings, with_content: None
) -> None:
    from digest.web.editor import TEST_SEND_LIMIT

    with live_server(editor_settings) as base, httpx.Client(base_url=base) as client:
        login(client)
        token = csrf_of(client.get("/editor/preview").text)
        answers = [
            client.post("/editor/test-send", data={"csrf": token, "to": "ed@example.com"})
            for _ in range(TEST_SEND_LIMIT + 2)
        ]
    assert [a.status_code for a in answers].count(303) == TEST_SEND_LIMIT
    assert answers[-1].status_code == 429 and "test copies an hour" in answers[-1].text
    assert len(list(editor_settings.outbox_dir.glob("*.eml"))) == TEST_SEND_LIMIT


def test_the_login_form_is_read_bounded(base_url: str) -> None:
    """A password field of a megabyte is refused at the limit, not parsed."""
    answer = httpx.post(f"{base_url}/editor/login", data={"password": "x" * 1_000_000}, timeout=10)
    assert answer.status_code == 413


def test_preview_shows_both_greetings_and_any_topic_variant(
    engine: Engine, editor_settings: Settings
) -> None:
    now = datetime.now(UTC)
    import_docs(engine, topical_week(now, 6, long=False), now=now)
    with live_server(editor_settings) as base, httpx.Client(base_url=base) as client:
        login(client)
        everyone = client.get("/editor/preview").text
        design = client.get("/editor/preview", params={"topics": ["design", "video"]}).text
        unknown = client.get("/editor/preview", params={"topics": ["gone"]})
    frames = re.findall(r'srcdoc="(.*?)"></iframe>', everyone, re.DOTALL)
    assert len(frames) == 2
    assert "Hi Ann," in frames[0] and "Hi " not in frames[1].replace("Hi Ann", "")
    assert "Hi Ann," in everyone.split('id="text-part"')[1]
    assert "Picked for your topics" not in everyone
    assert "Picked for your topics: Design, Video" in design
    assert 'value="design" checked' in design and 'value="writing">' in design
    assert unknown.status_code == 200 and "we have no topic &#39;gone&#39;" in unknown.text
