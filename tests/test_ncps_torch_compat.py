"""ncps.torch users: ``liquidtime.compat.ncps.torch`` against ncps.torch itself.

The module runs on Keras's PyTorch backend only: the tests that use it are marked
``backends`` and skip unless the backend is torch (``tests/test_backends.py`` reruns
them under torch); the example runs in a torch-backend subprocess. ncps 1.0.1 is a
test-only dependency.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def on_torch(test):
    """Marks a test ``backends`` and skips it unless Keras's backend is torch."""
    skip = pytest.mark.skipif(
        keras.backend.backend() != "torch",
        reason="liquidtime.compat.ncps.torch needs Keras's torch backend",
    )
    return pytest.mark.backends(skip(test))


B, T, M = 3, 6, 4
EXAMPLE = ROOT / "examples" / "ncps_torch_migration.py"


@pytest.mark.slow(reason="trains three small models in a torch-backend subprocess")
def test_the_migration_example_runs_with_only_its_imports_changed(tmp_path):
    source = EXAMPLE.read_text()
    ncps_imports = source.replace(
        "from liquidtime.compat.ncps.torch import", "from ncps.torch import"
    ).replace("from liquidtime.compat.ncps.wirings import", "from ncps.wirings import")
    changed = [
        (a, b) for a, b in zip(source.splitlines(), ncps_imports.splitlines()) if a != b
    ]
    assert len(changed) == 2  # the script is ncps.torch code apart from two import lines
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=900, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "streamed output: (4, 1) state: (16,)" in result.stdout
    assert (tmp_path / "checkpoint.pt").exists()


@pytest.fixture
def modules():
    """(ncps.torch, ncps.wirings, our torch module, our wirings, torch)."""
    pytest.importorskip("ncps", reason="ncps==1.0.1 is a test-only dependency")
    import torch
    from ncps import torch as ncps_torch
    from ncps import wirings as ncps_wirings

    from liquidtime.compat.ncps import torch as ours
    from liquidtime.compat.ncps import wirings as our_wirings

    torch.manual_seed(0)
    return ncps_torch, ncps_wirings, ours, our_wirings, torch


