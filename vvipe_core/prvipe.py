"""Pr-VIPE (Sun et al., "View-Invariant Probabilistic Embedding for Human Pose"), as the
official code trains it (google-research/poem, `pr_vipe/train_base.py` defaults), re-implemented.

- 2D keypoints -> a Gaussian embedding (mean, std = ELU + 1) from a Martinez-style residual MLP
  (1024 wide, dropout 0.3, He-normal initialisation); 20 reparameterised samples per pose.
- Matching probability of two points: p = (1 - s) sigmoid(-a |z1 - z2| + b) + s / 2, s = 0.1,
  a = ELU(raw_a) + 1 and b learnt (raw_a starts at -0.65, b at -0.5). The distance of two
  Gaussian embeddings is -log of the mean p over all sample pairs.
- Every record is one 3D pose seen by two cameras (anchor, positive). Triplet loss with margin
  ln 2 on that distance; the negative of an anchor is the semi-hard one among the other
  records' positives (NP-MPJPE >= 0.1 to the anchor's pose, farther than the anchor's own
  positive, the nearest such); the loss is averaged over the active triplets. Positive pairwise
  loss (the same distance) weight 0.005; KL to N(0, I) weight 0.001.
- Adagrad, learning rate 0.02, no schedule; an exponential moving average of the weights is
  what gets evaluated.

Everything the recipe fixes is a constant here; the config gives the data, cameras, network
size, batch, seed and the number of steps.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vvipe_core import checkpoint
from vvipe_core.cameras import keypoint_features
from vvipe_core.canonical import canonicalize
from vvipe_core.config import TrainConfig
from vvipe_core.data import load_poses
from vvipe_core.metrics import HIT_THRESHOLD, normalised_pose_error
from vvipe_core.models import KEYPOINT_DIM, ResidualMLP
from vvipe_core.skeleton import H36M17
from vvipe_core.train import TrainEvent, augmented_world_poses, camera_keypoints, select_device

SAMPLES = 20
SMOOTHING = 0.1
RAW_A_INIT = -0.65
B_INIT = -0.5
MARGIN = math.log(2.0)
POSITIVE_WEIGHT = 0.005
KL_WEIGHT = 0.001
LEARNING_RATE = 0.02
ADAGRAD_INITIAL_ACCUMULATOR = 0.1  # TensorFlow's default, which the official code keeps
EMA_DECAY = 0.9999
HEAD_SCALE = 0.1  # see PrVipe._start_unsaturated
HEAD_STD = 0.1
# NP-MPJPE (a Procrustes fit) is checked for this many semi-hard candidates per anchor, nearest
# first; the nearest true negative among them is the one an all-pairs check would pick unless
# all of them are near-duplicates of the anchor's pose (then the anchor has no triplet).
MINING_CANDIDATES = 16
# Training stops once the validation Hit@1 (checked every `steps_per_epoch` steps) has not
# risen by MIN_GAIN for PATIENCE checks in a row, or after `mapper_epochs` checks.
PATIENCE = 3
MIN_GAIN = 0.002


def match_probability(distance: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                      smoothing: float = SMOOTHING) -> torch.Tensor:
    """Smoothed sigmoid matching probability of an inner L2 distance; in [s/2, 1 - s/2]."""
    return (1.0 - smoothing) * torch.sigmoid(-a * distance + b) + smoothing / 2.0


class PrVipe(nn.Module):
    """2D keypoint features (N, 13, 3) -> Gaussian embedding (mean, std), each (N, D)."""

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        self.net = ResidualMLP(KEYPOINT_DIM, 2 * cfg.model.embedding_dim, cfg.model)
        for m in self.net.modules():
            if isinstance(m, nn.Linear):  # He-normal, weights and biases, as the official code
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.normal_(m.bias, std=math.sqrt(2.0 / m.bias.numel()))
        self._start_unsaturated(self.net.net[-1])
        self.raw_a = nn.Parameter(torch.tensor(RAW_A_INIT))
        self.b = nn.Parameter(torch.tensor(B_INIT))

    @staticmethod
    @torch.no_grad()
    def _start_unsaturated(head: nn.Linear) -> None:
        """Our one departure from the official initialisation. With He-normal heads, sample
        distances start near 14, where every matching probability sits at its floor s/2 and
        the losses are flat: the official run (millions of steps) climbs out slowly; a CPU
        budget of a few thousand steps cannot. Small heads start the embeddings near 0 with
        standard deviations near HEAD_STD, inside the sigmoid's slope."""
        head.weight.mul_(HEAD_SCALE)
        dim = head.out_features // 2
        head.bias[:dim].zero_()
        head.bias[dim:].fill_(math.log(HEAD_STD))  # ELU(x) + 1 = exp(x) for x < 0

    @property
    def a(self) -> torch.Tensor:
        return nn.functional.elu(self.raw_a) + 1.0

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, raw_std = self.net(features.flatten(1)).chunk(2, dim=-1)
        return mean, nn.functional.elu(raw_std) + 1.0

    def sample_distance(self, za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
        """-log mean matching probability over all sample pairs: za (..., K, D) and zb
        (..., L, D), broadcasting in the leading dimensions -> (...)."""
        return self.distance_of_pairs(torch.cdist(za, zb))

    def distance_of_pairs(self, inner: torch.Tensor) -> torch.Tensor:
        """The sample distance from the inner L2 distances of all sample pairs (..., K, L)."""
        return -torch.log(match_probability(inner, self.a, self.b).mean((-2, -1)))

    @torch.no_grad()
    def sample_distance_matrix(self, za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
        """All pairs at once: za (N, K, D), zb (M, L, D) -> (N, M), one large matrix product."""
        (n, k, dim), (m, l_, _) = za.shape, zb.shape
        inner = torch.cdist(za.reshape(n * k, dim), zb.reshape(m * l_, dim))
        return self.distance_of_pairs(inner.view(n, k, m, l_).transpose(1, 2))


def draw_samples(mean: torch.Tensor, std: torch.Tensor, k: int = SAMPLES,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, D) Gaussians -> (N, k, D) reparameterised samples."""
    eps = torch.randn((*mean.shape[:-1], k, mean.shape[-1]), generator=generator,
                      device=mean.device, dtype=mean.dtype)
    return mean[..., None, :] + std[..., None, :] * eps


def semi_hard_negatives(
    distances: torch.Tensor, positive: torch.Tensor, poses: torch.Tensor,
    candidates: int = MINING_CANDIDATES,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each anchor i, the match j with the smallest distances[i, j] among those farther
    than the anchor's positive (distances[i, j] > positive[i]) whose pose is a true negative
    (NP-MPJPE(poses[i], poses[j]) >= 0.1). distances (B, B) anchor -> match, positive (B,),
    poses (B, 17, 3) normalised (match j shows pose j). Returns (index (B,), found (B,) bool)."""
    with torch.no_grad():
        d = torch.where(distances > positive[:, None], distances, torch.full_like(distances, math.inf))
        k = min(candidates, d.shape[1])
        cand_d, cand = d.topk(k, dim=1, largest=False)
        p = poses.detach()
        usable = torch.isfinite(cand_d) & (normalised_pose_error(p[cand], p[:, None]) >= HIT_THRESHOLD)
        found = usable.any(1)
        pick = usable.float().argmax(1)  # the first usable one: candidates are nearest first
    return cand.gather(1, pick[:, None])[:, 0], found


def gaussian_kl(mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, std^2) || N(0, I)) summed over dimensions, averaged over embeddings."""
    # ELU + 1 can underflow to 0 in float32: the official code floors the log's argument too.
    return (0.5 * (std**2 + mean**2 - 1.0) - torch.log(std.clamp_min(1e-12))).sum(-1).mean()


def prvipe_loss(net: PrVipe, anchor: torch.Tensor, positive: torch.Tensor,
                poses: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Features of two views of the same poses (B, 13, 3) and the poses (B, 17, 3), normalised."""
    (ma, sa), (mp, sp) = net(anchor), net(positive)
    za, zp = draw_samples(ma, sa), draw_samples(mp, sp)
    d_pos = net.sample_distance(za, zp)
    # Mining needs all pairs; the loss only the picked ones.
    negative, found = semi_hard_negatives(net.sample_distance_matrix(za, zp), d_pos.detach(), poses)
    d_neg = net.sample_distance(za, zp[negative])
    per_anchor = torch.relu(d_pos - d_neg + MARGIN) * found
    active = (per_anchor > 0).sum()
    triplet = per_anchor.sum() / active.clamp_min(1)
    pairwise = d_pos.mean()
    kl = gaussian_kl(torch.cat([ma, mp]), torch.cat([sa, sp]))
    loss = triplet + POSITIVE_WEIGHT * pairwise + KL_WEIGHT * kl
    return loss, {"triplet": triplet.item(), "positive": pairwise.item(), "kl": kl.item(),
                  "active": float(active) / len(anchor), "a": net.a.item(), "b": net.b.item()}


class WeightAverage:
    """Exponential moving average of a module's parameters, as TensorFlow's
    ExponentialMovingAverage with num_updates: decay min(EMA_DECAY, (1 + t) / (10 + t)), so
    that a short run averages over its recent steps rather than its initial weights."""

    def __init__(self, module: nn.Module, decay: float = EMA_DECAY):
        self.decay, self.updates = decay, 0
        self.shadow = {k: p.detach().clone() for k, p in module.named_parameters()}

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, p in module.named_parameters():
            self.shadow[k].lerp_(p.detach(), 1.0 - decay)

    def state_dict_of(self, module: nn.Module) -> dict[str, torch.Tensor]:
        """The module's state (batch-norm statistics included) with averaged parameters."""
        return {k: self.shadow.get(k, v).detach().cpu().clone() for k, v in module.state_dict().items()}

    def state(self) -> dict:
        return {"updates": self.updates, "shadow": {k: v.cpu() for k, v in self.shadow.items()}}

    def load(self, state: dict) -> None:
        self.updates = int(state["updates"])
        for k, v in state["shadow"].items():
            self.shadow[k].copy_(v)


def sample_distances(net: PrVipe, mean_q: np.ndarray, std_q: np.ndarray,
                           mean_g: np.ndarray, std_g: np.ndarray, ids: np.ndarray,
                           seed: int = 0, chunk: int = 256) -> np.ndarray:
    """Sample distances (Q, C) from each query to its candidate gallery items ids (Q, C), with
    seeded samples (the same draw for a gallery item wherever it appears)."""
    gen = torch.Generator().manual_seed(seed)
    t = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float32)
    zq = draw_samples(t(mean_q), t(std_q), generator=gen)
    zg = draw_samples(t(mean_g), t(std_g), generator=gen)
    out = np.empty(ids.shape, dtype=np.float32)
    with torch.no_grad():
        for s in range(0, len(ids), chunk):
            q = zq[s:s + chunk]  # (n, K, D)
            g = zg[torch.as_tensor(ids[s:s + chunk])]  # (n, C, K, D)
            n, c, k, dim = g.shape
            g = g.reshape(n, c * k, dim)
            # All sample pairs by one batched matrix product: |q|^2 + |g|^2 - 2 q.g
            d2 = (q**2).sum(-1)[:, :, None] + (g**2).sum(-1)[:, None, :] - 2 * torch.bmm(q, g.transpose(1, 2))
            inner = d2.clamp_min_(0).sqrt_().view(n, k, c, k).transpose(1, 2)
            out[s:s + chunk] = net.distance_of_pairs(inner).numpy()
    return out


