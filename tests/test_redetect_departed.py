"""Departed or hidden (trackers/adaptive/redetect.py): a target that left the view is searched for over the
frame, one hidden in the interior is not; and the constant-velocity search centre for fast targets."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from redetect_synth import hidden_beside_a_lookalike, leaves_and_returns, walks_behind_a_pole  # noqa: E402
from sdnet_synth import ListFrames, texture  # noqa: E402

from metatrack.data.sequence import Sequence  # noqa: E402
from metatrack.errors import ConfigError  # noqa: E402
from metatrack.evaluation.runner import track_ope  # noqa: E402
from metatrack.geometry import iou  # noqa: E402
from metatrack.trackers import create_tracker  # noqa: E402
from metatrack.trackers.adaptive.redetect import DEPARTED, HIDDEN, LossCounter, RedetectSettings, loss_kind  # noqa: E402
from metatrack.trackers.crest.config import CRESTConfig  # noqa: E402
from metatrack.trackers.sdnet.config import SDNetConfig  # noqa: E402

# one torch thread, as the runs that set these floors (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = (320, 240)
#: the CREST family's member these mechanisms were shown on: the paper's one-step MetaCREST (its failures
#: without them are what the sequences demonstrate; re-detection is off in every MetaCREST's defaults)
CREST_FAMILY = "metacrest-01"


# ---------------------------------------------------------------- the rule
@pytest.mark.parametrize("box, kind", [
    ([0, 100, 30, 30], DEPARTED),       # on the left edge
    ([5, 100, 30, 30], DEPARTED),       # within a quarter of its width of it
    ([150, 214, 30, 30], DEPARTED),     # within a quarter of its height of the bottom
    ([300, 100, 30, 30], DEPARTED),     # over the right edge
    ([20, 100, 30, 30], HIDDEN),        # near, but not within a quarter of its width
    ([140, 100, 30, 30], HIDDEN),       # the interior
])
def test_loss_kind_from_the_last_found_box(box, kind):
    assert loss_kind(np.array(box, float), np.zeros(2), SIZE, 0.25, 5) == kind


def test_loss_kind_follows_the_velocity_out_of_the_view():
    box = np.array([40.0, 100, 30, 30])
    assert loss_kind(box, np.zeros(2), SIZE, 0.25, 5) == HIDDEN
    assert loss_kind(box, np.array([-7.0, 0]), SIZE, 0.25, 5) == DEPARTED  # 5 frames at 7 px: over the edge
    assert loss_kind(box, np.array([7.0, 0]), SIZE, 0.25, 5) == HIDDEN     # moving inwards
    # a box at the edge moving inwards (the box growing back as it re-enters): still at the edge now
    assert loss_kind(np.array([0.0, 100, 20, 30]), np.array([2.0, 0]), SIZE, 0.25, 5) == DEPARTED


def _lost_frames(counter: LossCounter, last: list[float], n: int) -> list[bool]:
    counter.found(1.0, np.array(last, float))
    return [counter.lost(SIZE) for _ in range(n)]


def test_a_departed_loss_searches_after_redetect_after_a_hidden_one_after_redetect_hidden_after():
    s = RedetectSettings(redetect_after=2, redetect_hidden_after=6)
    c = LossCounter(s)
    assert _lost_frames(c, [0, 100, 30, 30], 4) == [False, True, True, True] and c.kind == DEPARTED
    c = LossCounter(s)
    assert _lost_frames(c, [140, 100, 30, 30], 7) == [False] * 5 + [True, True] and c.kind == HIDDEN
    never = LossCounter(RedetectSettings(redetect_after=2, redetect_hidden_after=0))
    assert not any(_lost_frames(never, [140, 100, 30, 30], 40))


def test_a_loss_keeps_its_kind_and_is_counted():
    c = LossCounter(RedetectSettings(redetect_after=2, redetect_hidden_after=3))
    assert _lost_frames(c, [140, 100, 30, 30], 4) == [False, False, True, True] and c.kind == HIDDEN
    c.found(1.0, np.array([0.0, 100, 30, 30]))
    assert [c.lost(SIZE) for _ in range(3)] == [False, True, True] and c.kind == DEPARTED
    assert c.losses == {DEPARTED: 1, HIDDEN: 1} and c.searched == 4  # what bench/redetect_search.py counts


def test_velocity_is_the_mean_displacement_damped_and_restarts_after_a_loss():
    c = LossCounter(RedetectSettings(velocity_damping=0.5, velocity_frames=3))
    for k in range(6):
        c.found(1.0, np.array([10.0 + 4 * k, 50.0 - 2 * k, 20, 20]))
    np.testing.assert_allclose(c.velocity(), [4.0, -2.0])
    np.testing.assert_allclose(c.search_offset(), [2.0, -1.0])
    c.lost(SIZE)
    np.testing.assert_allclose(c.velocity(), [0.0, 0.0])
    c.found(1.0, np.array([0.0, 0, 20, 20]))
    np.testing.assert_allclose(c.velocity(), [0.0, 0.0])  # one frame since the loss: no velocity yet
    c.found()  # a re-detection's jump: no displacement to learn from
    assert len(c.centres) == 0
    assert not LossCounter(RedetectSettings(velocity_damping=0.0)).search_offset().any()


def test_the_default_border_names_a_large_target_below_the_top_edge_hidden():
    """The cyclist of bikes-cyclist-behind-van (real:validation): a 120 px box 49 px below the top edge of a
    272 px frame, its centre moving up 4 px a frame as the box shrinks; the van hides him."""
    s = RedetectSettings(redetect_after=5)
    box, velocity = np.array([415.0, 49, 90, 120]), np.array([0.8, -4.0])
    assert loss_kind(box, velocity, (640, 272), s.redetect_border, s.redetect_after) == HIDDEN
    assert loss_kind(box, velocity, (640, 272), 0.25, s.redetect_after) == DEPARTED  # the first border tried
    assert loss_kind(np.array([0.0, 181, 69, 87]), np.zeros(2), (480, 360), s.redetect_border, 5) == DEPARTED


@pytest.mark.parametrize("config", [SDNetConfig, CRESTConfig])
@pytest.mark.parametrize("bad", [{"redetect_hidden_after": -1}, {"redetect_border": -0.1},
                                 {"velocity_damping": 1.5}, {"velocity_frames": 0}])
def test_bad_settings_are_config_errors_naming_them(config, bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        config.from_dict(bad)


# ---------------------------------------------------------------- the two sequences
#: the wide search on every lost frame at the target's size, any candidate passing the success test (the
#: mechanism itself; MetaSDNet's shipped settings search every 8th frame at stricter acceptance)
WIDE = {"redetect_after": 5, "redetect_interval": 1, "redetect_scales": (1.0,), "redetect_ratio": 0.0}
def _mean_iou(name: str, seq: Sequence, start: int, box=None, **overrides) -> float:
    t = create_tracker(name, **overrides)
    t.seed(0)
    boxes, _ = track_ope(t, seq, [])
    ref = seq.boxes[start:] if box is None else np.tile(np.asarray(box, float), (len(seq) - start, 1))
    return float(np.mean(iou(boxes[start:], ref)))


@pytest.mark.parametrize("name", ["metasdnet", CREST_FAMILY])
@pytest.mark.parametrize("seed", [0, 1])
def test_a_target_that_leaves_at_one_border_is_found_where_it_comes_back(name, seed):
    seq = leaves_and_returns(seed)
    back = 36 + 8 + 10  # ten frames after it came back at the other border
    # re-detection off (MetaCREST's default): it searches only where the target left
    assert _mean_iou(name, seq, back, redetect_after=0) < 0.1
    # departed: the frame is searched. A candidate must reach 0.7 of the running score: with no test of
    # its own (WIDE's ratio 0), or at 0.5 (MetaCREST's own hold test, the same raw running peak),
    # MetaCREST under the whole velocity (velocity_damping 1.0) takes a patch of the background's
    # corner on seed 0 while the target is away, and stays there
    assert _mean_iou(name, seq, back, **{**WIDE, "redetect_ratio": 0.7}) > 0.6
    if name == CREST_FAMILY and seed == 0:
        assert _mean_iou(name, seq, back, **{**WIDE, "redetect_ratio": 0.5}) < 0.1


@pytest.mark.parametrize("name", ["metasdnet", CREST_FAMILY])
@pytest.mark.parametrize("seed", [0, 1])
def test_a_target_hidden_in_the_interior_is_not_swapped_for_a_lookalike_elsewhere(name, seed):
    seq = hidden_beside_a_lookalike(seed)
    back = 20 + 16 + 3  # from three frames after the occluder went
    lookalike = seq.meta["lookalike"]
    # the first version (no difference between the kinds): the wide search takes the look-alike and stays
    # (MetaCREST with its scale filter takes a window over the frame's corner instead, as wrong: the
    # demonstration reads the size from the three scales; docs/results.md, MetaCREST's size)
    old = {"scale_filter": False} if name == CREST_FAMILY else {}
    assert _mean_iou(name, seq, back, lookalike, **WIDE, redetect_hidden_after=5, **old) > 0.6
    # hidden: the family's own search only, and it is on the target when the occluder goes
    assert _mean_iou(name, seq, back, **WIDE) > 0.6
    assert _mean_iou(name, seq, back, lookalike, **WIDE) < 0.1


# ---------------------------------------------------------------- a departed target comes back through an edge
def test_a_departed_loss_admits_candidates_near_an_edge_and_waits_where_the_target_left():
    """redetect_entry: during a departed loss a candidate within that many of its sizes of an edge is
    admitted, one deeper in is not, and the family's own search waits at the last found centre; a hidden
    loss, or the setting at 0, admits anything and does not wait."""
    c = LossCounter(RedetectSettings(redetect_after=2, redetect_entry=1.0))
    _lost_frames(c, [0, 100, 30, 30], 1)
    assert c.kind == DEPARTED
    np.testing.assert_allclose(c.exit_centre(), [15.0, 115.0])
    np.testing.assert_allclose(c.search_centre(), [15.0, 115.0])  # a departed loss: the exit point
    assert c.admits(np.array([25.0, 100, 30, 30]), SIZE)        # 25 px from the left edge: within 30
    assert c.admits(np.array([150.0, 205, 30, 30]), SIZE)       # 5 px from the bottom
    assert not c.admits(np.array([140.0, 100, 30, 30]), SIZE)   # the interior: 100 px from every edge
    assert not c.admits(np.array([35.0, 100, 30, 30]), SIZE)    # 35 px in: more than its size
    hidden = LossCounter(RedetectSettings(redetect_after=2, redetect_entry=1.0))
    _lost_frames(hidden, [140, 100, 30, 30], 1)
    assert hidden.kind == HIDDEN and hidden.exit_centre() is None
    assert hidden.admits(np.array([140.0, 100, 30, 30]), SIZE)
    off = LossCounter(RedetectSettings(redetect_after=2))
    _lost_frames(off, [0, 100, 30, 30], 1)
    assert off.exit_centre() is None and off.admits(np.array([140.0, 100, 30, 30]), SIZE)
    assert off.search_centre() is None
    c.found(1.0, np.array([140.0, 100, 30, 30]))  # found again: the loss is over
    assert c.exit_centre() is None and c.admits(np.array([140.0, 100, 30, 30]), SIZE)
    with pytest.raises(ConfigError, match="redetect_entry"):
        RedetectSettings(redetect_entry=-1.0).validate_redetect()


@pytest.mark.parametrize("name", ["metasdnet", CREST_FAMILY])
@pytest.mark.parametrize("seed", [0, 1])
def test_a_target_away_from_the_view_is_not_swapped_for_a_lookalike_in_the_interior(name, seed):
    """The target leaves over the left edge for 16 frames while a look-alike stands in the middle of the
    frame (embedded:crossing's departures, where MetaSDNet's present held on 0.77 of the absent frames):
    searching anywhere, both families take the look-alike while the target is away and stay on it; with
    redetect_entry the look-alike is never taken and the target is found where it comes back in."""
    seq = leaves_and_returns(seed, gone=16, lookalike=True)
    away, back = slice(36, 52), 36 + 16 + 10
    settings = {**WIDE, "redetect_ratio": 0.7} if name == CREST_FAMILY else WIDE
    t = create_tracker(name, **settings)
    t.seed(0)
    anywhere, _ = track_ope(t, seq, [])
    lookalike = np.tile(np.asarray(seq.meta["lookalike"], float), (16, 1))
    assert np.mean(iou(anywhere[away], lookalike)) > 0.5
    assert np.mean(iou(anywhere[back:], seq.boxes[back:])) < 0.1
    t = create_tracker(name, **settings, redetect_entry=1.0)
    t.seed(0)
    edge, _ = track_ope(t, seq, [])
    assert np.mean(iou(edge[away], lookalike)) < 0.05
    assert np.mean(iou(edge[back:], seq.boxes[back:])) > 0.3


def test_the_running_score_is_the_familys_own_and_tracking_ignores_the_calibration(monkeypatch):
    """The running score that a re-detected candidate's raw score is held against (redetect_ratio) is
    the mean of the found frames' raw scores: it once took the calibrated confidence (a probability near
    1 against MetaSDNet's scores of 3-5, so that 0.8 of it let nearly any positive candidate in), and
    tracking then changed whenever the calibration maps were fitted again."""
    from metatrack.calibration import Calibration

    seq = leaves_and_returns(0, gone=16, lookalike=True)
    runs = {}
    for label, cal in (("shipped", None), ("other map", "steep"), ("none", "none")):
        t = create_tracker("metasdnet")
        if cal == "none":
            monkeypatch.setattr(t, "_calibration", lambda: None)
        elif cal == "steep":
            shipped = t._calibration()
            assert isinstance(shipped, Calibration)
            other = dataclasses.replace(shipped, a=shipped.a * 3, b=shipped.b - 2)
            monkeypatch.setattr(t, "_calibration", lambda other=other: other)
        t.seed(0)
        boxes, _ = track_ope(t, seq, [])
        runs[label] = (boxes, t._loss_counter.reference, t.raw_confidence)
    for label in ("other map", "none"):
        np.testing.assert_array_equal(runs[label][0], runs["shipped"][0])
    reference = runs["none"][1]
    assert reference is not None and reference > 1.5  # raw scores, not a probability


# ---------------------------------------------------------------- walking on behind an occluder
def test_a_hidden_loss_coasts_on_the_velocity_it_had_for_coast_frames():
    c = LossCounter(RedetectSettings(coast_frames=4, velocity_frames=3))
    for k in range(4):  # found, moving 3 px a frame to the right, in the interior
        c.found(1.0, np.array([100.0 + 3 * k, 100, 20, 20]))
    centre = np.array([119.0, 110.0])  # the last found box's centre
    for k in range(1, 7):
        c.lost(SIZE)
        expected = centre + np.array([3.0, 0.0]) * (k + 1) if k <= 4 else None
        got = c.coast_centre()
        assert (got is None) if expected is None else np.allclose(got, expected), (k, got)
        searched = c.search_centre()  # the template's one question: the coasting point of a hidden loss
        assert (searched is None) if expected is None else np.allclose(searched, expected), (k, searched)
    assert c.kind == HIDDEN
    # a departed target does not coast (it is searched for over the frame), nor does one without coast_frames
    for settings, box in ((RedetectSettings(coast_frames=4), [6.0, 100, 20, 20]),   # left at the edge
                          (RedetectSettings(coast_frames=0), [100.0, 100, 20, 20])):
        c = LossCounter(settings)
        for k in range(3):
            c.found(1.0, np.array(box) - [3.0 * k, 0, 0, 0])
        c.lost(SIZE)
        assert c.coast_centre() is None
    with pytest.raises(ConfigError, match="coast_frames"):
        RedetectSettings(coast_frames=-1).validate_redetect()


def test_a_velocity_fast_against_the_box_does_not_coast():
    """coast_speed_limit: a 20 px box found moving 3 px a frame (0.15 of its size) coasts under a
    limit of 0.2 and not under 0.1 (a jump rather than a walk); 0 sets no limit."""
    for limit, coasts in ((0.0, True), (0.2, True), (0.1, False)):
        c = LossCounter(RedetectSettings(coast_frames=4, velocity_frames=3, coast_speed_limit=limit))
        for k in range(4):
            c.found(1.0, np.array([100.0 + 3 * k, 100, 20, 20]))
        c.lost(SIZE)
        assert c.kind == HIDDEN
        assert (c.coast_centre() is not None) == coasts, limit
    with pytest.raises(ConfigError, match="coast_speed_limit"):
        RedetectSettings(coast_speed_limit=-0.1).validate_redetect()


@pytest.mark.parametrize("name", ["metasdnet", CREST_FAMILY])
@pytest.mark.parametrize("seed", [0, 1])
def test_a_target_that_walks_behind_a_pole_is_found_on_its_far_side(name, seed):
    """Wholly hidden for about 10 frames behind a pole 56 px wide: waiting where it went in, a tracker
    never sees it again; searching where its velocity takes it, both families pick it up again. It
    walks 3 px a frame, an eighth of its 24 px side: a speed limit under that (coast_speed_limit
    0.1, the SDNet family's default) takes it for a jump and does not coast."""
    seq = walks_behind_a_pole(seed)
    after = 46  # from five frames after it came out wholly
    assert _mean_iou(name, seq, after, coast_frames=0) < 0.1
    assert _mean_iou(name, seq, after, coast_frames=30, coast_speed_limit=0.0) > 0.6
    assert _mean_iou(name, seq, after, coast_frames=30, coast_speed_limit=0.15) > 0.6
    assert _mean_iou(name, seq, after, coast_frames=30, coast_speed_limit=0.1) < 0.1


@pytest.mark.parametrize("seed", [0, 1])
def test_a_walker_at_a_twelfth_of_its_size_a_frame_coasts_under_the_default_limit(seed):
    """2 px a frame for a 24 px target (a pedestrian's pace against its size) is under MetaSDNet's
    default coast_speed_limit: it is found behind the pole when the hide is within coast_frames."""
    seq = walks_behind_a_pole(seed, speed=2)
    after = len(seq) - 20
    assert create_tracker("metasdnet").config.coast_speed_limit == 0.1
    assert _mean_iou("metasdnet", seq, after, coast_frames=30) > 0.6
    assert _mean_iou("metasdnet", seq, after, coast_frames=0) < 0.1


# ---------------------------------------------------------------- fast motion
def crossing(seed: int, speed: int, side: int = 24, size: tuple[int, int] = (640, 200)) -> Sequence:
    """A textured square crossing the frame at ``speed`` px a frame (two thirds of its side and more)."""
    rng = np.random.default_rng(seed)
    w, h = size
    background = (texture(rng, h, w, 5) * 0.3 + 60).astype(np.uint8)
    target = texture(rng, side, side, 6)
    frames, boxes = [], []
    for i in range((w - side - 10) // speed + 1):
        x, y = 10 + speed * i, 80 + (i % 3)
        frame = background.copy()
        frame[y:y + side, x:x + side] = target
        frames.append(frame)
        boxes.append([x, y, side, side])
    return Sequence("crossing", ListFrames(frames), np.array(boxes, dtype=np.float64))


@pytest.mark.parametrize("seed", [0, 1])
def test_the_velocity_keeps_a_fast_target_in_metasdnets_candidates(seed):
    """The velocity under pyMDNet's success test (meta_success_ratio 0). Its price under MetaSDNet's
    default test (half the running score): on seed 0 one weak frame of the fast square is a loss, the
    velocity starts again after it and the square is left behind (docs/results.md, a positive score
    far under the running score is a failure)."""
    seq = crossing(seed, 16)  # 16 px a frame: two thirds of the target's side
    pymdnet = {"redetect_after": 0, "meta_success_ratio": 0.0}
    # candidates around the last box (without coasting after the loss): left behind
    assert _mean_iou("metasdnet", seq, 1, coast_frames=0, **pymdnet) < 0.2
    assert _mean_iou("metasdnet", seq, 1, velocity_damping=0.5, **pymdnet) > 0.7
    if seed == 0:
        assert _mean_iou("metasdnet", seq, 1, redetect_after=0, velocity_damping=0.5) < 0.2


@pytest.mark.parametrize("name", ["metasdnet", CREST_FAMILY])
def test_the_search_centre_moves_on_by_the_damped_velocity(name):
    seq = crossing(0, 4)
    t = create_tracker(name, velocity_damping=0.5)
    t.seed(0)
    t.init(seq.frame(0), seq.boxes[0])
    moves = []
    shift = t._shift_search

    def recorded(offset, size):
        before = t.crop_square(seq.frame(0))
        shift(offset, size)
        after = t.crop_square(seq.frame(0))
        moves.append((np.asarray(offset), np.array([after.cx - before.cx, after.cy - before.cy]),
                      0.5 * t._loss_counter.velocity()))

    t._shift_search = recorded
    for i in range(1, 8):
        t.update(seq.frame(i))
    assert len(moves) >= 5  # every found frame after the second (the first has no displacement yet)
    for offset, moved, expected in moves:
        np.testing.assert_allclose(offset, expected, atol=1e-9)  # half the mean displacement
        np.testing.assert_allclose(moved, offset, atol=1e-6)     # the next crop moved by it
    assert moves[-1][0][0] > 1.0  # moving right at about 4 px a frame
