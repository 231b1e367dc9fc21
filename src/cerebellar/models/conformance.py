"""Conformance checks that every online forward model must pass.

In the spirit of scikit-learn's ``check_estimator`` and river's
``check_estimator``: :func:`check_learner` takes a factory ``make(seed)`` that
returns a blank model and runs every check in :data:`CHECKS` on fresh models
from it. Each check is a small public function of the same factory, so a test
suite can parametrize over learners and checks and see exactly which one fails.
A failing check raises :class:`AssertionError` naming the check, the model and
what went wrong (explicit raises, not ``assert`` statements, so the checks also
run under ``python -O``).

The checks:

- :func:`check_deterministic`: same seed, same stream -> bit-identical errors
  and predictions; ``predict`` has no side effect on learning.
- :func:`check_no_input_mutation`: ``predict``, ``learn`` and ``predict_many``
  leave their input arrays alone and return fresh arrays.
- :func:`check_predict_many`: the batch prediction agrees with ``predict``.
- :func:`check_predictor`: the per-state fast path agrees with ``predict``.
- :func:`check_save_load`: a checkpoint round trip (through
  :func:`cerebellar.models.load` and through ``type(model).load``) is exact, for
  a blank and a trained model, and the loaded model keeps learning exactly as
  the original does.
- :func:`check_rejects_bad_input`: NaN, infinity and wrong lengths raise
  :class:`ValueError` naming the argument, and leave the model untouched.
- :func:`check_learns_linear_system`: on a stable linear plant the prediction
  error falls at least a hundredfold within 500 steps.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import numpy as np

from . import load
from .base import OnlineForwardModel

#: A factory: ``make(seed)`` returns a blank model.
Factory = Callable[[int], OnlineForwardModel]

# Sizes of the random transition stream used by the generic checks.
_N_STATE = 3
_N_COMMAND = 2
# Channels of very different magnitudes, as in a real body (metres, radians, newtons).
_STATE_SCALE = np.array([0.1, 1.0, 10.0])
_COMMAND_SCALE = np.array([1.0, 5.0])


def _fail(check: str, model, message: str) -> NoReturn:
    raise AssertionError(f"{check} failed for {model!r}: {message}")


def _stream(n_steps: int, seed: int = 12345):
    """Return ``(states, commands, next_states)``: a reproducible nonlinear transition stream."""
    rng = np.random.default_rng(seed)
    states = rng.standard_normal((n_steps, _N_STATE)) * _STATE_SCALE
    commands = rng.standard_normal((n_steps, _N_COMMAND)) * _COMMAND_SCALE
    mixing = rng.standard_normal((_N_STATE, _N_STATE + _N_COMMAND))
    inputs = np.hstack((states / _STATE_SCALE, commands / _COMMAND_SCALE))
    next_states = states + 0.3 * _STATE_SCALE * np.tanh(inputs @ mixing.T)
    return states, commands, next_states


def _probes(n_probes: int = 16, seed: int = 54321) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(states, commands)`` at which to compare predictions."""
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((n_probes, _N_STATE)) * _STATE_SCALE,
        rng.standard_normal((n_probes, _N_COMMAND)) * _COMMAND_SCALE,
    )


def _predictions(model, probes) -> np.ndarray:
    states, commands = probes
    return np.array([model.predict(s, u) for s, u in zip(states, commands, strict=True)])


def _train(model, n_steps: int, seed: int = 12345) -> list[np.ndarray]:
    states, commands, next_states = _stream(n_steps, seed)
    return [model.learn(s, u, n) for s, u, n in zip(states, commands, next_states, strict=True)]


def _equal(a, b) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b))


def check_deterministic(make: Factory) -> None:
    """Check that two models with one seed, fed one stream, agree bit for bit.

    One of the two also predicts between its learning steps; since ``predict``
    must not change what the model learns, the errors must still be identical.
    """
    name = "check_deterministic"
    probes = _probes()
    for seed in (0, 7):
        first, second = make(seed), make(seed)
        states, commands, next_states = _stream(200)
        for step, (s, u, n) in enumerate(zip(states, commands, next_states, strict=True)):
            error_first = first.learn(s, u, n)
            first.predict(probes[0][step % len(probes[0])], probes[1][step % len(probes[1])])
            error_second = second.learn(s, u, n)
            if not _equal(error_first, error_second):
                _fail(
                    name, first,
                    f"with seed {seed}, learn returned different errors at step {step}: "
                    f"{error_first} vs {error_second} (unseeded randomness, or predict has a "
                    f"side effect on learning)",
                )
        if not _equal(_predictions(first, probes), _predictions(second, probes)):
            _fail(name, first, f"with seed {seed}, predictions differ after identical training")
        if not _equal(first.predict_many(*probes), second.predict_many(*probes)):
            _fail(name, first, f"with seed {seed}, predict_many differs after identical training")


