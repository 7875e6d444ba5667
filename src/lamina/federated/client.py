"""A Flower ``NumPyClient`` around any lamina model and its ``Trainer``.

The client only converts weights to and from NumPy lists and runs the Trainer locally; the
strategy (FedAvg, FedProx, DP) lives on the server (``lamina.federated.strategies``).

    trainer = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), metrics=["accuracy"])
    client = LaminaClient(trainer, (x_local, y_local), local_epochs=2, batch_size=32, seed=3)
    flwr.client.start_client(server_address="127.0.0.1:8080", client=client.to_client())

Parameters travel as ``model.state_dict()``'s values in its key order (parameters *and*
buffers, e.g. BatchNorm running statistics, so the global model is complete). ``fit`` reads from
the server's config:

  local_epochs      epochs of local training this round (default: the client's ``local_epochs``)
  proximal_mu       FedProx's mu (Flower's ``FedProx`` sends it): local training minimises
                    loss + mu/2 ||w - w_global||^2, i.e. ``ProximalTerm`` adds mu (w - w_global)
                    to every gradient before each optimizer step
  clipping_norm     DP (Flower's ``DifferentialPrivacyClientSideFixedClipping`` sends it): the
                    update w - w_global is clipped to this L2 norm before it is sent
  uniform_weights   report num_examples = 1 so that FedAvg averages the clients unweighted (DP's
                    sensitivity analysis needs it); the true count goes in the metrics

Each round starts with a fresh optimizer state (``reset_optimizer``): a client's Adam moments
from an earlier round belong to an older global model.
"""
from __future__ import annotations

import numpy as np

from ..train.callbacks.base import Callback
from ._flwr import flwr

__all__ = ["LaminaClient", "ProximalTerm", "get_parameters", "set_parameters"]

KEY_CLIPPING_NORM = "clipping_norm"  # the key Flower's DP strategy wrappers put in the fit config


def get_parameters(model) -> list:
    """The model's state dict values as NumPy arrays (copies), in ``state_dict()`` order."""
    return [np.array(t.numpy(), copy=True) for t in model.state_dict().values()]


def set_parameters(model, arrays) -> None:
    """Load ``arrays`` (in ``state_dict()`` order) into ``model``, cast to each entry's dtype (an averaged
    integer counter is rounded)."""
    state = model.state_dict()
    arrays = list(arrays)
    if len(arrays) != len(state):
        raise ValueError(f"set_parameters: the model has {len(state)} state-dict entries "
                         f"({', '.join(list(state)[:4])}...) but {len(arrays)} arrays came")
    new = {}
    for (key, t), a in zip(state.items(), arrays):
        a = np.asarray(a)
        if tuple(a.shape) != tuple(t.shape):
            raise ValueError(f"set_parameters: {key} has shape {tuple(t.shape)} but the array has shape {a.shape}")
        dtype = np.dtype(t.dtype)
        if dtype.kind in "iub" and a.dtype.kind == "f":
            a = np.rint(a)
        new[key] = a.astype(dtype, copy=False)
    model.load_state_dict(new)


class ProximalTerm(Callback):
    """FedProx's proximal term as a Trainer callback: before every optimizer step,
    grad(w) += mu (w - w_global), the gradient of mu/2 ||w - w_global||^2.

    ``global_params``: the global model's parameters (arrays, in ``model.parameters()`` order).
    """

    def __init__(self, mu: float, global_params):
        if not mu >= 0:
            raise ValueError(f"ProximalTerm: mu must be >= 0, got {mu}")
        self.mu = float(mu)
        self.global_params = [np.asarray(a) for a in global_params]

    def on_before_optimizer_step(self, step):
        from ..autograd import no_grad
        from ..tensor import Tensor
        params = [p for p in self.trainer.model.parameters()]
        with no_grad():
            for p, w0 in zip(params, self.global_params):
                if p.grad is None or not p.requires_grad:
                    continue
                xp = p.grad.xp
                p.grad.add_(Tensor._wrap(self.mu * (p.array - xp.asarray(w0, dtype=p.array.dtype))))


