"""`digest issue approve|hold|pause|resume N`: everything the desk's buttons do, from the CLI.

Each is audited as "cli:<user>". Resume records a request, as the desk does: the scheduler or
`digest worker` continues the send within seconds (or `digest issue send` here and now).
"""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.common import NowOption, cli_actor, console, load_settings, open_engine, parse_time

# Each command imports the domain packages it uses, so that `digest --help` stays fast.
NumberArg = Annotated[int, typer.Argument(metavar="N", help="The issue's number.")]


def approve_command(number: NumberArg, now: NowOption = None) -> None:
    """Approve the next issue as it stands (DIGEST_REVIEW=required sends only approved ones)."""
    from digest import editors
    from digest.db import session_scope

    settings, moment = load_settings(), parse_time(now)
    with session_scope(open_engine(settings)) as session:
        issue = editors.approve_issue(
            session, settings, number=number, actor=cli_actor(), now=moment
        )
        console.print(
            f"Issue #{issue.number} approved (content {issue.approved_hash or ''})."[:120]
        )


def hold_command(number: NumberArg, now: NowOption = None) -> None:
    """Withdraw the next issue's approval: the scheduled run will not send it unapproved."""
    from digest import editors
    from digest.db import session_scope

    settings, moment = load_settings(), parse_time(now)
    with session_scope(open_engine(settings)) as session:
        editors.hold_issue(session, settings, number=number, actor=cli_actor(), now=moment)
    console.print(f"Issue #{number} held: not approved.")


def pause_command(number: NumberArg, now: NowOption = None) -> None:
    """Pause a send in progress; nothing resumes it until `digest issue resume N`."""
    from digest import editors
    from digest.db import session_scope

    with session_scope(open_engine(load_settings())) as session:
        editors.pause_send(session, number=number, actor=cli_actor(), now=parse_time(now))
    console.print(f"Issue #{number} paused; resume it with: digest issue resume {number}")


def resume_command(number: NumberArg, now: NowOption = None) -> None:
    """Resume a paused send: the scheduler or `digest worker` continues it within seconds."""
    from digest import editors
    from digest.db import session_scope

    with session_scope(open_engine(load_settings())) as session:
        asked = editors.request_resume(
            session, number=number, actor=cli_actor(), now=parse_time(now)
        )
    already = "" if asked.created else " (it was already requested)"
    console.print(
        f"Issue #{number}: resume requested{already}. The scheduler or `digest worker` "
        "continues it within seconds; `digest issue send` does it here and now."
    )
