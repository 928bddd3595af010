"""``liquidtime expressivity``: the LTC paper's trajectory-length study (Figs. 2-3).

Runs sweeps of random Neural ODEs, CT-RNNs and LTCs driven by a circle and writes, per
sweep, a box plot of the trajectory lengths (PNG), the latent 2-D trajectories (PNG),
plus one CSV table of every measurement and a Markdown summary.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

# The study (SciPy, Matplotlib) is imported by run(): building the parser stays light.
from liquidtime.cli._names import EXPRESSIVITY_ACTIVATIONS as ACTIVATIONS
from liquidtime.cli._names import EXPRESSIVITY_HARD_TANH_FLAVOURS as HARD_TANH_FLAVOURS
from liquidtime.cli._names import EXPRESSIVITY_LTC_DECAYS as LTC_DECAYS
from liquidtime.cli._names import EXPRESSIVITY_MODELS as MODELS
from liquidtime.cli._names import EXPRESSIVITY_SOLVERS as SOLVERS
from liquidtime.cli._names import EXPRESSIVITY_SWEEP_VALUES as SWEEP_VALUES
from liquidtime.cli._names import EXPRESSIVITY_SWEEPS as SWEEPS
from liquidtime.cli.train import add_command

_VALUE_TYPES = {"width": int, "sigma_w": float, "solver": str, "depth": int, "activation": str}
_STACKING = {"auto": None, "joint": True, "per-draw": False}

_HELP = "trajectory-length expressivity study of LTC, CT-RNN and Neural ODE (Figs. 2-3)"
_DESCRIPTION = """\
Measure expressivity by trajectory length (Hasani et al., AAAI 2021, Section 5).

The circle I(t) = [sin t, cos t], t in [0, 2 pi] (--samples points, linearly
interpolated) drives randomly weighted networks of width k and depth d; every layer
reads the previous layer's state. With f = act(W_r x + W_in u + b):
  Neural ODE  dx/dt = f
  CT-RNN      dx/dt = -x/tau + f
  LTC         dx/dt = -(1/tau + f) x + f A        (Eq. 1)
W ~ N(0, sigma_w^2/fan_in) (fan-in k, or 2 for the input), b ~ N(0, sigma_b^2),
tau = max(|N(0,1)|, tau_min), A ~ N(0, sigma_w^2). Each layer's trajectory is
projected on its first two principal components; the arc length of that curve is
the layer's trajectory length. Each sweep varies one setting over the values of
the paper's Fig. 3 (or --values) and keeps the others at the options below.
"""

_DEFAULT_VALUES = "\n".join(
    f"  {kind:<11} {' '.join(map(str, values))}" for kind, values in SWEEP_VALUES.items()
)
_EPILOG = f"""\
default sweep values:
{_DEFAULT_VALUES}

outputs in --output-dir:
  expressivity_<sweep>.png         log-scale box plots of the last layer's length
                                   (width, sigma_w: with Theorems 4-5 lower bounds)
  expressivity_<sweep>_latent.png  latent 2-D trajectories of draw 0 (Fig. 2 style)
  expressivity.csv                 one row per sweep, value, model, draw and layer
  expressivity.md                  summary tables, command and wall time

example (the full Fig. 3 study on two cores):
  liquidtime expressivity --sweep all --draws 10 --jobs 2 --output-dir fig3