def randomize(module, torch, seed=0):
    """Random trainable parameters (ncps initialises some to constants)."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            if parameter.requires_grad:
                parameter.copy_(torch.tensor(rng.normal(scale=0.5, size=tuple(parameter.shape))))


def run(module, torch, x, hx=None, timespans=None):
    with torch.no_grad():
        output, state = module(torch.tensor(x), hx, None if timespans is None else torch.tensor(timespans))
    states = state if isinstance(state, tuple) else (state,)
    return [output.numpy(), *(s.numpy() for s in states)]


def assert_same(module, twin, torch, x, hx=None, timespans=None):
    expected = run(module, torch, x, hx, timespans)
    got = run(twin, torch, x, hx, timespans)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def data(seed, shape=(B, T, M)):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def timespans(seed, shape):
    return np.random.default_rng(seed).uniform(0.2, 2.0, size=shape).astype("float32")


def check_equivalence(module, twin, torch, mixed=False, units=None):
    """Batched, unbatched, with and without timespans, with an initial state.

    ncps squeezes ``timespans[:, t]``, so with timespans it runs one sequence only.
    """
    randomize(module, torch)
    twin.load_state_dict(module.state_dict())
    assert_same(module, twin, torch, data(1))
    assert_same(module, twin, torch, data(2, (T, M)))
    assert_same(module, twin, torch, data(3, (T, M)), timespans=timespans(4, (T,)))
    assert_same(module, twin, torch, data(5, (1, T, M)), timespans=timespans(6, (1, T)))
    h = torch.tensor(data(7, (B, units)))
    hx = (h, torch.tensor(data(8, (B, units)))) if mixed else h
    assert_same(module, twin, torch, data(9), hx=hx)


@on_torch
@pytest.mark.parametrize("wired", [False, True])
@pytest.mark.parametrize("mixed", [False, True])
@pytest.mark.parametrize("implicit", [True, False])
def test_ltc_gives_ncps_outputs(modules, wired, mixed, implicit):
    nt, nw, ours, _, torch = modules
    from liquidtime.compat import wiring_from_ncps

    units = 10
    if wired:
        ncps_wiring = nw.AutoNCP(units, 2, seed=5)
        module = nt.LTC(M, ncps_wiring, mixed_memory=mixed, ode_unfolds=3,
                        implicit_param_constraints=implicit)
        twin = ours.LTC(M, wiring_from_ncps(ncps_wiring), mixed_memory=mixed, ode_unfolds=3,
                        implicit_param_constraints=implicit)
    else:
        module = nt.LTC(M, units, mixed_memory=mixed, implicit_param_constraints=implicit)
        twin = ours.LTC(M, units, mixed_memory=mixed, implicit_param_constraints=implicit)
    if not implicit:  # ncps stores the values then: they must be positive
        randomize(module, torch)
        with torch.no_grad():
            for name in ("gleak", "cm", "w", "sensory_w"):
                getattr(module.rnn_cell, name).abs_()
        twin.load_state_dict(module.state_dict())
        assert_same(module, twin, torch, data(1))
        return
    check_equivalence(module, twin, torch, mixed=mixed, units=units)


@pytest.mark.parametrize(
    "mode, mixed, proj_size",
    [("default", False, None), ("no_gate", False, None), ("pure", False, None),
     ("default", True, None), ("default", False, 3), ("pure", True, 2)],
)
@on_torch
def test_cfc_gives_ncps_outputs(modules, mode, mixed, proj_size):
    nt, _, ours, _, torch = modules
    kwargs = {"mode": mode, "mixed_memory": mixed, "proj_size": proj_size, "backbone_units": 7,
              "backbone_layers": 2}
    check_equivalence(nt.CfC(M, 5, **kwargs), ours.CfC(M, 5, **kwargs), torch, mixed=mixed, units=5)


@on_torch
@pytest.mark.parametrize("mode, mixed", [("pure", False), ("default", False), ("pure", True)])
def test_wired_cfc_gives_ncps_outputs(modules, mode, mixed):
    """ncps orders the wired CfC's state (and its LSTM) by layer: inter, command, motor."""
    nt, nw, ours, _, torch = modules
    from liquidtime.compat import wiring_from_ncps

    ncps_wiring = nw.AutoNCP(12, 2, seed=9)
    module = nt.CfC(M, ncps_wiring, mode=mode, proj_size=1, mixed_memory=mixed)
    twin = ours.CfC(M, wiring_from_ncps(ncps_wiring), mode=mode, proj_size=1, mixed_memory=mixed)
    randomize(module, torch)
    if mode == "default":
        with pytest.raises(ValueError, match="does not mask its time gates"):
            twin.load_state_dict(module.state_dict())
        with torch.no_grad():  # time-gate weights only on the synapses: then the same model
            for layer in module.rnn_cell._layers:
                layer.time_a.weight.mul_(layer.sparsity_mask)
                layer.time_b.weight.mul_(layer.sparsity_mask)
    twin.load_state_dict(module.state_dict())
    assert_same(module, twin, torch, data(1))
    assert_same(module, twin, torch, data(2, (T, M)), timespans=timespans(3, (T,)))
    h = torch.tensor(data(4, (B, 12)))
    assert_same(module, twin, torch, data(5), hx=(h, torch.tensor(data(6, (B, 12)))) if mixed else h)


@on_torch
def test_batch_first_false_and_last_output(modules):
    nt, _, ours, _, torch = modules
    for kwargs in ({"batch_first": False}, {"return_sequences": False},
                   {"batch_first": False, "return_sequences": False}):
        module = nt.CfC(M, 5, backbone_units=8, **kwargs)
        twin = ours.CfC(M, 5, backbone_units=8, **kwargs)
        randomize(module, torch)
        twin.load_state_dict(module.state_dict())
        x = data(1, (T, B, M)) if kwargs.get("batch_first") is False else data(1)
        assert_same(module, twin, torch, x)


