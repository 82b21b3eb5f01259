"""The meta-training loop (Algorithm 1) around :func:`metatrack.meta.adapt`, for any tracker head.

A tracker plugs in as a :class:`MetaTask`: it owns the head (a :class:`~metatrack.meta.MetaSGD`),
turns an :class:`~metatrack.data.episodes.Episode` into a training batch (frame ``j``) and a test
batch (frame ``j + delta``), and defines the loss. This module does the rest: episodes drawn as pure
functions of (seed, iteration, index), gradients of theta0 and alpha summed over ``N_mini`` episodes
and applied by two Adam optimisers with step decay, a schedule of which parameters are meta-trained
from which iteration, data-parallel training under torchrun (gradients summed across processes),
JSON-lines logs, atomic checkpoints and an exact ``--resume``.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from .checkpoints import read_checkpoint, truncate_log
from .data.episodes import Episode, EpisodeSampler
from .errors import CheckpointError, ConfigError, MetatrackError
from .geometry import is_valid_box
from .io import atomic_write, atomic_write_text
from .meta import MetaSGD, Params
from .modelfile import save_meta_model
from .param_groups import lr_factor, param_groups
from .sections import known_keys_only

CHECKPOINT_FORMAT = 1


class TrainingDiverged(MetatrackError):
    """The meta-loss became NaN or infinite."""


@dataclass
class ScheduleStep:
    """From ``from_iteration`` on, meta-train the head parameters whose names match ``params`` (globs)."""

    from_iteration: int
    params: list[str]


@dataclass
class MetaTrainConfig:
    """Meta-training hyperparameters; the defaults are the paper's MetaSDNet values (section 5.1)."""

    iterations: int = 15000  # paper: 15,000
    episodes_per_batch: int = 8  # paper: N_mini = 8
    inner_steps: int = 1  # paper: T = 1 ("larger T gave only small improvement")
    first_order: bool = False
    delta_range: tuple[int, int] = (1, 10)  # paper: future frame 1..10 ahead, uniform
    lr_theta: float = 1e-4  # paper: Adam 1e-4
    lr_alpha: float = 1e-5  # paper: Adam 1e-5
    # lr_theta times a factor for the head parameters matching a glob (the first glob that matches),
    # e.g. {"filter": 0.0}: theta0 of those stays where it starts and only their alpha is learned
    lr_theta_factors: dict[str, float] = field(default_factory=dict)
    alpha_init: float = 1e-4  # paper: alpha initialised to 1e-4
    lr_decay_at: list[int] = field(default_factory=lambda: [10000])  # paper: /10 after 10,000
    lr_decay_factor: float = 0.1
    # paper: fc layers only for the first 5,000 iterations, then all layers
    schedule: list[ScheduleStep] = field(
        default_factory=lambda: [ScheduleStep(0, ["fc*"]), ScheduleStep(5000, ["*"])]
    )
    checkpoint_every: int = 500
    log_every: int = 10
    seed: int = 0
    # ours, beyond the paper (its section 3.3 searched the later updates' rate by hand): an episode also
    # tracks up to ``online_frames`` frames after j with the adapted theta, makes one online update on
    # the tracker's own samples with learned step sizes (starting at ``online_init``), and takes the
    # meta-loss on frame j + delta after it (delta > online_frames); 0: the paper's episodes
    online_frames: int = 0
    online_init: float | None = None
    # ours, with online_frames: also the paper's meta-loss of the FIRST step, theta1 on frame j + delta'
    # with delta' uniform in this range (the paper's 1..10), added to the loss after the online update,
    # so that theta0 and alpha keep the paper's objective; None: the loss after the online update alone
    first_step_delta_range: tuple[int, int] | None = None
    # the meta-loss on frame j + delta: "task" = the tracker's own loss (the paper: the inner loop's
    # loss); "localisation" (ours) = the task's localisation loss, which scores only where the response
    # puts the target (MetaCREST: a softmax over the map's cells against the label)
    meta_loss: str = "task"
    # ours: theta0's shared layers start from a pre-trained model file instead of the seeded random start
    # (MetaSDNet: fc4-fc5 of MDNet's multi-domain stage, configs/mdnet.yaml; "shipped" names the shipped
    # mdnet.safetensors). None: the paper's start
    start_model: str | None = None
    # episode sources: [{"dataset": "embedded:train", "weight": 1.0}, ...]
    sources: list[dict] = field(default_factory=lambda: [{"dataset": "embedded:train", "weight": 1.0}])

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MetaTrainConfig:
        d = known_keys_only(cls, d, "meta_training")
        if "schedule" in d:
            d["schedule"] = [s if isinstance(s, ScheduleStep) else ScheduleStep(**s) for s in d["schedule"]]
        for key in ("delta_range", "first_step_delta_range"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        cfg = cls(**d)
        if not isinstance(cfg.lr_theta_factors, dict) or any(
            not isinstance(v, (int, float)) or v < 0 for v in cfg.lr_theta_factors.values()
        ):
            raise ConfigError("meta_training.lr_theta_factors: a mapping of parameter globs to factors >= 0")
        if cfg.episodes_per_batch < 1 or cfg.iterations < 0 or cfg.inner_steps < 0:
            raise ConfigError("meta_training: episodes_per_batch >= 1, iterations >= 0, inner_steps >= 0")
        if cfg.online_frames < 0 or (cfg.online_frames and cfg.online_init is None):
            raise ConfigError("meta_training: online_frames >= 0, and online_frames > 0 needs online_init "
                              "(the online step sizes' starting value)")
        if cfg.online_frames and cfg.delta_range[0] <= cfg.online_frames:
            raise ConfigError(f"meta_training.delta_range starts at {cfg.delta_range[0]}: with online_frames "
                              f"{cfg.online_frames} the future frame must come after the tracked ones "
                              f"(delta_range >= {cfg.online_frames + 1})")
        if cfg.meta_loss not in ("task", "localisation"):
            raise ConfigError(f"meta_training.meta_loss must be 'task' or 'localisation', got {cfg.meta_loss!r}")
        if cfg.start_model is not None and not (isinstance(cfg.start_model, str) and cfg.start_model):
            raise ConfigError(f"meta_training.start_model must be a model file's path or 'shipped', "
                              f"got {cfg.start_model!r}")
        if cfg.first_step_delta_range is not None:
            lo, hi = cfg.first_step_delta_range
            if not cfg.online_frames or not 1 <= lo <= hi:
                raise ConfigError("meta_training.first_step_delta_range: [low, high] with 1 <= low <= high, "
                                  f"and only with online_frames > 0; got {list(cfg.first_step_delta_range)}")
        return cfg

    def lr_theta_factor(self, name: str) -> float:
        """The factor of ``lr_theta`` for head parameter ``name`` (1 unless a glob matches)."""
        return lr_factor(name, self.lr_theta_factors)

    def trained_patterns(self, iteration: int) -> list[str]:
        """The parameter globs meta-trained at ``iteration``."""
        current: list[str] = []
        for step in sorted(self.schedule, key=lambda s: s.from_iteration):
            if iteration >= step.from_iteration:
                current = step.params
        return current


class MetaTask(Protocol):
    """What a tracker family provides to be meta-trained (``trackers.adaptive.AdaptiveTask`` is the
    template the project's families derive from)."""

    #: the model name written into checkpoints and model files (``metasdnet``, ``metacrest``)
    model_name: str
    learner: MetaSGD

    def episode_batches(self, episode: Episode, rng: np.random.Generator) -> tuple[Any, Any]:
        """(training batch on frame j, test batch on frame j + delta)."""

    def adapt(self, theta0: Params, alphas: Params, batch: Any, steps: int, first_order: bool = False) -> Params:
        """The inner loop: ``steps`` first-frame updates from ``theta0`` with step sizes ``alphas`` on
        frame j's ``batch``, keeping the graph for the meta-gradient. The tracker's first frame
        calls the same function (without the graph); :func:`metatrack.meta.adapt` on :meth:`loss`
        is the plain Meta-SGD form of it."""

    def loss(self, params: Params, batch: Any) -> torch.Tensor:
        """The tracker's loss with head parameters ``params`` (the meta-loss on frame j + delta)."""

    # Only for ``online_frames > 0`` (a task that learns its online updates too):
    # tracked_batches(theta1, episode, frames) -> (the tracker's own samples of the frames after j,
    #     tracked with theta1; frame j + delta seen from where the tracking left the window)
    # online_adapt(theta1, online, tracked, first_order) -> theta after the tracker's online update
    #     with step sizes ``online`` (the tracker's later updates call the same function)

    def metrics(self, params: Params, batch: Any) -> dict[str, float]:
        """Extra numbers to log (e.g. accuracy); may be empty."""

    # Only for ``meta_loss: localisation``: localisation_loss(params, batch) -> a loss that scores
    # only where the response puts the target

    def model_config(self) -> dict[str, Any]:
        """The tracker settings a model file stores (what it was trained with)."""

    def backbone_sha256(self) -> str | None:
        """sha256 of the backbone weights the model is tied to (None: not tied)."""

    def model_extra(self) -> dict[str, Any]:
        """Anything else a model file records."""


def select(names: list[str], patterns: list[str]) -> list[str]:
    """Names matching any of the glob ``patterns``."""
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def _world_size() -> int:
    """Processes of this run: torchrun's WORLD_SIZE, 1 outside it."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def _distributed(device: torch.device) -> tuple[int, int, bool]:
    """(rank, world size, whether this call made the process group); initialises torch.distributed under
    torchrun (NCCL on GPUs, gloo on CPUs)."""
    if _world_size() <= 1:
        return 0, 1, False
    import torch.distributed as dist

    made = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        made = True
    return dist.get_rank(), dist.get_world_size(), made


def _close_distributed() -> None:
    """Wait for every rank, then tear the group down: a rank leaving while gloo's threads still talk to
    another aborts it ("terminate called without an active exception", seen in CI)."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _all_reduce_(tensors: list[torch.Tensor]) -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        for t in tensors:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)


def leave_rank(code: int = 0) -> None:
    """End a torchrun worker process now, skipping the interpreter's finalisation.

    Even after ``destroy_process_group``, about one two-process gloo run in 40 aborted while the
    interpreter shut down, after every file was written (SIGABRT, "terminate called without an active
    exception"; torch 2.14.1 on this CPU; a bare all-reduce script did not); torchrun then reports the run
    failed. Outside torchrun this returns and nothing happens."""
    if _world_size() <= 1:
        return
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class MetaTrainer:
    """Runs Algorithm 1 for ``task`` with ``config``; writes everything under ``out_dir``."""

    def __init__(self, task: MetaTask, sampler: EpisodeSampler, config: MetaTrainConfig, out_dir: str | Path,
                 device: str = "cpu", full_config: dict | None = None):
        self.task = task
        self.sampler = sampler
        self.cfg = config
        self.out = Path(out_dir)
        self.device = torch.device(device)
        self.full_config = full_config or {}
        self.rank, self.world, self._owns_group = _distributed(self.device)
        learner = task.learner
        self.names = [n for n, _ in learner.head.named_parameters()]
        self.opt_theta = torch.optim.Adam(
            param_groups(learner.head.named_parameters(), config.lr_theta_factor, config.lr_theta),
            lr=config.lr_theta)
        if config.online_frames and learner.online is None:
            raise ConfigError(f"meta_training.online_frames: {task.model_name}'s task does not learn online "
                              "step sizes (no online_init reached it)")
        if config.start_model is not None and not getattr(task, "takes_start_model", False):
            raise ConfigError(f"meta_training.start_model: {task.model_name}'s theta0 cannot start from a "
                              "pre-trained model file (MetaSDNet's can)")
        if config.meta_loss == "localisation" and not hasattr(task, "localisation_loss"):
            raise ConfigError(f"meta_training.meta_loss: {task.model_name}'s task has no localisation loss "
                              "(use 'task')")
        self.opt_alpha = torch.optim.Adam(learner.step_sizes(), lr=config.lr_alpha)
        milestones = sorted(config.lr_decay_at)
        self.sched_theta = torch.optim.lr_scheduler.MultiStepLR(self.opt_theta, milestones, config.lr_decay_factor)
        self.sched_alpha = torch.optim.lr_scheduler.MultiStepLR(self.opt_alpha, milestones, config.lr_decay_factor)
        self.iteration = 0

    # ----------------------------------------------------------------------------- checkpoints
    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    @property
    def log_path(self) -> Path:
        return self.out / "log.jsonl"

    def state(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "model": self.task.model_name,
            "iteration": self.iteration,
            "learner": self.task.learner.state_dict(),
            "opt_theta": self.opt_theta.state_dict(),
            "opt_alpha": self.opt_alpha.state_dict(),
            "sched_theta": self.sched_theta.state_dict(),
            "sched_alpha": self.sched_alpha.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "config": json.dumps(self.full_config, sort_keys=True, default=str),
        }

    def save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        state = self.state()
        atomic_write(self.checkpoint_path, lambda f: torch.save(state, f))

    def load_checkpoint(self) -> None:
        state = read_checkpoint(self.checkpoint_path)
        if state.get("format") != CHECKPOINT_FORMAT or state.get("model") != self.task.model_name:
            raise CheckpointError(
                f"{self.checkpoint_path}: a checkpoint of model {state.get('model')!r} format "
                f"{state.get('format')}, not of {self.task.model_name!r} format {CHECKPOINT_FORMAT}"
            )
        self.task.learner.load_state_dict(state["learner"])
        try:
            self.opt_theta.load_state_dict(state["opt_theta"])
            self.opt_alpha.load_state_dict(state["opt_alpha"])
        except ValueError as exc:  # e.g. parameter groups of another meta_training.lr_theta_factors
            raise CheckpointError(
                f"{self.checkpoint_path}: its optimiser state does not match this config ({exc}); "
                "resume with the config the run was started with"
            ) from None
        self.sched_theta.load_state_dict(state["sched_theta"])
        self.sched_alpha.load_state_dict(state["sched_alpha"])
        torch.set_rng_state(state["torch_rng"])
        self.iteration = int(state["iteration"])
        self._truncate_log(self.iteration)

    def _truncate_log(self, iteration: int) -> None:
        """Drop log lines of iterations not covered by the checkpoint (they will be redone)."""
        if self.rank == 0:
            truncate_log(self.log_path, iteration)

    # ----------------------------------------------------------------------------- one iteration
    def step(self) -> dict[str, float]:
        """One meta-update over ``episodes_per_batch`` episodes; returns the logged numbers."""
        it = self.iteration
        # torch's global RNG (randomly seeded per process) restarts from (seed, iteration) too, so that
        # a task drawing from it repeats exactly after --resume, whatever ran before (cache misses...)
        torch.manual_seed(int(np.random.SeedSequence([self.cfg.seed, it, 2]).generate_state(1)[0]))
        trained = self._trained_now(it)
        self._zero_grads()
        sums: dict[str, float] = {}
        mine = [k for k in range(self.cfg.episodes_per_batch) if k % self.world == self.rank]
        for k in mine:
            for key, v in self._episode(it, k, trained).items():
                sums[key] = sums.get(key, 0.0) + v
        logged = self._gather(sums, len(mine), it)
        self._apply(trained)
        self.iteration += 1
        logged["iteration"] = it
        logged["lr_theta"] = self.opt_theta.param_groups[0]["lr"]
        logged["alpha_mean"] = float(
            torch.cat([a.detach().abs().flatten() for a in self.task.learner.alpha.parameters()]).mean()
        )
        return logged

    def _trained_now(self, iteration: int) -> list[str]:
        """The head parameters the schedule meta-trains at ``iteration`` (only they need gradients)."""
        trained = select(self.names, self.cfg.trained_patterns(iteration))
        if not trained:
            raise ConfigError(f"meta_training.schedule: no head parameter is trained at iteration {iteration}")
        for n, p in self.task.learner.head.named_parameters():
            p.requires_grad_(n in trained)
        return trained

    def _parameters(self) -> list[torch.nn.Parameter]:
        learner = self.task.learner
        return list(learner.head.parameters()) + learner.step_sizes()

    def _zero_grads(self) -> None:
        """Zero gradient buffers for every parameter (all-reduce needs the same tensors on every rank)."""
        self.opt_theta.zero_grad(set_to_none=False)
        self.opt_alpha.zero_grad(set_to_none=False)
        for p in self._parameters():
            if p.grad is None:
                p.grad = torch.zeros_like(p)

    def _episode(self, iteration: int, k: int, trained: list[str]) -> dict[str, float]:
        """Episode ``k``: the inner loop on frame j, the meta-loss on frame j + delta, its gradient
        accumulated into theta0's and alpha's; returns the numbers to log."""
        cfg, learner = self.cfg, self.task.learner
        theta0 = learner.theta0()
        alphas = {n: a for n, a in learner.alphas().items() if n in trained}
        episode = self.sampler.episode(cfg.seed, iteration, k)
        rng = np.random.default_rng([cfg.seed, iteration, k, 1])
        train, test = self.task.episode_batches(episode, rng)
        theta1 = self.task.adapt(theta0, alphas, train, cfg.inner_steps, first_order=cfg.first_order)
        theta = theta1
        if cfg.online_frames:  # track on with theta1, one online update on the tracker's own samples
            online = {n: b for n, b in learner.onlines().items() if n in trained}
            tracked, test = self.task.tracked_batches(theta1, episode, cfg.online_frames)
            theta = self.task.online_adapt(theta1, online, tracked, first_order=cfg.first_order)
        outer = self.task.loss if cfg.meta_loss == "task" else self.task.localisation_loss
        meta_loss = outer(theta, test)
        if cfg.first_step_delta_range is not None:
            meta_loss = meta_loss + outer(theta1, self._first_step_test(episode, rng))
        meta_loss.backward()
        with torch.no_grad():
            numbers = {"meta_loss": float(meta_loss), "train_loss_after": float(self.task.loss(theta1, train))}
            numbers.update({f"test_{key}": v for key, v in self.task.metrics(theta, test).items()})
        return numbers

    def _first_step_test(self, episode: Episode, rng: np.random.Generator) -> Any:
        """The test batch of frame j + delta' for the first step's look-ahead loss: delta' uniform over
        the deltas of ``first_step_delta_range`` whose frame has a valid box (the episode's own delta
        if none has)."""
        lo, hi = self.cfg.first_step_delta_range
        seq = episode.sequence
        deltas = [d for d in range(lo, hi + 1)
                  if episode.j + d < len(seq) and is_valid_box(np.asarray(seq.boxes[episode.j + d], dtype=np.float64))]
        delta = int(rng.choice(deltas)) if deltas else episode.delta
        return self.task.episode_batches(replace(episode, delta=delta), rng)[1]

    def _gather(self, sums: dict[str, float], count: int, iteration: int) -> dict[str, float]:
        """Sum gradients and logged numbers over processes; the means, or TrainingDiverged."""
        keys = sorted(sums)
        packed = torch.tensor([sums[k] for k in keys] + [float(count)], dtype=torch.float64)
        grads = [p.grad for p in self._parameters()]
        _all_reduce_(grads + [packed])
        total = float(packed[-1])
        logged = {k: float(packed[i]) / total for i, k in enumerate(keys)}
        if not all(math.isfinite(v) for v in logged.values()) or not all(torch.isfinite(g).all() for g in grads):
            raise TrainingDiverged(
                f"meta-training diverged at iteration {iteration}: meta-loss {logged.get('meta_loss')}; "
                f"the last good checkpoint ({self.checkpoint_path}) is left as it was"
            )
        return logged

    def _apply(self, trained: list[str]) -> None:
        """One Adam step of theta0 and of alpha; parameters outside the schedule are left alone (no
        Adam moment updates either)."""
        learner = self.task.learner
        for n, p in learner.head.named_parameters():
            if n not in trained:
                p.grad = None
        for n, a in [*learner.alphas().items(), *learner.onlines().items()]:
            if n not in trained:
                a.grad = None
        self.opt_theta.step()
        self.opt_alpha.step()
        self.sched_theta.step()
        self.sched_alpha.step()

    # ----------------------------------------------------------------------------- the loop
    def train(self, resume: bool = False, progress: bool = True,
              on_checkpoint: Callable[[MetaTrainer], None] | None = None) -> Path:
        """Run until ``iterations``; returns the path of the last checkpoint."""
        self.out.mkdir(parents=True, exist_ok=True)
        if self.checkpoint_path.exists():
            if not resume:
                raise ConfigError(
                    f"{self.checkpoint_path} exists: pass --resume to continue it, or choose another --out"
                )
            self.load_checkpoint()
        elif resume and self.rank == 0 and self.log_path.exists():
            self._truncate_log(0)
        elif self.rank == 0 and self.log_path.exists():
            self.log_path.unlink()
        from tqdm import tqdm

        bar = tqdm(total=self.cfg.iterations, initial=self.iteration, disable=not progress or self.rank != 0,
                   desc=f"meta-training {self.task.model_name}", dynamic_ncols=True)
        t0 = time.perf_counter()
        try:
            while self.iteration < self.cfg.iterations:
                logged = self.step()
                logged["seconds"] = time.perf_counter() - t0
                if self.rank == 0:
                    with open(self.log_path, "a") as f:
                        f.write(json.dumps(logged) + "\n")
                bar.update(1)
                bar.set_postfix(meta_loss=f"{logged['meta_loss']:.4f}")
                if self.iteration % self.cfg.checkpoint_every == 0 or self.iteration == self.cfg.iterations:
                    self.save_checkpoint()
                    if on_checkpoint is not None and self.rank == 0:
                        on_checkpoint(self)
        finally:
            bar.close()
        if not self.checkpoint_path.exists():
            self.save_checkpoint()
        if self._owns_group:
            _close_distributed()
            self._owns_group = False
        return self.checkpoint_path


def read_log(path: str | Path) -> list[dict[str, float]]:
    """The JSON-lines training log as a list of dicts (a cut last line is ignored)."""
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out


def plot_training_curve(log_path: str | Path, png_path: str | Path, window: int = 50, key: str = "meta_loss",
                        extra: list[str] | None = None) -> Path:
    """Meta-loss (raw and moving average) and test accuracy against iteration, as a PNG (``key``:
    another loss, ``extra``: other numbers to plot on the right than the ``test_*`` ones)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_log(log_path)
    if not rows:
        raise MetatrackError(f"{log_path}: empty training log")
    it = np.array([r["iteration"] for r in rows])
    loss = np.array([r[key] for r in rows])
    w = max(1, min(window, len(loss) // 5 or 1))
    smooth = np.convolve(loss, np.ones(w) / w, mode="valid")
    extra = [k for k in rows[0] if k.startswith("test_")] if extra is None else [k for k in extra if k in rows[0]]
    fig, axes = plt.subplots(1, 1 + bool(extra), figsize=(5 + 4 * bool(extra), 3.6))
    axes = np.atleast_1d(axes)
    axes[0].plot(it, loss, color="0.75", lw=0.8, label=key.replace("_", "-"))
    axes[0].plot(it[w - 1:], smooth, color="C0", lw=1.8, label=f"moving mean ({w})")
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("loss on frame j + delta after one step" if key == "meta_loss" else key)
    axes[0].grid(alpha=0.3)
    axes[0].legend()
    if extra:
        for i, k in enumerate(extra):
            v = np.array([r[k] for r in rows])
            axes[1].plot(it[w - 1:], np.convolve(v, np.ones(w) / w, mode="valid"), color=f"C{i + 1}", label=k)
        axes[1].set_xlabel("iteration")
        axes[1].grid(alpha=0.3)
        axes[1].legend()
    fig.tight_layout()
    png_path = Path(png_path)
    tmp = png_path.with_name(f".{png_path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, png_path)
    return png_path


def config_to_dict(cfg: MetaTrainConfig) -> dict[str, Any]:
    d = asdict(cfg)
    d["delta_range"] = list(cfg.delta_range)
    return d


def export_model(task: MetaTask, path: str | Path) -> Path:
    """Write ``task``'s theta0 and alpha as a model file (``theta0.*``, ``alpha.*``: one layout for
    every model), with the settings it was trained with and its backbone's sha256."""
    learner = task.learner
    theta0 = {n: p.detach() for n, p in learner.theta0().items()}
    alpha = {n: a.detach() for n, a in learner.alphas().items()}
    online = {n: b.detach() for n, b in learner.onlines().items()}
    return save_meta_model(path, task.model_name, theta0, alpha, task.model_config(), task.backbone_sha256(),
                           task.model_extra(), online=online)


