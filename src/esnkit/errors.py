"""Exceptions esnkit raises beyond ValueError/TypeError."""


class NotFittedError(ValueError, AttributeError):
    """The model was used before ``fit``."""


class NonFiniteStateError(FloatingPointError):
    """Reservoir states, fed-back outputs or the readout's normal equations became NaN or Inf."""
