"""The reset-based ("baseline") experiment for TraX trackers in vot-toolkit 0.9.0: an adapter class.

This file runs inside the VOT toolkit's own environment (``.vot-venv``, ``scripts/vot_toolkit_venv.sh``),
never in metatrack's: metatrack does not import it. ``metatrack vot-workspace`` copies it into every
workspace as ``metatrack_vot_experiments.py``; the workspace's ``stack.yaml`` names
``metatrack_vot_experiments.ResetExperiment`` and the toolkit loads it from ``PYTHONPATH=WORKSPACE``.
It is metatrack's own code (MIT), which uses the toolkit's public classes and copies none of its code.

Why it exists: in vot-toolkit 0.9.0 the stock ``supervised`` experiment passes the TraX runtime one
object state where the runtime takes a list of them (and no list of new objects on update), so every
TraX tracker fails at once with "Tracker does not support multiple objects, but multiple objects were
provided for initialization". :class:`ResetExperiment` derives from that experiment, so that its settings
(``repetitions``, ``skip_initialize``, ``skip_tags``, ``failure_overlap``), its result files and every
analysis written for it (``supervised_average_ar``, ``cumulative_failures``, ``supervised_eao_*``) stay
as they are, and runs the protocol itself through the runtime's list interface.

The protocol (docs/evaluation.md, "Reset-based evaluation"): the tracker is initialised on the ground
truth; a frame whose region overlaps the ground truth by at most ``failure_overlap`` (0) is a failure,
and the tracker is initialised again ``skip_initialize`` frames later, past frames tagged with one of
``skip_tags``; the frames in between stay unknown. Frames whose ground truth is unknown (``nan`` lines:
an absent or unannotated target) never count as a failure and are never initialised on: the tracker
is initialised on the next frame with a known region, as metatrack's own runner does. Each frame's
reply properties (metatrack's server sends ``confidence``) are kept beside the trajectory with its time.
"""

from __future__ import annotations

from vot.experiment.multirun import SupervisedExperiment
from vot.region import Special, calculate_overlap
from vot.tracker import ObjectStatus, Trajectory


def _known(region) -> bool:
    """Whether a ground-truth region is a shape (not the toolkit's special code for an unknown one)."""
    return not isinstance(region, Special) and not region.is_empty()


class ResetExperiment(SupervisedExperiment):
    """The reset-based experiment, run through the TraX runtime's interface of object lists."""

    def _next_start(self, sequence, frame: int) -> int:
        """The first frame at or after ``frame`` that carries no skip tag and has a known ground truth."""
        n = len(sequence)
        while frame < n:
            tagged = self.skip_tags and any(t in self.skip_tags for t in sequence.tags(frame))
            if not tagged and _known(sequence.groundtruth(frame)):
                return frame
            frame += 1
        return n

    def _run_once(self, runtime, sequence) -> Trajectory:
        n = len(sequence)
        trajectory = Trajectory(n)
        frame = self._next_start(sequence, 0)
        while frame < n:
            start = ObjectStatus(sequence.groundtruth(frame), {})
            _, elapsed = runtime.initialize(sequence.frame(frame), [start])
            trajectory.set(frame, Special(Trajectory.INITIALIZATION), {"time": elapsed})
            frame += 1
            while frame < n:
                states, elapsed = runtime.update(sequence.frame(frame), [])
                if len(states) != 1:
                    raise ValueError(f"the tracker answered {len(states)} regions for one object")
                region, properties = states[0].region, dict(states[0].properties, time=elapsed)
                truth = sequence.groundtruth(frame)
                if _known(truth) and calculate_overlap(region, truth, sequence.size) <= self.failure_overlap:
                    trajectory.set(frame, Special(Trajectory.FAILURE), properties)
                    frame = self._next_start(sequence, frame + self.skip_initialize)
                    break
                trajectory.set(frame, region, properties)
                frame += 1
        return trajectory

    def execute(self, tracker, sequence, force: bool = False, callback=None):
        if len(sequence.objects()) != 1:
            raise ValueError(f"sequence {sequence.name}: the reset-based experiment takes single-target sequences")
        results = self.results(tracker, sequence)
        with self._get_runtime(tracker, sequence) as runtime:
            for repetition in range(1, self.repetitions + 1):
                name = f"{sequence.name}_{repetition:03d}"
                if Trajectory.exists(results, name) and not force:
                    continue
                if self._can_stop(tracker, sequence):
                    return
                trajectory = self._run_once(runtime, sequence)
                if callback:
                    callback(repetition / self.repetitions)
                trajectory.write(results, name)  # only complete runs are written