def check_no_input_mutation(make: Factory) -> None:
    """Check that ``predict``, ``learn`` and ``predict_many`` leave their inputs unchanged.

    Also checks that the returned arrays are fresh: writing into a returned
    prediction or error must not change the model.
    """
    name = "check_no_input_mutation"
    model = make(0)
    states, commands, next_states = _stream(60)
    probes = _probes()
    for step, (s, u, n) in enumerate(zip(states, commands, next_states, strict=True)):
        arguments = (s.copy(), u.copy(), n.copy())
        saved = tuple(a.copy() for a in arguments)
        prediction = model.predict(arguments[0], arguments[1])
        error = model.learn(*arguments)
        for label, argument, original in zip(("state", "command", "next_state"), arguments, saved,
                                             strict=True):
            if not _equal(argument, original):
                _fail(name, model, f"step {step} changed the caller's {label} array in place")
        if step == 30:
            # The caller may scribble on what it got back without touching the model.
            before = _predictions(model, probes)
            prediction[:] = 1e6
            error[:] = -1e6
            if not _equal(_predictions(model, probes), before):
                _fail(name, model, "writing into a returned prediction or error changed the model")
    batch = (probes[0].copy(), probes[1].copy())
    model.predict_many(*batch)
    if not (_equal(batch[0], probes[0]) and _equal(batch[1], probes[1])):
        _fail(name, model, "predict_many changed the caller's states or commands in place")


def check_predict_many(make: Factory) -> None:
    """Check that ``predict_many`` gives, row by row, what ``predict`` gives (to rounding)."""
    name = "check_predict_many"
    probes = _probes()
    for trained in (False, True):
        model = make(0)
        if trained:
            _train(model, 100)
        batch = model.predict_many(*probes)
        single = _predictions(model, probes)
        if batch.shape != single.shape:
            _fail(name, model, f"predict_many returned shape {batch.shape}, expected {single.shape}")
        if not np.allclose(batch, single, rtol=1e-12, atol=1e-12):
            worst = np.max(np.abs(batch - single))
            _fail(name, model, f"predict_many differs from predict by up to {worst:.3g} "
                               f"({'trained' if trained else 'blank'} model)")


def check_predictor(make: Factory) -> None:
    """Check that ``predictor(state)(command)`` equals ``predict(state, command)`` (to rounding).

    The controller's fast path asks a predictor about several commands for one
    state; a model that caches state-dependent work there must still give what
    ``predict`` gives, without touching its arguments. Done on a model sized with
    ``initialise`` and on a trained one; a blank model refuses with RuntimeError
    and a non-finite state is rejected with ValueError naming ``state``.
    """
    name = "check_predictor"
    states, commands = _probes()
    blank = make(0)
    try:
        blank.predictor(states[0])
    except RuntimeError:
        pass
    else:
        _fail(name, blank, "predictor on a blank (unsized) model did not raise RuntimeError")
    for trained in (False, True):
        stage = "trained" if trained else "freshly initialised"
        model = make(0)
        model.initialise(_N_STATE, _N_COMMAND)
        if trained:
            _train(model, 100)
        for state, command in zip(states, commands, strict=True):
            state_argument = state.copy()
            predict_command = model.predictor(state_argument)
            for trial in (command, -2.0 * command, np.zeros(_N_COMMAND)):
                command_argument = trial.copy()
                fast = predict_command(command_argument)
                slow = model.predict(state, trial)
                if not np.allclose(fast, slow, rtol=1e-12, atol=1e-12):
                    _fail(name, model, f"on a {stage} model, predictor(state)(command) = {fast} but "
                                       f"predict(state, command) = {slow}")
                if not _equal(command_argument, trial):
                    _fail(name, model, "the predictor changed the caller's command array in place")
            if not _equal(state_argument, state):
                _fail(name, model, "predictor changed the caller's state array in place")
        bad_state = states[0].copy()
        bad_state[0] = np.nan
        _expect_rejection(name, model, "state", model.predictor, {"state": bad_state},
                          f"predictor on a {stage} model with NaN in the state")


