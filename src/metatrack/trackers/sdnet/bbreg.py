"""pyMDNet's bounding-box regressor: ridge regression from box features to box corrections.

Fitted once on the first frame on boxes that overlap the target (IoU >= 0.6); it predicts the
centre offset in box widths/heights and the log size ratio, and is applied to the top candidates
when the frame was tracked successfully. A prediction that moves a box too far (outside the
fitting ranges) is discarded, as pyMDNet does.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from ...geometry import as_boxes, iou


def regression_targets(boxes: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(dx / w, dy / h, log(w* / w), log(h* / h)) from each box to the target, centre form."""
    b = as_boxes(boxes)
    t = as_boxes(target)
    bc = b[:, :2] + b[:, 2:] / 2
    tc = t[:, :2] + t[:, 2:] / 2
    return np.concatenate([(tc - bc) / b[:, 2:], np.log(t[:, 2:] / b[:, 2:])], axis=1)


class BoxRegressor:
    """Ridge regression (``alpha``, intercept unpenalised, as scikit-learn's ``Ridge``)."""

    def __init__(self, alpha: float = 1000.0, overlap: tuple[float, float] = (0.6, 1.0),
                 scale_range: tuple[float, float] = (1.0, 2.0)):
        self.alpha = alpha
        self.overlap = overlap
        self.scale_range = scale_range
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None

    def _in_range(self, boxes: np.ndarray, ref: np.ndarray) -> np.ndarray:
        r = iou(boxes, ref)
        s = np.prod(boxes[:, 2:], axis=1) / np.prod(ref[:, 2:], axis=1)
        return ((r >= self.overlap[0]) & (r <= self.overlap[1]) & (s >= self.scale_range[0])
                & (s <= self.scale_range[1]))

    def fit(self, features: np.ndarray, boxes: np.ndarray, target: np.ndarray) -> bool:
        """Fit on the boxes within the ranges; returns False (and stays unfitted) if none or not finite."""
        x = np.asarray(features, dtype=np.float32)
        b = as_boxes(boxes)
        t = as_boxes(target)
        keep = self._in_range(b, np.repeat(t, len(b), 0)) & np.all(np.isfinite(x), axis=1)
        if keep.sum() < 2:
            return False
        x, b = x[keep], b[keep]
        y = regression_targets(b, t).astype(np.float32)
        xm, ym = x.mean(0), y.mean(0)
        xc, yc = x - xm, y - ym
        try:  # primal (d x d) or dual (n x n) normal equations, whichever is smaller; both SPD
            if xc.shape[0] < xc.shape[1]:
                gram = xc @ xc.T + self.alpha * np.eye(xc.shape[0], dtype=np.float32)
                coef = xc.T @ scipy.linalg.solve(gram, yc, assume_a="pos")
            else:
                gram = xc.T @ xc + self.alpha * np.eye(xc.shape[1], dtype=np.float32)
                coef = scipy.linalg.solve(gram, xc.T @ yc, assume_a="pos")
        except (np.linalg.LinAlgError, ValueError):
            return False
        if not np.all(np.isfinite(coef)):
            return False
        self.coef, self.intercept = coef, ym - xm @ coef
        return True

    @property
    def fitted(self) -> bool:
        return self.coef is not None

    def predict(self, features: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Corrected boxes; boxes whose correction falls outside the ranges are returned unchanged."""
        b = as_boxes(boxes)
        if not self.fitted:
            return b.copy()
        y = (np.asarray(features, dtype=np.float32) @ self.coef + self.intercept).astype(np.float64)
        c = b[:, :2] + b[:, 2:] / 2 + y[:, :2] * b[:, 2:]
        with np.errstate(over="ignore", invalid="ignore"):
            wh = np.exp(y[:, 2:]) * b[:, 2:]
        out = np.concatenate([c - wh / 2, wh], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = self._in_range(b, out) & np.all(np.isfinite(out), axis=1)
        out[~ok] = b[~ok]
        return out
