"""Analysis specs: one TOML file per analysis, validated as one of the kinds' spec classes.

The spec classes live beside their models (:class:`~prrt_bayes.survival.spec.SurvivalSpec`,
:class:`~prrt_bayes.response.spec.ResponseSpec`, :class:`~prrt_bayes.toxicity.spec.ToxicitySpec`),
each declaring only the fields its kind uses; here they are joined into one union discriminated
by ``kind``. Unknown keys and bad values are rejected with the file, the key and the reason
(:class:`~prrt_bayes.core.errors.InputError`); a key that belongs to another kind says so.

The bundled analyses are package data (:mod:`prrt_bayes.pipeline.bundled`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.spec import BORROWING_METHODS, spec_input_error
from prrt_bayes.pipeline.bundled import BUNDLED_SPECS, bundled_names, bundled_text
from prrt_bayes.response.spec import ResponseSpec
from prrt_bayes.survival.spec import SurvivalSpec
from prrt_bayes.toxicity.spec import ToxicitySpec

__all__ = ["BORROWING_METHODS", "BUNDLED_SPECS", "SPEC_CLASSES", "AnalysisSpec", "bundled_names",
           "load_spec", "resolve_spec", "validate_spec"]

AnalysisSpec = Annotated[SurvivalSpec | ResponseSpec | ToxicitySpec, Field(discriminator="kind")]
"""Any analysis spec; the ``kind`` key picks the class."""

SPEC_CLASSES: dict[str, type[BaseModel]] = {"survival": SurvivalSpec, "response": ResponseSpec,
                                            "toxicity": ToxicitySpec}
"""Kind -> its spec class."""

_ADAPTER: TypeAdapter = TypeAdapter(AnalysisSpec)


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every dotted key a spec class accepts (sections included)."""
    keys = set()
    for name, info in model.model_fields.items():
        keys.add(prefix + name)
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, f"{prefix}{name}.")
    return keys


def _unknown_key_reason(kind: Any, key: str) -> str:
    """``unknown key``, naming the kinds that do use ``key`` when there are some."""
    users = [k for k, cls in SPEC_CLASSES.items() if k != kind and key in _keys(cls)]
    if users:
        return f"applies to {' and '.join(users)} analyses only, not to {kind} analyses"
    return "unknown key"


def validate_spec(data: dict, *, file: str | Path) -> AnalysisSpec:
    """Validate a spec's data (as read from TOML) as the class its ``kind`` names.

    Parameters
    ----------
    data
        The spec as nested dicts.
    file
        The file (or a label such as ``(sweep grid)``) named in errors.

    Returns
    -------
    AnalysisSpec
        The validated spec of its kind.

    Raises
    ------
    InputError
        The first validation error, naming the file and the dotted key; a key that only
        another kind uses says which.
    """
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as err:
        first = err.errors()[0]
        if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
            raise InputError(f"must be one of {', '.join(SPEC_CLASSES)}", file=file,
                             field="kind") from None
        error = spec_input_error(err, file=file, tags=tuple(SPEC_CLASSES))
        if first["type"] == "extra_forbidden":
            error = InputError(_unknown_key_reason(data.get("kind"), error.field or ""),
                               file=file, field=error.field)
        raise error from None


EVIDENCE_FILES = ("ipd", "external", "life_table")
"""``[evidence]`` keys naming files; a relative path is resolved against the spec's folder."""


def load_spec(path: str | Path) -> AnalysisSpec:
    """Read and validate one spec file; relative evidence files are resolved against it.

    Parameters
    ----------
    path
        The TOML spec file.

    Returns
    -------
    AnalysisSpec
        The validated spec of its kind; a relative ``evidence.ipd``, ``evidence.external`` or
        ``evidence.life_table`` (:data:`EVIDENCE_FILES`) is replaced by the path joined to the
        spec file's folder.

    Raises
    ------
    InputError
        The file is missing, is a folder, is malformed TOML, or fails validation (unknown key,
        bad value), or an evidence file named in the spec does not exist.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise InputError("spec file not found", file=path) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a spec file", file=path) from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"malformed TOML: {err}", file=path) from None
    spec = validate_spec(data, file=path)
    named = {key: getattr(spec.evidence, key, None) for key in EVIDENCE_FILES}
    for key, value in named.items():
        if value is None:
            continue
        value = value if value.is_absolute() else path.parent / value
        if not value.exists():
            raise InputError(f"evidence file not found: {value}", file=path,
                             field=f"evidence.{key}")
        data["evidence"][key] = value
    if any(value is not None for value in named.values()):
        spec = validate_spec(data, file=path)
    return spec


def resolve_spec(name_or_path: str | Path) -> AnalysisSpec:
    """A bundled analysis by name, or a spec file by path.

    Parameters
    ----------
    name_or_path
        A path is taken when it ends in ``.toml`` or exists; otherwise the name of a bundled
        analysis (see :func:`bundled_names`).

    Returns
    -------
    AnalysisSpec
        The validated spec (see :func:`load_spec`).

    Raises
    ------
    InputError
        No bundled analysis of that name, or the spec file fails :func:`load_spec`.
    """
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        return load_spec(candidate)
    text = bundled_text(str(name_or_path))
    file = f"prrt_bayes/specs/{name_or_path}.toml"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"malformed TOML: {err}", file=file) from None
    return validate_spec(data, file=file)
