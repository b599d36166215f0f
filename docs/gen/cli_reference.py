"""The CLI reference page, generated from the typer app's command tree at build time.

Walks ``typer.main.get_command(app)`` (typer's click-style command objects): for every command
its help text, usage line, a table of arguments and options (names, type, default, help) and the
verbatim ``--help`` output, so the page cannot drift from the code.
"""

from __future__ import annotations

import os
import typing
from dataclasses import dataclass

import typer
import typer.main
from md_blocks import cell, table
from typer.testing import CliRunner

PROG = "prrt-bayes"


@dataclass(frozen=True)
class CommandDoc:
    """One command of the app: its path (``["data", "list"]``), object and context."""

    path: tuple[str, ...]
    command: object
    context: object

    @property
    def name(self) -> str:
        """Full command line, e.g. ``prrt-bayes data list``."""
        return " ".join((PROG, *self.path))


def walk(app: typer.Typer) -> list[CommandDoc]:
    """Every command and group of ``app``, depth first, in the order ``--help`` lists them."""
    root = typer.main.get_command(app)
    root_context = root.make_context(PROG, [], resilient_parsing=True)
    found = [CommandDoc((), root, root_context)]

    def visit(group, context, path):
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            if command is None or getattr(command, "hidden", False):
                continue
            sub_context = command.make_context(name, [], parent=context, resilient_parsing=True)
            found.append(CommandDoc((*path, name), command, sub_context))
            if hasattr(command, "list_commands"):
                visit(command, sub_context, (*path, name))

    visit(root, root_context, ())
    return found


def leaf_commands(app: typer.Typer) -> list[str]:
    """Full names of the runnable (non-group) commands, e.g. ``prrt-bayes data show``."""
    return [doc.name for doc in walk(app) if doc.path and not hasattr(doc.command, "list_commands")]


def _type_name(param) -> str:
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    if annotation is None:
        return ""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (list, tuple):
        return f"list of {getattr(args[0], '__name__', str(args[0]))}" if args else "list"
    if args and typing.get_origin(annotation) is not None:
        annotation = args[0]
    return getattr(annotation, "__name__", str(annotation))


def _default(param) -> str:
    default = param.default
    if default is None or getattr(param, "required", False):
        return ""
    if isinstance(default, list | tuple):
        return ", ".join(map(str, default))
    return str(default)


def _param_rows(doc: CommandDoc) -> list[list[str]]:
    rows = []
    for param in doc.command.get_params(doc.context):
        if getattr(param, "hidden", False) or param.name == "help":
            continue
        is_argument = type(param).__name__.endswith("Argument")
        names = param.opts if not is_argument else [param.name.upper()]
        names = [*names, *param.secondary_opts]
        kind = "argument" if is_argument else ("flag" if getattr(param, "is_flag", False)
                                                else "option")
        required = "yes" if param.required else "no"
        rows.append([" / ".join(f"`{n}`" for n in names), kind, cell(_type_name(param)),
                     cell(_default(param)), required, cell(getattr(param, "help", "") or "")])
    return rows


def _help_output(app: typer.Typer, path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], prog_name=PROG, color=False,
                                env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
    if result.exit_code != 0:
        raise RuntimeError(f"`{PROG} {' '.join(path)} --help` exited {result.exit_code}")
    lines = [line.rstrip() for line in result.output.splitlines()]
    return "\n".join(lines).strip("\n")


def render(app: typer.Typer) -> str:
    """The CLI reference as Markdown: one section per command, groups first."""
    os.environ.setdefault("COLUMNS", "100")
    docs = walk(app)
    parts = [
        f"The `{PROG}` command has {len(leaf_commands(app))} commands:",
        "",
        table(["command", "what it does"],
              [[f"[`{d.name}`](#{_anchor(d)})", cell((d.command.help or "").splitlines()[0]
                                                     if d.command.help else "")]
               for d in docs if d.path and not hasattr(d.command, "list_commands")]),
        "",
        "Bad input (a missing file, an unknown source, a malformed CSV) ends every command "
        "with a one-line `error: ...` message on stderr and exit code 2.",
        "",
    ]
    for doc in docs:
        level = "#" * min(2 + max(len(doc.path) - 1, 0), 4) if doc.path else "##"
        parts.append(f"{level} `{doc.name}` {{#{_anchor(doc)}}}")
        parts.append("")
        if doc.command.help:
            parts += [cell(doc.command.help), ""]
        usage = doc.command.get_usage(doc.context).replace("Usage: ", "", 1)
        parts += ["```text", usage, "```", ""]
        rows = _param_rows(doc)
        if rows:
            parts += [table(["name", "kind", "type", "default", "required", "help"], rows), ""]
        parts += [f'??? note "`{doc.name} --help`"', "", "    ```text"]
        parts += [f"    {line}" if line else "" for line in _help_output(app, doc.path)
                  .splitlines()]
        parts += ["    ```", ""]
    return "\n".join(parts)


def _anchor(doc: CommandDoc) -> str:
    return "-".join(("cmd", *doc.path)) if doc.path else "cmd-prrt-bayes"
