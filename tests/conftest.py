import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mackey():
    import esnkit as ek

    return ek.datasets.mackey_glass(5200)


@pytest.fixture
def uninstalled(monkeypatch):
    """``uninstalled("matplotlib")``: importing matplotlib or any of its modules fails, as if it were not
    installed, until the test ends (even where an earlier test imported it)."""

    def hide(package: str) -> None:
        for name in [m for m in sys.modules if m.startswith(package + ".")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, package, None)

    return hide


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA device (skipped without one)")
