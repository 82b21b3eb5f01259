"""Fuzzing of every reader: malformed or random input may only raise the project's own errors.

Each hypothesis test writes a tiny data set (8x8 JPEG frames) into a fresh temporary folder, spoils
one file (random bytes, a malformed line, odd XML) and calls the reader. The reader must either
return sequences (a fuzzed file may happen to be valid) or raise a :class:`MetatrackError` whose
message names the spoilt file, and the line where one line is at fault. Any other exception
(ValueError, OverflowError, LookupError, OSError...) fails the test. The regression tests at the
end keep the minimal examples of the bugs the fuzzing found.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metatrack.data.got10k import read_got10k
from metatrack.data.imagenet_vid import FrameObjects, parse_annotation, read_imagenet_vid
from metatrack.data.lasot import read_lasot
from metatrack.data.otb import read_otb
from metatrack.data.sequence import ImageFiles, Sequence
from metatrack.data.textfile import read_flags
from metatrack.data.video import read_first_box, read_video
from metatrack.data.vot import read_vot
from metatrack.errors import DataError, MetatrackError
from metatrack.evaluation.scoring import read_ope_result, read_vot_results, score_results
from metatrack.geometry import polygon_to_box

FUZZ = settings(max_examples=25, deadline=2000)
FEW = settings(max_examples=15, deadline=2000)

JPEG = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))[1].tobytes()
N = 3  # frames per fuzzed sequence

# ---------------------------------------------------------------- strategies

# Characters that str.splitlines() treats as line ends: a fuzzed *line* must not contain them,
# so that the line numbers of the file stay those the test expects.
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
ODD_TOKENS = [
    "nan", "NaN", "-inf", "inf", "Infinity", "1e400", "-1e400", "1e308", "-0", "0x10", "1_0", "1e", ".",
    "-", "+", "abc", "m", "\u0661\u0662", "0,5", "1.2.3", "\ufeff1", "None", "\x00", "\t", "\u00a0", "\U0001f600",
]  # fmt: skip
number_token = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.floats(-50, 50).map(lambda v: f"{v:.2f}"),
    st.sampled_from(ODD_TOKENS),
)
separator = st.sampled_from([",", " ", "\t", ";", ", ", ",,", " ;\t", ""])


@st.composite
def token_line(draw) -> str:
    """A line of number-like tokens and separators: near misses of a ground-truth line."""
    tokens = draw(st.lists(number_token, max_size=10))
    return "".join(t + draw(separator) for t in tokens)


any_line = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=LINE_BREAKS), max_size=40)
fuzz_line = st.one_of(token_line(), any_line)
file_bytes = st.one_of(
    st.binary(max_size=200),
    st.lists(fuzz_line, max_size=6).map(lambda lines: "\n".join(lines).encode()),
    st.text(max_size=100).map(str.encode),
)
list_name = st.one_of(
    any_line,
    st.sampled_from([".", "..", "/", "seq", " seq ", "../seq", "./seq", "seq/", "sub/seq", "x" * 300, "a\x00b"]),
)

# ---------------------------------------------------------------- helpers


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh folder per hypothesis example (pytest's tmp_path is shared between examples)."""
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


def write_frames(folder: Path, n: int = N, pattern: str = "{:04d}.jpg", start: int = 1) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        (folder / pattern.format(i)).write_bytes(JPEG)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def with_line(good: str, k: int, line: str, n: int = N) -> str:
    """``n`` copies of ``good`` with line ``k`` (1-based) replaced by ``line``."""
    lines = [good] * n
    lines[k - 1] = line
    return "\n".join(lines) + "\n"


def outcome(
    read: Callable[[], object],
    *culprits: Path,
    line: int | None = None,
    blank_ok: bool = False,
    allow_empty: bool = False,
):
    """Run ``read``: it returns a non-empty list, or raises a MetatrackError naming a culprit.

    ``line``: the one line at fault; an error must then name it (``blank_ok``: an error may
    instead name no line, e.g. a blank last line makes the counts disagree). ``allow_empty``: an
    empty list is a valid answer (ImageNet VID gives no clip when no track fits the clip rule).
    """
    try:
        result = read()
    except MetatrackError as exc:
        message = str(exc)
        assert any(str(c) in message for c in culprits), f"message names none of {culprits}: {message}"
        if line is not None:
            got = getattr(exc, "line", None)
            assert got == line or (got is None and blank_ok), f"expected line {line}: {message}"
            if got is not None:
                assert f"line {line}" in message
        return exc
    if isinstance(result, list):
        assert (result or allow_empty) and all(isinstance(s, Sequence) for s in result)
    return result


