"""MetaSDNet and SDNet-N: MDNet-style tracking by detection over RoIAlign-pooled features.

Both trackers share everything but the first frame. On every later frame (pyMDNet's rules):
``n_samples`` gaussian candidates around the last target are scored by the head; the target is the
mean of the top-5; their mean score above 0 is a success (then bounding-box regression refines the
reported box, and positives/negatives are stored), otherwise a failure (the search widens and a
short-term update runs). A long-term update runs every ``long_interval`` frames.

First frame: MetaSDNet takes ``init_steps`` steps of the meta-learned update
``theta <- theta - alpha * grad L`` from the meta-learned ``theta0`` on a small sample set, through
:func:`metatrack.meta.adapt`; SDNet-N trains a randomly initialised head for N SGD iterations on
pyMDNet's large first-frame set.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from ...errors import CheckpointError
from ...geometry import clip_box, is_valid_box
from ...image import image_size
from ..adaptive import AdaptiveTracker, CropRequest, CropSquare, FirstFrame, SharedCrop, read_meta_model
from . import batched, sampling
from .bbreg import BoxRegressor
from .config import SDNetConfig
from .features import FeatureExtractor, SharedCropWindow, crop_rect
from .first_frame import first_frame_update
from .head import SampleBatch, SDNetHead, accuracy_at_1_to_3, balance_layers, target_scores
from .network import MODEL_NAME, backbone_checksum, feature_settings, new_head, shared_backbone
from .online import SampleStore, learned_update, make_optimizer, train_head

Params = dict[str, torch.Tensor]


class TopKMean(NamedTuple):
    """:func:`top_k_mean`'s answer."""

    top: np.ndarray  # indices of the top-k candidates (empty when no score is finite)
    score: float  # their mean score (NaN when no score is finite)
    success: bool  # score > success_threshold


def top_k_mean(scores: np.ndarray | torch.Tensor, cfg: SDNetConfig) -> TopKMean:
    """pyMDNet's target score and success test over the candidates' ``scores``: the mean of the
    ``top_k`` best, a success when it exceeds ``success_threshold``. The one rule of every tracked
    frame, of a re-detection window (:meth:`_SDNetTracker._best_candidate`) and of meta-training's
    tracked frames (task.py). A non-finite score (NaN from a non-finite feature map or head, or a
    candidate masked out) is no candidate: the top k are taken among the finite scores only (fewer
    when fewer are finite), never averaged with a -inf; with none, the score is NaN and the test fails."""
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    s = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(s)
    k = int(min(cfg.top_k, finite.sum()))
    if k == 0:
        return TopKMean(np.zeros(0, dtype=np.int64), float("nan"), False)
    s = np.where(finite, s, -np.inf)
    top = np.argpartition(-s, k - 1)[:k]
    score = float(s[top].mean())
    return TopKMean(top, score, score > cfg.success_threshold)


