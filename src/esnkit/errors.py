"""Exceptions esnkit raises beyond ValueError/TypeError."""


class NotFittedError(ValueError, AttributeError):
    """The model was used before ``fit``."""


class NonFiniteStateError(FloatingPointError):
    """Reservoir states, fed-back outputs or the readout's normal equations became NaN or Inf."""


class SearchError(RuntimeError):
    """The search could not run (an unreachable scheduler, a space that does not fit the data...)."""


class SearchCapWarning(UserWarning):
    """The best trials reached the objective's ceiling (a valid prediction time as long as the horizon)."""
