"""Figures and Markdown tables of a benchmark, in the style of the OTB and VOT papers.

Input is the scores dict of :func:`metatrack.evaluation.scoring.score_results` (tracker name ->
scores). Each plot is its own function taking ``(scores, path)`` so that other reports (HTML) can
reuse them; :func:`write_report` puts them all, with ``report.md``, in one folder.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas (no pyplot,
no global backend switch) and written atomically: a temporary file, then a rename.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import ConfigError
from ..io import atomic_write, atomic_write_text
from .tables import MAIN_SCORE, format_table

Protocol = Literal["ope", "vot"]

DPI = 120
#: OTB's thresholds (docs/evaluation.md): 21 overlap thresholds, 51 centre-error thresholds in px
SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_THRESHOLDS = np.arange(51, dtype=np.float64)

_COLORS = [
    "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
]  # fmt: skip
_LINESTYLES = ["-", "--", "-.", ":"]
_HATCHES = {"-": "", "--": "//", "-.": "..", ":": "xx"}  # bars cannot show line styles
_MARKERS = "os^Dv<>ph*"


# ---------------------------------------------------------------- ordering and styles


def _value(x: Any) -> float:
    """A score as a float, NaN for missing (None in JSON) or non-numbers."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def _curve(values: Iterable[Any] | None) -> np.ndarray:
    return np.array([_value(v) for v in (values or [])], dtype=np.float64)


def _block(scores: dict[str, Any], name: str, attribute: str | None) -> dict[str, Any]:
    """A tracker's overall scores, or those of one attribute tag ({} when it has none)."""
    s = scores.get(name) or {}
    if attribute is None:
        return s
    return (s.get("attributes") or {}).get(attribute) or {}


def legend_entries(scores: dict[str, Any], key: str, attribute: str | None = None) -> list[tuple[str, float]]:
    """``(tracker, score)`` pairs best first, as the legend of a plot ranked by ``key`` lists them.

    ``key`` is a score such as ``success_auc``, ``precision`` or ``eao``; with ``attribute`` the
    tracker's scores on that attribute tag are used. Missing scores (NaN) come last; ties go by name.
    """
    pairs = [(name, _value(_block(scores, name, attribute).get(key))) for name in scores]
    return sorted(pairs, key=lambda p: (math.isnan(p[1]), -p[1] if not math.isnan(p[1]) else 0.0, p[0]))


def ranked_trackers(scores: dict[str, Any], protocol: Protocol) -> list[str]:
    """Tracker names by the protocol's main score (OPE: success AUC, VOT: EAO), best first."""
    return [name for name, _ in legend_entries(scores, MAIN_SCORE[protocol])]


