"""`COMMAND_MODULES` names exactly the commands each module adds, so `registry NAME` imports the
right module and help lists every command once."""

from __future__ import annotations

import importlib

import typer
import typer.main

from registry_core.cli import COMMAND_MODULES, app


def test_each_module_adds_the_commands_declared_for_it() -> None:
    for module, names in COMMAND_MODULES.items():
        mount = typer.Typer()
        mount.add_typer(importlib.import_module(f"registry_core.cli.{module}").app)
        assert tuple(typer.main.get_group(mount).commands) == names, module


def test_help_lists_every_declared_command_once() -> None:
    root = typer.main.get_command(app)
    listed = root.list_commands(typer.Context(root))
    declared = [name for names in COMMAND_MODULES.values() for name in names]
    assert sorted(listed) == sorted(declared)
    assert len(set(listed)) == len(listed)
