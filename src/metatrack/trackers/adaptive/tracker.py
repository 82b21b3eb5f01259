"""The template of every tracker that adapts a head online (MetaSDNet, SDNet-N, MetaCREST, CREST-N).

They are one loop with different parts. The template owns the loop's fixed parts: frame conversion
(:func:`metatrack.image.as_rgb`), the first box's check, the public first-frame fit that ``init``
calls, confidence, loading a meta-trained model (one file layout, one way a model fixes settings),
and registering a family's variants. A family supplies its parts as four methods:

- :meth:`AdaptiveTracker.fit_first_frame` -- the head fitted to the first frame: the meta-learned
  step(s) from theta0 with alpha (the same function meta-training's inner loop calls) or N
  ordinary iterations from a fresh start;
- :meth:`AdaptiveTracker._start_tracking` -- whatever else the first frame sets up (sample stores,
  box regression, optimisers);
- :meth:`AdaptiveTracker._crop_request` and :meth:`AdaptiveTracker._finish` -- one later frame,
  split where the frozen backbone runs: the crop the frame needs (a pure function of the tracker's
  state and the frame), then, given that crop's features, locate, report, collect, update. The
  template runs the backbone in between (:meth:`AdaptiveTracker.crop_features`: torch, or
  onnxruntime after :meth:`AdaptiveTracker.use_runtime`), so that a :class:`~.group.TrackerGroup`
  can run one batched backbone call for the crops of several targets; a family may instead
  override :meth:`AdaptiveTracker._track` whole (then its targets do not share the backbone);
- :meth:`AdaptiveTracker.first_frame_score` and :meth:`AdaptiveTracker.frame_samples` -- the
  measure of the paper's Table 2 (accuracy or loss of a head on labelled samples), which
  :mod:`metatrack.evaluation.init_analysis` computes from :meth:`fit_first_frame`'s result.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from ...errors import CheckpointError, ConfigError
from ...geometry import check_first_box
from ...image import as_rgb, image_size
from ...modelfile import check_backbone, load_model, meta_parameters, online_parameters
from ..base import Tracker, register_tracker
from .config import TrackerConfig
from .redetect import LossCounter, RedetectSettings, grid_centres

Params = dict[str, torch.Tensor]

#: where the shipped models and their training configs live
PACKAGE_DIR = Path(__file__).resolve().parents[2]


def shipped_model(model: str) -> Path:
    """Path of the shipped model file of ``model`` (``metasdnet``, ``metacrest``)."""
    return PACKAGE_DIR / "models" / f"{model}.safetensors"


def shipped_config(model: str) -> Path:
    """Path of the training config that produced the shipped model of ``model``."""
    return PACKAGE_DIR / "configs" / f"{model}.yaml"


@dataclass
class FirstFrame:
    """What fitting the first frame produced.

    ``before``/``after``: the head's parameters before and after the first-frame training (after:
    what tracking starts from); ``samples``: the labelled first-frame samples in the family's form
    (what :meth:`AdaptiveTracker.first_frame_score` measures); ``train_seconds``: the training alone.
    """

    before: Params
    after: Params
    samples: Any
    train_seconds: float
    info: dict[str, float] = field(default_factory=dict)


@dataclass
class MetaModel:
    """A meta-trained model file read for a tracker: its settings, theta0, alpha and where it is."""

    config: Any
    theta0: Params
    alpha: Params
    path: Path
    #: learned step sizes of the later updates (empty unless meta-training went through them)
    online: Params = field(default_factory=dict)


@dataclass
class CropRequest:
    """What one later frame needs from the frozen backbone: the ``crop`` (S x S x 3 uint8 RGB) and the
    family's ``context`` for :meth:`AdaptiveTracker._finish` (its window, the box it searched around)."""

    crop: np.ndarray
    context: Any = None


