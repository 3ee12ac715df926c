"""The LSTM contestant: trained by backpropagation through time in PyTorch, early-stopped, tuned.

It forecasts exactly as the reservoirs do (one step ahead, teacher-forced through a context, then
its own output fed back), so a protocol scores it the same way. Training is done fairly by the
usual recipe: series standardised per variable; random windows of ``window`` steps; the next value
predicted as an increment of the current one (``y[t+1] = u[t] + head(h[t])``, which suits smooth
flows); MSE over each window after a burn-in quarter; Adam with gradient clipping; after every
epoch, free runs from points of the held-out last ``validation`` part score the network, and the
best epoch's weights are kept (early stopping with ``patience``, within ``time_budget`` seconds).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

# The tuning grid `esnkit bench` tries per protocol (hidden size, layers, learning rate, window).
CANDIDATES: tuple[dict[str, Any], ...] = (
    {"hidden_size": 64, "num_layers": 1, "lr": 3e-3, "window": 64},
    {"hidden_size": 128, "num_layers": 1, "lr": 1e-3, "window": 64},
    {"hidden_size": 64, "num_layers": 2, "lr": 3e-3, "window": 32},
    {"hidden_size": 128, "num_layers": 2, "lr": 1e-3, "window": 128},
    {"hidden_size": 32, "num_layers": 1, "lr": 1e-2, "window": 32},
)


class _Net(nn.Module):
    def __init__(self, features: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, features)

    def forward(self, u: torch.Tensor, hc: Any = None) -> tuple[torch.Tensor, Any]:
        h, hc = self.lstm(u, hc)
        return u + self.head(h), hc

    @torch.no_grad()
    def rollout(self, contexts: torch.Tensor, horizon: int) -> torch.Tensor:
        """Teacher-forced through ``contexts`` (S, W, D), then ``horizon`` steps fed back: (S, H, D)."""
        y, hc = self(contexts)
        y = y[:, -1:]
        out = [y]
        for _ in range(horizon - 1):
            y, hc = self(y, hc)
            out.append(y)
        return torch.cat(out, dim=1)


@dataclass
class History:
    """Per epoch: seconds since training began, and the validation free-run error then."""

    seconds: list[float] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)
    best_epoch: int = -1

    @property
    def best_seconds(self) -> float:
        """Training time until the kept (best) weights were reached."""
        return self.seconds[self.best_epoch] if self.best_epoch >= 0 else math.nan

    @property
    def best_validation(self) -> float:
        return self.validation[self.best_epoch] if self.best_epoch >= 0 else math.inf


class LSTMForecaster:
    """One-step LSTM forecaster with the protocols' ``fit`` / ``forecast`` interface.

    ``val_horizon`` free-running steps from ``val_starts`` points of the validation part score each
    epoch (normalised RMS error); ``context`` true steps lead into each (default: ``window``).
    """

    def __init__(
        self,
        *,
        hidden_size: int = 64,
        num_layers: int = 1,
        lr: float = 3e-3,
        window: int = 64,
        batch_size: int = 32,
        batches_per_epoch: int = 50,
        max_epochs: int = 100_000,
        patience: int = 20,
        time_budget: float = 60.0,
        validation: float = 0.2,
        val_horizon: int = 84,
        val_starts: int = 8,
        context: int | None = None,
        seed: int = 0,
    ) -> None:
        for name, v in (("hidden_size", hidden_size), ("num_layers", num_layers), ("window", window),
                        ("batch_size", batch_size), ("batches_per_epoch", batches_per_epoch),
                        ("max_epochs", max_epochs), ("patience", patience), ("val_horizon", val_horizon),
                        ("val_starts", val_starts)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if window < 4:
            raise ValueError(f"window must be ≥ 4 steps, got {window}")
        if not (lr > 0 and math.isfinite(lr)):
            raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
        if not (time_budget > 0):
            raise ValueError(f"time_budget must be > 0 seconds, got {time_budget!r}")
        if not 0 < validation < 1:
            raise ValueError(f"validation must be a fraction in (0, 1), got {validation!r}")
        self.hidden_size, self.num_layers, self.lr, self.window = hidden_size, num_layers, lr, window
        self.batch_size, self.batches_per_epoch, self.max_epochs = batch_size, batches_per_epoch, max_epochs
        self.patience, self.time_budget, self.validation = patience, time_budget, validation
        self.val_horizon, self.val_starts, self.seed = val_horizon, val_starts, seed
        self.context = window if context is None else context
        if not isinstance(self.context, int) or isinstance(self.context, bool) or self.context < 1:
            raise ValueError(f"context must be a positive integer (true steps before each validation run), "
                             f"got {context!r}")
        self.net: _Net | None = None
        self.history = History()
        self.mean = self.std = None

    def describe(self) -> str:
        return (f"LSTM {self.num_layers}×{self.hidden_size}, lr {self.lr:g}, window {self.window}, "
                f"batch {self.batch_size}")

    def fit(self, series: Any) -> LSTMForecaster:
        s = np.asarray(series, dtype=np.float64)
        if s.ndim != 2:
            raise ValueError(f"series must be (time, features), got shape {s.shape}")
        if not np.all(np.isfinite(s)):
            raise ValueError("series contains NaN or Inf")
        n_val = int(len(s) * self.validation)
        n_train = len(s) - n_val
        if n_train < max(self.window + 2, self.context) or n_val < self.val_horizon + 1:
            raise ValueError(f"series of {len(s)} steps is too short for window={self.window}, "
                             f"context={self.context}, val_horizon={self.val_horizon} and "
                             f"validation={self.validation}")
        self.mean, self.std = s[:n_train].mean(axis=0), s[:n_train].std(axis=0)
        z = torch.as_tensor((s - self.mean) / self.std, dtype=torch.float32)
        gen = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        net = _Net(s.shape[1], self.hidden_size, self.num_layers)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        # Validation free runs start inside the held-out part, led in by true steps before them.
        last = len(s) - self.val_horizon
        val_at = np.unique(np.linspace(n_train, last, self.val_starts).astype(int))
        ctx = torch.stack([z[a - self.context: a] for a in val_at])
        truth = torch.stack([z[a: a + self.val_horizon] for a in val_at])
        burn = self.window // 4
        self.history = History()
        best_state, best, stale = None, math.inf, 0
        t0 = time.perf_counter()
        for _epoch in range(self.max_epochs):
            net.train()
            for _ in range(self.batches_per_epoch):
                starts = torch.randint(0, n_train - self.window, (self.batch_size,), generator=gen)
                w = torch.stack([z[i: i + self.window + 1] for i in starts.tolist()])
                pred, _ = net(w[:, :-1])
                loss = torch.mean((pred[:, burn:] - w[:, burn + 1:]) ** 2)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
            net.eval()
            pred = net.rollout(ctx, self.val_horizon)
            err = float(torch.sqrt(torch.mean((pred - truth) ** 2)))
            err = err if math.isfinite(err) else math.inf
            self.history.seconds.append(time.perf_counter() - t0)
            self.history.validation.append(err)
            if err < best:
                best, stale = err, 0
                best_state = copy.deepcopy(net.state_dict())
                self.history.best_epoch = len(self.history.seconds) - 1
            else:
                stale += 1
            if stale >= self.patience or time.perf_counter() - t0 >= self.time_budget:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        self.net = net.eval()
        return self

    def forecast(self, contexts: Any, horizon: int) -> np.ndarray:
        if self.net is None:
            raise ValueError("call fit(series) before forecast")
        c = np.asarray(contexts, dtype=np.float64)
        if c.ndim != 3 or c.shape[2] != len(self.mean):
            raise ValueError(f"contexts must be (starts, steps, {len(self.mean)}), got shape {c.shape}")
        if not np.all(np.isfinite(c)):
            raise ValueError("contexts contain NaN or Inf")
        if not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
        z = torch.as_tensor((c - self.mean) / self.std, dtype=torch.float32)
        out = self.net.rollout(z, int(horizon)).double().numpy()
        return out * self.std + self.mean


def tune(series: Any, candidates: tuple[dict[str, Any], ...] = CANDIDATES, *, time_budget: float = 30.0,
         **common: Any) -> tuple[dict[str, Any], list[tuple[dict[str, Any], float]]]:
    """Train each candidate for ``time_budget`` seconds; returns the best candidate (lowest
    validation error) and every ``(candidate, validation error)``."""
    if not candidates:
        raise ValueError("candidates must hold at least one LSTM configuration")
    tried = []
    for cand in candidates:
        m = LSTMForecaster(**{**common, **cand, "time_budget": time_budget}).fit(series)
        tried.append((dict(cand), m.history.best_validation))
    best = min(tried, key=lambda t: t[1])[0]
    return best, tried