def train_from_config(config: dict[str, Any], out: str | Path, device: str = "cpu", resume: bool = False, *,
                      progress: bool = True, deterministic: bool = False) -> Path:
    """Meta-train the model a config describes (``model:``, ``tracker:``, ``meta_training:``) into ``out``.

    The library's entry point (``metatrack train`` calls it): the model's task comes from the
    registry of trainable models, episodes from the ``meta_training.sources`` data sets. ``out``
    gets the config, ``checkpoint.pt`` (every ``checkpoint_every`` iterations, written atomically),
    ``log.jsonl``, ``training_curve.png`` and ``<model>.safetensors``; ``resume`` continues a
    stopped run from its checkpoint. Returns the model file's path.
    """
    import yaml

    from .data import open_dataset
    from .trackers.base import resolve_trainable

    if not isinstance(config, dict) or "model" not in config:
        raise ConfigError("a training config needs a 'model:' key (e.g. metasdnet or metacrest)")
    model = str(config["model"])
    build_task = resolve_trainable(model)
    if getattr(build_task, "pretrains", False):  # MDNet's offline stage, not meta-training
        from .trackers.adaptive.pretrain import pretrain_from_config

        return pretrain_from_config(config, out, device, resume, progress=progress, deterministic=deterministic)
    mt = MetaTrainConfig.from_dict(config.get("meta_training", {}) or {})
    if deterministic:
        from .determinism import set_deterministic

        set_deterministic(mt.seed)
    sources = [open_dataset(s["dataset"], **(s.get("options") or {})) for s in mt.sources]
    sampler = EpisodeSampler(sources, [float(s.get("weight", 1.0)) for s in mt.sources], mt.delta_range)
    sequences = [seq for dataset in sources for seq in dataset]
    task = build_task(config.get("tracker", {}) or {}, meta_training=mt, sequences=sequences, device=device)
    out = Path(out)
    trainer = MetaTrainer(task, sampler, mt, out, device=device, full_config=config)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    model_path = out / f"{model}.safetensors"

    def export(t: MetaTrainer) -> None:
        export_model(task, model_path)
        plot_training_curve(t.log_path, out / "training_curve.png")

    trainer.train(resume=resume, progress=progress, on_checkpoint=export)
    export(trainer)
    return model_path
