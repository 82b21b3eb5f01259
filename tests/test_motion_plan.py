"""The parts a composite plan is drawn from: each keeps its promise on its own, over many draws."""

from __future__ import annotations

import numpy as np
import pytest

from metatrack.data.composite import draw_plan, motion
from metatrack.data.composite.motion import FM_PIXELS, size_factor

SIZE = (480, 360)
K = size_factor(SIZE)
FRAME = np.array(SIZE, dtype=np.float64)


def _region(reach: float, n: int = 1) -> tuple[np.ndarray, np.ndarray]:
    return motion._safe_region(SIZE, np.full(n, reach))


@pytest.mark.parametrize("reach", [5.0, 40.0, 150.0])
def test_a_centre_in_the_safe_region_keeps_the_whole_target_in_view(reach: float):
    lo, hi = _region(reach)
    assert np.all(lo <= hi)
    for corner in (lo[0], hi[0]):
        assert np.all(corner - reach > 0) and np.all(corner + reach < FRAME)


def test_a_target_too_big_for_the_frame_is_held_at_its_centre():
    lo, hi = _region(400.0)
    assert np.array_equal(lo[0], FRAME / 2) and np.array_equal(hi[0], FRAME / 2)


def test_events_start_after_the_previous_one_and_before_the_end():
    for n in (3, 10, 150):
        for t0 in range(1, n):
            for busy in (0, n // 2, n + 3):
                start = motion._event_start(t0, busy, n)
                assert 1 <= start <= n - 2
                if max(t0, busy) < n - 1:
                    assert start == max(t0, busy)


def test_a_fast_dash_beats_the_otb_speed_every_frame_and_ends_in_the_safe_region():
    lo, hi = _region(30.0)
    lo, hi = lo[0], hi[0]
    for seed in range(50):
        rng = np.random.default_rng(seed)
        p0 = lo + rng.uniform(0, 1, 2) * (hi - lo)
        seg = motion._fast_dash(rng, p0, lo, hi, 100, K)
        steps = np.linalg.norm(np.diff(np.vstack([p0, seg]), axis=0), axis=1)
        assert np.all(steps > FM_PIXELS * K), seed
        assert np.all(seg[-1] >= lo - 1e-9) and np.all(seg[-1] <= hi + 1e-9)


def test_a_dash_with_no_room_left_is_one_step():
    lo, hi = _region(30.0)
    seg = motion._fast_dash(np.random.default_rng(0), lo[0], lo[0], hi[0], 1, K)
    assert seg.shape == (1, 2)


def test_an_exit_goes_through_the_nearest_border_wholly_or_in_part():
    reach, half_min = 40.0, 20.0
    fulls = set()
    for seed in range(60):
        rng = np.random.default_rng(seed)
        p0 = rng.uniform(reach, FRAME - reach)
        goal, full, side = motion._exit_goal(rng, p0, SIZE, K, reach, half_min)
        fulls.add(full)
        distances = [p0[0], FRAME[0] - p0[0], p0[1], FRAME[1] - p0[1]]
        assert side == int(np.argmin(distances))
        axis = side // 2
        assert goal[1 - axis] == p0[1 - axis]  # straight out across that border
        beyond = -goal[axis] if side % 2 == 0 else goal[axis] - FRAME[axis]  # centre's depth past it
        if full:
            assert beyond - reach >= 4 * K  # the whole target is out, with room to spare
        else:
            assert abs(beyond) <= 0.5 * half_min  # the centre stays near the border: part is in view
    assert fulls == {True, False}


def test_an_excursion_stays_out_a_while_and_comes_back_into_the_safe_region():
    lo, hi = _region(30.0)
    lo, hi = lo[0], hi[0]
    p0 = (lo + hi) / 2
    goal = np.array([-50.0, p0[1]])
    for seed in range(30):
        n = 150
        seg = motion._out_and_back(np.random.default_rng(seed), p0, goal, n, n - 20, K, lo, hi)
        held = np.all(seg == goal, axis=1)
        assert held.any() and np.all(np.diff(np.flatnonzero(held)) == 1)  # one unbroken stay out
        assert np.all(seg[-1] >= lo - 1e-9) and np.all(seg[-1] <= hi + 1e-9)
        assert np.linalg.norm(seg[0] - p0) < np.linalg.norm(goal - p0) / 2  # eased, not a jump


def test_the_gain_starts_at_one_and_stays_within_its_limits():
    for seed in range(30):
        g = motion._global_gain(np.random.default_rng(seed), 150)
        assert g[0] == 1.0
        assert g.min() >= motion._GAIN_LIMITS[0] and g.max() <= motion._GAIN_LIMITS[1]


def test_camera_shake_comes_after_the_lead_in_and_is_visible():
    n = 150
    for seed in range(30):
        shake = np.linalg.norm(motion._camera_shake(np.random.default_rng(seed), n, K), axis=1)
        assert np.all(shake[: int(motion._EVENT_LEAD_IN * n)] == 0)
        assert shake.max() >= 1.0


def test_the_extents_grow_with_the_warp_and_out_of_plane_rotation():
    w, h = np.array([40.0]), np.array([30.0])
    reach, half_min = motion._extents(w, h, 0.0, False)
    assert reach[0] == 25.0 and half_min[0] == 15.0  # half-diagonal, half the short side
    warped, warped_min = motion._extents(w, h, 0.05, True)
    assert warped[0] > reach[0] and warped_min[0] < half_min[0]


def test_each_challenge_draws_from_its_own_stream():
    """Switching challenges on leaves the size, path and background of the others as they were."""
    for split, index in (("eval", 3), ("train", 8)):
        plain = draw_plan(split, 5, index, 60, SIZE, attributes={"FM", "SV"})
        busy = draw_plan(split, 5, index, 60, SIZE, attributes={"FM", "SV", "IPR", "MB", "OCC", "DIS", "IV"})
        for field in ("center", "width", "height"):
            assert np.array_equal(getattr(plain.target, field), getattr(busy.target, field)), field
        assert plain.info["fast_frames"] == busy.info["fast_frames"]
        assert plain.background.name == busy.background.name
        assert np.array_equal(plain.background.window, busy.background.window)
