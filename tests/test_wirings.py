"""Wirings: structure, determinism, immutability, serialization, errors, pictures."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liquidtime.wirings import (
    NCP,
    AutoNCP,
    FullyConnected,
    MatrixWiring,
    Random,
    Wiring,
    auto_ncp_sizes,
    draw_wiring,
)


@keras.saving.register_keras_serializable(package="liquidtime_tests")
class Ring(Wiring):
    """A user's wiring: neuron i excites neuron i + 1 (mod units); input k inhibits neuron k."""

    def __init__(self, units, output_dim=None, input_dim=None):
        super().__init__(units, output_dim=output_dim, input_dim=input_dim)

    def make_adjacency_matrix(self):
        matrix = np.zeros((self.units, self.units), dtype=int)
        matrix[np.arange(self.units), (np.arange(self.units) + 1) % self.units] = 1
        return matrix

    def make_sensory_adjacency_matrix(self, input_dim):
        matrix = np.zeros((input_dim, self.units), dtype=int)
        for k in range(input_dim):
            matrix[k, k % self.units] = -1
        return matrix

    def get_config(self):
        return {**super().get_config(), "units": self.units, "output_dim": self.output_dim}


def small_ncp(**overrides):
    args = dict(
        inter_neurons=7,
        command_neurons=5,
        motor_neurons=3,
        sensory_fanout=3,
        inter_fanout=2,
        recurrent_command_synapses=4,
        motor_fanin=2,
        seed=5,
    )
    return NCP(**{**args, **overrides})


WIRINGS = {
    "fully_connected": lambda: FullyConnected(9, output_dim=2, seed=3),
    "fully_connected_no_self": lambda: FullyConnected(9, self_connections=False, seed=3),
    "random": lambda: Random(12, output_dim=3, sparsity_level=0.6, seed=4),
    "ncp": small_ncp,
    "auto_ncp": lambda: AutoNCP(20, output_size=4, sparsity_level=0.4, seed=6),
    "matrix": lambda: MatrixWiring([[0, 1, 0], [-1, 0, 1], [0, 0, 1]], [[1, 0, 0], [0, -1, 1]], 1),
    "custom": lambda: Ring(5, output_dim=2),
}


def assert_same_wiring(a: Wiring, b: Wiring) -> None:
    assert type(a) is type(b)
    assert a.get_config() == b.get_config()
    np.testing.assert_array_equal(a.adjacency_matrix, b.adjacency_matrix)
    if a.is_built:
        np.testing.assert_array_equal(a.sensory_adjacency_matrix, b.sensory_adjacency_matrix)


@pytest.mark.parametrize("name", sorted(WIRINGS))
@pytest.mark.parametrize("input_dim", [None, 4])
def test_config_round_trip_is_exact(name, input_dim):
    wiring = WIRINGS[name]()
    if input_dim is not None and not wiring.is_built:
        wiring = wiring.build(input_dim)
    config = wiring.get_config()
    assert json.loads(json.dumps(config)) == config
    assert_same_wiring(wiring, type(wiring).from_config(config))
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(wiring)))
    assert_same_wiring(wiring, keras.saving.deserialize_keras_object(serialized))


@pytest.mark.parametrize("name", ["fully_connected", "random", "ncp", "auto_ncp"])
def test_deterministic_for_a_seed_and_different_across_seeds(name):
    first, second = WIRINGS[name]().build(6), WIRINGS[name]().build(6)
    assert_same_wiring(first, second)
    other = type(first).from_config({**first.get_config(), "seed": first.seed + 1})
    assert not np.array_equal(first.adjacency_matrix, other.adjacency_matrix) or not np.array_equal(
        first.sensory_adjacency_matrix, other.sensory_adjacency_matrix
    )


def test_no_seed_draws_one_reproducibly_and_records_it():
    keras.utils.set_random_seed(7)
    first = AutoNCP(12, 2)
    keras.utils.set_random_seed(7)
    second = AutoNCP(12, 2)
    assert isinstance(first.seed, int)
    assert_same_wiring(first, second)
    assert_same_wiring(first, AutoNCP.from_config(first.get_config()))


