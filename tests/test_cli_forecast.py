"""``esnkit forecast``: a CSV with a date column in, a dated forecast CSV, a PNG and a reusable configuration out."""

import json

import numpy as np
import pytest

pytest.importorskip("optuna")
pd = pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

from esnkit.cli import FORECAST_DEFAULTS, main  # noqa: E402


def _write(path, n=200, missing=()):
    t = np.arange(n)
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"co2": 300 + 0.1 * t + 2 * np.sin(2 * np.pi * t / 12) + 0.2 * rng.standard_normal(n),
                          "other": rng.standard_normal(n)},
                         index=pd.date_range("1990-01-01", periods=n, freq="MS", name="date"))
    for i in missing:
        frame.iloc[i, 0] = np.nan
    frame.to_csv(path)
    return frame


ARGS = ["--horizon", "6", "--trials", "4", "--ensemble", "2", "--reservoir-size", "30", "--quiet"]


def test_round_trip_from_a_dated_csv(tmp_path, capsys):
    frame = _write(tmp_path / "co2.csv")
    out = tmp_path / "out"
    assert main(["forecast", str(tmp_path / "co2.csv"), "--column", "co2", *ARGS, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "200 rows, 1990-01-01 .. 2006-08-01 (MS); horizon 6, season 12" in printed
    assert "lead 1: MASE" in printed and "lead 6: MASE" in printed
    fc = pd.read_csv(out / "forecast.csv")
    assert list(fc.columns) == ["date", "co2", "co2_lower", "co2_upper"]
    assert list(fc["date"]) == [d.strftime("%Y-%m-%d") for d in pd.date_range("2006-09-01", periods=6, freq="MS")]
    assert (fc["co2_lower"] <= fc["co2_upper"]).all()
    last = frame["co2"].iloc[-1]
    assert (np.abs(fc["co2"] - last) < 10).all()  # near the series, in its units
    assert (out / "forecast.png").stat().st_size > 10_000
    results = json.loads((out / "results.json").read_text())
    assert results["season"] == 12 and results["horizon"] == 6 and set(results["backtest"]) == {"1", "6"}
    # the configuration it wrote gives the same forecast without tuning
    again = tmp_path / "again"
    assert main(["forecast", str(tmp_path / "co2.csv"), "--column", "co2", *ARGS, "--out", str(again),
                 "--config", str(out / "config.json")]) == 0
    assert (again / "forecast.csv").read_text() == (out / "forecast.csv").read_text()


def test_missing_values_are_reported_with_their_lines(tmp_path, capsys):
    _write(tmp_path / "gaps.csv", missing=(4, 9))
    assert main(["forecast", str(tmp_path / "gaps.csv"), "--column", "co2", *ARGS, "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "2 missing value(s)" in err and "line(s) 6, 11" in err


@pytest.mark.parametrize("extra, message", [
    (["--column", "nope"], "nope"),
    (["--column", "co2", "--config", "CONFIG"], "is not a JSON file"),
    (["--column", "co2", "--horizon", "150"], "needs at least"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, extra, message):
    _write(tmp_path / "s.csv")
    (tmp_path / "bad.json").write_text("{not json")
    extra = [str(tmp_path / "bad.json") if e == "CONFIG" else e for e in extra]
    argv = ["forecast", str(tmp_path / "s.csv"), *ARGS, *extra, "--out", str(tmp_path / "o")]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("esnkit: error:") and err.count("\n") == 0 and message in err


def test_defaults_quoted_by_the_parser_are_the_librarys():
    import inspect

    from esnkit import forecasting

    p = inspect.signature(forecasting.forecast_series).parameters
    for key in ("trials", "washout", "validation", "ensemble", "coverage"):
        assert FORECAST_DEFAULTS[key] == p[key].default, key
    assert FORECAST_DEFAULTS["reservoir_sizes"] == forecasting.RESERVOIR_SIZES
