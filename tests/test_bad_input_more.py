"""Bad input, continued: the metrics at their edges, the data sets' parameters (and the work they
bound: no generator may run for ever), and every subcommand of the command line."""

import re

import numpy as np
import pytest
import torch

import esnkit as ek
from esnkit.cli import main
from test_bad_input import assert_clear, outcomes

M = ek.metrics
rng = np.random.default_rng(0)
A = rng.normal(size=(50, 2))
B = A + 0.1

# ---------------------------------------------------------------------------------------------- metrics

SQUARED = ("mse", "rmse", "nrmse", "r2_score")
ALL = (*SQUARED, "normalized_error", "valid_prediction_time")


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize("y_true, y_pred, error, match", [
    (np.zeros((0, 1)), np.zeros((0, 1)), ValueError, r"y_true must be a non-empty .* got shape \(0, 1\)"),
    ([], [], ValueError, "y_true must be a non-empty"),
    (np.zeros((5, 0)), np.zeros((5, 0)), ValueError, r"y_true must be a non-empty .* got shape \(5, 0\)"),
    (None, None, TypeError, "y_true must hold real numbers, got NoneType"),
    (1.0, 2.0, ValueError, r"y_true must be a non-empty .* got shape \(\)"),
    (A, B[:10], ValueError, r"y_true has shape \(50, 2\) but y_pred has shape \(10, 2\)"),
    (A.astype(complex), B.astype(complex), TypeError, "y_true must hold real numbers, got ndarray of dtype complex128"),
    (A, torch.from_numpy(B).to(torch.complex64), TypeError, "y_pred must hold real numbers.*complex64"),
    (np.array(["a"] * 5), np.array(["b"] * 5), TypeError, "y_true must hold real numbers.*<U1"),
    (np.array([1.0, None]), np.array([1.0, 2.0]), TypeError, "y_true must hold real numbers.*object"),
    (np.ones(5, bool), np.zeros(5, bool), TypeError, "y_true must hold real numbers.*bool"),
    ([A, A[:10]], [B, B[:10]], TypeError, "y_true must be an array of real numbers, got list"),
    ({"a": 1}, {"a": 2}, TypeError, "y_true must hold real numbers, got dict"),
    (np.full((5, 1), np.nan), B[:5, :1], ValueError, r"y_true contains NaN or Inf \(first at index \(0, 0\)\)"),
    (np.full((5, 1), 1e300), np.zeros((5, 1)), ValueError, r"y_true holds 1e\+300 .* beyond ±1e\+150: a metric"),
])
def test_metrics_refuse_what_is_not_a_series_of_numbers(fn, y_true, y_pred, error, match):
    with pytest.raises(error, match=match):
        getattr(M, fn)(y_true, y_pred)


@pytest.mark.parametrize("fn", SQUARED)
def test_squared_error_metrics_need_a_finite_prediction(fn):
    with pytest.raises(ValueError, match=r"y_pred contains NaN or Inf \(first at index \(0, 0\)\)"):
        getattr(M, fn)(A, np.full_like(A, np.nan))


