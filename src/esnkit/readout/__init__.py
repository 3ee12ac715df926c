"""The readout layer: feature maps (states and inputs -> features), trainers (streaming statistics ->
weights), the closed-form solvers and the ridge path, and the linear readout module.

It knows tensors only: no reservoir, no time loop, no estimator.
"""

from .classification import (
    ClassifierFit,
    Standardization,
    fit_temperature,
    leave_one_out,
    left_out,
    leverages,
    log_loss,
    softmax,
    solve_classifier,
)
from .features import (
    FEATURE_MAPS,
    FeatureBuffer,
    FeatureMap,
    StateInputs,
    feature_size,
    features,
    kept_rows,
    squared_states,
)
from .linalg import LAPACK_EIGH_FROM, SOLVERS, Solver, eigh, gram, solve_lstsq, solve_normal_equations
from .linear import Readout
from .nvar_features import DelayMonomials, monomial_count
from .online import FORCE, LMS, RLS
from .pooling import INPUT_SUMMARIES, POOLS, Pooling, PoolingRun, parse_input_summary, parse_pools
from .ridge_path import RidgePath, block_folds, cheaper_method, kfold_sse, resolution_floor, ridge_grid
from .trainers import Lstsq, NormalEquations, Ridge, Trainer, TrainerFit

__all__ = [
    "INPUT_SUMMARIES",
    "POOLS",
    "Pooling",
    "PoolingRun",
    "fit_temperature",
    "leave_one_out",
    "left_out",
    "log_loss",
    "parse_input_summary",
    "parse_pools",
    "softmax",
    "solve_classifier",
    "leverages",
    "ClassifierFit",
    "Standardization",
    "LAPACK_EIGH_FROM",
    "SOLVERS",
    "DelayMonomials",
    "FeatureBuffer",
    "FeatureMap",
    "FORCE",
    "LMS",
    "Lstsq",
    "NormalEquations",
    "RLS",
    "Readout",
    "Ridge",
    "RidgePath",
    "StateInputs",
    "FEATURE_MAPS",
    "squared_states",
    "Trainer",
    "TrainerFit",
    "Solver",
    "block_folds",
    "cheaper_method",
    "eigh",
    "feature_size",
    "features",
    "gram",
    "kept_rows",
    "kfold_sse",
    "monomial_count",
    "resolution_floor",
    "ridge_grid",
    "solve_lstsq",
    "solve_normal_equations",
]
