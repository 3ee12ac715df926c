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


def test_every_option_of_every_command_has_help():
    import argparse

    from esnkit.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) >= {"demo", "search", "bench", "classify"}
    for name, sub in [("esnkit", parser), *commands.items()]:
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help and action.help.strip(), f"{name} {'/'.join(action.option_strings)} has no help"


@pytest.fixture
def dated_csv(tmp_path):
    """A CSV as pandas writes it: a date index named 'date', two columns."""
    pd = pytest.importorskip("pandas")
    import numpy as np

    import esnkit as ek

    x = ek.datasets.mackey_glass(300)[:, 0]
    frame = pd.DataFrame({"mg": x, "noise": np.random.default_rng(0).normal(size=300)},
                         index=pd.date_range("2000-01-01", periods=300, freq="D", name="date"))
    path = tmp_path / "mg.csv"
    frame.to_csv(path)
    return str(path)


def test_search_a_csv_column_in_memory_with_a_fixed_size(dated_csv, tmp_path, capsys):
    import esnkit as ek

    out = tmp_path / "run"
    argv = ["search", "--data", dated_csv, "--column", "mg", "--reservoir-size", "30", "--washout", "10",
            "--trials", "2", "--batch-size", "2", "--quiet", "--no-plot", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "mg.csv [mg] (300 steps, 1 feature(s))" in text
    assert "in memory; pass --storage to keep or resume it" in text
    assert sorted(p.name for p in out.iterdir()) == ["best.esnkit", "results.csv"]  # no study file
    model = ek.load(out / "best.esnkit")
    assert (model.reservoir_size, model.washout, model.input_size_) == (30, 10, 1)
    db = tmp_path / "kept.db"
    assert main([*argv, "--storage", str(db)]) == 0
    assert f"in {db}" in capsys.readouterr().out and db.stat().st_size > 0


@pytest.mark.parametrize("extra, message", [
    (["--column", "nope"], r"--data '.*mg\.csv': there is no column 'nope'; the numeric columns "
                           r"are mg, noise$"),
    (["--column", "date"], r"--data '.*mg\.csv': 'date' is the date column, not a series to read"),
])
def test_search_csv_column_errors(dated_csv, tmp_path, capsys, extra, message):
    import re

    assert main(["search", "--data", dated_csv, *extra, "--out", str(tmp_path / "o"), "--no-plot"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search("^esnkit: error: " + message, err.strip()), err


def test_search_options_that_do_not_apply(tmp_path, capsys):
    assert main(["search", "--column", "x", "--out", str(tmp_path / "o"), "--no-plot"]) == 1
    assert capsys.readouterr().err == ("esnkit: error: --column 'x': --column picks columns of a CSV file, and "
                                       "--data mackey_glass is a built-in dataset\n")
    space = tmp_path / "space.toml"
    space.write_text("[space]\nreservoir_size = {low = 50, high = 200}\nspectral_radius = {low = 0.5, high = 1}\n")
    assert main(["search", "--space", str(space), "--reservoir-size", "100", "--out", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err == (f"esnkit: error: --reservoir-size 100: --space '{space}' searches "
                                       "reservoir_size as a range or choices; give it a fixed value there, or leave "
                                       "out the option\n")
    assert main(["search", "--reservoir-size", "1000000000", "--out", str(tmp_path / "o")]) == 1
    assert "esnkit: error: --reservoir-size 1000000000: fixed parameters are not a valid ESN: reservoir_size" \
        in capsys.readouterr().err


def test_search_fixed_values_override_a_space_file(tmp_path):
    from esnkit import cli
    from esnkit.tuning import load_space

    space = tmp_path / "space.toml"
    space.write_text("[fixed]\nreservoir_size = 80\nwashout = 20\n[space]\nleak_rate = {low = 0.1, high = 1, "
                     "log = true}\nspectral_radius = {choices = [0.5, 0.9]}\n"
                     "[ridge]\nlow = 1e-8\nhigh = 1e-2\nnum = 4\n")
    before = load_space(space)
    after = cli._override_fixed(before, {"washout": 5}, "x")
    assert after.fixed == {"reservoir_size": 80, "washout": 5} and after.params == before.params
    assert (after.ridges == before.ridges).all() and after.settings == before.settings


@pytest.mark.parametrize("size", [10, 50])
def test_demo_at_small_sizes_prints_sensible_figures(size, capsys):
    import re

    assert main(["demo", "--reservoir-size", str(size), "--horizon", "200", "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "inf" not in out.lower() and "nan" not in out.lower()
    assert re.search(r"ridge 1e-\d\d, of 9 values 1e-10\.\.1e-02: the longest free runs from the last 1000 "
                     "training steps", out)
    nrmse = [line for line in out.splitlines() if "NRMSE" in line]
    assert len(nrmse) == 3
    for line in nrmse:
        value = line.split()[-1]
        if "diverged at step" in line:
            continue
        assert float(value) < 10, line  # no absurd figure from an overfitted readout
