"""One verb per task: ess, conflict, robustify and the power-prior family dispatch on the prior's
type, accept prior strings, and give the numbers of the pre-redesign twins (recorded values)."""

from __future__ import annotations

import numpy as np
import pytest

from prrt_bayes.borrowing import (
    UNIFORM_BETA,
    VAGUE_NORMAL,
    commensurate_prior_fixed,
    conflict,
    ess,
    full_pooling,
    map_prior_counts,
    no_borrowing,
    power_prior,
    robustify,
)
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import (
    Beta,
    BetaMixture,
    Gamma,
    HalfNormal,
    Normal,
    NormalMixture,
)

R = [6, 8, 17, 28, 26, 8, 22, 8, 6, 16, 53]
N = [33, 45, 74, 103, 140, 49, 83, 59, 22, 109, 213]
NORMAL_MIX = NormalMixture([0.7, 0.3], [3.2, 3.0], [0.15, 1.0])
EXT_Y = np.log([28.0, 33.0, 30.0, 25.0, 36.0])
EXT_SE = np.array([0.15, 0.20, 0.12, 0.25, 0.18])
EXT_R, EXT_N = [30, 12, 45], [80, 40, 120]


def _close(mixture, components, rtol: float) -> None:
    """The mixture's ``(weight, p1, p2)`` components equal ``components`` to ``rtol``."""
    np.testing.assert_allclose(np.array(mixture.components()), np.array(components), rtol=rtol)


@pytest.fixture(scope="module")
def transplant():
    """The transplant MAP prior (exact quadrature, EM) and its robust version."""
    mix = map_prior_counts(R, N)
    return mix, robustify(mix, 0.2)


# ----- the numbers of the pre-redesign twins (ess_beta, conflict_beta, ... at commit cbc6b89).
# Written by that commit's environment; a fresh one (numpy 2.5.5 / scipy 1.18.1, 2026-12-07)
# reproduces them to 2.5e-12 relative (the EM quadrature's last bits), so the tolerance is
# floating-point agreement across library versions, 1e-9: any change of method moves them by
# far more.
FP = 1e-9


def test_beta_verbs_reproduce_the_pre_redesign_twins(transplant):
    mix, robust = transplant
    assert ess(mix, "elir") == pytest.approx(135.72405900871473, rel=FP)
    assert ess(mix, "moment") == pytest.approx(85.59026295847562, rel=FP)
    assert ess(robust, "elir") == pytest.approx(100.40242957298085, rel=FP)
    assert ess(robust, "moment") == pytest.approx(5.253608578431344, rel=FP)
    check = conflict(robust, 18, 101)
    assert check.p_box == pytest.approx(0.7127959307227447, rel=FP)
    assert check.p_tail == pytest.approx(0.5835675976553585, rel=FP)


def test_normal_verbs_reproduce_the_pre_redesign_twins():
    assert ess(NORMAL_MIX, "elir") == pytest.approx(23.964257238203196, rel=1e-12)
    assert ess(NORMAL_MIX, "moment") == pytest.approx(3.084991516273302, rel=1e-12)
    assert ess(NORMAL_MIX, "elir", family="binomial") == pytest.approx(641.0232643055128,
                                                                      rel=1e-12)
    check = conflict(NORMAL_MIX, 2.5, 0.2)
    assert check.p_box == pytest.approx(0.16067947942561522, rel=1e-12)
    assert check.p_tail == pytest.approx(0.1907557214251565, rel=1e-12)
    robust = robustify(NORMAL_MIX, 0.3, mean=3.0, sd=2.0)
    _close(robust, [(0.49, 3.2, 0.15), (0.21, 3.0, 1.0), (0.3, 3.0, 2.0)], 1e-15)


def test_power_family_reproduces_the_pre_redesign_twins():
    _close(power_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, 0.3),
           [(1.0, 3.4114946630353082, 0.13394681452422283)], 1e-14)
    _close(commensurate_prior_fixed(VAGUE_NORMAL, EXT_Y, EXT_SE, 0.2),
           [(1.0, 3.411923174122585, 0.21303333266093977)], 1e-14)
    _close(full_pooling(VAGUE_NORMAL, EXT_Y, EXT_SE),
           [(1.0, 3.411923174122585, 0.07337029933581174)], 1e-14)
    _close(power_prior(UNIFORM_BETA, EXT_R, EXT_N, 0.4), [(1.0, 35.8, 62.2)], 1e-14)
    _close(commensurate_prior_fixed(UNIFORM_BETA, EXT_R, EXT_N, 0.3),
           [(0.5022279287771746, 17.712866321974147, 35.031030453246004),
            (0.49777207122282546, 18.166555776340335, 27.672461604551778)], 1e-10)


