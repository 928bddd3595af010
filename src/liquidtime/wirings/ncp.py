"""Neural circuit policies (Lechner et al., 2020, Nature Machine Intelligence 2:642-652)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from liquidtime._validation import int_at_least, int_in_range, probability
from liquidtime.wirings.base import Wiring, random_state, resolve_seed

AUTO_NCP_COMMAND_SHARE = 0.4
"""Share of the non-motor neurons that :class:`AutoNCP` makes command neurons."""


def _layer_block(
    rng: np.random.RandomState, num_sources: int, num_targets: int, fanout: int
) -> np.ndarray:
    """Random synapses from one layer to the next, as a ``(sources, targets)`` block.

    Every source synapses onto ``fanout`` distinct random targets; then every
    target left without a synapse receives one from
    ``clip(int(num_sources * fanout / num_targets), 1, num_sources)`` distinct
    random sources. Polarities are +1 or -1 with equal probability.

    Args:
        rng: The random stream.
        num_sources: Neurons in the source layer.
        num_targets: Neurons in the target layer.
        fanout: Synapses per source, in ``[1, num_targets]``.

    Returns:
        An int8 block of polarities, ``(num_sources, num_targets)``.
    """
    block = np.zeros((num_sources, num_targets), dtype=np.int8)
    for source in range(num_sources):
        chosen = rng.choice(num_targets, size=fanout, replace=False)
        block[source, chosen] = rng.choice((-1, 1), size=fanout)
    fanin = int(np.clip(num_sources * fanout // num_targets, 1, num_sources))
    for target in np.flatnonzero(~block.any(axis=0)):
        chosen = rng.choice(num_sources, size=fanin, replace=False)
        block[chosen, target] = rng.choice((-1, 1), size=fanin)
    return block


@keras.saving.register_keras_serializable(package="liquidtime")
class NCP(Wiring):
    """Neural circuit policy wiring: sensory -> inter -> command -> motor.

    The four-layer circuit of Lechner et al. (2020), modelled on the nervous system
    of C. elegans. Neuron ids are ``[motor | command | inter]``: the first
    ``motor_neurons`` neurons are the outputs. Synapses, each excitatory or
    inhibitory with probability 1/2:

    * sensory -> inter: every input feature synapses onto ``sensory_fanout``
      distinct random inter neurons; an inter neuron left without input then gets
      ``clip(int(input_dim * sensory_fanout / inter_neurons), 1, input_dim)``
      random input features.
    * inter -> command: every inter neuron synapses onto ``inter_fanout`` distinct
      command neurons; an unreached command neuron gets
      ``clip(int(inter_neurons * inter_fanout / command_neurons), 1, inter_neurons)``
      inter neurons.
    * command -> command: ``recurrent_command_synapses`` distinct (source, target)
      pairs among the command neurons, self-synapses allowed.
    * command -> motor: every motor neuron receives synapses from ``motor_fanin``
      distinct command neurons; a command neuron left without a motor target then
      synapses onto ``clip(int(motor_neurons * motor_fanin / command_neurons), 1,
      motor_neurons)`` motor neurons.

    Hence every neuron is on a path from the inputs to the outputs, each input
    feature has at least ``sensory_fanout`` synapses, each inter neuron at least
    ``inter_fanout`` and each motor neuron at least ``motor_fanin``.

    Differences from ncps 1.0.1, on purpose: the recurrent command synapses are
    drawn without replacement (ncps draws pairs with replacement, so it can make
    fewer than asked); the fan-in of unreached command neurons is clipped by the
    number of inter neurons (ncps clips it by the number of command neurons, which
    fails when there are more command than inter neurons); the config holds the
    sizes (ncps returns id lists that its constructor cannot read back). The
    random streams differ from ncps's, so a seed gives other synapses than there.

    Args:
        inter_neurons: Number of inter neurons (layer 2), >= 1.
        command_neurons: Number of command neurons (layer 3), >= 1.
        motor_neurons: Number of motor neurons (layer 4, the outputs), >= 1.
        sensory_fanout: Synapses from each input feature to inter neurons, in
            ``[1, inter_neurons]``.
        inter_fanout: Synapses from each inter neuron to command neurons, in
            ``[1, command_neurons]``.
        recurrent_command_synapses: Synapses among command neurons, in
            ``[0, command_neurons**2]``.
        motor_fanin: Synapses from command neurons into each motor neuron, in
            ``[1, command_neurons]``.
        seed: Seed of the synapses (an int in [0, 2**32)); None draws one from
            NumPy's global generator and records it in the config.
        input_dim: Number of input features, or None to take it from the data.

    Example:
    >>> wiring = NCP(inter_neurons=6, command_neurons=4, motor_neurons=2, sensory_fanout=3,
    ...              inter_fanout=2, recurrent_command_synapses=3, motor_fanin=2, seed=0)
    >>> wiring.units, wiring.output_dim
    (12, 2)
    """

    def __init__(
        self,
        inter_neurons: int,
        command_neurons: int,
        motor_neurons: int,
        sensory_fanout: int,
        inter_fanout: int,
        recurrent_command_synapses: int,
        motor_fanin: int,
        seed: int | None = None,
        input_dim: int | None = None,
    ):
        inter = int_at_least("inter_neurons", inter_neurons, 1, allow_numpy=True)
        command = int_at_least("command_neurons", command_neurons, 1, allow_numpy=True)
        motor = int_at_least("motor_neurons", motor_neurons, 1, allow_numpy=True)
        for name, value, targets, kind in (
            ("sensory_fanout", sensory_fanout, inter, "inter"),
            ("inter_fanout", inter_fanout, command, "command"),
            ("motor_fanin", motor_fanin, command, "command"),
        ):
            int_at_least(name, value, 1, allow_numpy=True)
            if value > targets:
                raise ValueError(
                    f"Received an invalid value for argument `{name}`: {value} synapses per "
                    f"neuron are asked for but there are only {targets} {kind} neurons "
                    f"(`{kind}_neurons={targets}`); expected an integer in [1, {targets}]."
                )
        int_at_least("recurrent_command_synapses", recurrent_command_synapses, 0, allow_numpy=True)
        if recurrent_command_synapses > command * command:
            raise ValueError(
                "Received an invalid value for argument `recurrent_command_synapses`: "
                f"{recurrent_command_synapses} synapses are asked for but {command} command "
                f"neurons have only {command * command} possible synapses among them; "
                f"expected an integer in [0, {command * command}]."
            )
        seed = resolve_seed(seed)
        super().__init__(inter + command + motor, output_dim=motor, input_dim=input_dim)
        self.inter_neurons = inter
        self.command_neurons = command
        self.motor_neurons = motor
        self.sensory_fanout = int(sensory_fanout)
        self.inter_fanout = int(inter_fanout)
        self.recurrent_command_synapses = int(recurrent_command_synapses)
        self.motor_fanin = int(motor_fanin)
        self.seed = seed

    def neuron_type(self, neuron_id: int) -> str:
        neuron_id = int_in_range("neuron_id", neuron_id, 0, self.units - 1, allow_numpy=True)
        if neuron_id < self.motor_neurons:
            return "motor"
        if neuron_id < self.motor_neurons + self.command_neurons:
            return "command"
        return "inter"

    def _ids(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(inter, command, motor)`` neuron ids."""
        motor_end = self.motor_neurons
        command_end = motor_end + self.command_neurons
        return (
            np.arange(command_end, self.units),
            np.arange(motor_end, command_end),
            np.arange(0, motor_end),
        )

    def make_adjacency_matrix(self) -> np.ndarray:
        rng = random_state(self.seed, 0)
        inter, command, motor = self._ids()
        matrix = np.zeros((self.units, self.units), dtype=np.int8)
        matrix[np.ix_(inter, command)] = _layer_block(
            rng, inter.size, command.size, self.inter_fanout
        )
        pairs = rng.choice(command.size**2, size=self.recurrent_command_synapses, replace=False)
        sources, targets = command[pairs // command.size], command[pairs % command.size]
        matrix[sources, targets] = rng.choice((-1, 1), size=pairs.size)
        # Command -> motor is specified by the motor neurons' fan-in: draw the block
        # with the motor neurons as "sources" and transpose it.
        matrix[np.ix_(command, motor)] = _layer_block(
            rng, motor.size, command.size, self.motor_fanin
        ).T
        return matrix

    def make_sensory_adjacency_matrix(self, input_dim: int) -> np.ndarray:
        rng = random_state(self.seed, 1)
        inter = self._ids()[0]
        matrix = np.zeros((input_dim, self.units), dtype=np.int8)
        matrix[:, inter] = _layer_block(rng, input_dim, inter.size, self.sensory_fanout)
        return matrix

    def get_config(self) -> dict[str, Any]:
        config = {
            "inter_neurons": self.inter_neurons,
            "command_neurons": self.command_neurons,
            "motor_neurons": self.motor_neurons,
            "sensory_fanout": self.sensory_fanout,
            "inter_fanout": self.inter_fanout,
            "recurrent_command_synapses": self.recurrent_command_synapses,
            "motor_fanin": self.motor_fanin,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


def auto_ncp_sizes(units: int, output_size: int, sparsity_level: float) -> dict[str, int]:
    """The NCP arguments that :class:`AutoNCP` derives (as ncps 1.0.1 does).

    With ``density = 1 - sparsity_level`` and ``rest = units - output_size``:

        command = max(int(0.4 * rest), 1),         inter = rest - command
        sensory_fanout = max(int(inter * density), 1)
        inter_fanout = max(int(command * density), 1)
        recurrent_command_synapses = min(max(int(2 * command * density), 1), command**2)
        motor_fanin = max(int(command * density), 1)

    Args:
        units: Total number of neurons.
        output_size: Number of motor neurons.
        sparsity_level: In [0, 1).

    Returns:
        The keyword arguments of :class:`NCP` except ``seed`` and ``input_dim``.
    """
    density = 1.0 - sparsity_level
    rest = units - output_size
    command = max(int(AUTO_NCP_COMMAND_SHARE * rest), 1)
    inter = rest - command
    return {
        "inter_neurons": inter,
        "command_neurons": command,
        "motor_neurons": output_size,
        "sensory_fanout": max(int(inter * density), 1),
        "inter_fanout": max(int(command * density), 1),
        "recurrent_command_synapses": min(max(int(2 * command * density), 1), command**2),
        "motor_fanin": max(int(command * density), 1),
    }


@keras.saving.register_keras_serializable(package="liquidtime")
class AutoNCP(NCP):
    """An :class:`NCP` whose layer sizes and fan-outs are derived from two numbers.

    Of the ``units - output_size`` non-motor neurons, 40% (at least one) are
    command neurons and the rest inter neurons; fan-outs and fan-ins are the
    target layer's size times the density ``1 - sparsity_level`` (at least 1), and
    there are twice as many recurrent command synapses as the command fan-in (see
    :func:`auto_ncp_sizes`). This is ncps's derivation; liquidtime also accepts a
    sparsity level below 0.1 and needs only one inter and one command neuron.

    Args:
        units: Total number of neurons; at least ``output_size + 2``.
        output_size: Number of motor neurons (outputs), >= 1.
        sparsity_level: In [0, 1): 0 connects layers fully, values near 1 leave
            one synapse per neuron.
        seed: Seed of the synapses; None draws one and records it in the config.
        input_dim: Number of input features, or None to take it from the data.

    Example:
    >>> wiring = AutoNCP(16, output_size=2, sparsity_level=0.5, seed=0)
    >>> wiring.inter_neurons, wiring.command_neurons, wiring.motor_neurons
    (9, 5, 2)
    """

    def __init__(
        self,
        units: int,
        output_size: int,
        sparsity_level: float = 0.5,
        seed: int | None = None,
        input_dim: int | None = None,
    ):
        units = int_at_least("units", units, 3, allow_numpy=True)
        output_size = int_at_least("output_size", output_size, 1, allow_numpy=True)
        if output_size > units - 2:
            raise ValueError(
                f"Received an invalid value for argument `output_size`: {output_size} motor "
                f"neurons leave {units - output_size} of the {units} units for inter and "
                "command neurons, but an NCP needs at least one of each; expected "
                f"output_size <= {units - 2}."
            )
        sparsity_level = probability("sparsity_level", sparsity_level, allow_numpy=True)
        super().__init__(
            **auto_ncp_sizes(units, output_size, sparsity_level), seed=seed, input_dim=input_dim
        )
        self.output_size = output_size
        self.sparsity_level = sparsity_level

    def get_config(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "output_size": self.output_size,
            "sparsity_level": self.sparsity_level,
            "seed": self.seed,
            "input_dim": self.input_dim,
        }
