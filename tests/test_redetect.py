"""Re-detection after a loss (trackers/adaptive/redetect.py): the mechanism, and the failure it fixes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from redetect_synth import comes_back_elsewhere  # noqa: E402
from sdnet_synth import square_sequence  # noqa: E402

from metatrack.errors import ConfigError  # noqa: E402
from metatrack.evaluation.runner import track_ope  # noqa: E402
from metatrack.geometry import iou  # noqa: E402
from metatrack.trackers import create_tracker  # noqa: E402
from metatrack.trackers.adaptive.redetect import LossCounter, RedetectSettings, grid_centres  # noqa: E402
from metatrack.trackers.crest.config import CRESTConfig  # noqa: E402
from metatrack.trackers.sdnet.config import SDNetConfig  # noqa: E402

# one torch thread, as the runs that set these floors: the re-detected target's boxes
# depend on a convolution's summation order (metacrest, sequence seed 1, strict acceptance: 0.79 on one
# thread, 0.54 on two)
pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def test_grid_covers_the_frame_nearest_first_without_the_searched_window():
    centre, side, size, stride = np.array([50.0, 60.0]), 80.0, (320, 240), 0.5
    pts = grid_centres(centre, side, size, stride)
    assert not np.any(np.all(np.isclose(pts, centre), axis=1))  # the window just searched is left out
    d = np.hypot(*(pts - centre).T)
    assert np.all(np.diff(d) >= -1e-9)
    allc = np.vstack([centre, pts])
    rng = np.random.default_rng(0)
    probe = rng.uniform([0, 0], size, (500, 2))
    # every point of the frame lies within half a grid step of some window's centre (both axes)
    reach = np.abs(probe[:, None, :] - allc[None]).max(axis=2).min(axis=1)
    assert reach.max() <= stride * side / 2 + 1e-6


def test_loss_counter_searches_after_k_frames_every_interval_and_resets():
    c = LossCounter(RedetectSettings(redetect_after=3, redetect_interval=2))
    assert [c.lost() for _ in range(7)] == [False, False, True, False, True, False, True]
    c.found()
    assert [c.lost() for _ in range(3)] == [False, False, True]
    off = LossCounter(RedetectSettings(redetect_after=0))
    assert not any(off.lost() for _ in range(20))


def test_loss_counter_sweeps_the_whole_grid_over_its_tries():
    c = LossCounter(RedetectSettings(redetect_after=1, redetect_crops=4))
    grid = np.arange(22, dtype=float).reshape(11, 2)
    seen = set()
    for _ in range(3):
        seen.update(map(tuple, c.next_centres(grid)))
        c.tries += 1
    assert len(seen) == 11


def test_redetect_reach_takes_candidates_near_where_the_target_was_lost_only():
    """A 20x20 target last found at (110, 110), walking 4 px a frame: with reach 2 a candidate may be
    2 x (20 + 4 x frames lost) px away, so a look-alike 60 px off is refused on the loss's first
    frame and taken after 10; the windows searched are the ones that can hold such a candidate."""
    c = LossCounter(RedetectSettings(redetect_after=1, redetect_reach=2.0))
    c.found(1.0, np.array([96.0, 100.0, 20.0, 20.0]))
    c.found(1.0, np.array([100.0, 100.0, 20.0, 20.0]))
    c.lost((640, 480))
    assert c.reach() == pytest.approx(2.0 * (20.0 + 4.0))
    near, far = np.array([130.0, 100.0, 20.0, 20.0]), np.array([160.0, 100.0, 20.0, 20.0])
    assert c.admits(near, (640, 480)) and not c.admits(far, (640, 480))
    grid = np.array([[110.0, 160.0], [110.0, 400.0], [600.0, 110.0]])
    assert np.array_equal(c.reachable(grid, 40.0), grid[:1])  # 50 px away: within 48 + 40 / sqrt 2
    for _ in range(9):
        c.lost((640, 480))
    assert c.admits(far, (640, 480))  # 2 x (20 + 40) = 120 px after 10 frames
    anywhere = LossCounter(RedetectSettings(redetect_after=1))
    anywhere.found(1.0, np.array([100.0, 100.0, 20.0, 20.0]))
    anywhere.lost((640, 480))
    assert anywhere.reach() is None and anywhere.admits(np.array([600.0, 400.0, 20.0, 20.0]), (640, 480))
    assert len(anywhere.reachable(grid, 40.0)) == 3


def test_redetect_predict_names_where_a_hidden_target_has_walked_by_now():
    """A hidden loss (interior) of a target walking 4 px a frame right: the predicted centre moves on 4 px a
    frame from the last found centre; a departed loss (at the border) and the setting off predict nothing."""
    c = LossCounter(RedetectSettings(redetect_after=1, redetect_predict=True))
    c.found(1.0, np.array([296.0, 200.0, 20.0, 20.0]))
    c.found(1.0, np.array([300.0, 200.0, 20.0, 20.0]))
    for _ in range(3):
        c.lost((640, 480))
    np.testing.assert_allclose(c.predicted_centre(), [310.0 + 4 * 3, 210.0])
    c.found(1.0, np.array([0.0, 200.0, 20.0, 20.0]))
    c.lost((640, 480))
    assert c.kind == "departed" and c.predicted_centre() is None
    off = LossCounter(RedetectSettings(redetect_after=1))
    off.found(1.0, np.array([296.0, 200.0, 20.0, 20.0]))
    off.found(1.0, np.array([300.0, 200.0, 20.0, 20.0]))
    off.lost((640, 480))
    assert off.predicted_centre() is None


@pytest.mark.parametrize("config", [SDNetConfig, CRESTConfig])
@pytest.mark.parametrize("bad", [{"redetect_after": -1}, {"redetect_interval": 0}, {"redetect_crops": 0},
                                 {"redetect_stride": 0.0}, {"redetect_stride": 1.5}, {"redetect_scales": [1.0, -0.5]},
                                 {"redetect_ratio": 1.5}, {"redetect_reach": -1.0}])
def test_bad_settings_are_config_errors_naming_them(config, bad):
    with pytest.raises(ConfigError, match="redetect"):
        config.from_dict(bad)


def test_settings_read_from_yaml_lists():
    assert SDNetConfig.from_dict({"redetect_scales": [1, 0.6]}).redetect_scales == (1.0, 0.6)


@pytest.mark.parametrize("name", ["metasdnet", "metacrest"])
def test_no_extra_backbone_pass_while_the_target_is_found(name):
    seq = square_sequence(n=12, size=(160, 120), side=24)
    t = create_tracker(name, redetect_after=1)
    calls = []
    inner = t.crop_features
    t.crop_features = lambda crops: calls.append(len(crops)) or inner(crops)
    t.seed(0)
    track_ope(t, seq, [])
    found_every_frame = t._loss_counter.tries == 0
    assert found_every_frame and calls == [1] * len(seq)


# ---------------------------------------------------------------- the failure mode it fixes
# The validation composites' largest cause of never recovering: the target leaves the view and comes
# back elsewhere (docs/results.md, "Where the meta-trackers fail on real footage"). Without
# re-detection the meta-trackers search only around where they lost it and never
# find it again; with re-detection on they do. The target of
# this sequence vanishes in the frame's interior (a "hidden" loss, redetect.loss_kind): these tests
# search the frame for it after as many frames as for a departure (redetect_hidden_after =
# redetect_after), the grid search itself; tests/test_redetect_departed.py has a real departure.

def _after_return(name: str, seed: int, **overrides) -> float:
    """Mean IoU from ten frames after the target came back. The search stays centred where the target
    was last found (velocity_damping 0, coast_frames 0: a coasting centre moves the grid's anchor, and
    the sweep of this hidden loss, searched wide here, never reaches the far side; the SDNet family's
    hidden losses are not searched wide by default). With MetaCREST's velocity default the strict acceptance
    (redetect_ratio 0.8) refuses the returning target of seed 1's sequence (IoU 0.0; 0.79 without the
    velocity). The shipped MetaCREST (the velocity, a search every 4th lost frame at 0.9 of the running
    score: docs/results.md, a hidden target walks on) finds it on neither seed (IoU 0.0, measured
    2026-12-07): the returning target answers under 0.7 of the running score, and with no share (0) the
    same search takes it (IoU 0.77 and 0.95). Its bar was chosen for look-alikes in view while the target
    is away (crossing's absent frames), at this cost; since 2026-12-07 05:32 UTC its reach (redetect_reach
    1.5) also refuses a target that comes back this far from where it vanished, by design."""
    seq = comes_back_elsewhere(seed)
    overrides.setdefault("velocity_damping", 0.0)
    overrides.setdefault("coast_frames", 0)
    # the mechanism on every lost frame with no share unless a test names one (the default MetaCREST
    # searches every 4th lost frame at 0.9 of the running score: tests/test_crest_hidden_search.py)
    overrides.setdefault("redetect_interval", 1)
    overrides.setdefault("redetect_ratio", 0.0)
    # anywhere in the frame (MetaCREST's default takes a candidate only near where the target was lost)
    overrides.setdefault("redetect_reach", 0.0)
    t = create_tracker(name, **overrides)
    t.seed(0)
    boxes, _ = track_ope(t, seq, [])
    back = 20 + 8 + 10  # ten frames after it came back
    return float(np.mean(iou(boxes[back:], seq.boxes[back:])))


# the share of the running score of found frames that still takes the returning target: 0.8 for all
# but the default MetaCREST on seed 0's sequence, which since its first filter is kept to the target's
# box (2026-12-06) answers the returning target at 0.5-0.6 of its running score (measured: taken at 0.5,
# refused at 0.6); the closed form with its rim took it at 0.8
STRICT_SHARE = {("metasdnet", 0): 0.8, ("metasdnet", 1): 0.8, ("metacrest", 0): 0.5, ("metacrest", 1): 0.8}


@pytest.mark.parametrize("name", ["metasdnet", "metacrest"])
@pytest.mark.parametrize("seed", [0, 1])
def test_redetection_finds_a_target_that_comes_back_elsewhere(name, seed):
    assert _after_return(name, seed, redetect_after=0) < 0.1  # re-detection off: searching only where it was
    assert _after_return(name, seed, redetect_after=5, redetect_hidden_after=5) > 0.6
    # a stricter acceptance (a share of the running score of found frames) still takes the target
    share = STRICT_SHARE[name, seed]
    assert _after_return(name, seed, redetect_after=5, redetect_hidden_after=5, redetect_ratio=share) > 0.6
    if share < 0.8:  # and the strictest refuses it: the share is a real bound, not slack
        assert _after_return(name, seed, redetect_after=5, redetect_hidden_after=5, redetect_ratio=0.8) < 0.1


def test_redetect_ratio_refuses_a_candidate_below_its_share_of_the_running_score():
    c = LossCounter(RedetectSettings(redetect_after=1, redetect_ratio=0.8))
    assert c.passes(0.1)  # no found frame yet: the family's own test decides
    for score in (2.0, 2.0, 2.0):
        c.found(score)
    assert c.passes(1.7) and not c.passes(1.5)
    assert LossCounter(RedetectSettings(redetect_after=1)).passes(-5.0)  # ratio 0: off


@pytest.mark.parametrize("name", ["metasdnet", "metacrest"])
def test_nothing_passes_while_the_target_is_away(name):
    """While the target is gone the wider search runs but takes no candidate: the box stays near where
    the target left (left third of the frame), it does not jump to the background."""
    seq = comes_back_elsewhere(0)
    t = create_tracker(name, redetect_after=2, redetect_hidden_after=2)
    t.seed(0)
    t.init(seq.frame(0), seq.boxes[0])
    for i in range(1, 28):  # up to the last frame without the target
        box = t.update(seq.frame(i))
    assert t._loss_counter.tries > 0
    assert box[0] + box[2] / 2 < 320 / 3
