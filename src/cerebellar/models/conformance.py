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
- :func:`check_rejects_bad_input`: NaN, infinity, huge values, wrong lengths,
  empty vectors, complex numbers and strings raise :class:`ValueError` (or
  :class:`TypeError` for the wrong types) naming the argument, and leave the
  model untouched (a blank one blank).
- :func:`check_huge_inputs`: single huge but finite values (1e100 to 1e200)
  anywhere in a transition either raise ValueError leaving the learned arrays
  bit-identical, or are learned with every array staying finite; a checkpoint
  round trip still works afterwards.
- :func:`check_checkpoint_validation`: a checkpoint with any array tampered
  with (wrong shape, dtype or kind, NaN, out of range, missing, unexpected), a
  damaged header, or a file that is no checkpoint at all, raises
  :class:`~cerebellar.models.CheckpointError` on load; and ``save`` refuses a
  model whose state would not load, leaving the previous file untouched.
- :func:`check_learns_linear_system`: on a stable linear plant the prediction
  error falls at least a hundredfold within 500 steps.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import numpy as np

from . import CheckpointError, load
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


def _expect_rejection(name: str, model, argument: str, call, arguments: dict, what: str,
                      errors: tuple[type[Exception], ...] = (ValueError,)) -> None:
    try:
        call(**arguments)
    except errors as error:
        if not _names_argument(str(error), argument):
            _fail(name, model, f"{what}: the {type(error).__name__} does not name {argument!r}: {error}")
        return
    except Exception as error:
        expected = " or ".join(kind.__name__ for kind in errors)
        _fail(name, model, f"{what}: raised {type(error).__name__} instead of {expected}: {error}")
    _fail(name, model, f"{what}: accepted without error")


def check_rejects_bad_input(make: Factory) -> None:
    """Check that bad values, shapes and types raise an error naming the argument.

    NaN, infinity, a huge value (1e200), an empty vector, complex numbers and
    numeric strings are checked on a blank model and on a trained one; wrong
    lengths (one too many, one too few, a 2-D array) after the model has been
    sized by its first call. Values raise ValueError; complex numbers and
    strings may raise TypeError instead. After every rejected call the model
    must predict and learn exactly like a twin that never saw the bad input,
    and a blank model must still be blank.
    """
    name = "check_rejects_bad_input"
    states, commands, next_states = _stream(30)
    good = {"state": states[0], "command": commands[0], "next_state": next_states[0]}
    probes = _probes()
    value_error, type_error = (ValueError,), (ValueError, TypeError)

    def variants(array: np.ndarray, sized: bool):
        for bad_value in (np.nan, np.inf, -np.inf, 1e200):
            bad = array.copy()
            bad[-1] = bad_value
            yield f"{bad_value} in it", bad, value_error
        yield "an empty vector", np.array([]), value_error
        yield "complex values", array + 1j, type_error
        yield "numeric strings", array.astype(str), type_error
        yield "a list of numeric strings", [str(value) for value in array], type_error
        if sized:
            yield "one entry too many", np.append(array, 0.0), value_error
            yield "one entry too few", array[:-1], value_error
            yield "a 2-D array", array[None, :], value_error

    for trained in (False, True):
        stage = "trained" if trained else "blank"
        model, twin = make(0), make(0)
        if trained:
            _train(model, 50)
            _train(twin, 50)
        for argument in ("state", "command", "next_state"):
            for description, bad, errors in variants(good[argument], sized=trained):
                arguments = {**good, argument: bad}
                what = f"learn on a {stage} model with {description} for {argument}"
                _expect_rejection(name, model, argument, model.learn, arguments, what, errors)
                if argument != "next_state":
                    del arguments["next_state"]
                    what = f"predict on a {stage} model with {description} for {argument}"
                    _expect_rejection(name, model, argument, model.predict, arguments, what, errors)
        if not trained and model.is_initialised:
            _fail(name, model, "rejected calls on a blank model sized it: it must stay blank")
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
        ("1e200 in states", np.where(np.arange(_N_STATE) == 0, 1e200, batch_states), batch_commands),
        ("complex commands", batch_states, batch_commands + 1j),
    ):
        try:
            model.predict_many(states_arg, commands_arg)
        except (ValueError, TypeError):
            continue
        _fail(name, model, f"predict_many accepted {label}")


def _learned_arrays(model) -> dict[str, np.ndarray]:
    """Return copies of every array a checkpoint of ``model`` would hold."""
    return {key: np.array(value, copy=True) for key, value in model._checkpoint_arrays().items()}


