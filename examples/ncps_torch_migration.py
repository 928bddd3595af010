"""An ncps.torch training script, moved to liquidtime by changing its imports only.

Written as an ncps 1.0.1 user writes it (after ncps's PyTorch examples), and runs on
ncps too: the two liquidtime import lines replace ``from ncps.torch import CfC, LTC``
and ``from ncps.wirings import AutoNCP``. Run it on Keras's PyTorch backend:

    KERAS_BACKEND=torch python examples/ncps_torch_migration.py
"""

import numpy as np
import torch
import torch.nn as nn

from liquidtime.compat.ncps.torch import CfC, LTC  # was: from ncps.torch import CfC, LTC
from liquidtime.compat.ncps.wirings import AutoNCP  # was: from ncps.wirings import AutoNCP

# A toy task: predict sin(2t) from (sin t, cos t), 16 sequences of 32 steps.
torch.manual_seed(0)
rng = np.random.default_rng(0)
t = rng.uniform(0, 3, size=(16, 1)) + 0.1 * np.arange(32)
x = torch.tensor(np.stack([np.sin(t), np.cos(t)], axis=-1), dtype=torch.float32)
y = torch.tensor(np.sin(2 * t)[..., None], dtype=torch.float32)


class Model(nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        output, _ = self.rnn(x)
        return output


models = {
    "CfC(2, 16, proj_size=1)": Model(CfC(2, 16, proj_size=1, backbone_units=32)),
    "CfC(2, AutoNCP(12, 1))": Model(CfC(2, AutoNCP(12, 1))),
    "LTC(2, AutoNCP(12, 1), mixed_memory=True)": Model(LTC(2, AutoNCP(12, 1), mixed_memory=True)),
}
for name, model in models.items():
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    loss_fn = nn.MSELoss()
    for epoch in range(15):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        if epoch % 5 == 0 or epoch == 14:
            print(f"{name}: epoch {epoch:2d}, loss {loss.item():.4f}")

    # Checkpoints are plain state_dicts.
    torch.save(model.state_dict(), "checkpoint.pt")
    model.load_state_dict(torch.load("checkpoint.pt"))

# One unbatched sequence at a time, carrying the state (hx) between calls, with
# irregular sampling: timespans holds each step's elapsed time.
rnn = models["CfC(2, 16, proj_size=1)"].rnn
hx = None
with torch.no_grad():
    for chunk in range(3):
        steps = x[0, 4 * chunk : 4 * chunk + 4]  # (L, C): no batch axis
        elapsed = torch.full((4,), 0.1)
        output, hx = rnn(steps, hx, timespans=elapsed)
print("streamed output:", tuple(output.shape), "state:", tuple(hx.shape))
