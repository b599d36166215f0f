"""Every public function and method of the package documents its parameters and its return value.

The API reference (mkdocstrings, numpydoc style) is built from these docstrings, so each public
callable needs a one-line summary, a ``Parameters`` section that names every parameter of its
signature (and nothing that is not in it), and a ``Returns`` (or ``Yields``) section when it
returns something. "Public" means: defined in a module of ``prrt_bayes`` whose dotted name has no
``_``-prefixed part, with a name that does not start with ``_``; methods count when their class
is public; a method that overrides a documented base-class method may inherit that docstring
(the base documents the contract once, e.g. :class:`prrt_bayes.core.fit.BayesianModel`), and is
then checked against it with its own signature. Properties need the summary only; a class with a
hand-written ``__init__`` documents its parameters in the class docstring. The typer command
functions of :mod:`prrt_bayes.cli` are documented through their option help texts (the CLI
reference), which are checked instead.

The checks parse the docstrings here, with a small numpydoc section reader, so a failure names
the function and what is missing.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import re
import textwrap
from collections.abc import Iterator

import pytest

import prrt_bayes

_HEADER = re.compile(r"^(\w[\w ]*)\n-{3,}\s*$", re.MULTILINE)
_ENTRY = re.compile(r"^(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::.*)?$")


def _hand_written_init(cls: type) -> bool:
    """True for a class with its own ``__init__`` that is not generated (dataclass, pydantic)."""
    from pydantic import BaseModel

    return ("__init__" in vars(cls) and not dataclasses.is_dataclass(cls)
            and not issubclass(cls, BaseModel))


def _raise(name: str) -> None:
    raise ImportError(f"cannot import {name}")


def public_modules() -> list[str]:
    """Dotted names of the package's public modules (no ``_``-prefixed part)."""
    names = [prrt_bayes.__name__]
    for info in pkgutil.walk_packages(prrt_bayes.__path__, prefix="prrt_bayes.",
                                      onerror=_raise):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _cli_commands() -> set[object]:
    """The callbacks registered as typer commands (documented by their option help)."""
    from prrt_bayes.cli import app

    callbacks = set()
    stack = [app]
    while stack:
        typer_app = stack.pop()
        callbacks.update(info.callback for info in typer_app.registered_commands)
        stack.extend(group.typer_instance for group in typer_app.registered_groups)
    return callbacks


def public_callables() -> Iterator[tuple[str, object, object | None]]:
    """``(qualified name, function, owning class or None)`` for every public callable."""
    commands = _cli_commands()
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name, obj in sorted(vars(module).items()):
            if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
                continue
            if inspect.isfunction(obj) and obj not in commands:
                yield f"{module_name}.{name}", obj, None
            elif inspect.isclass(obj):
                yield f"{module_name}.{name}", obj, None
                for attr_name, attr in vars(obj).items():
                    if attr_name.startswith("_"):
                        continue
                    function = getattr(attr, "__func__", attr)
                    if inspect.isfunction(function) or isinstance(attr, property):
                        yield f"{module_name}.{name}.{attr_name}", attr, obj


def sections(doc: str) -> dict[str, str]:
    """The numpydoc sections of a docstring: header -> body (dedented)."""
    found = {}
    headers = list(_HEADER.finditer(doc))
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(doc)
        found[header.group(1).strip()] = textwrap.dedent(doc[header.end():end]).strip("\n")
    return found


def documented_names(body: str) -> list[str]:
    """Parameter names of a ``Parameters`` section: the unindented entry lines."""
    names = []
    for line in body.splitlines():
        if line.strip() and not line[0].isspace():
            match = _ENTRY.match(line.strip())
            if match is None:
                names.append(f"<unparsable entry {line.strip()!r}>")
                continue
            names.extend(part.strip().lstrip("*") for part in match.group(1).split(","))
    return names


def signature_names(function, owner) -> list[str]:
    """Parameter names a caller passes (``self`` / ``cls`` dropped)."""
    parameters = list(inspect.signature(function).parameters.values())
    if owner is not None and parameters and parameters[0].name in ("self", "cls"):
        parameters = parameters[1:]
    return [parameter.name for parameter in parameters]


