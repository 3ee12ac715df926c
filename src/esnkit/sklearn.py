"""scikit-learn wrappers: :class:`ESNRegressor`, an Echo State Network as a scikit-learn regressor,
and :class:`ESNClassifier`, a reservoir sequence classifier as a scikit-learn classifier.

Imported on first use (``esnkit.sklearn``), so ``import esnkit`` does not load scikit-learn.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from .errors import import_extra
from .models import ESN
from .models import ESNClassifier as _SequenceClassifier

_base = import_extra("sklearn.base", "sklearn", "esnkit.sklearn")
_validation = import_extra("sklearn.utils.validation", "sklearn", "esnkit.sklearn")
BaseEstimator, RegressorMixin, check_is_fitted = _base.BaseEstimator, _base.RegressorMixin, _validation.check_is_fitted
ClassifierMixin = _base.ClassifierMixin
check_classification_targets = import_extra("sklearn.utils.multiclass", "sklearn",
                                            "esnkit.sklearn").check_classification_targets
if hasattr(_validation, "validate_data"):
    validate_data = _validation.validate_data
else:  # scikit-learn < 1.6

    def validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

# Checks of scikit-learn's suite that no model which runs through time can pass; the tests hand this
# same dict to the suite, and the class docstring repeats it.
EXPECTED_FAILED_CHECKS = {
    "check_methods_sample_order_invariance": (
        "predict runs the reservoir through the rows in order, so each prediction depends on the rows "
        "before it: shuffling the rows changes the predictions, not just their order"
    ),
    "check_methods_subset_invariance": (
        "predict starts every call from the state where the training series ended, so a block predicted "
        "on its own differs from the same rows predicted after the rows that precede them"
    ),
}




_SIGNATURE = inspect.signature(ESN.__init__)  # one parameter list: ESN's


class ESNRegressor(RegressorMixin, BaseEstimator):
    """An Echo State Network (:class:`esnkit.ESN`) as a scikit-learn regressor.

    **The rows of** ``X`` **and** ``y`` **are the time steps of one series, in time order**, not
    independent samples: ``X`` (n_samples, n_features) drives the reservoir step by step and ``y``
    (n_samples,) or (n_samples, n_outputs) is the target at each step. Cross-validate with
    ``TimeSeriesSplit``, whose test block follows its training block. Shuffling splitters
    (``KFold(shuffle=True)``, ``ShuffleSplit``) break the series, and the default ``cv=5`` (unshuffled
    ``KFold``) trains on the rows before and after the test block joined as if they were one series.

    Parameters: exactly those of :class:`esnkit.ESN` (``reservoir_size``, ``spectral_radius``, …,
    ``washout``, ``seed``, ``dtype``, ``device``), with the same defaults (the reservoir and readout
    run in float64 unless ``dtype="float32"``). Set
    ``seed`` for reproducible fits; ``washout`` steps at the start of ``X`` are left out of the fit.

    ``fit(X, y)`` trains ``esn_ = ESN(**params)`` on the series. ``predict(X)`` continues from the
    state where the training series ended, so a block that follows the training block in time (as in
    ``TimeSeriesSplit``) is predicted with a warm reservoir; the stored state never moves, so every
    ``predict`` call starts from the same state. Returns (n_samples,) when ``y`` was 1-D.

    Fitted attributes: ``esn_``, ``n_features_in_``, ``feature_names_in_`` (when ``X`` has column names).

    Checks of ``sklearn.utils.estimator_checks`` that it fails by design
    (``ESNRegressor._expected_failed_checks``):

    - ``check_methods_sample_order_invariance``: predict runs the reservoir through the rows in order,
      so each prediction depends on the rows before it: shuffling the rows changes the predictions,
      not just their order.
    - ``check_methods_subset_invariance``: predict starts every call from the state where the training
      series ended, so a block predicted on its own differs from the same rows predicted after the
      rows that precede them.
    """

    _expected_failed_checks = EXPECTED_FAILED_CHECKS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        bound = _SIGNATURE.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = _SIGNATURE  # what scikit-learn's get_params and clone read

    def fit(self, X: Any, y: Any) -> ESNRegressor:
        """Fit the ESN on the series ``X`` (n_samples, n_features) → ``y`` (n_samples[, n_outputs])."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32])
        esn = ESN(**self.get_params(deep=False))  # validates the parameters
        if X.shape[0] <= esn.washout:
            raise ValueError(
                f"{type(self).__name__} got n_samples={X.shape[0]} time steps, not more than "
                f"washout={esn.washout}: nothing is left to fit on; pass a longer series or a smaller washout"
            )
        self.esn_ = esn.fit(X, y)
        self._one_d_y = y.ndim == 1
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predict the series ``X`` (n_samples, n_features), continuing from the end of the training series."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        y = self.esn_.predict(X, update_state=False)
        return y[:, 0] if self._one_d_y else y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self) -> dict[str, Any]:  # the tags of scikit-learn < 1.6
        return {"multioutput": True, "_xfail_checks": EXPECTED_FAILED_CHECKS}


_CLASSIFIER_SIGNATURE = inspect.signature(_SequenceClassifier.__init__)


class ESNClassifier(ClassifierMixin, BaseEstimator):
    """A reservoir sequence classifier (:class:`esnkit.ESNClassifier`) as a scikit-learn classifier.

    **Each row of** ``X`` **is one sequence**: ``X`` (n_samples, n_steps) holds univariate sequences,
    ``X`` (n_samples, n_steps, n_features) multivariate ones (esnkit's (batch, time, features)
    layout), all of the same length; ``y`` (n_samples,) holds one label per sequence. The rows are
    independent samples, so every splitter (``StratifiedKFold``, ``ShuffleSplit``...) applies. For
    sequences of different lengths use :class:`esnkit.ESNClassifier` itself, which takes a list.

    Parameters: exactly those of :class:`esnkit.ESNClassifier`, with the same defaults.

    Fitted attributes: ``classifier_`` (the :class:`esnkit.ESNClassifier`), ``classes_``,
    ``n_features_in_`` (the number of steps per sequence).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        bound = _CLASSIFIER_SIGNATURE.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = _CLASSIFIER_SIGNATURE

    def fit(self, X: Any, y: Any) -> ESNClassifier:
        """Fit on sequences ``X`` (n_samples, n_steps[, n_features]) and labels ``y`` (n_samples,)."""
        X, y = validate_data(self, X, y, allow_nd=True, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        clf = _SequenceClassifier(**self.get_params(deep=False))  # validates the parameters
        self.classifier_ = clf.fit(X, y)
        self.classes_ = clf.classes_
        return self

    def _check(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, reset=False, allow_nd=True, dtype=[np.float64, np.float32])

    def decision_function(self, X: Any) -> np.ndarray:
        """Decision values (n_samples, n_classes), or (n_samples,) for two classes."""
        X = self._check(X)
        return self.classifier_.decision_function(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), calibrated as :class:`esnkit.ESNClassifier` says."""
        X = self._check(X)
        return self.classifier_.predict_proba(X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The logarithms of :meth:`predict_proba`."""
        X = self._check(X)
        return self.classifier_.predict_log_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """The class of every sequence."""
        X = self._check(X)
        return self.classifier_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
