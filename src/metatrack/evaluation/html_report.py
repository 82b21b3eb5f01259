"""One self-contained HTML page per results folder: plots, tables and a per-sequence breakdown.

The page (``report.html``) opens from disk in any browser with no server and no network: the plots are
PNGs and the sequence thumbnails JPEGs, both embedded as base64 ``data:`` URIs; the styling is one
inline ``<style>`` block and there is no script. Every piece of text that comes from data (tracker
and sequence names, attribute tags, the title) is HTML-escaped.

Input is the scores dict of :func:`metatrack.evaluation.scoring.score_results` (OPE or VOT), plus
optionally the sequences (for thumbnails: the first frame with its ground-truth box) and the VOT
scores of the same trackers (EAO, accuracy and robustness columns beside the OPE ones, as the demo
shows both protocols on one page).
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .. import __version__
from ..errors import ConfigError, MetatrackError
from ..io import atomic_write_text
from .report import (
    _DEFINITIONS,
    DPI,
    LONG_TERM_DEFINITION,
    Protocol,
    _attribute_suffix,
    _block,
    _value,
    ar_figure,
    attribute_tags,
    attributes_figure,
    eao_figure,
    legend_entries,
    long_term_blocks,
    longterm_figure,
    precision_figure,
    ranked_trackers,
    success_figure,
    tracker_styles,
)
from .tables import LT_COLUMNS, MAIN_SCORE, OPE_COLUMNS, VOT_COLUMNS

#: width in pixels of the per-sequence thumbnails
THUMBNAIL_WIDTH = 160
#: the VOT columns added beside the OPE ones when both protocols' scores are given
VOT_SUMMARY_COLUMNS = [c for c in VOT_COLUMNS if c[1] in ("eao", "accuracy", "robustness")]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
p.note { color: #555; max-width: 60em; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; flex: 1 1 420px; max-width: 640px; }
figure.wide { flex-basis: 100%; max-width: 1300px; }
figure img { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; text-align: center; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; }
th { background: #f4f4f4; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.name, th.name { text-align: left; white-space: nowrap; }
td.best { font-weight: bold; background: #e8f4e8; }
tr:nth-child(even) td { background-color: #fafafa; }
tr:nth-child(even) td.best { background: #e8f4e8; }
td.thumb { padding: 2px; }
td.thumb img { display: block; }
.tags { font-size: 0.8em; color: #666; }
footer { margin-top: 2em; font-size: 0.8em; color: #777; }
"""


