"""The native time loop against the pure-PyTorch loop and the NumPy reference, and its fallback."""

import ctypes
import itertools
import platform
import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest
import torch

import esnkit as ek
from esnkit import native
from esnkit.loop import unroll, use_backend
from esnkit.readout import NormalEquations, features, solve_normal_equations
from reference import Weights, harvest, step

needs_kernel = pytest.mark.skipif(not native.available(), reason="native kernel not built")


@needs_kernel
def test_tanh_is_accurate_to_a_few_ulp_and_keeps_nan():
    v = torch.cat([
        torch.linspace(-25, 25, 100_001, dtype=torch.float64),
        torch.logspace(-300, 1, 3001, dtype=torch.float64),
        -torch.logspace(-300, 1, 3001, dtype=torch.float64),
        torch.tensor([0.0, -0.0, float("inf"), -float("inf")], dtype=torch.float64),
    ])
    got, want = native.tanh(v), torch.tanh(v)
    rel = ((got - want).abs() / want.abs().clamp_min(1e-300)).max()
    assert rel < 4 * torch.finfo(torch.float64).eps
    assert torch.isnan(native.tanh(torch.tensor([float("nan")], dtype=torch.float64))).all()
    v32 = v.float()
    rel32 = ((native.tanh(v32).double() - torch.tanh(v32.double())).abs()
             / torch.tanh(v32.double()).abs().clamp_min(1e-30)).max()
    assert rel32 < 4 * torch.finfo(torch.float32).eps


reads_x86_code = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64") or shutil.which("objdump") is None,
                                    reason="reads x86 machine code with objdump")


def _machine_code(function: str) -> str:
    """The kernel's disassembled ``function``."""
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(native._library_path())],
                          capture_output=True, text=True, check=True).stdout
    return text.split(f"<{function}>:", 1)[1].split("\n\n", 1)[0]


@needs_kernel
@reads_x86_code
def test_the_kernels_activation_loop_is_vectorised():
    # The activation is the larger half of a step. GCC once compiled it one value at a time (the
    # tanh's clamp became a branch it would not if-convert around a division under trapping math),
    # which made a harvest 1.3-2.2x slower; packed divisions in the time loop show it is vectorised
    # (one sequence's loop holds its activation, a batch's calls the one in its widest vectors).
    functions = ("run_one_f64", "run_one_f32", "activate_wide_f64", "activate_wide_f32")
    packed = {fn: re.search(r"\bv?divp[sd]\b", _machine_code(fn)) is not None for fn in functions}
    assert all(packed.values()), packed


@needs_kernel
@reads_x86_code
@pytest.mark.parametrize("function", ["sell_matvec_f64", "sell_matvec_f32"])
def test_the_sparse_product_accumulates_in_vectors_without_gathers(function):
    # A slice's rows are vector lanes (packed multiplies), their x[col] operands loaded lane by
    # lane: gather instructions made the product 1.3-1.7x slower on AMD Zen.
    body = _machine_code(function)
    assert re.search(r"\bv(fmadd\d+|mul)p[sd]\b", body), f"{function} multiplies one value at a time"
    assert "gather" not in body, f"{function} gathers"


@pytest.mark.parametrize("in_degree", [None, 4])
def test_sell_layout_holds_the_same_matrix(in_degree):
    r = ek.Reservoir.random(37, 1, seed=3, in_degree=in_degree)  # 37 rows: the last slice is partial
    ptr, col, val = native.sell_layout(r.W_crow, r.W_col, r.W_values)
    if in_degree:  # rows of one length take a shortcut: it must lay W out exactly as the general way
        rp = r.W_crow.numpy()
        for got, want in zip((ptr, col, val), native._sell_any_degree(rp, np.diff(rp), r.W_col.numpy().astype(np.int32),
                                                                     r.W_values.numpy())):
            assert got.dtype == want.dtype
            torch.testing.assert_close(got, want, rtol=0, atol=0)
    W = np.zeros((37, 37))
    for s in range(len(ptr) - 1):
        width = int(ptr[s + 1] - ptr[s]) // native.SLICE
        for k, rr in itertools.product(range(width), range(native.SLICE)):
            i, at = s * native.SLICE + rr, int(ptr[s]) + k * native.SLICE + rr
            if i < 37:
                W[i, col[at]] += float(val[at])
    np.testing.assert_array_equal(W, r.scipy_recurrent().toarray())


