"""What every reservoir model shares as an ``nn.Module`` with scikit-learn's parameter protocol:
its dtype and device as parameters that follow ``.to()``, the parameters a fitted state depends
on, and writing itself to a model file.

A model subclasses :class:`ReservoirModel`, stores ``dtype``, ``device`` and ``activation`` among its
constructor arguments, and provides ``is_fitted``, ``_require_fitted(what)`` and the ``state_dict``
hooks (``get_extra_state`` with a ``params`` entry from :meth:`_comparable_params`);
:class:`WeightReadoutModel` provides the first two (and the fitted widths) for a model whose readout
is a ``weight_`` buffer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .. import io, params
from ..errors import NotFittedError
from ..params import is_int, torch_dtype
from .estimator import Estimator


def using(what: str) -> str:
    """How a not-fitted error names what was asked: a method call, or reading a fitted attribute."""
    return f"reading {what}" if what.endswith("_") else f"{what}()"


# Written with every saved model; loaders read this version and older ones. 4: scale=True models and NVAR;
# 5: the ESN's online-trainer parameters (forgetting, learning_rate, force_alpha; older files: the defaults),
# and ParallelESN's "groups" layout (each group's own input weights; an older ParallelESN file is refused).
FORMAT_VERSION = 5


class ReservoirModel(Estimator, nn.Module):
    """Base of the reservoir models (:class:`~esnkit.ESN`, :class:`~esnkit.ESNClassifier`,
    :class:`~esnkit.NVAR`, :class:`~esnkit.DeepESN`, :class:`~esnkit.ParallelESN`)."""

    is_fitted: bool

    def _require_fitted(self, what: str) -> Any:  # pragma: no cover - each model says it its own way
        raise NotImplementedError

    @staticmethod
    def _require_steps(name: str, value: Any) -> int:
        """``value`` as a positive step count (generate's n_steps, forecast's horizon)."""
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        return int(value)

    @staticmethod
    def _require_flags(**flags: Any) -> None:
        """Each keyword argument must be a bool (a call's switches: update_state, check_finite...)."""
        for name, v in flags.items():
            if not isinstance(v, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {v!r}")

    def _dtype_device(self) -> tuple[torch.dtype, torch.device]:
        """The dtype and device the parameters ask for: where the next fit builds and runs."""
        return torch_dtype(self.dtype), torch.device(self.device or "cpu")

    def _fitted_tensor(self) -> torch.Tensor | None:
        """A fitted tensor, whose dtype and device the fitted model runs in; None before a fit."""
        return None

    def _run_dtype_device(self) -> tuple[torch.dtype, torch.device]:
        """Where and how precisely the fitted model runs: as its fitted tensors are. A new ``dtype`` or
        ``device`` given by ``set_params`` takes effect at the next fit, as every parameter does
        (``.to(...)`` moves the fitted model itself); before a fit, as the parameters say."""
        t = self._fitted_tensor()
        return (t.dtype, t.device) if t is not None else self._dtype_device()

    def _apply(self, fn, recurse: bool = True):
        # .to(dtype/device), .double(), .cuda()...: the parameters follow the tensors, so the next
        # fit builds its reservoirs where and how the model now is.
        dtype, device = self._dtype_device()
        probe = fn(torch.empty(0, dtype=dtype, device=device))
        if probe.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{type(self).__name__} runs in float32 or float64, not {probe.dtype}: use .float() "
                            "or .double()")
        super()._apply(fn, recurse)
        if probe.dtype != dtype:
            vars(self)["dtype"] = probe.dtype
        if probe.device != device:
            vars(self)["device"] = str(probe.device)
        return self

    def __getattr__(self, name: str) -> Any:
        # A property that raises AttributeError (NotFittedError is one, as scikit-learn's is) makes
        # Python fall back to nn.Module.__getattr__, whose "has no attribute" would hide the message:
        # the property is asked again so that its own error is what the caller sees.
        try:
            return super().__getattr__(name)
        except AttributeError:
            prop = getattr(type(self), name, None)
            if isinstance(prop, property) and prop.fget is not None:
                return prop.fget(self)
            raise

    def __sklearn_is_fitted__(self) -> bool:
        return self.is_fitted

    def _comparable_params(self) -> dict[str, Any]:
        """The parameters a fitted state depends on, as JSON holds them (not where or how precisely
        it runs: ``dtype``, ``device``, ``chunk_size``; a custom activation by name)."""
        fitted = self._fitted_params()
        p = {k: io.jsonable(v) for k, v in fitted.items() if k not in ("dtype", "device", "chunk_size")}
        if "activation" in p and not isinstance(fitted["activation"], str):
            p["activation"] = "custom"
        return p

    def _json_params(self, p: dict[str, Any]) -> dict[str, Any]:
        """``p`` (the constructor's parameters) with what JSON cannot hold named instead (a model's hook)."""
        return p

    def _fitted_params(self) -> dict[str, Any]:
        """The constructor's parameters as the fitted state has them (what a file and a state dict
        describe): the model's :meth:`_json_params`, and the activation its fitted reservoirs run, which
        ``set_params`` may have changed since (the next fit takes the new one)."""
        p = self._json_params(self.get_params(deep=False))
        res = getattr(self, "reservoir_", None)
        if res is None and getattr(self, "reservoirs_", None) is not None:
            res = self.reservoirs_[0]
        if res is not None and "activation" in p:
            p = {**p, "activation": res.activation}
        return p

    def _require_same_params(self, extra: dict[str, Any]) -> None:
        """A fitted state dict loads only into a model of the parameters it was fitted with."""
        saved = extra.get("params")
        if not isinstance(saved, dict):
            return
        mine = self._comparable_params()
        differ = [n for n in mine if n in saved and repr(saved[n]) != repr(mine[n])]
        if differ:
            raise ValueError(f"the state dict is of a model with other {', '.join(differ)} "
                             f"({', '.join(f'{n}={saved[n]!r}' for n in differ)}): build the {type(self).__name__} "
                             "with the same parameters before loading it")

    def set_extra_state(self, state: Any) -> None:
        pass  # applied by load_state_dict, which needs it before the tensors are copied

    def save(self, path) -> None:
        """Write the fitted model to ``path``: safetensors tensors plus a JSON config, no pickle;
        :func:`esnkit.load` reads it back.

        A model with a custom activation callable saves its name only; pass the callable again to
        :func:`esnkit.load`. The file is written to a temporary name and moved into place."""
        self._require_fitted("save")
        fitted = self._fitted_params()
        p = {k: io.jsonable(v) for k, v in fitted.items()}
        act = fitted.get("activation", "")  # a model without an activation (an NVAR) saves none
        if "activation" in p:
            p["activation"] = act if isinstance(act, str) else "custom"
        state = self.state_dict()
        p["dtype"] = params.dtype_name(self._run_dtype_device()[0])  # the fitted tensors', whatever set_params said
        p["device"] = None
        extra = state.pop("_extra_state")
        config = {"model": type(self).__name__, "format_version": FORMAT_VERSION, "params": p, "extra": extra,
                  "custom_activation": None if isinstance(act, str) else getattr(act, "__qualname__", repr(act))}
        io.write(path, state, config)


class WeightReadoutModel(ReservoirModel):
    """A reservoir model whose fitted readout is the buffer ``weight_`` (D_out, F) and whose fitted
    widths are ``_sizes = (D_in, D_out)`` (:class:`~esnkit.NVAR`, :class:`~esnkit.DeepESN`)."""

    @property
    def is_fitted(self) -> bool:
        return self.weight_ is not None

    def _fitted_tensor(self) -> torch.Tensor | None:
        return self.weight_

    def _require_fitted(self, what: str) -> torch.Tensor:
        if self.weight_ is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(inputs, targets) before "
                                 f"{using(what)}")
        return self.weight_

    @property
    def input_size_(self) -> int:
        """Input features the model was fitted on."""
        self._require_fitted("input_size_")
        return self._sizes[0]

    @property
    def output_size_(self) -> int:
        """Outputs the model was fitted on."""
        return self._require_fitted("output_size_").shape[0]
