"""A Keras callback that checks Theorems 1 and 2 on a reference batch during training."""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np

from liquidtime._validation import non_negative_float
from liquidtime.bounds.report import BoundsCheck, check_bounds
from liquidtime.bounds.theorems import theorem_bounds
from liquidtime.layers.base import ContinuousTimeRNN
from liquidtime.solvers.report import REPORT_FIELDS, failure_messages


class BoundsViolationWarning(RuntimeWarning):
    """An LTC layer's observed states or time constants left the theorems' bounds."""


class BoundsViolationError(RuntimeError):
    """Raised by a strict :class:`BoundsMonitor` when an LTC layer leaves the theorems' bounds."""


LOG_FIELDS = (
    "state_min",
    "state_max",
    "envelope_low",
    "envelope_high",
    "tau_sys_min",
    "tau_sys_max",
    "tau_sys_bound_low",
    "tau_sys_bound_high",
    "violations",
)
"""The per-layer scalars the monitor writes into the epoch logs (``bounds/<layer>/<field>``)."""


def _is_ltc_layer(layer: Any) -> bool:
    if not isinstance(layer, ContinuousTimeRNN) or not layer.built:
        return False
    try:
        theorem_bounds(layer)
    except ValueError:
        return False
    return True


def _walk(layer: Any):
    yield layer
    for child in getattr(layer, "layers", None) or []:
        yield from _walk(child)


def find_ltc_layers(model: keras.Model) -> list[ContinuousTimeRNN]:
    """The built sequence layers of ``model`` (nested models included) whose cell is an LTC."""
    return [layer for layer in _walk(model) if layer is not model and _is_ltc_layer(layer)]


