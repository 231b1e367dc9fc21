"""Bad input never corrupts a model: huge values, empty, complex or string vectors, bad hyperparameters."""

import re

import numpy as np
import pytest

from cerebellar import CheckpointError
from cerebellar.models import MODEL_NAMES, NLMS, RLS, Cerebellum, SmoothCerebellum, load, make_model
from cerebellar.models.granule import SparseRandomExpansion, TileCoding

N_STATE, N_COMMAND = 3, 2


def names(message, argument):
    return re.search(rf"(?<![A-Za-z0-9_]){argument}(?![A-Za-z0-9_])", message) is not None


def arrays(model):
    """Copies of every learned array (what a checkpoint holds)."""
    found = {"n_learned": np.array(model.n_learned_), "mossy_count": np.array(model.mossy_.count_),
             "mossy_mean_square": model.mossy_.mean_square_}
    for key, value in vars(model).items():
        if key.endswith("_") and isinstance(value, np.ndarray):
            found[key] = value
    layer = getattr(model, "granule_layer_", None)
    if layer is not None:
        found.update({f"layer.{k}": v for k, v in vars(layer).items() if isinstance(v, np.ndarray)})
    return {key: np.array(value, copy=True) for key, value in found.items()}


def trained(name, n_steps=30, seed=0, **params):
    model = make_model(name, seed=seed, **params)
    rng = np.random.default_rng(seed)
    for _ in range(n_steps):
        state, command = rng.standard_normal(N_STATE), rng.standard_normal(N_COMMAND)
        model.learn(state, command, 0.9 * state + 0.1 * np.tanh(command).sum())
    return model


