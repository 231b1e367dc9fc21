"""Behaviour of the cerebellar forward model: populations, plasticity rules, generalisation."""

import numpy as np
import pytest

from cerebellar.models import Cerebellum, make_model

GRANULES = ("cmac", "random")


def trained(granule, n_steps=200, seed=0, **params):
    """A 2-state, 1-command cerebellum trained on a smooth nonlinear map."""
    model = Cerebellum(granule=granule, seed=seed, **params)
    rng = np.random.default_rng(seed)
    for _ in range(n_steps):
        state, command = rng.standard_normal(2), rng.standard_normal(1)
        model.learn(state, command, state + 0.1 * np.tanh(state[::-1] + command))
    return model


# -- populations --------------------------------------------------------------------------


def test_activity_before_any_call_raises():
    with pytest.raises(RuntimeError, match="no activity yet"):
        Cerebellum().activity()


@pytest.mark.parametrize("granule", GRANULES)
def test_activity_shapes_and_sparseness(granule):
    model = trained(granule, n_granule=1024, n_tilings=8, n_active=32)
    model.predict([0.3, -0.2], [0.5])
    activity = model.activity()
    assert set(activity) == {"mossy", "granule", "purkinje", "nuclear"}
    assert activity["mossy"].shape == (2 + 1 + 1,)  # state, command, bias
    assert activity["mossy"][-1] == 1.0
    assert activity["granule"].shape == (1024,)
    assert activity["purkinje"].shape == (2,)
    assert activity["nuclear"].shape == (2,)
    active = np.count_nonzero(activity["granule"])
    if granule == "cmac":
        # One cell per tiling, at rate 1.
        assert active == 8
        assert set(activity["granule"][activity["granule"] != 0]) == {1.0}
    else:
        # k-winners-take-all leaves exactly k cells, at positive rates.
        assert active == 32
        assert np.all(activity["granule"] >= 0)