CONFIGS = [
    # size, batch, dtype, leak, feedback, activation, connectivity
    (1, 1, torch.float64, 1.0, 0, "tanh", None),
    (50, 1, torch.float64, 0.3, 0, "tanh", None),
    (50, 3, torch.float64, "per-neuron", 2, "tanh", None),
    (300, 1, torch.float64, 0.7, 1, "sigmoid", None),
    (60, 37, torch.float64, 1.0, 0, "relu", None),
    (40, 70, torch.float64, 0.5, 2, "tanh", 0.5),  # dense W, batch with a partial lane block
    (64, 1, torch.float64, 1.0, 1, "identity", 0.6),
    (37, 1, torch.float64, 0.7, 0, "tanh", 0.4),  # dense W: dot products with vector and scalar tails
    (45, 1, torch.float32, 0.5, 2, "tanh", 0.5),
    (120, 1, torch.float32, 0.9, 0, "tanh", None),
    (93, 1, torch.float32, 0.6, 1, "tanh", None),  # a partial last slice of a float32 vector
    (120, 64, torch.float32, 0.4, 1, "tanh", None),
]


def _reservoir(n, dtype, leak, fb, act, conn, seed):
    leak = np.random.default_rng(seed).uniform(0.1, 1.0, n) if leak == "per-neuron" else leak
    return ek.Reservoir.random(n, 2, fb, spectral_radius=0.8, connectivity=conn, leak_rate=leak,
                               bias_scaling=0.3, feedback_scaling=0.5, activation=act, seed=seed,
                               dtype=dtype)


@needs_kernel
@pytest.mark.parametrize("n,B,dtype,leak,fb,act,conn", CONFIGS)
def test_native_equals_torch_loop_and_reference(n, B, dtype, leak, fb, act, conn):
    r = _reservoir(n, dtype, leak, fb, act, conn, seed=n + B)
    g = torch.Generator().manual_seed(0)
    T = 45
    u = torch.randn(B, T, 2, generator=g, dtype=torch.float64).to(dtype)
    teacher = torch.randn(B, T, max(fb, 1), generator=g, dtype=torch.float64).to(dtype)[..., :fb]
    drive = r.input_drive(u, B, T)
    if fb:
        drive = drive + teacher @ r.W_fb.T
    x0 = 0.1 * torch.randn(B, n, generator=g, dtype=torch.float64).to(dtype)
    fast = unroll(r, drive, x0, backend="native")
    slow = unroll(r, drive, x0, backend="torch")
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    torch.testing.assert_close(fast.states, slow.states, rtol=0, atol=tol)
    torch.testing.assert_close(fast.x, slow.x, rtol=0, atol=tol)
    if dtype == torch.float64:
        w = Weights(r)
        for b in (0, B - 1):
            # the reference feeds back Y[t-1]: the teacher already shifted into the drive is y[t]
            # here, so give it the teacher with one step of lead
            y_ref = np.vstack([teacher[b, 1:].numpy(), np.zeros((1, fb))]) if fb else None
            ref = harvest(w, u[b].numpy(), y_ref, x0=x0[b].numpy(), y0=teacher[b, 0].numpy() if fb else None)
            np.testing.assert_allclose(fast.states[b].numpy(), ref, rtol=0, atol=1e-12)


@needs_kernel
@pytest.mark.parametrize("dtype,B,use_input", [(torch.float64, 1, True), (torch.float64, 5, False),
                                               (torch.float32, 3, True)])
