"""The public layers' explicit signatures: every cell argument, with the cell's default."""

from __future__ import annotations

import inspect

import keras
import pytest

from liquidtime.cells import (
    CfCCell,
    CTGRUCell,
    CTRNNCell,
    LTCCell,
    NeuralODECell,
    SynapticLTCCell,
    WiredCfCCell,
)
from liquidtime.layers import CTGRU, CTRNN, LTC, CfC, ContinuousTimeRNN, NeuralODE
from liquidtime.wirings import AutoNCP

LAYER_CELLS = {
    LTC: (LTCCell, SynapticLTCCell),
    CfC: (CfCCell, WiredCfCCell),
    CTRNN: (CTRNNCell,),
    NeuralODE: (NeuralODECell,),
    CTGRU: (CTGRUCell,),
}


def cell_parameters(cell_class) -> dict[str, object]:
    """Every constructor argument of ``cell_class`` (through its bases), with its default."""
    parameters: dict[str, object] = {}
    for klass in cell_class.__mro__:
        if klass is keras.layers.Layer:
            break
        init = vars(klass).get("__init__")
        if init is None:
            continue
        for name, parameter in inspect.signature(init).parameters.items():
            if parameter.kind is not parameter.VAR_KEYWORD and name not in ("self", "units"):
                parameters.setdefault(name, parameter.default)
    parameters.pop("wiring", None)
    return parameters


def layer_parameters(layer_class) -> dict[str, object]:
    return {
        name: parameter.default
        for name, parameter in inspect.signature(layer_class).parameters.items()
        if parameter.kind is not parameter.VAR_KEYWORD
    }


@pytest.mark.parametrize("layer_class", list(LAYER_CELLS), ids=lambda c: c.__name__)
def test_the_signature_lists_every_cell_argument_with_its_default(layer_class):
    shown = layer_parameters(layer_class)
    for cell_class in LAYER_CELLS[layer_class]:
        for name, default in cell_parameters(cell_class).items():
            assert name in shown, f"{layer_class.__name__} does not show {name}"
            assert shown[name] == default, (layer_class.__name__, name, shown[name], default)
    sequence = layer_parameters(ContinuousTimeRNN)
    for name in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
                 "zero_output_for_mask"):
        assert shown[name] == sequence[name]
    assert "units" in shown and "implementation" in shown


def test_ltc_shows_both_forms_arguments():
    shown = inspect.signature(LTC).parameters
    for name in ("solver", "ode_unfolds", "activation", "backbone_units", "input_mapping",
                 "epsilon", "implementation", "return_sequences", "mixed_memory"):
        assert name in shown
    assert "Args:" in LTC.__doc__ and "input_mapping" in LTC.__doc__


@pytest.mark.parametrize("layer_class", list(LAYER_CELLS), ids=lambda c: c.__name__)
def test_every_cell_argument_is_accepted_by_its_layer(layer_class):
    for cell_class in LAYER_CELLS[layer_class]:
        units = AutoNCP(8, output_size=2, seed=0) if cell_class in (
            SynapticLTCCell, WiredCfCCell
        ) else 4
        arguments = cell_parameters(cell_class)
        layer = layer_class(units, **arguments)
        assert type(layer.cell) is cell_class
        expected = cell_class(units, **arguments).get_config()
        for key in ("name", "dtype"):
            expected.pop(key)
        config = layer.cell.get_config()
        assert {k: config[k] for k in expected} == expected


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: LTC(4, epsilon=1e-3), r"an int \(dense LTC\).*\['epsilon'\].*SynapticLTCCell"),
        (lambda: LTC(AutoNCP(8, 2), backbone_units=4, backbone_layers=1),
         r"a wiring \(synaptic LTC\).*\['backbone_layers', 'backbone_units'\].*LTCCell"),
        (lambda: CfC(4, fully_recurrent=False), r"an int \(dense CfC\).*\['fully_recurrent'\]"),
        (lambda: CfC(AutoNCP(8, 2), seed=3), r"a wiring \(wired CfC\).*\['seed'\].*CfCCell"),
    ],
)
def test_an_argument_of_the_other_form_is_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_the_other_forms_arguments_at_their_defaults_are_ignored():
    layer = LTC(AutoNCP(8, 2), activation="sigmoid", backbone_layers=0)
    assert isinstance(layer.cell, SynapticLTCCell)
    assert isinstance(CfC(4, fully_recurrent=True).cell, CfCCell)