def test_metrics_at_their_edges():
    constant = np.ones((50, 1))
    assert M.mse(constant, constant + 0.1) == pytest.approx(0.01)  # defined for a constant truth
    assert M.r2_score(constant, constant) == 1.0 and M.r2_score(constant, constant + 0.1) == 0.0  # sklearn's rule
    with pytest.raises(ValueError, match="the std of a target feature is 0"):
        M.nrmse(constant, constant + 0.1)
    for fn in (M.normalized_error, M.valid_prediction_time):
        with pytest.raises(ValueError, match=r"y_true is constant in feature 0 .* pass scale="):
            fn(constant, constant + 0.1)
    with pytest.raises(ValueError, match="R² is not defined for fewer than two values"):
        M.r2_score(A[:1], B[:1])
    # a prediction that diverged far from a finite truth: an infinite error, as a diverged free run scores
    with np.errstate(over="ignore"):
        assert M.mse(A, np.full_like(A, 1e300)) == np.inf
    assert M.valid_prediction_time(A, np.full_like(A, np.nan)) == 0.0


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(threshold="x"), TypeError, "threshold must be a finite number > 0, got 'x'"),
    (dict(threshold=None), TypeError, "threshold must be a finite number > 0, got None"),
    (dict(threshold=True), TypeError, "threshold must be a finite number > 0, got True"),
    (dict(threshold=[0.1, 0.2]), TypeError, "threshold must be"),
    (dict(threshold=0), ValueError, "threshold must be a finite number > 0, got 0"),
    (dict(threshold=-1), ValueError, "threshold must be"),
    (dict(threshold=float("nan")), ValueError, "threshold must be"),
    (dict(dt="x"), TypeError, "dt must be a finite number > 0, got 'x'"),
    (dict(dt=None), TypeError, "dt must be"),
    (dict(dt=True), TypeError, "dt must be"),
    (dict(dt=np.array([1.0, 2.0])), TypeError, "dt must be"),
    (dict(dt=0), ValueError, "dt must be a finite number > 0, got 0"),
    (dict(dt=-0.5), ValueError, "dt must be"),
    (dict(dt=float("inf")), ValueError, "dt must be"),
    (dict(lyapunov_exponent="x"), TypeError, "lyapunov_exponent must be"),
    (dict(lyapunov_exponent=0), ValueError, "lyapunov_exponent must be"),
    (dict(lyapunov_exponent=-0.9), ValueError, "lyapunov_exponent must be"),
    (dict(lyapunov_exponent=float("nan")), ValueError, "lyapunov_exponent must be"),
    (dict(scale="x"), TypeError, r"scale must be a finite number > 0, or one per feature \(2\), got 'x'"),
    (dict(scale=True), TypeError, "scale must be"),
    (dict(scale=0), ValueError, "scale must be"),
    (dict(scale=[1, 2, 3]), ValueError, r"scale must be .* got shape \(3,\)"),
    (dict(scale=float("nan")), ValueError, "scale must be"),
])
def test_valid_prediction_time_checks_its_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        M.valid_prediction_time(A, B, **kwargs)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(normalization="bad"), ValueError, "normalization must be"),
    (dict(reference="x"), TypeError, "reference must hold real numbers"),
    (dict(reference=np.zeros((5, 3))), ValueError, "reference has 3 feature"),
    (dict(reference=np.full((5, 2), np.nan)), ValueError, "reference contains NaN"),
    (dict(reference=[]), ValueError, "reference must be a non-empty"),
    (dict(scale=-1), ValueError, "scale must be"),
    (dict(scale=True), TypeError, "scale must be"),
    (dict(scale=1.0, reference=A), ValueError, "give reference or scale, not both"),
    (dict(multioutput="bad"), ValueError, "multioutput must be"),
])
def test_nrmse_checks_its_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        M.nrmse(A, B, **kwargs)


def test_memory_capacity_checks_its_arguments():
    esn = ek.ESN(20, seed=0)
    for kwargs, match in [(dict(max_delay=0), "max_delay must be an integer ≥ 1, got 0"),
                          (dict(max_delay=2.5), "max_delay must be an integer ≥ 1, got 2.5"),
                          (dict(max_delay=True), "max_delay must be an integer ≥ 1, got True"),
                          (dict(max_delay="5"), "max_delay must be"),
                          (dict(train_steps=0), "train_steps must be an integer ≥ 1"),
                          (dict(test_steps=1), "test_steps must be an integer ≥ 2, got 1"),
                          (dict(washout=-1), "washout must be an integer ≥ 0"),
                          (dict(seed="x"), "seed must be an integer ≥ 0, got 'x'"),
                          (dict(return_all="yes"), "return_all must be True or False")]:
        with pytest.raises((ValueError, TypeError), match=match):
            M.memory_capacity(esn, **kwargs)
    for not_a_model in ("esn", None, 20):
        with pytest.raises(TypeError, match="esn must be an esnkit.ESN"):
            M.memory_capacity(not_a_model)


