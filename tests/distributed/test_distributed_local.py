"""lamina.distributed on one process (no MPI): the fallback group, DistributedSampler, SyncBatchNorm's
math (float64 gradcheck, parity with BatchNorm and torch), DDP as a pass-through, CLI --nproc 1."""
import json
import os

import numpy as np
import pytest
from helpers import gradcheck, parity, rng

import lamina
from lamina import nn
from lamina.distributed import (DistributedDataParallel, DistributedSampler, ProcessGroup, SyncBatchNorm,
                                init_process_group, reduce_metrics, sync_batch_norm)
from lamina.distributed.launch import relaunch_command
from lamina.metrics import get_metric


def test_single_process_group_collectives_are_identities():
    pg = ProcessGroup(None)
    assert (pg.rank, pg.world_size, pg.local_rank, pg.backend) == (0, 1, 0, "single")
    x = np.arange(4.0)
    assert pg.all_reduce(x, "mean") is x and np.array_equal(x, np.arange(4.0))
    assert pg.broadcast(x) is x
    assert pg.all_gather(x).shape == (1, 4)
    pg.barrier()
    assert pg.all_gather_object({"a": 1}) == [{"a": 1}]
    with pytest.raises(ValueError, match="op must be one of"):
        pg.all_reduce(x, "prod")


def test_init_without_mpi_gives_rank0_of_1(monkeypatch):
    for k in ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "MPI_LOCALRANKID", "HYDRA_CONTROL_FD"):
        monkeypatch.delenv(k, raising=False)
    pg = init_process_group()
    assert pg.world_size == 1 and pg.rank == 0


@pytest.mark.parametrize("n,w,drop_last", [(10, 3, False), (10, 3, True), (8, 2, False), (2, 4, False)])
def test_distributed_sampler_partitions_the_epoch(n, w, drop_last):
    ds = list(range(n))
    parts = [DistributedSampler(ds, w, r, seed=5, drop_last=drop_last) for r in range(w)]
    for s in parts:
        s.set_epoch(3)
    idx = [s.index_array() for s in parts]
    per = n // w if drop_last else -(-n // w)
    assert all(len(i) == per == len(s) for i, s in zip(idx, parts))
    allidx = np.concatenate(idx)
    if drop_last:
        assert len(set(allidx.tolist())) == len(allidx)  # no repeats
    else:
        assert set(allidx.tolist()) == set(range(n))  # padded: every sample at least once
    # the ranks' k-th batches of B/W are the k-th global batch of one process with batch B
    one = DistributedSampler(ds, 1, 0, seed=5)
    one.set_epoch(3)
    glob = parts[0].global_indices()
    assert np.array_equal(np.sort(np.stack(idx, 1).reshape(-1)), np.sort(glob))
    assert np.array_equal(one.global_indices()[:len(glob)], glob[:len(glob)]) or len(glob) > n


def test_distributed_sampler_shuffles_per_epoch_and_resumes():
    s = DistributedSampler(range(20), 2, 1, seed=0)
    s.set_epoch(0)
    a = s.index_array()
    s.set_epoch(1)
    b = s.index_array()
    assert not np.array_equal(a, b)
    t = DistributedSampler(range(20), 2, 1, seed=7)
    t.load_state_dict(s.state_dict())
    assert np.array_equal(t.index_array(), b)
    assert np.array_equal(DistributedSampler(range(5), 1, 0, shuffle=False).index_array(), np.arange(5))
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), 2, 2)


def test_sync_batchnorm_gradcheck_float64():
    r = rng(0)
    x, w, b = r.standard_normal((4, 3, 2, 2)), r.standard_normal(3), r.standard_normal(3)
    gradcheck(lambda x, w, b: sync_batch_norm(x, None, None, w, b), x, w, b)
    gradcheck(lambda x: sync_batch_norm(x, None, None), r.standard_normal((5, 2)))


def test_sync_batchnorm_parity_with_torch():
    r = rng(1)
    x, w, b = r.standard_normal((6, 3, 2)), r.standard_normal(3), r.standard_normal(3)
    import helpers
    torch = helpers.torch
    parity(lambda x, w, b: sync_batch_norm(x, None, None, w, b), x, w, b,
           torch_fn=lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, training=True))


def test_sync_batchnorm_equals_batchnorm_on_one_process():
    lamina.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU())
    ref = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU())
    ref.load_state_dict(net.state_dict())
    net = SyncBatchNorm.convert_sync_batchnorm(net)
    assert isinstance(net[1], SyncBatchNorm) and list(net.state_dict()) == list(ref.state_dict())
    x = lamina.tensor(rng(2).standard_normal((4, 2, 5, 5)).astype(np.float32))
    for m in (net, ref):
        m(x).square().sum().backward()
    for (k, a), b in zip(net.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, err_msg=k)
    for p, q in zip(net.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-4, rtol=1e-4)
    net.eval(), ref.eval()
    np.testing.assert_allclose(net(x).detach().numpy(), ref(x).detach().numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="input has 2 channels"):
        SyncBatchNorm(3).train()(lamina.randn(4, 2))


def test_ddp_one_process_passes_gradients_and_keeps_hooks_off_outside_training():
    lamina.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    ref = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    ref.load_state_dict(m.state_dict())
    ddp = DistributedDataParallel(m, bucket_cap_mb=0)
    assert len(ddp.reducer.buckets) == 4 and list(ddp.state_dict())[0] == "module.0.weight"
    x = lamina.randn(5, 3)
    ddp(x).sum().backward()
    ref(x).sum().backward()
    for p, q in zip(m.parameters(), ref.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert all(type(p).__name__ == "Parameter" for p in m.parameters())  # restored after forward
    with lamina.no_grad():
        ddp(x)
    assert not ddp.reducer.active
    with pytest.raises(TypeError, match="expected an nn.Module"):
        DistributedDataParallel(lambda x: x)


def test_reduce_metrics_merges_states():
    acc = get_metric("accuracy")
    acc.update(lamina.tensor(np.eye(3, dtype=np.float32)), lamina.tensor(np.array([0, 1, 0])))
    (merged,) = reduce_metrics([acc], ProcessGroup(None))
    assert merged.compute() == pytest.approx(2 / 3) and merged is not acc


def test_relaunch_command_keeps_the_arguments():
    class A:
        nproc, config, overrides, resume, quiet, name, run_dir = 2, "c.toml", ["train.epochs=1"], True, False, None, "r"
    cmd = relaunch_command(A, "/x/mpiexec")
    assert cmd[0] == "/x/mpiexec" and cmd[cmd.index("-n") + 1] == "2"
    assert cmd[-2:] == ["--nproc", "2"] and "--resume" in cmd and cmd[cmd.index("--run-dir") + 1] == "r"


def test_cli_nproc_1_writes_the_usual_run_directory(tmp_path):
    from lamina.cli.main import main
    cfg = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "configs", "mlp_digits.toml")
    run = tmp_path / "r1"
    code = main(["train", cfg, "--set", "train.epochs=1", "--set", "model.hidden_sizes=[16]", "--run-dir", str(run),
                 "--nproc", "1", "--quiet"])
    assert code == 0
    assert {"config.toml", "metrics.csv", "checkpoints", "test_metrics.json"} <= set(os.listdir(run))
    assert json.loads((run / "test_metrics.json").read_text())["epochs"] == 1