"""


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds the ``expressivity`` sub-command to ``subparsers`` and returns its parser."""
    parser = add_command(subparsers, "expressivity", _HELP, _DESCRIPTION, _EPILOG, _Formatter)
    sweep = parser.add_argument_group("sweep")
    sweep.add_argument("--sweep", choices=(*SWEEPS, "all"), default="all",
                       help="which setting to sweep; 'all' runs the five sweeps of Fig. 3")
    sweep.add_argument("--values", nargs="+", metavar="VALUE",
                       help="values of the swept setting (single sweep only); "
                            "default: the paper's, listed below")
    sweep.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS),
                       help="models to measure")
    sweep.add_argument("--draws", type=int, default=10,
                       help="random networks per model and value")
    sweep.add_argument("--seed", type=int, default=0, help="seed of the random draws")
    sweep.add_argument("--jobs", type=int, default=1,
                       help="worker processes over which the sweep values are spread")
    sweep.add_argument("--output-dir", type=Path, default=Path("expressivity"),
                       help="directory for the figures and tables (created if missing)")
    network = parser.add_argument_group("network (the fixed settings of each sweep)")
    network.add_argument("--width", type=int, default=100, help="neurons per layer k")
    network.add_argument("--depth", type=int, default=1, help="number of layers d")
    network.add_argument("--sigma-w", type=float, default=2.0,
                         help="weight spread: W ~ N(0, sigma_w^2 / fan_in)")
    network.add_argument("--sigma-b", type=float, default=1.0,
                         help="bias spread: b ~ N(0, sigma_b^2)")
    network.add_argument("--tau-min", type=float, default=1e-3,
                         help="floor of tau = |N(0,1)|; 0 keeps the exact distribution "
                              "(much slower with explicit solvers, nearly the same lengths)")
    network.add_argument("--activation", choices=ACTIVATIONS, default="tanh",
                         help="activation of f")
    network.add_argument("--hard-tanh", choices=HARD_TANH_FLAVOURS, default="elementwise",
                         help="'elementwise': clip(z, -1, 1); 'original': the MATLAB "
                              "code's Htanh, which saturates only when every neuron of "
                              "a layer does, i.e. is nearly linear")
    network.add_argument("--ltc-decay", choices=LTC_DECAYS, default="signed",
                         help="LTC decay term: 'signed' 1/tau + f (Eq. 1) or 'abs' "
                              "1/tau + |f| (the original MATLAB code)")
    solver = parser.add_argument_group("solver")
    solver.add_argument("--solver", choices=SOLVERS, default="RK45",
                        help="ODE solver: SciPy's adaptive RK23, RK45 (Dormand-Prince), "
                             "DOP853, LSODA (Adams/BDF), BDF, Radau, or fixed-step "
                             "euler, rk4, fused (one step per output interval)")
    solver.add_argument("--rtol", type=float, default=1e-2,
                        help="relative tolerance of adaptive solvers")
    solver.add_argument("--atol", type=float, default=1e-4,
                        help="absolute tolerance of adaptive solvers")
    solver.add_argument("--samples", type=int, default=100,
                        help="input samples of the circle on [0, 2 pi]")
    solver.add_argument("--eval-points", type=int, default=1000,
                        help="equally spaced times on which trajectories are measured")
    solver.add_argument("--stacking", choices=tuple(_STACKING), default="auto",
                        help="'joint': solve all draws as one block-diagonal system; "
                             "'per-draw': one solver run per draw (per-draw step counts "
                             "and error control); 'auto': joint for fixed-step solvers, "
                             "per draw for adaptive ones")
    parser.set_defaults(func=run)
    return parser


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the description's layout and shows each option's default (if it has one)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def run(args: argparse.Namespace) -> int:
    """Runs the sweeps described by ``args`` and writes the outputs; returns an exit code."""
    from liquidtime._validation import positive_int
    from liquidtime.analysis.plots import plot_latent_trajectories, plot_length_boxes
    from liquidtime.analysis.sweeps import SweepConfig, run_sweeps, summary_markdown, write_table

    try:
        kinds = list(SWEEPS) if args.sweep == "all" else [args.sweep]
        values = None
        if args.values is not None:
            if args.sweep == "all":
                raise ValueError(
                    "Received an invalid value for argument `values`, expected it only "
                    "with a single --sweep, got --sweep all."
                )
            values = {args.sweep: [_parse_value(args.sweep, value) for value in args.values]}
        config = SweepConfig(
            width=args.width,
            depth=args.depth,
            sigma_w=args.sigma_w,
            sigma_b=args.sigma_b,
            tau_min=args.tau_min,
            activation=args.activation,
            solver=args.solver,
            hard_tanh=args.hard_tanh,
            ltc_decay=args.ltc_decay,
            models=tuple(args.models),
            draws=args.draws,
            seed=args.seed,
            samples=args.samples,
            eval_points=args.eval_points,
            rtol=args.rtol,
            atol=args.atol,
            vectorize=_STACKING[args.stacking],
        )
        positive_int("jobs", args.jobs)
        # Created once the settings are known to be valid, before the sweeps run.
        output = Path(args.output_dir)
        output.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        results = run_sweeps(kinds, config, values, progress=print, jobs=args.jobs)
    except ValueError as error:
        print(f"liquidtime expressivity: error: {error}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - start
    written = [write_table(results, output / "expressivity.csv")]
    for result in results:
        written.append(plot_length_boxes(result, output / f"expressivity_{result.kind}.png"))
        written.append(
            plot_latent_trajectories(result, output / f"expressivity_{result.kind}_latent.png")
        )
    summary = output / "expressivity.md"
    summary.write_text(
        f"# Trajectory-length study\n\nCommand: `{_command(args)}`\n\n"
        f"Wall time: {wall:.1f} s with {args.jobs} job(s).\n\n{summary_markdown(results)}"
    )
    written.append(summary)
    print(f"Finished in {wall:.1f} s; wrote:")
    for path in written:
        print(f"  {path}")
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces ``args``, with every option spelled out."""
    words = ["liquidtime", "expressivity"]
    for name, value in vars(args).items():
        if name in ("func", "command") or value is None:
            continue
        words.append("--" + name.replace("_", "-"))
        words += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return shlex.join(words)


def _parse_value(kind: str, text: str) -> int | float | str:
    """Converts a ``--values`` entry to the type of the swept setting."""
    try:
        return _VALUE_TYPES[kind](text)
    except ValueError:
        raise ValueError(
            f"Received an invalid value for argument `values`, expected "
            f"{_VALUE_TYPES[kind].__name__} values for sweep {kind!r}, got {text!r}."
        ) from None
