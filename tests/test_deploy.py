"""Export (``liquidtime.deploy.export``): each artefact run in its own runtime against Keras.

Two stacked models cover the layers of the brief: an LTC (dense, with mixed memory) under
a wired CfC, and an LTC on an NCP wiring under a dense CfC with mixed memory. Step
artefacts are looped over 9 irregular steps from zero states and compared at every
step (every length from 1 to 9); sequence artefacts are run on lengths 9 and 4.
"""

from __future__ import annotations

import importlib.util

import keras
import numpy as np
import pytest

import liquidtime as lt
from liquidtime.deploy import export
from liquidtime.wirings import AutoNCP
from test_streaming import sequence_data, timed_model

BACKEND = keras.backend.backend()
TOLERANCE = 1e-5

MODELS = {
    "ltc_mixed_memory+cfc_wired": lambda: timed_model(
        lt.LTC(6, mixed_memory=True, return_sequences=True),
        lt.CfC(AutoNCP(10, 3), return_sequences=True),
    ),
    "ltc_ncp+cfc_mixed_memory": lambda: timed_model(
        lt.LTC(AutoNCP(10, 3), return_sequences=True),
        lt.CfC(6, mixed_memory=True, return_sequences=True),
    ),
}


def require(*modules: str) -> None:
    for module in modules:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install 'liquidtime[deploy]')")


def keras_outputs(model, x, dt) -> np.ndarray:
    return keras.ops.convert_to_numpy(model([x, dt]))


def loop_step_artefact(run_step, model, x, dt) -> np.ndarray:
    """Runs a step artefact over the sequence; ``run_step(feeds) -> (output, new_states)``."""
    from liquidtime.deploy._program import StepProgram

    sizes = StepProgram(model).state_sizes
    states = [np.zeros((x.shape[0], size), "float32") for size in sizes]
    outputs = []
    for t in range(x.shape[1]):
        feeds = {"input_0": x[:, t], "input_1": dt[:, t]}
        feeds.update({f"state_{i}": state for i, state in enumerate(states)})
        output, states = run_step(feeds, len(sizes))
        outputs.append(np.asarray(output))
    return np.stack(outputs, axis=1)


def assert_step_artefact_matches(run_step, model) -> None:
    x, dt = sequence_data(batch=1)
    np.testing.assert_allclose(
        loop_step_artefact(run_step, model, x, dt), keras_outputs(model, x, dt), atol=TOLERANCE, rtol=0
    )


def assert_sequence_artefact_matches(run_sequence, model) -> None:
    for steps, seed in ((9, 0), (4, 1)):
        x, dt = sequence_data(batch=1, steps=steps, seed=seed)
        np.testing.assert_allclose(
            np.asarray(run_sequence(x, dt)), keras_outputs(model, x, dt), atol=TOLERANCE, rtol=0
        )


@pytest.mark.backends
@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnx_step_in_onnxruntime(name, tmp_path):
    converter = {"jax": "jax2onnx", "tensorflow": "tf2onnx", "torch": "onnxscript"}[BACKEND]
    require("onnx", "onnxruntime", converter)
    import onnxruntime

    model = MODELS[name]()
    path = export(model, tmp_path / "step.onnx", format="onnx")
    session = onnxruntime.InferenceSession(path)

    def run_step(feeds, count):
        names = ["output_0", *(f"new_state_{i}" for i in range(count))]
        output, *states = session.run(names, feeds)
        return output, states

    assert_step_artefact_matches(run_step, model)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_stablehlo_step_and_sequence_in_jax_export(name, tmp_path):
    if BACKEND != "jax":
        pytest.skip("StableHLO is written by jax.export (JAX backend)")
    import jax

    model = MODELS[name]()
    def load(path):
        with open(path, "rb") as file:
            return jax.export.deserialize(file.read())

    step = load(export(model, tmp_path / "step.stablehlo", format="stablehlo"))

    def run_step(feeds, count):
        output, *states = step.call(
            feeds["input_0"], feeds["input_1"], *(feeds[f"state_{i}"] for i in range(count))
        )
        return output, states

    assert_step_artefact_matches(run_step, model)
    sequence = load(
        export(model, tmp_path / "seq.stablehlo", format="stablehlo", function="sequence", batch_size=None)
    )
    assert_sequence_artefact_matches(lambda x, dt: sequence.call(x, dt)[0], model)


