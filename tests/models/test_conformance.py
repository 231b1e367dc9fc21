"""Every registered learner passes every conformance check, and each check catches what it is for."""

import numpy as np
import pytest

from cerebellar.models import MODEL_NAMES, NLMS, make_model
from cerebellar.models.conformance import (
    CHECKS,
    check_checkpoint_validation,
    check_deterministic,
    check_huge_inputs,
    check_learner,
    check_learns_linear_system,
    check_no_input_mutation,
    check_predict_many,
    check_predictor,
    check_rejects_bad_input,
    check_save_load,
    linear_plant,
)

LEARNERS = ("rls", "nlms", "cerebellum-cmac", "cerebellum-random", "cerebellum-smooth")


def factory(name):
    return lambda seed: make_model(name, seed=seed)


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("name", LEARNERS)
def test_learner_passes_check(name, check):
    check(factory(name))


def test_every_registered_model_name_is_covered():
    # "cerebellum" is an alias of "cerebellum-cmac"; any new name must join LEARNERS.
    assert set(MODEL_NAMES) - {"cerebellum"} == set(LEARNERS)
    assert make_model("cerebellum").get_params() == make_model("cerebellum-cmac").get_params()


def test_check_learner_runs_every_check(monkeypatch):
    import cerebellar.models.conformance as conformance

    called = []
    fake = tuple(
        (lambda make, check=check: called.append((check.__name__, type(make(0)).__name__)))
        for check in CHECKS
    )
    monkeypatch.setattr(conformance, "CHECKS", fake)
    conformance.check_learner(factory("rls"))
    assert called == [(check.__name__, "RLS") for check in CHECKS]


def test_check_learner_passes_on_a_real_learner():
    check_learner(factory("rls"))


def test_test_plant_is_stable_with_spectral_radius_0_9():
    a, b = linear_plant()
    assert a.shape == (4, 4) and b.shape == (4, 1)
    assert np.max(np.abs(np.linalg.eigvals(a))) == pytest.approx(0.9, abs=1e-12)


# -- each check must be able to fail ------------------------------------------------------
# Small deliberately broken learners, one per check, built on NLMS (which passes them all).


class NoisyNLMS(NLMS):
    """Uses unseeded randomness: two models with one seed drift apart."""

    def _learn_encoded(self, z, target):
        error = super()._learn_encoded(z, target)
        self.weights_ += 1e-9 * np.random.default_rng().standard_normal(self.weights_.shape)
        return error


class PredictSideEffectNLMS(NLMS):
    """Learns a little inside predict, so predicting changes what it learns next."""

    def _predict_encoded(self, z):
        self.weights_ *= 1.0 - 1e-12
        return super()._predict_encoded(z)


class ClippingNLMS(NLMS):
    """Clips the caller's state in place: a classic aliasing bug."""

    def predict(self, state, command):
        if isinstance(state, np.ndarray):
            np.clip(state, -1.0, 1.0, out=state)
        return super().predict(state, command)


class AliasingNLMS(NLMS):
    """Keeps the error it returns and feeds it back into predictions, so the caller can write into it."""

    def _learn_encoded(self, z, target):
        self.last_error_ = super()._learn_encoded(z, target)
        return self.last_error_

    def _predict_encoded(self, z):
        correction = getattr(self, "last_error_", 0.0)
        return super()._predict_encoded(z) + 0.1 * correction


class BiaslessBatchNLMS(NLMS):
    """Forgets the bias fibre in predict_many only."""

    def _predict_encoded_many(self, z):
        return z[:, :-1] @ self.weights_[:, :-1].T


class NanTolerantNLMS(NLMS):
    """Silently replaces non-finite inputs by numbers instead of rejecting them."""

    def predict(self, state, command):
        return super().predict(np.nan_to_num(state), np.nan_to_num(command))

    def learn(self, state, command, next_state):
        return super().learn(np.nan_to_num(state), np.nan_to_num(command), np.nan_to_num(next_state))


class VagueErrorNLMS(NLMS):
    """Rejects bad input, but with a message that does not say which argument."""

    def learn(self, state, command, next_state):
        if not np.all(np.isfinite(np.concatenate([np.ravel(state), np.ravel(command),
                                                  np.ravel(next_state)]))):
            raise ValueError("bad input")
        return super().learn(state, command, next_state)


@pytest.mark.parametrize(
    ("check", "make", "message"),
    [
        (check_deterministic, lambda seed: NoisyNLMS(seed=seed), "learn returned different errors"),
        (check_deterministic, lambda seed: PredictSideEffectNLMS(seed=seed), "side effect"),
        (check_no_input_mutation, lambda seed: ClippingNLMS(seed=seed), "changed the caller's state"),
        (check_no_input_mutation, lambda seed: AliasingNLMS(seed=seed), "writing into a returned"),
        (check_predict_many, lambda seed: BiaslessBatchNLMS(seed=seed), "predict_many differs"),
        (check_rejects_bad_input, lambda seed: NanTolerantNLMS(seed=seed), "accepted without error"),
        (check_rejects_bad_input, lambda seed: VagueErrorNLMS(seed=seed), "does not name 'state'"),
        # A legitimate learner with a rate far too small to learn in 500 steps.
        (check_learns_linear_system, lambda seed: NLMS(rate=1e-3, seed=seed), "at least 100"),
    ],
    ids=[
        "unseeded-randomness", "predict-side-effect", "mutates-input", "returns-internal-buffer",
        "batch-disagrees", "accepts-nan", "vague-error",
        "does-not-learn",
    ],
)
def test_check_catches_broken_learner(check, make, message):
    with pytest.raises(AssertionError, match=message):
        check(make)


