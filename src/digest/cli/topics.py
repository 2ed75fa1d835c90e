"""`digest topics list|rename|merge`: the tool categories readers choose, kept by an editor."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.common import console, load_settings, make_table, open_engine, shown

# Each command imports the domain packages it uses, so that `digest --help` stays fast.
app = typer.Typer(help="List, rename and merge the topics readers choose.", no_args_is_help=True)

Ref = Annotated[str, typer.Argument(help="A topic's slug or name (see: digest topics list).")]


@app.command("list")
def list_command() -> None:
    """Every topic: slug, name, the categories that map to it, readers who chose it."""
    from digest import catalog
    from digest.db import session_scope

    settings = load_settings()
    with session_scope(open_engine(settings), read_only=True) as session:
        rows = catalog.topic_summaries(session)
    if not rows:
        console.print("No topics yet: they come from the categories of imported comparisons.")
        return
    table = make_table("Slug", "Name", "Categories", "Readers who chose it")
    for topic, categories, readers in rows:
        table.add_row(
            shown(topic.slug), shown(topic.name), shown(", ".join(categories)), str(readers)
        )
    console.print(table)
    console.print("Readers who chose no topic get every topic, new ones included.")


@app.command("rename")
def rename_command(
    topic: Ref,
    name: Annotated[str, typer.Argument(help="The new name readers will see.")],
) -> None:
    """Give a topic a new name. Its slug, categories and readers stay."""
    from digest import catalog
    from digest.db import session_scope

    settings = load_settings()
    with session_scope(open_engine(settings)) as session:
        renamed = catalog.rename_topic(session, topic, name)
        slug, new_name = renamed.slug, renamed.name
    console.print(f"Renamed: {shown(new_name)} (slug {shown(slug)})")


@app.command("merge")
def merge_command(
    source: Annotated[str, typer.Argument(help="The topic that goes away (slug or name).")],
    target: Annotated[str, typer.Argument(help="The topic it becomes part of.")],
) -> None:
    """Merge SOURCE into TARGET: its categories and the readers who chose it move over."""
    from digest import catalog
    from digest.db import session_scope

    settings = load_settings()
    with session_scope(open_engine(settings)) as session:
        merged, moved = catalog.merge_topics(session, source, target)
        into = merged.name
    console.print(
        f"Merged {shown(repr(source))} into {shown(into)}: {moved} reader choice(s) moved."
    )
