"""Error parity with torch.distributions: bad parameters and values outside the support raise the
same exception type (ValueError for validation), and validation can be switched off."""
import numpy as np
import pytest

import lamina
import lamina.distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions


def t(x):
    return lamina.tensor(np.asarray(x, dtype=np.float64))


def tt(x):
    return torch.tensor(np.asarray(x, dtype=np.float64))


def ti(x):
    return lamina.tensor(np.asarray(x, dtype=np.int64))


def tti(x):
    return torch.tensor(np.asarray(x, dtype=np.int64))


SPD_BAD = [[1.0, 2.0], [2.0, 1.0]]
CASES = {
    # bad parameters
    "normal_negative_scale": lambda m, f, i: m.Normal(f([0.0, 1.0]), f([-1.0, 1.0])),
    "normal_zero_scale": lambda m, f, i: m.Normal(0.0, f(0.0)),
    "normal_nan_loc": lambda m, f, i: m.Normal(f([0.0, np.nan]), 1.0),
    "normal_string_param": lambda m, f, i: m.Normal("a", 1.0),
    "normal_shapes_do_not_broadcast": lambda m, f, i: m.Normal(f([0.0, 1.0]), f([1.0, 1.0, 1.0])),
    "exponential_negative_rate": lambda m, f, i: m.Exponential(f([-1.0])),
    "gamma_zero_concentration": lambda m, f, i: m.Gamma(f([0.0]), f([1.0])),
    "beta_negative": lambda m, f, i: m.Beta(f([-0.5]), f([1.0])),
    "uniform_low_above_high": lambda m, f, i: m.Uniform(f(1.0), f(0.0)),
    "uniform_low_equals_high": lambda m, f, i: m.Uniform(f([0.0, 1.0]), f([0.0, 2.0])),
    "bernoulli_probs_above_one": lambda m, f, i: m.Bernoulli(probs=f(1.5)),
    "bernoulli_both_params": lambda m, f, i: m.Bernoulli(probs=f(0.5), logits=f(0.0)),
    "bernoulli_no_params": lambda m, f, i: m.Bernoulli(),
    "categorical_negative_probs": lambda m, f, i: m.Categorical(probs=f([-0.2, 0.3])),
    "categorical_scalar_probs": lambda m, f, i: m.Categorical(probs=f(0.2)),
    "categorical_scalar_logits": lambda m, f, i: m.Categorical(logits=f(0.2)),
    "categorical_both_params": lambda m, f, i: m.Categorical(probs=f([0.5, 0.5]), logits=f([0.0, 0.0])),
    "one_hot_negative_probs": lambda m, f, i: m.OneHotCategorical(probs=f([-0.2, 0.3])),
    "binomial_fractional_count": lambda m, f, i: m.Binomial(2.5, f(0.3)),
    "binomial_negative_count": lambda m, f, i: m.Binomial(f(-1.0), f(0.3)),
    "geometric_zero_probs": lambda m, f, i: m.Geometric(probs=f(0.0)),
    "poisson_negative_rate": lambda m, f, i: m.Poisson(f([-1.0])),
    "dirichlet_negative": lambda m, f, i: m.Dirichlet(f([0.5, -1.0])),
    "dirichlet_scalar": lambda m, f, i: m.Dirichlet(f(0.5)),
    "studentt_negative_df": lambda m, f, i: m.StudentT(f(-1.0)),
    "chi2_negative_df": lambda m, f, i: m.Chi2(f(-1.0)),
    "laplace_negative_scale": lambda m, f, i: m.Laplace(0.0, f(-1.0)),
    "cauchy_negative_scale": lambda m, f, i: m.Cauchy(0.0, f(-1.0)),
    "gumbel_negative_scale": lambda m, f, i: m.Gumbel(0.0, f(-1.0)),
    "halfnormal_negative_scale": lambda m, f, i: m.HalfNormal(f(-1.0)),
    "lognormal_negative_scale": lambda m, f, i: m.LogNormal(0.0, f(-1.0)),
    "mvn_not_positive_definite": lambda m, f, i: m.MultivariateNormal(f([0.0, 0.0]), f(SPD_BAD)),
    "mvn_not_symmetric": lambda m, f, i: m.MultivariateNormal(f([0.0, 0.0]), f([[1.0, 0.5], [0.0, 1.0]])),
    "mvn_no_matrix": lambda m, f, i: m.MultivariateNormal(f([0.0, 0.0])),
    "mvn_two_matrices": lambda m, f, i: m.MultivariateNormal(f([0.0, 0.0]), f(np.eye(2)), scale_tril=f(np.eye(2))),
    "mvn_scalar_loc": lambda m, f, i: m.MultivariateNormal(f(0.0), f(np.eye(2))),
    "mvn_scale_tril_not_lower": lambda m, f, i: m.MultivariateNormal(f([0.0, 0.0]), scale_tril=f([[1.0, 1.0], [0.0, 1.0]])),
    "mvn_scale_tril_negative_diagonal": lambda m, f, i: m.MultivariateNormal(f([0.0, 0.0]),
                                                                         scale_tril=f([[-1.0, 0.0], [0.0, 1.0]])),
    "lowrank_negative_diag": lambda m, f, i: m.LowRankMultivariateNormal(f([0.0, 0.0]), f([[1.0], [0.0]]), f([1.0, -1.0])),
    "lowrank_bad_factor": lambda m, f, i: m.LowRankMultivariateNormal(f([0.0, 0.0]), f([[1.0], [0.0], [1.0]]),
                                                                      f([1.0, 1.0])),
    "independent_too_many_dims": lambda m, f, i: m.Independent(m.Normal(f([0.0, 0.0]), 1.0), 2),
    "mixture_not_categorical": lambda m, f, i: m.MixtureSameFamily(m.Normal(0.0, 1.0), m.Normal(f([0.0, 1.0]), 1.0)),
    "mixture_component_count": lambda m, f, i: m.MixtureSameFamily(m.Categorical(logits=f([0.0, 0.0])),
                                                                   m.Normal(f([0.0, 1.0, 2.0]), 1.0)),
    "transformed_bad_transforms": lambda m, f, i: m.TransformedDistribution(m.Normal(0.0, 1.0), [1]),
    "relaxed_bernoulli_bad_probs": lambda m, f, i: m.RelaxedBernoulli(f(0.5), probs=f(1.5)),
    # values outside the support / of the wrong shape
    "log_prob_of_a_number": lambda m, f, i: m.Normal(0.0, 1.0).log_prob(1.0),
    "log_prob_shape": lambda m, f, i: m.Normal(f([0.0, 0.0, 0.0]), 1.0).log_prob(f([0.0, 0.0])),
    "exponential_negative_value": lambda m, f, i: m.Exponential(1.0).log_prob(f(-1.0)),
    "gamma_negative_value": lambda m, f, i: m.Gamma(1.0, 1.0).log_prob(f(-1.0)),
    "uniform_value_outside": lambda m, f, i: m.Uniform(0.0, 1.0).log_prob(f(2.0)),
    "beta_value_outside": lambda m, f, i: m.Beta(1.0, 1.0).log_prob(f(1.5)),
    "bernoulli_value_not_binary": lambda m, f, i: m.Bernoulli(probs=f(0.3)).log_prob(f(0.5)),
    "categorical_value_too_large": lambda m, f, i: m.Categorical(logits=f([0.0, 0.0, 0.0])).log_prob(i(3)),
    "categorical_value_negative": lambda m, f, i: m.Categorical(logits=f([0.0, 0.0, 0.0])).log_prob(i(-1)),
    "categorical_value_fractional": lambda m, f, i: m.Categorical(logits=f([0.0, 0.0, 0.0])).log_prob(f(1.5)),
    "one_hot_value_not_one_hot": lambda m, f, i: m.OneHotCategorical(logits=f([0.0, 0.0])).log_prob(f([1.0, 1.0])),
    "poisson_fractional_value": lambda m, f, i: m.Poisson(f(1.0)).log_prob(f(1.5)),
    "binomial_value_above_count": lambda m, f, i: m.Binomial(2, f(0.3)).log_prob(f(3.0)),
    "geometric_negative_value": lambda m, f, i: m.Geometric(probs=f(0.3)).log_prob(f(-1.0)),
    "dirichlet_value_not_simplex": lambda m, f, i: m.Dirichlet(f([0.2, 0.3])).log_prob(f([0.5, 0.6])),
    "mvn_value_event_shape": lambda m, f, i: m.MultivariateNormal(f([0.0, 0.0]), f(np.eye(2))).log_prob(f([0.0, 0.0, 0.0])),
    "halfnormal_negative_value": lambda m, f, i: m.HalfNormal(f(1.0)).log_prob(f(-1.0)),
    "lognormal_negative_value": lambda m, f, i: m.LogNormal(0.0, 1.0).log_prob(f(-1.0)),
    "tanh_normal_value_outside": lambda m, f, i: m.TransformedDistribution(
        m.Normal(0.0, 1.0), m.transforms.TanhTransform()).log_prob(f(1.5)),
    "categorical_has_no_rsample": lambda m, f, i: m.Categorical(logits=f([0.0, 0.0])).rsample(),
    "exponential_cdf_negative": lambda m, f, i: m.Exponential(1.0).cdf(f(-1.0)),
}


