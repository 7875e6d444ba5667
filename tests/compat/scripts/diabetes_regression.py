"""Tabular regression on scikit-learn's diabetes data: an MLP with BatchNorm and Dropout, MSELoss,
SGD with momentum and weight decay, a cosine schedule, early stopping on validation loss, and a
checkpoint of the best weights kept in memory (state_dict / load_state_dict)."""
import argparse
import copy
import io

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_diabetes
from torch.utils.data import DataLoader, TensorDataset, random_split


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--lr', type=float, default=0.01)
    args = parser.parse_args()
    torch.manual_seed(0)
    x, y = load_diabetes(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    X = torch.tensor(x, dtype=torch.float32)
    Y = torch.tensor(y, dtype=torch.float32).unsqueeze(1)
    train_x, val_x, train_y, val_y = X[:350], X[350:], Y[:350], Y[350:]
    train_loader = DataLoader(TensorDataset(train_x, train_y), batch_size=32, shuffle=False)

    model = nn.Sequential(
        nn.Linear(10, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(64, 32), nn.ReLU(),
        nn.Linear(32, 1),
    )
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    best, best_state, patience = float("inf"), None, 0
    for epoch in range(args.epochs):
        model.train()
        running = 0.0
        for xb, yb in train_loader:
            optimizer.zero_grad()
            pred = model(xb)
            loss = loss_fn(pred, yb)
            loss.backward()
            optimizer.step()
            running += loss.item() * xb.size(0)
        scheduler.step()
        model.eval()
        with torch.no_grad():
            val = loss_fn(model(val_x), val_y).item()
        print(f"epoch {epoch + 1:3d} train {running / len(train_x):.4f} val {val:.4f} lr {scheduler.get_last_lr()[0]:.5f}")
        if val < best:
            best, best_state, patience = val, copy.deepcopy(model.state_dict()), 0
        else:
            patience += 1
            if patience >= 8:
                print("early stopping")
                break
    model.load_state_dict(best_state)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    model.load_state_dict(torch.load(buffer))
    model.eval()
    with torch.no_grad():
        r2 = 1 - ((model(val_x) - val_y) ** 2).sum() / ((val_y - val_y.mean()) ** 2).sum()
    print(f"best val loss {best:.4f}, R^2 {r2.item():.3f}")


if __name__ == '__main__':
    main()