class _SDNetTracker(AdaptiveTracker):
    """What MetaSDNet and SDNet-N share: features, head, candidates, bbreg and online updates."""

    config_class = SDNetConfig
    measure = "accuracy"
    stochastic = True
    # ours: MetaSDNet's target AUC with its crop shared was a tie on embedded:eval and real:validation
    # (4 seeds), and three nearby targets ran 1.14x (now 1.18x) faster (bench/results/multi_target*.json)
    shared_crop_on_cpu = True

    def __init__(self, config: SDNetConfig, device: str | torch.device = "cpu"):
        super().__init__(config, device)
        self.extractor = FeatureExtractor(config, self.device, shared_backbone(config, self.device))
        self.seed(config.seed)
        self.head: SDNetHead | None = None
        #: the backbone's trainable block (``trainable_blocks``): MetaSDNet adapts it on the first frame,
        #: then it runs after the stem on every frame, fixed (the online updates train fc4-fc6 only)
        block = self.extractor.backbone.block
        self.block: torch.nn.Module | None = copy.deepcopy(block) if block is not None else None
        #: learned step sizes of the later updates (online_update: meta; MetaSDNet's model file)
        self.online: Params = {}

    @property
    def online_lr(self) -> float:
        """The learning rate of the updates after the first frame."""
        return self.config.update_lr

    @property
    def success_ratio(self) -> float:
        """The share of the running score a tracked frame's score must also reach to be a success."""
        return self.config.success_ratio

    def seed(self, seed: int) -> None:
        """Seed the head's random initialisation and every box sampling."""
        super().seed(seed)
        self.rng = np.random.default_rng(self._seed)

    # ------------------------------------------------------------------ the template's parts
    def _fit(self, image: np.ndarray, box: np.ndarray) -> FirstFrame:
        size = image_size(image)
        box = clip_box(box, size)
        window = self.extractor.window(box, size)
        fmap = self.crop_features([self.extractor.crop(image, window)])
        first = self._initial_training(fmap, window, box)  # may adapt the block
        self._first_view = (self._block_map(fmap), window, box)
        return first

    def _start_tracking(self, image: np.ndarray, box: np.ndarray, first: FirstFrame) -> None:
        fmap, window, box = self._first_view
        del self._first_view
        cfg = self.config
        # bounding-box regression, fitted once (pyMDNet)
        self.bbreg = BoxRegressor(cfg.bbreg_alpha, cfg.overlap_bbreg, cfg.scale_range_bbreg)
        reg_boxes = sampling.bbreg_samples(box, window, cfg, self.rng)
        if len(reg_boxes):
            feats = self.extractor.pool(fmap, window, reg_boxes).cpu().numpy()
            self.bbreg.fit(feats, reg_boxes, box)
        # the sample stores start with the first frame's samples
        self.store = SampleStore(cfg.n_frames_long, cfg.n_frames_short)
        self._collect(fmap, window, box)
        self.update_optimizer = make_optimizer(self.head, self.online_lr, cfg)
        self.target = box
        self.trans = cfg.trans
        self.frame_index = 0

    def _crop_request(self, image: np.ndarray) -> CropRequest:
        size = image_size(image)
        window = self.extractor.window(clip_box(self.target, size), size)
        return CropRequest(self.extractor.crop(image, window), window)

    def _backbone(self, crops: list[np.ndarray]) -> torch.Tensor:
        return self.extractor.crop_features(crops)

    def crop_square(self, image: np.ndarray) -> CropSquare:
        size = image_size(image)
        box = clip_box(self.target, size)
        w = self.extractor.window(box, size)
        return CropSquare(w.x0, w.y0, float(box[0]) + float(box[2]) / 2, float(box[1]) + float(box[3]) / 2, w.side,
                          w.out)

    def cut_shared(self, image: np.ndarray, crop: SharedCrop) -> np.ndarray:
        return crop_rect(image, crop.x0, crop.y0, crop.side_w, crop.side_h, crop.width, crop.height)

    def _from_shared(self, image: np.ndarray, crop: SharedCrop, fmap: torch.Tensor) -> tuple[CropRequest, torch.Tensor]:
        # boxes are drawn in the target's own window, as alone; only their features come from the shared map
        size = image_size(image)
        own = self.extractor.window(clip_box(self.target, size), size)
        window = SharedCropWindow(own.x0, own.y0, own.side, own.out, own.image_size, crop.x0, crop.y0, crop.scale)
        return CropRequest(np.zeros((0, 0, 3), np.uint8), window), fmap

    def feature_config(self) -> dict[str, Any]:
        return feature_settings(self.config)

    def backbone_sha256(self) -> str | None:
        return backbone_checksum(self.config)

    def _finish(self, image: np.ndarray, request: CropRequest, fmap: torch.Tensor) -> np.ndarray:
        step = self._begin_frame(image, request, fmap)
        feats = self.extractor.pool(step.fmap, step.window, step.cands)
        with torch.no_grad():
            scores = target_scores(self.head(feats), self.config.score)
        self._locate(image, step, feats, scores)
        if step.samples is not None:
            self._store(self.extractor.pool(step.fmap, step.window, step.samples), step.n_pos)
        update = self._end_frame(step)
        if update is not None:
            self._online_update(*update)
        return step.result

    # the parts of _finish, in order; _finish_many runs each part for all its trackers before the next
    def _begin_frame(self, image: np.ndarray, request: CropRequest, fmap: torch.Tensor) -> _Step:
        """The frame's candidates (drawn with the tracker's generator) and the map they are pooled from."""
        size = image_size(image)
        self.frame_index += 1
        target = clip_box(self.target, size)
        window = request.context
        cands = sampling.candidates(target, window, self.config, self.trans, self.rng)
        return _Step(size, target, window, self._block_map(fmap), cands)

    def _locate(self, image: np.ndarray, step: _Step, feats: torch.Tensor, scores: torch.Tensor) -> None:
        """The target from the candidates' ``scores``: pyMDNet's top-k mean, success test and box
        regression; on success the update samples around it are drawn (``step.samples``)."""
        cfg = self.config
        cands, target, size = step.cands, step.target, step.size
        blank = _is_blank(image, cands, cfg.blank_std)
        # a blank region: no candidate (the NaN path: hold, failure)
        top, target_score, success = top_k_mean(np.full(len(cands), np.nan) if blank else scores, cfg)
        # hold_on_failure: the best candidates are background to the head (pyMDNet's own test fails)
        held = cfg.hold_on_failure and not success
        running, ratio = self._loss_counter.reference, self.success_ratio
        if success and ratio and running is not None and running > 0:
            success = target_score >= ratio * running
        # no finite score: keep the last box (and take the failure path)
        new_target = cands[top].mean(axis=0) if len(top) and not held else target
        self.trans = cfg.trans if success else min(self.trans * cfg.trans_growth, cfg.trans_limit)
        result = new_target
        if success and self.bbreg.fitted:
            result = self.bbreg.predict(feats[top].cpu().numpy(), cands[top]).mean(axis=0)
        new_target = clip_box(new_target, size)
        step.result = clip_box(result, size) if is_valid_box(result) else new_target
        step.new_target, step.success = new_target, success
        step.confidence = cfg.blank_confidence if blank else target_score
        if success:
            step.samples, step.n_pos = self._update_samples(step.window, new_target)

    def _end_frame(self, step: _Step) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The tracker's state after the frame; the samples of the online update due now, if any."""
        self.target = step.new_target
        self.confidence = step.confidence
        self.target_found = step.success
        if step.success:
            if self.frame_index % self.config.long_interval == 0 and self.store:
                return self.store.long_term()
            return None
        return self.store.short_term() if self.store else None

    def head_batch_key(self) -> Hashable | None:
        # trackers alike in these pool, score and update together (batched.py); a head with a block does not
        cfg, head = self.config, self.head
        if not isinstance(head, SDNetHead) or hasattr(head, "block"):
            return None
        backbone = self.extractor.backbone
        return ("sdnet", str(self.device), cfg.backbone, self.extractor.feature_dim, backbone.stride, backbone.shift,
                cfg.roi_bins, cfg.roi_sampling_ratio, cfg.hidden, cfg.score)

    @classmethod
    def _finish_many(cls, image: np.ndarray, trackers: Sequence[AdaptiveTracker], requests: Sequence[CropRequest],
                     features: Sequence[torch.Tensor]) -> list[np.ndarray]:
        """:meth:`_finish` of several trackers of one :meth:`head_batch_key`, each part done for all at once
        (batched.py): the boxes, states and random draws of each tracker's own :meth:`_finish`."""
        members: list[_SDNetTracker] = list(trackers)  # type: ignore[arg-type]
        extractor = members[0].extractor
        steps = [t._begin_frame(image, r, f) for t, r, f in zip(members, requests, features, strict=True)]
        feats = batched.pool_many(extractor, [(s.fmap, s.window, s.cands) for s in steps])
        scores = batched.score_many([t.head for t in members], feats, members[0].config.score)
        for t, s, f, sc in zip(members, steps, feats, scores, strict=True):
            t._locate(image, s, f, sc)
        storing = [(t, s) for t, s in zip(members, steps, strict=True) if s.samples is not None]
        pooled = batched.pool_many(extractor, [(s.fmap, s.window, s.samples) for _, s in storing])
        for (t, s), f in zip(storing, pooled, strict=True):
            t._store(f, s.n_pos)
        jobs: dict[Hashable, list[tuple[_SDNetTracker, batched.UpdateJob]]] = {}
        for t, s in zip(members, steps, strict=True):
            update = t._end_frame(s)
            if update is None:
                continue
            job = batched.UpdateJob(t.head, t.update_optimizer, update[0], update[1], t.rng)
            # a learned update (online_update: meta) is no SGD job: it runs alone, as in a single run
            key = (batched.update_key(job, t.config.maxiter_update, t.config)
                   if t.config.online_update == "sgd" else None)
            jobs.setdefault(key if key is not None else id(t), []).append((t, job))
        for together in jobs.values():
            if len(together) == 1:
                t, job = together[0]
                t._online_update(job.pos, job.neg)
                continue
            start = time.perf_counter()
            batched.train_many([j for _, j in together], together[0][0].config.maxiter_update,
                               together[0][0].config)
            share = (time.perf_counter() - start) / len(together)
            for t, _ in together:
                t.profile["update"] += share
        return [s.result for s in steps]

    # ------------------------------------------------------------------ re-detection (adaptive/redetect.py)
    def _search_geometry(self) -> tuple[np.ndarray, float]:
        t = self.target
        return t[:2] + t[2:] / 2, self.config.crop_context * float(np.sqrt(max(t[2] * t[3], 1e-6)))

    def _shift_search(self, offset: np.ndarray, image_size: tuple[int, int]) -> None:
        # the crop and the candidates are centred on self.target: move it, its size kept inside the frame
        t = self.target
        hi = np.maximum(np.asarray(image_size, dtype=np.float64) - t[2:], 0.0)
        self.target = np.r_[np.clip(t[:2] + offset, 0.0, hi), t[2:]]

    def _window_at(self, image: np.ndarray, centre: np.ndarray, scale: float) -> CropRequest:
        size = self.target[2:] * scale
        box = np.r_[np.asarray(centre, dtype=np.float64) - size / 2, size]
        window = self.extractor.window(box, image_size(image))
        return CropRequest(self.extractor.crop(image, window), (window, box))

    def _best_candidate(self, image: np.ndarray, request: CropRequest,
                        fmap: torch.Tensor) -> tuple[float, np.ndarray] | None:
        """pyMDNet's candidates at their widest spread (``trans_limit``) in the window, scored by the
        head; the top-k mean as on every frame, kept only if it passes ``success_threshold``."""
        cfg = self.config
        window, box = request.context
        cands = sampling.candidates(box, window, cfg, cfg.trans_limit, self.rng)
        if _is_blank(image, cands, cfg.blank_std):
            return None
        fmap = self._block_map(fmap)  # the stem's map of the window: the (adapted) block first, as in _finish
        with torch.no_grad():
            scores = target_scores(self.head(self.extractor.pool(fmap, window, cands)), cfg.score)
        top, score, success = top_k_mean(scores, cfg)
        if not success:
            return None
        return score, cands[top].mean(axis=0)

    def _relocate(self, image: np.ndarray, box: np.ndarray, score: float, scale: float) -> np.ndarray:
        self.target = clip_box(box, image_size(image))
        self.trans = self.config.trans
        self.confidence = score
        return self.target.copy()

    def first_frame_score(self, params: Params, samples: SampleBatch) -> float:
        """Accuracy of the head ``params`` on ``samples``, positives and negatives weighted 1:3."""
        head = new_head(self.config, self.extractor, with_block=any(k.startswith("block.") for k in params))
        head.load_state_dict(params)
        with torch.no_grad():
            return accuracy_at_1_to_3(head(samples.features), samples.labels)

    def frame_samples(self, image: np.ndarray, box: np.ndarray, rng: np.random.Generator) -> SampleBatch:
        """MetaSDNet's first-frame set (1:3) on a later frame, around its true box."""
        size = image_size(image)
        box = clip_box(box, size)
        window = self.extractor.window(box, size)
        fmap = self.crop_features([self.extractor.crop(image, window)])
        return self._labelled(fmap, window, box, rng)

    def feature_extractor(self) -> tuple[torch.nn.Module, int]:
        backbone = self.extractor.backbone
        return torch.nn.Sequential(backbone.normalize, backbone.net).eval(), self.config.crop_size

    # ------------------------------------------------------------------ helpers
    #: whether the first frame's labelled set is taken on the stem's map for the head's own block
    #: (MetaSDNet with ``trainable_blocks``: its first-frame step adapts the block)
    adapts_block: bool = False

    def _initial_training(self, fmap: torch.Tensor, window, box: np.ndarray) -> FirstFrame:
        """Fit the head to the first frame; ``fmap`` is the stem's map (the whole backbone's without
        a trainable block)."""
        raise NotImplementedError

    def _block_map(self, fmap: torch.Tensor) -> torch.Tensor:
        """The map the boxes are pooled from: ``fmap`` through the (adapted) block, if there is one."""
        if self.block is None:
            return fmap
        with torch.no_grad():
            return self.block(fmap if fmap.dim() == 4 else fmap[None])

    def _collect(self, fmap: torch.Tensor, window, box: np.ndarray) -> None:
        """Store pyMDNet's update samples around ``box`` (positives and negatives) as features."""
        boxes, n_pos = self._update_samples(window, box)
        self._store(self.extractor.pool(fmap, window, boxes), n_pos)  # one RoIAlign call

    def _update_samples(self, window, box: np.ndarray) -> tuple[np.ndarray, int]:
        """pyMDNet's update boxes around ``box`` (the tracker's generator): positives then negatives,
        and the positives' count."""
        return sampling.update_samples(box, window, self.config, self.rng)

    def _store(self, feats: torch.Tensor, n_pos: int) -> None:
        """Keep the pooled update samples (positives first), unless any is not finite."""
        if bool(torch.isfinite(feats).all()):
            self.store.add(feats[:n_pos], feats[n_pos:])

    def _online_update(self, pos: torch.Tensor, neg: torch.Tensor) -> None:
        with self._timed("update"):
            if self.config.online_update == "meta":
                self._learned_update(pos, neg)
                return
            train_head(self.head, self.update_optimizer, pos, neg, self.config.maxiter_update, self.config,
                       self.rng)

    def _learned_update(self, pos: torch.Tensor, neg: torch.Tensor) -> None:
        """One step of the meta-learned online step sizes on the stored samples (online.learned_update,
        the step meta-training went through); a step that turns a parameter non-finite is not taken."""
        head = self.head
        params = {n: p.detach() for n, p in head.named_parameters()}
        new = learned_update(lambda q, x: torch.func.functional_call(head, q, (x,)), params, self.online,
                             pos, neg, self.config, create_graph=False)
        if all(bool(torch.isfinite(v).all()) for v in new.values()):
            with torch.no_grad():
                for n, p in head.named_parameters():
                    p.copy_(new[n])

    def _new_head(self) -> SDNetHead:
        """A randomly initialised head, seeded by the tracker's seed (the global RNG is left alone)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed)
            head = SDNetHead(self.extractor.feature_dim, self.config.hidden)
        return head.to(self.device)

    def _labelled(self, fmap, window, box, rng: np.random.Generator) -> SampleBatch:
        """The first-frame set of MetaSDNet (``n_pos_meta`` : ``n_neg_meta``) around ``box``, pooled."""
        cfg = self.config
        boxes, labels = sampling.labelled_set(box, cfg.n_pos_meta, cfg.n_neg_meta, window, cfg, rng)
        if self.adapts_block:
            x = self.extractor.stem_samples(fmap, window, boxes)
        else:
            x = self.extractor.pool(self._block_map(fmap), window, boxes)
        return SampleBatch(x, torch.from_numpy(labels).to(self.device))


@dataclass
class _Step:
    """One later frame of one tracker between the parts of :meth:`_SDNetTracker._finish`."""

    size: tuple[int, int]
    target: np.ndarray
    window: Any
    fmap: torch.Tensor
    cands: np.ndarray
    result: np.ndarray | None = None
    new_target: np.ndarray | None = None
    success: bool = False
    confidence: float = float("nan")
    #: the update samples drawn on success (positives first) and the positives' count
    samples: np.ndarray | None = None
    n_pos: int = 0


def _is_blank(image: np.ndarray, boxes: np.ndarray, min_std: float) -> bool:
    """Whether the image region that ``boxes`` span varies less than ``min_std`` grey levels (a flat frame)."""
    h, w = image.shape[:2]
    x0, y0 = (max(int(np.floor(v)), 0) for v in boxes[:, :2].min(axis=0))
    x1 = min(int(np.ceil((boxes[:, 0] + boxes[:, 2]).max())), w)
    y1 = min(int(np.ceil((boxes[:, 1] + boxes[:, 3]).max())), h)
    if x1 <= x0 or y1 <= y0:
        return False
    step = max(1, min(x1 - x0, y1 - y0) // 64)  # a subsample is enough to tell a flat region
    return bool(image[y0:y1:step, x0:x1:step].std() < min_std)


def _state(head: SDNetHead) -> Params:
    return {k: v.detach().clone() for k, v in head.state_dict().items()}


class MetaSDNet(_SDNetTracker):
    """MetaSDNet-``init_steps``: theta0 and alpha from a model file, ``init_steps`` alpha-steps on
    the first frame, then pyMDNet's online updates with plain SGD at ``meta_update_lr``."""

    def __init__(self, model: str | Path | None = None, init_steps: int | None = None,
                 config: SDNetConfig | dict | None = None, device: str | torch.device = "cpu", **overrides: Any):
        if init_steps is not None:
            overrides["init_steps"] = init_steps

        def head_state(cfg: SDNetConfig) -> Params:
            dev = torch.device(device)
            return new_head(cfg, FeatureExtractor(cfg, dev, shared_backbone(cfg, dev))).state_dict()

        try:
            found = read_meta_model(MODEL_NAME, model, SDNetConfig, SDNetConfig.build(config), overrides,
                                    backbone_checksum, head_state)
        except CheckpointError as exc:
            if "block." not in str(exc):
                raise
            raise CheckpointError(
                f"{exc}: the file's backbone block does not match its tracker.trainable_blocks "
                "(block.* tensors are the meta-trained last blocks of the backbone)"
            ) from None
        super().__init__(found.config, device)
        self.adapts_block = self.block is not None
        self.model_path = found.path
        self.theta0 = {k: v.to(self.device) for k, v in found.theta0.items()}
        self.alpha = {k: v.to(self.device) for k, v in found.alpha.items()}
        self.online = self._online_step_sizes(found)

    @property
    def online_lr(self) -> float:
        return self.config.meta_update_lr

    @property
    def success_ratio(self) -> float:
        return self.config.meta_success_ratio

    def _initial_training(self, fmap, window, box) -> FirstFrame:
        cfg = self.config
        batch = self._labelled(fmap, window, box, self.rng)
        net = new_head(cfg, self.extractor)  # fc4-fc6, and the block with trainable_blocks
        net.load_state_dict(self.theta0)
        start = time.perf_counter()
        # the block too is adapted with its alpha (the same function as meta-training's inner loop)
        params = first_frame_update(net, dict(self.theta0), self.alpha, batch, cfg.init_steps, cfg,
                                    create_graph=False)
        with torch.no_grad():
            for n, p in net.named_parameters():
                if bool(torch.isfinite(params[n]).all()):
                    p.copy_(params[n])
        if self.adapts_block:  # the block now runs after the stem on every frame; the head is fc4-fc6
            self.block = net.block.requires_grad_(False)
            del net.block
            net.pool = None
        self.head = net
        if cfg.balance_head and cfg.online_update == "sgd":  # the learned steps were meta-learned unbalanced
            balance_layers(self.head)
        seconds = time.perf_counter() - start
        after = _state(self.head)
        if self.block is not None and self.adapts_block:
            after.update({f"block.{k}": v for k, v in _state(self.block).items()})
        return FirstFrame(dict(self.theta0), after, batch, seconds, {"steps": float(cfg.init_steps)})