@pytest.mark.backends
@pytest.mark.parametrize("name", sorted(MODELS))
def test_tf_saved_model_step_and_sequence(name, tmp_path):
    if BACKEND != "tensorflow":
        pytest.skip("run on the TensorFlow backend (jax2tf on JAX takes ~30 s per export)")
    import tensorflow as tf

    model = MODELS[name]()
    export(model, tmp_path / "step", format="tf_saved_model")
    loaded = tf.saved_model.load(str(tmp_path / "step"))  # keep it: serve reads its variables
    serve = loaded.serve

    def run_step(feeds, count):
        result = serve(feeds)
        return result["output_0"].numpy(), [result[f"new_state_{i}"].numpy() for i in range(count)]

    assert_step_artefact_matches(run_step, model)
    export(model, tmp_path / "sequence", format="tf_saved_model", function="sequence", batch_size=None)
    loaded_sequence = tf.saved_model.load(str(tmp_path / "sequence"))
    assert_sequence_artefact_matches(
        lambda x, dt: loaded_sequence.serve({"input_0": x, "input_1": dt})["output_0"].numpy(), model
    )


@pytest.mark.backends
@pytest.mark.parametrize("name", sorted(MODELS))
def test_litert_step_in_the_tflite_interpreter(name, tmp_path):
    if BACKEND != "tensorflow":
        pytest.skip("Keras writes LiteRT on TensorFlow (on PyTorch it needs litert_torch)")
    import tensorflow as tf

    model = MODELS[name]()
    path = export(model, tmp_path / "step.tflite", format="litert")
    runner = tf.lite.Interpreter(model_path=path).get_signature_runner("serving_default")

    def run_step(feeds, count):
        result = runner(**feeds)
        return np.copy(result["output_0"]), [np.copy(result[f"new_state_{i}"]) for i in range(count)]

    assert_step_artefact_matches(run_step, model)


def test_formats_that_fix_the_loop_length_refuse_the_sequence(tmp_path):
    model = MODELS["ltc_ncp+cfc_mixed_memory"]()
    with pytest.raises(ValueError, match="cannot hold a loop over a time axis of any length"):
        export(model, tmp_path / "m.onnx", format="onnx", function="sequence")
    assert not (tmp_path / "m.onnx").exists()


def test_bad_arguments_and_models_are_refused(tmp_path, monkeypatch):
    model = MODELS["ltc_ncp+cfc_mixed_memory"]()
    with pytest.raises(ValueError, match=r"argument `format`, expected one of \['onnx'"):
        export(model, tmp_path / "m", format="coreml")
    with pytest.raises(ValueError, match=r"argument `function`, expected one of \['step', 'sequence'\]"):
        export(model, tmp_path / "m", format="onnx", function="all")
    x_in = keras.Input((None, 3))
    bidirectional = keras.Model(x_in, keras.layers.Bidirectional(lt.CfC(4))(x_in))
    with pytest.raises(ValueError, match="Bidirectional layer reads the sequence backwards"):
        export(bidirectional, tmp_path / "m.stablehlo", format="stablehlo")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a),
    )
    with pytest.raises(ImportError, match=r"needs onnxruntime.*pip install 'liquidtime\[deploy\]'"):
        export(model, tmp_path / "m.onnx", format="onnx")


def test_export_command(tmp_path, capsys):
    from liquidtime.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--help"])
    assert exit_info.value.code == 0
    assert "--function {step,sequence}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "m.keras", "m.x", "--format", "coreml"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'coreml'" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "none.keras"), "m.onnx", "--format", "onnx"]) == 2
    assert "no saved model at" in capsys.readouterr().err
    x_in = keras.Input((None, 3))
    keras.Model(x_in, keras.layers.Bidirectional(lt.CfC(4))(x_in)).save(tmp_path / "bi.keras")
    assert main(["export", str(tmp_path / "bi.keras"), str(tmp_path / "bi.onnx"), "--format", "onnx"]) == 2
    assert "liquidtime export: error: Cannot run layer" in capsys.readouterr().err
    keras.Sequential([keras.Input((None, 3)), lt.LTC(4, return_sequences=True)]).save(tmp_path / "m.keras")
    sequence_onnx = ["export", str(tmp_path / "m.keras"), str(tmp_path / "m.onnx"), "--format", "onnx"]
    assert main([*sequence_onnx, "--function", "sequence"]) == 2
    assert "cannot hold a loop over a time axis of any length" in capsys.readouterr().err
    if BACKEND == "jax":
        stablehlo = ["export", str(tmp_path / "m.keras"), str(tmp_path / "m.shlo"), "--format", "stablehlo"]
        assert main(stablehlo) == 0
        assert (tmp_path / "m.shlo").stat().st_size > 0