# -- defect 1: a single huge but finite value ----------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's overflow warnings are not the point
@pytest.mark.parametrize("fixed_scale", [False, True], ids=["estimated-scale", "fixed-scale"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_huge_inputs_never_leave_non_finite_state(tmp_path, name, fixed_scale):
    params = {"input_scale": [0.1, 1.0, 10.0, 1.0, 5.0]} if fixed_scale else {}
    model = trained(name, **params)
    path = model.save(tmp_path / "model.npz")  # a good checkpoint, which must survive
    rng = np.random.default_rng(99)
    outcomes = {"rejected": 0, "learned": 0}
    for trial in range(60):
        state, command = rng.standard_normal(N_STATE), rng.standard_normal(N_COMMAND)
        values = {"state": state, "command": command, "next_state": 0.9 * state}
        culprit = ("state", "command", "next_state")[trial % 3]
        values[culprit][rng.integers(values[culprit].shape[0])] = rng.choice((-1, 1)) * 10.0 ** rng.uniform(
            100, 200)
        before = arrays(model)
        try:
            error = model.learn(**values)
        except ValueError as rejection:
            assert names(str(rejection), culprit), rejection
            after = arrays(model)
            assert after.keys() == before.keys()
            for key in before:
                np.testing.assert_array_equal(after[key], before[key], err_msg=key)
            outcomes["rejected"] += 1
        else:
            assert np.all(np.isfinite(error))
            outcomes["learned"] += 1
        for key, value in arrays(model).items():
            assert np.all(np.isfinite(value)), f"{key} became non-finite after {values}"
        try:
            assert np.all(np.isfinite(model.predict(values["state"], values["command"])))
        except ValueError:
            pass
        # The next save must write a checkpoint that loads.
        model.save(path)
        copy = load(path)
        probe = (rng.standard_normal(N_STATE), rng.standard_normal(N_COMMAND))
        try:
            expected = model.predict(*probe)
        except ValueError:
            with pytest.raises(ValueError):
                copy.predict(*probe)
        else:
            np.testing.assert_array_equal(copy.predict(*probe), expected)
    assert outcomes["rejected"] > 0  # 1e150 and beyond are always refused


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_huge_input_on_a_blank_model_leaves_it_blank(name):
    model = make_model(name)
    with pytest.raises(ValueError, match="command"):
        model.learn(np.zeros(N_STATE), [1e180, 0.0], np.zeros(N_STATE))
    assert not model.is_initialised
    with pytest.raises(ValueError, match="state"):
        model.predict([0.0, 1e200, 0.0], np.zeros(N_COMMAND))
    assert not model.is_initialised


def test_the_magnitude_limit_is_the_norm_1e150():
    model = RLS()
    model.learn([1e149, 0.0], [0.0], [1e149, 0.0])  # within the limit: learned
    with pytest.raises(ValueError, match=r"state is too large.*1e\+150"):
        model.learn([2e150, 0.0], [0.0], [0.0, 0.0])


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize(("key", "value"), [("mossy_mean_square", np.nan), ("mossy_mean_square", -1.0)])
def test_save_refuses_state_that_load_rejects_and_keeps_the_old_file(tmp_path, name, key, value):
    model = trained(name)
    path = model.save(tmp_path / "model.npz")
    good = path.read_bytes()
    model.mossy_.mean_square_[0] = value
    with pytest.raises(ValueError, match="mossy_mean_square"):
        model.save(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_save_refuses_non_finite_weights(tmp_path):
    model = trained("rls")
    path = model.save(tmp_path / "model.npz")
    good = path.read_bytes()
    model.weights_[0, 0] = np.inf
    with pytest.raises(ValueError, match="weights"):
        model.save(path)
    assert path.read_bytes() == good
    load(path)  # still the good checkpoint


# -- defect 3: bad vectors ----------------------------------------------------------------


BAD_VECTORS = [
    ("empty", lambda v: np.array([]), ValueError),
    ("empty-list", lambda v: [], ValueError),
    ("complex", lambda v: v + 1j, TypeError),
    ("complex-imaginary-zero", lambda v: v.astype(complex), TypeError),
    ("numeric-strings", lambda v: v.astype(str), TypeError),
    ("string-list", lambda v: [str(x) for x in v], TypeError),
    ("string", lambda v: "1.0", TypeError),
    ("none", lambda v: None, TypeError),
    ("ragged", lambda v: [[1.0], [1.0, 2.0]], ValueError),
]


@pytest.mark.parametrize(("label", "make_bad", "error"), BAD_VECTORS, ids=[b[0] for b in BAD_VECTORS])
@pytest.mark.parametrize("argument", ["state", "command", "next_state"])
@pytest.mark.parametrize("blank", [True, False], ids=["blank", "sized"])
def test_bad_vectors_are_rejected_naming_the_argument(argument, label, make_bad, error, blank):
    model = make_model("rls") if blank else trained("rls")
    before = None if blank else arrays(model)
    values = {"state": np.ones(N_STATE), "command": np.ones(N_COMMAND), "next_state": np.ones(N_STATE)}
    values[argument] = make_bad(values[argument])
    with pytest.raises(error) as caught:
        model.learn(**values)
    assert names(str(caught.value), argument), caught.value
    if blank:
        assert not model.is_initialised  # an empty vector must not size the model to length 0
    else:
        after = arrays(model)
        for key in before:
            np.testing.assert_array_equal(after[key], before[key])


def test_empty_command_does_not_size_a_model():
    model = NLMS()
    with pytest.raises(ValueError, match="command must not be empty"):
        model.predict([0.1, 0.2], [])
    assert not model.is_initialised
    model.predict([0.1, 0.2], [0.3])
    assert (model.n_state_, model.n_command_) == (2, 1)


def test_predict_many_rejects_complex_and_strings():
    model = trained("rls")
    states, commands = np.ones((4, N_STATE)), np.ones((4, N_COMMAND))
    with pytest.raises(TypeError, match="states"):
        model.predict_many(states + 1j, commands)
    with pytest.raises(TypeError, match="commands"):
        model.predict_many(states, commands.astype(str))
    with pytest.raises(ValueError, match="commands"):
        model.predict_many(states, np.ones((4, 0)))


def test_plain_numbers_of_other_types_are_still_accepted():
    from fractions import Fraction

    model = RLS()
    model.learn([Fraction(1, 2), 1], np.array([1], dtype=np.int32), np.array([0.5, 1.0], dtype=np.float32))
    np.testing.assert_allclose(model.predict([0.5, 1.0], [1.0]), model.predict([Fraction(1, 2), 1], [1]))


# -- defect 3: hyperparameters ------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "argument", "error"),
    [
        (lambda: Cerebellum(resolution=np.nan), "resolution", ValueError),
        (lambda: Cerebellum(resolution="2.0"), "resolution", TypeError),
        (lambda: Cerebellum(n_granule=10.5), "n_granule", TypeError),
        (lambda: Cerebellum(n_granule=64.0), "n_granule", TypeError),
        (lambda: Cerebellum(n_tilings=2.5), "n_tilings", TypeError),
        (lambda: Cerebellum(n_tilings=0), "n_tilings", ValueError),
        (lambda: Cerebellum(n_granule=8, n_tilings=16), "n_granule", ValueError),
        (lambda: Cerebellum(granule="random", n_granule=16, n_active=32), "n_active", ValueError),
        (lambda: Cerebellum(granule="random", fan_in=2.5), "fan_in", TypeError),
        (lambda: Cerebellum(granule="random", n_active=0), "n_active", ValueError),
        (lambda: Cerebellum(tile_singles="yes"), "tile_singles", TypeError),
        (lambda: Cerebellum(direct_path=1), "direct_path", TypeError),
        (lambda: Cerebellum(forgetting=1e-320), "forgetting", ValueError),
        (lambda: Cerebellum(granule=None), "granule", ValueError),
        (lambda: SmoothCerebellum(n_granule=10.5), "n_granule", TypeError),
        (lambda: SmoothCerebellum(fan_in=0), "fan_in", ValueError),
        (lambda: SmoothCerebellum(length_scale=np.inf), "length_scale", ValueError),
        (lambda: SmoothCerebellum(prior="100"), "prior", TypeError),
        (lambda: SmoothCerebellum(angle_pairs=[(0, 1.5)]), "angle_pairs", ValueError),
        (lambda: SmoothCerebellum(max_covariance=1e305), "max_covariance", ValueError),
        (lambda: RLS(forgetting="0.9"), "forgetting", TypeError),
        (lambda: RLS(forgetting=np.nan), "forgetting", ValueError),
        (lambda: RLS(forgetting=True), "forgetting", TypeError),
        (lambda: RLS(max_covariance=1e305), "max_covariance", ValueError),
        (lambda: RLS(input_scale=[1.0, 0.0, 1.0, 1.0, 1.0]), "input_scale", ValueError),
        (lambda: RLS(input_scale=["1"] * 5), "input_scale", TypeError),
        (lambda: RLS(residual="no"), "residual", TypeError),
        (lambda: RLS(seed=-1), "seed", ValueError),
        (lambda: RLS(seed=1.5), "seed", TypeError),
        (lambda: NLMS(rate=2.0), "rate", ValueError),
        (lambda: NLMS(epsilon="1e-3"), "epsilon", TypeError),
    ],
)
def test_bad_hyperparameters_are_rejected_naming_them(make, argument, error):
    model = make()  # __init__ only stores, as in scikit-learn; the first call checks
    with pytest.raises(error) as caught:
        model.initialise(N_STATE, N_COMMAND)
    assert names(str(caught.value), argument), caught.value
    assert not model.is_initialised


@pytest.mark.parametrize(
    ("make", "argument", "error"),
    [
        (lambda: TileCoding(10.5, 4, 2.0), "n_cells", TypeError),
        (lambda: TileCoding(64, 4, np.nan), "resolution", ValueError),
        (lambda: TileCoding(64, 4.0, 2.0), "n_tilings", TypeError),
        (lambda: SparseRandomExpansion(10.5, 4, 2), "n_cells", TypeError),
        (lambda: SparseRandomExpansion(64, 4, 2.5), "n_active", TypeError),
    ],
)
def test_granule_layers_check_their_sizes(make, argument, error):
    with pytest.raises(error, match=argument):
        make()


def test_initialise_takes_integer_sizes():
    with pytest.raises(TypeError, match="n_state"):
        RLS().initialise(2.5, 1)
    with pytest.raises(ValueError, match="n_command"):
        RLS().initialise(2, 0)


@pytest.mark.parametrize(("name", "error"), [(None, TypeError), (3, TypeError), ("kalman", ValueError)])
def test_make_model_names_a_bad_name(name, error):
    with pytest.raises(error, match="name|model"):
        make_model(name)


@pytest.mark.parametrize("path", ["", ".", "/"])
def test_save_to_a_path_without_a_file_name(tmp_path, path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="path"):
        trained("rls").save(path)
    assert list(tmp_path.iterdir()) == []


def test_save_to_a_directory_or_a_non_path(tmp_path):
    (tmp_path / "model.npz").mkdir()
    with pytest.raises(ValueError, match="path"):
        trained("rls").save(tmp_path / "model.npz")
    with pytest.raises(TypeError, match="path"):
        trained("rls").save(42)


def test_checkpoint_with_bad_hyperparameters_is_refused(tmp_path):
    path = RLS().save(tmp_path / "blank.npz")
    with np.load(path) as archive:
        data = {key: archive[key] for key in archive.files}
    data["__params__"] = np.array('{"forgetting": "0.9"}')
    np.savez(path, **data)
    with pytest.raises(CheckpointError, match="forgetting"):
        load(path)
