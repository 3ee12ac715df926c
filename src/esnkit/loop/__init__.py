"""The one time loop behind every mode (teacher-forced harvest, driven prediction, free run) and its
executors: the native C kernel, CUDA graphs and eager PyTorch.

This layer knows the reservoir and nothing above it: no readout class, no estimator.
"""

from . import native
from .native import NativeKernelWarning
from .unroll import BACKENDS, Unrolled, unroll, use_backend

__all__ = ["BACKENDS", "NativeKernelWarning", "Unrolled", "native", "unroll", "use_backend"]