@pytest.mark.parametrize("nuclear_rule", ["rls", "nlms"])
@pytest.mark.parametrize("granule", GRANULES)
def test_nuclear_output_is_direct_path_minus_purkinje(granule, nuclear_rule):
    model = trained(granule, nuclear_rule=nuclear_rule)
    state, command = np.array([0.4, -1.1]), np.array([0.2])
    prediction = model.predict(state, command)
    activity = model.activity()
    # The weights are not zero after training, so this is not 0 == 0.
    assert np.abs(model.purkinje_weights_ @ activity["granule"]).max() > 1e-6
    assert np.abs(model.nuclear_weights_).max() > 1e-3
    purkinje = model.purkinje_weights_ @ activity["granule"]
    # The rls nuclear rule reads the inputs in their own units, the nlms rule the mossy rates.
    if nuclear_rule == "rls":
        direct = model.nuclear_weights_ @ np.concatenate((state, command, [1.0]))
    else:
        direct = model.nuclear_weights_ @ activity["mossy"]
    np.testing.assert_allclose(activity["purkinje"], purkinje, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(activity["nuclear"], direct - purkinje, rtol=1e-12, atol=1e-15)
    # residual=True: the prediction is the state plus the nuclear output.
    np.testing.assert_allclose(prediction, state + activity["nuclear"], rtol=1e-15, atol=1e-15)
    # The mossy fibres carry the scaled inputs.
    np.testing.assert_allclose(
        activity["mossy"][:-1], np.concatenate((state, command)) / np.sqrt(model.mossy_.mean_square_)
    )


def test_activity_is_a_copy():
    model = trained("cmac")
    model.predict([0.1, 0.2], [0.3])
    activity = model.activity()
    for value in activity.values():
        value[:] = 123.0
    assert not np.any(model.activity()["nuclear"] == 123.0)
    np.testing.assert_array_equal(model.predict([0.1, 0.2], [0.3]), model.predict([0.1, 0.2], [0.3]))


# -- CMAC generalisation is local -----------------------------------------------------------
# With input_scale 1, resolution 2 and 16 tilings offset by multiples of 1/16 tile, the tile
# boundaries of all tilings together lie on a grid of spacing 1 / (16 * 2) = 1/32 along each
# axis, and each grid line is a boundary of exactly one tiling. A large memory keeps hash
# collisions out of the picture.

GRID = 1 / 32


def cmac_cells(model, state, command):
    model.predict([state], [command])
    return set(np.flatnonzero(model.activity()["granule"]))


@pytest.fixture
def cmac():
    return Cerebellum(granule="cmac", n_granule=2**16, n_tilings=16, resolution=2.0,
                      input_scale=[1.0, 1.0], seed=0)


def test_cmac_inputs_in_the_same_tile_activate_the_same_cells(cmac):
    for cell in [(5, 3), (-40, 17), (63, -64)]:
        low = [(index + 0.1) * GRID for index in cell]
        high = [(index + 0.9) * GRID for index in cell]
        assert cmac_cells(cmac, *low) == cmac_cells(cmac, *high)
        assert len(cmac_cells(cmac, *low)) == 16


def test_cmac_overlap_falls_linearly_with_distance(cmac):
    # Crossing k grid lines changes the cell of exactly k tilings.
    start = 5.5 * GRID
    reference = cmac_cells(cmac, start, 0.3 * GRID)
    shared = [len(reference & cmac_cells(cmac, start + k * GRID, 0.3 * GRID)) for k in range(20)]
    assert shared == [16 - k for k in range(17)] + [0, 0, 0]
    reference = cmac_cells(cmac, 0.3 * GRID, start)
    shared = [len(reference & cmac_cells(cmac, 0.3 * GRID, start + k * GRID)) for k in range(20)]
    assert shared == [16 - k for k in range(17)] + [0, 0, 0]


def test_cmac_inputs_far_apart_share_no_cells(cmac):
    points = [(x, u) for x in np.linspace(-3, 3, 9) for u in np.linspace(-3, 3, 9)]
    cells = [cmac_cells(cmac, x, u) for x, u in points]
    for i in range(len(points)):
        for j in range(i):
            # 0.75 apart along some axis: more than a whole tile (0.5) in every tiling.
            assert not cells[i] & cells[j], (points[i], points[j])


# -- plasticity rules ---------------------------------------------------------------------


@pytest.mark.parametrize("nuclear_rule", ["rls", "nlms"])
@pytest.mark.parametrize("granule", GRANULES)
def test_purkinje_rule_is_ltd_under_positive_error(granule, nuclear_rule):
    # A fixed input scale, so that learning does not also move the scale estimate and the
    # error learn reports is exactly target - prediction.
    model = trained(granule, input_scale=[1.0, 1.0, 1.0], nuclear_rule=nuclear_rule)
    state, command = np.array([0.3, -0.7]), np.array([0.4])
    prediction = model.predict(state, command)
    before = model.activity()
    active = np.flatnonzero(before["granule"])
    # The target exceeds the prediction on output 0 only: a climbing-fibre burst for cell 0.
    target = prediction + np.array([0.2, 0.0])
    purkinje_before = model.purkinje_weights_.copy()
    error = model.learn(state, command, target)
    np.testing.assert_allclose(error, [0.2, 0.0], atol=1e-12)
    change = model.purkinje_weights_ - purkinje_before
    # Long-term depression at the active parallel-fibre synapses of Purkinje cell 0 ...
    assert np.all(change[0, active] < 0)
    # ... and nothing else changes (up to the rounding of a zero error on output 1).
    untouched = np.ones(change.shape[1], dtype=bool)
    untouched[active] = False
    assert np.all(change[0, untouched] == 0)
    assert np.all(np.abs(change[1]) < 1e-12)
    # Albus' normalisation: Purkinje cell 0 now fires purkinje_rate * error less for this
    # input; with the nlms nuclear rule both synapse sets share one denominator, the
    # total input power (granule rates plus mossy fibres), so each gets its share.
    after = model.predict(state, command)
    purkinje_change = model.activity()["purkinje"] - before["purkinje"]
    granule_power = before["granule"] @ before["granule"]
    mossy_power = before["mossy"] @ before["mossy"]
    share = 1.0 if nuclear_rule == "rls" else granule_power / (granule_power + mossy_power)
    np.testing.assert_allclose(purkinje_change, [-0.1 * 0.2 * share, 0.0], atol=1e-12)
    # Less Purkinje inhibition (and the nuclear rule's own step): the prediction moved toward
    # the target on output 0, without overshooting it.
    assert prediction[0] < after[0] < target[0]
    assert after[1] == pytest.approx(prediction[1], abs=1e-12)
    if nuclear_rule == "nlms":
        # One normalised gradient step: the error shrinks by the power-weighted mean rate.
        rate = (0.1 * granule_power + 0.5 * mossy_power) / (granule_power + mossy_power)
        np.testing.assert_allclose(after - prediction, rate * np.array([0.2, 0.0]), atol=1e-12)


@pytest.mark.parametrize("granule", GRANULES)
@pytest.mark.parametrize("beta", [0.05, 0.3, 0.9])
def test_albus_rule_shrinks_error_by_one_minus_beta(granule, beta):
    # Albus: with C active cells and step beta / C, one input's error decays by (1 - beta).
    model = Cerebellum(granule=granule, purkinje_rate=beta, direct_path=False,
                       input_scale=[1.0, 1.0], seed=3)
    state, command, next_state = np.array([0.8]), np.array([-0.3]), np.array([1.5])
    # Eight steps keep even 0.7 * 0.1**7 well above rounding.
    errors = np.array([model.learn(state, command, next_state)[0] for _ in range(8)])
    assert errors[0] == pytest.approx(0.7)  # blank model: the error is the whole change
    np.testing.assert_allclose(errors[1:] / errors[:-1], 1 - beta, rtol=1e-6)
    assert np.abs(model.nuclear_weights_).max() == 0.0  # the direct path stayed silent


@pytest.mark.parametrize("granule", GRANULES)
def test_albus_rule_with_beta_one_learns_in_one_shot(granule):
    # nuclear_rule="nlms" because the rls rule rejects purkinje_rate >= 1 even when the
    # direct path is off and the rule is unused.
    model = Cerebellum(granule=granule, purkinje_rate=1.0, direct_path=False, nuclear_rule="nlms",
                       input_scale=[1.0, 1.0], seed=3)
    state, command, next_state = np.array([0.8]), np.array([-0.3]), np.array([1.5])
    errors = np.array([model.learn(state, command, next_state)[0] for _ in range(5)])
    assert errors[0] == pytest.approx(0.7)
    np.testing.assert_allclose(errors[1:], 0.0, atol=1e-12)
    np.testing.assert_allclose(model.predict(state, command), next_state, atol=1e-12)


def f_nonlinear(state):
    return state + 0.1 * np.sin(3 * state)


def fit_error(model, n_steps=5000, seed=0):
    """Train on next = state + 0.1 sin(3 state), state uniform in [-2, 2]; MSE on a test grid."""
    rng = np.random.default_rng(seed)
    for _ in range(n_steps):
        state = rng.uniform(-2.0, 2.0)
        model.learn([state], [0.0], [f_nonlinear(state)])
    grid = np.linspace(-1.9, 1.9, 101)
    predictions = model.predict_many(grid[:, None], np.zeros((grid.size, 1)))[:, 0]
    return np.mean((predictions - f_nonlinear(grid)) ** 2)


@pytest.mark.parametrize(
    ("name", "params", "factor"),
    [
        ("cerebellum-cmac", {}, 100.0),
        ("cerebellum-random", {}, 5.0),
        # Without the direct path the granule code alone carries the whole map.
        ("cerebellum-random", {"direct_path": False}, 5.0),
    ],
)
def test_granule_layer_fits_a_nonlinearity_better_than_nlms(name, params, factor):
    nlms = fit_error(make_model("nlms", seed=0))
    cerebellum = fit_error(make_model(name, seed=0, **params))
    # A line through sin(3x) leaves an error of about 5e-3; the granule layer removes most of it.
    assert nlms > 3e-3
    assert cerebellum * factor < nlms


# -- configuration ------------------------------------------------------------------------


def test_unknown_granule_layer_names_the_choices():
    model = Cerebellum(granule="purkinje")
    with pytest.raises(ValueError, match=r"unknown granule layer 'purkinje'.*cmac.*random"):
        model.predict([0.0], [0.0])


@pytest.mark.parametrize(
    ("params", "accepted"),
    [
        ({"purkinje_rate": 1.0, "nuclear_rate": 1.0}, False),
        ({"purkinje_rate": 0.5, "nuclear_rate": 1.5}, False),
        ({"purkinje_rate": 1.9, "nuclear_rate": 0.2}, False),
        ({"purkinje_rate": 0.9, "nuclear_rate": 1.0}, True),
        # Without the direct path only the Purkinje rate counts.
        ({"purkinje_rate": 0.9, "nuclear_rate": 1.5, "direct_path": False}, True),
        ({"purkinje_rate": 2.0, "nuclear_rate": 0.1, "direct_path": False}, False),
    ],
)
def test_nlms_rates_summing_to_two_or_more_are_rejected(params, accepted):
    model = Cerebellum(nuclear_rule="nlms", **params)
    if accepted:
        model.predict([0.0], [0.0])
    else:
        with pytest.raises(ValueError, match="below 2"):
            model.predict([0.0], [0.0])


@pytest.mark.parametrize(("purkinje_rate", "accepted"), [(0.99, True), (1.0, False), (1.5, False)])
def test_rls_nuclear_rule_needs_purkinje_rate_below_one(purkinje_rate, accepted):
    # The RLS nuclear step already removes nearly the whole error; the Purkinje step adds to it.
    model = Cerebellum(nuclear_rule="rls", purkinje_rate=purkinje_rate, nuclear_rate=1.9)
    if accepted:
        model.predict([0.0], [0.0])
    else:
        with pytest.raises(ValueError, match="purkinje_rate must be below 1"):
            model.predict([0.0], [0.0])


@pytest.mark.parametrize(
    "params",
    [{"purkinje_rate": 0.0}, {"purkinje_rate": -0.1}, {"nuclear_rule": "nlms", "nuclear_rate": 0.0}],
    ids=["purkinje-zero", "purkinje-negative", "nuclear-zero"],
)
def test_non_positive_rates_are_rejected(params):
    rate = next(name for name in params if name.endswith("_rate"))
    with pytest.raises(ValueError, match=rate):
        Cerebellum(**params).predict([0.0], [0.0])


def test_unknown_nuclear_rule_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown nuclear_rule 'kalman'.*rls.*nlms"):
        Cerebellum(nuclear_rule="kalman").predict([0.0], [0.0])


def test_seed_sets_the_granule_connectivity():
    def connectivity(seed):
        model = Cerebellum(granule="random", seed=seed)
        model.predict([0.0, 0.0], [0.0])
        return model.granule_layer_.weights

    np.testing.assert_array_equal(connectivity(4), connectivity(4))
    assert not np.array_equal(connectivity(4), connectivity(5))


def test_single_input_tilings_generalise_an_additive_function():
    # next = state + 0.2 sin(2 x) + 0.2 cos(2 y), taught only along the two axes (y = 0, then
    # x = 0). Joint tilings know nothing off the axes; one-input tilings add the two parts
    # (not perfectly: on the axes the joint cells absorb part of each error, measured ~2x).
    def target(state):
        return state + np.array([0.2 * np.sin(2 * state[0]) + 0.2 * np.cos(2 * state[1]), 0.0])

    rng = np.random.default_rng(0)
    errors = {}
    for singles in (False, True):
        model = Cerebellum(granule="cmac", tile_singles=singles, direct_path=False, purkinje_rate=0.5,
                           input_scale=[1.0, 1.0, 1.0], seed=0)
        for _ in range(3000):
            value = rng.uniform(-1.5, 1.5)
            state = np.array([value, 0.0]) if rng.random() < 0.5 else np.array([0.0, value])
            model.learn(state, [0.0], target(state))
        tests = rng.uniform(-1.5, 1.5, size=(200, 2))
        errors[singles] = np.sqrt(np.mean([(model.predict(s, [0.0]) - target(s))[0] ** 2 for s in tests]))
    assert errors[True] < 0.6 * errors[False]
    assert errors[True] < 0.1


def test_single_input_tilings_pass_the_conformance_suite():
    from cerebellar.models.conformance import check_learner

    check_learner(lambda seed: Cerebellum(tile_singles=True, seed=seed))
