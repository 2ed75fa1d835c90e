"""`digest subscribers ...` run as a subprocess, exactly as operators run it, on both engines."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from digest.config import Settings
from tests.support.cli import digest_env, run_digest
from tests.support.mailbox import outbox_mail

NOW = "2026-11-16T08:00:00Z"


@pytest.fixture
def env(tmp_path: Path, settings: Settings, engine: Engine) -> dict[str, str]:
    return digest_env(tmp_path, settings.database_url)


def digest(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_digest(list(args), env, tmp_path)


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM subscriber")).scalar_one())


def rows(engine: Engine) -> list[tuple[str | None, str]]:
    with engine.connect() as connection:
        result = connection.execute(text("SELECT email, status FROM subscriber ORDER BY id"))
        return [(row[0], row[1]) for row in result]


def test_add_confirmed_and_pending(tmp_path: Path, env: dict[str, str], engine: Engine) -> None:
    done = digest(
        tmp_path, env, "subscribers", "add", "Ann@Example.com", "--name", "Ann", "--confirmed"
    )
    assert done.returncode == 0, done.stderr
    assert "Added ann@example.com (confirmed)" in done.stdout
    pending = digest(tmp_path, env, "subscribers", "add", "bob@example.com", "--now", NOW)
    assert pending.returncode == 0, pending.stderr
    assert rows(engine) == [("ann@example.com", "confirmed"), ("bob@example.com", "pending")]
    mail = outbox_mail(tmp_path / "outbox")
    assert [m.to for m in mail] == ["bob@example.com"]
    again = digest(tmp_path, env, "subscribers", "add", "ann@example.com")
    assert again.returncode == 1 and "already on the list" in again.stderr
    bad = digest(tmp_path, env, "subscribers", "add", "not-an-address")
    assert bad.returncode == 1 and "email" in bad.stderr and "Traceback" not in bad.stderr


def test_import_reports_every_bad_row_and_writes_nothing(
    tmp_path: Path, env: dict[str, str], engine: Engine
) -> None:
    source = tmp_path / "list.csv"
    source.write_text(
        "email,name\nok@example.com,Ok\nbroken,Bad\nok@example.com,Twice\n\nz@example.com,"
        + "x" * 101
        + "\n"
    )
    result = digest(tmp_path, env, "subscribers", "import", str(source), "--confirmed")
    assert result.returncode == 1
    for line in ("line 3", "line 4", "line 6"):
        assert line in result.stderr
    assert "line 2" not in result.stderr
    assert rows(engine) == []


def test_import_pending_and_confirmed_and_skips_known_addresses(
    tmp_path: Path, env: dict[str, str], engine: Engine
) -> None:
    digest(tmp_path, env, "subscribers", "add", "gone@example.com", "--confirmed")
    assert digest(tmp_path, env, "subscribers", "remove", "gone@example.com").returncode == 0
    digest(tmp_path, env, "subscribers", "add", "known@example.com", "--confirmed")
    source = tmp_path / "list.csv"
    source.write_text("Email,Name\nnew@example.com,New\nknown@example.com,\nGONE@example.com,\n")
    result = digest(tmp_path, env, "subscribers", "import", str(source), "--now", NOW)
    assert result.returncode == 0, result.stderr
    assert "Imported 1 new subscriber(s) (pending" in result.stdout
    assert "Skipped 1 already on the list" in result.stdout
    assert "Not re-added 1 erased or suppressed" in result.stdout
    assert ("new@example.com", "pending") in rows(engine)
    assert (None, "erased") in rows(engine)
    assert [m.to for m in outbox_mail(tmp_path / "outbox")] == ["new@example.com"]
    confirmed = tmp_path / "confirmed.csv"
    confirmed.write_text("email\nmigrated@example.com\n")
    assert (
        digest(tmp_path, env, "subscribers", "import", str(confirmed), "--confirmed").returncode
        == 0
    )
    assert ("migrated@example.com", "confirmed") in rows(engine)
    assert len(outbox_mail(tmp_path / "outbox")) == 1


def test_export_list_and_remove(tmp_path: Path, env: dict[str, str], engine: Engine) -> None:
    digest(
        tmp_path,
        env,
        "subscribers",
        "add",
        "a@example.com",
        "--name",
        "=HYPERLINK(1)",
        "--confirmed",
    )
    digest(tmp_path, env, "subscribers", "add", "b@example.com", "--now", NOW)
    exported = digest(tmp_path, env, "subscribers", "export")
    assert exported.returncode == 0, exported.stderr
    table = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [row["email"] for row in table] == ["a@example.com", "b@example.com"]
    assert table[0]["status"] == "confirmed" and table[0]["consent_route"] == "cli"
    assert table[0]["name"] == "'=HYPERLINK(1)"  # defused for spreadsheets
    assert table[1]["consent_at"].startswith("2026-11-16T08:00:00")
    listing = digest(tmp_path, env, "subscribers", "list", "--status", "pending")
    assert "b@example.com" in listing.stdout and "a@example.com" not in listing.stdout
    removed = digest(tmp_path, env, "subscribers", "remove", "A@example.com")
    assert removed.returncode == 0 and "Erased a@example.com" in removed.stdout
    assert rows(engine)[0] == (None, "erased")
    out = tmp_path / "all.csv"
    assert digest(tmp_path, env, "subscribers", "export", "--out", str(out)).returncode == 0
    assert "a@example.com" not in out.read_text()
    missing = digest(tmp_path, env, "subscribers", "remove", "nobody@example.com")
    assert missing.returncode == 1 and "not on the list" in missing.stderr
    wrong = digest(tmp_path, env, "subscribers", "list", "--status", "nonsense")
    assert wrong.returncode == 2


def test_export_defuses_a_formula_in_the_address(
    tmp_path: Path, env: dict[str, str], engine: Engine
) -> None:
    evil = "=cmd|'/Ccalc'!A0@example.com"
    added = digest(tmp_path, env, "subscribers", "add", evil, "--confirmed")
    assert added.returncode == 0, added.stderr
    exported = digest(tmp_path, env, "subscribers", "export")
    assert exported.returncode == 0, exported.stderr
    row = next(csv.DictReader(io.StringIO(exported.stdout)))
    assert row["email"] == "'" + evil.lower() or row["email"].startswith("'=")
    for value in row.values():
        assert value[:1] not in ("=", "+", "-", "@")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        # an unclosed quote would swallow every following row into one name
        ('email,name\na@example.com,"Ann\nb@example.com,Bob\nc@example.com,Cy\n', "line"),
        # a closed quote across lines hides a row inside a name
        ('email,name\na@example.com,"Ann\nb@example.com"\nc@example.com,Cy\n', "several lines"),
        ("email,name,email\na@example.com,Ann,b@example.com\n", "twice"),
        ("Email,EMAIL\na@example.com,b@example.com\n", "twice"),
    ],
)
def test_import_refuses_rows_that_would_be_lost(
    tmp_path: Path, env: dict[str, str], engine: Engine, content: str, fragment: str
) -> None:
    """Malformed quoting or repeated columns are refused: no row is silently swallowed."""
    source = tmp_path / "list.csv"
    source.write_text(content)
    result = digest(tmp_path, env, "subscribers", "import", str(source), "--confirmed")
    assert result.returncode == 1
    assert fragment in result.stderr and "Traceback" not in result.stderr
    assert count(engine) == 0


def test_import_refuses_a_huge_file_without_reading_it_all(
    tmp_path: Path, env: dict[str, str], engine: Engine
) -> None:
    result = digest(tmp_path, env, "subscribers", "import", "/dev/zero")
    assert result.returncode == 1
    assert "line 1: longer than 256 KiB" in result.stderr
    assert count(engine) == 0


def test_import_stops_at_the_byte_limit_and_writes_nothing(
    tmp_path: Path, env: dict[str, str], engine: Engine
) -> None:
    source = tmp_path / "list.csv"
    source.write_text("email\n" + "".join(f"r{n}@example.com\n" for n in range(3000)))
    limited = {**env, "DIGEST_IMPORT_MAX_BYTES": "4096"}
    result = digest(tmp_path, limited, "subscribers", "import", str(source), "--confirmed")
    assert result.returncode == 1
    assert "larger than 4 KiB; split the file, or raise DIGEST_IMPORT_MAX_BYTES" in result.stderr
    assert count(engine) == 0
    wrong = digest(tmp_path, {**env, "DIGEST_IMPORT_MAX_BYTES": "lots"}, "subscribers", "import",
                   str(source))  # fmt: skip
    assert wrong.returncode == 1 and "DIGEST_IMPORT_MAX_BYTES" in wrong.stderr
    assert "Traceback" not in wrong.stderr


EXPORTS = Path(__file__).parents[1] / "support" / "exports"


@pytest.mark.parametrize(
    ("export", "imported", "left"),
    [
        ("mailchimp_subscribed.csv", 3, 0),
        ("mailchimp_unsubscribed.csv", 0, 1),
        ("substack.csv", 2, 1),
        ("buttondown.csv", 2, 1),
        ("listmonk.csv", 2, 1),
    ],
)
def test_import_takes_the_common_exports_as_they_come(
    tmp_path: Path, env: dict[str, str], engine: Engine, export: str, imported: int, left: int
) -> None:
    path = str(EXPORTS / export)
    result = digest(tmp_path, env, "subscribers", "import", path, "--confirmed", "--now", NOW)
    assert result.returncode == 0, result.stderr
    assert f"Imported {imported} new subscriber(s) (confirmed)" in result.stdout
    assert (f"Not imported {left} the file marks" in result.stdout) == bool(left)
    assert sum(status == "confirmed" for _email, status in rows(engine)) == imported
