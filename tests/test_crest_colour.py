"""The colour score merged into the correlation filter's response (crest/colour.py, ``colour_merge``)."""

from __future__ import annotations

import numpy as np
import pytest
from sdnet_synth import square_sequence

from metatrack.errors import ConfigError
from metatrack.evaluation.runner import track_ope
from metatrack.geometry import iou
from metatrack.trackers import create_tracker
from metatrack.trackers.crest.colour import ColourModel
from metatrack.trackers.crest.config import CRESTConfig
from metatrack.trackers.crest.window import cell_to_offset


def red_on_blue(x: int = 90, y: int = 70, side: int = 20) -> np.ndarray:
    rng = np.random.default_rng(0)
    frame = np.zeros((160, 200, 3), np.uint8)
    frame[..., 2] = rng.integers(150, 220, (160, 200))  # blue, with noise
    frame[y:y + side, x:x + side] = (210, 30, 30)
    return frame


def test_the_targets_colour_scores_high_and_the_ring_around_it_low():
    frame = red_on_blue()
    model = ColourModel(bins=32, rate=0.04)
    model.learn(frame, np.array([100.0, 80.0]), np.array([20.0, 20.0]))
    like = model.likelihood(frame)
    assert like[80, 100] > 0.9 and like[20, 20] < 0.1


@pytest.mark.parametrize("shift", [0.0, 24.0, -15.0])
def test_the_score_maps_peak_is_the_targets_cell_in_the_response_window(shift):
    """The colour map's cells are the filter response's: a window centred ``shift`` px right of the
    target peaks at the cell whose offset is ``-shift``."""
    frame = red_on_blue()
    model = ColourModel(bins=32, rate=0.04)
    model.learn(frame, np.array([100.0, 80.0]), np.array([20.0, 20.0]))
    side, m = 100.0, 31
    score = model.score_map(frame, np.array([100.0 + shift, 80.0]), side, m, np.array([20.0, 20.0]))
    assert score.shape == (m, m) and 0.0 <= score.min() and score.max() <= 1.0
    peak = np.unravel_index(int(np.argmax(score)), score.shape)
    dx, dy = cell_to_offset(peak, side, m)
    assert abs(dx + shift) <= side / m + 1e-6 and abs(dy) <= side / m + 1e-6


def test_a_target_coloured_like_its_surroundings_gives_a_flat_score():
    """Where colour tells nothing (a grey face on gravel), the filter decides alone."""
    rng = np.random.default_rng(1)
    frame = np.repeat(rng.integers(60, 200, (160, 200, 1)), 3, axis=2).astype(np.uint8)
    model = ColourModel(bins=32, rate=0.04)
    model.learn(frame, np.array([100.0, 80.0]), np.array([20.0, 20.0]))
    score = model.score_map(frame, np.array([100.0, 80.0]), 100.0, 31, np.array([20.0, 20.0]))
    inner = score[3:-3, 3:-3]  # the border cells average the window's padding
    assert inner.max() - inner.min() < 0.15


def test_learning_moves_the_densities_by_the_rate():
    model = ColourModel(bins=8, rate=0.25)
    first = red_on_blue()
    model.learn(first, np.array([100.0, 80.0]), np.array([20.0, 20.0]))
    before = model.fg.copy()
    green = first.copy()
    green[70:90, 90:110] = (30, 210, 30)
    model.learn(green, np.array([100.0, 80.0]), np.array([20.0, 20.0]))
    fg_now, _ = model.densities(green, np.array([100.0, 80.0]), np.array([20.0, 20.0]))
    np.testing.assert_allclose(model.fg, 0.75 * before + 0.25 * fg_now)


def test_a_tracker_on_colour_alone_follows_the_target():
    """colour_merge 1: the position is the colour score's peak alone, so a wrong alignment of its map
    with the window would lose the square."""
    seq = square_sequence(n=30, seed=3)
    boxes, _ = track_ope(create_tracker("crest-05", colour_merge=1.0, occlusion_ratio=0.0), seq, [])
    assert float(np.mean(iou(boxes, seq.boxes))) > 0.6


def test_bad_colour_settings_are_named():
    for bad in ({"colour_merge": 1.5}, {"colour_bins": 1}, {"colour_rate": -0.1}):
        with pytest.raises(ConfigError, match="colour_"):
            CRESTConfig.from_dict(bad)
