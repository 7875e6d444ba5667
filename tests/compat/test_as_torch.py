"""lamina.compat.as_torch(): `import torch` gives lamina. Each case runs in a fresh Python process
so that this test process's sys.modules (where the real torch may be imported) stays clean."""
import os
import subprocess
import sys
import textwrap

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))


def run(code: str = None, args=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    cmd = [sys.executable] + (args if args is not None else ["-c", textwrap.dedent(code)])
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


SCRIPT = '''
# an ordinary PyTorch training script, run with `python -m lamina.compat --run script.py 4`
import io
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, Dataset, TensorDataset
import torch.autograd.functional

assert torch.__name__ == "lamina", torch.__name__
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.backends.cudnn.benchmark = True
torch.manual_seed(0)

class Squares(Dataset):
    def __init__(self):
        self.x = torch.randn(32, 4)
    def __len__(self):
        return len(self.x)
    def __getitem__(self, i):
        return self.x[i], (self.x[i] ** 2).sum(0, keepdim=True)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 16), nn.Linear(16, 1)
    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))

model = nn.DataParallel(Net()).to(device)
opt = optim.Adam(model.parameters(), lr=1e-2)
sched = StepLR(opt, step_size=1, gamma=0.5)
loader = DataLoader(Squares(), batch_size=8, shuffle=True)
epoch_loss = []
for epoch in range(int(sys.argv[1])):
    total = 0.0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        loss = F.mse_loss(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
        total += loss.item()
    epoch_loss.append(total)
    sched.step()
with torch.no_grad():
    pred = model(torch.zeros(2, 4))
assert not pred.requires_grad
buf = io.BytesIO()
torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
buf.seek(0)
ck = torch.load(buf, map_location=device, weights_only=True)
assert list(ck["model"]) == ["module.fc1.weight", "module.fc1.bias", "module.fc2.weight", "module.fc2.bias"]
model.load_state_dict(ck["model"])
ds = TensorDataset(torch.randn(6, 2), torch.arange(6))
assert len(list(DataLoader(ds, batch_size=4))) == 2

class Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2
    @staticmethod
    def backward(ctx, g):
        return g * 2

w = torch.ones(3, requires_grad=True)
g, = torch.autograd.grad(Double.apply(w).sum(), w)
assert g.tolist() == [2.0, 2.0, 2.0]
assert torch.autograd.functional.jacobian(lambda t: t * 3, torch.ones(2)).tolist() == [[3.0, 0.0], [0.0, 3.0]]
print("OK", epoch_loss[-1] < epoch_loss[0])
'''


def test_training_script_runs_on_lamina(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    r = run(args=["-m", "lamina.compat", "--run", str(script), "4"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "OK True"


def test_restore_context_manager_and_missing_modules():
    r = run('''
        import sys, lamina, lamina.compat
        with lamina.compat.as_torch() as t:
            import torch, torch.nn
            assert torch is lamina and t is lamina and torch.nn is lamina.nn
            import torch.utils.data.sampler as s  # any torch.X.Y maps to lamina's module, not a copy of it
            assert s is lamina.data.sampler and s.__spec__.name == "lamina.data.sampler"
            assert lamina.compat.is_active()
            try:
                import torch.fx
            except ModuleNotFoundError as e:
                print("missing:", e)
        assert not lamina.compat.is_active()
        assert not [k for k in sys.modules if k == "torch" or k.startswith("torch.")]
        assert lamina.nn.__spec__.name == "lamina.nn" and lamina.__spec__.name == "lamina"
        import lamina.nn as again
        assert again is lamina.nn and "lamina.nn" in sys.modules
        lamina.compat.as_torch(); lamina.compat.as_torch()  # idempotent
        import torch
        assert torch is lamina
        lamina.compat.restore()
        try:
            import torch
        except ImportError:
            print("after restore: no torch installed")
        else:  # the real PyTorch now: as_torch() must refuse to shadow it
            print("after restore:", torch.__name__, "lamina" not in torch.__file__)
            try:
                lamina.compat.as_torch()
            except RuntimeError as e:
                print("refused:", e)
            assert sys.modules["torch"] is torch and not lamina.compat.is_active()
    ''')
    assert r.returncode == 0, r.stderr
    assert "missing: No module named 'torch.fx'" in r.stdout and "lamina has no 'lamina.fx'" in r.stdout
    if "no torch installed" not in r.stdout:
        assert "after restore: torch True" in r.stdout
        assert "refused: lamina.compat.as_torch(): the real PyTorch is already imported" in r.stdout