def test_memory_capacity_refuses_absurd_sizes_at_once():
    calls = [("ek.metrics.memory_capacity(ek.ESN(20), max_delay=10**9)", r"max_delay=1000000000 .* needs about"),
             ("ek.metrics.memory_capacity(ek.ESN(20), train_steps=10**12)", "needs about .* more than")]
    assert_clear(outcomes([c for c, _ in calls], timeout=60), calls)


# ---------------------------------------------------------------------------------------------- datasets

SIZES = [0, -1, 2.5, True, "10", None, float("nan")]
GENERATORS = ("mackey_glass", "lorenz", "rossler", "narma10", "sine", "mso")


@pytest.mark.parametrize("generator", GENERATORS)
@pytest.mark.parametrize("n", SIZES)
def test_dataset_sizes_must_be_positive_integers(generator, n):
    with pytest.raises(ValueError, match=f"n_steps must be a positive integer, got {re.escape(repr(n))}"):
        getattr(ek.datasets, generator)(n)


@pytest.mark.parametrize("generator, kwargs, match", [
    ("mackey_glass", dict(tau=float("nan")), "tau must be a finite number > 0, got nan"),
    ("mackey_glass", dict(tau=True), "tau must be a finite number > 0, got True"),
    ("mackey_glass", dict(dt="0.1"), "dt must be a finite number > 0, got '0.1'"),
    ("mackey_glass", dict(beta=float("inf")), "beta must be"),
    ("mackey_glass", dict(exponent=float("nan")), "exponent must be a finite number > 0, got nan"),
    ("mackey_glass", dict(exponent=-1), "exponent must be"),
    ("mackey_glass", dict(x0=float("nan")), "x0 must be a finite number, got nan"),
    ("mackey_glass", dict(x0="1"), "x0 must be a finite number, got '1'"),
    ("mackey_glass", dict(x0=[1, 2]), "x0 must be a finite number"),
    ("mackey_glass", dict(sample_every=2.0), "sample_every must be a positive integer, got 2.0"),
    ("mackey_glass", dict(sample_every=True), "sample_every must be"),
    ("mackey_glass", dict(discard=True), "discard must be an integer ≥ 0, got True"),
    ("mackey_glass", dict(seed=-1), "seed must be an integer ≥ 0, got -1"),
    ("mackey_glass", dict(seed=1.5), "seed must be an integer ≥ 0"),
    ("mackey_glass", dict(dt=100.0), "tau must be at least 3 integration steps"),
    ("mackey_glass", dict(beta=1e300), "the Mackey-Glass equation diverged .* beta=1e\\+300"),
    ("mackey_glass", dict(exponent=1e6), "the Mackey-Glass equation diverged"),
    ("mackey_glass", dict(x0=-1.2, exponent=10.5), "left the real numbers.*non-integer exponent needs x > 0"),
    ("lorenz", dict(dt=float("nan")), "dt must be"),
    ("lorenz", dict(dt=True), "dt must be"),
    ("lorenz", dict(sigma=float("nan")), "sigma must be a finite number, got nan"),
    ("lorenz", dict(rho=float("inf")), "rho must be"),
    ("lorenz", dict(beta="x"), "beta must be"),
    ("lorenz", dict(x0=[float("nan"), 1, 1]), "x0 must be 3 finite numbers"),
    ("lorenz", dict(x0=[1, 1]), "x0 must be 3 finite numbers .* got \\[1, 1\\]"),
    ("lorenz", dict(x0="abc"), "x0 must be 3 finite numbers .* got 'abc'"),
    ("lorenz", dict(discard=float("nan")), "discard must be a finite number ≥ 0"),
    ("lorenz", dict(discard=-1), "discard must be"),
    ("lorenz", dict(rtol=0), "rtol must be a number in \\(0, 1\\), got 0"),
    ("lorenz", dict(rtol=float("nan")), "rtol must be"),
    ("lorenz", dict(rtol=1.0), "rtol must be"),
    ("lorenz", dict(atol=float("nan")), "atol must be"),
    ("lorenz", dict(seed="x"), "seed must be"),
    ("rossler", dict(a=float("nan")), "a must be a finite number, got nan"),
    ("rossler", dict(c="x"), "c must be"),
    ("rossler", dict(a=True), "a must be"),
    ("rossler", dict(atol=-1), "atol must be"),
    ("narma10", dict(seed=-1), "seed must be"),
    ("narma10", dict(seed="x"), "seed must be"),
    ("sine", dict(period=0), "period must be a finite number > 0, got 0"),
    ("sine", dict(period=True), "period must be"),
    ("sine", dict(amplitude=float("nan")), "amplitude must be a finite number, got nan"),
    ("sine", dict(amplitude=float("inf")), "amplitude must be"),
    ("sine", dict(phase="x"), "phase must be"),
    ("mso", dict(n_oscillators=0), "n_oscillators must be an integer in 1..8, got 0"),
    ("mso", dict(n_oscillators=True), "n_oscillators must be"),
    ("mso", dict(frequencies=[]), "frequencies must be a non-empty sequence of finite numbers, got \\[\\]"),
    ("mso", dict(frequencies=[float("nan")]), "frequencies must be"),
    ("mso", dict(frequencies=[0.1, "x"]), "frequencies must be"),
    ("mso", dict(frequencies=0.2), "frequencies must be"),
    ("mso", dict(frequencies=[[0.1, 0.2]]), "frequencies must be"),
    ("mso", dict(frequencies=[True]), "frequencies must be"),
    ("mso", dict(frequencies=[1 + 1j]), "frequencies must be"),
])
def test_dataset_parameters_are_checked_up_front(generator, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(ek.datasets, generator)(100, **kwargs)


def test_narma10_that_diverges_is_an_error_not_inf():
    """NARMA-10's quadratic term runs away for some input sequences: seed 4 did at step 9203 (and
    returned a series of inf and NaN); now the call says so."""
    with pytest.raises(ValueError, match="NARMA-10 diverged at step 9203 with seed=4.*another seed"):
        ek.datasets.narma10(10_000, seed=4)
    u, y = ek.datasets.narma10(5000, seed=0)
    assert np.isfinite(y).all()


# Each of these never returned (or allocated for minutes) before the generators bounded their work:
# a step so large or so small that the integration is endless, a NaN or a stiff parameter.
ENDLESS = [
    ("ek.datasets.lorenz(100, dt=1e9)", r"lorenz would be integrated .* 9\.9e\+10 time units, more than the 1e\+05"),
    ("ek.datasets.rossler(100, dt=1e9)", "rossler would be integrated over"),
    ("ek.datasets.lorenz(100, discard=1e12)", "lorenz would be integrated over"),
    ("ek.datasets.lorenz(100, discard=float('inf'))", "discard must be a finite number"),
    ("ek.datasets.lorenz(100, discard=float('nan'))", "discard must be a finite number"),
    ("ek.datasets.rossler(100, rtol=float('nan'))", "rtol must be"),
    ("ek.datasets.lorenz(100, atol=float('nan'))", "atol must be"),
    ("ek.datasets.lorenz(100, sigma=float('nan'))", "sigma must be a finite number"),
    ("ek.datasets.rossler(100, a=float('nan'))", "a must be a finite number"),
    ("ek.datasets.lorenz(100, sigma=1e6)", r"lorenz with sigma=1000000\.0.* is stiff or diverges: its state reached"),
    ("ek.datasets.lorenz(100, rho=float('inf'))", "rho must be"),
    ("ek.datasets.rossler(100, c=1e8)", "rossler with .*c=100000000.0.* is stiff or diverges"),
    ("ek.datasets.lorenz(100, x0=[1e300, 1, 1])", "is stiff or diverges"),
    ("ek.datasets.rossler(10, discard=0.0, x0=(1e10, 1, 1))",
     r"rossler .* is stiff or diverges: it needed more than 200000 right-hand-side evaluations for 0\.9 time units"),
    ("ek.datasets.lorenz(10**12)", r"n_steps=1000000000000 \(3 feature\(s\)\) needs about .* more than"),
    ("ek.datasets.mackey_glass(100, dt=1e-9)", r"mackey_glass would take 1\.7e\+10 RK4 steps of dt=1e-09 .* 1e\+08"),
    ("ek.datasets.mackey_glass(100, tau=1e9)", "mackey_glass would take 1e\\+10 RK4 steps"),
    ("ek.datasets.mackey_glass(100, sample_every=10**9)", "mackey_glass would take"),
    ("ek.datasets.mackey_glass(100, discard=10**12)", "mackey_glass would take"),
    ("ek.datasets.mackey_glass(10**12)", "mackey_glass would take"),
    ("ek.datasets.narma10(10**12)", r"n_steps=1000000000000 \(2 feature\(s\)\) needs about"),
    ("ek.datasets.sine(10**12)", "n_steps=1000000000000"),
    ("ek.datasets.mso(10**12)", "n_steps=1000000000000"),
]


def test_no_generator_runs_for_ever():
    assert_clear(outcomes([c for c, _ in ENDLESS], timeout=120), ENDLESS, "ValueError")


def test_the_bounds_leave_ordinary_series_alone():
    assert ek.datasets.lorenz(5, dt=1e-12).shape == (5, 3)  # a fine grid is not an error
    np.testing.assert_array_equal(ek.datasets.lorenz(200, seed=1), ek.datasets.lorenz(200, seed=1))
    assert np.isfinite(ek.datasets.mackey_glass(200, x0=0.5, exponent=9.5)).all()


# ---------------------------------------------------------------------------------------------- the command line


def run_cli(argv, capsys):
    """(exit status, stdout, stderr lines) of ``esnkit argv`` run in this process."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def assert_one_line_error(argv, capsys, *patterns):
    code, _, err = run_cli(argv, capsys)
    assert code not in (0, None), argv
    assert len(err) == 1 and err[0].startswith("esnkit: error: "), err
    assert "Traceback" not in err[0]
    for pattern in patterns:
        assert re.search(pattern, err[0]), f"{pattern!r} not in {err[0]!r}"
    return code


@pytest.fixture
def files(tmp_path):
    def write(name, text, mode="w"):
        path = tmp_path / name
        path.write_bytes(text) if mode == "wb" else path.write_text(text)
        return str(path)

    rows = "".join(f"{i},{2 * i}\n" for i in range(20))
    return {
        "missing": str(tmp_path / "missing.csv"),
        "empty": write("empty.csv", ""),
        "header": write("header.csv", "a,b\n"),
        "text": write("text.csv", "1,2\n3,abc\n"),
        "column": write("column.csv", "".join(f"{i},x{i}\n" for i in range(20))),
        "ragged": write("ragged.csv", rows + "21\n"),
        "nan": write("nan.csv", rows + "nan,1\n"),
        "huge": write("huge.csv", rows + "1,1e300\n"),
        "binary": write("binary.csv", bytes(range(128, 256)) * 3, "wb"),
        "short": write("short.csv", "1\n2\n3\n"),
        "toml": write("bad.toml", "[space\nx="),
        "range": write("range.toml", "[space]\nspectral_radius = {low = 2, high = 1}\n"),
        "unknown": write("unknown.toml", "[space]\nfoo = {low = 1, high = 2}\n"),
        "big": write("big.toml", "[fixed]\nreservoir_size = 1000000000\n[space]\nspectral_radius = {low = 0.1, "
                                   "high = 1}\n"),
        "file": write("a-file", "x"),
        "dir": str(tmp_path),
        "out": str(tmp_path / "out"),
    }


@pytest.mark.parametrize("argv, patterns", [
    (["demo", "--reservoir-size", "abc"], ["argument --reservoir-size: must be an integer ≥ 1, got 'abc'"]),
    (["demo", "--reservoir-size", "-5"], ["argument --reservoir-size"]),
    (["demo", "--washout", "-1"], [r"argument --washout: must be an integer in 0\.\.3999, got '-1'"]),
    (["demo", "--washout", "5000"], ["argument --washout"]),
    (["demo", "--horizon", "0"], [r"argument --horizon: must be an integer in 1\.\.1000"]),
    (["demo", "--horizon", "2.5"], ["argument --horizon"]),
    (["demo", "--seed", "-1"], ["argument --seed: must be an integer ≥ 0"]),
    (["demo", "--threads", "0"], [r"argument --threads: must be an integer in 1\.\.1024"]),
    (["demo", "--threads", "1000000000"], ["argument --threads"]),
    (["demo", "--no-such-option"], ["unrecognized arguments: --no-such-option"]),
    (["no-such-command"], ["invalid choice: 'no-such-command'"]),
    (["search", "--steps", "-5"], ["argument --steps: must be an integer ≥ 10, got '-5'"]),
    (["search", "--trials", "0"], ["argument --trials"]),
    (["search", "--validation", "1.5"], [r"argument --validation: must be a number in \(0, 1\), got '1.5'"]),
    (["search", "--validation", "nan"], ["argument --validation"]),
    (["search", "--folds", "1"], ["argument --folds: must be an integer ≥ 2"]),
    (["search", "--threshold", "-1"], ["argument --threshold: must be a finite number > 0"]),
    (["search", "--timeout", "inf"], ["argument --timeout"]),
    (["search", "--workers", "0"], ["argument --workers"]),
    (["search", "--objective", "bogus"], ["argument --objective: invalid choice"]),
    (["search", "--dtype", "float16"], ["argument --dtype"]),
    (["bench", "--lstm-budget", "-1"], ["argument --lstm-budget: must be a finite number > 0, got '-1'"]),
    (["bench", "--lstm-budget", "nan"], ["argument --lstm-budget"]),
    (["bench", "--protocol", "nope"], ["argument --protocol: invalid choice"]),
    (["bench", "--threads", "-1"], ["argument --threads"]),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, patterns, capsys):
    assert assert_one_line_error(argv, capsys, *patterns, r"\(see 'esnkit( \w+)? --help'\)$") == 2


@pytest.mark.parametrize("argv, patterns", [
    (["search", "--data", "{missing}"], [r"--data '.*missing.csv': no such file \(and not a built-in dataset: "
                                         "mackey_glass, lorenz, rossler\\)"]),
    (["search", "--data", "lorenzz"], ["--data 'lorenzz': no such file"]),
    (["search", "--data", "{dir}"], ["--data '.*': a folder, not a file"]),
    (["search", "--data", "{empty}"], ["--data '.*empty.csv': the file is empty"]),
    (["search", "--data", "{header}"], ["--data '.*header.csv': 0 rows of data; a series needs at least 10"]),
    (["search", "--data", "{short}"], ["3 rows of data"]),
    (["search", "--data", "{text}"], ["--data '.*text.csv': 2 rows of data"]),
    (["search", "--data", "{column}", "--column", "x0"], ["--data '.*column.csv': line 2, column 'x0': 'x1' is not a "
                                                          "number"]),
    (["search", "--data", "{ragged}"], [r"--data '.*ragged.csv': 1 missing value\(s\) in column\(s\) '1' "
                                        r"\(line\(s\) 21\): impute or drop them first"]),
    (["search", "--data", "{nan}"], [r"--data '.*nan.csv': 1 missing value\(s\) in column\(s\) '0' \(line\(s\) 21\)"]),
    (["search", "--data", "{huge}"], [r"--data '.*huge.csv': line 21, column '1' is 1e\+300, beyond ±1e150"]),
    (["search", "--data", "{binary}"], [r"--data '.*binary.csv': not a text file \(not UTF-8\)"]),
    (["search", "--space", "{toml}"], ["--space '.*bad.toml': not valid TOML"]),
    (["search", "--space", "{range}"], ["--space '.*range.toml': \\[space\\] spectral_radius: empty range"]),
    (["search", "--space", "{unknown}"], ["--space '.*unknown.toml': \\[space\\] unknown parameter 'foo'"]),
    (["search", "--space", "{missing}"], ["--space '.*missing.csv': no search-space file"]),
    (["search", "--space", "{big}"], ["--space '.*big.toml': .*reservoir_size=1000000000: fitting its readout"]),
    (["search", "--steps", "1000000000000"], ["--steps 1000000000000: mackey_glass would take"]),
    (["search", "--device", "gpu"], ["--device: device 'gpu' is not a valid torch device .*: give a torch device"]),
    (["search", "--storage", "bogus://x"], ["storage 'bogus://x' is not a storage URL"]),
    (["search", "--out", "{file}"], ["--out '.*a-file' is a file, not a folder"]),
    (["search", "--out", "{file}/sub"], ["--out '.*a-file/sub': cannot write results there"]),
    (["search", "--out", "/proc/esnkit-cannot-write-here"], ["--out '/proc/esnkit-cannot-write-here': cannot write"]),
    (["demo", "--reservoir-size", "1000000000"], ["--reservoir-size: reservoir_size=1000000000: fitting its readout"]),
    (["demo", "--out", "{file}"], ["--out '.*a-file' is a file, not a folder"]),
    (["demo", "--out", "/proc/esnkit-cannot-write-here"], ["--out '/proc/esnkit-cannot-write-here'"]),
    (["bench", "--quick", "--out", "{file}"], ["--out '.*a-file' is a file, not a folder"]),
])
def test_bad_files_and_values_are_one_line_and_exit_1(argv, patterns, files, capsys):
    argv = [a.format(**files) for a in argv]
    if argv[0] == "search" and "--out" not in argv:
        argv += ["--out", files["out"], "--trials", "1", "--no-plot", "--quiet"]
    assert assert_one_line_error(argv, capsys, *patterns) == 1


def test_debug_shows_the_traceback(files, capsys):
    from esnkit.cli import CommandError

    for argv in (["--debug", "search", "--data", files["missing"]], ["search", "--debug", "--data", files["missing"]]):
        with pytest.raises(CommandError, match="--data .*missing.csv': no such file"):
            main([*argv, "--out", files["out"], "--no-plot"])
    assert_one_line_error(["search", "--data", files["missing"], "--out", files["out"]], capsys, "--data")


def test_an_unexpected_error_is_one_line_that_names_its_kind(monkeypatch, files, capsys):
    import esnkit.cli as cli

    def boom(*args):
        raise RuntimeError("something deep\ninside torch")

    monkeypatch.setattr(cli, "_read_csv", boom)
    assert_one_line_error(["search", "--data", files["text"], "--out", files["out"], "--no-plot"], capsys,
                          r"unexpected RuntimeError: something deep inside torch \(run again with --debug")


def test_the_debug_flag_is_parsed_without_importing_anything_heavy():
    from test_cli import HEAVY, _python

    out = _python(f"""
import sys
from esnkit.cli import build_parser
args = build_parser().parse_args(["--debug", "demo"])
assert args.debug is True
assert build_parser().parse_args(["demo", "--debug"]).debug is True
assert build_parser().parse_args(["demo"]).debug is False
print("IMPORTED", [m for m in sys.modules if m.split(".")[0] in {HEAVY!r}], file=sys.stderr)
""")
    assert "IMPORTED []" in out.stderr, out.stderr
