"""The LTC paper's reported test numbers (Hasani et al., AAAI 2021, Tables 3, 4 and 6).

``PAPER_RESULTS[task][model]`` is ``(mean, std)`` over 5 runs, in the units the
paper printed (:data:`PAPER_UNITS`): accuracy in percent (liquidtime's metrics
give a fraction: multiply by 100 to compare), MSE as is, F1 as a fraction.
Model keys: ``lstm``, ``ctrnn`` (CT-RNN), ``node`` (Neural ODE; for person the
paper's column is a Latent ODE), ``ctgru`` (CT-GRU) and ``ltc``.
"""

from __future__ import annotations

from typing import NamedTuple


class PaperResult(NamedTuple):
    """Mean and standard deviation of a reported test metric."""

    mean: float
    std: float


PAPER_UNITS: dict[str, str] = {
    "gesture": "accuracy %",
    "occupancy": "accuracy %",
    "har": "accuracy %",
    "smnist": "accuracy %",
    "traffic": "mse",
    "power": "mse",
    "ozone": "f1",
    "person": "accuracy %",
    "cheetah": "mse",
}

#: Where each row was reported: person is Table 4, cheetah Table 6, the rest Table 3.
PAPER_TABLES: dict[str, str] = {
    **{task: "Table 3" for task in PAPER_UNITS},
    "person": "Table 4",
    "cheetah": "Table 6",
}


def _row(
    lstm: tuple[float, float],
    ctrnn: tuple[float, float],
    node: tuple[float, float],
    ctgru: tuple[float, float],
    ltc: tuple[float, float],
) -> dict[str, PaperResult]:
    columns = {"lstm": lstm, "ctrnn": ctrnn, "node": node, "ctgru": ctgru, "ltc": ltc}
    return {model: PaperResult(*value) for model, value in columns.items()}


PAPER_RESULTS: dict[str, dict[str, PaperResult]] = {
    "gesture": _row((64.57, 0.59), (59.01, 1.22), (46.97, 3.03), (68.31, 1.78), (69.55, 1.13)),
    "occupancy": _row((93.18, 1.66), (94.54, 0.54), (90.15, 1.71), (91.44, 1.67), (94.63, 0.17)),
    "har": _row((95.85, 0.29), (95.73, 0.47), (97.26, 0.10), (96.16, 0.39), (95.67, 0.58)),
    "smnist": _row((98.41, 0.12), (96.73, 0.19), (97.61, 0.14), (98.27, 0.14), (97.57, 0.18)),
    "traffic": _row((0.169, 0.004), (0.224, 0.008), (1.512, 0.179), (0.389, 0.076), (0.099, 0.010)),
    "power": _row((0.628, 0.003), (0.742, 0.005), (1.254, 0.149), (0.586, 0.003), (0.642, 0.021)),
    "ozone": _row((0.284, 0.025), (0.236, 0.011), (0.168, 0.006), (0.260, 0.024), (0.302, 0.016)),
    "person": _row((83.59, 0.40), (81.54, 0.33), (76.48, 0.56), (85.27, 0.39), (85.48, 0.40)),
    "cheetah": _row((2.500, 0.140), (2.838, 0.112), (3.805, 0.313), (3.014, 0.134), (2.308, 0.015)),
}
