"""Calibrated confidence: one meaning for every tracker's ``confidence``.

Each tracker scores its own answer in its own units (MetaSDNet and SDNet-N: the mean fc6 positive
logit of the top-5 candidates; MetaCREST and CREST-N: the response peak; the OpenCV peers: OpenCV's
tracking score or its success flag as 1/0; dlib: the peak-to-sidelobe ratio). A per-tracker map,
fitted on the validation split only, turns that raw score into the probability that the reported
box **overlaps** the target, where overlap means IoU > 0 (:data:`IOU_THRESHOLD`): the VOT toolkit's
definition of a tracking failure is overlap 0, and VOT-LT's re-detection counts a target found as
soon as the box overlaps it, so a box with overlap has not lost the target. A frame where the target
is absent (out of view, fully occluded) is a negative: no box overlaps a target that is not there.

The map is Platt's logistic ``p = 1 / (1 + exp(-(a * raw + b)))`` (Platt, 1999, with his smoothed
targets), fitted by maximum likelihood with ``a >= 0``, so that it is monotonic: a tracker ranks its
frames the same before and after calibration, and the long-term F-score, which thresholds each
tracker's own confidence, does not change. ``present`` is ``confidence >= threshold`` with the
threshold that maximises the VOT-LT F-score on the validation split.

The maps ship in ``confidence.json`` beside this module, written by ``metatrack calibrate`` (the
command, data sets, seed and date are recorded in the file). A tracker without an entry reports its
raw score as ``confidence`` and is always ``present`` (as VOT-LT treats a short-term tracker).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError

#: the file format version of the calibration file
FORMAT = 1
#: the shipped calibration file
SHIPPED = Path(__file__).with_name("confidence.json")
#: a frame counts as a positive (the box overlaps the target) where IoU > this
IOU_THRESHOLD = 0.0


@dataclass(frozen=True)
class Calibration:
    """Platt's map of one tracker's raw score to P(IoU > ``iou_threshold``), and its ``present`` threshold."""

    a: float
    b: float
    threshold: float
    iou_threshold: float = IOU_THRESHOLD
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    def probability(self, raw: float | np.ndarray) -> float | np.ndarray:
        """The calibrated confidence of ``raw`` (NaN stays NaN)."""
        z = np.clip(self.a * np.asarray(raw, dtype=np.float64) + self.b, -500.0, 500.0)
        p = 1.0 / (1.0 + np.exp(-z))
        return float(p) if np.ndim(p) == 0 else p

    def present(self, raw: float) -> bool:
        """Whether a frame with raw score ``raw`` counts as showing the target (NaN: yes, no evidence of loss)."""
        p = self.probability(raw)
        return not (p < self.threshold)

    def to_json(self) -> dict[str, Any]:
        return {"method": "platt", **{k: v for k, v in asdict(self).items() if k != "info"}, **self.info}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> Calibration:
        try:
            if data.get("method", "platt") != "platt":
                raise ValueError(f"method {data.get('method')!r} is not 'platt'")
            a, b, t = float(data["a"]), float(data["b"]), float(data["threshold"])
            iou_t = float(data.get("iou_threshold", IOU_THRESHOLD))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"calibration {where}: {exc}") from None
        if not (math.isfinite(a) and math.isfinite(b) and 0.0 <= t <= 1.0 and a >= 0.0):
            raise DataError(f"calibration {where}: a={a}, b={b}, threshold={t} "
                            "(need a finite a >= 0 and 0 <= threshold <= 1)")
        known = {"method", "a", "b", "threshold", "iou_threshold"}
        return cls(a, b, t, iou_t, {k: v for k, v in data.items() if k not in known})


def read_calibrations(path: str | Path = SHIPPED) -> dict[str, Calibration]:
    """Every tracker's calibration in the file at ``path`` (tracker name and its aliases -> map)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("calibration file is missing", p) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"calibration file cannot be read ({exc})", p) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("trackers"), dict):
        raise DataError(f"not a metatrack calibration file of format {FORMAT}", p)
    out: dict[str, Calibration] = {}
    for name, entry in data["trackers"].items():
        cal = Calibration.from_json(entry, f"{p} [{name}]")
        for key in [name, *entry.get("aliases", [])]:
            out[key] = cal
    return out


@lru_cache(maxsize=1)
def _shipped() -> dict[str, Calibration]:
    return read_calibrations(SHIPPED) if SHIPPED.is_file() else {}


_REGISTERED: dict[str, Calibration | None] = {}


def register_calibration(name: str, calibration: Calibration | None) -> None:
    """Use ``calibration`` for tracker ``name`` in this process (before the shipped one; None: uncalibrated),
    e.g. one that ``metatrack calibrate`` fitted for a plugin tracker: ``read_calibrations(path)[name]``."""
    _REGISTERED[name] = calibration


def calibration_for(name: str) -> Calibration | None:
    """The calibration of tracker ``name`` (a registered name): one registered in this process, else the
    shipped one, else None."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    return _shipped().get(name)


# ---------------------------------------------------------------------------------- fitting


def fit_platt(raw: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """Platt's (a, b) for scores ``raw`` and labels ``positive``, by maximum likelihood with ``a >= 0``.

    Platt's smoothed targets ((N+ + 1) / (N+ + 2) and 1 / (N- + 2)) keep the fit finite when the
    classes separate; the score is standardised for the optimiser and (a, b) mapped back.
    """
    from scipy.optimize import minimize

    x = np.asarray(raw, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    keep = np.isfinite(x)
    x, y = x[keep], y[keep]
    if x.size == 0:
        raise ConfigError("no frame with a finite raw confidence to calibrate on")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    t = np.where(y, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    mu, sd = float(x.mean()), float(x.std())
    sd = sd if sd > 0 else 1.0
    z = (x - mu) / sd

    def loss(v: np.ndarray) -> tuple[float, np.ndarray]:
        s = v[0] * z + v[1]
        # cross-entropy with soft targets, written stably: log(1 + e^s) - t * s
        ll = np.logaddexp(0.0, s) - t * s
        g = 1.0 / (1.0 + np.exp(-s)) - t
        return float(ll.mean()), np.array([(g * z).mean(), g.mean()])

    prior = math.log((n_pos + 1.0) / (n_neg + 1.0))
    res = minimize(loss, np.array([0.0, prior]), jac=True, method="L-BFGS-B", bounds=[(0.0, None), (None, None)])
    a_std, b_std = (float(v) for v in res.x)
    return a_std / sd, b_std - a_std * mu / sd


def expected_calibration_error(prob: np.ndarray, positive: np.ndarray, bins: int = 10) -> float:
    """ECE: the frame-weighted mean |mean confidence - share of positives| over ``bins`` equal-width bins
    (those of :func:`reliability`)."""
    filled = [r for r in reliability(prob, positive, bins) if r["frames"]]
    frames = sum(r["frames"] for r in filled)
    if not frames:
        return float("nan")
    return float(sum(r["frames"] * abs(r["confidence"] - r["positives"]) for r in filled) / frames)


def reliability(prob: np.ndarray, positive: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per bin: its range, frames, mean confidence and share of positives (the reliability diagram)."""
    p = np.asarray(prob, dtype=np.float64)
    y = np.asarray(positive, dtype=np.float64)
    keep = np.isfinite(p)
    p, y = p[keep], y[keep]
    idx = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for k in range(bins):
        m = idx == k
        out.append({"low": k / bins, "high": (k + 1) / bins, "frames": int(m.sum()),
                    "confidence": float(p[m].mean()) if m.any() else None,
                    "positives": float(y[m].mean()) if m.any() else None})
    return out
