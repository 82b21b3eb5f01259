"""MetaCREST searches around a hidden target's hold (redetect_hidden_after): a target that walks on behind
a static occluder comes out where the held window's cosine window no longer lets the filter answer it
(traced on embedded:crossing's crossing_007 and crossing_008, docs/results.md)."""

import numpy as np
from test_crest_tracker import faint_scene, paler

from metatrack.geometry import iou
from metatrack.trackers import create_tracker
from metatrack.trackers.crest import METACREST_SETTINGS


def behind_a_wall(n, wall_right, copy=False, size=(320, 200), wh=(20, 44), step=2, seed=0):
    """A textured target walking right on a faint background behind a grey wall (x 120 to ``wall_right``);
    with ``copy``, a paler copy of the target standing in view above the wall at (200, 30)."""
    bg, obj = faint_scene(size, wh, seed)
    look_alike = paler(obj, 40) if copy else None
    frames, boxes = [], []
    for i in range(n):
        x = 50 + step * i
        f = bg.copy()
        f[80:80 + wh[1], x:x + wh[0]] = obj
        f[60:150, 120:wall_right] = 150  # the wall, in front
        if look_alike is not None:
            f[30:30 + wh[1], 200:200 + wh[0]] = look_alike
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
