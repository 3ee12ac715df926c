"""The command line."""

import os
import subprocess
import sys

import pytest

from esnkit.cli import main


def test_demo_prints_errors_and_writes_plot(tmp_path, capsys):
    assert main(["demo", "--reservoir-size", "300", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "fit on 4000 steps" in out and "one-step NRMSE" in out
    one_step = float(out.split("one-step NRMSE (1000 test steps)")[1].split()[0])
    assert one_step < 1e-3
    png = tmp_path / "mackey_glass_forecast.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_bad_option_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--reservoir-size", "0"])
    assert capsys.readouterr().err == ("esnkit: error: argument --reservoir-size: must be an integer ≥ 1, got '0' "
                                       "(see 'esnkit demo --help')\n")


def test_console_script_version():
    out = subprocess.run([sys.executable, "-m", "esnkit.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("esnkit ")


# What answering --help must not import: the CLI parses its arguments before anything heavy.
HEAVY = ("torch", "numpy", "scipy", "optuna", "dask", "distributed", "matplotlib", "sklearn", "tqdm")


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    import esnkit

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(esnkit.__file__)), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, *(["-c", code] if code else []), *args], capture_output=True, text=True,
                          env=env)


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["search", "--help"], ["bench", "--help"],
                                  ["--version"], ["demo", "--no-such-option"]])
def test_parsing_the_arguments_imports_nothing_heavy(argv):
    out = _python(f"""
import sys
from esnkit.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = [m for m in sys.modules if m.split(".")[0] in {HEAVY!r}]
mine = [m for m in sys.modules if m.startswith("esnkit.") and m != "esnkit.cli"]
print("IMPORTED", heavy + mine, file=sys.stderr)
""")
    assert "IMPORTED []" in out.stderr, out.stderr


def test_python_dash_m_esnkit_is_the_command_line():
    out = _python("", "-m", "esnkit", "--help")
    assert out.returncode == 0 and out.stdout.startswith("usage: esnkit") and "demo" in out.stdout
    out = _python("", "-m", "esnkit", "--version")
    assert out.returncode == 0 and out.stdout.startswith("esnkit ")


def test_the_parsers_literals_are_still_the_librarys():
    import inspect

    from esnkit import cli
    from esnkit.benchmarks import PROTOCOLS
    from esnkit.benchmarks.runner import Settings
    from esnkit.tuning import search
    from esnkit.tuning.driver import SAMPLERS
    from esnkit.tuning.objectives import OBJECTIVES

    assert cli.OBJECTIVES == OBJECTIVES and cli.SAMPLERS == SAMPLERS and cli.PROTOCOLS == tuple(PROTOCOLS)
    params = inspect.signature(search).parameters
    assert cli.DTYPES[-1] == params["dtype"].default and len(cli.DTYPES) == 2
    from esnkit.tuning.driver import DEFAULT_VALIDATION

    for key, value in cli.SEARCH_DEFAULTS.items():
        default = DEFAULT_VALIDATION if key == "validation" else params["n_trials" if key == "trials" else key].default
        assert default == value, key
    assert cli.LSTM_BUDGET == {"full": Settings.full().lstm_budget, "quick": Settings.quick_run().lstm_budget}
    import esnkit as ek

    assert all(callable(getattr(ek.datasets, name)) for name in cli.BUILTIN)


@pytest.mark.parametrize("command", [["demo"], ["search", "--trials", "1"], ["bench", "--quick"]])
def test_a_missing_plot_extra_is_a_clear_error_before_the_work(command, tmp_path, capsys, uninstalled):
    uninstalled("matplotlib")
    assert main([*command, "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert 'pip install "esnkit[plot]"' in captured.err and "matplotlib" in captured.err
    assert captured.out == "" and not any(tmp_path.iterdir())  # nothing ran