# ----- dispatch --------------------------------------------------------------------------------
def test_single_priors_act_as_one_component_mixtures():
    beta, normal = Beta(20.0, 60.0), Normal(3.1, 0.2)
    beta_mix, normal_mix = BetaMixture([1.0], [20.0], [60.0]), NormalMixture([1.0], [3.1], [0.2])
    for method in ("elir", "moment"):
        assert ess(beta, method) == ess(beta_mix, method)
        assert ess(normal, method, sigma=2.0) == ess(normal_mix, method, sigma=2.0)
    assert conflict(beta, 18, 101) == conflict(beta_mix, 18, 101)
    assert conflict(normal, 3.5, 0.3) == conflict(normal_mix, 3.5, 0.3)
    assert robustify(beta, 0.2) == robustify(beta_mix, 0.2)
    assert robustify(normal, 0.2, mean=3.0, sd=1.0) == robustify(normal_mix, 0.2, mean=3.0,
                                                                  sd=1.0)
    assert no_borrowing(beta) == beta_mix and no_borrowing(normal) == normal_mix


def test_prior_strings_are_parsed_at_the_boundary():
    assert ess("beta:20,60") == ess(Beta(20.0, 60.0))
    assert ess("normal:0,0.5", "moment", sigma=2.0) == pytest.approx(16.0)
    assert conflict("beta:40,60", 18, 101) == conflict(Beta(40.0, 60.0), 18, 101)
    assert robustify("normal:3,0.2", 0.5, mean=3.0, sd=1.0).components() == [
        (0.5, 3.0, 0.2), (0.5, 3.0, 1.0)]
    assert power_prior("normal:0,10", EXT_Y, EXT_SE, 0.3) == power_prior(VAGUE_NORMAL, EXT_Y,
                                                                          EXT_SE, 0.3)
    assert full_pooling("beta:1,1", EXT_R, EXT_N) == full_pooling(UNIFORM_BETA, EXT_R, EXT_N)
    assert no_borrowing("beta:2,3") == BetaMixture([1.0], [2.0], [3.0])
    assert commensurate_prior_fixed("normal:0,10", EXT_Y, EXT_SE, 0.2) == commensurate_prior_fixed(
        VAGUE_NORMAL, EXT_Y, EXT_SE, 0.2)
    with pytest.raises(InputError, match="unknown prior family 'gamma'"):
        ess("gamma:2,1")


@pytest.mark.parametrize("call", [
    lambda: ess(HalfNormal(1.0)),
    lambda: conflict(Gamma(2.0, 1.0), 1, 2),
    lambda: robustify(HalfNormal(1.0), 0.2),
    lambda: robustify(3.0, 0.2),
    lambda: no_borrowing(HalfNormal(1.0)),
    lambda: power_prior(NORMAL_MIX, EXT_Y, EXT_SE, 0.3),
    lambda: full_pooling(HalfNormal(1.0), EXT_Y, EXT_SE),
    lambda: commensurate_prior_fixed(Gamma(2.0, 1.0), EXT_R, EXT_N, 0.1),
])
def test_priors_a_verb_has_no_method_for_are_input_errors(call):
    with pytest.raises(InputError):
        call()


def test_verbs_check_their_type_specific_arguments():
    with pytest.raises(InputError, match="family"):
        ess(BetaMixture([1.0], [2.0], [3.0]), family="gaussian")
    with pytest.raises(InputError, match="standard error"):
        conflict(NORMAL_MIX, 3.0, 0.0)
    with pytest.raises(InputError, match="events <= total"):
        conflict(BetaMixture([1.0], [2.0], [3.0]), 5, 4)
    with pytest.raises(InputError, match="sd must be positive"):
        robustify(NORMAL_MIX, 0.2, mean=3.0, sd=0.0)
    with pytest.raises(InputError, match="0 < mean < 1"):
        robustify(BetaMixture([1.0], [2.0], [3.0]), 0.2, mean=1.5)
    with pytest.raises(TypeError):  # the normal method needs the vague component
        robustify(NORMAL_MIX, 0.2)
