"""MetaCREST's hard-negative update (hard_negative_ratio): a look-alike's second response peak far from
the target's starts an online update on that frame, with the frame in every batch."""

import numpy as np
import pytest
import torch
from test_crest_tracker import metacrest_model, moving_square

from metatrack.errors import ConfigError
from metatrack.trackers import create_tracker


def bump(m, centre, height, sigma=1.0):
    rows, cols = np.indices((m, m))
    return height * np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * sigma ** 2))


@pytest.fixture
def tracker(tmp_path):
    frames, boxes = moving_square(2)
    t = create_tracker("metacrest", model=metacrest_model(tmp_path / "m.safetensors"), hard_negative_ratio=0.5)
    t.init(frames[0], boxes[0])
    t.cells = (3.0, 3.0)
    return t


def test_a_second_peak_far_away_and_high_enough_is_a_hard_negative(tracker):
    m = 31
    target = bump(m, (15, 15), 1.0)
    assert not tracker._hard_negative(target)  # one peak
    assert tracker._hard_negative(target + bump(m, (15, 24), 0.6))  # 3 sizes away, 0.6 of the peak
    assert not tracker._hard_negative(target + bump(m, (15, 24), 0.4))  # too weak
    assert not tracker._hard_negative(target + bump(m, (15, 18), 0.9, 0.7))  # within 1.1 sizes: the target's own
    assert not tracker._hard_negative(np.zeros((m, m)))  # a flat map has no peak


def test_a_hard_negative_frame_is_learned_at_once_with_itself_in_every_batch(tmp_path):
    """With update_interval far away, only the hard-negative rule can update; it puts the newest sample
    in every batch and runs at hard_negative_lr_factor x update_lr, then gives the optimiser its rate back."""
    frames, boxes = moving_square(8)
    calls = {}
    for ratio in (0.0, 0.5):
        t = create_tracker("metacrest", model=metacrest_model(tmp_path / "m.safetensors"), update_interval=100,
                           hard_negative_ratio=ratio, hard_negative_lr_factor=3.0)
        t.init(frames[0], boxes[0])
        t._hard_negative = lambda r1: True  # every frame has a look-alike near
        seen, rates = [], []
        stacked, step = t._stacked, t.optimizer.step

        def spy_stacked(samples, first=True, t=t, seen=seen, stacked=stacked):
            seen.append(any(s is t.buffer[-1] for s in samples))
            return stacked(samples, first)

        def spy_step(*args, t=t, rates=rates, step=step):
            rates.append(t.optimizer.param_groups[0]["lr"])
            return step(*args)

        t._stacked, t.optimizer.step = spy_stacked, spy_step
        start = t.params["filter"].detach().clone()
        for f in frames[1:]:
            assert np.all(np.isfinite(t.update(f)))
        calls[ratio] = (seen, rates, not torch.equal(start, t.params["filter"]))
        assert t.optimizer.param_groups[0]["lr"] == pytest.approx(t.config.update_lr)
    assert calls[0.0] == ([], [], False)  # off: nothing learned before the interval
    seen, rates, moved = calls[0.5]
    iterations = t.config.update_iterations
    assert moved and len(seen) >= iterations and len(seen) % iterations == 0 and all(seen)
    assert rates == pytest.approx([3.0 * t.config.update_lr] * len(rates))


def test_bad_hard_negative_settings_are_refused():
    with pytest.raises(ConfigError, match="hard_negative_ratio"):
        create_tracker("metacrest", hard_negative_ratio=1.0)
    with pytest.raises(ConfigError, match="hard_negative_lr_factor"):
        create_tracker("metacrest", hard_negative_lr_factor=0.0)