def check_huge_inputs(make: Factory) -> None:
    """Check that one huge but finite value never leaves a model with non-finite state.

    On a trained model, 40 transitions each carry one value of magnitude
    1e100 to 1e200 (random sign, argument and position), for ``learn`` and for
    ``predict``. Each call must either raise ValueError naming the argument
    holding the value, with every learned array bit-identical to before, or
    succeed with a finite result and every learned array finite. Afterwards
    the model must still save, and load back with the same predictions.
    numpy's floating-point warnings are silenced: what counts is what ends up
    in the model.
    """
    name = "check_huge_inputs"
    with np.errstate(all="ignore"):  # numpy's overflow warnings are beside the point here
        _check_huge_inputs(name, make)


def _outcomes(model, probes) -> list:
    """Each probe's prediction, or the type of the error predicting it raised."""
    outcomes = []
    for state, command in zip(*probes, strict=True):
        try:
            outcomes.append(model.predict(state, command))
        except ValueError as error:
            outcomes.append(type(error))
    return outcomes


def _check_huge_inputs(name: str, make: Factory) -> None:
    model = make(0)
    _train(model, 100)
    rng = np.random.default_rng(2468)
    states, commands, next_states = _stream(40, seed=1357)
    arguments = ("state", "command", "next_state")
    for step, transition in enumerate(zip(states, commands, next_states, strict=True)):
        values = dict(zip(arguments, (array.copy() for array in transition), strict=True))
        culprit = arguments[rng.integers(3)]
        magnitude = 10.0 ** rng.uniform(100.0, 200.0) * rng.choice((-1.0, 1.0))
        values[culprit][rng.integers(values[culprit].shape[0])] = magnitude
        calls = [("learn", model.learn, values)]
        if culprit != "next_state":
            calls.append(("predict", model.predict, {key: values[key] for key in arguments[:2]}))
        for label, call, call_arguments in calls:
            what = f"step {step}: {label} with {magnitude:.3g} in {culprit}"
            before = _learned_arrays(model)
            try:
                result = call(**call_arguments)
            except ValueError as error:
                if not _names_argument(str(error), culprit):
                    _fail(name, model, f"{what}: the ValueError does not name {culprit!r}: {error}")
                after = _learned_arrays(model)
                changed = [key for key in before if key not in after or not _equal(before[key], after[key])]
                if changed or after.keys() != before.keys():
                    _fail(name, model, f"{what}: raised ValueError but changed {changed or 'the arrays'}")
                continue
            except Exception as error:
                _fail(name, model, f"{what}: raised {type(error).__name__} instead of ValueError: {error}")
            broken = [key for key, value in _learned_arrays(model).items() if not np.all(np.isfinite(value))]
            if broken:
                _fail(name, model, f"{what}: accepted, and left non-finite values in {broken}")
            if not np.all(np.isfinite(result)):
                _fail(name, model, f"{what}: returned non-finite values {result}")
    probes = _probes()
    with tempfile.TemporaryDirectory() as directory:
        try:
            copy = load(model.save(Path(directory) / "model"))
        except Exception as error:
            _fail(name, model, f"after huge inputs, the save/load round trip failed: {error!r}")
    if not all(a is b or (isinstance(a, np.ndarray) and _equal(a, b))
               for a, b in zip(_outcomes(copy, probes), _outcomes(model, probes), strict=True)):
        _fail(name, model, "after huge inputs, the loaded model predicts differently")


def _tampered_checkpoints(contents: dict[str, np.ndarray]):
    """Yield ``(description, contents)``: every way a checkpoint's arrays are damaged here."""
    header = {"__format__", "__kind__", "__params__"}
    for key, value in contents.items():
        if key in header:
            continue
        others = {k: v for k, v in contents.items() if k != key}
        yield f"array {key!r} missing", others
        if value.ndim == 0:
            wrong_shape = value.reshape(1)
        else:
            wrong_shape = np.concatenate((value, value[:1]), axis=0)
        yield f"array {key!r} with a wrong shape", {**others, key: wrong_shape}
        yield f"array {key!r} complex", {**others, key: value.astype(np.complex128)}
        if value.dtype.kind == "f":
            yield f"array {key!r} as integers", {**others, key: value.astype(np.int64)}
            nan = value.astype(np.float64, copy=True)
            nan.flat[0] = np.nan
            yield f"array {key!r} with a NaN", {**others, key: nan}
        else:
            yield f"array {key!r} as floats", {**others, key: value.astype(np.float64)}
            yield f"array {key!r} as text", {**others, key: value.astype(str)}
        if key in ("n_learned", "mossy_count", "n_state", "n_command"):
            yield f"array {key!r} negative", {**others, key: np.array(-1)}
        if key in ("n_state", "n_command"):
            yield f"array {key!r} zero", {**others, key: np.array(0)}
            yield f"array {key!r} one too large", {**others, key: value + 1}
        if key == "mossy_mean_square":
            negative = value.copy()
            negative[0] = -1.0
            yield "a negative mean square", {**others, key: negative}
        if key.endswith("covariance"):
            asymmetric = value.copy()
            asymmetric[0, -1] += 1.0
            yield f"an asymmetric {key!r}", {**others, key: asymmetric}
            indefinite = value.copy()
            indefinite[0, 0] = -1.0
            yield f"an indefinite {key!r}", {**others, key: indefinite}
    yield "an unexpected array", {**contents, "hippocampus": np.zeros(3)}
    yield "hyperparameters that are not JSON", {**contents, "__params__": np.array("{not json")}
    yield "hyperparameters that are not an object", {**contents, "__params__": np.array("[1, 2]")}
    params = json.loads(str(contents["__params__"]))
    yield "an unknown hyperparameter", {
        **contents, "__params__": np.array(json.dumps({**params, "bogus": 1}))}
    yield "a hyperparameter of the wrong type", {
        **contents, "__params__": np.array(json.dumps({**params, "seed": "zero"}))}
    yield "a numeric hyperparameter block", {**contents, "__params__": np.array(3.0)}
    yield "no kind", {k: v for k, v in contents.items() if k != "__kind__"}