def _as_loader(data, batch_size: int, shuffle: bool, seed: int | None):
    from .. import backend
    from ..data import DataLoader, TensorDataset
    from ..tensor import Tensor
    if isinstance(data, tuple) and len(data) == 2:
        x, y = (d if isinstance(d, Tensor) else Tensor._wrap(np.ascontiguousarray(d)) for d in data)
        gen = backend.Generator().manual_seed(int(seed)) if shuffle and seed is not None else None
        return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, generator=gen)
    if not hasattr(data, "__iter__"):
        raise TypeError(f"LaminaClient: data must be (x, y) arrays or a DataLoader, got {type(data).__name__}")
    return data


def _num_examples(loader) -> int:
    ds = getattr(loader, "dataset", None)
    if ds is not None:
        return len(ds)
    return sum(len(b[0]) if isinstance(b, (tuple, list)) else len(b) for b in loader)


class LaminaClient(flwr.client.NumPyClient):
    """A Flower client that trains ``trainer.model`` with ``trainer`` on its own data.

    Args:
        trainer: a ``lamina.train.Trainer`` (model, loss, optimizer, metrics); its callbacks run too.
        train_data: the client's training data: ``(x, y)`` arrays/Tensors or a DataLoader.
        val_data: what ``evaluate`` scores (default: ``train_data``).
        local_epochs: epochs per round (the server's ``local_epochs`` config overrides it).
        batch_size: batch size of the loaders made from arrays.
        seed: seeds the shuffling of the training data (None: no shuffling).
        client_id: this client's number, reported in the metrics (results are ordered by it).
        reset_optimizer: clear the optimizer's state at the start of every round.
    """

    def __init__(self, trainer, train_data, val_data=None, local_epochs: int = 1, batch_size: int = 32,
                 seed: int | None = 0, client_id: int = 0, reset_optimizer: bool = True):
        if int(local_epochs) < 1:
            raise ValueError(f"LaminaClient: local_epochs must be >= 1, got {local_epochs}")
        self.trainer, self.model = trainer, trainer.model
        self.train_loader = _as_loader(train_data, int(batch_size), True, seed)
        self.val_loader = self.train_loader if val_data is None else _as_loader(val_data, int(batch_size), False, None)
        self.local_epochs, self.client_id, self.reset_optimizer = int(local_epochs), int(client_id), reset_optimizer
        self.num_train = _num_examples(self.train_loader)
        self.num_val = self.num_train if val_data is None else _num_examples(self.val_loader)

    # ------------------------------------------------------------ weights <-> NumPy
    def get_parameters(self, config=None) -> list:
        return get_parameters(self.model)

    def set_parameters(self, parameters) -> None:
        set_parameters(self.model, parameters)

    # ------------------------------------------------------------ a round
    def fit(self, parameters, config):
        """Load the global weights, train ``local_epochs`` epochs, return ``(weights, num_examples, metrics)``."""
        from .privacy import clip_update
        config = dict(config or {})
        self.set_parameters(parameters)
        if self.reset_optimizer:
            self.trainer.optimizer.state.clear()
        mu = float(config.get("proximal_mu", 0.0) or 0.0)
        callbacks = []
        if mu > 0:
            callbacks.append(ProximalTerm(mu, [p.detach().numpy().copy() for p in self.model.parameters()]))
        epochs = int(config.get("local_epochs", self.local_epochs))
        history = self.trainer.fit(self.train_loader, epochs=epochs, callbacks=callbacks, verbose=False)
        new = self.get_parameters()
        last = {k: v[-1] for k, v in history.history.items() if v and np.ndim(v[-1]) == 0}
        metrics = {"client_id": self.client_id, "num_examples": self.num_train}
        metrics.update({f"train_{k}": float(v) for k, v in last.items() if k != "lr"})
        if KEY_CLIPPING_NORM in config:
            new, norm = clip_update(new, parameters, float(config[KEY_CLIPPING_NORM]))
            metrics["update_norm"] = norm
        n = 1 if config.get("uniform_weights") else self.num_train
        return new, n, metrics

    def evaluate(self, parameters, config):
        """Load the global weights and score them on this client's data: ``(loss, num_examples, metrics)``."""
        self.set_parameters(parameters)
        result = self.trainer.evaluate(self.val_loader)
        metrics = {k: float(v) for k, v in result.items() if k != "loss" and np.ndim(v) == 0}
        metrics["client_id"] = self.client_id
        return float(result["loss"]), self.num_val, metrics
