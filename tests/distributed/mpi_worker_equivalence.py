"""Run under ``mpiexec -n 2``: DDP + DistributedSampler (+ SyncBatchNorm) against one process with
the global batch; rank 0 writes the comparison as JSON to argv[1]."""
import json
import sys

import numpy as np

import lamina
from lamina import nn, optim
from lamina.data import DataLoader, TensorDataset
from lamina.distributed import (DistributedDataParallel, DistributedSampler, SyncBatchNorm, init_process_group,
                                reduce_mean)

STEPS, B = 50, 16


def mlp(dtype):
    lamina.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype)


def cnn(dtype, sync):
    lamina.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 3))
    m = m.to(dtype)
    return SyncBatchNorm.convert_sync_batchnorm(m) if sync else m


def train(model, x, y, world, rank, ddp):
    ds = TensorDataset(lamina.tensor(x), lamina.tensor(y))
    sampler = DistributedSampler(ds, num_replicas=world, rank=rank, seed=0)
    loader = DataLoader(ds, batch_size=B // world, sampler=sampler)
    net = DistributedDataParallel(model, bucket_cap_mb=0.0005) if ddp else model
    opt = optim.Adam(model.parameters(), lr=1e-2)
    losses, step, epoch = [], 0, 0
    while step < STEPS:
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            loss = nn.functional.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(reduce_mean(float(loss.item()), 1) if ddp else float(loss.item()))
            step += 1
            if step == STEPS:
                break
        epoch += 1
    return losses, net


def state(model):
    return {k: v.numpy().astype(np.float64) for k, v in model.state_dict().items()}


def maxdiff(a, b):
    return max(float(np.max(np.abs(a[k] - b[k]))) if a[k].size else 0.0 for k in a)


def main():
    pg = init_process_group()
    W, r = pg.world_size, pg.rank
    rng = np.random.default_rng(1)
    out = {"world_size": W}
    for name, shape in (("mlp", (64, 8)), ("cnn", (64, 1, 6, 6))):
        x = rng.standard_normal(shape)
        y = rng.integers(0, 3, 64)
        for dtype in (lamina.float64, lamina.float32):
            make = (lambda sync: mlp(dtype)) if name == "mlp" else (lambda sync: cnn(dtype, sync))
            npdt = np.float64 if dtype == lamina.float64 else np.float32
            dl, ddp_net = train(make(True), x.astype(npdt), y, W, r, True)
            if r == 0:
                sl, single = train(make(False), x.astype(npdt), y, 1, 0, False)
                key = f"{name}_{'f64' if dtype == lamina.float64 else 'f32'}"
                a, b = state(ddp_net.module), state(single)
                out[key + "_weights"] = maxdiff(a, b)
                out[key + "_per_key"] = {k: float(np.max(np.abs(a[k] - b[k]))) for k in a}
                out[key + "_loss"] = float(np.max(np.abs(np.array(dl) - np.array(sl))))
    # overlap trace: a model of several buckets, one backward
    lamina.manual_seed(0)
    deep = nn.Sequential(*[nn.Linear(64, 64) for _ in range(8)])
    ddp = DistributedDataParallel(deep, bucket_cap_mb=0.02, trace=True)
    xb = lamina.randn(32, 64)
    for _ in range(2):
        ddp.reducer.events.clear()
        ddp(xb).square().mean().backward()
    ev = ddp.reducer.events
    ready = [t for t, k, _ in ev if k == "ready"]
    launches = [t for t, k, _ in ev if k == "launch"]
    out["buckets"] = len(ddp.reducer.buckets)
    out["first_launch_before_last_ready"] = bool(launches and launches[0] < ready[-1])
    # no_sync accumulation: two micro-batches under no_sync + one synced == averaged sum of three
    lamina.manual_seed(0)
    m = nn.Linear(4, 2).to(lamina.float64)
    ddp = DistributedDataParallel(m)
    xs = [lamina.tensor(np.random.default_rng(10 * r + i).standard_normal((3, 4))) for i in range(3)]
    with ddp.no_sync():
        ddp(xs[0]).sum().backward()
        ddp(xs[1]).sum().backward()
    local_before = m.weight.grad.numpy().copy()
    ddp(xs[2]).sum().backward()
    local = sum(lamina.tensor(np.ones((3, 2))).T.numpy() @ xi.numpy() for xi in xs)
    gathered = pg.all_gather(np.ascontiguousarray(local))
    out["no_sync_local_kept"] = bool(np.allclose(local_before, sum(np.ones((2, 3)) @ xi.numpy() for xi in xs[:2])))
    out["no_sync_error"] = float(np.max(np.abs(m.weight.grad.numpy() - gathered.mean(0))))
    # unused parameters contribute zeros; buffers are broadcast from rank 0
    lamina.manual_seed(0)
    two = nn.ModuleDict({"a": nn.Linear(3, 1), "b": nn.Linear(3, 1)}).to(lamina.float64)

    class Pick(nn.Module):
        def __init__(self):
            super().__init__()
            self.two = two

        def forward(self, x):
            return self.two["a" if r == 0 else "b"](x)
    ddp = DistributedDataParallel(Pick())
    ddp(lamina.ones(2, 3, dtype=lamina.float64)).sum().backward()
    out["unused_grad_a"] = two["a"].weight.grad.numpy().tolist()
    out["unused_grad_b"] = two["b"].weight.grad.numpy().tolist()
    if r == 0:
        with open(sys.argv[1], "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    main()