class BoundsMonitor(keras.callbacks.Callback):
    """Checks every LTC layer against Theorems 1 and 2 at the end of each epoch.

    At each epoch end the callback runs each LTC layer of the model on the
    layer's input for ``reference_inputs`` (the model's inputs), computes with
    :func:`~liquidtime.bounds.check_bounds` the observed per-neuron state and
    ``tau_sys`` ranges beside the theoretical ones, and

    * writes into the epoch ``logs`` (hence into ``History.history``), per layer,
      ``bounds/<layer>/<field>`` for every field of :data:`LOG_FIELDS`: observed
      state min/max, envelope (smallest lower and largest upper end over neurons),
      observed ``tau_sys`` min/max, Theorem 1's range (likewise) and the number of
      neurons that violated either theorem;
    * keeps the full per-neuron :class:`~liquidtime.bounds.BoundsCheck` of each
      epoch in :attr:`checks` (``checks[epoch][layer_name]``);
    * writes, per layer whose solver can fail (not the fused one), the layer's
      solver report over the epoch's training steps (see
      :meth:`~liquidtime.layers.ContinuousTimeRNN.read_solver_report`):
      ``bounds/<layer>/solver_<field>`` for ``capped_sequences``,
      ``max_step_ratio`` and ``nonfinite_sequences``, and counts a failure as a
      violation;
    * warns with a :class:`BoundsViolationWarning` on a violation, or raises a
      :class:`BoundsViolationError` when ``strict``.

    Only layers fed directly by the model's inputs, or reachable by slicing a
    functional/Sequential model (``keras.Model(model.inputs, layer.input)``), can
    be checked; subclassed models must expose their LTC layers' inputs that way.

    Args:
        reference_inputs: A batch of model inputs ``(batch, time, features)`` (a list,
            in the order of ``model.inputs``, for a model with several inputs).
        elapsed_time: Elapsed times for the LTC layers (None, scalar, or
            ``(batch, time)``), passed to each layer as its ``elapsed_time``.
        strict: Raise instead of warning.
        tolerance: Relative tolerance of the checks (default 1e-5).
        plot_path: If given, :meth:`plot` writes a PNG there at the end of training.
        layer_names: Restrict the checks to these layers (default: every LTC layer).

    Example:
    >>> monitor = BoundsMonitor(x_train[:32], strict=False, plot_path="bounds.png")
    >>> history = model.fit(x_train, y_train, epochs=5, callbacks=[monitor])
    >>> history.history["bounds/ltc/state_max"]
    """

    def __init__(
        self,
        reference_inputs: Any,
        elapsed_time: Any = None,
        strict: bool = False,
        tolerance: float = 1e-5,
        plot_path: str | None = None,
        layer_names: list[str] | None = None,
    ):
        super().__init__()
        tolerance = non_negative_float("tolerance", tolerance)
        self.reference_inputs = reference_inputs
        self.elapsed_time = elapsed_time
        self.strict = bool(strict)
        self.tolerance = float(tolerance)
        self.plot_path = plot_path
        self.layer_names = None if layer_names is None else list(layer_names)
        self.checks: dict[Any, dict[str, BoundsCheck]] = {}

    def _layers(self) -> list[ContinuousTimeRNN]:
        layers = find_ltc_layers(self.model)
        if self.layer_names is not None:
            by_name = {layer.name: layer for layer in layers}
            missing = [name for name in self.layer_names if name not in by_name]
            if missing:
                raise ValueError(
                    f"Received unknown LTC layer name(s) {missing} in `layer_names`; the "
                    f"model's LTC layers are {sorted(by_name)}."
                )
            layers = [by_name[name] for name in self.layer_names]
        if not layers:
            raise ValueError(
                "BoundsMonitor found no built LTC layer (LTC, or a ContinuousTimeRNN running "
                "an LTCCell or SynapticLTCCell) in the model."
            )
        return layers

    def _layer_inputs(self, layer: ContinuousTimeRNN) -> Any:
        model_inputs = getattr(self.model, "inputs", None) or []
        # A layer called as layer(x, elapsed_time=dt) lists x first, then dt.
        sequences = layer.input[0] if isinstance(layer.input, (list, tuple)) else layer.input
        for index, tensor in enumerate(model_inputs):
            if sequences is tensor:
                if len(model_inputs) == 1:
                    return self.reference_inputs
                return self.reference_inputs[index]
        try:
            if not model_inputs:
                raise ValueError("the model has no symbolic inputs")
            inputs = model_inputs[0] if len(model_inputs) == 1 else model_inputs
            extractor = keras.Model(inputs, sequences)
        except Exception as error:  # noqa: BLE001 - Keras raises several types here
            raise ValueError(
                f"BoundsMonitor cannot compute the inputs of layer '{layer.name}' from the "
                "model's inputs; use a functional or Sequential model built on "
                "`keras.Input`."
            ) from error
        return extractor(self.reference_inputs, training=False)

    def check(self) -> dict[str, BoundsCheck]:
        """Runs the checks now and returns ``{layer_name: BoundsCheck}``."""
        return {
            layer.name: check_bounds(
                layer, self._layer_inputs(layer), self.elapsed_time, tolerance=self.tolerance
            )
            for layer in self._layers()
        }

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for layer in self._layers():
            layer.reset_solver_report()

    def solver_failures(self) -> tuple[dict[str, float], list[str]]:
        """The solver reports of the checked layers since the epoch began.

        Returns:
            ``(log entries, messages)``: ``bounds/<layer>/solver_<field>`` values, and
            one sentence per kind of failure (see :mod:`liquidtime.solvers.report`).
        """
        entries: dict[str, float] = {}
        messages: list[str] = []
        for layer in self._layers():
            report = layer.read_solver_report()
            if report is None:
                continue
            entries.update({f"bounds/{layer.name}/solver_{k}": v for k, v in report.items()})
            summary = np.array([report[field] for field in REPORT_FIELDS])
            messages.extend(
                failure_messages(summary, f"layer '{layer.name}'", layer.cell).values()
            )
        return entries, messages

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        solver_entries, solver_messages = self.solver_failures()
        checks = self.check()
        self.checks[epoch] = checks
        if logs is not None:
            for name, result in checks.items():
                logs.update(_log_entries(name, result))
            logs.update(solver_entries)
        messages = [m for result in checks.values() for m in result.violations()]
        messages.extend(solver_messages)
        if messages:
            text = f"Epoch {epoch + 1}: " + "; ".join(messages)
            if self.strict:
                raise BoundsViolationError(text)
            warnings.warn(text, BoundsViolationWarning, stacklevel=2)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.plot_path is not None and self.checks:
            self.plot(self.plot_path)

    def plot(self, path: str, epoch: int | None = None) -> None:
        """Draws, per LTC layer and neuron, the envelope and the observed state range,
        and Theorem 1's range with the observed ``tau_sys`` range (log scale), as a PNG.

        Args:
            path: Output file (PNG).
            epoch: Which recorded epoch to draw (default: the last one).
        """
        if not self.checks:
            raise ValueError("BoundsMonitor has no recorded epoch to plot yet.")
        epoch = max(self.checks) if epoch is None else epoch
        if epoch not in self.checks:
            raise ValueError(
                f"Received an invalid value for argument `epoch`: recorded epochs are "
                f"{sorted(self.checks)}, got {epoch!r}."
            )
        plot_checks(self.checks[epoch], path, title=f"Epoch {epoch + 1}")