@on_torch
def test_ncps_cells_give_ncps_outputs(modules):
    nt, nw, ours, _, torch = modules
    from liquidtime.compat import wiring_from_ncps

    x, h = torch.tensor(data(1, (B, M))), torch.tensor(data(2, (B, 6)))
    ts = torch.tensor(timespans(3, (1,)))[0]
    pairs = [
        (nt.CfCCell(M, 6, backbone_units=8), ours.CfCCell(M, 6, backbone_units=8)),
        (nt.CfCCell(M, 6, mode="pure"), ours.CfCCell(M, 6, mode="pure")),
    ]
    ncps_wiring = nw.FullyConnected(6, 2)
    ncps_wiring.build(M)
    pairs.append((nt.LTCCell(ncps_wiring, M), ours.LTCCell(wiring_from_ncps(ncps_wiring), M)))
    auto = nw.AutoNCP(6, 2, seed=1)
    pure = nt.WiredCfCCell(M, auto, mode="pure")
    pairs.append((pure, ours.WiredCfCCell(M, wiring_from_ncps(auto), mode="pure")))
    for module, twin in pairs:
        randomize(module, torch)
        if isinstance(module, nt.LTCCell):
            with torch.no_grad():
                for name in ("gleak", "cm", "w", "sensory_w"):
                    getattr(module, name).abs_()
        twin.load_state_dict(module.state_dict())
        for step in (1.0, ts):
            with torch.no_grad():
                expected = module(x, h, step)
                got = twin(x, h, step)
            for g, e in zip(got, expected):
                np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-5, atol=1e-5)


@on_torch
def test_adam_over_parameters_trains_and_state_dict_round_trips(modules, tmp_path):
    _, _, ours, our_wirings, torch = modules
    for make in (lambda: ours.CfC(M, our_wirings.AutoNCP(10, 2), proj_size=1),
                 lambda: ours.LTC(M, 6, mixed_memory=True),
                 lambda: ours.CfC(M, 5, backbone_units=8, proj_size=1, mixed_memory=True)):
        model = make()
        x, y = torch.tensor(data(1)), torch.tensor(data(2, (B, T, 1)))
        optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
        losses = []
        for _ in range(8):
            output, _ = model(x)
            loss = torch.mean((output[..., :1] - y) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[-1] < losses[0]
        assert all(p.grad is not None for p in model.parameters() if p.requires_grad)

        torch.save(model.state_dict(), tmp_path / "model.pt")
        restored = make()
        assert sorted(restored.state_dict()) == sorted(model.state_dict())
        before = run(restored, torch, data(3))[0]
        restored.load_state_dict(torch.load(tmp_path / "model.pt"))
        after = run(restored, torch, data(3))[0]
        np.testing.assert_array_equal(after, run(model, torch, data(3))[0])
        assert not np.array_equal(before, after)


@on_torch
def test_clip_constraints_apply_after_a_torch_step(modules):
    _, _, ours, _, torch = modules
    model = ours.LTC(M, 5, implicit_param_constraints=False)
    with torch.no_grad():
        model.rnn["cell/gleak"].fill_(-1.0)
    model.apply_weight_constraints()
    assert float(model.rnn["cell/gleak"].detach().min()) > 0


@on_torch
def test_bad_calls_get_clear_errors(modules):
    _, _, ours, _, torch = modules
    plain, mixed = ours.CfC(M, 5), ours.LTC(M, 5, mixed_memory=True)
    x = torch.tensor(data(1))
    with pytest.raises(ValueError, match="`hx`, expected a 2-D tensor for batched"):
        plain(x, torch.zeros(5))
    with pytest.raises(ValueError, match="`hx`, expected a 1-D tensor for unbatched"):
        plain(x[0], torch.zeros(1, 5))
    with pytest.raises(ValueError, match=r"expected a pair \(h, c\)"):
        mixed(x, torch.zeros(B, 5))
    with pytest.raises(ValueError, match="`input`, expected a 3-D tensor"):
        plain(torch.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match="elapsed times must be >= 0"):
        plain(x, timespans=-torch.ones(B, T))
    with pytest.raises(ValueError, match="Cannot use backbone_units in wired mode"):
        from liquidtime.compat.ncps.wirings import AutoNCP

        ours.CfC(M, AutoNCP(10, 2), backbone_units=8)