def test_closed_loop_and_driven_readout_in_the_kernel(dtype, B, use_input):
    n, D = 80, 2
    r = _reservoir(n, dtype, 0.6, D, "tanh", None, seed=7)
    g = torch.Generator().manual_seed(1)
    F = int(use_input) * D + n + 1
    readout = ek.Readout(0.05 * torch.randn(D, F, generator=g, dtype=torch.float64).to(dtype),
                         input_size=D, use_bias=True, use_input=use_input)
    x0 = 0.1 * torch.randn(B, n, generator=g, dtype=torch.float64).to(dtype)
    y0 = torch.randn(B, D, generator=g, dtype=torch.float64).to(dtype)
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    # free run: outputs are the next inputs and the feedback
    M = r.W_fb + r.W_in
    kw = dict(readout=readout, feedback=M, y0=y0, inputs_from_outputs=True)
    fast = unroll(r, r.input_drive(None, B, 60), x0, backend="native", **kw)
    slow = unroll(r, r.input_drive(None, B, 60), x0, backend="torch", **kw)
    torch.testing.assert_close(fast.outputs, slow.outputs, rtol=0, atol=tol)
    torch.testing.assert_close(fast.states, slow.states, rtol=0, atol=tol)
    # the fused run equals single steps, each a separate kernel call carrying (x, y)
    x, y, outs = x0, y0, []
    for _ in range(60):
        one = unroll(r, r.input_drive(None, B, 1), x, backend="native", **{**kw, "y0": y})
        x, y = one.x, one.y
        outs.append(one.outputs)
    torch.testing.assert_close(torch.cat(outs, 1), fast.outputs, rtol=0, atol=tol)
    # driven with feedback of the model's own output
    u = torch.randn(B, 30, D, generator=g, dtype=torch.float64).to(dtype)
    kw = dict(readout=readout, inputs=u, feedback=r.W_fb, y0=y0)
    fast = unroll(r, r.input_drive(u, B, 30), x0, backend="native", keep_states=False, **kw)
    slow = unroll(r, r.input_drive(u, B, 30), x0, backend="torch", keep_states=False, **kw)
    assert fast.states is None
    torch.testing.assert_close(fast.outputs, slow.outputs, rtol=0, atol=tol)
    torch.testing.assert_close(fast.y, slow.y, rtol=0, atol=tol)
    if dtype == torch.float64 and B == 1:
        w = Weights(r)
        W_out = readout.weight.numpy()
        xr, yr = x0[0].numpy(), y0[0].numpy()
        for t in range(30):
            xr = step(w, xr, u[0, t].numpy(), yr)
            yr = W_out @ features(torch.from_numpy(xr), u[0, t], True, use_input).numpy()
            np.testing.assert_allclose(fast.outputs[0, t].numpy(), yr, rtol=0, atol=1e-12)


@needs_kernel
def test_esn_results_agree_between_backends():
    s = ek.datasets.mackey_glass(1500)
    runs = {}
    for name in ("native", "torch"):
        with use_backend(name):
            esn = ek.ESN(150, leak_rate=0.5, feedback_scaling=0.1, washout=50, ridge=1e-5, chunk_size=333,
                         seed=0)
            esn.fit(s[:1000], s[1:1001])
            runs[name] = (esn.predict(s[1001:1200]), esn.generate(150))
    for a, b in zip(runs["native"], runs["torch"]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-8)


@needs_kernel
def test_non_finite_states_are_reported_from_the_kernel():
    r = ek.Reservoir.random(30, 1, spectral_radius=3.0, activation="identity", seed=0)
    drive = r.input_drive(torch.ones(1, 1000, 1, dtype=torch.float64), 1, 1000)  # 3^1000 overflows
    with pytest.raises(ek.NonFiniteStateError, match="first non-finite at step"):
        unroll(r, drive, torch.ones(1, 30, dtype=torch.float64), backend="native")


def test_streaming_normal_equations_equal_the_materialised_product():
    g = torch.Generator().manual_seed(0)
    Z = torch.randn(1000, 41, generator=g, dtype=torch.float64)
    Y = torch.randn(1000, 3, generator=g, dtype=torch.float64)
    ne = NormalEquations(41, 3)
    for lo in range(0, 1000, 97):
        ne.update(Z[lo:lo + 97].float().double(), Y[lo:lo + 97])  # float32 rows are promoted
    Zr = Z.float().double()
    torch.testing.assert_close(ne.G, Zr.T @ Zr, rtol=1e-13, atol=1e-11)
    torch.testing.assert_close(ne.C, Zr.T @ Y, rtol=1e-13, atol=1e-11)
    W = solve_normal_equations(ne.G, ne.C, 1e-6)
    W_direct = torch.linalg.solve(Zr.T @ Zr + 1e-6 * torch.eye(41, dtype=torch.float64), Zr.T @ Y).T
    torch.testing.assert_close(W, W_direct, rtol=1e-10, atol=1e-12)