def _log_entries(name: str, result: BoundsCheck) -> dict[str, float]:
    b = result.bounds
    values = {
        "state_min": np.min(result.state_min),
        "state_max": np.max(result.state_max),
        "envelope_low": np.min(b.state_low),
        "envelope_high": np.max(b.state_high),
        "tau_sys_min": np.min(result.tau_sys_min),
        "tau_sys_max": np.max(result.tau_sys_max),
        "tau_sys_bound_low": np.min(b.tau_sys_low),
        "tau_sys_bound_high": np.max(b.tau_sys_high),
        "violations": np.union1d(result.state_violations, result.tau_sys_violations).size,
    }
    return {f"bounds/{name}/{key}": float(value) for key, value in values.items()}


def plot_checks(checks: dict[str, BoundsCheck], path: str, title: str = "") -> None:
    """Writes a PNG with, per layer, envelope vs observed state and Theorem-1 range vs tau_sys.

    Args:
        checks: ``{layer_name: BoundsCheck}`` (from :meth:`BoundsMonitor.check` or
            :func:`~liquidtime.bounds.check_bounds`).
        path: Output PNG path.
        title: Figure title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 3.2 * len(checks)), constrained_layout=True)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(checks), 2, squeeze=False)
    for row, (name, result) in zip(axes, checks.items()):
        b = result.bounds
        neurons = np.arange(b.units)
        _ranges(row[0], neurons, b.state_low, b.state_high, result.state_min, result.state_max,
                result.state_inside & result.finite)
        envelope_scale = float(np.max(np.abs([b.state_low, b.state_high]))) or 1.0
        observed = np.abs(np.concatenate([result.state_min, result.state_max]))
        if np.max(observed[np.isfinite(observed)], initial=0.0) > 100 * envelope_scale:
            row[0].set_yscale("symlog", linthresh=envelope_scale)
        row[0].set_title(f"{name}: state (Theorem 2)")
        row[0].set_ylabel("state")
        _ranges(row[1], neurons, b.tau_sys_low, b.tau_sys_high, result.tau_sys_min,
                result.tau_sys_max, result.tau_sys_inside & result.finite)
        row[1].set_title(f"{name}: tau_sys (Theorem 1)")
        row[1].set_ylabel("tau_sys")
        positive = np.concatenate([b.tau_sys_low, result.tau_sys_min])
        if np.all(np.isfinite(positive)) and np.all(positive > 0):
            row[1].set_yscale("log")
        for ax in row:
            ax.set_xlabel("neuron")
    if title:
        figure.suptitle(title)
    figure.savefig(path, format="png", dpi=100)


def _ranges(ax, neurons, low, high, observed_low, observed_high, inside) -> None:
    ax.bar(neurons, high - low, bottom=low, width=0.8, color="tab:blue", alpha=0.25,
           label="theorem's bound")
    finite = np.isfinite(observed_low) & np.isfinite(observed_high)
    colors = np.where(inside, "tab:green", "tab:red")
    ax.vlines(neurons[finite], observed_low[finite], observed_high[finite], colors=colors[finite],
              linewidth=3, label="observed")
    if not np.all(inside):
        ax.scatter(neurons[~inside], np.where(finite, observed_high, high)[~inside], marker="x",
                   color="tab:red", zorder=3, label="violation")
    ax.legend(loc="best", fontsize="small")
