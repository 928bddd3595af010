"""Truncated backpropagation through time over chunks, for sequences longer than memory.

Backpropagation through a scan of ``T`` steps stores every step's intermediates,
so memory grows linearly with ``T``: a recording of 10^6 steps does not fit. Truncated
BPTT cuts the recording into chunks of ``C`` steps and trains on one chunk at a
time, starting every chunk from the final state of the previous one (the state is
carried) but not differentiating through that state (the gradient is truncated
at the chunk boundary). Peak memory then grows with ``C``, not ``T``. For a
recording ``x_1..x_T`` cut into chunks ``c_1..c_K`` and the state ``s_k`` at the
end of chunk ``k`` (``s_0 = 0``), step ``k`` of training minimises

    L_k(w) = loss(model_w(x[c_k] | initial state = stop_gradient(s_{k-1})), y[c_k])

and applies one optimizer update; ``s_k`` is then computed with the weights used for
``L_k``. With ``C >= T`` this is ordinary training on whole sequences.

:class:`ChunkedTrainer` does this for any compiled Keras model whose recurrent
layers are ``keras.layers.RNN`` subclasses (every liquidtime sequence layer: LTC,
CfC, CT-RNN, ...) on every backend, with the model's own ``fit`` machinery (so
``keras.distribution`` data parallelism applies unchanged). It switches the
model's recurrent layers to ``stateful`` for the duration of training, with state
variables of its own; the model is trained in place and left as it was otherwise.
It also covers ``keras.layers.RNN`` layers such as ``keras.layers.LSTM``, whose
``stateful=True`` alone is not enough on JAX (Keras 3 does not track their state
variables, so a jitted JAX train step never updates them; liquidtime's own layers
track theirs): :class:`ChunkedTrainer` lists the states as non-trainable variables
of a thin wrapper model, which JAX's train step then threads through every chunk.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
from keras import ops

from liquidtime import _validation


def recurrent_layers(model: keras.Model) -> list[keras.layers.RNN]:
    """The ``keras.layers.RNN`` layers of ``model``, nested models included, in order.

    Raises:
        ValueError: If a recurrent layer runs backwards in time (``go_backwards``
            or ``keras.layers.Bidirectional``): carrying its state from one chunk
            to the next would join the end of a chunk to the start of the
            following one, which is not how time runs for it.
    """
    found: list[keras.layers.RNN] = []

    def visit(layer: keras.layers.Layer) -> None:
        if isinstance(layer, keras.layers.Bidirectional) or (
            isinstance(layer, keras.layers.RNN) and layer.go_backwards
        ):
            raise ValueError(
                f"Layer '{layer.name}' runs backwards in time; truncated BPTT over chunks "
                "carries the state forwards only. Use forward-running recurrent layers."
            )
        if isinstance(layer, keras.layers.RNN):
            if layer not in found:
                found.append(layer)
            return
        for child in getattr(layer, "layers", None) or ():
            visit(child)
        inner = getattr(layer, "layer", None)
        if isinstance(inner, keras.layers.Layer):
            visit(inner)

    for layer in model.layers:
        visit(layer)
    return found


class _StateCarrier(keras.Model):
    """Runs a model whose recurrent states are tracked here as non-trainable variables.

    Call with ``(inputs, reset)``: ``reset`` is ``(batch, 1)``, 1.0 where a new
    recording starts (its states are zeroed first) and 0.0 where the previous
    chunk's final states carry over.
    """

    def __init__(self, model: keras.Model, states: list[keras.Variable], **kwargs: Any):
        super().__init__(**kwargs)
        self.inner = model
        self.carried_states = states

    def call(self, inputs, training=False):
        data, reset = inputs
        for variable in self.carried_states:
            keep = ops.cast(1.0 - reset, variable.dtype)
            keep = ops.reshape(keep, (-1,) + (1,) * (len(variable.shape) - 1))
            variable.assign(variable.value * keep)
        return self.inner(data, training=training)


class ChunkedSequence(keras.utils.PyDataset):
    """Batches of chunks in time order: every chunk of one group of recordings, then the next.

    With ``N`` recordings of ``T`` steps, batch size ``B`` (``N`` a multiple of ``B``)
    and chunk length ``C``, item ``g * K + k`` (``K = ceil(T / C)``) is chunk ``k`` of
    recordings ``g B .. (g + 1) B - 1``: ``((x[..., kC:(k+1)C, ...], reset), y[...])``
    with ``reset`` 1.0 at ``k = 0``. The last chunk is shorter when ``C`` does not
    divide ``T``.

    Args:
        x: Inputs: an array ``(N, T, ...)`` or a list/tuple/dict of such arrays.
        y: Per-step targets ``(N, T, ...)`` (or a structure of them).
        sample_weight: Optional per-step weights ``(N, T)``.
        batch_size: ``B``, recordings trained side by side.
        chunk_length: ``C``, steps per chunk.
    """

    def __init__(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        batch_size: int,
        chunk_length: int,
    ):
        super().__init__()
        self.batch_size = _validation.positive_int("batch_size", batch_size)
        self.chunk_length = _validation.positive_int("chunk_length", chunk_length)
        self.x, self.y, self.sample_weight = x, y, sample_weight
        shapes = {
            name: [np.shape(a) for a in keras.tree.flatten(value)]
            for name, value in (("x", x), ("y", y), ("sample_weight", sample_weight))
            if value is not None
        }
        if not shapes["x"]:
            raise ValueError("Received an invalid value for argument `x`: no arrays.")
        recordings, steps = _leading_axes("x", shapes["x"][0])
        for name, name_shapes in shapes.items():
            for shape in name_shapes:
                if tuple(shape[:2]) != (recordings, steps):
                    raise ValueError(
                        f"Received an invalid value for argument `{name}`: every array must "
                        f"have shape (recordings, time, ...) = ({recordings}, {steps}, ...) like "
                        f"`x`, got an array of shape {tuple(shape)}. Chunked training needs "
                        "per-step targets and weights."
                    )
        if recordings % self.batch_size:
            raise ValueError(
                f"Received an invalid value for argument `batch_size`, expected a divisor of "
                f"the number of recordings ({recordings}): stateful training keeps one state "
                f"row per recording, got {batch_size}."
            )
        self.recordings, self.steps = recordings, steps
        self.chunks_per_group = math.ceil(steps / self.chunk_length)

    def as_tf_dataset(self) -> Any:
        """This iterator as a ``tf.data.Dataset`` whose time axis has no fixed length.

        Keras infers a ``PyDataset``'s signature on TensorFlow from its first batches,
        which would fix the time axis at ``chunk_length`` and reject a shorter last
        chunk; this signature leaves it open.
        """
        import tensorflow as tf

        def spec(array, timed=True):
            shape = list(np.shape(array))
            if timed:
                shape[1] = None
            return tf.TensorSpec(shape, tf.as_dtype(np.asarray(array).dtype))

        first = self[0]
        (inputs, reset), rest = first[0], first[1:]
        signature = (
            (keras.tree.map_structure(spec, inputs), spec(reset, timed=False)),
            *(keras.tree.map_structure(spec, part) for part in rest),
        )
        dataset = tf.data.Dataset.from_generator(
            lambda: (self[i] for i in range(len(self))), output_signature=signature
        )
        return dataset.apply(tf.data.experimental.assert_cardinality(len(self)))

    def __len__(self) -> int:
        return (self.recordings // self.batch_size) * self.chunks_per_group

    def __getitem__(self, index: int):
        group, chunk = divmod(index, self.chunks_per_group)
        rows = slice(group * self.batch_size, (group + 1) * self.batch_size)
        steps = slice(chunk * self.chunk_length, (chunk + 1) * self.chunk_length)
        cut = lambda a: np.asarray(a[rows, steps])  # noqa: E731
        reset = np.full((self.batch_size, 1), float(chunk == 0), dtype="float32")
        inputs = (keras.tree.map_structure(cut, self.x), reset)
        batch: list[Any] = [inputs]
        if self.y is not None:
            batch.append(keras.tree.map_structure(cut, self.y))
        if self.sample_weight is not None:
            batch.append(cut(self.sample_weight))
        return tuple(batch)


def _leading_axes(name: str, shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 2:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected arrays of shape "
            f"(recordings, time, ...), got shape {tuple(shape)}."
        )
    return int(shape[0]), int(shape[1])


class ChunkedTrainer:
    """Truncated BPTT: trains a model on long recordings one chunk of time at a time.

    The recordings are cut into chunks of ``chunk_length`` steps. Each chunk is one
    training step (one optimizer update) that starts from the states at the end of
    the previous chunk of the same recordings, carried over without gradient (see
    :mod:`liquidtime.training.chunked` for the objective). Memory grows with
    ``chunk_length`` instead of the recording length. ``batch_size`` recordings are
    trained side by side; the states are zeroed at the start of every recording.

    The model must be compiled (its optimizer and loss are used, so the optimizer
    state is shared with ``model.fit``) and built; its recurrent layers (any
    ``keras.layers.RNN``, every liquidtime sequence layer) must run forwards and
    usually return sequences (per-step targets). The model is trained in place.
    Works on every backend and under ``keras.distribution.DataParallel`` (JAX).

    Args:
        model: A compiled Keras model.
        chunk_length: Steps per chunk (truncation length).
        batch_size: Recordings per batch. Fixed for the trainer's lifetime, because
            the carried states have one row per recording.
        metrics: Optional metrics reported during :meth:`fit` (default none).

    Example:
    >>> model = keras.Sequential([keras.Input((None, 7)), LTC(32, return_sequences=True),
    ...                           keras.layers.Dense(1)])
    >>> model.compile("adam", "mse")
    >>> trainer = ChunkedTrainer(model, chunk_length=1000, batch_size=1)
    >>> history = trainer.fit(x, y, epochs=3)   # x: (1, 1_000_000, 7), y: (1, 1_000_000, 1)
    """

    def __init__(
        self,
        model: keras.Model,
        chunk_length: int,
        batch_size: int,
        metrics: Any = None,
    ):
        self.chunk_length = _validation.positive_int("chunk_length", chunk_length)
        self.batch_size = _validation.positive_int("batch_size", batch_size)
        if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
            raise ValueError(
                "Received an invalid value for argument `model`: compile it first "
                "(`model.compile(optimizer, loss)`); its optimizer and loss are used."
            )
        if not model.built:
            raise ValueError(
                "Received an invalid value for argument `model`: it is not built. Give it "
                "an `keras.Input` or call it once on data."
            )
        self.model = model
        self._layers = recurrent_layers(model)
        if not self._layers:
            raise ValueError(
                f"Received an invalid value for argument `model`: model '{model.name}' has "
                "no recurrent layer (keras.layers.RNN), so there is no state to carry."
            )
        self._states = {id(layer): self._state_variables(layer) for layer in self._layers}
        self._carrier = _StateCarrier(
            model,
            [v for layer in self._layers for v in self._states[id(layer)]],
            name=f"{model.name}_chunked",
        )
        self._carrier.compile(optimizer=model.optimizer, loss=model.loss, metrics=metrics)

    def _state_variables(self, layer: keras.layers.RNN) -> list[keras.Variable]:
        """The carried states of ``layer``: its own if it is stateful, else new ones."""
        if layer.stateful and layer.states is not None:
            variables = keras.tree.flatten(layer.states)
            if int(variables[0].shape[0]) != self.batch_size:
                raise ValueError(
                    f"Received an invalid value for argument `batch_size`: the stateful layer "
                    f"'{layer.name}' was built for batches of {variables[0].shape[0]}, got "
                    f"{self.batch_size}."
                )
            return variables
        initial = keras.tree.flatten(layer.get_initial_state(self.batch_size))
        return [
            keras.Variable(
                ops.zeros_like(value),
                trainable=False,
                dtype=layer.variable_dtype,
                name=f"{layer.name}_carried_state",
            )
            for value in initial
        ]

    @contextlib.contextmanager
    def _carrying_states(self) -> Iterator[None]:
        """Makes the recurrent layers stateful on the trainer's variables, then restores them."""
        saved = [(layer, layer.stateful, layer.states) for layer in self._layers]
        try:
            for layer in self._layers:
                # object.__setattr__: the variables belong to the trainer, not to the
                # layer's weights (Keras would otherwise start tracking them).
                object.__setattr__(layer, "stateful", True)
                object.__setattr__(layer, "states", list(self._states[id(layer)]))
            yield
        finally:
            for layer, stateful, states in saved:
                object.__setattr__(layer, "stateful", stateful)
                object.__setattr__(layer, "states", states)

    def chunks(self, x: Any, y: Any = None, sample_weight: Any = None) -> ChunkedSequence:
        """The chunk iterator :meth:`fit` trains on (see :class:`ChunkedSequence`)."""
        return ChunkedSequence(
            x, y, sample_weight, batch_size=self.batch_size, chunk_length=self.chunk_length
        )

    def fit(
        self,
        x: Any,
        y: Any,
        sample_weight: Any = None,
        epochs: int = 1,
        verbose: Any = "auto",
        callbacks: Any = None,
    ) -> keras.callbacks.History:
        """Trains on every chunk of every recording, in time order, ``epochs`` times.

        Args:
            x: Inputs ``(recordings, time, features)`` (or a list/dict of such arrays
                for multi-input models, such as a separate elapsed-time input).
            y: Per-step targets ``(recordings, time, ...)``.
            sample_weight: Optional per-step weights ``(recordings, time)``.
            epochs: Passes over the data.
            verbose, callbacks: As for ``keras.Model.fit``; one "batch" is one chunk.
                Callbacks see the trainer's wrapper model, whose ``inner`` is ``model``.

        Returns:
            The ``History``; its ``loss`` is the mean chunk loss of each epoch.
        """
        _validation.positive_int("epochs", epochs)
        data = self.chunks(x, y, sample_weight)
        if keras.backend.backend() == "tensorflow":
            data = data.as_tf_dataset()
        with self._carrying_states():
            return self._carrier.fit(
                data, epochs=epochs, verbose=verbose, callbacks=callbacks, shuffle=False
            )

    def predict(self, x: Any, verbose: Any = 0) -> Any:
        """Runs the model over whole recordings chunk by chunk, carrying the states.

        Memory is bounded by the chunk length here too. The outputs equal those of
        the model on whole recordings (truncation only affects gradients).

        Args:
            x: Inputs ``(recordings, time, ...)``.

        Returns:
            The per-chunk outputs concatenated along time, as NumPy.
        """
        data = self.chunks(x)
        groups: list[list[Any]] = []
        with self._carrying_states():
            for index in range(len(data)):
                (inputs,) = data[index]
                if index % data.chunks_per_group == 0:
                    groups.append([])
                groups[-1].append(self._carrier.predict_on_batch(inputs))
        per_group = [
            keras.tree.map_structure(lambda *parts: np.concatenate(parts, axis=1), *chunks)
            for chunks in groups
        ]
        return keras.tree.map_structure(lambda *parts: np.concatenate(parts, axis=0), *per_group)

def train_chunked(
    model: keras.Model,
    x: Any,
    y: Any,
    chunk_length: int,
    batch_size: int = 1,
    epochs: int = 1,
    sample_weight: Any = None,
    verbose: Any = "auto",
    callbacks: Any = None,
) -> keras.callbacks.History:
    """Trains ``model`` in place with truncated BPTT over chunks of ``chunk_length`` steps.

    Shorthand for ``ChunkedTrainer(model, chunk_length, batch_size).fit(x, y, ...)``;
    keep a :class:`ChunkedTrainer` instead to call ``fit`` several times on the same
    carried-state variables.

    Returns:
        The ``History`` of the run.
    """
    trainer = ChunkedTrainer(model, chunk_length=chunk_length, batch_size=batch_size)
    return trainer.fit(
        x, y, sample_weight=sample_weight, epochs=epochs, verbose=verbose, callbacks=callbacks
    )
