"""The command line's layout holds: command modules are leaves (nothing outside newsmon/cli
imports them, none imports another) and every command module is registered with `newsmon`.

Each rule is a function over source text or a click group, checked here against the repository
and against a made-up offender, so that a rule that could never fail is noticed too.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import click
from click.testing import CliRunner

from newsmon.cli.main import cli

REPO = Path(__file__).resolve().parents[1]
COMMANDS_PACKAGE = "newsmon.cli.commands"
# the folders whose modules must not reach into the command modules: everything but newsmon/cli
OUTSIDE_CLI = ("newsmon", "crawler", "enrich", "index", "tests", "bench")
SKIPPED = {"site", "site_phase2", "data", "__pycache__"}


def module_name(path: Path) -> str:
    """The dotted name a repository file installs as (newsmon/cli/main.py: newsmon.cli.main);
    folders other than newsmon/ install under newsmon too (index/ is newsmon.index)."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if parts[0] in ("crawler", "enrich", "index"):
        parts.insert(0, "newsmon")
    return ".".join(parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module `source` imports, relative imports resolved against `module`; for
    ``from X import y`` both X and X.y, since y may be a module."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def reaches_commands(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """The command modules (or the commands package) that `source` imports."""
    return {name for name in imported_modules(source, module, is_package=is_package)
            if name == COMMANDS_PACKAGE or name.startswith(COMMANDS_PACKAGE + ".")}


def python_files(folder: str) -> list[Path]:
    return [p for p in sorted((REPO / folder).rglob("*.py"))
            if not SKIPPED & set(p.relative_to(REPO).parts)]


def command_modules() -> list[str]:
    return [module_name(p) for p in python_files("newsmon/cli/commands")
            if p.name != "__init__.py"]


def unregistered(group: click.Group, modules: list[str]) -> list[str]:
    """Command modules of which no click command is listed in the group's --help (a group's
    subcommand counts when its group is listed)."""
    help_text = CliRunner().invoke(group, ["--help"]).output
    listed = {line.split()[0] for line in help_text.split("Commands:", 1)[-1].splitlines()
              if line.startswith("  ") and line.split()}
    registered = {id(c) for name, c in group.commands.items() if name in listed}
    registered |= {id(sub) for name, c in group.commands.items() if name in listed
                   for sub in getattr(c, "commands", {}).values()}
    missing = []
    for name in modules:
        module = importlib.import_module(name)
        own = [v for v in vars(module).values() if isinstance(v, click.Command)
               and getattr(v.callback, "__module__", None) == name]
        if not own or not all(id(c) in registered for c in own):
            missing.append(name)
    return missing


def test_nothing_outside_the_cli_imports_a_command_module() -> None:
    offenders = {}
    for folder in OUTSIDE_CLI:
        for path in python_files(folder):
            if path.is_relative_to(REPO / "newsmon" / "cli"):
                continue
            found = reaches_commands(path.read_text(encoding="utf-8"), module_name(path),
                                     is_package=path.name == "__init__.py")
            if found:
                offenders[str(path.relative_to(REPO))] = sorted(found)
    assert offenders == {}


def test_no_command_module_imports_another() -> None:
    offenders = {}
    for path in python_files("newsmon/cli/commands"):
        name = module_name(path)
        found = reaches_commands(path.read_text(encoding="utf-8"), name,
                                 is_package=path.name == "__init__.py") - {name}
        if found:
            offenders[name] = sorted(found)
    assert offenders == {}


def test_help_lists_every_command_module() -> None:
    modules = command_modules()
    assert f"{COMMANDS_PACKAGE}.crawl" in modules and len(modules) >= 13
    assert unregistered(cli, modules) == []


def test_the_import_rules_catch_an_offender() -> None:
    demo = "newsmon.demo.flow"
    assert reaches_commands("from newsmon.cli.commands.crawl import x", demo) \
        == {f"{COMMANDS_PACKAGE}.crawl", f"{COMMANDS_PACKAGE}.crawl.x"}
    assert reaches_commands("import newsmon.cli.commands.status as s", demo) \
        == {f"{COMMANDS_PACKAGE}.status"}
    assert reaches_commands("from newsmon.cli import commands", demo) == {COMMANDS_PACKAGE}
    assert reaches_commands("from .commands import run", "newsmon.cli.presenters",
                            is_package=True) == set()
    assert reaches_commands("from ..commands import run", "newsmon.cli.presenters.runs") \
        == {COMMANDS_PACKAGE, f"{COMMANDS_PACKAGE}.run"}
    assert reaches_commands("from .crawl import summary", f"{COMMANDS_PACKAGE}.run") \
        == {f"{COMMANDS_PACKAGE}.crawl", f"{COMMANDS_PACKAGE}.crawl.summary"}
    assert reaches_commands("from newsmon.cli.presenters.runs import crawl_summary\n"
                            "from newsmon.cli.context import get_settings", demo) == set()


def test_the_registration_rule_catches_a_missing_command() -> None:
    partial = click.Group("newsmon", commands={n: c for n, c in cli.commands.items()
                                               if n != "export"})
    assert unregistered(partial, command_modules()) == [f"{COMMANDS_PACKAGE}.export"]
    # a model group that lost its subcommand leaves `newsmon model export` unregistered
    model = cli.commands["model"]
    assert isinstance(model, click.Group)
    bare_model = click.Group("model")
    partial = click.Group("newsmon", commands={**cli.commands, "model": bare_model})
    assert unregistered(partial, command_modules()) == [f"{COMMANDS_PACKAGE}.model"]
