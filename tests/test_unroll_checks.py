"""esnkit.unroll and Reservoir are public and the native kernel trusts their pointers: every wrong
shape, dtype, device or CSR structure is a ValueError before a loop runs, never a crash, and any
strides are fine."""

import copy
import pickle

import pytest
import torch

import esnkit as ek
from esnkit import native
from esnkit.loop import unroll

BACKENDS = ["torch", pytest.param("native", marks=pytest.mark.skipif(not native.available(),
                                                                      reason="no native kernel"))]
f64 = torch.float64


def _setup(B=2, T=6, N=20, D=2):
    r = ek.Reservoir.random(N, 1, D, seed=0, feedback_scaling=0.5)
    g = torch.Generator().manual_seed(1)
    u = torch.randn(B, T, 1, generator=g, dtype=f64)
    readout = ek.Readout(0.1 * torch.randn(D, 1 + 1 + N, generator=g, dtype=f64), input_size=1, use_bias=True,
                         use_input=True)
    return r, u, readout, torch.zeros(B, N, dtype=f64), torch.zeros(B, D, dtype=f64)


def test_wrong_shapes_are_refused():
    r, u, readout, x0, y0 = _setup()
    drive = r.input_drive(u, 2, 6)
    cases = {
        "drive must have shape": dict(drive=drive[..., :-1]),
        "x0 must have shape": dict(x0=x0[:, :-1]),
        "y0 must have shape": dict(readout=readout, inputs=u, y0=y0[:, :1]),
        "feedback must have shape": dict(feedback=r.W_fb[:, 0], y0=y0),
        "inputs must have shape": dict(readout=readout, inputs=u[:, :3], y0=y0),
        "readout's weight must be": dict(readout=ek.Readout(readout.weight[0], input_size=1, use_bias=True,
                                                            use_input=True), y0=y0),
        "readout reads 22 features": dict(readout=readout, inputs=u, y0=y0, x0=torch.zeros(2, 19, dtype=f64),
                                          drive=drive[..., :19]),
    }
    for message, kw in cases.items():
        if "readout reads" in message:  # a reservoir of 19 neurons with a readout for 20
            kw = {**kw}
            small = ek.Reservoir.random(19, 1, seed=0)
            with pytest.raises(ValueError, match=message):
                unroll(small, kw.pop("drive"), kw.pop("x0"), **kw)
            continue
        args = {"drive": drive, "x0": x0, **kw}
        with pytest.raises(ValueError, match=message):
            unroll(r, args.pop("drive"), args.pop("x0"), **args)