@dataclass(frozen=True)
class CropSquare:
    """The square of the frame a tracker's next crop covers, in image pixels: corner ``x0, y0``,
    centre ``cx, cy`` (both as the family computes them, so that a crop cut from them is the family's
    own to the bit) and ``side``; resized to ``out`` pixels."""

    x0: float
    y0: float
    cx: float
    cy: float
    side: float
    out: int

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        return self.out / self.side


@dataclass(frozen=True)
class SharedCrop:
    """A rectangle of the frame cut once for several targets (:class:`~.group.TrackerGroup`): corner
    ``x0, y0`` and centre ``cx, cy`` in image pixels, ``side_w`` x ``side_h`` image pixels resized to
    ``width`` x ``height`` crop pixels (the same scale both ways)."""

    x0: float
    y0: float
    cx: float
    cy: float
    side_w: float
    side_h: float
    width: int
    height: int

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        return self.width / self.side_w

    @classmethod
    def of_square(cls, square: CropSquare) -> SharedCrop:
        """The crop of one square: the family's own crop, exactly."""
        return cls(square.x0, square.y0, square.cx, square.cy, square.side, square.side, square.out, square.out)


#: the parts of a frame's time that :attr:`AdaptiveTracker.profile` adds up, in seconds
PROFILE_PARTS = ("crop", "features", "finish", "update")


