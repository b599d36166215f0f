"""What the exact (grid) posteriors of the hierarchical models share: the tau marginal.

:class:`~prrt_bayes.borrowing.meta.NormalNormalPosterior` and
:class:`~prrt_bayes.borrowing.binomial_map.BinomialMapPosterior` integrate the between-study SD
``tau`` on a grid; both report its posterior mean and quantiles through this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class TauGridPosterior(ABC):
    """An exact posterior of a hierarchical model on a grid of the between-study SD tau."""

    @abstractmethod
    def tau_mean(self) -> float:
        """Posterior mean of tau: the mass-weighted mean of the tau grid nodes.

        Returns
        -------
        float
            The posterior mean, on the model's scale of tau (logit scale for binomial data).
        """

    @abstractmethod
    def tau_quantile(self, q: float) -> float:
        """Posterior ``q`` quantile of tau (linear interpolation between the grid nodes).

        Parameters
        ----------
        q
            Probability in [0, 1].

        Returns
        -------
        float
            The quantile, on the model's scale of tau (logit scale for binomial data).
        """
