"""Runs one ncps model (the peer of the comparison) and prints its figures as JSON.

Started by ``compare_ncps.py`` with the Python of a separate virtual environment
holding ``ncps==1.0.1`` (see docs/performance.md); it imports neither liquidtime nor
anything outside that environment and this directory.

Usage (one JSON argument)::

    python _ncps_worker.py '{"framework": "torch", "model": "ltc", "variant": "softplus",
                             "batch": 64, "length": 64, "features": 8, "units": 32,
                             "unfolds": 6, "warmup": 3, "steps": 10}'

Models (each followed by a dense layer to one output, MSE loss, Adam 1e-3, the last
output of the sequence, as on liquidtime's side):

- ``torch`` / ``ltc``: ``ncps.torch.LTC(features, units)`` (a fully connected wiring);
  variant ``softplus`` (``implicit_param_constraints=True``, ncps's default) or
  ``clip`` (``False``; ``apply_weight_constraints()`` after each optimizer step).
- ``torch`` / ``cfc``: ``ncps.torch.CfC(features, units)`` (backbone 128 x 1).
- ``keras`` / ``ltc``: ``ncps.keras.LTC`` on the Keras backend of ``KERAS_BACKEND``
  (JAX). ncps initialises ``erev`` and ``sensory_erev`` from the wiring's int32
  adjacency matrices, which JAX cannot differentiate; the worker casts them to
  float32 (the only change to ncps).
- ``keras`` / ``cfc``: ``ncps.keras.CfC(units)``.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from _harness import measure


def _data(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(spec["batch"], spec["length"], spec["features"])).astype("float32")
    y = rng.normal(size=(spec["batch"], 1)).astype("float32")
    return x, y


def torch_model(spec: dict):
    """Returns ``(train_step, infer_step, versions)`` for an ncps.torch model."""
    import ncps
    import torch
    from ncps.torch import LTC, CfC

    torch.manual_seed(0)
    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    features, units = spec["features"], spec["units"]
    if spec["model"] == "ltc":
        rnn = LTC(
            features,
            units,
            return_sequences=False,
            ode_unfolds=spec["unfolds"],
            implicit_param_constraints=spec.get("variant", "softplus") == "softplus",
        )
        outputs = units
    else:
        rnn = CfC(features, units, return_sequences=False)
        outputs = units
    head = torch.nn.Linear(outputs, 1)
    parameters = list(rnn.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    x_np, y_np = _data(spec)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    clip = spec["model"] == "ltc" and spec.get("variant") == "clip"

    def train_step():
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(head(rnn(x)[0]), y)
        loss.backward()
        optimizer.step()
        if clip:
            rnn.rnn_cell.apply_weight_constraints()
        return float(loss)

    def infer_step():
        with torch.no_grad():
            return float(head(rnn(x)[0]).sum())

    versions = {"torch": torch.__version__, "ncps": _version(ncps), "threads": torch.get_num_threads()}
    return train_step, infer_step, versions


def keras_model(spec: dict):
    """Returns ``(train_step, infer_step, versions)`` for an ncps.keras model."""
    import keras
    import ncps
    from ncps.keras import LTC, CfC
    from ncps.wirings import FullyConnected

    np.random.seed(0)  # as liquidtime's worker (keras.utils.set_random_seed imports TensorFlow)
    if spec["model"] == "ltc":
        wiring = FullyConnected(spec["units"])
        # ncps returns the int32 adjacency matrices as erev initial values; JAX cannot
        # take gradients of integer weights, so cast them to float32.
        wiring.erev_initializer = lambda shape=None, dtype=None: np.asarray(
            wiring.adjacency_matrix, dtype="float32"
        )
        wiring.sensory_erev_initializer = lambda shape=None, dtype=None: np.asarray(
            wiring.sensory_adjacency_matrix, dtype="float32"
        )
        rnn = LTC(wiring, ode_unfolds=spec["unfolds"])
    else:
        rnn = CfC(spec["units"])
    inputs = keras.Input((spec["length"], spec["features"]))
    model = keras.Model(inputs, keras.layers.Dense(1)(rnn(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    x, y = _data(spec)

    def train_step():
        return float(np.asarray(model.train_on_batch(x, y)))

    def infer_step():
        return float(np.asarray(model.predict_on_batch(x)).sum())

    versions = {"keras": keras.__version__, "backend": keras.backend.backend(), "ncps": _version(ncps)}
    if keras.backend.backend() == "jax":
        import jax

        versions["jax"] = jax.__version__
    return train_step, infer_step, versions


def _version(module) -> str:
    try:
        from importlib.metadata import version

        return version(module.__name__)
    except Exception:  # noqa: BLE001 - a version string is informative only
        return "?"


def main() -> None:
    spec = json.loads(sys.argv[1])
    build = torch_model if spec["framework"] == "torch" else keras_model
    train_step, infer_step, versions = build(spec)
    result = measure(
        train_step,
        infer_step,
        spec["batch"],
        spec["warmup"],
        spec["steps"],
        spec.get("modes", "infer,train"),
        spec.get("min_seconds", 0.0),
    )
    print(json.dumps({**result, **versions}))


if __name__ == "__main__":
    main()
