"""The held-out ridge equals scikit-learn's StandardScaler + Ridge, fold by fold."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cerebellar.analysis._ridge import held_out_ridge


def data(seed=0, n=240, p=7, q=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.1, 10, p) + rng.uniform(-50, 50, p)  # scales, offsets
    Y = X @ rng.normal(size=(p, q)) + rng.normal(size=(n, q)) * rng.uniform(0.1, 30, q) + 100.0
    return X, Y, np.repeat(np.arange(6), n // 6)


def test_predictions_equal_sklearn_ridge_at_the_chosen_penalties():
    X, Y, groups = data()
    alphas = np.logspace(-3, 4, 8)
    splits = list(LeaveOneGroupOut().split(X, Y, groups))
    predicted, chosen = held_out_ridge(X, Y, groups, alphas, splits)
    assert len(set(chosen.ravel())) > 1  # the noisy outputs got other penalties than the clean ones
    for fold, (train, test) in enumerate(splits):
        reference = make_pipeline(StandardScaler(), Ridge(alpha=chosen[fold])).fit(X[train], Y[train])
        np.testing.assert_allclose(predicted[test], reference.predict(X[test]), rtol=1e-9, atol=1e-9)


def test_the_penalty_minimises_generalised_cross_validation():
    X, Y, groups = data(seed=1, q=1)
    train = groups != 0
    alphas = np.logspace(-3, 4, 8)
    _, chosen = held_out_ridge(X, Y, groups, alphas, [(np.flatnonzero(train), np.flatnonzero(~train))])
    scaled = StandardScaler().fit_transform(X[train])
    n = train.sum()

    def gcv(alpha):
        ridge = Ridge(alpha=alpha).fit(scaled, Y[train, 0])
        residual = ((Y[train, 0] - ridge.predict(scaled).ravel()) ** 2).sum()
        centred = scaled - scaled.mean(0)
        hat = centred @ np.linalg.solve(centred.T @ centred + alpha * np.eye(X.shape[1]), centred.T)
        return residual / (1 - np.trace(hat) / n) ** 2

    assert chosen[0, 0] == alphas[int(np.argmin([gcv(a) for a in alphas]))]


def test_training_sets_must_be_whole_groups():
    X, Y, groups = data()
    with pytest.raises(ValueError, match="union of whole groups"):
        held_out_ridge(X, Y, groups, [1.0], [(np.arange(10), np.arange(10, 20))])
