"""Exceptions esnkit raises beyond ValueError/TypeError, and the import of optional dependencies."""

from __future__ import annotations

import importlib
from types import ModuleType


class NotFittedError(ValueError, AttributeError):
    """The model was used before ``fit``."""


class NonFiniteStateError(FloatingPointError):
    """Reservoir states, fed-back outputs or the readout's normal equations became NaN or Inf."""


class EsnkitWarning(UserWarning):
    """Base of esnkit's warnings: ``warnings.simplefilter("ignore", esnkit.EsnkitWarning)`` silences them
    all. Each says the number that triggered it and what to do."""


class OutputRangeWarning(EsnkitWarning):
    """A prediction left the range the model was trained on by far (see docs/reliability.md): the
    run is probably diverging. The step, the output and the value are in the message."""


class SearchError(RuntimeError):
    """The search could not run (an unreachable scheduler, a space that does not fit the data...)."""


class SearchCapWarning(EsnkitWarning):
    """The best trials reached the objective's ceiling (a valid prediction time as long as the horizon)."""


class UnderdeterminedFitWarning(EsnkitWarning):
    """A readout was fitted on fewer training rows than it has features: it can fit them exactly, and
    only the ridge decides what it does elsewhere."""


class SaturationWarning(EsnkitWarning):
    """Most reservoir neurons sat near the activation's limits (tanh near ±1) through the training
    data, where their states no longer follow the inputs."""


class ShortWashoutWarning(EsnkitWarning):
    """The washout is shorter than the reservoir's memory of its zero start, on data short enough for
    those transient rows to weigh in the fit."""


class SearchBoundaryWarning(EsnkitWarning):
    """The best value of a searched parameter (or of the ridge) lies at the edge of its range: the
    optimum may lie beyond it."""


class MissingExtraError(ModuleNotFoundError):
    """An optional dependency is not installed; the message names the esnkit extra that installs it."""


def import_extra(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` of an optional dependency, or raise :class:`MissingExtraError` saying that
    ``purpose`` needs it and that ``pip install "esnkit[extra]"`` installs it.

    Only the absence of that package is translated: an error raised while importing it (a broken
    installation) propagates as it is.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if not missing or not (module == missing or module.startswith(missing + ".")):
            raise
        raise MissingExtraError(
            f"{purpose} needs {missing}, which is not installed: pip install \"esnkit[{extra}]\"", name=missing
        ) from None