def train(cfg: TrainConfig, out: str | Path, callback: Callable[[TrainEvent], None] | None = None,
          wrap: Callable[[dict], dict] = lambda state: state) -> Path:
    """Train on the config's train split and cameras; writes `wrap`(the final state) to `out`.

    The state after every period is kept in `out`.partial: an interrupted run resumes from it,
    and a finished one continues from it when called again with more periods
    (`mapper_epochs`), or stops there with fewer."""
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    device = select_device(cfg.device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        net = PrVipe(cfg).to(device)
        ema = WeightAverage(net)
        opt = torch.optim.Adagrad(net.parameters(), lr=LEARNING_RATE,
                                  initial_accumulator_value=ADAGRAD_INITIAL_ACCUMULATOR)
        run = {"period": 0, "history": [], "train_s": 0.0}
        if partial.exists():
            saved = torch.load(partial, map_location="cpu", weights_only=True)
            net.load_state_dict(saved["weights"])
            opt.load_state_dict(saved["optimizer"])
            ema.load(saved["ema"])
            run = saved["run"]
            torch.set_rng_state(saved["torch_rng"])
        _loop(cfg, net, ema, opt, run, partial, device, callback)
    state = {"weights": ema.state_dict_of(net), "history": run["history"],
             "steps": ema.updates, "train_s": run["train_s"]}
    checkpoint.save(wrap(state), out)
    return out


def _loop(cfg, net, ema, opt, run, partial, device, callback) -> None:
    train_poses = load_poses(cfg.train_data).poses
    val = load_poses(cfg.val_data).poses
    val = val[np.sort(np.random.default_rng(cfg.seed).permutation(len(val))[: cfg.val_poses])]
    tensor = lambda x: torch.as_tensor(x, dtype=torch.float32, device=device)
    n_steps = cfg.steps_per_epoch or len(train_poses) // cfg.batch_size
    periods = cfg.mapper_epochs
    while run["period"] < periods and not _converged(run["history"]):
        period, start = run["period"], time.monotonic()
        order = np.random.default_rng([cfg.seed, 3, period]).permutation(len(train_poses))
        net.train()
        for step in range(n_steps):
            rng = np.random.default_rng([cfg.seed, 3, period, step])
            batch = order[(step * cfg.batch_size) % len(order):][: cfg.batch_size]
            world = augmented_world_poses(train_poses[batch], cfg, rng)
            views = [tensor(keypoint_features(camera_keypoints(world, cfg.cameras, rng), H36M17)[0])
                     for _ in range(2)]
            loss, logs = prvipe_loss(net, *views, tensor(canonicalize(world, cfg.realign)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            ema.update(net)
            if callback and (step % 10 == 0 or step + 1 == n_steps):
                callback(TrainEvent("prvipe", period, periods, step + 1, n_steps, logs,
                                    elapsed_s=run["train_s"] + time.monotonic() - start))
        hit = validate(net, ema, val, cfg, device)
        run["train_s"] += time.monotonic() - start
        run["history"].append({"period": period, "steps": ema.updates, "val_hit@1": hit,
                               "train_s": run["train_s"], **logs})
        run["period"] = period + 1
        checkpoint.save({"weights": net.state_dict(), "optimizer": opt.state_dict(),
                         "ema": ema.state(), "run": run, "torch_rng": torch.get_rng_state()}, partial)
        if callback:
            callback(TrainEvent("prvipe", period, periods, n_steps, n_steps, logs,
                                val={"hit@1": hit}, elapsed_s=run["train_s"]))


def _converged(history: list[dict]) -> bool:
    hits = [h["val_hit@1"] for h in history]
    return len(hits) > PATIENCE and max(hits[-PATIENCE:]) < max(hits[:-PATIENCE]) + MIN_GAIN


@torch.no_grad()
def validate(net: PrVipe, ema: WeightAverage, val: np.ndarray, cfg: TrainConfig, device) -> float:
    """Hit@1 between two seen views of the val poses, nearest embedding mean, averaged weights."""
    scratch = PrVipe(cfg).to(device)
    scratch.load_state_dict(ema.state_dict_of(net))
    scratch.eval()
    views = [camera_keypoints(val, cfg.cameras, [cfg.seed, 99, v]) for v in range(2)]
    z = [scratch(torch.as_tensor(keypoint_features(p, H36M17)[0], device=device))[0] for p in views]
    nearest = torch.cdist(z[0], z[1]).argmin(1).cpu()
    c = torch.as_tensor(canonicalize(val, cfg.realign), dtype=torch.float32)
    return float((normalised_pose_error(c, c[nearest]) <= HIT_THRESHOLD).float().mean())
