"""What every command shares: the client, tables or JSON on stdout, errors and exit codes on
stderr, and progress shown only on a terminal. Rich is imported only to draw, never for `--json`;
DuckDB only by the store that uses it."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from registry_core.client import RegistryClient
from registry_core.errors import RegistryError
from registry_core.store.base import Progress
from registry_core.validation import UNSAFE_IN_NAMES

if TYPE_CHECKING:
    from rich.console import Console, Group, RenderableType
    from rich.table import Table
    from rich.text import Text

EXIT_REGISTRY_ERROR = 1
IO_ERROR = "IO_ERROR"
INTERNAL_ERROR = "INTERNAL_ERROR"
PIPE_WIDTH = 160


@dataclasses.dataclass
class CliState:
    """The global options and the client they open, created on first use."""

    registry_uri: str | None
    json_output: bool
    _client: RegistryClient | None = None

    @property
    def client(self) -> RegistryClient:
        """The registry client of this invocation."""
        if self._client is None:
            self._client = RegistryClient(self.registry_uri)
        return self._client

    def close(self) -> None:
        """Release the registry file as soon as the command ends."""
        if self._client is not None:
            self._client.close()


_STATE: ContextVar[CliState] = ContextVar("registry_cli_state")


def error_line(error: Exception) -> str:
    """`ERROR_CODE: message` for stderr, for a registry, OS or DuckDB error."""
    if isinstance(error, RegistryError):
        return printable(str(error))
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return printable(f"{IO_ERROR}: {error.strerror or error}{where}")
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(error, duckdb.IOException):
        return printable(f"{IO_ERROR}: {str(error).removeprefix('IO Error: ')}")
    return printable(f"{INTERNAL_ERROR}: {error}")


def start(ctx: typer.Context, registry_uri: str | None, json_output: bool) -> None:
    """Record the global options for the commands of this invocation."""
    current = CliState(registry_uri, json_output)
    ctx.call_on_close(current.close)
    _STATE.set(current)


def state() -> CliState:
    """The global options of this invocation."""
    return _STATE.get()


def client() -> RegistryClient:
    """The registry client of this invocation."""
    return state().client


# -- output --------------------------------------------------------------------------------


def console(stderr: bool = False) -> Console:
    """A console on the current stdout (or stderr), wide enough when piped."""
    from rich.console import Console

    out = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = PIPE_WIDTH
    return out


def printable(value: str, keep_lines: bool = False) -> str:
    """`value` with every control and bidirectional-formatting character shown as its escape
    (`\\x1b`, `\\n`, `\\u202e`), so user text can neither restyle the terminal nor pose as other
    rows or text; `keep_lines` keeps newlines and tabs, for multi-line text."""
    if keep_lines:
        value = value.replace("\r\n", "\n")
    return UNSAFE_IN_NAMES.sub(lambda m: _escape(m.group(), keep_lines), value)


def _escape(char: str, keep_lines: bool) -> str:
    return char if keep_lines and char in "\n\t" else repr(char)[1:-1]


def _json_escape(match: re.Match[str]) -> str:
    """JSON escapes C0 controls in strings itself (those left are its own line breaks); the
    others it leaves raw, so they are escaped here, and decode to the same text."""
    char = match.group()
    return char if char < " " else f"\\u{ord(char):04x}"


def jsonable(value: Any) -> Any:
    """Plain JSON data from entities (dataclasses), mappings, sequences and numbers."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    return value


def emit(data: Any, render: Callable[[], RenderableType]) -> None:
    """Print `data` as JSON in `--json` mode, else what `render` draws."""
    if state().json_output:
        dumped = json.dumps(jsonable(data), indent=2, ensure_ascii=False)
        typer.echo(UNSAFE_IN_NAMES.sub(_json_escape, dumped))
    else:
        console().print(render())


def done(data: Any, message: str) -> None:
    """Report a completed change: `data` as JSON, or one line for people."""
    emit(data, lambda: text(message, style="green"))


# -- rendering -----------------------------------------------------------------------------


def text(value: Any, style: str = "", keep_lines: bool = False) -> Text:
    """A table cell from any value, never read as markup, control characters escaped (newlines
    kept with `keep_lines`); None shows as a dim dash."""
    from rich.text import Text

    if value is None or value == "":
        return Text("-", style="dim")
    if isinstance(value, Text):
        return value
    return Text(printable(str(value), keep_lines), style=style)


def lines(value: str | None) -> Text:
    """A multi-line cell, such as a description: its newlines kept, other controls escaped."""
    return text(value, keep_lines=True)


def _title(title: str | None) -> Text | None:
    return text(title) if title else None


def when(ms: int | None) -> str | None:
    """Epoch milliseconds as a local ISO-8601 time to the second."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000).astimezone().isoformat(timespec="seconds")


def short(digest: str | None) -> str | None:
    """The first 12 characters of a digest, as tables show it."""
    return digest[:12] if digest else None


def signature_summary(signature: dict[str, Any] | None) -> str | None:
    """A signature in one line: `name:dtype, ... (input kind) -> output kind`."""
    if not signature:
        return None
    inputs = ", ".join(f"{column['name']}:{column['dtype']}" for column in signature["inputs"])
    return f"{inputs} ({signature.get('input_kind')}) -> {signature.get('output_kind')}"


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> Table:
    """A table with a header row; cells go through `text`."""
    from rich.table import Table

    grid = Table(*columns, title=_title(title), title_justify="left", title_style="bold")
    for row in rows:
        grid.add_row(*(text(cell) for cell in row))
    return grid


def details(pairs: Iterable[tuple[str, Any]], title: str | None = None) -> Table:
    """A two-column key/value listing."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.title = _title(title)
    grid.title_justify = "left"
    grid.title_style = "bold"
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in pairs:
        grid.add_row(key, text(value))
    return grid


def stack(*parts: RenderableType | None) -> Group:
    """Several renderables one under another, a blank line apart, skipping None; plain strings
    are shown as they are, never read as markup."""
    from rich.console import Group
    from rich.text import Text

    shown: list[RenderableType] = []
    for part in parts:
        if part is None:
            continue
        if shown:
            shown.append(Text(""))
        shown.append(Text(printable(part)) if isinstance(part, str) else part)
    return Group(*shown)


# -- progress ------------------------------------------------------------------------------


@contextmanager
def progress(labels: dict[str, str]) -> Iterator[Progress]:
    """A `progress(task, done, total)` callback drawing bars on a terminal's stderr, never in
    `--json` mode or when stderr is not a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bars

    from registry_core.transfer import no_progress

    out = None if state().json_output else console(stderr=True)
    if out is None or not out.is_terminal:
        yield no_progress
        return
    bars = Bars(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=out,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(task: str, completed: int, total: int) -> None:
        if task not in tasks:
            tasks[task] = bars.add_task(labels.get(task, task), total=total)
        bars.update(tasks[task], completed=completed, total=total)

    with bars:
        yield update


@contextmanager
def busy(message: str) -> Iterator[None]:
    """A spinner on a terminal's stderr while work of unknown length runs."""
    out = None if state().json_output else console(stderr=True)
    if out is None or not out.is_terminal:
        yield
        return
    with out.status(message):
        yield
