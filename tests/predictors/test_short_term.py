"""ShortTermPredictor against known answers: what is exactly predictable is, noise is not."""

from __future__ import annotations

import numpy as np
import pytest

from cerebellar._io import CheckpointError
from cerebellar.predictors import ShortTermPredictor


def r2_per_channel(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Coefficient of determination of each column."""
    residual = ((truth - prediction) ** 2).mean(axis=0)
    return 1.0 - residual / truth.var(axis=0)


def run(predictor: ShortTermPredictor, signals: np.ndarray) -> np.ndarray:
    """Outputs of ``predictor`` over the rows of ``signals``."""
    return np.array([predictor.step(x) for x in signals])


def scored(signals: np.ndarray, outputs: np.ndarray, advance: int, warm_up: int) -> np.ndarray:
    """R2 of the predictions made from ``warm_up`` on against the values they predicted."""
    return r2_per_channel(signals[warm_up + advance:], outputs[warm_up:-advance])


def sinusoids(n_channels: int, steps: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frequency = rng.uniform(2 * np.pi / 200, 2 * np.pi / 20, n_channels)  # periods 20-200 steps
    phase = rng.uniform(0, 2 * np.pi, n_channels)
    amplitude = rng.uniform(0.5, 5.0, n_channels)
    offset = rng.normal(0, 3, n_channels)
    t = np.arange(steps)[:, None]
    return (offset + amplitude * np.sin(frequency * t + phase)).astype(np.float32)


@pytest.mark.parametrize("advance", [5, 10])
def test_sinusoids_are_predicted_after_a_short_warm_up(advance):
    signals = sinusoids(64, 2600, seed=advance)
    outputs = run(ShortTermPredictor(64, advance, seed=1), signals)
    assert np.median(scored(signals, outputs, advance, warm_up=2000)) >= 0.98


def test_a_delayed_copy_of_a_sampled_channel_is_predicted_exactly():
    advance, lags, n_sources = 4, 3, 40
    rng = np.random.default_rng(2)
    steps = 3000
    noise = rng.standard_normal((steps + 10, n_sources)).astype(np.float32)
    # Channel n_sources + j copies source j delayed by advance + (j % lags) steps.
    delays = advance + np.arange(n_sources) % lags
    copies = np.stack([noise[10 - d: 10 - d + steps, j] for j, d in enumerate(delays)], axis=1)
    signals = np.concatenate([noise[10:], copies], axis=1)
    n = 2 * n_sources
    sources = np.stack([(np.arange(n) + 1) % n, (np.arange(n) + 7) % n], axis=1)
    sources[n_sources:, 0] = np.arange(n_sources)  # each copy samples the channel it copies
    predictor = ShortTermPredictor(n, advance, sources=sources, sampled_lags=lags)
    outputs = run(predictor, signals)
    r2 = scored(signals, outputs, advance, warm_up=2000)
    assert r2[n_sources:].min() >= 0.99
    assert abs(np.median(r2[:n_sources])) <= 0.05  # the white-noise sources stay unpredictable


def test_white_noise_gets_no_invented_lead():
    signals = np.random.default_rng(3).standard_normal((3000, 200)).astype(np.float32)
    outputs = run(ShortTermPredictor(200, 5, seed=0), signals)
    assert abs(np.median(scored(signals, outputs, 5, warm_up=1000))) <= 0.05


def test_same_seed_same_outputs_and_threads_change_nothing():
    noise = np.random.default_rng(5).normal(size=(200, 300)).astype(np.float32)
    signals = sinusoids(300, 200, seed=4) + noise
    settings = {"chunk_size": 64, "n_pooled": 5}
    first = run(ShortTermPredictor(300, 3, seed=7, n_threads=1, **settings), signals)
    again = run(ShortTermPredictor(300, 3, seed=7, n_threads=2, **settings), signals)
    other = run(ShortTermPredictor(300, 3, seed=8, n_threads=1, **settings), signals)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.dtype == np.float32 and first.shape == (200, 300)


def test_sources_never_include_the_channel_itself_and_are_distinct_for_small_populations():
    predictor = ShortTermPredictor(10, 2, n_sampled=4, seed=3)
    sources = predictor.sources_
    assert sources.shape == (10, 4)
    assert not np.any(sources == np.arange(10)[:, None])
    assert all(len(set(row)) == 4 for row in sources.tolist())
    assert ShortTermPredictor(3, 1, n_sampled=5).sources_.shape == (3, 2)  # at most n - 1 others


@pytest.mark.parametrize("explicit", [False, True])
def test_save_load_round_trip_gives_identical_later_outputs(tmp_path, explicit):
    signals = sinusoids(50, 400, seed=6)
    sources = (np.arange(50)[:, None] + np.array([[1, 2]])) % 50 if explicit else None
    predictor = ShortTermPredictor(50, 4, seed=2, sources=sources, n_sampled=2, history=4, n_pooled=3)
    run(predictor, signals[:250])
    path = predictor.save(tmp_path / "stp")
    loaded = ShortTermPredictor.load(path)
    assert loaded.get_params() == predictor.get_params()
    np.testing.assert_array_equal(run(loaded, signals[250:]), run(predictor, signals[250:]))


def test_reset_forgets_the_history_but_keeps_the_weights():
    signals = sinusoids(20, 1500, seed=8)
    predictor = ShortTermPredictor(20, 5, seed=0)
    run(predictor, signals)
    weights = predictor.weights_.copy()
    predictor.reset()
    assert predictor.episode_steps_ == 0 and not predictor.contexts_.any() and not predictor.sampled_.any()
    np.testing.assert_array_equal(predictor.weights_, weights)
    # Back in the signal: no learning until a full history and advance steps have passed.
    run(predictor, signals[:7])
    np.testing.assert_array_equal(predictor.weights_, weights)
    outputs = run(predictor, signals[7:400])
    assert np.median(scored(signals[7:400], outputs, 5, warm_up=100)) >= 0.98  # the weights still serve


def test_a_blank_predictor_predicts_the_running_mean():
    predictor = ShortTermPredictor(4, 3)
    np.testing.assert_array_equal(predictor.step([1, 2, 3, 4]), np.float32([1, 2, 3, 4]))
    np.testing.assert_allclose(predictor.step([3, 2, 1, 0]), [2, 2, 2, 2])


@pytest.mark.parametrize(("x", "message"), [
    (np.zeros(5), r"shape \(4,\)"),
    (np.zeros((4, 1)), r"shape \(4,\)"),
    ([0, np.nan, 0, 0], "NaN or infinite values at channels \\[1\\]"),
    ([0, 0, np.inf, 0], "NaN or infinite values at channels \\[2\\]"),
    ([0, 0, 0, 1e20], "too large at channel 3"),
    (["a", "b", "c", "d"], "real numbers"),
    ([1j, 0, 0, 0], "real numbers"),
])
def test_bad_input_is_rejected_and_changes_nothing(x, message):
    predictor = ShortTermPredictor(4, 2, n_sampled=1)
    predictor.step([1.0, 2.0, 3.0, 4.0])
    before = {name: getattr(predictor, name).copy() for name in ShortTermPredictor._STATE}
    with pytest.raises(ValueError, match=message):
        predictor.step(x)
    assert predictor.n_steps_ == 1
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(predictor, name), value)


@pytest.mark.parametrize(("params", "error", "message"), [
    ({"n_channels": 0}, ValueError, "n_channels"),
    ({"advance": 0}, ValueError, "advance"),
    ({"advance": 2.0}, TypeError, "advance"),
    ({"history": 0}, ValueError, "history"),
    ({"learning_rate": 0.0}, ValueError, "learning_rate"),
    ({"learning_rate": 1.5}, ValueError, "learning_rate"),
    ({"sampled_lags": 0}, ValueError, "sampled_lags"),
    ({"n_pooled": -1}, ValueError, "n_pooled"),
    ({"stats_time": 0.5}, ValueError, "stats_time"),
    ({"sources": np.zeros((3, 2), dtype=int)}, ValueError, "sources must have shape"),
    ({"sources": np.full((4, 1), 4)}, ValueError, "channel indices"),
    ({"sources": np.zeros((4, 1))}, ValueError, "integer"),
])
def test_bad_hyperparameters_are_named(params, error, message):
    arguments = {"n_channels": 4, "advance": 2, **params}
    with pytest.raises(error, match=message):
        ShortTermPredictor(**arguments)


def test_a_damaged_checkpoint_is_refused(tmp_path):
    predictor = ShortTermPredictor(6, 2, n_sampled=1)
    predictor.step(np.arange(6.0))
    path = predictor.save(tmp_path / "stp.npz")
    from cerebellar._io import load_checkpoint, save_checkpoint
    kind, params, arrays = load_checkpoint(path)
    arrays["weights_"] = arrays["weights_"][:, :3]
    save_checkpoint(path, kind, params, arrays)
    with pytest.raises(CheckpointError, match="weights_ has shape"):
        ShortTermPredictor.load(path)


def test_the_docstring_example_holds():
    import doctest

    from cerebellar.predictors import short_term
    result = doctest.testmod(short_term)
    assert result.attempted >= 5 and result.failed == 0
