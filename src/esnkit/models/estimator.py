"""scikit-learn's estimator protocol for torch models, without importing scikit-learn.

:class:`Estimator` gives a model whose constructor takes its hyper-parameters as keyword arguments
``get_params``, ``set_params``, ``clone``, an R² ``score`` and scikit-learn's regressor tags, so
``sklearn.base.clone``, ``cross_val_score`` and ``GridSearchCV`` accept it. scikit-learn is imported
only by ``__sklearn_tags__``, which only scikit-learn calls.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import numpy as np
import torch
from torch import nn

from ..metrics import _r2_score


@functools.cache
def _param_names(cls: type) -> tuple[str, ...]:
    """The names of the keyword arguments of ``cls.__init__``, in signature order."""
    names = []
    for name, p in list(inspect.signature(cls.__init__).parameters.items())[1:]:  # after self
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{cls.__name__}.__init__ takes *args or **kwargs: its parameters cannot be listed")
        names.append(name)
    return tuple(names)


def _pooled(sequences: list[Any]) -> np.ndarray:
    """Sequences of different lengths, one after another in time: ``(total time, features)``."""
    arrays = [s.detach().cpu().numpy() if isinstance(s, torch.Tensor) else np.asarray(s) for s in sequences]
    return np.concatenate([a.reshape(len(a), -1) for a in arrays])


class Estimator:
    """Mixin: scikit-learn's parameter protocol and regressor interface for a torch model.

    The model's constructor must take every hyper-parameter as a named argument (no ``*args`` or
    ``**kwargs``) and store it unchanged under the same name; a ``_check_params()`` method, if the
    model has one, validates them all. The model provides ``predict(inputs, *, update_state=...)``.
    """

    _estimator_type = "regressor"  # scikit-learn < 1.6 reads this instead of the tags

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, as set. With ``deep``, also those of any argument that is itself
        an estimator, as ``name__parameter`` (scikit-learn's convention)."""
        params = {name: getattr(self, name) for name in _param_names(type(self))}
        if deep:
            for name, value in list(params.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    params.update((f"{name}__{k}", v) for k, v in value.get_params(deep=True).items())
        return params

    def set_params(self, **params: Any) -> Estimator:
        """Change constructor arguments (``name__parameter`` reaches into an estimator argument).

        The new values are validated together; if they are invalid, the old ones are put back and
        the error is raised. A fitted model keeps its fitted weights until the next ``fit``.
        Returns ``self``.
        """
        valid = _param_names(type(self))
        own, nested = {}, {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; valid parameters: {', '.join(valid)}"
                )
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                own[name] = value
        old = {name: getattr(self, name) for name in own}
        # An estimator argument replaced in the same call receives its nested values.
        old_nested = {name: getattr(self, name).get_params(deep=False) for name in nested if name not in own}
        try:
            for name, value in own.items():
                self._store_param(name, value)
            for name, values in nested.items():
                getattr(self, name).set_params(**values)
            check = getattr(self, "_check_params", None)
            if check is not None:
                check()
        except BaseException:
            for name, values in old_nested.items():
                getattr(self, name).set_params(**values)
            for name, value in old.items():
                self._store_param(name, value)
            raise
        return self

    def _store_param(self, name: str, value: Any) -> None:
        """Store a constructor argument as the constructor does: a module is registered as a child
        module; anything else goes straight into the instance dict (replacing a module of that name)."""
        if isinstance(value, nn.Module):
            setattr(self, name, value)
            return
        modules = vars(self).get("_modules")
        if modules is not None:
            modules.pop(name, None)
        vars(self)[name] = value

    def clone(self, **overrides: Any) -> Any:
        """A new, unfitted model with the same constructor arguments (and ``overrides``)."""
        return type(self)(**{**self.get_params(deep=False), **overrides})

    def score(self, inputs: Any, targets: Any) -> float:
        """R² of ``predict(inputs)`` against ``targets``, averaged over outputs (see
        :func:`esnkit.metrics.r2_score`); sequences of a batch or list are pooled.

        Prediction starts where the model's carried state is (for an ESN: where the training series
        ended) and does not move that state.
        """
        predicted = self.predict(inputs, update_state=False)
        if isinstance(predicted, list):
            if not isinstance(targets, (list, tuple)) or len(targets) != len(predicted):
                got = f"a list of {len(targets)}" if isinstance(targets, (list, tuple)) else type(targets).__name__
                raise ValueError(f"inputs is a list of {len(predicted)} sequences, so targets must be a list of as "
                                 f"many, got {got}")
            for i, (p, t) in enumerate(zip(predicted, targets)):
                steps = len(t) if hasattr(t, "__len__") else "no"
                if steps != len(p):
                    raise ValueError(f"targets[{i}] has {steps} time steps but inputs[{i}] has {len(p)}; "
                                     "they must match")
            predicted, targets = _pooled(predicted), _pooled(targets)
        return _r2_score(targets, predicted, names=("targets", "predict(inputs)"))

    def __sklearn_tags__(self):
        from sklearn.utils import InputTags, RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type="regressor",
            target_tags=TargetTags(required=True, multi_output=True, single_output=True),
            regressor_tags=RegressorTags(),
            input_tags=InputTags(one_d_array=True, two_d_array=True, three_d_array=True, allow_nan=False),
        )