# ---------------------------------------------------------------- OTB


def otb_fixture(root: Path) -> Path:
    write_frames(root / "Car" / "img")
    return root / "Car" / "groundtruth_rect.txt"


@FUZZ
@given(line=fuzz_line, k=st.integers(1, N), good=st.sampled_from(["1,1,4,4", "1\t1\t4\t4", "1 1 4 4", "1;1, 4\t4"]))
def test_otb_malformed_line_names_file_and_line(line, k, good):
    with scratch() as root:
        gt = write(otb_fixture(root), with_line(good, k, line))
        outcome(lambda: read_otb(root), gt, line=k, blank_ok=not line.strip())


@FUZZ
@given(data=file_bytes, attributes=st.one_of(st.none(), file_bytes))
def test_otb_random_bytes(data, attributes):
    with scratch() as root:
        gt = write(otb_fixture(root), data)
        culprits = [gt, gt.parent]  # an empty annotation file is skipped: "folder has no groundtruth"
        if attributes is not None:
            culprits.append(write(root / "Car" / "attributes.txt", attributes))
        outcome(lambda: read_otb(root), *culprits)


# ---------------------------------------------------------------- VOT

POLYGON = "1,1,7,1,7,6,1,6"


def vot_fixture(root: Path, listed: str = "seq\n") -> Path:
    write(root / "list.txt", listed)
    write_frames(root / "seq" / "color", pattern="{:08d}.jpg")
    return root / "seq" / "groundtruth.txt"


@FUZZ
@given(line=fuzz_line, k=st.integers(1, N), good=st.sampled_from([POLYGON, "1,1,4,4", "1 1 7 1 7 6 1 6"]))
def test_vot_malformed_line_names_file_and_line(line, k, good):
    with scratch() as root:
        gt = write(vot_fixture(root), with_line(good, k, line))
        outcome(lambda: read_vot(root), gt, line=k, blank_ok=not line.strip())


@FUZZ
@given(data=file_bytes)
def test_vot_random_bytes(data):
    with scratch() as root:
        gt = write(vot_fixture(root), data)
        outcome(lambda: read_vot(root), gt)


coordinate = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e3, 1e3))


@FUZZ
@given(polygons=st.lists(st.lists(coordinate, min_size=8, max_size=8), min_size=N, max_size=N))
def test_vot_arbitrary_polygons(polygons):
    with scratch() as root:
        gt = write(vot_fixture(root), "".join(",".join(repr(v) for v in p) + "\n" for p in polygons))
        result = outcome(lambda: read_vot(root), gt)
        if isinstance(result, list):
            (seq,) = result
            assert np.all(np.isfinite(seq.boxes[0])) and np.all(seq.boxes[0][2:] > 0)
            np.testing.assert_array_equal(seq.meta["polygons"], np.array(polygons))


@st.composite
def rotated_rectangle(draw) -> list[float]:
    cx, cy = draw(st.floats(0, 100)), draw(st.floats(0, 100))
    w, h = draw(st.floats(1, 50)), draw(st.floats(1, 50))
    a = draw(st.floats(0, math.pi))
    c, s = math.cos(a), math.sin(a)
    corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return [v for dx, dy in corners for v in (cx + c * dx - s * dy, cy + s * dx + c * dy)]


@FUZZ
@given(polygons=st.lists(rotated_rectangle(), min_size=N, max_size=N), sep=st.sampled_from([",", " ", "\t"]))
def test_vot_valid_polygons_are_read(polygons, sep):
    with scratch() as root:
        write(vot_fixture(root), "".join(sep.join(repr(v) for v in p) + "\n" for p in polygons))
        (seq,) = read_vot(root)
        np.testing.assert_allclose(seq.meta["polygons"], polygons)
        np.testing.assert_allclose(seq.boxes, [polygon_to_box(p) for p in polygons])


