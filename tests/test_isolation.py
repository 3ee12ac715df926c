"""esnkit leaves other libraries' global settings as it found them, imports its optional dependencies
only when they are used, and says which extra to install when one is missing."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import esnkit as ek
from esnkit.errors import MissingExtraError, import_extra

OPTIONAL = ("optuna", "dask", "distributed", "matplotlib", "sklearn", "scipy.integrate", "cmaes")


def run_python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter that imports this esnkit; returns its stdout."""
    src = os.path.dirname(os.path.dirname(ek.__file__))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]), **env}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_esnkit_imports_no_optional_dependency_nor_torch():
    out = run_python(f"""
        import sys
        import esnkit
        print([m for m in {OPTIONAL + ("torch",)!r} if m in sys.modules])
    """)
    assert out.strip() == "[]"


def test_the_core_imports_no_optional_dependency(tmp_path):
    out = run_python(f"""
        import sys
        import esnkit as ek
        data = ek.datasets.mackey_glass(700) + ek.datasets.sine(700)
        esn = ek.ESN(50, washout=50, seed=0).fit(data[:500], data[1:501])
        ek.metrics.nrmse(data[501:601], esn.generate(100))
        esn.save({str(tmp_path / "m.esnkit")!r}); ek.load({str(tmp_path / "m.esnkit")!r})
        print([m for m in {OPTIONAL!r} if m in sys.modules])
    """)
    assert out.strip() == "[]"


def test_every_lazy_name_resolves():
    missing_modules = [m for m, _ in ek._LAZY.values() if not _module_exists(m)]
    assert missing_modules in ([], ["esnkit.sklearn"])  # the scikit-learn wrappers may not exist yet
    for name, (module, _) in ek._LAZY.items():
        if module not in missing_modules:
            assert getattr(ek, name) is not None
    assert set(ek._LAZY) <= set(dir(ek))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ek.nope  # noqa: B018


def _module_exists(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_plotting_leaves_the_matplotlib_backend_and_pyplot_alone(tmp_path):
    pytest.importorskip("matplotlib")
    out = run_python(f"""
        import sys
        import matplotlib
        before = matplotlib.get_backend()
        import esnkit as ek
        path = ek.plotting.plot_forecast([0.0, 1.0, 0.5], [0.1, 0.9, 0.4], {str(tmp_path / "f.png")!r})
        print("pyplot" if "matplotlib.pyplot" in sys.modules else "no pyplot", before, matplotlib.get_backend())
    """, MPLBACKEND="svg")
    assert out.split() == ["no", "pyplot", "svg", "svg"]
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_search_restores_the_callers_optuna_verbosity():
    optuna = pytest.importorskip("optuna")
    series = ek.datasets.mackey_glass(400)
    seen = []

    def objective(esn, inputs, targets):
        seen.append(optuna.logging.get_verbosity())
        return 1.0

    kw = dict(space={"spectral_radius": (0.5, 1.0)}, fixed={"reservoir_size": 20, "washout": 10}, n_trials=2,
              batch_size=2, progress=False, refit=False)
    before = optuna.logging.get_verbosity()
    try:
        for level in (optuna.logging.DEBUG, optuna.logging.ERROR):
            optuna.logging.set_verbosity(level)
            ek.search(series, objective=objective, **kw)
            assert optuna.logging.get_verbosity() == level
            with pytest.raises(ValueError, match="objective must be"):
                ek.search(series, objective="nope", **kw)
            assert optuna.logging.get_verbosity() == level
    finally:
        optuna.logging.set_verbosity(before)
    assert seen and set(seen) == {optuna.logging.WARNING}  # quiet while it ran


def test_workers_restore_the_torch_thread_count():
    from esnkit.tuning.objectives import Task, _evaluate_on_worker, _one_torch_thread

    seen = []

    def objective(esn, inputs, targets):
        seen.append(torch.get_num_threads())
        return 1.0

    y = ek.datasets.mackey_glass(300)
    task = Task(y[:-1], y[1:], 200, np.array([1e-6]), objective)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        [result] = _evaluate_on_worker(task, [{"reservoir_size": 20, "washout": 10, "seed": 0}])
        assert "error" not in result and seen == [1]
        assert torch.get_num_threads() == 2
        # rounds overlapping in threads of one worker: the last one out restores the count
        a, b = _one_torch_thread(), _one_torch_thread()
        a.__enter__()
        b.__enter__()
        a.__exit__(None, None, None)
        assert torch.get_num_threads() == 1
        b.__exit__(None, None, None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_a_missing_plot_extra_names_it(tmp_path, uninstalled):
    uninstalled("matplotlib")
    with pytest.raises(MissingExtraError, match=r'esnkit.plotting needs matplotlib.*pip install "esnkit\[plot\]"'):
        ek.plotting.plot_forecast([0.0, 1.0], [0.0, 1.0], tmp_path / "f.png")
    assert not (tmp_path / "f.png").exists()


@pytest.mark.parametrize("missing, kw", [("optuna", {}), ("distributed", {"scheduler": "local"}),
                                         ("tqdm", {"progress": True})])
def test_a_missing_search_extra_names_it(missing, kw, uninstalled):
    uninstalled(missing)
    series = ek.datasets.mackey_glass(400)
    kw = {"space": {"spectral_radius": (0.5, 1.0)}, "fixed": {"reservoir_size": 20, "washout": 10}, "n_trials": 1,
          "progress": False, **kw}
    with pytest.raises(MissingExtraError, match=rf'needs {missing}.*pip install "esnkit\[search\]"') as err:
        ek.search(series, **kw)
    assert isinstance(err.value, ModuleNotFoundError) and err.value.name.split(".")[0] == missing


def test_a_broken_dependency_is_not_reported_as_a_missing_extra(tmp_path, monkeypatch):
    (tmp_path / "brokenpkg_for_esnkit").mkdir()
    (tmp_path / "brokenpkg_for_esnkit" / "__init__.py").write_text("import no_such_module_for_esnkit\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as err:
        import_extra("brokenpkg_for_esnkit", "plot", "this test")
    assert not isinstance(err.value, MissingExtraError) and err.value.name == "no_such_module_for_esnkit"