def test_wrong_dtypes_and_devices_are_refused():
    r, u, readout, x0, y0 = _setup()
    drive = r.input_drive(u, 2, 6)
    single = ek.Reservoir.random(20, 1, 2, seed=0, dtype=torch.float32)
    cases = [
        (r, drive.long(), dict(x0=x0.long())),                       # integers throughout
        (single, drive, dict(x0=x0)),                                 # a float32 reservoir, float64 states
        (r, drive, dict(x0=x0, readout=ek.Readout(readout.weight.float(), input_size=1, use_bias=True,
                                                   use_input=True), inputs=u, y0=y0)),
        (r, drive, dict(x0=x0, feedback=r.W_fb.float(), y0=y0)),
        (r, drive, dict(x0=torch.zeros(2, 20, dtype=f64, device="meta"))),
    ]
    for reservoir, d, kw in cases:
        with pytest.raises(ValueError, match="must share one dtype and device"):
            unroll(reservoir, d, kw.pop("x0"), **kw)
    with pytest.raises(TypeError, match="x0 must be a torch.Tensor"):
        unroll(r, drive, x0.numpy())
    with pytest.raises(TypeError, match="reservoir must be an esnkit Reservoir"):
        unroll("W", drive, x0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_any_strides_give_the_same_run(backend):
    r, u, readout, x0, y0 = _setup()
    g = torch.Generator().manual_seed(3)
    x0 = 0.1 * torch.randn(2, 20, generator=g, dtype=f64)
    drive = r.input_drive(u, 2, 6)
    want = unroll(r, drive, x0, readout=readout, inputs=u, feedback=r.W_fb, y0=y0, backend=backend)
    # the same values in strided views: transposed, every other element, a column of a wider tensor
    strided = dict(
        drive=drive.transpose(0, 1).contiguous().transpose(0, 1),
        x0=torch.stack([x0, x0], -1)[..., 0],
        inputs=torch.cat([u, u], -1)[..., :1],
        feedback=r.W_fb.T.contiguous().T,
        y0=y0.T.contiguous().T,
    )
    assert not any(t.is_contiguous() for t in strided.values())
    got = unroll(r, strided.pop("drive"), strided.pop("x0"), readout=readout, backend=backend, **strided)
    for a, b in ((got.states, want.states), (got.outputs, want.outputs)):  # BLAS may sum strided operands
        torch.testing.assert_close(a, b, rtol=0, atol=1e-14)                  # in another order
    # a factored drive whose inputs are a strided view
    f = r.drive(torch.cat([u, u], -1)[..., 1:], batch=2, steps=6)
    assert not f.v.is_contiguous()
    torch.testing.assert_close(unroll(r, f, x0, backend=backend).states,
                               unroll(r, drive, x0, backend=backend).states, rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="states_out needs a contiguous last axis"):
        unroll(r, drive, x0, states_out=torch.empty(2, 6, 40, dtype=f64)[..., ::2], backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("B", [1, 3])  # the native kernel's SELL layout for one sequence, CSR for a batch
def test_a_reservoir_changed_after_construction_is_checked_again(backend, B):
    r = ek.Reservoir.random(300, 1, seed=0)  # sparse: the kernel reads W's indices
    drive, x0 = r.input_drive(torch.ones(B, 4, 1, dtype=f64), B, 4), torch.zeros(B, 300, dtype=f64)
    unroll(r, drive, x0, backend=backend)  # checked and remembered
    changes = {
        r"W_col\[5\] = 1000000 is not a column": lambda r: r.W_col.__setitem__(5, 10**6),       # in place
        r"W_col\[0\] = -3 is not a column": lambda r: r.W_col.__setitem__(0, -3),
        r"W_crow must be non-decreasing": lambda r: setattr(r, "W_crow", r.W_crow.index_fill(0, torch.tensor([5]), 0)),
        r"W_crow\[-1\] = 2999 must equal": lambda r: r.W_crow.__setitem__(-1, 2999),
        r"W_col must be a 1-D int64 tensor": lambda r: setattr(r, "W_col", r.W_col.int()),
        r"W_values contains NaN": lambda r: r.W_values.__setitem__(9, float("nan")),
        r"leak must lie in \(0, 1\]": lambda r: r.leak.fill_(0),
        r"W_values must have shape": lambda r: setattr(r, "W_values", r.W_values[:-1]),
    }
    for message, change in changes.items():
        bad = copy.deepcopy(r)
        change(bad)
        with pytest.raises(ValueError, match=message):
            unroll(bad, drive, x0, backend=backend)
    assert unroll(r, drive, x0, backend=backend).states.isfinite().all()


def test_the_constructor_validates_the_csr_structure_and_values():
    r = ek.Reservoir.random(10, 1, seed=0)
    parts = dict(W_crow=r.W_crow, W_col=r.W_col, W_values=r.W_values, W_in=r.W_in, W_fb=r.W_fb, bias=r.bias,
                 leak=r.leak)
    bad = {
        r"W_col\[2\] = 10 is not a column": dict(W_col=r.W_col.clone().index_fill_(0, torch.tensor([2]), 10)),
        r"W_crow\[0\] must be 0": dict(W_crow=r.W_crow + 1),
        r"W_crow must be a 1-D int64": dict(W_crow=r.W_crow.int()),
        r"must share one floating dtype": dict(bias=r.bias.float()),
        r"bias contains NaN": dict(bias=torch.full_like(r.bias, float("nan"))),
        r"leak must lie in \(0, 1\], got leak\[0\] = 2": dict(leak=torch.full_like(r.leak, 2.0)),
        r"every buffer must be on one device": dict(leak=r.leak.to("meta")),
    }
    for message, change in bad.items():
        with pytest.raises(ValueError, match=message):
            ek.Reservoir(**{**parts, **change})
    with pytest.raises(TypeError, match="W_in must be a torch.Tensor"):
        ek.Reservoir(**{**parts, "W_in": r.W_in.numpy()})


def test_a_checked_reservoir_copies_and_pickles():
    r = ek.Reservoir.random(30, 1, seed=0)
    for other in (copy.deepcopy(r), pickle.loads(pickle.dumps(r))):
        other.W_col[0] = 99
        with pytest.raises(ValueError, match="is not a column"):
            other.check()
    r.check()


def test_empty_runs_and_empty_reservoirs():
    r = ek.Reservoir.random(30, 1, seed=0)
    for B, T in ((0, 5), (2, 0)):
        with pytest.raises(ValueError, match="at least one sequence and one step"):
            unroll(r, torch.zeros(B, T, 30, dtype=f64), torch.zeros(B, 30, dtype=f64))
    i64 = torch.int64
    with pytest.raises(ValueError, match="N >= 1 neurons"):
        ek.Reservoir(torch.zeros(1, dtype=i64), torch.zeros(0, dtype=i64), *(torch.zeros(s, dtype=f64)
                     for s in ((0,), (0, 1), (0, 0), (0,), (0,))))
    # a W without nonzeros is valid; the kernel has no arrays to read, so the PyTorch loop runs it
    empty = ek.Reservoir(torch.zeros(4, dtype=i64), torch.zeros(0, dtype=i64), torch.zeros(0, dtype=f64),
                         torch.ones(3, 1, dtype=f64), torch.zeros(3, 0, dtype=f64), torch.zeros(3, dtype=f64),
                         torch.ones(3, dtype=f64))
    for B in (1, 2):
        out = unroll(empty, empty.input_drive(torch.ones(B, 5, 1, dtype=f64), B, 5), torch.zeros(B, 3, dtype=f64))
        assert torch.equal(out.states, torch.full((B, 5, 3), torch.tanh(torch.tensor(1.0, dtype=f64)).item(),
                                                  dtype=f64))