@FUZZ
@given(data=file_bytes, suffix=st.sampled_from([".tag", ".label"]))
def test_vot_tag_file_random_content(data, suffix):
    with scratch() as root:
        write(vot_fixture(root), with_line(POLYGON, 1, POLYGON))
        tag = write(root / "seq" / f"occlusion{suffix}", data)
        outcome(lambda: read_vot(root), tag)


# ---------------------------------------------------------------- GOT-10k


def got_fixture(root: Path) -> Path:
    write(root / "list.txt", "GOT-10k_Val_000001\n")
    folder = root / "GOT-10k_Val_000001"
    write_frames(folder, pattern="{:08d}.jpg")
    for label in ("absence", "cut_by_image", "cover"):
        write(folder / f"{label}.label", "0\n0\n8\n" if label == "cover" else "0\n0\n0\n")
    write(folder / "meta_info.ini", "[METAINFO]\nobject_class: car\n")
    return folder / "groundtruth.txt"


@FUZZ
@given(line=fuzz_line, k=st.integers(1, N))
def test_got10k_malformed_line_names_file_and_line(line, k):
    with scratch() as root:
        gt = write(got_fixture(root), with_line("1,1,4,4", k, line))
        outcome(lambda: read_got10k(root), gt, line=k, blank_ok=not line.strip())


@FUZZ
@given(data=file_bytes, which=st.sampled_from(["groundtruth.txt", "absence.label", "cover.label", "meta_info.ini"]))
def test_got10k_random_bytes(data, which):
    with scratch() as root:
        write(got_fixture(root), with_line("1,1,4,4", 1, "1,1,4,4"))
        spoilt = write(root / "GOT-10k_Val_000001" / which, data)
        outcome(lambda: read_got10k(root), spoilt)


@FUZZ
@given(line=fuzz_line, k=st.integers(1, N), label=st.sampled_from(["absence", "cut_by_image", "cover"]))
def test_got10k_malformed_label_line(line, k, label):
    with scratch() as root:
        write(got_fixture(root), with_line("1,1,4,4", 1, "1,1,4,4"))
        spoilt = write(root / "GOT-10k_Val_000001" / f"{label}.label", with_line("0", k, line))
        # a line of 0 or several values changes the count (no line to name); a bad value names its line
        outcome(lambda: read_got10k(root), spoilt, line=k, blank_ok=True)


# ---------------------------------------------------------------- LaSOT


def lasot_fixture(root: Path) -> Path:
    folder = root / "airplane" / "airplane-1"
    write_frames(folder / "img", pattern="{:08d}.jpg")
    write(folder / "full_occlusion.txt", "0,0,1\n")
    write(folder / "out_of_view.txt", "0,0,0\n")
    write(folder / "nlp.txt", "white airplane\n")
    write(root / "testing_set.txt", "airplane-1\n")
    return folder / "groundtruth.txt"


@FUZZ
@given(line=fuzz_line, k=st.integers(1, N))
def test_lasot_malformed_line_names_file_and_line(line, k):
    with scratch() as root:
        gt = write(lasot_fixture(root), with_line("1,1,4,4", k, line))
        outcome(lambda: read_lasot(root), gt, line=k, blank_ok=not line.strip())


@FUZZ
@given(
    data=st.one_of(file_bytes, token_line().map(str.encode)),
    which=st.sampled_from(["groundtruth.txt", "full_occlusion.txt", "out_of_view.txt", "nlp.txt"]),
)
def test_lasot_random_bytes(data, which):
    with scratch() as root:
        write(lasot_fixture(root), with_line("1,1,4,4", 1, "1,1,4,4"))
        spoilt = write(root / "airplane" / "airplane-1" / which, data)
        outcome(lambda: read_lasot(root), spoilt)


# ---------------------------------------------------------------- list files (VOT, GOT-10k, LaSOT)


def read_vot_list(root: Path):
    write(vot_fixture(root), with_line("1,1,4,4", 1, "1,1,4,4"))
    return root / "list.txt", lambda: read_vot(root)