class AdaptiveTracker(Tracker):
    """Base class of the adaptive trackers: ``init`` = :meth:`fit_first_frame` + the rest."""

    #: the family's settings dataclass
    config_class: ClassVar[type[TrackerConfig]]
    #: what :meth:`first_frame_score` returns: "accuracy" (higher is better) or "loss" (lower)
    measure: ClassVar[str] = "loss"
    #: whether a :class:`~.group.TrackerGroup` on a CPU shares crops among this family's targets by
    #: default (``merge=None``): where it was a tie in accuracy on validation data and cheaper
    shared_crop_on_cpu: ClassVar[bool] = False

    def __init__(self, config: TrackerConfig, device: str | torch.device = "cpu"):
        self.config = config
        self.device = torch.device(device)
        self.confidence = float("nan")
        self.first_frame: FirstFrame | None = None
        self._seed = 0
        #: the backbone's runtime: None runs torch; :meth:`use_runtime` sets onnxruntime's
        self.runtime: Callable[[list[np.ndarray]], torch.Tensor] | None = None
        #: seconds spent per part of the later frames (:data:`PROFILE_PARTS`; ``update``, the online
        #: learning, is part of ``finish``), and the frames counted
        self.profile: dict[str, float] = dict.fromkeys(PROFILE_PARTS, 0.0) | {"frames": 0}
        self._pending: tuple[CropRequest, torch.Tensor] | None = None
        #: whether the last frame found the target (the family's own success test, set by ``_finish``)
        self.target_found = True
        #: counts a loss's frames for re-detection (:mod:`.redetect`); None: the family has none
        self._loss_counter: LossCounter | None = None

    def seed(self, seed: int) -> None:
        """Seed the tracker's own random choices (called before ``init`` on every run)."""
        self._seed = int(seed)

    # ------------------------------------------------------------------ the protocol
    def init(self, image: np.ndarray, box: np.ndarray) -> None:
        image, box = self._first(image, box)
        first = self._fit(image, box)
        self._start_tracking(image, box, first)
        first.samples = None  # the first frame's training samples are not needed while tracking
        self.first_frame = first
        self.confidence = float("nan")
        self.target_found = True
        self._loss_counter = LossCounter(self.config) if isinstance(self.config, RedetectSettings) else None

    def update(self, image: np.ndarray) -> np.ndarray:
        if self.first_frame is None:
            raise ConfigError(f"{type(self).__name__}.update() called before init()")
        return self._track(as_rgb(image))

    def use_runtime(self, runtime: str = "torch", onnx_model: str | Path | None = None) -> None:
        """Run the frozen backbone with ``runtime``: ``torch`` (default) or ``onnx`` (onnxruntime on the
        CPU, the graph exported on first use into a cache folder or read from ``onnx_model``)."""
        if runtime == "torch":
            if onnx_model is not None:
                raise ConfigError("onnx_model: an ONNX file is used by runtime='onnx' only")
            self.runtime = None
        elif runtime == "onnx":
            if not self.shares_features or type(self).feature_extractor is AdaptiveTracker.feature_extractor:
                raise ConfigError(f"runtime onnx: {type(self).__name__} does not run its backbone through the "
                                  "template (_crop_request, _backbone, feature_extractor)")
            if self.device.type != "cpu":
                raise ConfigError(f"runtime onnx runs on the CPU (onnxruntime's CPU provider); device {self.device} "
                                  "needs runtime torch")
            from ...export import onnx_features

            self.runtime = onnx_features(self, onnx_model)
        else:
            raise ConfigError(f"runtime {runtime!r}: use 'torch' or 'onnx'")

    @property
    def runtime_name(self) -> str:
        return "torch" if self.runtime is None else "onnx"

    def crop_features(self, crops: list[np.ndarray]) -> torch.Tensor:
        """The frozen backbone's features of uint8 crops (each S x S x 3 RGB), one batched call:
        (N, ...) on the tracker's device, in the form the family's head reads."""
        if self.runtime is not None:
            return self.runtime(crops)
        return self._backbone(crops)

    def feature_key(self) -> Hashable:
        """Trackers with equal keys give equal features for equal crops: one batched backbone call
        (:class:`~.group.TrackerGroup`) serves them all."""
        return (json.dumps(self.feature_config(), sort_keys=True), str(self.device), self.runtime_name,
                getattr(self.runtime, "key", id(self.runtime)))

    @property
    def shares_features(self) -> bool:
        """Whether the family splits a frame into :meth:`_crop_request` and :meth:`_finish`."""
        return type(self)._crop_request is not AdaptiveTracker._crop_request

    def fit_first_frame(self, image: np.ndarray, box: np.ndarray) -> FirstFrame:
        """Fit the head to the target ``box`` on the first frame ``image``; what ``init`` does first.

        For the same seed the head is the one ``init`` tracks with: the first-frame analysis calls
        this on an ordinary tracker.
        """
        return self._fit(*self._first(image, box))

    # ------------------------------------------------------------------ a family's parts
    def _fit(self, image: np.ndarray, box: np.ndarray) -> FirstFrame:
        """:meth:`fit_first_frame` on a converted frame and a checked box."""
        raise NotImplementedError

    def _start_tracking(self, image: np.ndarray, box: np.ndarray, first: FirstFrame) -> None:
        """The rest of the first frame after the fit (stores, regression, optimisers)."""
        raise NotImplementedError

    def _track(self, image: np.ndarray) -> np.ndarray:
        """One later frame (converted): the box, with ``self.confidence`` set.

        The crop's features come from a :class:`~.group.TrackerGroup`'s batched call when it left
        them (:meth:`_prefetch`), else from :meth:`crop_features` here.
        """
        request, features = self._request_and_features(image)
        start = time.perf_counter()
        box = self._finish(image, request, features)
        return self._close_frame(image, box, time.perf_counter() - start)

    def _request_and_features(self, image: np.ndarray) -> tuple[CropRequest, torch.Tensor]:
        """The frame's crop request and its features: those a group left (:meth:`_prefetch`), else cut
        and computed here (timed as ``crop`` and ``features``)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            return pending
        start = time.perf_counter()
        request = self._crop_request(image)
        cropped = time.perf_counter()
        features = self.crop_features([request.crop])
        self.profile["crop"] += cropped - start
        self.profile["features"] += time.perf_counter() - cropped
        return request, features

    def _close_frame(self, image: np.ndarray, box: np.ndarray, finish_seconds: float) -> np.ndarray:
        """After :meth:`_finish` (which took ``finish_seconds``): re-detection if the family has it, the
        frame counted; the box to report."""
        start = time.perf_counter()
        if self._loss_counter is not None:
            box = self._after_finish(image, box)
        self.profile["finish"] += finish_seconds + time.perf_counter() - start
        self.profile["frames"] += 1
        return box

    def _crop_request(self, image: np.ndarray) -> CropRequest:
        """The crop a later frame needs; reads the tracker's state and changes nothing."""
        raise NotImplementedError

    def _finish(self, image: np.ndarray, request: CropRequest, features: torch.Tensor) -> np.ndarray:
        """The rest of a later frame given the features (batch of one) of ``request.crop``."""
        raise NotImplementedError

    def _backbone(self, crops: list[np.ndarray]) -> torch.Tensor:
        """The family's frozen backbone in torch on a batch of crops (see :meth:`crop_features`)."""
        raise NotImplementedError

    def feature_config(self) -> dict[str, Any]:
        """The settings that define the frozen features (backbone, its weights, crop size): what the
        ONNX cache is keyed by, with the backbone's sha256. Default: every setting."""
        return {"tracker": type(self).__name__, **self.config.to_dict()}

    def backbone_sha256(self) -> str | None:
        """sha256 of the backbone's weights (None: not from a file, e.g. a random backbone)."""
        return None

    # ------------------------------------------------------------------ one crop for several targets
    def crop_square(self, image: np.ndarray) -> CropSquare | None:
        """The square the next frame's crop covers (a pure function of the state and the frame), or
        None: the family cannot read its features out of a crop shared with other targets."""
        return None

    def cut_shared(self, image: np.ndarray, crop: SharedCrop) -> np.ndarray:
        """The family's crop (its padding, its anti-aliasing) of the rectangle ``crop``."""
        raise NotImplementedError

    def shared_features(self, crops: list[np.ndarray]) -> torch.Tensor:
        """The backbone's maps of shared crops, before any normalisation over the whole map (that
        belongs to each target's own part of it): torch, whatever :attr:`runtime` says."""
        return self._backbone(crops)

    def _from_shared(self, image: np.ndarray, crop: SharedCrop, fmap: torch.Tensor) -> tuple[CropRequest, torch.Tensor]:
        """The request and features :meth:`_finish` reads, from the map ``fmap`` (batch of one) of
        the shared ``crop`` that covers this tracker's :meth:`crop_square`."""
        raise NotImplementedError

    # ------------------------------------------------------------------ re-detection after a loss
    def _after_finish(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Count the loss (:attr:`target_found`) and, when :class:`~.redetect.LossCounter` says so (a
        departed target, or one hidden for long), search wider (:mod:`.redetect`): the frame's box, moved
        where the best passing candidate is, if any. On a found frame: the velocity's search shift."""
        loss = self._loss_counter
        size = image_size(image)
        if self.target_found:
            # the family's own score, never the calibrated confidence: a candidate's score (passes) is raw,
            # and tracking must not change when the calibration maps are fitted again
            loss.found(self.raw_confidence, box)
            offset = loss.search_offset()
            if offset.any():  # constant velocity: the next frame's search centred where the target goes
                self._shift_search(offset, size)
            return box
        search = loss.lost(size)
        point = loss.search_centre()
        if point is not None:  # hidden: where the target walks on; departed: where it left
            self._shift_search(point - self._search_geometry()[0], size)
        if not search:
            return box
        cfg = self.config
        centre, side = self._search_geometry()
        requests = []
        predicted = loss.predicted_centre()
        for scale in cfg.redetect_scales:
            grid = loss.reachable(grid_centres(centre, side * scale, size, cfg.redetect_stride), side * scale)
            centres = loss.next_centres(grid)
            if predicted is not None:  # a hidden target walked on: one window where it should be now
                centres = np.vstack([predicted[None], centres.reshape(-1, 2)])
            requests += [(scale, self._window_at(image, c, scale)) for c in centres]
        loss.tries += 1
        if not requests:
            return box
        features = self.crop_features([r.crop for _, r in requests])
        best = None
        for k, (scale, request) in enumerate(requests):
            found = self._best_candidate(image, request, features[k:k + 1])
            if found is not None and loss.admits(found[1], size) and (best is None or found[0] > best[0]):
                best = (found[0], found[1], scale)
        if best is None or not loss.passes(best[0]):
            return box
        loss.found()
        self.target_found = True
        return self._relocate(image, best[1], best[0], best[2])

    def _search_geometry(self) -> tuple[np.ndarray, float]:
        """Centre (x, y) and side (image pixels) of the window the family searches now."""
        raise NotImplementedError

    def _shift_search(self, offset: np.ndarray, image_size: tuple[int, int]) -> None:
        """Move where the next frame's search is centred by ``offset`` (x, y pixels), inside the frame
        (``velocity_damping``; ``coast_frames`` while hidden); the box reported for this frame stays as it is."""
        raise NotImplementedError

    def _window_at(self, image: np.ndarray, centre: np.ndarray, scale: float) -> CropRequest:
        """The family's window moved to ``centre`` for a target ``scale`` times its current size."""
        raise NotImplementedError

    def _best_candidate(self, image: np.ndarray, request: CropRequest,
                        features: torch.Tensor) -> tuple[float, np.ndarray] | None:
        """The best (score, box) in the window of ``request``, or None when none passes the family's
        success test; changes no state."""
        raise NotImplementedError

    def _relocate(self, image: np.ndarray, box: np.ndarray, score: float, scale: float) -> np.ndarray:
        """Move the tracker's state to the re-detected ``box``; the box to report."""
        raise NotImplementedError

    # ------------------------------------------------------------------ learned later updates
    def _online_step_sizes(self, found: MetaModel) -> Params:
        """The model file's learned online step sizes on this device; ``online_update: meta`` with a
        model that has none is a clear error (meta_training.online_frames makes them)."""
        online = {k: v.to(self.device) for k, v in found.online.items()}
        if getattr(self.config, "online_update", None) == "meta" and not online:
            raise CheckpointError(f"{found.path}: online_update 'meta' needs a model meta-trained through the later "
                                  "update (meta_training.online_frames); this one has no online.* step sizes")
        return online

    def _refuse_learned_update(self, meta_name: str, name: str) -> None:
        """A family's baseline (no model file) has no learned online step sizes to take."""
        if getattr(self.config, "online_update", None) == "meta":
            raise ConfigError(f"online_update 'meta' is {meta_name}'s (learned step sizes from its model file); "
                              f"{name} has none")

    def _prefetch(self, request: CropRequest, features: torch.Tensor) -> None:
        """Hand the next :meth:`update` the features of ``request`` computed elsewhere."""
        self._pending = (request, features)

    # ------------------------------------------------------------------ several targets' heads at once
    def head_batch_key(self) -> Hashable | None:
        """Trackers with equal keys can run a later frame's work after the backbone together
        (:meth:`_finish_many`, called by a :class:`~.group.TrackerGroup`); None (the default): alone."""
        return None

    @classmethod
    def _finish_many(cls, image: np.ndarray, trackers: list[AdaptiveTracker], requests: list[CropRequest],
                     features: list[torch.Tensor]) -> list[np.ndarray]:
        """:meth:`_finish` of ``trackers`` (one :meth:`head_batch_key`) on one frame, done together: each
        tracker's boxes, state and random draws as its own :meth:`_finish` would leave them."""
        raise NotImplementedError

    @classmethod
    def update_together(cls, image: np.ndarray, trackers: list[AdaptiveTracker]) -> list[np.ndarray]:
        """:meth:`update` of ``trackers`` (one :meth:`head_batch_key`) through the family's
        :meth:`_finish_many`; each one's profile gets an equal share of the time spent together."""
        image = as_rgb(image)
        requests, features = [], []
        for tracker in trackers:
            if tracker.first_frame is None:
                raise ConfigError(f"{type(tracker).__name__}.update() called before init()")
            request, feature = tracker._request_and_features(image)
            requests.append(request)
            features.append(feature)
        start = time.perf_counter()
        boxes = type(trackers[0])._finish_many(image, trackers, requests, features)
        share = (time.perf_counter() - start) / len(trackers)
        return [tracker._close_frame(image, box, share) for tracker, box in zip(trackers, boxes, strict=True)]

    @contextmanager
    def _timed(self, part: str) -> Iterator[None]:
        """Add the block's seconds to ``profile[part]``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.profile[part] += time.perf_counter() - start

    def first_frame_score(self, params: Params, samples: Any) -> float:
        """The Table 2 measure of the head ``params`` on ``samples`` (see :attr:`measure`)."""
        raise NotImplementedError

    def frame_samples(self, image: np.ndarray, box: np.ndarray, rng: np.random.Generator) -> Any:
        """Labelled samples of a later frame around its true ``box``, as the first frame's."""
        raise NotImplementedError

    def feature_extractor(self) -> tuple[torch.nn.Module, int]:
        """The frozen part every frame runs (crop pixels (N, 3, S, S) float RGB 0-255 -> feature map)
        as one module, and its crop side S: what ``metatrack export --onnx`` writes and what
        ``runtime='onnx'`` runs."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    def _first(self, image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        image = as_rgb(image)
        return image, check_first_box(box, image_size(image))


def read_meta_model(
    model: str,
    path: str | Path | None,
    config_class: type[TrackerConfig],
    base: TrackerConfig,
    overrides: dict[str, Any],
    backbone_checksum: Callable[[Any], str | None],
    head_state: Callable[[Any], dict[str, torch.Tensor]],
) -> MetaModel:
    """Read the meta-trained model of ``model`` at ``path`` (default: the shipped one).

    Its settings: ``base`` and ``overrides`` with the fields the model fixes; its backbone checksum
    checked against ``backbone_checksum(config)``; theta0 and alpha checked against the head
    ``head_state(config)`` would build.
    """
    tensors, config, p = open_model(model, path, config_class, base, overrides, backbone_checksum)
    theta0, alpha = meta_parameters(tensors, head_state(config), p)
    return MetaModel(config, theta0, alpha, p, online_parameters(tensors, alpha, p))


def open_model(
    model: str,
    path: str | Path | None,
    config_class: type[TrackerConfig],
    base: TrackerConfig,
    overrides: dict[str, Any],
    backbone_checksum: Callable[[Any], str | None],
) -> tuple[dict[str, torch.Tensor], Any, Path]:
    """The tensors, settings and path of the model file of ``model`` at ``path`` (default: the shipped
    one; a missing shipped file names the command that trains it): ``base`` and ``overrides`` with the
    fields the model fixes, its backbone checksum checked against ``backbone_checksum(config)``."""
    p = Path(path) if path is not None else shipped_model(model)
    if path is None and not p.is_file():
        raise CheckpointError(
            f"{p}: the shipped {model} model is not there. Train it with `metatrack train --config "
            f"{shipped_config(model)} --out runs/{model}` and copy runs/{model}/{model}.safetensors "
            "there, or pass model=PATH"
        )
    tensors, info = load_model(p, model)
    config = config_class.for_model(info["config"], base, overrides, p)
    check_backbone(p, info, backbone_checksum(config))
    return tensors, config, p


def register_counts(prefix: str, factory: Callable[..., Tracker], keyword: str, counts: Iterable[int]) -> None:
    """Register ``factory`` as ``<prefix>-NN`` with ``keyword=NN`` for every count (``sdnet-30``)."""
    for n in counts:
        register_tracker(f"{prefix}-{n:02d}", partial(factory, **{keyword: n}))
