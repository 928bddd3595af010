"""Every sequence layer trains in a model compiled with XLA (``jit_compile=True``).

On TensorFlow ``jit_compile=True`` (Keras's ``"auto"`` on a GPU) needs bounded loops
and no Python callbacks inside the compiled step; the XLA-compiled training step
must match the uncompiled graph's. (JAX always compiles with XLA.)
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import to_numpy
from test_reliability_layers import FEATURES, LAYERS, sequences

XLA_LAYERS = [LAYERS[i] for i in (0, 1, 3, 7)]  # dense and synaptic LTC, CfC, CT-GRU


@pytest.mark.backends
@pytest.mark.parametrize("make_layer", XLA_LAYERS)
def test_training_step_compiled_by_xla_matches_the_graph(make_layer, backend):
    if backend != "tensorflow":
        pytest.skip("JAX always compiles with XLA; PyTorch has none (jit_compile is torch.compile)")
    x = sequences()
    y = np.random.default_rng(1).normal(size=(x.shape[0], x.shape[1], 2)).astype("float32")
    models = []
    for jit_compile in (False, True):
        keras.utils.set_random_seed(7)
        inputs = keras.Input((None, FEATURES))
        outputs = keras.layers.Dense(2)(make_layer(return_sequences=True)(inputs))
        model = keras.Model(inputs, outputs)
        model.compile(keras.optimizers.Adam(1e-2), "mse", jit_compile=jit_compile)
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    for _ in range(2):
        losses = [float(model.train_on_batch(x, y)) for model in models]
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
    for graph, xla in zip(models[0].weights, models[1].weights):
        np.testing.assert_allclose(to_numpy(xla), to_numpy(graph), rtol=1e-4, atol=1e-5)
