"""Comments on versions: `comments add|edit|delete` (`versions show` lists them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from registry_core.cli.options import ActorOption, NameArg, VersionArg
from registry_core.cli.output import client, done, emit, table, text, when
from registry_core.entities import VersionComment

if TYPE_CHECKING:
    from rich.console import RenderableType

app = typer.Typer(
    name="comments", help="Comment on model versions; edit or delete your own comments."
)

CommentArg = Annotated[str, typer.Argument(help="The comment's text.", show_default=False)]
CommentIdArg = Annotated[
    int, typer.Argument(help="The comment's id (see versions show).", min=1, show_default=False)
]


def comments_table(comments: list[VersionComment]) -> RenderableType:
    """A version's comments, oldest first."""
    return table(
        ["ID", "Author", "Time", "Comment"],
        (
            [c.id, c.author, when(c.last_updated_timestamp), text(c.comment, keep_lines=True)]
            for c in comments
        ),
        title="Comments",
    )


@app.command("add")
def add(name: NameArg, version: VersionArg, comment: CommentArg, actor: ActorOption = None) -> None:
    """Comment on a version."""
    made = client().create_comment(name, version, comment, actor=actor)
    emit(made, lambda: comments_table([made]))


@app.command("edit")
def edit(comment_id: CommentIdArg, comment: CommentArg, actor: ActorOption = None) -> None:
    """Change the text of your own comment."""
    made = client().update_comment(comment_id, comment, actor=actor)
    emit(made, lambda: comments_table([made]))


@app.command("delete")
def delete(comment_id: CommentIdArg, actor: ActorOption = None) -> None:
    """Delete your own comment."""
    client().delete_comment(comment_id, actor=actor)
    done({"id": comment_id, "deleted": True}, f"Deleted comment {comment_id}.")