@pytest.mark.parametrize("name", sorted(WIRINGS))
def test_one_wiring_serves_several_input_sizes_without_mutation(name):
    wiring = WIRINGS[name]()
    if wiring.is_built:  # MatrixWiring fixes its input size
        assert wiring.build(wiring.input_dim) is wiring
        return
    before = wiring.get_config()
    three, five = wiring.build(3), wiring.build(5)
    assert wiring.input_dim is None and not wiring.is_built
    assert wiring.get_config() == before
    assert (three.input_dim, five.input_dim) == (3, 5)
    assert three.sensory_adjacency_matrix.shape == (3, wiring.units)
    assert five.sensory_adjacency_matrix.shape == (5, wiring.units)
    np.testing.assert_array_equal(three.adjacency_matrix, wiring.adjacency_matrix)
    np.testing.assert_array_equal(five.adjacency_matrix, wiring.adjacency_matrix)
    with pytest.raises(ValueError, match="no input size yet"):
        _ = wiring.sensory_adjacency_matrix


def test_matrices_are_read_only_int8_polarities():
    wiring = FullyConnected(4, seed=0).build(2)
    for matrix in (wiring.adjacency_matrix, wiring.sensory_adjacency_matrix):
        assert matrix.dtype == np.int8
        assert set(np.unique(matrix)) <= {-1, 0, 1}
        with pytest.raises(ValueError):
            matrix[0, 0] = 0


def test_build_rejects_a_conflicting_input_size_naming_both():
    wiring = FullyConnected(4, seed=0, input_dim=3)
    with pytest.raises(ValueError, match=r"input_dim=3 input features, but the data has 5"):
        wiring.build(5)


def test_fully_connected_counts():
    wiring = FullyConnected(7, output_dim=3, seed=1).build(4)
    assert wiring.synapse_count == 49 and wiring.sensory_synapse_count == 28
    no_self = FullyConnected(7, self_connections=False, seed=1)
    assert no_self.synapse_count == 42
    assert not np.diagonal(no_self.adjacency_matrix).any()
    assert wiring.output_dim == 3 and no_self.output_dim == 7


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.75, 0.99])
def test_random_counts(sparsity):
    wiring = Random(10, output_dim=2, sparsity_level=sparsity, seed=2).build(6)
    assert wiring.synapse_count == round(100 * (1 - sparsity))
    assert wiring.sensory_synapse_count == round(60 * (1 - sparsity))


@pytest.mark.parametrize(
    "wiring, share",
    [
        (FullyConnected(60, seed=0), 2 / 3),
        (Random(60, sparsity_level=0.5, seed=0), 2 / 3),
        (AutoNCP(120, 10, sparsity_level=0.2, seed=0), 1 / 2),
    ],
    ids=["fully_connected", "random", "ncp"],
)
def test_polarity_share(wiring, share):
    polarities = wiring.adjacency_matrix[wiring.adjacency_matrix != 0]
    assert abs(np.mean(polarities > 0) - share) < 0.04