def _load_both(model, path: Path) -> dict[str, OnlineForwardModel]:
    loaded = {}
    for label, loader in (("cerebellar.models.load", load), (f"{type(model).__name__}.load",
                                                                type(model).load)):
        try:
            loaded[label] = loader(path)
        except Exception as error:
            _fail("check_save_load", model, f"{label} could not read a fresh checkpoint: {error!r}")
    return loaded


def check_save_load(make: Factory) -> None:
    """Check that a checkpoint round trip is exact and the loaded model keeps learning alike.

    Done for a blank model and for a trained one, loading through both
    :func:`cerebellar.models.load` and ``type(model).load``.
    """
    name = "check_save_load"
    probes = _probes()
    states, commands, next_states = _stream(40, seed=777)
    for trained in (False, True):
        stage = "trained" if trained else "blank"
        original = make(0)
        if trained:
            _train(original, 150)
        with tempfile.TemporaryDirectory() as directory:
            path = original.save(Path(directory) / "model")
            if not Path(path).is_file():
                _fail(name, original, f"save returned {path}, which is not a file")
            loaded = _load_both(original, path)
        for label, copy in loaded.items():
            if type(copy) is not type(original):
                _fail(name, original, f"{label} returned a {type(copy).__name__}")
            if copy.get_params() != original.get_params():
                _fail(name, original, f"{label} changed the hyperparameters of a {stage} model: "
                                      f"{copy.get_params()} vs {original.get_params()}")
            if copy.is_initialised != original.is_initialised:
                _fail(name, original, f"{label} changed whether a {stage} model is initialised")
            if original.is_initialised and not _equal(_predictions(copy, probes),
                                                      _predictions(original, probes)):
                _fail(name, original, f"{label} gives different predictions from the saved {stage} model")
        # Keep learning: the original and every loaded copy must stay in lockstep.
        for step, (s, u, n) in enumerate(zip(states, commands, next_states, strict=True)):
            reference = original.learn(s, u, n)
            for label, copy in loaded.items():
                if not _equal(copy.learn(s, u, n), reference):
                    _fail(name, original, f"after {label} of a {stage} model, learning step {step} "
                                          f"returned a different error than the original")
        for label, copy in loaded.items():
            if not _equal(_predictions(copy, probes), _predictions(original, probes)):
                _fail(name, original, f"after {label} of a {stage} model and further learning, "
                                      f"predictions differ from the original's")


def _names_argument(message: str, argument: str) -> bool:
    # Whole-word match, so that "next_state" does not count as naming "state".
    return re.search(rf"(?<![A-Za-z0-9_]){argument}(?![A-Za-z0-9_])", message) is not None


def _expect_rejection(name: str, model, argument: str, call, arguments: dict, what: str) -> None:
    try:
        call(**arguments)
    except ValueError as error:
        if not _names_argument(str(error), argument):
            _fail(name, model, f"{what}: the ValueError does not name {argument!r}: {error}")
        return
    except Exception as error:
        _fail(name, model, f"{what}: raised {type(error).__name__} instead of ValueError: {error}")
    _fail(name, model, f"{what}: accepted without error")


def check_rejects_bad_input(make: Factory) -> None:
    """Check that NaN, infinity and wrong lengths raise ValueError naming the argument.

    Non-finite values are checked on a blank model and on a trained one; wrong
    lengths (one too many, one too few, a 2-D array) after the model has been
    sized by its first call. After every rejected call the model must predict
    and learn exactly like a twin that never saw the bad input.
    """
    name = "check_rejects_bad_input"
    states, commands, next_states = _stream(30)
    good = {"state": states[0], "command": commands[0], "next_state": next_states[0]}
    probes = _probes()

    def variants(array: np.ndarray, sized: bool):
        for bad_value in (np.nan, np.inf, -np.inf):
            bad = array.copy()
            bad[-1] = bad_value
            yield f"{bad_value} in it", bad
        if sized:
            yield "one entry too many", np.append(array, 0.0)
            yield "one entry too few", array[:-1]
            yield "a 2-D array", array[None, :]

    for trained in (False, True):
        stage = "trained" if trained else "blank"
        model, twin = make(0), make(0)
        if trained:
            _train(model, 50)
            _train(twin, 50)
        for argument in ("state", "command", "next_state"):
            for description, bad in variants(good[argument], sized=trained):
                arguments = {**good, argument: bad}
                what = f"learn on a {stage} model with {description} for {argument}"
                _expect_rejection(name, model, argument, model.learn, arguments, what)
                if argument != "next_state":
                    del arguments["next_state"]
                    what = f"predict on a {stage} model with {description} for {argument}"
                    _expect_rejection(name, model, argument, model.predict, arguments, what)
        # A rejected call leaves no trace: the model still matches its twin exactly.
        if not _equal(_predictions(model, probes), _predictions(twin, probes)):
            _fail(name, model, f"rejected calls changed the predictions of a {stage} model")
        for step, (s, u, n) in enumerate(zip(states, commands, next_states, strict=True)):
            if not _equal(model.learn(s, u, n), twin.learn(s, u, n)):
                _fail(name, model, f"after rejected calls on a {stage} model, learning step {step} "
                                   f"differs from a twin that never saw them")
    batch_states, batch_commands = probes
    for label, states_arg, commands_arg in (
        ("NaN in states", np.where(np.arange(_N_STATE) == 0, np.nan, batch_states), batch_commands),
        ("inf in commands", batch_states, np.where(np.arange(_N_COMMAND) == 0, np.inf, batch_commands)),
    ):
        try:
            model.predict_many(states_arg, commands_arg)
        except ValueError:
            continue
        _fail(name, model, f"predict_many accepted {label}")