def test_fit_is_the_same_for_any_chunking(mackey):
    s = mackey[:1200]
    # compared through the outputs: with reservoir states this collinear the weights themselves
    # move with rounding (the condition number of G + ridge I is ~1e10 even at ridge=1e-5)
    fits = [ek.ESN(100, washout=30, ridge=1e-5, chunk_size=c, seed=1).fit(s[:-1], s[1:]).predict(s[:-1])
            for c in (None, 64, 1199)]
    for f in fits[1:]:
        np.testing.assert_allclose(f, fits[0], rtol=0, atol=1e-8)


def test_fallback_to_the_torch_loop_warns_once(monkeypatch):
    monkeypatch.setattr(native, "_load", lambda: (None, "not built (test)"))
    monkeypatch.setattr(native, "_warned", False)
    r = ek.Reservoir.random(20, 1, seed=0)
    drive = r.input_drive(torch.ones(1, 10, 1, dtype=torch.float64), 1, 10)
    x0 = torch.zeros(1, 20, dtype=torch.float64)
    with pytest.warns(native.NativeKernelWarning, match="not built"):
        a = unroll(r, drive, x0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = unroll(r, drive, x0)
    torch.testing.assert_close(a.states, b.states)
    with pytest.raises(RuntimeError, match="unavailable"):
        unroll(r, drive, x0, backend="native")


def test_backend_names_are_checked():
    with pytest.raises(ValueError, match="backend must be one of"):
        with use_backend("fortran"):
            pass


@pytest.mark.cuda
@pytest.mark.parametrize("n, B", [(300, 1), (300, 16), (3000, 1), (3000, 16)])
def test_cuda_graph_loop_equals_the_eager_loop(n, B):
    from esnkit.loop.cuda_graph import _graph_layout

    D = 1
    r = ek.Reservoir.random(n, D, D, leak_rate=0.7, bias_scaling=0.3, feedback_scaling=0.5, seed=2).to("cuda")
    assert _graph_layout(r, B) == ("gather" if n == 3000 else "dense")  # both ways a captured step holds W
    readout = ek.Readout(0.05 * torch.randn(D, n + 1 + D, dtype=torch.float64, device="cuda"),
                         input_size=D, use_bias=True, use_input=True)
    x0 = torch.zeros(B, n, dtype=torch.float64, device="cuda")
    y0 = torch.zeros(B, D, dtype=torch.float64, device="cuda")
    T = 5 * 64 + 17  # several replayed blocks and an eager remainder
    kw = dict(readout=readout, feedback=r.W_fb + r.W_in, y0=y0, inputs_from_outputs=True)
    graph = unroll(r, r.input_drive(None, B, T), x0, backend="cuda-graph", **kw)
    eager = unroll(r, r.input_drive(None, B, T), x0, backend="torch", **kw)
    torch.testing.assert_close(graph.outputs, eager.outputs, rtol=0, atol=1e-12)
    torch.testing.assert_close(graph.states, eager.states, rtol=0, atol=1e-12)
    u = torch.randn(B, T, 1, dtype=torch.float64, device="cuda")
    d = r.input_drive(u, B, T)
    torch.testing.assert_close(unroll(r, d, x0, backend="cuda-graph").states,
                               unroll(r, d, x0, backend="torch").states, rtol=0, atol=1e-12)
    # a factored drive (teacher forcing: inputs and fed-back targets) equals its materialised tensor
    f = r.drive(u, torch.randn(B, T, D, dtype=torch.float64, device="cuda"), batch=B, steps=T)
    want = unroll(r, f.materialise(), x0, backend="torch").states
    torch.testing.assert_close(unroll(r, f, x0, backend="cuda-graph").states, want, rtol=0, atol=1e-12)
    torch.testing.assert_close(unroll(r, f, x0, backend="torch").states, want, rtol=0, atol=1e-12)


def test_unroll_rejects_wrong_shapes_before_any_backend_runs():
    r = ek.Reservoir.random(20, 1, 1, seed=0)
    drive = r.input_drive(torch.ones(2, 5, 1, dtype=torch.float64), 2, 5)
    x0 = torch.zeros(2, 20, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"drive must have shape \(batch, steps, 20\)"):
        unroll(r, drive[..., :19], x0)
    with pytest.raises(ValueError, match="x0 must have shape"):
        unroll(r, drive, x0[:1])
    with pytest.raises(ValueError, match="y0 must have shape"):
        unroll(r, drive, x0, feedback=r.W_fb)
    with pytest.raises(ValueError, match="one dtype and device"):
        unroll(r, drive, x0.float())
    readout = ek.Readout(torch.zeros(1, 19, dtype=torch.float64), input_size=0, use_bias=True, use_input=False)
    with pytest.raises(ValueError, match="readout reads 19 features"):
        unroll(r, drive, x0, readout=readout, y0=torch.zeros(2, 1, dtype=torch.float64))


@needs_kernel
@pytest.mark.parametrize("B,K,dtype", [(1, 0, torch.float64), (1, 1, torch.float64), (1, 3, torch.float32),
                                       (4, 2, torch.float64), (5, 0, torch.float32), (1, 20, torch.float64),
                                       (1, 12, torch.float32), (3, 20, torch.float64), (2, 80, torch.float64)])
def test_factored_drive_equals_the_materialised_drive_and_the_reference(B, K, dtype):
    # One sequence's drive of 8 inputs or more is computed 32 steps at a time (T = 40: a whole
    # block and a partial one); K = 80 is past FUSED_DRIVE_MAX_INPUTS: the kernel then gets the
    # materialised drive. 90 neurons: a partial vector of neurons.
    assert 20 <= native.FUSED_DRIVE_MAX_INPUTS < 80
    n, T = 90, 40
    r = _reservoir(n, dtype, 0.7, 0, "tanh", None, seed=B + K)
    g = torch.Generator().manual_seed(K)
    v = torch.randn(B, T, K, generator=g, dtype=torch.float64).to(dtype) if K else None
    weight = torch.randn(n, K, generator=g, dtype=torch.float64).to(dtype) if K else None
    drive = ek.Drive(v, weight, r.bias, B, T)
    x0 = 0.1 * torch.randn(B, n, generator=g, dtype=torch.float64).to(dtype)
    fused = unroll(r, drive, x0, backend="native")
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    for other in (unroll(r, drive.materialise(), x0, backend="native"), unroll(r, drive, x0, backend="torch")):
        torch.testing.assert_close(fused.states, other.states, rtol=0, atol=tol)
    if dtype == torch.float64:
        # the reference reservoir with W_in := weight, driven by v
        w = Weights(r)
        w.W_in = weight.numpy() if K else np.zeros((n, 0))
        for b in (0, B - 1):
            ref = harvest(w, v[b].numpy() if K else np.zeros((T, 0)), None, x0=x0[b].numpy())
            np.testing.assert_allclose(fused.states[b].numpy(), ref, rtol=0, atol=1e-12)


def test_drive_cat_stacks_along_neurons_and_checks_its_parts():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(2, 5, 3, generator=g, dtype=torch.float64)
    a = ek.Drive(v, torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, dtype=torch.float64), 2, 5)
    b = ek.Drive(v, torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(6, dtype=torch.float64), 2, 5)
    both = ek.Drive.cat([a, b])
    assert both.shape == (2, 5, 10)
    torch.testing.assert_close(both.materialise(), torch.cat([a.materialise(), b.materialise()], -1))
    with pytest.raises(ValueError, match="same batch, steps and inputs"):
        ek.Drive.cat([a, ek.Drive(None, None, torch.zeros(3, dtype=torch.float64), 2, 5)])
    with pytest.raises(ValueError, match="drive.v must have shape"):
        ek.Drive(v[:, :4], a.weight, a.bias, 2, 5)
    with pytest.raises(ValueError, match="drive.weight must have shape"):
        ek.Drive(v, a.weight[:, :2], a.bias, 2, 5)
    with pytest.raises(ValueError, match="v and weight together"):
        ek.Drive(v, None, a.bias, 2, 5)
    r = ek.Reservoir.random(5, 3, seed=0)  # 5 neurons, the drive has 4
    with pytest.raises(ValueError, match=r"drive must have shape \(batch, steps, 5\)"):
        unroll(r, a, torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="share one dtype"):
        unroll(ek.Reservoir.random(4, 3, seed=0), ek.Drive(v.float(), a.weight, a.bias, 2, 5),
               torch.zeros(2, 4, dtype=torch.float64))