def check_checkpoint_validation(make: Factory) -> None:
    """Check that every malformed checkpoint raises CheckpointError, and save refuses bad state.

    A trained model's checkpoint is rewritten with each damage of
    :func:`_tampered_checkpoints` (and as a truncated file, random bytes, an
    empty file and a ``.npy`` file); :func:`cerebellar.models.load` and
    ``type(model).load`` must both raise
    :class:`~cerebellar.models.CheckpointError`. Then a NaN and a negative
    mean square are written into the model's state: ``save`` over the good
    checkpoint must raise ValueError and leave that file's bytes unchanged.
    """
    name = "check_checkpoint_validation"
    model = make(0)
    _train(model, 60)
    loaders = (("cerebellar.models.load", load), (f"{type(model).__name__}.load", type(model).load))

    def expect_refused(path: Path, what: str) -> None:
        for label, loader in loaders:
            try:
                loader(path)
            except CheckpointError as error:
                if "allow_pickle" in str(error):
                    _fail(name, model, f"{label} of {what}: the message suggests allow_pickle: {error}")
                continue
            except Exception as error:
                _fail(name, model, f"{label} of {what} raised {type(error).__name__}, not CheckpointError: "
                                   f"{error!r}")
            _fail(name, model, f"{label} accepted {what}")

    with tempfile.TemporaryDirectory() as directory:
        good = model.save(Path(directory) / "good.npz")
        with np.load(good) as archive:
            contents = {key: archive[key] for key in archive.files}
        for index, (what, tampered) in enumerate(_tampered_checkpoints(contents)):
            path = Path(directory) / f"tampered{index}.npz"
            np.savez(path, **tampered)
            expect_refused(path, f"a checkpoint with {what}")
        data = good.read_bytes()
        files = {
            "a truncated file": data[: len(data) // 2],
            "random bytes": np.random.default_rng(0).bytes(len(data)),
            "an empty file": b"",
        }
        for index, (what, payload) in enumerate(files.items()):
            path = Path(directory) / f"damaged{index}.npz"
            path.write_bytes(payload)
            expect_refused(path, what)
        single = Path(directory) / "weights.npy"
        np.save(single, next(v for k, v in contents.items() if not k.startswith("__")))
        expect_refused(single, "a .npy file")

        # save must refuse what load would refuse, and leave the good file alone.
        state = model._checkpoint_arrays()
        for label, key, value in (("a NaN", "mossy_mean_square", np.nan),
                                  ("a negative mean square", "mossy_mean_square", -1.0)):
            target = state[key]
            original = target.flat[0]
            target.flat[0] = value
            try:
                model.save(good)
            except ValueError:
                pass
            except Exception as error:
                _fail(name, model, f"save of a model with {label} in {key!r} raised "
                                   f"{type(error).__name__}, not ValueError: {error!r}")
            else:
                _fail(name, model, f"save wrote a model with {label} in {key!r}, which load refuses")
            finally:
                target.flat[0] = original
            if good.read_bytes() != data:
                _fail(name, model, f"a refused save (with {label} in {key!r}) changed the existing file")
        # The model itself is still fine to save.
        try:
            load(model.save(good))
        except Exception as error:
            _fail(name, model, f"the restored model no longer saves and loads: {error!r}")


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
    check_huge_inputs,
    check_checkpoint_validation,
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
    "CHECKS", "check_checkpoint_validation", "check_deterministic", "check_huge_inputs", "check_learner",
    "check_learns_linear_system", "check_no_input_mutation", "check_predict_many", "check_predictor",
    "check_rejects_bad_input", "check_save_load", "linear_plant",
]