def read_got_list(root: Path):
    write(got_fixture(root), with_line("1,1,4,4", 1, "1,1,4,4"))
    (root / "GOT-10k_Val_000001").rename(root / "seq")
    return root / "list.txt", lambda: read_got10k(root)


def read_lasot_list(root: Path):
    write(lasot_fixture(root), with_line("1,1,4,4", 1, "1,1,4,4"))
    return root / "testing_set.txt", lambda: read_lasot(root, subset="test")


@FUZZ
@pytest.mark.parametrize("make", [read_vot_list, read_got_list, read_lasot_list], ids=["vot", "got10k", "lasot"])
@given(names=st.lists(list_name, max_size=4), data=st.one_of(st.none(), st.binary(max_size=60)))
def test_list_file_fuzz(make, names, data):
    """Every listed name is the folder of a sequence; anything else is an error at its line."""
    with scratch() as root:
        list_path, read = make(root)
        write(list_path, data if data is not None else "".join(n + "\n" for n in names))
        result = outcome(read, list_path)
        if isinstance(result, MetatrackError) and data is None:
            assert result.line is not None or "names no sequence" in str(result)


# ---------------------------------------------------------------- ImageNet VID

field_text = st.one_of(
    number_token,
    st.sampled_from(["", " ", "12", " 7 ", "1.5", "0", "-1", "2147483648", "1e30", "<", "&amp;", "]]>"]),
    any_line,
)


@st.composite
def vid_xml(draw) -> bytes:
    """An annotation with fields left out, odd values, a random encoding, maybe cut short."""

    def element(tag: str, value: str | None) -> str:
        if value is None:
            return ""
        escaped = value.replace("&", "&amp;").replace("<", "&lt;") if draw(st.booleans()) else value
        return f"<{tag}>{escaped}</{tag}>"

    def maybe(values) -> str | None:
        return draw(st.one_of(st.none(), values))

    parts = ["<annotation><folder>v</folder><filename>000000</filename>"]
    if draw(st.integers(0, 4)):
        parts.append("<size>" + element("width", maybe(field_text)) + element("height", maybe(field_text)) + "</size>")
    for _ in range(draw(st.integers(0, 3))):
        obj = element("trackid", maybe(field_text)) + element("name", maybe(any_line))
        if draw(st.integers(0, 4)):
            obj += "<bndbox>" + "".join(element(t, maybe(field_text)) for t in ("xmax", "xmin", "ymax", "ymin"))
            obj += "</bndbox>"
        obj += element("occluded", maybe(field_text)) + element("generated", maybe(field_text))
        parts.append(f"<object>{obj}</object>")
    text = "".join(parts) + "</annotation>"
    encoding = draw(st.sampled_from([None, "utf-8", "latin-1", "ascii", "utf-16", "shift_jis", "bogus", "hex"]))
    if encoding is not None:
        text = f'<?xml version="1.0" encoding="{encoding}"?>' + text
    data = text.encode("utf-8", "surrogatepass")
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    return data if cut is None else data[:cut]


def vid_fixture(root: Path, n: int = 2) -> Path:
    ann = root / "Annotations" / "VID" / "val" / "v1"
    data = root / "Data" / "VID" / "val" / "v1"
    data.mkdir(parents=True)
    for i in range(n):
        box = "<bndbox><xmax>29</xmax><xmin>10</xmin><ymax>29</ymax><ymin>10</ymin></bndbox>"
        write(ann / f"{i:06d}.xml", f"<annotation><size><width>100</width><height>80</height></size>"
              f"<object><trackid>0</trackid><name>n1</name>{box}</object></annotation>")  # fmt: skip
        (data / f"{i:06d}.JPEG").write_bytes(JPEG)
    return ann


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), vid_xml()))
def test_vid_annotation_fuzz(data):
    with scratch() as root:
        ann = vid_fixture(root)
        spoilt = write(ann / "000001.xml", data)
        result = outcome(lambda: parse_annotation(spoilt), spoilt)
        if isinstance(result, FrameObjects):
            w, h = result.size
            assert isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0
            assert all(isinstance(t, int) for t in result.objects)
        outcome(
            lambda: read_imagenet_vid(root, subset="val"), ann, allow_empty=True
        )  # a size mismatch names the video folder


