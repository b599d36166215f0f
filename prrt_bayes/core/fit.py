"""The one fit recipe: every model says what it is, :func:`fit` does the rest once.

A model (a :class:`BayesianModel` subclass) states

- :meth:`~BayesianModel.structure`: everything fixed when the PyMC graph is built (shapes,
  priors, options) — the compile-cache key;
- :meth:`~BayesianModel.build`: the ``pm.Model``, with every data array a ``pm.Data``
  container named as in :meth:`~BayesianModel.data`;
- :meth:`~BayesianModel.data`: the values of those containers for this fit;
- :meth:`~BayesianModel.priors`: ``{parameter: Prior}``, recorded in the posterior;
- :attr:`~BayesianModel.gate_vars`: the sampled parameters the convergence gate checks;
- optionally :meth:`~BayesianModel.attrs` (more posterior attributes) and
  :meth:`~BayesianModel.quantities` (reported quantities derived from the draws).

:func:`fit` then builds the model once per structure (cached in this process), swaps the data
in, samples with the caller's :class:`~prrt_bayes.core.sampling.SamplerSettings`, writes the
priors and attributes into ``tree.posterior.attrs`` and runs the gate. This is the pattern of
lifelines' ``ParametricUnivariateFitter`` (the subclass writes its hazard, the base fits) and of
RBesT's methods on a ``gMAP`` fit: one recipe, many models.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import numpy as np
import pymc as pm
import xarray as xr

from prrt_bayes.core.diagnostics import Diagnostics, check_diagnostics, require_convergence
from prrt_bayes.core.posterior import QuantityDraws
from prrt_bayes.core.priors import Prior, attach_priors
from prrt_bayes.core.sampling import AUTO_BACKEND, SamplerSettings, sample


class BayesianModel(ABC):
    """A model as :func:`fit` needs it: its structure, graph, data, priors and gate variables.

    Subclasses are small: they hold their (validated) data and options and implement the
    abstract methods. ``what`` names the fit in diagnostics messages (e.g. ``"PH model"``);
    ``preferred_backend`` is the sampler backend ``"auto"`` resolves to for it.
    """

    what: ClassVar[str] = "fit"
    gate_vars: ClassVar[tuple[str, ...]] = ()
    preferred_backend: ClassVar[str] = AUTO_BACKEND
    """The sampler backend ``"auto"`` means for this model (measured in ``benchmarks/``)."""

    @abstractmethod
    def structure(self) -> Hashable:
        """Everything fixed at build time: two models with equal structures share one graph.

        Returns
        -------
        collections.abc.Hashable
            E.g. ``(n_intervals, arms, priors)``; data values that only fill ``pm.Data``
            containers are left out, so refitting to new data does not recompile.
        """

    @abstractmethod
    def build(self) -> pm.Model:
        """Build the PyMC model on ``pm.Data`` containers named as in :meth:`data`.

        Returns
        -------
        pymc.Model
            A new model (built at most once per :meth:`structure` by :func:`fit`).
        """

    @abstractmethod
    def data(self) -> Mapping[str, np.ndarray]:
        """The values of the model's ``pm.Data`` containers for this fit.

        Returns
        -------
        collections.abc.Mapping[str, numpy.ndarray]
            ``{container name: values}`` with the shapes the structure fixes.
        """

    @abstractmethod
    def priors(self) -> Mapping[str, Prior]:
        """The priors of the model's parameters, recorded in the posterior.

        Returns
        -------
        collections.abc.Mapping[str, Prior]
            ``{parameter name: Prior}``.
        """

    def attrs(self) -> Mapping[str, Any]:
        """Further attributes written into ``tree.posterior.attrs`` (default: none).

        Returns
        -------
        collections.abc.Mapping[str, Any]
            JSON-friendly values (lists, numbers, strings).
        """
        return {}

    def var_names(self) -> Sequence[str] | None:
        """Variables kept in the posterior (default ``None``: all of them).

        Returns
        -------
        collections.abc.Sequence[str] | None
            Names passed to the sampler's ``var_names``.
        """
        return None

    def quantities(self, tree: xr.DataTree) -> list[QuantityDraws]:
        """Reported quantities derived from the draws (default: none).

        Parameters
        ----------
        tree
            The fitted posterior.

        Returns
        -------
        list
            ``(quantity, group, draws)`` items in the summary vocabulary.
        """
        return []


@dataclass
class Fit:
    """A fitted model: the model, its posterior, its gate verdict and the settings used.

    Parameters
    ----------
    model
        The :class:`BayesianModel` that was fitted (its data and options).
    tree
        The posterior DataTree, priors and model attributes in ``tree.posterior.attrs``.
    diagnostics
        The convergence record of the gate.
    settings
        The sampler settings of the fit (backend resolved: never ``"auto"``).
    """

    model: BayesianModel
    tree: xr.DataTree
    diagnostics: Diagnostics
    settings: SamplerSettings

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior draws (``tree.posterior`` as a Dataset)."""
        return self.tree.posterior.dataset

    def quantities(self) -> list[QuantityDraws]:
        """The model's reported quantities for this posterior.

        Returns
        -------
        list
            See :meth:`BayesianModel.quantities`.
        """
        return self.model.quantities(self.tree)