@pytest.mark.parametrize("backend", ["torch", pytest.param("native", marks=needs_kernel)])
def test_states_out_receives_the_states_in_a_strided_view(backend):
    r = ek.Reservoir.random(30, 1, seed=1)
    u = torch.randn(2, 25, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x0 = torch.zeros(2, 30, dtype=torch.float64)
    buf = torch.full((2, 25, 33), 7.0, dtype=torch.float64)
    out = unroll(r, r.input_drive(u, 2, 25), x0, states_out=buf[..., 3:], backend=backend)
    want = unroll(r, r.input_drive(u, 2, 25), x0, backend=backend).states
    assert out.states.data_ptr() == buf[..., 3:].data_ptr()
    # The kernel keeps its state in its own buffer: bit for bit. The PyTorch loop steps from the
    # state it wrote into the view, and MKL may round a product of an operand at another alignment
    # differently in the last bit (seen on an AMD EPYC).
    tol = 0 if backend == "native" else 1e-15
    torch.testing.assert_close(buf[..., 3:], want, rtol=tol, atol=tol)
    assert (buf[..., :3] == 7.0).all()  # the columns around the view are left alone
    with pytest.raises(ValueError, match="states_out must have shape"):
        unroll(r, r.input_drive(u, 2, 25), x0, states_out=buf[:, :5, 3:])
    with pytest.raises(ValueError, match="contiguous last axis"):
        unroll(r, r.input_drive(u, 2, 25), x0, states_out=torch.zeros(2, 30, 25, dtype=torch.float64).transpose(1, 2))


def _mirror_with(fields):
    return type("_Args", (ctypes.Structure,), {"_fields_": fields})


@needs_kernel
@pytest.mark.parametrize("change,field", [
    ("move", "leak"),  # a field declared elsewhere on one side: every offset after it moves
    ("resize", "steps"),  # int32 instead of int64: the next field's offset is the same (alignment)
    ("drop", "in_bias"),  # the last field missing from the mirror
    ("add", "extra"),  # a field the C struct does not have
])
def test_a_ctypes_mirror_that_disagrees_with_the_c_struct_disables_the_kernel(monkeypatch, change, field):
    fields = list(native._Args._fields_)
    names = [f[0] for f in fields]
    if change == "move":
        fields.append(fields.pop(names.index(field)))
    elif change == "resize":
        fields[names.index(field)] = (field, ctypes.c_int32)
    elif change == "drop":
        fields.pop(names.index(field))
    else:
        fields.append((field, ctypes.c_int64))
    monkeypatch.setattr(native, "_Args", _mirror_with(fields))
    monkeypatch.setattr(native, "_warned", False)
    native._load.cache_clear()
    try:
        with pytest.warns(native.NativeKernelWarning, match=f"'{field}'"):
            assert not native.available()
        assert f"'{field}'" in native.unavailable_reason()
        r = ek.Reservoir.random(20, 1, seed=0)
        drive = r.input_drive(torch.ones(1, 5, 1, dtype=torch.float64), 1, 5)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # said once, at load
            unroll(r, drive, torch.zeros(1, 20, dtype=torch.float64))  # the PyTorch loop runs
        with pytest.raises(RuntimeError, match="does not match native._Args"):
            unroll(r, drive, torch.zeros(1, 20, dtype=torch.float64), backend="native")
    finally:
        monkeypatch.undo()
        native._load.cache_clear()
    assert native.available()


@needs_kernel
def test_the_built_kernel_matches_its_ctypes_mirror():
    lib = native._load()[0]
    assert native._layout_mismatch(lib, native._Args) == ""
    assert lib.esn_args_fields() == len(native._Args._fields_)
    assert lib.esn_args_size() == ctypes.sizeof(native._Args)
    assert [lib.esn_args_offset(i) for i in range(len(native._Args._fields_))] == \
        [getattr(native._Args, f[0]).offset for f in native._Args._fields_]
    assert [lib.esn_args_field_size(i) for i in range(len(native._Args._fields_))] == \
        [getattr(native._Args, f[0]).size for f in native._Args._fields_]
    assert lib.esn_args_name(len(native._Args._fields_)) is None  # past the last field


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n,D,B,conn,leak,act", [
    (90, 1, 17, None, 1.0, "tanh"),  # one output: dot products of partial sums; 17 = 2 vectors and 1
    (70, 64, 3, None, "per-neuron", "tanh"),  # 64 outputs: term after term; 70 neurons: a partial vector
    (60, 5, 10, 0.5, 0.6, "sigmoid"),  # dense W
])
def test_a_batch_equals_each_sequence_run_alone_bit_for_bit(dtype, n, D, B, conn, leak, act):
    # Every sum is taken in an order fixed by its operands' shapes, in the one-sequence code and the
    # batched code alike (see _kernel.c): a forecast made in a batch is the forecast made alone.
    leak = np.random.default_rng(n).uniform(0.1, 1.0, n) if leak == "per-neuron" else leak
    r = ek.Reservoir.random(n, D, D, spectral_radius=0.8, connectivity=conn, bias_scaling=0.3, feedback_scaling=0.2,
                            leak_rate=leak, activation=act, seed=n + D, dtype=dtype)
    g = torch.Generator().manual_seed(D)
    F = 1 + D + n
    readout = ek.Readout((0.5 / F**0.5) * torch.randn(D, F, generator=g, dtype=torch.float64).to(dtype),
                         input_size=D, use_bias=True, use_input=True)
    T = 40
    h = torch.randn(B, T, D, generator=g, dtype=torch.float64).to(dtype)
    teacher = torch.randn(B, T, D, generator=g, dtype=torch.float64).to(dtype)
    drive = r.drive(h, batch=B, steps=T).materialise()
    x0 = 0.1 * torch.randn(B, n, generator=g, dtype=torch.float64).to(dtype)

    def run(s):
        b = len(range(B)[s])
        # the fused drive of D inputs (per step, or in blocks of steps for one sequence), and of
        # inputs plus teacher-forced outputs (2D inputs, materialised for D = 64); a given drive
        warm = unroll(r, r.drive(h[s], batch=b, steps=T), x0[s], backend="native")
        forced = unroll(r, r.drive(h[s], teacher[s], batch=b, steps=T), x0[s], backend="native")
        given = unroll(r, drive[s], x0[s], backend="native", keep_states=False)
        # then free-running, each output the next input
        free = unroll(r, r.drive(None, batch=b, steps=T), warm.x, readout=readout, feedback=r.W_fb + r.W_in,
                      y0=h[s, -1], inputs_from_outputs=True, backend="native")
        return warm.states, forced.states if 2 * D <= native.FUSED_DRIVE_MAX_INPUTS else None, given.x, \
            free.states, free.outputs, free.y

    together = run(slice(None))
    for b in range(B):
        for name, t, alone in zip(("warm", "forced", "given", "free states", "free outputs", "y"), together,
                                  run(slice(b, b + 1))):
            if t is not None:
                assert torch.equal(t[b:b + 1], alone), f"{name} of sequence {b}"


def test_the_kernel_sees_an_in_place_change_to_the_structure_of_w():
    r = ek.Reservoir.random(50, 1, seed=0, in_degree=4)
    drive = r.input_drive(torch.ones(1, 5, 1, dtype=torch.float64), 1, 5)
    x0 = torch.zeros(1, 50, dtype=torch.float64)
    first = unroll(r, drive, x0).states
    with torch.no_grad():
        r.W_col.copy_((r.W_col + 1) % 50)  # another valid structure, same values
    again = unroll(r, drive, x0).states
    with use_backend("torch"):
        torch.testing.assert_close(again, unroll(r, drive, x0).states, rtol=0, atol=1e-14)
    assert not torch.equal(first, again)