@st.composite
def vid_object(draw) -> tuple[int, tuple[int, int, int, int]]:
    x1, y1 = draw(st.integers(0, 90)), draw(st.integers(0, 70))
    return draw(st.integers(0, 20)), (x1, y1, x1 + draw(st.integers(0, 9)), y1 + draw(st.integers(0, 9)))


@FUZZ
@given(
    objects=st.lists(vid_object(), max_size=4, unique_by=lambda o: o[0]),
    size=st.tuples(st.integers(1, 4000), st.integers(1, 4000)),
)
def test_vid_valid_annotation_is_read(objects, size):
    with scratch() as root:
        body = "".join(
            f"<object><trackid>{t}</trackid><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>"
            f"<ymax>{y2}</ymax></bndbox></object>"
            for t, (x1, y1, x2, y2) in objects
        )
        path = write(
            root / "a.xml",
            f"<annotation><size><width>{size[0]}</width><height>{size[1]}</height></size>{body}</annotation>",
        )
        frame = parse_annotation(path)
        assert frame.size == size
        for t, (x1, y1, x2, y2) in objects:
            np.testing.assert_array_equal(frame.objects[t][0], [x1, y1, x2 - x1 + 1, y2 - y1 + 1])


# ---------------------------------------------------------------- user video, first box


@FUZZ
@given(lines=st.lists(fuzz_line, max_size=3), origin=st.sampled_from([0.0, 1.0]))
def test_first_box_file_fuzz(lines, origin):
    with scratch() as root:
        path = write(root / "box.txt", "\n".join(lines))
        result = outcome(lambda: read_first_box(path, origin), path)
        if isinstance(result, np.ndarray):
            assert result.shape == (4,) and np.all(np.isfinite(result)) and np.all(result[2:] > 0)


@FEW
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".mp4", ".avi", ".mkv"]))
def test_video_file_random_bytes(data, suffix):
    with scratch() as root:
        path = write(root / f"clip{suffix}", data)
        outcome(lambda: read_video(path), path)


# ---------------------------------------------------------------- results files read by the scorer


def scored_sequence(root: Path) -> Sequence:
    write_frames(root / "frames")
    frames = sorted((root / "frames").iterdir())
    return Sequence("seq", ImageFiles(frames), np.tile([1.0, 1.0, 4.0, 4.0], (N, 1)), origin=1.0)


@FUZZ
@given(line=fuzz_line, k=st.integers(1, N), times=st.one_of(st.none(), file_bytes))
def test_ope_results_fuzz(line, k, times):
    with scratch() as root:
        seq = scored_sequence(root)
        boxes = write(root / "results" / "T" / "seq.txt", with_line("1,1,4,4", k, line))
        outcome(lambda: read_ope_result(root / "results" / "T", seq), boxes, line=k, blank_ok=not line.strip())
        culprits = [boxes]
        if times is not None:
            culprits.append(write(root / "results" / "T" / "seq_time.txt", times))
        outcome(lambda: score_results([seq], root / "results"), *culprits)


@FUZZ
@given(line=fuzz_line, k=st.integers(1, N), times=st.one_of(st.none(), file_bytes))
def test_vot_results_fuzz(line, k, times):
    with scratch() as root:
        seq = scored_sequence(root)
        rows = ["1", "1,1,4,4", "2"]  # initialised, tracked, failed
        rows[k - 1] = line
        run = write(root / "results" / "T" / "seq_001.txt", "\n".join(rows) + "\n")
        outcome(lambda: read_vot_results(root / "results" / "T", seq), run, line=k, blank_ok=not line.strip())
        culprits = [run]
        if times is not None:
            culprits.append(write(root / "results" / "T" / "seq_001_time.txt", times))
        outcome(lambda: score_results([seq], root / "results", protocol="vot"), *culprits)


# ---------------------------------------------------------------- regression tests: bugs the fuzzing found


def test_xml_entity_expansion_is_refused(tmp_path):
    """A 'billion laughs' annotation must fail fast (expat's amplification limit), not hang."""
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10))
    path = write(tmp_path / "000000.xml", f'<!DOCTYPE a [<!ENTITY e0 "lol">{entities}]><annotation>&e9;</annotation>')
    with pytest.raises(DataError, match="000000.xml"):
        parse_annotation(path)