def test_check_learner_names_the_failing_check_and_model():
    with pytest.raises(AssertionError, match=r"^check_learns_linear_system failed for NLMS\(rate=0\.001"):
        check_learner(lambda seed: NLMS(rate=1e-3, seed=seed))


class StalePredictorNLMS(NLMS):
    """Its predictor forgets the bias fibre, as a hand-optimised fast path might."""

    def _predictor(self, state, scaled_state, command_inverse_scale):
        n_state = scaled_state.shape[0]
        weights = self.weights_

        def predict_command(command):
            return state + weights[:, :n_state] @ scaled_state + weights[:, n_state:-1] @ (
                command * command_inverse_scale)

        return predict_command


def test_check_predictor_catches_a_wrong_fast_path():
    with pytest.raises(AssertionError, match=r"predictor\(state\)\(command\) = .* but predict"):
        check_predictor(lambda seed: StalePredictorNLMS(seed=seed))


# Save/load is checked through cerebellar.models.load too, which only knows registered
# classes, so these break the registered NLMS itself for the duration of one test.


def test_check_save_load_catches_lossy_save(monkeypatch):
    monkeypatch.setattr(NLMS, "_state_arrays", lambda self: {"weights": self.weights_.astype(np.float32)})
    with pytest.raises(AssertionError, match="different predictions from the saved trained model"):
        check_save_load(factory("nlms"))


def test_check_save_load_catches_state_lost_on_load(monkeypatch):
    original = NLMS._set_state_arrays

    def forget_scale(self, arrays):
        original(self, arrays)
        self.mossy_.set_state_arrays({"mossy_mean_square": np.ones(self.mossy_.mean_square_.shape),
                                      "mossy_count": np.array(1)})

    monkeypatch.setattr(NLMS, "_set_state_arrays", forget_scale)
    with pytest.raises(AssertionError, match="different predictions from the saved trained model"):
        check_save_load(factory("nlms"))


def test_check_save_load_catches_learning_that_diverges_after_load(monkeypatch):
    # Everything but the running count of the scale estimate survives: predictions right
    # after loading agree, but the next observations move the scale differently.
    original = NLMS._set_state_arrays

    def reset_count(self, arrays):
        original(self, arrays)
        self.mossy_.count_ = 1

    monkeypatch.setattr(NLMS, "_set_state_arrays", reset_count)
    with pytest.raises(AssertionError, match=r"learning step \d+ returned a different error"):
        check_save_load(factory("nlms"))


# -- the checks for bad input, huge values and checkpoints can fail too -------------------


def _lenient(value):
    # What numpy would do: a complex number loses its imaginary part, "1.0" becomes 1.0.
    return np.real(np.asarray(value, dtype=np.complex128))


class LenientNLMS(NLMS):
    """Turns complex numbers and numeric strings into floats instead of refusing them."""

    def predict(self, state, command):
        return super().predict(_lenient(state), _lenient(command))

    def learn(self, state, command, next_state):
        return super().learn(_lenient(state), _lenient(command), _lenient(next_state))


class EagerSizingNLMS(NLMS):
    """Sizes itself from the first arguments it sees, even ones it then refuses."""

    def learn(self, state, command, next_state):
        if not self.is_initialised and np.ndim(state) == 1 and np.ndim(command) == 1:
            self.initialise(max(len(state), 1), max(len(command), 1))
        return super().learn(state, command, next_state)


class NanOnHugeInputNLMS(NLMS):
    """Silently fills its weights with NaN on a huge input, as the models did before the fix."""

    def _learn_encoded(self, z, target):
        error = super()._learn_encoded(z, target)
        if np.max(np.abs(z)) > 1e50:
            self.weights_ = self.weights_ * np.nan
        return error


class LearnsThenRefusesNLMS(NLMS):
    """Refuses a huge input only after learning from it: the error leaves a changed model."""

    def learn(self, state, command, next_state):
        error = super().learn(state, command, next_state)
        if max(np.max(np.abs(np.asarray(v, dtype=float))) for v in (state, command, next_state)) > 1e50:
            raise ValueError("state, command or next_state is too large")
        return error


@pytest.mark.parametrize(
    ("check", "make", "message"),
    [
        (check_rejects_bad_input, lambda seed: LenientNLMS(seed=seed), "complex values.*accepted without"),
        (check_rejects_bad_input, lambda seed: EagerSizingNLMS(seed=seed), "sized it: it must stay blank"),
        (check_huge_inputs, lambda seed: NanOnHugeInputNLMS(seed=seed), "left non-finite values in"),
        (check_huge_inputs, lambda seed: LearnsThenRefusesNLMS(seed=seed), "raised ValueError but changed"),
    ],
    ids=["accepts-complex", "sized-by-rejected-call", "nan-on-huge-input", "learns-then-refuses"],
)
def test_new_checks_catch_broken_learners(check, make, message):
    with pytest.raises(AssertionError, match=message):
        check(make)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # sqrt of the negative mean square
def test_check_checkpoint_validation_catches_a_load_that_skips_range_checks(monkeypatch):
    monkeypatch.setattr(NLMS, "_check_state_values", lambda self, arrays: None)
    with pytest.raises(AssertionError, match="accepted a checkpoint with"):
        check_checkpoint_validation(factory("nlms"))


def test_check_checkpoint_validation_catches_a_save_that_writes_bad_state(monkeypatch):
    from cerebellar._io import save_checkpoint

    def unchecked_save(self, path):
        return save_checkpoint(path, type(self).__name__, self.get_params(), self._checkpoint_arrays())

    monkeypatch.setattr(NLMS, "save", unchecked_save)
    with pytest.raises(AssertionError, match="save wrote a model with a NaN"):
        check_checkpoint_validation(factory("nlms"))

