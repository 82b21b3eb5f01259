"""MetaCREST searches around a hidden target's hold (redetect_hidden_after): a target that walks on behind
a static occluder comes out where the held window's cosine window no longer lets the filter answer it
(the hold traced on embedded:crossing's crossing_007 and crossing_008, docs/results.md; on those two the
search itself took look-alikes, traced later with bench/redetect_candidates.py: the drawn scenes here
keep what the search must do and what it must refuse)."""

import sys
from pathlib import Path

import numpy as np
from test_crest_tracker import faint_scene, paler

from metatrack.geometry import iou
from metatrack.trackers import create_tracker
from metatrack.trackers.crest import METACREST_SETTINGS


def behind_a_wall(n, wall_right, copy=False, size=(320, 200), wh=(20, 44), step=2, seed=0, copy_at=(200, 30),
                  brighter=40):
    """A textured target walking right on a faint background behind a grey wall (x 120 to ``wall_right``);
    with ``copy``, a copy of the target ``brighter`` grey levels paler standing in view at ``copy_at``."""
    bg, obj = faint_scene(size, wh, seed)
    look_alike = paler(obj, brighter) if copy else None
    frames, boxes = [], []
    for i in range(n):
        x = 50 + step * i
        f = bg.copy()
        f[80:80 + wh[1], x:x + wh[0]] = obj
        f[60:150, 120:wall_right] = 150  # the wall, in front
        if look_alike is not None:
            f[copy_at[1]:copy_at[1] + wh[1], copy_at[0]:copy_at[0] + wh[0]] = look_alike
        frames.append(f)
        boxes.append([x, 80, wh[0], wh[1]])
    return frames, np.array(boxes, dtype=float)


def walk_behind_a_wall():
    """Hidden from about frame 30 to frame 70, then in view again 80-140 px from where it went in."""
    return behind_a_wall(100, 200)


def ends(**settings) -> float:
    """Mean IoU over the last 10 frames."""
    frames, boxes = walk_behind_a_wall()
    t = create_tracker("metacrest", **settings)
    t.init(frames[0], boxes[0])
    tracked = np.array([boxes[0]] + [t.update(f) for f in frames[1:]])
    return float(iou(tracked[-10:], boxes[-10:]).mean())


def test_a_target_that_walked_on_behind_a_wall_is_found_again():
    assert ends(redetect_after=0) < 0.2  # the hold waits where the target went in
    assert ends() > 0.6  # the default searches around the hold after 10 hidden frames
    assert METACREST_SETTINGS["redetect_hidden_after"] == create_tracker("metacrest").config.redetect_hidden_after


def test_only_the_hidden_search_finds_it():
    """The loss starts in the frame's interior (hidden, not departed): the search for a departed target
    alone never runs."""
    assert ends(redetect_hidden_after=0) < 0.2


def hidden_for_good_beside_a_copy():
    """The target walks behind a wall that reaches the frame's right edge and stays there; a paler copy
    of it stands in view above the wall."""
    return behind_a_wall(80, 320, copy=True)


def test_a_look_alike_in_view_while_the_target_stays_hidden_is_refused_at_the_defaults_bar():
    """Why the bar is 0.9 of the running score (chosen on embedded:crossing's absent frames): at 0.7 the
    search takes the copy and reports it found; at 0.9 the tracker stays lost where the target went in."""
    frames, boxes = hidden_for_good_beside_a_copy()
    for ratio, takes_copy in ((0.7, True), (None, False)):
        t = create_tracker("metacrest", **({} if ratio is None else {"redetect_ratio": ratio}))
        t.init(frames[0], boxes[0])
        last = [t.update(f) for f in frames[1:]][-1]
        on_copy = bool(np.all(np.abs(last[:2] - np.array([200.0, 30.0])) < 15))
        assert on_copy == takes_copy and t.target_found == takes_copy


def test_a_look_alike_far_from_where_the_target_hid_is_refused_within_reach():
    """redetect_reach: the target hides behind a wall for good while a copy as strong as it stands in
    view 340 px away (below the wall's far end); the search takes it, unless a candidate must lie
    within 1.5 x (the target's size + the distance it walks at its speed) of where it went in. The
    target that does come out beside the wall is still found within that reach."""
    frames, boxes = behind_a_wall(80, 480, copy=True, size=(480, 300), copy_at=(400, 240), brighter=0)
    for reach, takes_copy in ((0.0, True), (1.5, False)):
        t = create_tracker("metacrest", redetect_reach=reach)
        t.init(frames[0], boxes[0])
        last = [t.update(f) for f in frames[1:]][-1]
        on_copy = bool(np.all(np.abs(last[:2] - np.array([400.0, 240.0])) < 15))
        assert on_copy == takes_copy and t.target_found == takes_copy
    assert ends(redetect_reach=1.5) > 0.6


def test_the_candidate_trace_shows_the_far_copy_the_search_meets():
    """bench/redetect_candidates.py on the scene above: the search's first candidate is the copy (IoU 0,
    far from where the target went in, the target itself near there), admitted without a reach; within
    one, nothing that far is admitted (its windows are not even searched)."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    from redetect_candidates import trace_sequence

    frames, boxes = behind_a_wall(80, 480, copy=True, size=(480, 300), copy_at=(400, 240), brighter=0)
    seq = type("Drawn", (), {"name": "far-copy", "boxes": boxes, "frame": lambda self, i: frames[i],
                             "__len__": lambda self: len(frames)})()
    first = trace_sequence("metacrest", {"redetect_reach": 0.0}, seq)[0]
    assert first["iou"] == 0.0 and first["distance"] > 5 and first["target_distance"] < 3 and first["admitted"]
    within = trace_sequence("metacrest", {"redetect_reach": 1.5}, seq)
    assert not any(row["admitted"] and row["distance"] > 5 for row in within)


def walked_on_beside_a_far_copy():
    """The target walks behind the wall and out on its far side (as :func:`walk_behind_a_wall`) while a
    copy as strong as it stands in view 340 px away (480 x 300 frames)."""
    return behind_a_wall(100, 200, copy=True, size=(480, 300), copy_at=(400, 240), brighter=0)


def test_a_target_that_walked_on_is_found_where_its_velocity_takes_it_not_on_a_far_copy():
    """MetaCREST's default (redetect_predict with redetect_reach 1.5): the grid search alone (the default
    before 2026-12-07 05:32 UTC) takes the copy while the target is still behind the wall; within the
    reach it is refused, and the window centred where the target's velocity has taken it finds the
    target as it comes out (traced on embedded:crossing's crossing_007: found at frame 109, IoU 0.96,
    where the grid search had followed a copy since frame 73)."""
    frames, boxes = walked_on_beside_a_far_copy()

    def last_ten(**settings) -> float:
        t = create_tracker("metacrest", **settings)
        t.init(frames[0], boxes[0])
        tracked = np.array([boxes[0]] + [t.update(f) for f in frames[1:]])
        return float(iou(tracked[-10:], boxes[-10:]).mean())

    assert last_ten(redetect_predict=False, redetect_reach=0.0) < 0.2
    assert last_ten() > 0.6
    assert create_tracker("metacrest").config.redetect_reach == METACREST_SETTINGS["redetect_reach"] == 1.5
