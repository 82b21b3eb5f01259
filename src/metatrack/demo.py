"""``metatrack demo``: everything the project does, on the embedded eval split, in a few minutes.

Runs the meta-trackers, their baselines and the OpenCV peers (one-pass and reset-based protocols),
scores them, and writes one report folder: success and precision plots, the paper's Table 1 (VOT
protocol: EAO, accuracy, robustness) and Table 2 (first-frame analysis) in our numbers, an annotated
video and a contact sheet of one sequence, and ``report.html``, one page with all of the scores and a
thumbnail of every sequence that opens in any browser. Results are kept on disk, so a second run only
redoes what is missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import open_dataset
from .data.sequence import Sequence
from .evaluation.html_report import write_html_report
from .evaluation.init_analysis import analyse, markdown_table, write_analysis
from .evaluation.report import write_report
from .evaluation.runner import run_tracker
from .evaluation.scoring import read_ope_result, score_results, write_scores
from .evaluation.tables import format_table
from .io import atomic_write_text
from .trackers import available_trackers
from .visualize import VideoWriter, annotate, contact_sheet, write_image

#: the paper's pairs (Table 1: MetaSDNet / pyMDNet-30, MetaCREST-01 / CREST) with the default MetaCREST
#: (its first filter in closed form), the baselines without offline training (SDNet-30,
#: CREST-converged) and the OpenCV peers; the baselines' N sweep is the first-frame table
#: (INIT_TRACKERS), whose tracking is bench/meta_bench.py's job: a tracking run of every N would triple
#: the demo's time
OPE_TRACKERS = ["metasdnet", "mdnet-30", "sdnet-30", "metacrest", "metacrest-01", "crest", "crest-converged",
                "opencv-kcf", "opencv-csrt", "opencv-mosse", "opencv-medianflow"]
VOT_TRACKERS = ["metasdnet", "mdnet-30", "sdnet-30", "metacrest", "metacrest-01", "crest", "crest-converged",
                "opencv-kcf", "opencv-csrt"]
#: Table 1 (reset-based) on the first VOT_SEQUENCES eval sequences (every object of the split): the
#: VOT protocol on all 16 doubles the demo's time (`metatrack run --protocol vot` runs them all)
VOT_SEQUENCES = 8
INIT_TRACKERS = ["metasdnet-01", "mdnet-01", "mdnet-30", "sdnet-01", "sdnet-05", "sdnet-30", "metacrest-01",
                 "crest", "crest-base", "crest-01", "crest-05", "crest-converged"]
#: --quick: the headline comparisons on the first QUICK_FRAMES frames of QUICK_SEQUENCES sequences
#: (about a minute on a 2-core CPU), the first frame on QUICK_INIT_SEQUENCES of them
QUICK_OPE = ["metasdnet", "sdnet-30", "metacrest", "crest-converged", "opencv-kcf", "opencv-csrt"]
QUICK_INIT = ["metasdnet-01", "sdnet-30", "metacrest-01", "crest-converged"]
QUICK_SEQUENCES = 3
QUICK_FRAMES = 60
QUICK_INIT_SEQUENCES = 2


def _present(names: list[str]) -> list[str]:
    known = set(available_trackers())
    return [n for n in names if n in known]


def showcase(seq: Sequence, results: Path, trackers: list[str], out: Path) -> tuple[Path, Path]:
    """An annotated video and a contact sheet of ``seq`` with every tracker's boxes (ground truth red)."""
    boxes = {}
    for name in trackers:
        pred, _ = read_ope_result(results / name, seq)
        boxes[name] = seq.from_file_coords(pred)
    video = out / f"{seq.name}.mp4"
    frames = []
    picks = set(np.linspace(0, len(seq) - 1, 8).astype(int).tolist())
    with VideoWriter(video, fps=15) as writer:
        for i in range(len(seq)):
            img = annotate(seq.frame(i), {n: b[i] for n, b in boxes.items()}, i, gt=seq.boxes[i])
            writer.write(img)
            if i in picks:
                frames.append(img)
    sheet = write_image(out / f"{seq.name}_sheet.png", contact_sheet(frames, columns=4))
    return video, sheet


def run_demo(out: str | Path = "demo-out", quick: bool = False, jobs: int = 2, progress: bool = True) -> dict:
    """Run the demo; returns the paths it wrote."""
    out = Path(out)
    sequences = open_dataset("embedded:eval")
    if quick:  # results of a quick run live in their own folder: the sequences are cut
        sequences = [s.head(QUICK_FRAMES) for s in sequences[:QUICK_SEQUENCES]]
    ope = _present(QUICK_OPE if quick else OPE_TRACKERS)
    vot = [] if quick else _present(VOT_TRACKERS)
    init = _present(QUICK_INIT if quick else INIT_TRACKERS)
    report = out / "report"
    results = out / ("results-quick" if quick else "results")
    for name in ope:
        run_tracker(name, sequences, results / "ope", protocol="ope", jobs=jobs, progress=progress)
    scores = score_results(sequences, results / "ope", protocol="ope", trackers=ope)
    write_scores(scores, report / "scores_ope.json")
    pngs = write_report(scores, report, protocol="ope", title="metatrack demo: embedded eval split (OPE)")
    vscores = None
    text = ["# metatrack demo\n", "## One-pass evaluation (OTB protocol)\n", format_table(scores, "ope", markdown=True)]
    if vot:
        vot_sequences = sequences[:VOT_SEQUENCES]
        for name in vot:
            run_tracker(name, vot_sequences, results / "vot", protocol="vot", jobs=jobs, progress=progress)
        vscores = score_results(vot_sequences, results / "vot", protocol="vot", trackers=vot)
        write_scores(vscores, report / "scores_vot.json")
        write_report(vscores, report / "vot", protocol="vot", title="metatrack demo: embedded eval split (VOT)")
        text += [f"\n## Table 1 in our numbers: reset-based evaluation (VOT protocol), first {len(vot_sequences)} "
                 "sequences\n",
                 format_table(vscores, "vot", markdown=True)]
    if init:
        analysis = analyse(init, sequences[: QUICK_INIT_SEQUENCES if quick else 8])
        write_analysis(analysis, report)
        text += ["\n## Table 2 in our numbers: the first frame\n", markdown_table(analysis)]
    html = write_html_report(scores, report, "ope", title="metatrack demo: embedded eval split",
                             sequences=sequences, vot_scores=vscores, pngs=pngs)
    video, sheet = showcase(sequences[0], results / "ope", ope[:4], report)
    text += [f"\n## One sequence\n\n![contact sheet]({sheet.name})\n\nVideo: [{video.name}]({video.name})\n",
             f"\nEvery score and sequence on one page: [{html.name}]({html.name})\n"]
    summary = atomic_write_text(report / "demo.md", "\n".join(text))
    print(format_table(scores, "ope"))
    return {"report": report, "summary": summary, "html": html, "video": video, "sheet": sheet}