def _outcome(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the exception type is what we compare
        return type(e)
    return None


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_exception_as_torch(case):
    expected = _outcome(lambda: CASES[case](TD, tt, tti))
    got = _outcome(lambda: CASES[case](D, t, ti))
    assert expected is not None, f"torch accepted {case}: the test case is wrong"
    assert got is expected, f"{case}: torch raises {expected.__name__}, lamina {getattr(got, '__name__', got)}"


def test_messages_name_the_parameter_constraint_and_support():
    with pytest.raises(ValueError, match=r"Expected parameter scale .*shape \(2,\).*Normal.*GreaterThan\(lower_bound=0.0\)"):
        D.Normal(t([0.0, 1.0]), t([-1.0, 1.0]))
    with pytest.raises(ValueError, match=r"within the support \(GreaterThanEq\(lower_bound=0.0\)\) of the distribution "
                                         r"Exponential\(rate: 1.0\)"):
        D.Exponential(1.0).log_prob(t(-1.0))
    with pytest.raises(ValueError, match=r"Either `probs` or `logits` must be specified, but not both."):
        D.Categorical()
    with pytest.raises(ValueError, match=r"IntegerInterval\(lower_bound=0, upper_bound=2\)"):
        D.Categorical(logits=t([0.0, 0.0, 0.0])).log_prob(ti(3))


def test_probs_that_do_not_sum_to_one_are_normalised_like_torch():
    ld = D.Categorical(probs=t([0.2, 0.3]))
    td = TD.Categorical(probs=tt([0.2, 0.3]))
    np.testing.assert_allclose(ld.probs.numpy(), td.probs.numpy())
    np.testing.assert_allclose(D.OneHotCategorical(probs=t([1.0, 3.0])).probs.numpy(), [0.25, 0.75])


@pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")
def test_validation_can_be_switched_off():
    d = D.Normal(0.0, t(-1.0), validate_args=False)          # no error
    assert np.isnan(d.log_prob(t(0.0)).numpy())
    assert D.Exponential(1.0, validate_args=False).log_prob(t(-1.0)).item() == pytest.approx(1.0)
    D.Distribution.set_default_validate_args(False)
    try:
        D.Normal(0.0, t(-1.0))
        D.Uniform(1.0, 0.0)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, t(-1.0))


def test_sample_shape_must_be_integers():
    d = D.Normal(0.0, 1.0)
    assert d.sample(3).shape == (3,)                          # an int is accepted (torch needs a tuple)
    with pytest.raises(TypeError):
        d.sample("a")