def check_ncp_structure(wiring: NCP, input_dim: int) -> None:
    """Every invariant of Lechner et al.'s four-layer circuit, as documented in NCP."""
    built = wiring.build(input_dim)
    adjacency, sensory = built.adjacency_matrix != 0, built.sensory_adjacency_matrix != 0
    m, c, i = wiring.motor_neurons, wiring.command_neurons, wiring.inter_neurons
    motor, command, inter = np.arange(m), np.arange(m, m + c), np.arange(m + c, m + c + i)
    # Layer membership: ids are [motor | command | inter], motor neurons are the outputs.
    assert wiring.units == m + c + i and wiring.output_dim == m
    np.testing.assert_array_equal(wiring.neurons_of_type("motor"), motor)
    np.testing.assert_array_equal(wiring.neurons_of_type("command"), command)
    np.testing.assert_array_equal(wiring.neurons_of_type("inter"), inter)
    # Synapses only along sensory -> inter -> command (-> command) -> motor.
    assert not sensory[:, np.r_[motor, command]].any()
    allowed = np.zeros_like(adjacency)
    allowed[np.ix_(inter, command)] = allowed[np.ix_(command, command)] = True
    allowed[np.ix_(command, motor)] = True
    assert not (adjacency & ~allowed).any()
    # Fan-outs and fan-ins.
    sensory_to_inter = sensory[:, inter]
    assert (sensory_to_inter.sum(axis=1) >= wiring.sensory_fanout).all()
    assert sensory_to_inter.any(axis=0).all()  # no inter neuron without input
    inter_to_command = adjacency[np.ix_(inter, command)]
    assert (inter_to_command.sum(axis=1) >= wiring.inter_fanout).all()
    assert inter_to_command.any(axis=0).all()
    assert adjacency[np.ix_(command, command)].sum() == wiring.recurrent_command_synapses
    command_to_motor = adjacency[np.ix_(command, motor)]
    assert (command_to_motor.sum(axis=0) >= wiring.motor_fanin).all()
    assert command_to_motor.any(axis=1).all()  # every command neuron reaches a motor neuron
    # Counts.
    assert built.synapse_count == (
        inter_to_command.sum() + wiring.recurrent_command_synapses + command_to_motor.sum()
    )
    assert built.sensory_synapse_count == sensory_to_inter.sum()


def test_ncp_structure_small():
    wiring = small_ncp()
    check_ncp_structure(wiring, input_dim=4)
    assert wiring.neuron_types == ("motor",) * 3 + ("command",) * 5 + ("inter",) * 7


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_ncp_structure_property(data):
    inter = data.draw(st.integers(1, 12), "inter")
    command = data.draw(st.integers(1, 12), "command")
    wiring = NCP(
        inter_neurons=inter,
        command_neurons=command,
        motor_neurons=data.draw(st.integers(1, 6), "motor"),
        sensory_fanout=data.draw(st.integers(1, inter), "sensory_fanout"),
        inter_fanout=data.draw(st.integers(1, command), "inter_fanout"),
        recurrent_command_synapses=data.draw(st.integers(0, command * command), "recurrent"),
        motor_fanin=data.draw(st.integers(1, command), "motor_fanin"),
        seed=data.draw(st.integers(0, 2**32 - 1), "seed"),
    )
    check_ncp_structure(wiring, input_dim=data.draw(st.integers(1, 10), "input_dim"))


