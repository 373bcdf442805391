"""Data-parallel training over processes (torchrun): gloo on CPU, nccl on CUDA.

Every process holds the same weights and draws the same random numbers: each step's batch,
augmentation, cameras, noise, the VAE's samples and the dropout masks are drawn for the GLOBAL
batch, and each rank keeps its share of the rows. Batch-norm statistics are those of the global
batch, in-batch triplet negatives are mined over the gathered global batch, and
DistributedDataParallel averages the gradients, so N processes take the step one process takes
on the same global batch (up to float rounding). In one process every function here is the
identity and no module is converted: the single-process path is the plain one.
"""
from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

_views = 1  # how many blocks of the global batch the rows in flight hold (camera views per pose)


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if world_size() > 1 else 0


def join(device: torch.device) -> torch.device:
    """Under torchrun (WORLD_SIZE set): join its process group, nccl for CUDA and gloo otherwise,
    and return this process's device, cuda:LOCAL_RANK for CUDA. Elsewhere: `device`."""
    if "WORLD_SIZE" not in os.environ:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(dist.destroy_process_group)
    return device


@contextlib.contextmanager
def views(n: int) -> Iterator[None]:
    """The rows in flight are `n` blocks (one per camera view), each this rank's share of a
    global block: where its rows sit in the global batch (see `rows`)."""
    global _views
    _views, before = n, _views
    try:
        yield
    finally:
        _views = before


def rows(n_local: int) -> np.ndarray:
    """Indices of this rank's `n_local` rows in the global batch of n_local * world rows."""
    world, share = world_size(), n_local // _views
    starts = np.arange(_views) * share * world + rank() * share
    return (starts[:, None] + np.arange(share)).ravel()


def share(x: np.ndarray) -> np.ndarray:
    """This rank's rows of a global batch (N, ...): N / world consecutive rows."""
    n = len(x) // world_size()
    return x[rank() * n : (rank() + 1) * n]


def standard_normal(like: torch.Tensor) -> torch.Tensor:
    """N(0, 1) noise shaped like this rank's rows, drawn for the global batch (what
    Normal.rsample draws in one process)."""
    if world_size() == 1:
        return torch.empty_like(like).normal_()
    noise = torch.empty((len(like) * world_size(), *like.shape[1:]), dtype=like.dtype,
                        device=like.device).normal_()
    return noise[torch.as_tensor(rows(len(like)), device=like.device)]


def gather(x: torch.Tensor) -> torch.Tensor:
    """The global batch from every rank's rows, in rank order; gradients flow back to each
    rank's own rows (summed over the ranks that used them)."""
    return x if world_size() == 1 else _Gather.apply(x)


def mean(values: dict[str, float]) -> dict[str, float]:
    """Per-rank means of equal shares -> the global batch's means (same keys on every rank)."""
    if world_size() == 1:
        return values
    total = torch.tensor(list(values.values()), dtype=torch.float64)
    if dist.get_backend() == "nccl":
        total = total.cuda()
    dist.all_reduce(total)
    return dict(zip(values, (total / world_size()).tolist(), strict=True))


def any_rank(flag: bool) -> bool:
    """True on every rank when it is true on one (so that all stop at the same step)."""
    return bool(mean({"flag": float(flag)})["flag"] > 0)


class _Sum(torch.autograd.Function):
    """The sum over ranks; each rank's input gets the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return _Sum.forward(ctx, grad)


class _Gather(torch.autograd.Function):
    """The ranks' rows concatenated; each rank's rows get the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        n = len(grad) // world_size()
        return _Sum.forward(ctx, grad)[rank() * n : (rank() + 1) * n]


class SyncBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d normalising by the statistics of the global batch: the per-rank sums and
    sums of squares are all-reduced (torch's SyncBatchNorm refuses CPU tensors)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        x = x.contiguous()  # the output's layout is then plain batch norm's (dropout follows it)
        dims = [0, *range(2, x.dim())]  # (N, C) or (N, C, L): statistics per channel C
        n = x.numel() // x.shape[1] * world_size()
        # Sums in float64: E[x^2] - E[x]^2 loses float32's digits when a channel's mean is large.
        x64 = x.double()
        sums = _Sum.apply(torch.cat([x64.sum(dims), (x64 * x64).sum(dims)]))
        mean_x, mean_sq = (sums / n).chunk(2)
        var = (mean_sq - mean_x**2).clamp_min(0)
        mean_x, var = mean_x.to(x.dtype), var.to(x.dtype)
        with torch.no_grad():
            self.running_mean.lerp_(mean_x, self.momentum)
            self.running_var.lerp_(var * n / (n - 1), self.momentum)  # unbiased, as torch's
            self.num_batches_tracked += 1
        shape = (1, -1) + (1,) * (x.dim() - 2)
        scale = self.weight * torch.rsqrt(var + self.eps)
        return (x - mean_x.view(shape)) * scale.view(shape) + self.bias.view(shape)


class GlobalDropout(nn.Dropout):
    """Dropout whose mask is drawn for the global batch (as F.dropout draws it on the CPU in
    one process), this rank keeping its rows."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        # F.dropout fills a mask laid out in memory as x is (the graph network's features are a
        # transposed view): the same layout, for the global batch.
        order = sorted(range(x.dim()), key=lambda d: -x.stride(d))
        shape = (len(x) * world_size(), *x.shape[1:])
        mask = torch.empty([shape[d] for d in order], dtype=x.dtype, device=x.device)
        mask = mask.bernoulli_(1 - self.p).permute(*np.argsort(order).tolist())
        mask = mask[torch.as_tensor(rows(len(x)), device=x.device)]
        return x * mask.div_(1 - self.p)


def convert(module: nn.Module) -> nn.Module:
    """In place, when there are several processes: BatchNorm1d -> SyncBatchNorm1d, Dropout ->
    GlobalDropout (same weights and buffers, same state-dict keys)."""
    if world_size() == 1:
        return module
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm1d:
            synced = SyncBatchNorm1d(child.num_features, child.eps, child.momentum)
            synced.load_state_dict(child.state_dict())
            setattr(module, name, synced)
        elif type(child) is nn.Dropout:
            setattr(module, name, GlobalDropout(child.p))
        else:
            convert(child)
    return module