def tracker_styles(names: list[str]) -> dict[str, dict[str, Any]]:
    """A colour and line style per tracker, distinct for 40 trackers (10 colours x 4 styles).

    Give the names in one fixed order (the overall ranking), so that a tracker keeps its look in
    every figure of a report even where its rank differs.
    """
    styles = {}
    for i, name in enumerate(names):
        styles[name] = {
            "color": _COLORS[i % len(_COLORS)],
            "linestyle": _LINESTYLES[(i // len(_COLORS)) % len(_LINESTYLES)],
            "linewidth": 2.0 if i < len(_COLORS) else 1.5,
        }
    return styles


def _label(name: str, value: float) -> str:
    return f"{name} [{value:.3f}]" if not math.isnan(value) else f"{name} [-]"


# ---------------------------------------------------------------- figures


def _figure(width: float = 6.4, height: float = 4.8) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically (temporary file in the same folder, then rename)."""
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=DPI, bbox_inches="tight"))


def _legend_fontsize(n: int) -> float:
    return 9 if n <= 8 else 8 if n <= 12 else 6.5


def _finish(ax, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, linestyle=":", linewidth=0.8, color="0.6")
    ax.set_axisbelow(True)


def _curve_figure(
    scores: dict[str, Any],
    *,
    curve_key: str,
    score_key: str,
    x: np.ndarray,
    xlabel: str,
    ylabel: str,
    title: str,
    legend_loc: str,
    attribute: str | None,
    styles: dict[str, dict[str, Any]] | None,
) -> Figure:
    entries = legend_entries(scores, score_key, attribute)
    styles = styles or tracker_styles([n for n, _ in entries])
    fig = _figure()
    ax = fig.add_subplot()
    drawn = 0
    for name, value in entries:  # drawn, hence listed in the legend, best first
        y = _curve(_block(scores, name, attribute).get(curve_key))
        if y.size == 0:
            continue
        xs = x[: y.size] if y.size <= x.size else np.linspace(x[0], x[-1], y.size)
        ax.plot(xs, y, label=_label(name, value), **styles[name])
        drawn += 1
    ax.set_xlim(float(x[0]), float(x[-1]))
    _finish(ax, xlabel, ylabel, title)
    if drawn:
        ax.legend(loc=legend_loc, fontsize=_legend_fontsize(drawn), framealpha=0.85)
    return fig


def _attribute_suffix(scores: dict[str, Any], attribute: str | None) -> str:
    """`` - TAG (count)`` for titles and table headers ("" without an attribute)."""
    if attribute is None:
        return ""
    counts = [_block(scores, n, attribute).get("count") for n in scores]
    count = next((c for c in counts if c is not None), None)
    return f" - {attribute}" + (f" ({count})" if count is not None else "")


def success_figure(
    scores: dict[str, Any],
    *,
    attribute: str | None = None,
    title: str | None = None,
    styles: dict[str, dict[str, Any]] | None = None,
) -> Figure:
    """OTB success plot: share of frames with IoU above each overlap threshold, legend by AUC.

    With ``attribute`` the curves of the sequences carrying that tag are drawn.
    """
    return _curve_figure(
        scores,
        curve_key="success_curve",
        score_key="success_auc",
        x=SUCCESS_THRESHOLDS,
        xlabel="Overlap threshold",
        ylabel="Success rate",
        title=title or "Success plots of OPE" + _attribute_suffix(scores, attribute),
        legend_loc="lower left",
        attribute=attribute,
        styles=styles,
    )


def precision_figure(
    scores: dict[str, Any],
    *,
    attribute: str | None = None,
    title: str | None = None,
    styles: dict[str, dict[str, Any]] | None = None,
) -> Figure:
    """OTB precision plot: share of frames with centre error within 0..50 px, legend by P@20px."""
    return _curve_figure(
        scores,
        curve_key="precision_curve",
        score_key="precision",
        x=PRECISION_THRESHOLDS,
        xlabel="Location error threshold (pixels)",
        ylabel="Precision",
        title=title or "Precision plots of OPE" + _attribute_suffix(scores, attribute),
        legend_loc="lower right",
        attribute=attribute,
        styles=styles,
    )


def eao_figure(
    scores: dict[str, Any],
    *,
    title: str = "Expected average overlap curves",
    styles: dict[str, dict[str, Any]] | None = None,
) -> Figure:
    """VOT expected-overlap curve against sequence length, the EAO range shaded, legend by EAO.

    ``eao_curve[j]`` is the expected overlap on sequences of length ``j`` (index 0 is NaN), as
    :func:`metatrack.evaluation.vot.eao_curve` computes it.
    """
    entries = legend_entries(scores, "eao")
    styles = styles or tracker_styles([n for n, _ in entries])
    fig = _figure(7.2, 4.8)
    ax = fig.add_subplot()
    ranges: set[tuple[int, int]] = set()
    longest = 2
    drawn = 0
    for name, value in entries:
        y = _curve(scores[name].get("eao_curve"))
        if y.size == 0:
            continue
        longest = max(longest, y.size - 1)
        ax.plot(np.arange(y.size), y, label=_label(name, value), **styles[name])
        drawn += 1
        r = scores[name].get("eao_range")
        if r and len(r) == 2:
            ranges.add((int(r[0]), int(r[1])))
    for low, high in sorted(ranges):
        ax.axvspan(low, high, color="0.88", zorder=0, label=f"EAO range {low}-{high}")
        longest = max(longest, high)
    ax.set_xlim(1, longest)
    _finish(ax, "Sequence length (frames)", "Expected overlap", title)
    if drawn:
        ax.legend(loc="upper right", fontsize=_legend_fontsize(drawn), framealpha=0.85)
    return fig


def ar_figure(
    scores: dict[str, Any],
    *,
    title: str = "Accuracy-robustness plot",
    styles: dict[str, dict[str, Any]] | None = None,
) -> Figure:
    """VOT AR plot: accuracy against robustness (failures per sequence, fewer to the right)."""
    entries = legend_entries(scores, "eao")
    styles = styles or tracker_styles([n for n, _ in entries])
    fig = _figure()
    ax = fig.add_subplot()
    worst = 1.0
    drawn = 0
    for i, (name, value) in enumerate(entries):
        a, r = _value(scores[name].get("accuracy")), _value(scores[name].get("robustness"))
        if math.isnan(a) or math.isnan(r):
            continue
        worst = max(worst, r)
        marker = _MARKERS[i % len(_MARKERS)]
        ax.plot(r, a, marker=marker, markersize=9, linestyle="none", color=styles[name]["color"],
                label=_label(name, value))  # fmt: skip
        drawn += 1
    ax.set_xlim(worst * 1.1, 0.0)  # robust trackers to the right, as in the VOT reports
    _finish(ax, "Robustness (failures per sequence)", "Accuracy", title)
    if drawn:
        ax.legend(loc="lower left", fontsize=_legend_fontsize(drawn), framealpha=0.85, title="[EAO]")
    return fig


def attribute_tags(scores: dict[str, Any]) -> list[str]:
    """Every attribute tag that any tracker has scores for, sorted."""
    return sorted({tag for s in scores.values() for tag in (s.get("attributes") or {})})


def attributes_figure(
    scores: dict[str, Any],
    *,
    key: str = "success_auc",
    title: str = "Success AUC per attribute",
    styles: dict[str, dict[str, Any]] | None = None,
) -> Figure:
    """One horizontal bar chart per attribute tag: each tracker's ``key`` on it, best on top."""
    tags = attribute_tags(scores)
    if not tags:
        raise ConfigError("no attribute scores to plot (the sequences carry no attribute tags)")
    styles = styles or tracker_styles(ranked_trackers(scores, "ope"))
    cols = min(3, len(tags))
    rows = math.ceil(len(tags) / cols)
    fig = _figure(4.3 * cols, (0.22 * len(scores) + 0.9) * rows + 0.6)
    for k, tag in enumerate(tags):
        ax = fig.add_subplot(rows, cols, k + 1)
        entries = [(n, v) for n, v in legend_entries(scores, key, tag) if not math.isnan(v)]
        entries.reverse()  # barh draws bottom-up: best on top
        ys = np.arange(len(entries))
        ax.barh(
            ys,
            [v for _, v in entries],
            color=[styles[n]["color"] for n, _ in entries],
            hatch=[_HATCHES[styles[n]["linestyle"]] for n, _ in entries],
            edgecolor="white",
            height=0.7,
        )
        for y, (_, v) in zip(ys, entries, strict=True):
            ax.text(v + 0.01, y, f"{v:.3f}", va="center", fontsize=7)
        ax.set_yticks(ys, [n for n, _ in entries], fontsize=8)
        ax.set_xlim(0.0, 1.0)
        ax.set_title(_attribute_suffix(scores, tag).removeprefix(" - "), fontsize=10)
        ax.grid(True, axis="x", linestyle=":", linewidth=0.8, color="0.6")
        ax.set_axisbelow(True)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_success(scores: dict[str, Any], path: str | Path, **options: Any) -> Path:
    """:func:`success_figure` saved as a PNG at ``path``."""
    return save_figure(success_figure(scores, **options), path)


def plot_precision(scores: dict[str, Any], path: str | Path, **options: Any) -> Path:
    """:func:`precision_figure` saved as a PNG at ``path``."""
    return save_figure(precision_figure(scores, **options), path)


def plot_eao(scores: dict[str, Any], path: str | Path, **options: Any) -> Path:
    """:func:`eao_figure` saved as a PNG at ``path``."""
    return save_figure(eao_figure(scores, **options), path)


def plot_ar(scores: dict[str, Any], path: str | Path, **options: Any) -> Path:
    """:func:`ar_figure` saved as a PNG at ``path``."""
    return save_figure(ar_figure(scores, **options), path)


def plot_attributes(scores: dict[str, Any], path: str | Path, **options: Any) -> Path:
    """:func:`attributes_figure` saved as a PNG at ``path``."""
    return save_figure(attributes_figure(scores, **options), path)


# ---------------------------------------------------------------- Markdown


def _cell(name: str) -> str:
    return name.replace("|", "\\|")


def _fmt(value: float, digits: int = 3) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _grid(
    rows: list[str], row_labels: list[str], cols: list[str], col_labels: list[str], value: Any, text: Any, best_in: str
) -> list[str]:
    """A Markdown table of ``text(row, col)``; the highest ``value`` of each row or column in bold."""
    values = {(r, c): value(r, c) for r in rows for c in cols}

    def top(keys: list[tuple[str, str]]) -> float:
        finite = [values[k] for k in keys if not math.isnan(values[k])]
        return max(finite) if finite else math.nan

    if best_in == "row":
        best = {r: top([(r, c) for c in cols]) for r in rows}
    else:
        best = {c: top([(r, c) for r in rows]) for c in cols}
    compete = (len(cols) if best_in == "row" else len(rows)) > 1
    lines = ["| | " + " | ".join(_cell(c) for c in col_labels) + " |", "|---|" + "---:|" * len(cols)]
    for r, label in zip(rows, row_labels, strict=True):
        cells = []
        for c in cols:
            v, t = values[(r, c)], text(r, c)
            cells.append(f"**{t}**" if compete and v == best[r if best_in == "row" else c] else t)
        lines.append(f"| {_cell(label)} | " + " | ".join(cells) + " |")
    return lines


def markdown_tables(scores: dict[str, Any], protocol: Protocol) -> str:
    """Overall table (best first), then per-attribute (OPE) and per-sequence tables, in Markdown."""
    if protocol not in MAIN_SCORE:
        raise ConfigError(f"protocol {protocol!r}: use 'ope' or 'vot'")
    if not scores:
        raise ConfigError("no tracker scores to tabulate")
    trackers = ranked_trackers(scores, protocol)
    parts = ["## Overall", "", format_table(scores, protocol, markdown=True).rstrip("\n"), ""]

    if protocol == "ope":
        tags = attribute_tags(scores)
        if tags:

            def auc(t: str, tag: str) -> float:
                return _value(_block(scores, t, tag).get("success_auc"))

            labels = [_attribute_suffix(scores, tag).removeprefix(" - ") for tag in tags]
            parts += [
                "## Success AUC per attribute",
                "",
                "Sequences per tag in brackets; the best tracker of each tag in bold.",
                "",
            ]
            parts += _grid(trackers, trackers, tags, labels, auc, lambda t, g: _fmt(auc(t, g)), "col")
            parts.append("")

    sequences = sorted({seq for s in scores.values() for seq in (s.get("sequences") or {})})
    if sequences:

        def seq_block(t: str, seq: str) -> dict[str, Any]:
            return (scores[t].get("sequences") or {}).get(seq) or {}

        if protocol == "ope":

            def main(t: str, seq: str) -> float:
                return _value(seq_block(t, seq).get("success_auc"))

            parts += ["## Success AUC per sequence", "", "Best in bold.", ""]
            parts += _grid(
                sequences, sequences, trackers, trackers, lambda q, t: main(t, q), lambda q, t: _fmt(main(t, q)), "row"
            )
        else:

            def main(t: str, seq: str) -> float:
                return _value(seq_block(t, seq).get("accuracy"))

            def vot_cell(t: str, seq: str) -> str:
                failures = _value(seq_block(t, seq).get("failures"))
                return f"{_fmt(main(t, seq))} / {_fmt(failures, 1)}"

            parts += [
                "## Accuracy / failures per sequence",
                "",
                "Accuracy, then failures averaged over repetitions; best accuracy in bold.",
                "",
            ]
            parts += _grid(
                sequences, sequences, trackers, trackers, lambda q, t: main(t, q), lambda q, t: vot_cell(t, q), "row"
            )
        parts.append("")
    return "\n".join(parts)


# ---------------------------------------------------------------- long-term (VOT-LT)


def long_term_blocks(scores: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The VOT-LT block of each tracker whose OPE scores carry one (``long_term``), by name."""
    return {name: s["long_term"] for name, s in scores.items() if isinstance((s or {}).get("long_term"), dict)}


LONG_TERM_DEFINITION = (
    "Long-term scores (VOT-LT: Lukezic et al. 2018, as the VOT toolkit computes them) from the same runs and "
    "each frame's calibrated confidence: at a threshold tau the frames with confidence >= tau are reported; "
    "tracking precision Pr is the mean IoU over reported frames, recall Re the IoU summed over reported frames "
    "over the frames that show the target (a frame where the target is absent adds 0 to Pr's mean); both are "
    "averaged over sequences and F = 2 Pr Re / (Pr + Re) is maximised over tau."
)


def longterm_figure(scores: dict[str, Any], styles: dict[str, dict[str, Any]] | None = None) -> Figure:
    """Tracking precision against recall over the confidence thresholds, the best F of each tracker marked."""
    blocks = long_term_blocks(scores)
    entries = legend_entries(blocks, "f_score")
    styles = styles or tracker_styles([n for n, _ in entries])
    fig = _figure()
    ax = fig.add_subplot()
    drawn = 0
    for name, value in entries:
        b = blocks[name]
        pr, re = _curve(b.get("precision_curve")), _curve(b.get("recall_curve"))
        if pr.size == 0:
            continue
        style = styles.get(name) or {}
        ax.plot(re, pr, label=_label(name, value), **style)
        ax.plot([_value(b.get("recall"))], [_value(b.get("precision"))], marker="o", color=style.get("color"))
        drawn += 1
    ax.set_xlim(0.0, 1.0)
    _finish(ax, "Tracking recall", "Tracking precision", "Tracking precision-recall (VOT-LT)")
    if drawn:
        ax.legend(loc="lower left", fontsize=_legend_fontsize(drawn), framealpha=0.85)
    return fig


def plot_longterm(scores: dict[str, Any], path: str | Path, **options: Any) -> Path:
    """The VOT-LT precision-recall plot of ``scores`` (OPE scores with ``long_term`` blocks) at ``path``."""
    return save_figure(longterm_figure(scores, **options), path)


def longterm_markdown(scores: dict[str, Any]) -> str:
    """The long-term section: definition, F/Pr/Re table (best first), link to ``longterm.png``."""
    blocks = long_term_blocks(scores)
    return "\n".join(["## Long-term (VOT-LT)", "", LONG_TERM_DEFINITION, "",
                      "![Tracking precision-recall (VOT-LT)](longterm.png)", "",
                      format_table(blocks, "lt", markdown=True).rstrip("\n"), ""])


# ---------------------------------------------------------------- the whole report


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "tag"


_DEFINITIONS = {
    "ope": (
        "One-pass evaluation (OTB): each tracker starts from the ground truth on the first frame and "
        "is never reset. Success AUC is the mean of the success curve over 21 overlap thresholds "
        "0, 0.05, ..., 1 (a frame succeeds where IoU > threshold); SR@0.5 is that curve at 0.5; "
        "precision is the share of frames whose centre error is at most 20 px. Curves are averaged "
        "over sequences, each weighing one."
    ),
    "vot": (
        "Supervised VOT experiment: a tracker is re-initialised 5 frames after each failure "
        "(overlap 0). Accuracy is the mean overlap outside the 10-frame burn-in after each "
        "(re)start; robustness counts failures per sequence; EAO is the expected overlap curve "
        "averaged over the shaded range of sequence lengths."
    ),
}


def write_report(
    scores: dict[str, Any],
    out_dir: str | Path,
    protocol: Protocol,
    title: str = "Tracking benchmark",
) -> dict[str, Path]:
    """Write every figure and ``report.md`` (which links them) into ``out_dir``.

    OPE: ``success.png``, ``precision.png``, ``attributes.png`` and ``success_<tag>.png`` per
    attribute tag when the sequences carry tags, and ``longterm.png`` (VOT-LT precision-recall) with
    its table when the runs stored confidences. VOT: ``eao.png`` and ``ar.png``. Returns the
    paths by name (``success``, ``precision``, ``attributes``, ``success:<tag>``, ``longterm``, ``eao``,
    ``ar``, ``markdown``).
    """
    if protocol not in MAIN_SCORE:
        raise ConfigError(f"protocol {protocol!r}: use 'ope' or 'vot'")
    if not scores:
        raise ConfigError("no tracker scores to report")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    styles = tracker_styles(ranked_trackers(scores, protocol))
    paths: dict[str, Path] = {}
    figures: list[tuple[str, str]] = []  # (caption, file name) for report.md
    if protocol == "ope":
        paths["success"] = plot_success(scores, out / "success.png", styles=styles)
        paths["precision"] = plot_precision(scores, out / "precision.png", styles=styles)
        figures += [("Success plots of OPE", "success.png"), ("Precision plots of OPE", "precision.png")]
        tags = attribute_tags(scores)
        if tags:
            paths["attributes"] = plot_attributes(scores, out / "attributes.png", styles=styles)
            figures.append(("Success AUC per attribute", "attributes.png"))
            for tag in tags:
                name = f"success_{_slug(tag)}.png"
                paths[f"success:{tag}"] = plot_success(scores, out / name, attribute=tag, styles=styles)
                figures.append((f"Success plots of OPE - {tag}", name))
    else:
        paths["eao"] = plot_eao(scores, out / "eao.png", styles=styles)
        paths["ar"] = plot_ar(scores, out / "ar.png", styles=styles)
        figures += [("Expected average overlap curves", "eao.png"), ("Accuracy-robustness plot", "ar.png")]

    def images(items: list[tuple[str, str]]) -> str:  # one paragraph: side by side where they fit
        return " ".join(f"![{caption}]({name})" for caption, name in items)

    lines = [f"# {title}", "", _DEFINITIONS[protocol], "", images(figures[:2]), ""]
    if protocol == "ope" and len(figures) > 2:
        lines += [images(figures[2:3]), ""]
    lines.append(markdown_tables(scores, protocol))
    if protocol == "ope" and long_term_blocks(scores):
        paths["longterm"] = plot_longterm(scores, out / "longterm.png", styles=styles)
        lines.append(longterm_markdown(scores))
    if protocol == "ope" and len(figures) > 3:
        lines += ["## Success plots per attribute", "", images(figures[3:]), ""]
    paths["markdown"] = atomic_write_text(out / "report.md", "\n".join(lines).rstrip("\n") + "\n")
    return paths