def returns_value(function) -> bool:
    """True unless the function is annotated ``-> None`` or (unannotated) never returns a value."""
    annotation = inspect.signature(function).return_annotation
    if annotation is not inspect.Signature.empty:
        return annotation not in (None, "None")
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    body = tree.body[0]
    nested = {id(node) for outer in ast.walk(body) if outer is not body
              and isinstance(outer, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
              for node in ast.walk(outer)}
    return any(isinstance(node, ast.Yield | ast.YieldFrom)
               or isinstance(node, ast.Return) and node.value is not None
               for node in ast.walk(body) if id(node) not in nested)


def docstring(qualname: str, obj, owner) -> str:
    """The callable's own docstring, else (a method) the one it overrides in a base class."""
    own = getattr(obj, "__func__", obj).__doc__
    if own or owner is None:
        return own or ""
    name = qualname.rsplit(".", 1)[1]
    for base in owner.__mro__[1:]:
        inherited = base.__dict__.get(name)
        doc = getattr(getattr(inherited, "__func__", inherited), "__doc__", None)
        if doc:
            return doc
    return ""


def problems(qualname: str, obj, owner) -> list[str]:
    """What the docstring of one public callable is missing (empty when it is complete)."""
    doc = inspect.cleandoc(docstring(qualname, obj, owner))
    if not doc.strip():
        return ["no docstring"]
    if not doc.splitlines()[0].strip() or doc.splitlines()[0].startswith(" "):
        return ["no one-line summary on the first line"]
    if isinstance(obj, property) or inspect.isclass(obj) and not _hand_written_init(obj):
        return []
    if inspect.isclass(obj):  # numpydoc: the class docstring documents __init__'s parameters
        function, owner = obj.__init__, obj
    else:
        function = getattr(obj, "__func__", obj)
    found = sections(doc)
    missing = []
    expected = signature_names(function, owner)
    if expected:
        if "Parameters" not in found:
            missing.append(f"no Parameters section (parameters: {', '.join(expected)})")
        else:
            named = documented_names(found["Parameters"])
            absent = [name for name in expected if name not in named]
            extra = [name for name in named if name not in expected]
            if absent:
                missing.append(f"Parameters does not describe {', '.join(absent)}")
            if extra:
                missing.append(f"Parameters describes {', '.join(extra)}, not in the signature")
    if (not inspect.isclass(obj) and returns_value(function)
            and not ({"Returns", "Yields"} & found.keys())):
        missing.append("no Returns section")
    return missing


def test_the_scan_finds_the_public_api():
    """Guard against a scan that silently checks nothing."""
    names = {qualname for qualname, _, _ in public_callables()}
    assert len(names) > 300
    for expected in ("prrt_bayes.survival.ph.fit_ph",
                     "prrt_bayes.core.priors.BetaMixture.cdf",
                     "prrt_bayes.pipeline.runner.run",
                     "prrt_bayes.reconstruct.guyot.guyot_reconstruct",
                     "prrt_bayes.survival.distributions.Weibull.log_hazard"):
        assert expected in names, expected


def test_every_public_callable_documents_parameters_and_returns():
    report = [f"{qualname}: {'; '.join(found)}" for qualname, obj, owner in public_callables()
              if (found := problems(qualname, obj, owner))]
    assert not report, f"{len(report)} incomplete docstrings:\n" + "\n".join(report)


def test_the_section_reader_catches_what_it_should():
    doc = inspect.cleandoc('''Summary.

        Parameters
        ----------
        a, b
            Two numbers.
        *rest : float
            More.

        Returns
        -------
        float
            Their sum.
        ''')
    found = sections(doc)
    assert documented_names(found["Parameters"]) == ["a", "b", "rest"]
    assert "Returns" in found

    def undocumented(x, y):
        """Adds.

        Parameters
        ----------
        x
            First.
        """
        return x + y

    assert problems("m.undocumented", undocumented, None) == [
        "Parameters does not describe y", "no Returns section"]

    class Handmade:
        """Takes two things."""

        def __init__(self, first, second=None):
            self.pair = (first, second)

    assert problems("m.Handmade", Handmade, None) == [
        "no Parameters section (parameters: first, second)"]

    class Base:
        def fit(self, data):
            """Fit.

            Parameters
            ----------
            data
                The data.
            """

    class Inherits(Base):
        def fit(self, data):
            pass

    class Widens(Base):
        def fit(self, data, extra):
            pass

    assert problems("m.Inherits.fit", Inherits.__dict__["fit"], Inherits) == []
    assert problems("m.Widens.fit", Widens.__dict__["fit"], Widens) == [
        "Parameters does not describe extra"]


def test_cli_commands_have_help_for_every_option():
    import typer.main

    from prrt_bayes.cli import app

    command = typer.main.get_command(app)
    stack = [("prrt-bayes", command)]
    missing = []
    while stack:
        path, group = stack.pop()
        for name, sub in getattr(group, "commands", {}).items():
            if hasattr(sub, "commands"):
                stack.append((f"{path} {name}", sub))
                continue
            if not (sub.help or "").strip():
                missing.append(f"{path} {name}: no help")
            missing.extend(f"{path} {name} {param.name}: no help" for param in sub.params
                           if not (getattr(param, "help", None) or "").strip())
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("module_name", public_modules())
def test_every_public_module_has_a_docstring(module_name):
    assert (inspect.getdoc(importlib.import_module(module_name)) or "").strip(), module_name
