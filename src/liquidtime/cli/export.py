"""``liquidtime export``: write a saved Keras model as an ONNX, SavedModel, LiteRT or
StableHLO artefact (see :func:`liquidtime.deploy.export`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from liquidtime.cli._names import EXPORT_FORMATS, EXPORT_FUNCTIONS
from liquidtime.cli.train import add_command, fail, positive_int

_HELP = "export a saved model to ONNX, TF SavedModel, LiteRT or StableHLO"
_DESCRIPTION = """\
Export a saved model (.keras) for inference outside Keras.

--function step (default) writes one time step with the recurrent states as inputs
and outputs: inputs input_<i> (batch, ...), elapsed_time (batch,) when the model
takes one, state_<i> (batch, size); outputs output_<i> and new_state_<i>. Run it in
a loop from zero states (docs/deployment.md). Every format holds it exactly.

--function sequence writes the whole model for sequences of any length, with
per-step elapsed times as an input. Only stablehlo (JAX backend) and
tf_saved_model (JAX or TensorFlow backend) keep a loop over a time axis of any
length; the other formats are refused rather than written for one length only.

The backend is chosen by KERAS_BACKEND (JAX by default): stablehlo needs JAX,
litert needs TensorFlow. Runtimes come with `pip install 'liquidtime[deploy]'`.
"""

_EPILOG = """\
examples:
  liquidtime export model.keras model.onnx --format onnx
  liquidtime export model.keras model.stablehlo --format stablehlo --function sequence
  KERAS_BACKEND=tensorflow liquidtime export model.keras model.tflite --format litert
"""


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds the ``export`` sub-command to ``subparsers`` and returns its parser."""
    parser = add_command(subparsers, "export", _HELP, _DESCRIPTION, _EPILOG)
    parser.add_argument("model", type=Path, help="the saved model (.keras)")
    parser.add_argument("output", type=Path, help="the file (or SavedModel directory) to write")
    parser.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="the artefact's format")
    parser.add_argument(
        "--function", default="step", choices=EXPORT_FUNCTIONS, help="one time step, or the whole sequence"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=1,
        help="batch size of the artefact's inputs",
    )
    parser.add_argument(
        "--any-batch-size",
        action="store_true",
        help="leave the batch size open (not ONNX or LiteRT on PyTorch)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Loads ``args.model`` and exports it; returns an exit code."""
    import keras

    import liquidtime
    from liquidtime.deploy import export

    liquidtime.import_all()  # registers the layers for loading

    if not args.model.exists():
        return fail("export", FileNotFoundError(f"no saved model at {args.model}"))
    try:
        model = keras.saving.load_model(args.model)
        path = export(
            model,
            args.output,
            format=args.format,
            function=args.function,
            batch_size=None if args.any_batch_size else args.batch_size,
        )
    except (ValueError, ImportError) as error:
        return fail("export", error)
    print(f"wrote {args.format} ({args.function} function) to {path}")
    return 0
