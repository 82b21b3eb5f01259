"""MetaSDNet's ``hold_on_failure``: on a frame whose candidates all score as background the box stays
where the search is centred, instead of following the best of them (pyMDNet's move)."""

from __future__ import annotations

import numpy as np
import pytest
from sdnet_synth import texture

from metatrack.errors import ConfigError
from metatrack.trackers.sdnet.config import SDNetConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _covered_square(n=24, covered=range(6, 18), size=(160, 120), side=24, seed=3):
    """A still textured square over a textured background, hidden under another texture for ``covered``."""
    rng = np.random.default_rng(seed)
    w, h = size
    background = (texture(rng, h, w, 6) * 0.5 + 60).astype(np.uint8)
    target, cover = texture(rng, side, side, 4), texture(rng, side + 8, side + 8, 12)
    x, y = 60, 40
    frames = []
    for i in range(n):
        frame = background.copy()
        frame[y:y + side, x:x + side] = target
        if i in covered:
            frame[y - 4:y + side + 4, x - 4:x + side + 4] = cover
        frames.append(frame)
    return frames, np.array([x, y, side, side], dtype=np.float64)


def _track(hold: bool):
    from metatrack.trackers import create_tracker

    frames, box = _covered_square()
    # no coasting: a hidden target's search stays where it was (with it, it walks on at the last velocity)
    tracker = create_tracker("metasdnet", hold_on_failure=hold, coast_frames=0, seed=0)
    tracker.init(frames[0], box)
    out, background = [], []
    for frame in frames[1:]:
        out.append(np.asarray(tracker.update(frame), dtype=np.float64))
        # pyMDNet's own test failed: the best candidates' mean score is at most 0 (background)
        background.append(not tracker.raw_confidence > 0)
    return np.array(out), np.array(background), box


def test_a_failed_frame_holds_the_box_where_the_search_is():
    held, background, box = _track(hold=True)
    failed = np.flatnonzero(background)
    assert len(failed) >= 3  # the cover is background to the head
    for a, b in zip(failed, failed[1:], strict=False):
        if b == a + 1:  # a run of frames whose candidates are background: the box does not move
            assert np.allclose(held[b], held[a], atol=1e-9)
    # where the search was centred, near the last found box
    assert np.abs(held[failed[0]][:2] - held[failed[0] - 1][:2]).max() < 3
    assert np.abs(held[-1][:2] - box[:2]).max() < 6  # found again when the cover goes


def test_without_it_a_failed_frame_moves_to_the_best_candidates():
    moved, background, _ = _track(hold=False)
    failed = np.flatnonzero(background)
    assert len(failed) >= 3
    runs = [(a, b) for a, b in zip(failed, failed[1:], strict=False) if b == a + 1]
    assert runs and any(not np.allclose(moved[b], moved[a], atol=1e-6) for a, b in runs)


def test_the_setting_is_a_switch():
    assert SDNetConfig().hold_on_failure is False
    with pytest.raises(ConfigError, match="hold_on_failure"):
        SDNetConfig.from_dict({"hold_on_failure": "sometimes"})
