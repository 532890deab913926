"""The root command group: command modules imported only when one of their commands runs, every
registry error as one line and exit code 1, `--json` after any command, flags shown as flags."""

from __future__ import annotations

import copy
import importlib
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import typer
import typer.main
from typer.core import TyperGroup

from registry_core.cli.coercion import plain_first
from registry_core.cli.output import EXIT_REGISTRY_ERROR, error_line, state
from registry_core.errors import RegistryError

JSON_OPTION = "json_output"


class RegistryGroup(TyperGroup):
    """The root command. `command_modules` maps each module of `registry_core.cli` that adds
    commands to the names it adds; a module is imported (and its Typer `app` mounted as
    `Typer.add_typer(app)` would) the first time one of its names is looked up, so `registry
    models list` never imports the web server or the model loaders. It turns a registry error,
    and a file the registry cannot use, into `ERROR_CODE: message` and exit code 1 instead of a
    traceback, lets every command take `--json` after its own name, shows flags in help
    without a value type (Typer labels them `<bool>`) and leaves pydantic unimported when no
    value needs converting (`coercion`)."""

    command_modules: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._root_json = next(param for param in self.params if param.name == JSON_OPTION)
        self._loaded: set[str] = set()
        self._adopt(self)

    def list_commands(self, ctx: typer.Context) -> list[str]:
        names = list(super().list_commands(ctx))
        lazy = (name for names in self.command_modules.values() for name in names)
        return names + [name for name in lazy if name not in names]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        module = _module_of(self.command_modules, cmd_name)
        if cmd_name not in self.commands and module is not None and module not in self._loaded:
            self._load(module)
        return super().get_command(ctx, cmd_name)

    def get_params(self, ctx: typer.Context) -> list[Any]:
        return _untyped_flags(super().get_params)(ctx)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _registry_errors() as error:
            typer.echo(error_line(error), err=True)
            raise typer.Exit(EXIT_REGISTRY_ERROR) from None

    def _load(self, module: str) -> None:
        """Import `registry_core.cli.MODULE` and mount the commands of its `app`."""
        mount = typer.Typer()
        mount.add_typer(importlib.import_module(f"registry_core.cli.{module}").app)
        for name, command in typer.main.get_group(mount).commands.items():
            self.add_command(command, name)
            self._adopt(command)
        self._loaded.add(module)

    def _adopt(self, root: Any) -> None:
        """Give a command and those below it `--json`, flags without a value type and checks
        that import pydantic only for values that need it."""
        for command in _commands(root):
            if not isinstance(command, TyperGroup):
                command.params.append(_json_anywhere(self._root_json))
            if command is not self:
                command.get_params = _untyped_flags(command.get_params)


def _module_of(command_modules: Mapping[str, tuple[str, ...]], name: str) -> str | None:
    """The module that adds the command `name`, None for an unknown name."""
    return next((module for module, names in command_modules.items() if name in names), None)


def _registry_errors() -> tuple[type[BaseException], ...]:
    """The errors shown as one line: the registry's, the OS's and, once it is loaded, DuckDB's
    (a DuckDB error cannot happen before DuckDB is imported, so this never imports it)."""
    duckdb = sys.modules.get("duckdb")
    return (RegistryError, OSError, *((duckdb.Error,) if duckdb else ()))


def _commands(command: Any) -> Iterator[Any]:
    """A command and every command below it."""
    yield command
    for child in getattr(command, "commands", {}).values():
        yield from _commands(child)


def _untyped_flags(get_params: Callable[[typer.Context], list[Any]]) -> Callable[..., list[Any]]:
    """A command's `get_params` whose flags show no value type in help, and whose values are
    checked by `plain_first` (`get_params` is also where Typer adds `--help` and completion)."""

    def params(ctx: typer.Context) -> list[Any]:
        found = get_params(ctx)
        for param in found:
            if getattr(param, "is_flag", False):
                param.metavar = ""
            plain_first(param)
        return found

    return params


def _json_anywhere(root_json: Any) -> Any:
    """The root's `--json` for a subcommand: it switches the invocation to JSON output."""

    def switch(ctx: typer.Context, param: Any, value: bool) -> None:
        if value:
            state().json_output = True

    option = copy.copy(root_json)
    option.expose_value = False
    option.callback = switch
    return option
