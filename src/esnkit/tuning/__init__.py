"""Hyper-parameter search: Optuna proposes, ensembles evaluate, the ridge path picks λ, Dask distributes.

Imported on first use of ``esnkit.search``: it needs the ``search`` extra (optuna, dask).
"""

from ..errors import SearchCapWarning, SearchError
from .driver import SearchResult, search
from .space import SearchSpace, load_space, make_space

__all__ = ["SearchCapWarning", "SearchError", "SearchResult", "SearchSpace", "load_space", "make_space", "search"]