def test_auto_ncp_derivation():
    wiring = AutoNCP(16, output_size=2, sparsity_level=0.5, seed=0)
    expected = dict(
        inter_neurons=9,
        command_neurons=5,
        motor_neurons=2,
        sensory_fanout=4,
        inter_fanout=2,
        recurrent_command_synapses=5,
        motor_fanin=2,
    )
    assert auto_ncp_sizes(16, 2, 0.5) == expected
    assert {k: getattr(wiring, k) for k in expected} == expected
    assert wiring.units == 16 and wiring.output_dim == 2
    assert set(wiring.get_config()) == {
        "units", "output_size", "sparsity_level", "seed", "input_dim"
    }
    check_ncp_structure(wiring, input_dim=3)
    # The smallest AutoNCP: one inter and one command neuron.
    smallest = AutoNCP(3, output_size=1, sparsity_level=0.0, seed=0)
    assert (smallest.inter_neurons, smallest.command_neurons) == (1, 1)
    check_ncp_structure(smallest, input_dim=2)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"sensory_fanout": 8}, r"`sensory_fanout`: 8 .* only 7 inter neurons"),
        ({"inter_fanout": 6}, r"`inter_fanout`: 6 .* only 5 command neurons"),
        ({"motor_fanin": 6}, r"`motor_fanin`: 6 .* only 5 command neurons"),
        ({"recurrent_command_synapses": 26}, r"26 synapses .* 5 command neurons .* only 25"),
        ({"sensory_fanout": 0}, r"`sensory_fanout`, expected an integer >= 1, got 0"),
        ({"command_neurons": 0}, r"`command_neurons`, expected an integer >= 1, got 0"),
        ({"seed": -1}, r"`seed`, expected an integer in \[0, 4294967295\], got -1"),
    ],
)
def test_impossible_ncp_sizes(overrides, match):
    with pytest.raises(ValueError, match=match):
        small_ncp(**overrides)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: AutoNCP(10, output_size=9), r"`output_size`: 9 .* leave 1 of the 10 units"),
        (lambda: AutoNCP(2, output_size=1), r"`units`, expected an integer >= 3, got 2"),
        (lambda: AutoNCP(10, 2, sparsity_level=1.0), r"`sparsity_level`.*\[0, 1\).*got 1.0"),
        (lambda: AutoNCP(10, 2, sparsity_level=-0.1), r"`sparsity_level`.*got -0.1"),
        (lambda: Random(10, sparsity_level=1.2), r"`sparsity_level`.*\[0, 1\).*got 1.2"),
        (lambda: Random(10, sparsity_level="high"), r"`sparsity_level`.*got 'high'"),
        (lambda: FullyConnected(4, output_dim=5), r"`output_dim`.*\[1, 4\], got 5"),
        (lambda: FullyConnected(0), r"`units`.*got 0"),
        (lambda: MatrixWiring([[0, 2], [0, 0]], [[1, 1]]), r"`adjacency_matrix`.*\[0, 2\]"),
        (lambda: MatrixWiring([[0, 1], [0, 0]], [[1, 1, 1]]), r"shape \(input_dim, 2\).*\(1, 3\)"),
    ],
)
def test_invalid_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_generated_matrices_are_checked():
    class Broken(Ring):
        def make_adjacency_matrix(self):
            return np.full((self.units, self.units), 2)

    with pytest.raises(ValueError, match=r"Broken produced an adjacency matrix with values \[2\]"):
        _ = Broken(3).adjacency_matrix


def test_custom_subclass_neuron_kinds_and_counts():
    ring = Ring(5, output_dim=2).build(3)
    assert ring.neuron_types == ("motor", "motor", "inter", "inter", "inter")
    assert ring.synapse_count == 5 and ring.sensory_synapse_count == 3
    assert (ring.sensory_adjacency_matrix[ring.sensory_adjacency_matrix != 0] == -1).all()


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("layout", ["layered", "circular"])
def test_drawing_writes_a_png(tmp_path, layout):
    path = tmp_path / f"ncp_{layout}.png"
    ax = draw_wiring(AutoNCP(16, 2, seed=1), path, input_dim=4, layout=layout, draw_labels=True)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    # Neurons of the four kinds and both synapse signs are in the legend.
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    for kind in ("sensory", "inter", "command", "motor", "excitatory", "inhibitory"):
        assert any(entry.startswith(kind) for entry in legend), legend


def test_drawing_method_into_given_axes(tmp_path):
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    wiring = FullyConnected(4, output_dim=1, seed=0, input_dim=2)
    assert wiring.draw(ax=ax) is ax
    ax.figure.savefig(tmp_path / "fc.png")
    assert (tmp_path / "fc.png").read_bytes().startswith(PNG_SIGNATURE)


def test_drawing_errors():
    with pytest.raises(ValueError, match="no input size yet; pass `input_dim=`"):
        draw_wiring(AutoNCP(8, 2, seed=0))
    with pytest.raises(ValueError, match="`layout`.*'spring'"):
        draw_wiring(AutoNCP(8, 2, seed=0), input_dim=2, layout="spring")
    with pytest.raises(ValueError, match=r"neuron kind\(s\) \['glia'\]"):
        draw_wiring(AutoNCP(8, 2, seed=0), input_dim=2, neuron_colors={"glia": "red"})
