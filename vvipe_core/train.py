"""Training: the 3D pose VAE, then the 2D mapping network against a frozen copy of its decoder.

One loop per stage, resumable from any saved step, seeded, with progress reported through a
callback so the CLI and the GUI drive the same code. A run stops only between two steps (a cancel
or Ctrl-C sets a flag; the step under way finishes) and saves everything a resumed run needs to
reach the uninterrupted run's weights bit for bit: weights, optimiser, position, the random
generators (torch, numpy, Python) and the epoch's loss sums. The data order and augmentation
are drawn from (seed, stage, epoch, step) alone, so they need no saved state.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vvipe_core import checkpoint, distributed
from vvipe_core.cameras import CameraRanges, keypoint_features, project, sample_cameras
from vvipe_core.canonical import canonicalize
from vvipe_core.config import ConfigError, TrainConfig
from vvipe_core.corruption import DETECTOR, corrupt
from vvipe_core.data import (
    add_keypoint_noise,
    augment_bones,
    augment_mirror,
    drop_keypoints,
    load_poses,
)
from vvipe_core.losses import kl_to_standard_normal, kl_weight, reconstruction, triplet_loss
from vvipe_core.metrics import HIT_THRESHOLD, errors_mm, normalised_pose_error
from vvipe_core.models import PoseVAE, build_mapper
from vvipe_core.skeleton import H36M17

STAGES = ("vae", "mapper", "tune")  # tune: more mapper epochs, fresh optimiser (config.py)
# What a resumed run may change: where it runs and reads, and how long it goes on.
RESUME_MAY_CHANGE = frozenset({"device", "train_data", "val_data", "vae_epochs", "mapper_epochs"})


@dataclass
class TrainEvent:
    stage: str
    epoch: int  # 0-based epoch being trained
    epochs: int
    step: int  # steps done in this epoch
    steps_per_epoch: int
    losses: dict[str, float] = field(default_factory=dict)
    val: dict[str, float] | None = None  # set at the end of an epoch
    elapsed_s: float = 0.0

    @property
    def progress(self) -> float:
        return (self.epoch * self.steps_per_epoch + self.step) / max(1, self.epochs * self.steps_per_epoch)


Callback = Callable[[TrainEvent], None]


class TrainingCancelled(Exception):
    def __init__(self, checkpoint_path: Path):
        super().__init__(f"training cancelled; state saved to {checkpoint_path}")
        self.checkpoint_path = checkpoint_path


@contextlib.contextmanager
def stop_on_signals(cancel: threading.Event) -> Iterator[threading.Event]:
    """While open, Ctrl-C (SIGINT) and SIGTERM set `cancel`: the step under way finishes, then the
    run saves and stops. A second signal stops at once; the last saved checkpoint stays whole
    (checkpoints are written atomically). Main thread only, as Python's signal handlers are."""
    def on_signal(signum, frame) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield cancel
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def select_device(name: str | torch.device = "auto") -> torch.device:
    """The named device, checked to exist here (ConfigError otherwise); auto = cuda, mps, cpu."""
    if name != "auto":
        try:
            device = torch.device(name)
        except (RuntimeError, TypeError):
            raise ConfigError(None, f"device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
        available = {"cpu": True, "cuda": torch.cuda.is_available(),
                     "mps": bool(getattr(torch.backends, "mps", None)
                                 and torch.backends.mps.is_available())}
        if not available.get(device.type, False):
            raise ConfigError(None, f"device {name!r}: not available on this machine")
        if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
            raise ConfigError(None, f"device {name!r}: this machine has "
                              f"{torch.cuda.device_count()} CUDA device(s)")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def augmented_world_poses(world: np.ndarray, cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    poses = augment_mirror(world, rng) if cfg.mirror else world
    return augment_bones(poses, cfg.bone_scale, rng)


def camera_keypoints(
    world: np.ndarray, ranges: CameraRanges, rng: np.random.Generator | int,
    noise_px: float = 0.0, dropout: float = 0.0, detector: float = 0.0,
) -> np.ndarray:
    """World poses (N, 17, 3) mm -> their 2D pixels (N, 17, 2) through one random camera each,
    with optional training noise, detector-like errors of strength U(0, detector) per pose, and
    missing keypoints."""
    rng = np.random.default_rng(rng)
    pixels = project(world, sample_cameras(world[:, 0], ranges, rng))
    pixels = add_keypoint_noise(pixels, noise_px, rng)
    if detector > 0:
        pixels = corrupt(pixels, rng, DETECTOR, rng.uniform(0, detector, len(pixels)))
    return drop_keypoints(pixels, dropout, rng)


class Trainer:
    """Holds the models, optimisers and data for one training run."""

    def __init__(
        self, cfg: TrainConfig, out: str | Path, resume: str | Path | None = None,
        vae_from: str | Path | None = None, mapper_from: str | Path | None = None,
    ):
        """`resume`: continue a saved run. `vae_from`: take the trained VAE of another
        checkpoint (same model size and realignment) and train only the mapper. `mapper_from`:
        take the VAE and the mapping networks of another checkpoint (same model) and run only
        the tune stage."""
        cfg.stage_config("tune")  # a bad [tune] table fails now, not after hours of training
        self.recipe = cfg  # what the checkpoint records
        self.cfg = cfg  # the config in force: the tune stage's during that stage
        self.out = Path(out)
        self.device = distributed.join(select_device(cfg.device))
        if cfg.batch_size % distributed.world_size():
            raise ConfigError(None, f"batch_size = {cfg.batch_size} does not split over "
                              f"{distributed.world_size()} processes: use a multiple of it")
        with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's RNG untouched
            torch.manual_seed(cfg.seed)
            self.vae = distributed.convert(PoseVAE(cfg.model)).to(self.device)
            self.mapper = distributed.convert(build_mapper(cfg.model)).to(self.device)
        self.history: list[dict] = []
        self.position = {"stage": STAGES[0], "epoch": 0, "step": 0}
        self.metrics: dict = {}
        self._epoch_losses: dict[str, float] = {}  # sums over the epoch's steps so far
        self._saved_rng: dict | None = None  # generators to restore where the run stopped
        self.train = load_poses(cfg.train_data).poses
        val = load_poses(cfg.val_data).poses
        pick = np.random.default_rng(cfg.seed).permutation(len(val))[: cfg.val_poses]
        self.val = val[np.sort(pick)]
        if self.steps_per_epoch() == 0:
            raise ConfigError(cfg.train_data, f"{len(self.train)} poses, fewer than one batch "
                              f"(batch_size = {cfg.batch_size}): nothing to train on")
        self.opt = self._optimiser(STAGES[0])
        if resume is not None:
            self._resume(checkpoint.load(resume), resume)
        elif vae_from is not None:
            self._take_vae(checkpoint.load(vae_from), vae_from)
        elif mapper_from is not None:
            self._take_mapper(checkpoint.load(mapper_from), mapper_from)

    def _optimiser(self, stage: str) -> torch.optim.Optimizer:
        if stage == "vae":
            return torch.optim.Adam(self.vae.parameters(), lr=self.cfg.vae_lr)
        params = list(self.mapper.parameters())
        if not self.cfg.pretrained_vae:
            params += list(self.vae.decoder.parameters())
        return torch.optim.Adam(params, lr=self.cfg.mapper_lr)

    def _take_vae(self, ckpt: dict, path: str | Path) -> None:
        theirs = TrainConfig.from_dict(ckpt["config"])
        mine = self.cfg.model
        their_vae = dataclasses.replace(
            theirs.model, mappers=mine.mappers, mapper_arch=mine.mapper_arch,
            mapper_width=mine.mapper_width, mapper_blocks=mine.mapper_blocks)
        if (their_vae, theirs.realign) != (self.cfg.model, self.cfg.realign):
            raise checkpoint.CheckpointError(path, "its VAE has another model size or realignment")
        self.vae.load_state_dict(ckpt["vae"])
        self.history = [h for h in ckpt["metrics"].get("history", []) if h["stage"] == "vae"]
        self.position = {"stage": "mapper", "epoch": 0, "step": 0}
        self.opt = self._optimiser("mapper")

    def _take_mapper(self, ckpt: dict, path: str | Path) -> None:
        theirs = TrainConfig.from_dict(ckpt["config"])
        if (theirs.model, theirs.realign) != (self.cfg.model, self.cfg.realign):
            raise checkpoint.CheckpointError(path, "it holds another model or realignment")
        self.vae.load_state_dict(ckpt["vae"])
        self.mapper.load_state_dict(ckpt["mapper"])
        self.history = [h for h in ckpt["metrics"].get("history", []) if h["stage"] != "tune"]
        self.position = {"stage": "tune", "epoch": 0, "step": 0}
        self.opt = self._optimiser("tune")

    def _resume(self, ckpt: dict, path: str | Path) -> None:
        state = ckpt.get("train_state")
        if not state:
            raise checkpoint.CheckpointError(path, "holds no training state to resume from")
        theirs = TrainConfig.from_dict(ckpt["config"]).to_dict()
        changed = sorted(k for k, v in self.cfg.to_dict().items()
                         if k not in RESUME_MAY_CHANGE and theirs[k] != v)
        if changed:
            raise checkpoint.CheckpointError(
                path, f"trained with other {', '.join(changed)}; resume with its own config")
        self.vae.load_state_dict(ckpt["vae"])
        self.mapper.load_state_dict(ckpt["mapper"])
        self.position = dict(state["position"])
        self.history = list(state["history"])
        self.metrics = dict(ckpt["metrics"].get("val", {}))
        self.opt = self._optimiser(self.position["stage"])
        self.opt.load_state_dict(state["optimizer"])
        # Checkpoints from before exact resume lack these: such a run goes on, re-seeded.
        self._epoch_losses = dict(state.get("epoch_losses", {}))
        self._saved_rng = state.get("rng")

    # -- batches ------------------------------------------------------------------------------
    def steps_per_epoch(self) -> int:
        full = len(self.train) // self.cfg.batch_size
        return min(full, self.cfg.steps_per_epoch) if self.cfg.steps_per_epoch else full

    def _batch(self, stage: str, epoch: int, step: int) -> tuple[np.ndarray, np.random.Generator]:
        """Deterministic in (seed, stage, epoch, step), so that a resumed run sees what an
        uninterrupted one would have seen. The global batch: the steps draw from `rng` for all
        of it and each process trains on its share (distributed.share)."""
        order = np.random.default_rng([self.cfg.seed, STAGES.index(stage), epoch]).permutation(len(self.train))
        idx = order[step * self.cfg.batch_size : (step + 1) * self.cfg.batch_size]
        rng = np.random.default_rng([self.cfg.seed, STAGES.index(stage), epoch, step, 1])
        return augmented_world_poses(self.train[idx], self.cfg, rng), rng

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(x, dtype=torch.float32, device=self.device)

    def _canonical(self, world: np.ndarray) -> torch.Tensor:
        """This process's share of the global batch `world`, canonical."""
        return self._tensor(canonicalize(distributed.share(world), self.cfg.realign))

    # -- steps --------------------------------------------------------------------------------
    def _vae_step(self, world: np.ndarray, rng: np.random.Generator,
                  global_step: int) -> tuple[torch.Tensor, dict]:
        cfg = self.cfg
        target = self._canonical(world)
        q = self.vae.encode(target)
        z = q.loc + distributed.standard_normal(q.loc) * q.scale  # q.rsample(), global noise
        recon = reconstruction(self.vae.decode(z), target)
        kl = kl_to_standard_normal(q)
        loss = recon + kl_weight(global_step, cfg.beta, cfg.beta_warmup_steps) * kl
        logs = {"recon": recon.item(), "kl": kl.item()}
        if cfg.triplet:
            # Positive: the same pose with other body proportions (a "similar pose").
            positive = self.vae.encode(self._canonical(augment_bones(world, cfg.bone_scale, rng))).loc
            trip = triplet_loss(*map(distributed.gather, (q.loc, positive, target)),
                                cfg.triplet_margin, cfg.triplet_candidates)
            loss = loss + cfg.triplet_weight * trip.loss
            logs |= {"triplet": trip.loss.item(), "triplet_active": trip.active}
        return loss, logs

    def _mapper_step(self, world: np.ndarray, rng: np.random.Generator,
                     global_step: int) -> tuple[torch.Tensor, dict]:
        target = self._canonical(world)
        z_target = None
        if self.cfg.pretrained_vae:
            with torch.no_grad():
                z_target = self.vae.encode(target).loc
        losses, logs = zip(*(self._member_loss(member, world, target, z_target, rng)
                             for member in self.mapper.members))
        return sum(losses), {key: float(np.mean([log[key] for log in logs])) for key in logs[0]}

    def _member_loss(
        self, mapper: torch.nn.Module, world: np.ndarray, target: torch.Tensor,
        z_target: torch.Tensor | None, rng: np.random.Generator,
    ) -> tuple[torch.Tensor, dict]:
        """One mapping network's loss on the batch, seen through its own random cameras.
        Triplet negatives are mined over the global batch (gathered from every process)."""
        cfg = self.cfg
        n_views = 2 if cfg.mapper_triplet_weight > 0 else 1
        pixels = np.concatenate([distributed.share(
            camera_keypoints(world, cfg.cameras, rng, cfg.noise_px, cfg.keypoint_dropout,
                             cfg.detector_errors))
            for _ in range(n_views)])
        with distributed.views(n_views):
            z = mapper(self._tensor(keypoint_features(pixels, H36M17)[0]))
            pose_loss = reconstruction(self.vae.decode(z), target.repeat(n_views, 1, 1))
        loss = cfg.mapper_pose_weight * pose_loss
        logs = {"pose": pose_loss.item()}
        if z_target is not None:
            embed_loss = ((z - z_target.repeat(n_views, 1)) ** 2).sum(1).mean()
            loss = loss + cfg.mapper_embed_weight * embed_loss
            logs["embed"] = embed_loss.item()
        if z_target is not None and cfg.mapper_gallery_triplet_weight > 0:
            # The app's gallery search: a 2D view's embedding nearer its own pose's encoder mean
            # than any other pose's.
            gallery = distributed.gather(z_target)
            trips = [triplet_loss(distributed.gather(view), gallery, distributed.gather(target),
                                  cfg.triplet_margin, cfg.triplet_candidates, gallery=gallery)
                     for view in z.chunk(n_views)]
            gallery_loss = sum(t.loss for t in trips) / n_views
            loss = loss + cfg.mapper_gallery_triplet_weight * gallery_loss
            logs |= {"gallery_triplet": gallery_loss.item(),
                     "gallery_active": float(np.mean([t.active for t in trips]))}
        if n_views == 2:
            # Retrieval compares two mapped views, so train exactly that: one camera's
            # embedding nearer the other camera's than any other pose's.
            view_a, view_b = map(distributed.gather, z.chunk(2))
            trip = triplet_loss(view_a, view_b, distributed.gather(target), cfg.triplet_margin,
                                cfg.triplet_candidates)
            loss = loss + cfg.mapper_triplet_weight * trip.loss
            logs |= {"triplet": trip.loss.item(), "triplet_active": trip.active}
        return loss, logs

    def _set_lr(self, stage: str, done: float) -> None:
        """Learning rate from the stage's progress alone, so a resumed run follows the same
        schedule as an uninterrupted one."""
        lr = self.cfg.vae_lr if stage == "vae" else self.cfg.mapper_lr
        if self.cfg.lr_schedule == "cosine":
            lr *= 0.5 * (1 + math.cos(math.pi * done))
        for group in self.opt.param_groups:
            group["lr"] = lr

    def _optimise(self, loss: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def _set_modes(self, stage: str) -> None:
        mapping = stage != "vae"
        frozen_vae = mapping and self.cfg.pretrained_vae
        self.vae.train(not frozen_vae)
        self.vae.requires_grad_(not frozen_vae)
        if mapping and not self.cfg.pretrained_vae:
            self.vae.encoder.requires_grad_(False)
        self.mapper.train(mapping)

    # -- validation ---------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self, stage: str) -> dict[str, float]:
        self.vae.eval()
        self.mapper.eval()
        canonical, scale = canonicalize(self.val, self.cfg.realign, return_scale=True)
        target = self._tensor(canonical)
        if stage == "vae":
            pred = self.vae.decode(self.vae.encode(target).loc)
            metrics = errors_mm(pred.cpu().numpy(), canonical, scale)
            return {f"recon_{k}": v for k, v in metrics.items()}
        views = [camera_keypoints(self.val, self.cfg.cameras, [self.cfg.seed, 99, v]) for v in range(2)]
        z = [self.mapper(self._tensor(keypoint_features(p, H36M17)[0])) for p in views]
        metrics = errors_mm(self.vae.decode(z[0]).cpu().numpy(), canonical, scale)
        nearest = torch.cdist(z[0], z[1]).argmin(1).cpu()
        c = torch.as_tensor(canonical)
        hit = normalised_pose_error(c, c[nearest]) <= HIT_THRESHOLD
        return metrics | {"hit@1": float(hit.float().mean())}

    # -- the loop -----------------------------------------------------------------------------
    def run(
        self, stages: tuple[str, ...] = STAGES, callback: Callback | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        stages = self.check(stages)
        if not self.cfg.pretrained_vae and self.position["stage"] == "vae":
            self.position = {"stage": "mapper", "epoch": 0, "step": 0}
            self.opt = self._optimiser("mapper")
        start = time.monotonic()
        with _kept_global_rngs(self.device):
            for stage in STAGES[STAGES.index(self.position["stage"]):]:
                if stage in stages:
                    self._run_stage(stage, callback, cancel, start)
        last = "tune" if self.recipe.tune_epochs else "mapper"
        epochs = self.recipe.stage_config(last).mapper_epochs
        finished = self.position == {"stage": last, "epoch": epochs, "step": 0}
        self.save(final=finished)
        return self.out

    def check(self, stages: tuple[str, ...] = STAGES) -> tuple[str, ...]:
        """The stages `run` will train, checked before any work (ConfigError)."""
        if not self.cfg.pretrained_vae:
            stages = tuple(s for s in stages if s != "vae")  # the decoder trains with the mapper
        elif "vae" not in stages and self.position["stage"] == "vae":
            raise ConfigError(None, "the mapper needs a trained VAE: train the vae stage first, "
                              "then resume from its checkpoint")
        if not self.recipe.tune_epochs and stages != ("tune",):
            stages = tuple(s for s in stages if s != "tune")  # a recipe without a tune stage
        if "mapper" not in stages and "tune" in stages and self.position["stage"] != "tune":
            raise ConfigError(None, "the tune stage needs trained mapping networks: start it from "
                              "a finished checkpoint (mapper_from) or resume a run at that stage")
        ahead = STAGES[STAGES.index(self.position["stage"]):]
        for stage in set(stages) & set(ahead):
            if getattr(self.cfg, f"{stage}_epochs") < 1:
                raise ConfigError(None, f"{stage}_epochs = 0: the {stage} stage would train nothing")
        return stages

    def _run_stage(self, stage, callback, cancel, start) -> None:
        if self._saved_rng is not None and self.position["stage"] == stage:
            _set_rng_state(self._saved_rng, self.device)  # resumed where the run stopped
        else:
            # Seeded per stage: a mapper trained on a reused VAE (vae_from) is the one a run
            # from scratch would train.
            _seed_all(self.cfg.seed + 1 + STAGES.index(stage))
        self._saved_rng = None
        self.cfg = self.recipe.stage_config(stage)
        if self.position["stage"] != stage:
            self.position = {"stage": stage, "epoch": 0, "step": 0}
            self.opt = self._optimiser(stage)
        epochs = self.cfg.vae_epochs if stage == "vae" else self.cfg.mapper_epochs
        n_steps = self.steps_per_epoch()
        self._set_modes(stage)  # what trains, before DistributedDataParallel takes its weights
        step_fn = self._step_function(stage)
        while self.position["epoch"] < epochs:
            epoch = self.position["epoch"]
            self._set_modes(stage)
            sums = self._epoch_losses
            for step in range(self.position["step"], n_steps):
                if distributed.any_rank(cancel is not None and cancel.is_set()):
                    raise TrainingCancelled(self.save())
                world, rng = self._batch(stage, epoch, step)
                self._set_lr(stage, (epoch * n_steps + step) / (epochs * n_steps))
                loss, logs = step_fn(world, rng, epoch * n_steps + step)
                self._optimise(loss)
                logs = distributed.mean(logs)
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + v
                self.position["step"] = step + 1
                if callback and (step % 10 == 0 or step + 1 == n_steps):
                    callback(TrainEvent(stage, epoch, epochs, step + 1, n_steps, logs,
                                        elapsed_s=time.monotonic() - start))
            val = self.validate(stage)
            record = {"stage": stage, "epoch": epoch,
                      **{k: v / n_steps for k, v in sums.items()},
                      **{f"val_{k}": v for k, v in val.items()}}
            self.history.append(record)
            self.metrics[stage] = val
            self.position = {"stage": stage, "epoch": epoch + 1, "step": 0}
            self._epoch_losses = {}
            self.save()
            if callback:
                callback(TrainEvent(stage, epoch, epochs, n_steps, n_steps,
                                    {k: v for k, v in record.items() if isinstance(v, float)},
                                    val=val, elapsed_s=time.monotonic() - start))

    def _step_function(self, stage: str) -> Callable:
        """(world, rng, global step) -> (loss, logs): the stage's step, wrapped in
        DistributedDataParallel (which averages the gradients) when there are several processes."""
        step = self._vae_step if stage == "vae" else self._mapper_step
        if distributed.world_size() == 1:
            return step
        nets = [self.vae] if stage == "vae" else [self.mapper, self.vae]  # those with trainable weights
        return torch.nn.parallel.DistributedDataParallel(
            _Step(step, nets), device_ids=[self.device] if self.device.type == "cuda" else None,
            forward_sync_buffers=False)  # batch-norm statistics are synchronised already

    def save(self, final: bool = False) -> Path:
        """Write the checkpoint (the first process only: all hold the same); `final` drops the
        optimiser state (nothing left to resume)."""
        if distributed.rank() != 0:
            return self.out
        state = None if final else {
            "position": dict(self.position), "history": self.history,
            "optimizer": self.opt.state_dict(), "epoch_losses": dict(self._epoch_losses),
            "rng": _rng_state(self.device),
        }
        ckpt = checkpoint.build(
            self.recipe.to_dict(), _cpu(self.vae.state_dict()), _cpu(self.mapper.state_dict()),
            train_state=state, metrics={"history": self.history, "val": self.metrics},
        )
        return checkpoint.save(ckpt, self.out)


class _Step(torch.nn.Module):
    """A step's loss as a module holding the networks it trains, for DistributedDataParallel."""

    def __init__(self, step: Callable, nets: list[torch.nn.Module]):
        super().__init__()
        self.step = step
        self.nets = torch.nn.ModuleList(nets)

    def forward(self, *args):
        return self.step(*args)


def _cpu(state: dict) -> dict:
    return {k: v.detach().cpu() for k, v in state.items()}


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)  # every device's generator
    np.random.seed(seed)
    random.seed(seed)


def _rng_state(device: torch.device) -> dict:
    """Every generator a step may draw from, as plain values (checkpoints load weights_only)."""
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": (kind, torch.from_numpy(key.astype(np.int64)), pos, has_gauss, gauss)}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    kind, key, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


@contextlib.contextmanager
def _kept_global_rngs(device: torch.device) -> Iterator[None]:
    """The run seeds and draws from the global generators; the caller's are given back."""
    kept = _rng_state(device)
    try:
        yield
    finally:
        _set_rng_state(kept, device)

