"""`digest editors add|list|remove|passwd|owner`: the desk's accounts, from the terminal.

Passwords are prompted twice without echo, or read from the first line of standard input with
`--password-stdin` (for scripts); never taken as an argument, where `ps` and shell history see
them. Every change is audited as "cli:<user>".
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from digest.cli.common import cli_actor, console, load_settings, make_table, open_engine, shown

# Each command imports the domain packages it uses, so that `digest --help` stays fast.
app = typer.Typer(help="Editor accounts for the desk (/editor).", no_args_is_help=True)

EmailArg = Annotated[str, typer.Argument(metavar="EMAIL", help="The editor's address.")]
StdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("add")
def add_command(
    email: EmailArg,
    owner: Annotated[bool, typer.Option("--owner", help="May manage other accounts.")] = False,
    password_stdin: StdinOption = False,
) -> None:
    """Create an editor account (an owner with --owner)."""
    from digest import editors
    from digest.db import session_scope, utcnow

    password = read_password(password_stdin)
    with session_scope(open_engine(load_settings())) as session:
        account = editors.add_account(
            session, email, password, owner=owner, actor=cli_actor(), now=utcnow()
        )
        role = "owner" if account.owner else "editor"
        console.print(f"Added {shown(account.email)} ({role}). Log in at /editor/login.")


@app.command("list")
def list_command() -> None:
    """Every editor account, with its role."""
    from digest import editors
    from digest.db import session_scope

    with session_scope(open_engine(load_settings()), read_only=True) as session:
        accounts = editors.list_accounts(session)
    if not accounts:
        console.print("No editor accounts. Add one with: digest editors add EMAIL --owner")
        return
    table = make_table("Email", "Role", "Created (UTC)")
    for account in accounts:
        role = "owner" if account.owner else "editor"
        table.add_row(shown(account.email), role, f"{account.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


@app.command("remove")
def remove_command(email: EmailArg) -> None:
    """Remove an account and end its sessions (never the last owner)."""
    from digest import editors
    from digest.db import session_scope, utcnow

    with session_scope(open_engine(load_settings())) as session:
        editors.remove_account(session, email, actor=cli_actor(), now=utcnow())
    console.print(f"Removed {shown(editors.normalise_email(email))}; its sessions ended.")


@app.command("passwd")
def passwd_command(email: EmailArg, password_stdin: StdinOption = False) -> None:
    """Set a new password; the account's sessions end."""
    from digest import editors
    from digest.db import session_scope, utcnow

    password = read_password(password_stdin)
    with session_scope(open_engine(load_settings())) as session:
        account = editors.set_password(session, email, password, actor=cli_actor(), now=utcnow())
        console.print(f"New password set for {shown(account.email)}; its sessions ended.")


@app.command("owner")
def owner_command(
    email: EmailArg,
    revoke: Annotated[bool, typer.Option("--revoke", help="Make an owner a plain editor.")] = False,
) -> None:
    """Make an editor an owner (or, with --revoke, not; never the last owner)."""
    from digest import editors
    from digest.db import session_scope, utcnow

    with session_scope(open_engine(load_settings())) as session:
        account = editors.set_owner(session, email, not revoke, actor=cli_actor(), now=utcnow())
        role = "owner" if account.owner else "editor"
        console.print(f"{shown(account.email)} is now an {role}.")
