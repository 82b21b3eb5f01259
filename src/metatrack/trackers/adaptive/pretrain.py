"""MDNet's offline stage in the template: multi-domain pre-training of a head's shared layers.

MDNet (Nam & Han, CVPR 2016) learns its shared layers offline on many training sequences at once:
every sequence is a *domain* with a binary classification branch of its own (fc6), and each
iteration trains the shared layers and ONE domain's branch on a mini-batch of that domain alone
(``batch_frames`` frames, ``batch_pos`` positives and ``batch_neg`` negatives). The branches are
thrown away; a tracker starts from the shared layers and a new, randomly initialised branch. With
every sequence pooled into one domain, the same stage is the paper's pySDNet pre-training.

The template owns the loop: the domains, which domain and frames each iteration draws (pure
functions of the seed and the iteration, so that ``--resume`` repeats an uninterrupted run), SGD
with pyMDNet's settings, the log, checkpoints and the model file. A family supplies a
:class:`PretrainTask` (its shared layers and branches, its batch and loss) and registers a builder
marked by :func:`pretrain_builder` with ``register_trainable``; ``metatrack train`` then runs this
stage for a config whose ``model:`` names it.

The model file is format 2 with the meta-trained models' key scheme: ``theta0.<name>`` for every
pre-trained shared parameter (the starting point a tracker loads), no ``alpha.*`` (nothing learns a
step size here); the parameters it does not name (the new branch) start random in the tracker.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from collections.abc import Sequence as SequenceABC
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ...checkpoints import read_checkpoint, truncate_log
from ...data.sequence import Sequence
from ...errors import CheckpointError, ConfigError, DataError
from ...geometry import is_valid_box
from ...io import atomic_write, atomic_write_text
from ...modelfile import THETA0, pretrained_parameters, save_model
from ...param_groups import lr_factor, param_groups
from ...sections import known_keys_only
from .config import TrackerConfig
from .tracker import MetaModel, open_model

CHECKPOINT_FORMAT = 1
CHECKPOINT_KIND = "multi-domain pre-training"


@dataclass
class PretrainConfig:
    """The ``pretraining:`` section: MDNet's mini-batch scheme with pyMDNet's values named as such
    (``pretrain/options_vot.yaml`` and ``modules/model.py`` of py-MDNet)."""

    iterations: int = 4800  # pyMDNet: n_cycles 50 over its domains; ours: 50 cycles of embedded:train's 96
    domains: str = "sequence"  # MDNet: one domain per training sequence; "one": every sequence in one (pySDNet)
    batch_frames: int = 8  # pyMDNet: 8 frames of the domain per iteration
    batch_pos: int = 32  # pyMDNet: 32 positives over those frames
    batch_neg: int = 96  # pyMDNet: 96 negatives
    overlap_pos: tuple[float, float] = (0.7, 1.0)  # pyMDNet: IoU >= 0.7 is a positive
    overlap_neg: tuple[float, float] = (0.0, 0.5)  # pyMDNet: IoU <= 0.5 is a negative
    trans_pos: float = 0.1  # pyMDNet: uniform boxes, trans 0.1, scale 1.3
    scale_pos: float = 1.3
    trans_neg: float = 2.0  # pyMDNet: uniform boxes, trans 2, scale 1.6
    scale_neg: float = 1.6
    # hard negative mining: 0 = pyMDNet's pre-training (none); k > batch_neg: k negatives drawn, the
    # batch_neg that the domain's branch scores highest trained on (MDNet's online hard mining)
    hard_negatives: int = 0
    lr: float = 0.001  # pyMDNet: lr 0.0001 with lr_mult {fc: 10} -> 0.001 on every fc layer
    lr_mult: dict[str, float] = field(default_factory=dict)  # learning-rate factor by parameter-name glob
    momentum: float = 0.9  # pyMDNet: SGD momentum 0.9
    weight_decay: float = 0.0005  # pyMDNet: w_decay 0.0005
    grad_clip: float = 10.0  # pyMDNet: 10
    lr_decay_at: list[int] = field(default_factory=list)  # pyMDNet (vot): none
    lr_decay_factor: float = 0.1
    checkpoint_every: int = 500
    seed: int = 0
    sources: list[dict] = field(default_factory=lambda: [{"dataset": "embedded:train"}])

    def __post_init__(self) -> None:
        self.overlap_pos = tuple(float(v) for v in self.overlap_pos)  # type: ignore[assignment]
        self.overlap_neg = tuple(float(v) for v in self.overlap_neg)  # type: ignore[assignment]
        if self.domains not in ("sequence", "one"):
            raise ConfigError(f"pretraining.domains: {self.domains!r}; use sequence (MDNet) or one (pySDNet)")
        small = {k: v for k, v in (("iterations", self.iterations), ("batch_frames", self.batch_frames),
                                   ("batch_pos", self.batch_pos), ("batch_neg", self.batch_neg),
                                   ("checkpoint_every", self.checkpoint_every)) if not v >= 1}
        if small:
            raise ConfigError(f"pretraining: {', '.join(small)} must be at least 1")
        if self.hard_negatives and self.hard_negatives < self.batch_neg:
            raise ConfigError(f"pretraining.hard_negatives: 0 or at least batch_neg ({self.batch_neg}), "
                              f"got {self.hard_negatives}")
        if not (self.lr > 0 and self.grad_clip > 0 and self.momentum >= 0 and self.weight_decay >= 0):
            raise ConfigError("pretraining: lr and grad_clip must be positive, momentum and weight_decay >= 0")
        if not isinstance(self.lr_mult, dict) or any(not isinstance(v, (int, float)) or v < 0
                                                     for v in self.lr_mult.values()):
            raise ConfigError("pretraining.lr_mult: a mapping of parameter globs to factors >= 0")
        if not self.sources:
            raise ConfigError("pretraining.sources: at least one data set")

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> PretrainConfig:
        d = known_keys_only(cls, d, "pretraining")
        try:
            return cls(**d)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"pretraining: {exc}") from None

    def lr_factor(self, name: str) -> float:
        return lr_factor(name, self.lr_mult)


@dataclass
class Domain:
    """One domain: its name and the (sequence, frame) pairs with a valid box it draws frames from."""

    name: str
    frames: list[tuple[Sequence, int]]


def make_domains(sequences: SequenceABC[Sequence], mode: str) -> list[Domain]:
    """MDNet's domains: one per sequence with a valid box (``mode="sequence"``), or all in one
    (``"one"``, pySDNet). A DataError when no frame has a valid box."""
    per_seq = []
    for seq in sequences:
        frames = [(seq, i) for i, b in enumerate(seq.boxes) if is_valid_box(b)]
        if frames:
            per_seq.append(Domain(seq.name, frames))
    if not per_seq:
        raise DataError("pre-training: no training sequence has a frame with a valid box")
    if mode == "one":
        return [Domain("all", [f for d in per_seq for f in d.frames])]
    return per_seq


def domain_of(iteration: int, n_domains: int, seed: int) -> int:
    """The domain iteration ``iteration`` trains: pyMDNet's cycles, each a fresh permutation of the
    domains (here a pure function of the seed and the cycle)."""
    cycle, position = divmod(int(iteration), int(n_domains))
    return int(np.random.default_rng([seed, cycle, 7]).permutation(n_domains)[position])


def batch_frames(domain: Domain, n: int, rng: np.random.Generator) -> list[tuple[Sequence, int]]:
    """``n`` frames of ``domain``, distinct while the domain has that many."""
    idx = rng.choice(len(domain.frames), size=n, replace=len(domain.frames) < n)
    return [domain.frames[int(i)] for i in idx]


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` samples over ``parts`` frames as pyMDNet spreads them (the remainder to the last ones)."""
    out, have = [], 0
    for i in range(parts):
        n = (total - have) // (parts - i)
        out.append(n)
        have += n
    return out


