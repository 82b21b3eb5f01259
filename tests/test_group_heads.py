"""Several SDNet targets' head work done together (TrackerGroup's ``heads``, sdnet/batched.py): the
boxes, heads, optimizer state and random generators of each target are those of its single run to
the bit, the batched path is really taken (counted calls: a silent fall-back fails here), and a
group mixing families runs each of the others as alone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from metatrack.trackers.adaptive import AdaptiveTracker, TrackerGroup
from metatrack.trackers.sdnet import batched
from metatrack.trackers.sdnet.config import SDNetConfig
from metatrack.trackers.sdnet.head import SDNetHead
from metatrack.trackers.sdnet.online import make_optimizer, train_head
from metatrack.tracking import create_trackers, tracker_group

BOXES = [(40, 40, 36, 30), (230, 50, 30, 40), (130, 150, 40, 36)]


def scene(frames: int, blank: tuple[int, ...] = (), seed: int = 0) -> list[np.ndarray]:
    """Three textured patches gliding apart over a textured 320x240 background (RGB); the frames in
    ``blank`` flat grey (every tracker fails there and takes the short-term update)."""
    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.integers(40, 160, (240, 320, 3), dtype=np.uint8), (0, 0), 3)
    patches = [cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 1) for _, _, w, h in BOXES]
    images = []
    for i in range(frames):
        img = background.copy()
        for k, ((x, y, w, h), patch) in enumerate(zip(BOXES, patches, strict=True)):
            x, y = x + (2 + k) * i // 2, y + i // 2
            img[y:y + h, x:x + w] = patch
        images.append(np.full_like(img, 100) if i in blank else img)
    return images


@pytest.fixture
def counted(monkeypatch) -> dict[str, list[int]]:
    """Count the batched parts: ``finish`` (targets per ``_finish_many`` call), ``train`` (jobs per
    ``train_many`` call), ``score`` (heads per ``score_many`` call)."""
    seen: dict[str, list[int]] = {"finish": [], "train": [], "score": []}
    from metatrack.trackers.sdnet.tracker import _SDNetTracker

    finish, train, score = _SDNetTracker._finish_many.__func__, batched.train_many, batched.score_many

    def counted_finish(cls, image, trackers, requests, features):
        seen["finish"].append(len(trackers))
        return finish(cls, image, trackers, requests, features)

    def counted_train(jobs, iterations, cfg):
        seen["train"].append(len(jobs))
        return train(jobs, iterations, cfg)

    def counted_score(heads, feats, kind):
        seen["score"].append(len(heads))
        return score(heads, feats, kind)

    monkeypatch.setattr(_SDNetTracker, "_finish_many", classmethod(counted_finish))
    monkeypatch.setattr(batched, "train_many", counted_train)
    monkeypatch.setattr(batched, "score_many", counted_score)
    return seen


def run(trackers, frames, group: TrackerGroup | None) -> np.ndarray:
    boxes = [[np.array(b, float) for b in BOXES[:len(trackers)]]]
    if group is None:
        for trk, box in zip(trackers, boxes[0], strict=True):
            trk.init(frames[0], box.copy())
    else:
        group.init(frames[0], [b.copy() for b in boxes[0]])
    for image in frames[1:]:
        found = group.update(image) if group is not None else [t.update(image) for t in trackers]
        boxes.append([np.asarray(b, dtype=np.float64) for b in found])
    return np.array(boxes)


def assert_same_state(a, b) -> None:
    """Heads, momentum buffers and generators equal to the bit."""
    for p, q in zip(a.head.parameters(), b.head.parameters(), strict=True):
        assert torch.equal(p, q)
    for p, q in zip(a.head.parameters(), b.head.parameters(), strict=True):
        ma = a.update_optimizer.state.get(p, {}).get("momentum_buffer")
        mb = b.update_optimizer.state.get(q, {}).get("momentum_buffer")
        assert (ma is None) == (mb is None) and (ma is None or torch.equal(ma, mb))
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


@pytest.mark.parametrize("tracker", ["metasdnet", "metasdnet-features"])
def test_heads_together_give_each_target_its_single_run_to_the_bit(one_thread, counted, tracker):
    frames = scene(13, blank=(5,))  # a long-term update on frame 10; the blank frame: short-term updates
    alone = create_trackers(tracker, 3, seed=1)
    expected = run(alone, frames, None)
    members = create_trackers(tracker, 3, seed=1)
    group = TrackerGroup(members, batch=False, merge=False, heads=True)
    found = run(members, frames, group)
    assert np.array_equal(found, expected)
    for a, b in zip(alone, members, strict=True):
        assert_same_state(a, b)
    later = len(frames) - 1
    assert counted["finish"] == [3] * later and group.profile["together"] == later
    assert counted["score"] == [3] * later
    assert 3 in counted["train"] and len(counted["train"]) >= 2  # the short-term and the long-term updates
    assert all(t.profile["frames"] == later for t in members)


def test_re_detection_after_heads_together_searches_as_alone(one_thread, counted):
    frames = scene(16, blank=tuple(range(6, 12)))  # every target lost for six frames, then back
    settings = {"redetect_after": 3, "redetect_hidden_after": 3}
    alone = create_trackers("metasdnet", 3, seed=0, **settings)
    expected = run(alone, frames, None)
    members = create_trackers("metasdnet", 3, seed=0, **settings)
    found = run(members, frames, TrackerGroup(members, batch=False, merge=False))
    assert np.array_equal(found, expected)
    for a, b in zip(alone, members, strict=True):
        assert_same_state(a, b)
        assert a._loss_counter.searched == b._loss_counter.searched > 0  # the wider search ran, in both
    assert counted["finish"] == [3] * (len(frames) - 1)


def test_heads_together_on_top_of_a_shared_crop_change_nothing(one_thread, counted):
    frames = scene(6)
    near = [create_trackers("metasdnet", 2, seed=0) for _ in range(2)]
    groups = [TrackerGroup(ts, batch=False, merge=True, heads=h) for ts, h in zip(near, (False, True), strict=True)]
    boxes = []
    for g in groups:
        g.init(frames[0], [np.array((100, 100, 36, 30), float), np.array((130, 104, 36, 30), float)])
        boxes.append(np.array([g.update(f) for f in frames[1:]]))
        assert g.profile["merged"] == 2 * (len(frames) - 1)  # the two share one crop every frame
    assert np.array_equal(boxes[0], boxes[1])
    assert counted["finish"] == [2] * (len(frames) - 1)


def test_a_mixed_group_runs_the_sdnet_pair_together_and_the_others_alone(one_thread, counted):
    frames = scene(5)
    names = ["metasdnet", "metacrest", "opencv-kcf", "metasdnet"]

    def make():
        return [create_trackers(n, 1, seed=0)[0] for n in names]

    alone = make()
    boxes0 = [np.array(b, float) for b in [BOXES[0], BOXES[1], BOXES[2], BOXES[2]]]
    for trk, box in zip(alone, boxes0, strict=True):
        trk.init(frames[0], box.copy())
    expected = np.array([[np.asarray(t.update(f), float) for t in alone] for f in frames[1:]])
    members = make()
    group = tracker_group(members, merge=False)  # the default: heads together, nothing merged, no batching
    assert isinstance(group, TrackerGroup) and group.heads and not group.merge and not group.batch
    group.init(frames[0], [b.copy() for b in boxes0])
    found = np.array([[np.asarray(b, float) for b in group.update(f)] for f in frames[1:]])
    assert np.array_equal(found, expected)
    assert counted["finish"] == [2] * (len(frames) - 1)  # the two MetaSDNet targets, not the others
    assert group.profile["heads"] == 2 * (len(frames) - 1)


def test_sdnet_n_and_metasdnet_score_together_and_update_with_their_own_kind(one_thread, counted):
    frames = scene(12)  # every target's long-term update on frame 10
    names = ["sdnet-05", "metasdnet", "sdnet-05"]

    def make():
        return [create_trackers(n, 1, seed=2)[0] for n in names]

    alone, members = make(), make()
    expected = run(alone, frames, None)
    found = run(members, frames, TrackerGroup(members, batch=False, merge=False))
    assert np.array_equal(found, expected)
    for a, b in zip(alone, members, strict=True):
        assert_same_state(a, b)
    assert counted["finish"] == [3] * (len(frames) - 1)  # one head key for both kinds
    # their learning rates differ: SDNet-N's pair updates together, MetaSDNet never with them
    assert counted["train"] and set(counted["train"]) == {2}


def test_metatrack_track_and_track_many_run_heads_together(one_thread, counted, tmp_path, capsys):
    from metatrack.cli import main

    frames = scene(5)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, image in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:04d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    boxes = ["40,40,36,30", "230,50,30,40"]
    assert main(["track", str(folder), "--box", boxes[0], "--box", boxes[1], "--tracker", "metasdnet",
                 "--boxes", str(tmp_path / "boxes.txt"), "--no-progress"]) == 0
    assert counted["finish"] == [2] * (len(frames) - 1)
    counted["finish"].clear()
    import metatrack

    steps = list(metatrack.track_many(frames, [(40, 40, 36, 30), (230, 50, 30, 40)], tracker="metasdnet"))
    assert len(steps) == len(frames) and counted["finish"] == [2] * (len(frames) - 1)
    counted["finish"].clear()
    list(metatrack.track_many(frames, [(40, 40, 36, 30), (230, 50, 30, 40)], tracker="metasdnet", shared=False))
    assert counted["finish"] == []  # shared=False: single runs


def test_heads_follow_the_users_switches(one_thread):
    trackers = create_trackers("metasdnet", 2)
    assert tracker_group(trackers, batch=False) is None  # shared=False: every target a single run
    assert tracker_group(trackers, batch=False, merge=False) is None
    assert tracker_group(trackers, merge=False, heads=False) is None  # the CPU default does not batch
    group = tracker_group(trackers, merge=False)
    assert group is not None and group.heads and group.active
    assert tracker_group(create_trackers("metacrest", 2), merge=False) is None  # no hook: nothing to share
    assert AdaptiveTracker.head_batch_key(trackers[0]) is None  # the template's default: alone


# ------------------------------------------------------------------ the batched update itself


def _jobs(cfg: SDNetConfig, poison: int | None = None, adam: int | None = None) -> list[batched.UpdateJob]:
    """Three heads of different seeds, each with its own samples, optimizer and generator; job
    ``poison``'s positives hold a NaN (its update diverges)."""
    jobs = []
    for k in range(3):
        torch.manual_seed(10 + k)
        head = SDNetHead(24, 16)
        gen = torch.Generator().manual_seed(k)
        pos = torch.randn(40 + 7 * k, 24, generator=gen) + 1
        neg = torch.randn(300 + 50 * k, 24, generator=gen)
        if k == poison:
            pos[3, 5] = float("nan")
        opt = (torch.optim.Adam(head.parameters(), lr=1e-3) if k == adam else make_optimizer(head, 0.01, cfg))
        jobs.append(batched.UpdateJob(head, opt, pos, neg, np.random.default_rng(k)))
    return jobs