def test_flag_too_large_for_int64_is_a_data_error(tmp_path):
    """Found: ``1e20`` in a VOT tag file raised OverflowError (``int(1e20)`` does not fit int64)."""
    for k, bad in enumerate(["1e20", "inf", "-inf", "nan", "0.5"]):
        path = write(tmp_path / f"occlusion{k}.tag", f"0\n{bad}\n")
        with pytest.raises(DataError, match=rf"occlusion{k}\.tag, line 2: not an integer flag"):
            read_flags(path)
    np.testing.assert_array_equal(read_flags(write(tmp_path / "ok.tag", "0\n1.0\n-1\n8\n")), [0, 1, -1, 8])


@pytest.mark.parametrize("make", [read_vot_list, read_got_list, read_lasot_list], ids=["vot", "got10k", "lasot"])
@pytest.mark.parametrize("name", ["/", "..", ".", "../seq", "sub/seq"])
def test_list_entry_outside_the_data_set_is_refused(tmp_path, make, name):
    """Found: a list line ``/`` read the file-system root as a sequence, then blamed /groundtruth.txt."""
    list_path, read = make(tmp_path)
    write(list_path, f"{name}\n")
    with pytest.raises(DataError, match=rf"{list_path.name}, line 1: .* is not a sequence folder name"):
        read()


@pytest.mark.parametrize("make", [read_vot_list, read_got_list, read_lasot_list], ids=["vot", "got10k", "lasot"])
def test_list_entry_too_long_for_the_file_system(tmp_path, make):
    """Found: a 300-character list line leaked OSError (ENAMETOOLONG) from Path.is_dir()."""
    list_path, read = make(tmp_path)
    write(list_path, "x" * 300 + "\n")
    with pytest.raises(DataError, match=rf"{list_path.name}, line 1: sequence folder .* does not exist"):
        read()


@pytest.mark.parametrize("encoding", ["shiftjis", "utf-16", "b", "hex"])
def test_vid_xml_with_undecodable_encoding(tmp_path, encoding):
    """Found: ``encoding="shiftjis"`` leaked ValueError, ``encoding="b"`` LookupError, from ET.parse."""
    path = write(tmp_path / "000000.xml", f'<?xml version="" encoding="{encoding}"?>')
    with pytest.raises(DataError, match=r"000000\.xml"):
        parse_annotation(path)


@pytest.mark.parametrize(
    ("size", "track"),
    [("nan", "0"), ("inf", "0"), ("0", "0"), ("-3", "0"), ("1e30", "0"), ("1.5", "0"), ("100", "nan"), ("100", "-1")],
)
def test_vid_size_and_trackid_must_be_integers(tmp_path, size, track):
    """Found: ``<width>nan</width>`` leaked ValueError, ``inf`` OverflowError, ``0`` was accepted
    (and divided by zero in the clip rule); ``<trackid>nan</trackid>`` leaked ValueError."""
    path = write(
        tmp_path / "000000.xml",
        f"<annotation><size><width>{size}</width><height>80</height></size><object><trackid>{track}</trackid>"
        "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>",
    )
    tag = "width" if size != "100" else "trackid"
    with pytest.raises(DataError, match=rf"000000\.xml: <{tag}> is not an integer"):
        parse_annotation(path)


def test_got10k_target_absent_on_first_frame_blames_absence_label(tmp_path):
    """Found: ``absence.label`` = 1 on frame 1 gave "groundtruth.txt, line 1: the first box is NaN"
    although that line holds a valid box."""
    write(got_fixture(tmp_path), "1,1,4,4\n1,1,4,4\n1,1,4,4\n")
    write(tmp_path / "GOT-10k_Val_000001" / "absence.label", "1\n0\n0\n")
    with pytest.raises(DataError, match=r"absence\.label, line 1: the target is marked absent on frame 1"):
        read_got10k(tmp_path)
    write(tmp_path / "GOT-10k_Val_000001" / "absence.label", "0\n1\n0\n")
    (seq,) = read_got10k(tmp_path)
    assert np.isnan(seq.boxes[1]).all() and np.isfinite(seq.boxes[[0, 2]]).all()
