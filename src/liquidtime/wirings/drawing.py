"""Pictures of wirings with matplotlib: neurons coloured by kind, synapses by sign."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from liquidtime._validation import one_of
from liquidtime.wirings.base import NEURON_KINDS, Wiring

NEURON_COLORS = {
    "sensory": "tab:olive",
    "inter": "tab:blue",
    "command": "tab:purple",
    "motor": "tab:orange",
}
SYNAPSE_STYLES = {
    # Excitatory: green, solid, arrow head. Inhibitory: red, dashed, flat bar head
    # (the usual notation for inhibition), so the two differ without colour too.
    "excitatory": {"color": "tab:green", "linestyle": "-", "arrowstyle": "-|>"},
    "inhibitory": {"color": "tab:red", "linestyle": "--", "arrowstyle": "-["},
}
LAYOUTS = ("layered", "circular")
_NODE_SIZE = 220.0  # scatter marker area, points**2
_COLUMN_SPACING = 4.0  # layered layout: columns apart, in neuron spacings
_INCHES_PER_UNIT = 0.38


def _positions(kinds: list[str], layout: str) -> np.ndarray:
    """Node coordinates, one unit apart: a column per kind in signal-flow order, or a circle."""
    positions = np.zeros((len(kinds), 2))
    if layout == "circular":
        radius = max(2.0, 1.5 * len(kinds) / (2 * np.pi))
        angles = np.pi / 2 - 2 * np.pi * np.arange(len(kinds)) / len(kinds)
        positions[:, 0], positions[:, 1] = radius * np.cos(angles), radius * np.sin(angles)
        return positions
    columns = [kind for kind in NEURON_KINDS if kind in kinds]
    for column, kind in enumerate(columns):
        members = [i for i, k in enumerate(kinds) if k == kind]
        positions[members, 0] = _COLUMN_SPACING * column
        positions[members, 1] = (len(members) - 1) / 2 - np.arange(len(members))
    return positions


def draw_wiring(
    wiring: Wiring,
    path: Any = None,
    *,
    input_dim: int | None = None,
    ax: Any = None,
    layout: str = "layered",
    neuron_colors: dict[str, str] | None = None,
    synapse_colors: dict[str, str] | None = None,
    draw_labels: bool = False,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = 150,
) -> Any:
    """Draws a wiring: sensory, inter, command and motor neurons and their synapses.

    Neurons are coloured by kind (legend included). Excitatory synapses are green,
    solid lines with arrow heads; inhibitory synapses are red, dashed lines with
    flat bar heads. Self-synapses are drawn as small loops above the neuron.

    Args:
        wiring: The wiring to draw.
        path: If given, the picture is saved there (PNG for a ``.png`` path; any
            format matplotlib infers from the suffix).
        input_dim: Number of sensory neurons, for a wiring without an input size
            yet (``wiring.build(input_dim)`` is drawn).
        ax: A matplotlib Axes to draw into; by default a new figure is made (with
            ``matplotlib.figure.Figure``, without pyplot, when ``path`` is given).
        layout: ``"layered"`` (one column per neuron kind, signal flowing left to
            right; default) or ``"circular"``.
        neuron_colors: Colours by kind, overriding :data:`NEURON_COLORS`.
        synapse_colors: Colours for ``"excitatory"`` / ``"inhibitory"``.
        draw_labels: Write the neuron ids (``s0``, ``s1``, ... for sensory neurons).
        title: Axes title (default: the wiring's class name and synapse counts).
        figsize: Size of a new figure, inches.
        dpi: Resolution of the saved picture.

    Returns:
        The matplotlib Axes.

    Raises:
        ValueError: For an unknown layout or neuron kind, or a wiring without an
            input size when ``input_dim`` is not given.
    """
    one_of("layout", layout, LAYOUTS)
    if input_dim is not None or not wiring.is_built:
        if input_dim is None:
            raise ValueError(
                f"The {type(wiring).__name__} wiring has no input size yet; pass "
                "`input_dim=` to draw its sensory neurons."
            )
        wiring = wiring.build(input_dim)
    colors = {**NEURON_COLORS, **(neuron_colors or {})}
    unknown = set(colors) - set(NEURON_KINDS)
    if unknown:
        raise ValueError(
            f"Received unknown neuron kind(s) {sorted(unknown)} in `neuron_colors`; "
            f"expected keys among {list(NEURON_KINDS)}."
        )
    styles = {sign: dict(style) for sign, style in SYNAPSE_STYLES.items()}
    for sign, color in (synapse_colors or {}).items():
        if sign not in styles:
            raise ValueError(
                f"Received an unknown synapse kind {sign!r} in `synapse_colors`; expected "
                f"keys among {list(styles)}."
            )
        styles[sign]["color"] = color

    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle, FancyArrowPatch

    sensory, adjacency = wiring.sensory_adjacency_matrix, wiring.adjacency_matrix
    num_sensory = sensory.shape[0]
    kinds = ["sensory"] * num_sensory + list(wiring.neuron_types)
    labels = [f"s{k}" for k in range(num_sensory)] + [str(i) for i in range(wiring.units)]
    positions = _positions(kinds, layout)
    # Synapses as (source node, target node, polarity); internal neurons follow the sensory ones.
    synapses = [(k, num_sensory + i, sensory[k, i]) for k, i in zip(*np.nonzero(sensory))]
    synapses += [
        (num_sensory + j, num_sensory + i, adjacency[j, i]) for j, i in zip(*np.nonzero(adjacency))
    ]

    if ax is None:
        extent = np.ptp(positions, axis=0) + 2.0
        size = figsize or (
            max(4.0, _INCHES_PER_UNIT * extent[0]) + 3.0,
            max(3.0, _INCHES_PER_UNIT * extent[1] + 0.8),
        )
        if path is not None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=size).add_subplot()
        else:
            import matplotlib.pyplot as plt

            ax = plt.subplots(figsize=size)[1]

    node_radius = math.sqrt(_NODE_SIZE) / 2  # points
    alpha = float(np.clip(12.0 / math.sqrt(max(len(synapses), 1)), 0.15, 0.8))
    for source, target, polarity in synapses:
        style = styles["excitatory" if polarity > 0 else "inhibitory"]
        if source == target:
            # A small loop just outside the neuron: above it, or outward on a circle.
            outward = positions[source] if layout == "circular" else np.array([0.0, 1.0])
            outward = outward / max(float(np.linalg.norm(outward)), 1e-9)
            loop_radius = 0.3
            ax.add_patch(
                Circle(
                    positions[source] + (loop_radius + 0.12) * outward,
                    loop_radius,
                    fill=False,
                    color=style["color"],
                    linestyle=style["linestyle"],
                    alpha=alpha,
                    zorder=1,
                )
            )
            continue
        same_column = layout == "layered" and positions[source, 0] == positions[target, 0]
        ax.add_patch(
            FancyArrowPatch(
                positions[source],
                positions[target],
                arrowstyle=style["arrowstyle"],
                mutation_scale=8,
                color=style["color"],
                linestyle=style["linestyle"],
                linewidth=0.9,
                alpha=alpha,
                shrinkA=node_radius,
                shrinkB=node_radius,
                connectionstyle=f"arc3,rad={0.4 if same_column else 0.05}",
                zorder=1,
            )
        )

    present = [kind for kind in NEURON_KINDS if kind in kinds]
    for kind in present:
        members = [i for i, k in enumerate(kinds) if k == kind]
        ax.scatter(
            positions[members, 0],
            positions[members, 1],
            s=_NODE_SIZE,
            color=colors[kind],
            edgecolors="black",
            linewidths=0.6,
            zorder=2,
        )
    if draw_labels:
        for (x, y), label in zip(positions, labels):
            ax.text(x, y, label, ha="center", va="center", fontsize=6, zorder=3)

    handles = [
        Line2D([], [], marker="o", linestyle="", markersize=8, markerfacecolor=colors[kind],
               markeredgecolor="black", label=f"{kind} neurons ({kinds.count(kind)})")
        for kind in present
    ]
    counts = {
        "excitatory": sum(1 for *_, p in synapses if p > 0),
        "inhibitory": sum(1 for *_, p in synapses if p < 0),
    }
    handles += [
        # The linestyle is SYNAPSE_STYLES's "-" or "--"; the dict's value type is plain str.
        Line2D([], [], color=styles[sign]["color"], linestyle=styles[sign]["linestyle"],  # type: ignore[arg-type]
               label=f"{sign} synapses ({counts[sign]})")
        for sign in ("excitatory", "inhibitory")
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False)
    ax.set_title(
        title
        if title is not None
        else f"{type(wiring).__name__}: {wiring.units} neurons, {wiring.synapse_count} "
        f"synapses, {wiring.sensory_synapse_count} sensory synapses",
        fontsize=9,
    )
    top = positions[:, 1].max() + 0.9
    if layout == "layered":
        for column, kind in enumerate(present):
            ax.text(_COLUMN_SPACING * column, top, kind, ha="center", va="bottom", fontsize=8,
                    color="dimgray")
    ax.set_xlim(positions[:, 0].min() - 1.0, positions[:, 0].max() + 1.0)
    ax.set_ylim(positions[:, 1].min() - 0.8, top + 0.6)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if path is not None:
        ax.figure.savefig(path, dpi=dpi, bbox_inches="tight")
    return ax