_CACHE_SIZE = 32
_CACHE: OrderedDict[tuple, pm.Model] = OrderedDict()


def built_model(model: BayesianModel) -> pm.Model:
    """The PyMC model for ``model``'s structure, built on first use and then reused.

    The cache holds the last 32 structures of this process (least recently used dropped); the
    compiled sampler is cached per ``pm.Model`` by :mod:`prrt_bayes.core.sampling`, so a reused
    model is not compiled again.

    Parameters
    ----------
    model
        The model whose graph is wanted; its data are *not* set here.

    Returns
    -------
    pymc.Model
        The built model shared by every model with an equal :meth:`~BayesianModel.structure`.
    """
    key = (type(model).__module__, type(model).__qualname__, model.structure())
    if key in _CACHE:
        _CACHE.move_to_end(key)
    else:
        _CACHE[key] = model.build()
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return _CACHE[key]


def fit(
    model: BayesianModel,
    settings: SamplerSettings,
    *,
    check: Literal["record", "warn", "raise"] = "record",
) -> Fit:
    """Fit ``model``: cached graph, data swapped in, NUTS, priors recorded, convergence gate.

    Parameters
    ----------
    model
        The model and its data.
    settings
        Sampler settings (draws, tuning, chains, target acceptance, seed, backend); a nested
        fit passes on its caller's settings. Backend ``"auto"`` becomes the model's
        ``preferred_backend``.
    check
        ``"record"`` only records the gate's verdict (the analysis reports it); ``"warn"``
        warns and ``"raise"`` raises :class:`~prrt_bayes.core.diagnostics.ConvergenceError`
        when the fit fails the gate. The verdict is also written to ``tree.posterior.attrs``
        (``converged``, ``diagnostics_problems``) except with ``"record"``.

    Returns
    -------
    Fit
        The posterior and its diagnostics.
    """
    pm_model = built_model(model)
    with pm_model:
        pm.set_data(dict(model.data()))
    if settings.backend == "auto":
        settings = replace(settings, backend=model.preferred_backend)
    tree = sample(pm_model, settings, var_names=model.var_names())
    attach_priors(tree, model.priors())
    tree.posterior.attrs.update(model.attrs())
    # the declared parameters this graph has (None, i.e. every variable, if it has none)
    gate = [name for name in model.gate_vars if name in tree.posterior] or None
    if check == "record":
        diagnostics = check_diagnostics(tree, gate)
    else:
        diagnostics = require_convergence(tree, gate, on_fail=check, what=model.what)
    return Fit(model=model, tree=tree, diagnostics=diagnostics, settings=settings)