class PretrainTask(Protocol):
    """What a family supplies to be pre-trained by MDNet's scheme."""

    #: the model name of the file written (``mdnet``)
    model_name: str
    #: the shared layers and one branch per domain, all trained
    model: nn.Module
    #: names (in ``model``) of the shared parameters the model file keeps as ``theta0.*``
    shared: list[str]

    def batch(self, frames: list[tuple[Sequence, int]], cfg: PretrainConfig, rng: np.random.Generator) -> Any:
        """Positives and negatives on ``frames`` (one domain's) by ``cfg``'s counts and thresholds."""

    def loss(self, batch: Any, domain: int, cfg: PretrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
        """The classification loss of ``batch`` through branch ``domain``, and numbers to log."""

    def model_config(self) -> dict[str, Any]:
        """The tracker settings the model file stores."""

    def backbone_sha256(self) -> str | None:
        """sha256 of the backbone weights the features came from."""

    def model_extra(self) -> dict[str, Any]:
        """Anything else the model file records."""


#: ``(tracker_config, pretraining=PretrainConfig, n_domains=int, device=str) -> PretrainTask``
PretrainBuilder = Callable[..., PretrainTask]


def pretrain_builder(build: PretrainBuilder) -> PretrainBuilder:
    """Mark ``build`` as a pre-training task builder for ``register_trainable``: ``metatrack train``
    then runs :func:`pretrain_from_config` for its model instead of meta-training."""
    build.pretrains = True  # type: ignore[attr-defined]
    return build


class Pretrainer:
    """Runs MDNet's offline stage for ``task`` over ``domains``; writes under ``out_dir``."""

    def __init__(self, task: PretrainTask, domains: list[Domain], cfg: PretrainConfig, out_dir: str | Path,
                 full_config: dict | None = None):
        self.task, self.domains, self.cfg = task, domains, cfg
        self.out = Path(out_dir)
        self.full_config = full_config or {}
        self.optimizer = torch.optim.SGD(param_groups(task.model.named_parameters(), cfg.lr_factor, cfg.lr),
                                         lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, sorted(cfg.lr_decay_at),
                                                              cfg.lr_decay_factor)
        self.iteration = 0

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    @property
    def log_path(self) -> Path:
        return self.out / "log.jsonl"

    # ----------------------------------------------------------------------------- checkpoints
    def save_checkpoint(self) -> None:
        state = {
            "format": CHECKPOINT_FORMAT,
            "kind": CHECKPOINT_KIND,
            "model": self.task.model_name,
            "iteration": self.iteration,
            "domains": [d.name for d in self.domains],
            "weights": self.task.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "config": json.dumps(self.full_config, sort_keys=True, default=str),
        }
        atomic_write(self.checkpoint_path, lambda f: torch.save(state, f))

    def load_checkpoint(self) -> None:
        state = read_checkpoint(self.checkpoint_path)
        if (state.get("format"), state.get("kind"), state.get("model")) != (
                CHECKPOINT_FORMAT, CHECKPOINT_KIND, self.task.model_name):
            raise CheckpointError(f"{self.checkpoint_path}: not a {CHECKPOINT_KIND} checkpoint of "
                                  f"{self.task.model_name!r} (found {state.get('kind')!r} of {state.get('model')!r})")
        if state.get("domains") != [d.name for d in self.domains]:
            raise CheckpointError(f"{self.checkpoint_path}: written for {len(state.get('domains') or [])} other "
                                  f"domains than these {len(self.domains)}; resume with the data it was started with")
        try:
            self.task.model.load_state_dict(state["weights"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError) as exc:
            raise CheckpointError(f"{self.checkpoint_path}: does not match this config ({exc})") from None
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        self.iteration = int(state["iteration"])
        truncate_log(self.log_path, self.iteration)  # the iterations after the checkpoint run again

    # ----------------------------------------------------------------------------- the loop
    def step(self) -> dict[str, float]:
        """One iteration: one domain's mini-batch, one SGD step of the shared layers and its branch."""
        it, cfg = self.iteration, self.cfg
        torch.manual_seed(int(np.random.SeedSequence([cfg.seed, it, 2]).generate_state(1)[0]))
        rng = np.random.default_rng([cfg.seed, it, 1])
        k = domain_of(it, len(self.domains), cfg.seed)
        batch = self.task.batch(batch_frames(self.domains[k], cfg.batch_frames, rng), cfg, rng)
        self.task.model.train()
        loss, numbers = self.task.loss(batch, k, cfg)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for p in self.task.model.parameters() if p.grad is not None]
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        value = float(loss.detach())
        if not math.isfinite(value) or not all(bool(torch.isfinite(p.grad).all()) for p in params):
            from ...training import TrainingDiverged

            raise TrainingDiverged(f"pre-training diverged at iteration {it}: loss {value}; the last good "
                                   f"checkpoint ({self.checkpoint_path}) is left as it was")
        self.optimizer.step()
        self.scheduler.step()
        self.iteration += 1
        return {"iteration": it, "domain": k, "loss": value, **numbers, "lr": self.optimizer.param_groups[0]["lr"]}

    def train(self, resume: bool = False, progress: bool = True,
              on_checkpoint: Callable[[Pretrainer], None] | None = None) -> Path:
        """Run until ``iterations``; returns the path of the last checkpoint."""
        self.out.mkdir(parents=True, exist_ok=True)
        if self.checkpoint_path.exists():
            if not resume:
                raise ConfigError(f"{self.checkpoint_path} exists: pass --resume to continue it, "
                                  "or choose another --out")
            self.load_checkpoint()
        elif self.log_path.exists():
            self.log_path.unlink()
        from tqdm import tqdm

        bar = tqdm(total=self.cfg.iterations, initial=self.iteration, disable=not progress,
                   desc=f"pre-training {self.task.model_name} ({len(self.domains)} domains)", dynamic_ncols=True)
        t0 = time.perf_counter()
        try:
            while self.iteration < self.cfg.iterations:
                logged = self.step()
                logged["seconds"] = time.perf_counter() - t0
                with open(self.log_path, "a") as f:
                    f.write(json.dumps(logged) + "\n")
                bar.update(1)
                bar.set_postfix(loss=f"{logged['loss']:.4f}")
                if self.iteration % self.cfg.checkpoint_every == 0 or self.iteration == self.cfg.iterations:
                    self.save_checkpoint()
                    if on_checkpoint is not None:
                        on_checkpoint(self)
        finally:
            bar.close()
        if not self.checkpoint_path.exists():
            self.save_checkpoint()
        return self.checkpoint_path


def export_pretrained(task: PretrainTask, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``task``'s shared layers as a model file: ``theta0.<name>`` tensors, no ``alpha.*``."""
    params = dict(task.model.named_parameters())
    tensors = {f"{THETA0}{n}": params[n].detach() for n in task.shared}
    return save_model(path, task.model_name, tensors, task.model_config(), task.backbone_sha256(),
                      {**task.model_extra(), **(extra or {})})


def pretrain_from_config(config: dict[str, Any], out: str | Path, device: str = "cpu", resume: bool = False, *,
                         progress: bool = True, deterministic: bool = False) -> Path:
    """Pre-train the model a config describes (``model:``, ``tracker:``, ``pretraining:``) into ``out``.

    What :func:`metatrack.training.train_from_config` runs for a model registered with a
    :func:`pretrain_builder`: ``out`` gets the config, ``checkpoint.pt``, ``log.jsonl``,
    ``training_curve.png`` and ``<model>.safetensors``. Returns the model file's path.
    """
    import yaml

    from ...data import open_dataset
    from ...training import plot_training_curve
    from ..base import resolve_trainable

    model = str(config["model"])
    build = resolve_trainable(model)
    if "meta_training" in config:
        raise ConfigError(f"model {model!r} is pre-trained, not meta-trained: its config takes a 'pretraining:' "
                          "section, not 'meta_training:'")
    cfg = PretrainConfig.from_dict(config.get("pretraining", {}) or {})
    if deterministic:
        from ...determinism import set_deterministic

        set_deterministic(cfg.seed)
    sequences = [seq for s in cfg.sources for seq in open_dataset(s["dataset"], **(s.get("options") or {}))]
    domains = make_domains(sequences, cfg.domains)
    task = build(config.get("tracker", {}) or {}, pretraining=cfg, n_domains=len(domains), device=device)
    out = Path(out)
    trainer = Pretrainer(task, domains, cfg, out, full_config=config)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    model_path = out / f"{model}.safetensors"

    def export(t: Pretrainer) -> None:
        export_pretrained(task, model_path, {"domains": len(domains), "domain_mode": cfg.domains,
                                             "iterations": t.iteration, "pretraining": asdict(cfg)})
        plot_training_curve(t.log_path, out / "training_curve.png", key="loss", extra=["accuracy"])

    trainer.train(resume=resume, progress=progress, on_checkpoint=export)
    export(trainer)
    return model_path


def read_pretrained_model(
    model: str,
    path: str | Path | None,
    config_class: type[TrackerConfig],
    base: TrackerConfig,
    overrides: dict[str, Any],
    backbone_checksum: Callable[[Any], str | None],
    shared_state: Callable[[Any], dict[str, torch.Tensor]],
) -> MetaModel:
    """Read the pre-trained model of ``model`` at ``path`` (default: the shipped one), as
    :func:`~.tracker.read_meta_model` reads a meta-trained one: its settings, the backbone checked,
    theta0 checked against the shared parameters ``shared_state(config)`` names; alpha is empty."""
    tensors, config, p = open_model(model, path, config_class, base, overrides, backbone_checksum)
    return MetaModel(config, pretrained_parameters(tensors, shared_state(config), p), {}, p)