def linear_plant(seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(A, B)`` of the stable test plant ``x' = A x + B u`` (4 states, 1 command).

    ``A`` is a random rotation of two damped oscillators with poles at radius 0.9
    and 0.8 (spectral radius 0.9). The poles are spread in angle (pi/5 and
    3 pi/5) so that a single white-noise command excites all four state
    directions: with clustered poles the state channels are nearly collinear
    (their correlation matrix has condition number in the hundreds), and any
    gradient (LMS-type) learner then needs thousands of steps whatever its
    rate. That is a property of the excitation, not of the learner.
    """
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((4, 4)))

    def oscillator(radius: float, angle: float) -> np.ndarray:
        cos, sin = np.cos(angle), np.sin(angle)
        return radius * np.array([[cos, -sin], [sin, cos]])

    blocks = np.zeros((4, 4))
    blocks[:2, :2] = oscillator(0.9, np.pi / 5)
    blocks[2:, 2:] = oscillator(0.8, 3 * np.pi / 5)
    a = rotation @ blocks @ rotation.T
    b = rng.standard_normal((4, 1))
    return a, b


def check_learns_linear_system(make: Factory) -> None:
    """Check that the error on a stable linear plant falls at least 100-fold in 500 steps.

    The plant (:func:`linear_plant`) runs 100 steps before the model sees it,
    so that the first errors are those of a blank model on typical states, not
    of a start-up transient. The mean squared prediction error over the first
    20 learning steps is compared with that over steps 480-499.
    """
    name = "check_learns_linear_system"
    a, b = linear_plant()
    rng = np.random.default_rng(2024)
    model = make(0)
    state = np.zeros(4)
    for _ in range(100):
        state = a @ state + b @ rng.standard_normal(1)
    squared = np.empty(500)
    for step in range(500):
        command = rng.standard_normal(1)
        next_state = a @ state + b @ command
        error = model.learn(state, command, next_state)
        squared[step] = np.mean(np.square(error))
        state = next_state
    if not np.all(np.isfinite(squared)):
        _fail(name, model, f"non-finite prediction error at step {np.flatnonzero(~np.isfinite(squared))[0]}")
    early, late = squared[:20].mean(), squared[480:].mean()
    if not late * 100 <= early:
        _fail(name, model, f"mean squared error fell only from {early:.3g} (steps 0-19) to {late:.3g} "
                           f"(steps 480-499), a factor {early / late:.3g}; at least 100 is required")


#: Every check :func:`check_learner` runs, in order.
CHECKS = (
    check_deterministic,
    check_no_input_mutation,
    check_predict_many,
    check_predictor,
    check_save_load,
    check_rejects_bad_input,
    check_learns_linear_system,
)


def check_learner(make: Factory) -> None:
    """Run every conformance check on models from ``make``.

    Parameters
    ----------
    make : callable
        ``make(seed)`` returns a blank model (an :class:`OnlineForwardModel`);
        every call must return a new one.

    Raises
    ------
    AssertionError
        At the first failing check, naming the check, the model and the problem.

    Examples
    --------
    >>> from cerebellar.models import make_model
    >>> check_learner(lambda seed: make_model("rls", seed=seed))
    """
    for check in CHECKS:
        check(make)


__all__ = [
    "CHECKS", "check_deterministic", "check_learner", "check_learns_linear_system",
    "check_no_input_mutation", "check_predict_many", "check_predictor", "check_rejects_bad_input",
    "check_save_load", "linear_plant",
]