def esc(text: Any) -> str:
    """``text`` as HTML-escaped text (quotes included)."""
    return html.escape(str(text), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    """A score as the page prints it: ``digits`` decimals, ``-`` when missing."""
    v = _value(value)
    return "-" if math.isnan(v) else f"{v:.{digits}f}"


# ---------------------------------------------------------------- images


def png_bytes(fig) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def thumbnail_jpeg(seq, width: int = THUMBNAIL_WIDTH, quality: int = 80) -> bytes:
    """The first frame of ``seq`` with its ground-truth box (red), ``width`` pixels wide, as JPEG."""
    from ..visualize import GT_COLOUR, draw_box

    image = np.ascontiguousarray(seq.frame(0))
    h, w = image.shape[:2]
    scale = width / float(w)
    small = cv2.resize(image, (width, max(1, int(round(h * scale)))), interpolation=cv2.INTER_AREA)
    box = np.asarray(seq.boxes[0], dtype=np.float64) * scale
    draw_box(small, box, GT_COLOUR, 2)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise ConfigError(f"cannot encode the thumbnail of sequence {seq.name!r}")
    return data.tobytes()


def _figures(scores: dict[str, Any], protocol: Protocol, styles: dict) -> list[tuple[str, bytes]]:
    """(caption, PNG bytes) of the report's plots."""
    if protocol == "ope":
        out = [
            ("Success plots of OPE", png_bytes(success_figure(scores, styles=styles))),
            ("Precision plots of OPE", png_bytes(precision_figure(scores, styles=styles))),
        ]
        if attribute_tags(scores):
            out.append(("Success AUC per attribute", png_bytes(attributes_figure(scores, styles=styles))))
        return out
    return [
        ("Expected average overlap curves", png_bytes(eao_figure(scores, styles=styles))),
        ("Accuracy-robustness plot", png_bytes(ar_figure(scores, styles=styles))),
    ]


# ---------------------------------------------------------------- tables


def _best(values: Iterable[float], higher_is_better: bool = True) -> float:
    finite = [v for v in values if not math.isnan(v)]
    if len(finite) < 2:
        return math.nan  # nothing to compete with: no highlight
    return max(finite) if higher_is_better else min(finite)


def _num_cell(value: Any, digits: int, best: float) -> str:
    v = _value(value)
    cls = "num best" if not math.isnan(v) and v == best else "num"
    return f'<td class="{cls}">{esc(fmt(v, digits))}</td>'


#: columns where lower is better (failures), highlighted by their minimum
_LOWER_IS_BETTER = {"robustness", "failures", "failures_per_100_frames", "init_seconds"}
#: decimals of each column, as the terminal and Markdown tables print them
_DIGITS = {"fps": 1, "robustness": 2, "failures": 1, "failures_per_100_frames": 2}


def overall_table(scores: dict[str, Any], protocol: Protocol, vot_scores: Mapping[str, Any] | None = None) -> str:
    """Every tracker, best first by the protocol's main score; VOT EAO/A/R columns when given."""
    columns = list(OPE_COLUMNS if protocol == "ope" else VOT_COLUMNS)
    trackers = ranked_trackers(scores, protocol)
    extra = [n for n in (vot_scores or {}) if n not in scores]
    rows = trackers + sorted(extra)
    blocks = [(header, key, scores) for header, key, _ in columns]
    if vot_scores:
        blocks += [(f"VOT {header}", key, vot_scores) for header, key, _ in VOT_SUMMARY_COLUMNS]
    head = '<tr><th class="name">Tracker</th>' + "".join(f"<th>{esc(h)}</th>" for h, _, _ in blocks) + "</tr>"
    best = {
        (h, k): _best([_value((src.get(n) or {}).get(k)) for n in rows], k not in _LOWER_IS_BETTER)
        for h, k, src in blocks
    }
    body = []
    for name in rows:
        cells = [f'<td class="name">{esc(name)}</td>']
        for h, k, src in blocks:
            cells.append(_num_cell((src.get(name) or {}).get(k), _DIGITS.get(k, 3), best[(h, k)]))
        body.append(f'<tr data-tracker="{esc(name)}">' + "".join(cells) + "</tr>")
    return _table("overall", head, body)


def longterm_table(blocks: Mapping[str, Any]) -> str:
    """F-score, Pr, Re, tau and absent frames of each tracker (VOT-LT), best F first."""
    trackers = [n for n, _ in legend_entries(dict(blocks), "f_score")]
    columns = [(h, k) for h, k, _ in LT_COLUMNS if k != "fps"]
    head = '<tr><th class="name">Tracker</th>' + "".join(f"<th>{esc(h)}</th>" for h, _ in columns) + "</tr>"
    best = {k: _best([_value(blocks[n].get(k)) for n in trackers]) for _, k in columns}
    body = []
    for name in trackers:
        cells = [f'<td class="name">{esc(name)}</td>']
        for _, k in columns:
            if k in ("f_score", "precision", "recall"):
                cells.append(_num_cell(blocks[name].get(k), 3, best[k]))
            else:
                v = blocks[name].get(k)
                cells.append(f"<td>{esc('-' if v is None else (f'{v:.3f}' if isinstance(v, float) else v))}</td>")
        body.append(f'<tr data-tracker="{esc(name)}">' + "".join(cells) + "</tr>")
    return _table("longterm", head, body)


def _table(table_id: str, head: str, body: list[str]) -> str:
    return (f'<div class="scroll"><table id="{esc(table_id)}">\n<thead>{head}</thead>\n<tbody>\n'
            + "\n".join(body) + "\n</tbody></table></div>")


def attribute_table(scores: dict[str, Any], trackers: list[str]) -> str:
    """Success AUC of each tracker (rows) on each attribute tag (columns, sequence count in brackets)."""
    tags = attribute_tags(scores)
    head = '<tr><th class="name">Tracker</th>' + "".join(
        f"<th>{esc(_attribute_suffix(scores, t).removeprefix(' - '))}</th>" for t in tags
    ) + "</tr>"
    best = {t: _best([_value(_block(scores, n, t).get("success_auc")) for n in trackers]) for t in tags}
    body = []
    for name in trackers:
        cells = [f'<td class="name">{esc(name)}</td>']
        cells += [_num_cell(_block(scores, name, t).get("success_auc"), 3, best[t]) for t in tags]
        body.append(f'<tr data-tracker="{esc(name)}">' + "".join(cells) + "</tr>")
    return _table("attributes", head, body)


def sequence_table(
    scores: dict[str, Any], protocol: Protocol, trackers: list[str], sequences: Mapping[str, Any]
) -> str:
    """One row per sequence: thumbnail, name and tags, then each tracker's score on it.

    OPE: success AUC; VOT: accuracy / failures (best accuracy highlighted).
    """
    names = sorted({q for s in scores.values() for q in (s.get("sequences") or {})})
    head = ('<tr><th>First frame</th><th class="name">Sequence</th>'
            + "".join(f"<th>{esc(t)}</th>" for t in trackers) + "</tr>")
    key = "success_auc" if protocol == "ope" else "accuracy"
    body = []
    for q in names:
        per = {t: ((scores[t].get("sequences") or {}).get(q) or {}) for t in trackers}
        best = _best([_value(per[t].get(key)) for t in trackers])
        seq = sequences.get(q)
        thumb = "<td></td>"
        info = ""
        if seq is not None:
            try:
                uri = data_uri(thumbnail_jpeg(seq), "image/jpeg")
                thumb = (f'<td class="thumb"><img src="{uri}" width="{THUMBNAIL_WIDTH}" '
                         f'alt="{esc(q)}: first frame and ground truth"></td>')
            except (MetatrackError, OSError, cv2.error, IndexError) as exc:
                thumb = f'<td class="tags">no thumbnail ({esc(type(exc).__name__)})</td>'
            tags = ", ".join(seq.attributes)
            info = f'<br><span class="tags">{len(seq)} frames{esc("; " + tags) if tags else ""}</span>'
        cells = [thumb, f'<td class="name">{esc(q)}{info}</td>']
        for t in trackers:
            v = _value(per[t].get(key))
            text = fmt(v)
            if protocol == "vot":
                text += f" / {fmt(per[t].get('failures'), 1)}"
            cls = "num best" if not math.isnan(v) and v == best else "num"
            cells.append(f'<td class="{cls}">{esc(text)}</td>')
        body.append(f'<tr data-sequence="{esc(q)}">' + "".join(cells) + "</tr>")
    return _table("sequences", head, body)


# ---------------------------------------------------------------- the page


def html_report(
    scores: dict[str, Any],
    protocol: Protocol,
    title: str = "metatrack report",
    sequences: Iterable[Any] | None = None,
    vot_scores: Mapping[str, Any] | None = None,
    figures: list[tuple[str, bytes]] | None = None,
) -> str:
    """The page as a string (see :func:`write_html_report`)."""
    if protocol not in MAIN_SCORE:
        raise ConfigError(f"protocol {protocol!r}: use 'ope' or 'vot'")
    if not scores:
        raise ConfigError("no tracker scores to report")
    trackers = ranked_trackers(scores, protocol)
    styles = tracker_styles(trackers)
    if figures is None:
        figures = _figures(scores, protocol, styles)
    by_name = {s.name: s for s in (sequences or [])}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style></head>",
        "<body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="note">{esc(_DEFINITIONS[protocol])}</p>',
        "<h2>Overall</h2>",
    ]
    note = "Best first by " + ("success AUC" if protocol == "ope" else "EAO") + "; the best of each column shaded."
    if vot_scores:
        note += " VOT columns: the reset-based protocol on the same sequences."
    parts += [f'<p class="note">{esc(note)}</p>', overall_table(scores, protocol, vot_scores),
              "<h2>Plots</h2>", '<div class="figures">']
    for i, (caption, png) in enumerate(figures):
        wide = ' class="wide"' if i >= 2 else ""  # the per-attribute bars come third, in a row of their own
        parts.append(f'<figure{wide}><img src="{data_uri(png, "image/png")}" alt="{esc(caption)}">'
                     f"<figcaption>{esc(caption)}</figcaption></figure>")
    parts.append("</div>")
    lt = long_term_blocks(scores) if protocol == "ope" else {}
    if lt:
        fig = png_bytes(longterm_figure(scores, styles=styles))
        parts += ["<h2>Long-term (VOT-LT)</h2>", f'<p class="note">{esc(LONG_TERM_DEFINITION)}</p>',
                  longterm_table(lt), '<div class="figures">',
                  f'<figure><img src="{data_uri(fig, "image/png")}" alt="Tracking precision-recall (VOT-LT)">'
                  "<figcaption>Tracking precision-recall (VOT-LT); dot: the best F</figcaption></figure>", "</div>"]
    if protocol == "ope" and attribute_tags(scores):
        parts += ["<h2>Success AUC per attribute</h2>",
                  '<p class="note">Sequences per tag in brackets; the best tracker of each tag shaded.</p>',
                  attribute_table(scores, trackers)]
    if any(s.get("sequences") for s in scores.values()):
        what = "success AUC" if protocol == "ope" else "accuracy / failures (averaged over repetitions)"
        note = (f"Each tracker's {what}; the best of each sequence shaded. Thumbnails: the first frame with "
                "the ground-truth box in red.")
        parts += ["<h2>Per sequence</h2>", f'<p class="note">{esc(note)}</p>',
                  sequence_table(scores, protocol, trackers, by_name)]
    parts += [f"<footer>Written by metatrack {esc(__version__)}.</footer>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def write_html_report(
    scores: dict[str, Any],
    out_dir: str | Path,
    protocol: Protocol,
    title: str = "metatrack report",
    sequences: Iterable[Any] | None = None,
    vot_scores: Mapping[str, Any] | None = None,
    pngs: Mapping[str, Path] | None = None,
    filename: str = "report.html",
) -> Path:
    """Write ``out_dir/report.html`` atomically and return its path.

    The page holds the success and precision plots (OPE; per-attribute bars when the sequences carry
    tags) or the EAO and AR plots (VOT), the overall table of every tracker (with EAO, accuracy and
    robustness from ``vot_scores`` when given), the success AUC per attribute and the per-sequence
    breakdown, with a thumbnail of each of ``sequences`` (first frame, ground-truth box in red).
    ``pngs`` (the paths :func:`metatrack.evaluation.report.write_report` returned) reuses plots
    already drawn instead of drawing them again.
    """
    figures = None
    if pngs:
        wanted = ([("success", "Success plots of OPE"), ("precision", "Precision plots of OPE"),
                   ("attributes", "Success AUC per attribute")] if protocol == "ope"
                  else [("eao", "Expected average overlap curves"), ("ar", "Accuracy-robustness plot")])
        figures = [(caption, Path(pngs[key]).read_bytes()) for key, caption in wanted if key in pngs]
    page = html_report(scores, protocol, title=title, sequences=sequences, vot_scores=vot_scores, figures=figures)
    return atomic_write_text(Path(out_dir) / filename, page)