@pytest.mark.parametrize("poison", [None, 1])
def test_train_many_equals_train_head_per_target(one_thread, poison):
    cfg = SDNetConfig(batch_pos=8, batch_neg=24, batch_neg_cand=64)
    ours, theirs = _jobs(cfg, poison), _jobs(cfg, poison)
    for _ in range(2):  # the second round starts from momentum buffers
        losses = batched.train_many(ours, 5, cfg)
        for k, job in enumerate(theirs):
            loss = train_head(job.head, job.optimizer, job.pos, job.neg, 5, cfg, job.rng)
            assert np.isnan(loss) == np.isnan(losses[k])
    for a, b in zip(ours, theirs, strict=True):
        for p, q in zip(a.head.parameters(), b.head.parameters(), strict=True):
            assert torch.equal(p, q)
            sa, sb = a.optimizer.state.get(p, {}), b.optimizer.state.get(q, {})
            assert sa.keys() == sb.keys() and all(torch.equal(sa[n], sb[n]) for n in sa)
        assert a.rng.bit_generator.state == b.rng.bit_generator.state
    if poison is not None:  # the diverged head went back to where it started, momentum forgotten
        assert not ours[poison].optimizer.state


def test_only_plain_sgd_jobs_train_together():
    cfg = SDNetConfig()
    jobs = _jobs(cfg, adam=2)
    keys = [batched.update_key(j, 15, cfg) for j in jobs]
    assert keys[0] == keys[1] is not None and keys[2] is None
    assert batched.update_key(jobs[0], 15, cfg) != batched.update_key(jobs[0], 5, cfg)
