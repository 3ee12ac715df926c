"""The command line."""

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
    assert "--reservoir-size must be" in capsys.readouterr().err


def test_console_script_version():
    out = subprocess.run([sys.executable, "-m", "esnkit.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("esnkit ")
