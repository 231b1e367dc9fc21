"""Ridge regression held out by group, for many outputs at once, from per-group sums.

What :func:`held_out_ridge` computes is exactly what
``make_pipeline(StandardScaler(), Ridge(alpha=alphas_per_output))`` fitted on
all groups but one and applied to the one left out gives (a test holds the two
equal); it is computed from each group's sums of products, so the data are
multiplied once whatever the number of folds, and the penalty of every output
is chosen among ``alphas`` by generalised cross-validation (Golub, Heath &
Wahba 1979) on the training groups, which the eigenbasis of the training
covariance gives for every penalty at once. The lagged reconstruction fits
thousands of outputs (cells x leads) per fold; scikit-learn's ``RidgeCV``
(exact leave-one-out) cost minutes per session there.
"""

from __future__ import annotations

import numpy as np


def held_out_ridge(X: np.ndarray, Y: np.ndarray, groups: np.ndarray, alphas,
                   splits) -> tuple[np.ndarray, np.ndarray]:
    """Predict each test set of ``splits`` by a standardised ridge fitted on its training set.

    Parameters
    ----------
    X : numpy.ndarray, (samples, features)
    Y : numpy.ndarray, (samples, outputs)
    groups : numpy.ndarray, (samples,)
        The group of each sample; every training and test set is a union of groups.
    alphas : sequence of float
        Penalties to choose from, per output and fold (on standardised features,
        as scikit-learn's ``Ridge`` applies them).
    splits : iterable of (train, test) index arrays
        E.g. ``LeaveOneGroupOut().split(X, Y, groups)``.

    Returns
    -------
    predicted : numpy.ndarray, (samples, outputs)
        Out-of-fold predictions (samples in no test set stay 0).
    chosen : numpy.ndarray, (folds, outputs)
        The penalty chosen for each output in each fold.
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    # Shift by the overall means first: sums of products of centred data lose no precision.
    X = X - X.mean(axis=0)
    offset = Y.mean(axis=0)
    Y = Y - offset
    labels, index = np.unique(groups, return_inverse=True)
    stats = []
    for g in range(len(labels)):
        rows = index == g
        Xg, Yg = X[rows], Y[rows]
        stats.append((rows.sum(), Xg.sum(0), Yg.sum(0), Xg.T @ Xg, Xg.T @ Yg, (Yg * Yg).sum(0)))
    predicted = np.zeros_like(Y)  # filled fold by fold, in the caller's units
    chosen = []
    for train, test in splits:
        members = np.unique(index[train])
        if not np.array_equal(np.sort(np.concatenate([np.flatnonzero(index == g) for g in members])),
                              np.sort(train)):
            raise ValueError("every training set must be a union of whole groups")
        n, sx, sy, xx, xy, yy = (sum(stats[g][k] for g in members) for k in range(6))
        mean_x, mean_y = sx / n, sy / n
        gram = xx - n * np.outer(mean_x, mean_x)
        cross = xy - n * np.outer(mean_x, mean_y)
        total = yy - n * mean_y * mean_y
        scale = np.sqrt(np.clip(np.diag(gram), 0.0, None) / n)
        scale[scale == 0.0] = 1.0  # StandardScaler leaves a constant feature unscaled
        gram = gram / np.outer(scale, scale)
        cross = cross / scale[:, None]
        eigenvalues, eigenvectors = np.linalg.eigh(gram)
        eigenvalues = np.clip(eigenvalues, 0.0, None)
        projected = eigenvectors.T @ cross  # (features, outputs)
        squared = projected * projected
        # For each penalty: residual sum of squares and effective degrees of freedom.
        shrink = 1.0 / (eigenvalues[None, :] + alphas[:, None])  # (alphas, features)
        explained = (2 * shrink - eigenvalues[None, :] * shrink ** 2) @ squared  # (alphas, outputs)
        residual = np.clip(total[None, :] - explained, 0.0, None)
        dof = (eigenvalues[None, :] * shrink).sum(axis=1)  # (alphas,)
        gcv = residual / np.clip(1.0 - dof / n, 1e-12, None)[:, None] ** 2
        best = np.argmin(gcv, axis=0)
        chosen.append(alphas[best])
        weights = eigenvectors @ (projected * shrink[best].T)  # (features, outputs)
        predicted[test] = ((X[test] - mean_x) / scale) @ weights + mean_y + offset
    return predicted, np.array(chosen)