class SDNet(_SDNetTracker):
    """SDNet-``iterations``: a randomly initialised head trained by pyMDNet's first-frame SGD, then
    the same online updates as MetaSDNet."""

    def __init__(self, iterations: int = 30, config: SDNetConfig | dict | None = None,
                 device: str | torch.device = "cpu", **overrides: Any):
        super().__init__(SDNetConfig.build(config, overrides), device)
        self._refuse_learned_update("MetaSDNet", "SDNet-N")
        self.iterations = int(iterations)

    def _initial_training(self, fmap, window, box) -> FirstFrame:
        cfg = self.config
        pos = sampling.positives(box, cfg.n_pos_init, window, cfg, self.rng)
        neg = sampling.first_frame_negatives(box, cfg.n_neg_init, window, cfg, self.rng)
        fmap = self._block_map(fmap)  # SDNet-N keeps any block at its ImageNet weights
        pf = self.extractor.pool(fmap, window, pos)
        nf = self.extractor.pool(fmap, window, neg)
        self.head = self._new_head()
        before = _state(self.head)
        start = time.perf_counter()
        optimizer = make_optimizer(self.head, cfg.lr_init, cfg)
        train_head(self.head, optimizer, pf, nf, self.iterations, cfg, self.rng)
        seconds = time.perf_counter() - start
        labels = torch.cat([torch.ones(len(pf), dtype=torch.long), torch.zeros(len(nf), dtype=torch.long)])
        samples = SampleBatch(torch.cat([pf, nf]), labels.to(self.device))
        return FirstFrame(before, _state(self.head), samples, seconds, {"iterations": float(self.iterations)})


__all__ = ["MetaSDNet", "SDNet"]
