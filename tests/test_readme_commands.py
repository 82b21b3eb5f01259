"""Every `metatrack` command in the README and in docs/*.md works: the documentation never lies.

Every command of the ```bash blocks of README.md and of every Markdown file in docs/
(``.venv/bin/metatrack ...``, ``metatrack ...`` or ``torchrun ... -m metatrack.cli ...``) is

- parsed by the command line's own parser (:func:`metatrack.cli.build_parser`), so that an unknown
  command or option, a missing required option or a bad choice fails here; its values are checked
  too: data set specs (``FORMAT:PATH``), tracker names, config files, torchrun's own options;
- and, where cheap, executed (:data:`RULES`, mode ``run``) in a temporary folder, on small data the
  test writes in the layout the command expects: a 6-frame video for ``my_video.mp4``, an image folder
  for ``frames_folder/``, tiny OTB / VOT / GOT-10k folders for ``otb:/data/OTB100``,
  ``vot:/data/vot2016``, ``got10k:/data/GOT-10k/val`` and ``embedded:eval``, the README's own
  ``my_tracker.py``. Commands that need a camera, a GPU, a user's training data or many minutes are
  parse-checked only, each with its reason.

A documented command that matches no rule fails the test until it is classified here. Inline code
spans (```metatrack ...```) in the prose are checked for their command and option names; the YAML
snippets of meta-training configs are loaded as ``metatrack train`` would load them; the README's
Python example runs; every relative link of the documents leads to an existing file and heading.
"""

from __future__ import annotations

import argparse
import inspect
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from tiny_otb import DEFAULT_SPECS, boxes_of, write_otb

from metatrack.cli import build_parser, load_config, main
from metatrack.data import FORMATS, parse_dataset_spec
from metatrack.training import MetaTrainConfig

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: the documents whose commands are checked: the README first, then every Markdown file of docs/
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]

# (pattern on the command after `metatrack`, mode, reason); the first rule that matches decides.
RULES: list[tuple[str, str, str]] = [
    (r"^track 0 ", "parse", "reads camera 0: no camera on a test machine"),
    (r"--device cuda", "parse", "needs a GPU (and, for --model runs/vid/..., a model meta-trained on the user's data)"),
    (r"--model runs/pysdnet/", "parse", "needs the model the pysdnet pre-training command writes (minutes)"),
    (r"^train ", "parse", "meta-training runs for thousands of iterations (23 min for the shipped config on 2 CPU "
                          "cores); its config is loaded here, tests/test_training.py runs the loop itself"),
    (r"^demo\b", "parse", "the demo takes minutes; scripts/demo.sh runs it, tests cover its parts"),
    (r"^synth ", "parse", "writes a whole split (16 x 150 or 48 x 120 frames); tests/test_cli_pipeline.py runs "
                          "synth on a small split"),
    (r"^init-analysis ", "parse", "first-frame training of the deep trackers on 16 sequences takes minutes"),
    (r"^bench (?!.*--plugin)", "parse", "the default trackers include sdnet-30 and crest-converged: minutes; "
                                        "tests/test_bench.py and the --plugin bench below run bench on small data"),
    (r"^trackers\b", "run", "lists the registered trackers"),
    (r"^calibrate ", "parse", "runs eleven trackers over the validation data sets (about 40 min on 2 CPU cores); "
                              "tests/test_calibration.py runs calibrate on a small data set with absences"),
    (r"^export --onnx ", "run", "exports a feature extractor and checks it with onnxruntime (seconds)"),
    (r"^track (my_video\.mp4|frames_folder/) ", "run", "on a 6-frame video / image folder written by the test"),
    (r"^track match\.mp4 ", "run", "on a 90-frame 640x360 video of three moving targets written by the test"),
    (r"^vot-workspace ", "run", "writes a VOT toolkit workspace of the small data (tests/test_vot_toolkit.py runs "
                                "the toolkit on such a workspace)"),
    (r"^vot-import |^score .*vot:runs/vot-ws", "parse", "read results that the VOT toolkit writes (its own "
                                                         "environment, minutes); tests/test_vot_toolkit.py runs "
                                                         "both after vot evaluate"),
    (r"^run .*--dataset embedded:runs/crossing_long ", "parse", "tracks four trackers over 8 x 600 frames (about 8 "
                                                              "min on 2 CPU cores) of the folder synth writes"),
    (r"^(run|score|report) ", "run", "on small data in the layout the command names"),
    (r"^bench .*--plugin", "run", "the README's own tracker file and opencv-kcf on small data"),
]

#: FORMAT:PATH specs of the README -> the small data set (in the same layout) used to execute them
SUBSTITUTE = {"embedded:eval": "otb", "otb:/data/OTB100": "otb_jogging", "vot:/data/vot2016": "vot",
              "got10k:/data/GOT-10k/val": "got10k"}


@dataclass
class Command:
    document: str  # README.md or docs/NAME.md
    line: int  # in that document
    text: str  # as written (continuation lines joined)
    argv: list[str]  # after the program (`metatrack`, `-m metatrack.cli`)
    launcher: list[str]  # torchrun and its options, or []

    @property
    def key(self) -> str:
        return " ".join(self.argv)

    @property
    def where(self) -> str:
        return f"{self.document}:{self.line}: {self.text!r}"

    def rule(self) -> tuple[str, str, str] | None:
        return next((r for r in RULES if re.search(r[0], self.key)), None)


def name_of(document: Path) -> str:
    return str(document.relative_to(ROOT))


def document_blocks(document: Path, language: str) -> list[tuple[int, str]]:
    """(first line number, text) of every fenced block of ``language`` in one document."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(document.read_text().splitlines(), start=1):
        if current is None and line.strip() == f"```{language}":
            current, start = [], number + 1
        elif current is not None and line.strip() == "```":
            blocks.append((start, "\n".join(current)))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def readme_blocks(language: str) -> list[tuple[int, str]]:
    """(first line number, text) of every fenced block of ``language`` in README.md."""
    return document_blocks(README, language)


def all_blocks(language: str) -> list[tuple[str, int, str]]:
    """(document, first line number, text) of every fenced block of ``language`` in every document."""
    return [(name_of(d), start, text) for d in DOCUMENTS for start, text in document_blocks(d, language)]


def document_commands(document: Path) -> list[Command]:
    commands = []
    for start, block in document_blocks(document, "bash"):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            first, text = i, lines[i]
            while text.rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                text = text.rstrip()[:-1] + " " + lines[i].strip()
            i += 1
            tokens = shlex.split(text, comments=True)
            for k, tok in enumerate(tokens):
                if tok == "metatrack" or tok.endswith("/metatrack"):
                    commands.append(Command(name_of(document), start + first, text.strip(), tokens[k + 1:], []))
                    break
                if tok == "-m" and k + 1 < len(tokens) and tokens[k + 1] in ("metatrack.cli", "metatrack"):
                    commands.append(Command(name_of(document), start + first, text.strip(), tokens[k + 2:],
                                            tokens[:k]))
                    break
    return commands


README_COMMANDS = document_commands(README)
COMMANDS = [c for d in DOCUMENTS for c in document_commands(d)]


def test_the_readme_has_the_commands_a_newcomer_needs():
    keys = [c.key for c in README_COMMANDS]
    for needed in (r"^track my_video", r"^run .*embedded:eval", r"^score ", r"^report .*--format html",
                   r"^train --config src/metatrack/configs/", r"^train .*--resume", r"--plugin my_tracker\.py"):
        assert any(re.search(needed, k) for k in keys), needed
    first_two = [b for _, b in readme_blocks("bash")][0].splitlines()[:2]
    assert [line.split("#")[0].strip() for line in first_two] == ["bash scripts/demo.sh", "bash scripts/test.sh"]


def test_the_docs_have_the_commands_the_readme_moved_there():
    keys = [c.key for c in COMMANDS]
    assert len(COMMANDS) >= 25
    assert len(DOCUMENTS) > 1 and any(c.document.startswith("docs/") for c in COMMANDS)
    for needed in (r"^track my_video", r"^run .*otb:", r"^run .*vot:.*--protocol vot", r"^run .*got10k:",
                   r"^report .*--format html", r"^train .*--device cuda", r"--plugin my_tracker\.py",
                   r"^init-analysis ", r"^bench ", r"^synth ", r"^demo"):
        assert any(re.search(needed, k) for k in keys), needed
    assert any(c.launcher and "--nnodes=2" in c.launcher for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.document}:{c.line}" for c in COMMANDS])
def test_every_documented_command_is_classified_and_parses(command):
    rule = command.rule()
    assert rule is not None, f"{command.where} matches no rule: add it to RULES"
    args = parse(command)
    check_values(command, args)


def parse(command: Command) -> argparse.Namespace:
    try:
        return build_parser().parse_args(command.argv)
    except SystemExit as exc:  # argparse reports unknown options and missing arguments this way
        raise AssertionError(f"{command.where} is rejected by the parser") from exc


def known_trackers() -> set[str]:
    from metatrack.trackers import available_trackers

    names = set(available_trackers())
    for _, _, block in all_blocks("python"):  # trackers the documents themselves register
        names.update(re.findall(r"register_tracker\(\"([^\"]+)\"", block))
    return names


def check_values(command: Command, args: argparse.Namespace) -> None:
    where = command.where
    specs = getattr(args, "dataset", None) or []
    for spec in [specs] if isinstance(specs, str) else specs:  # `calibrate --dataset` is repeatable
        fmt, _ = parse_dataset_spec(spec)
        assert fmt in FORMATS, where
    for attr in ("tracker", "trackers"):
        value = getattr(args, attr, None)
        if value:
            for name in value.split(","):
                assert ":" in name or name in known_trackers(), f"{where}: unknown tracker {name!r}"
    if getattr(args, "config", None):
        config = ROOT / args.config
        if config.is_file():  # a shipped config: loads, and its meta-training section is valid
            MetaTrainConfig.from_dict(load_config(config).get("meta_training") or {})
        else:  # a user's config: the documents show it as a YAML snippet naming the file
            assert any(f"# {args.config}" in block for _, _, block in all_blocks("yaml")), (
                f"{where}: --config {args.config} is neither a shipped file nor shown in the documents")
    if getattr(args, "plugin", None):
        for plugin in args.plugin:
            assert plugin == "my_tracker.py", f"{where}: plugin {plugin} is not the README's own my_tracker.py"
    if command.launcher:
        assert Path(command.launcher[0]).name == "torchrun", where
        from torch.distributed.run import get_args_parser

        launched = get_args_parser().parse_args(command.launcher[1:] + ["-m", "metatrack.cli"] + command.argv)
        assert launched.module and launched.training_script == "metatrack.cli", where


# ---------------------------------------------------------------- inline commands and YAML


def inline_commands() -> list[str]:
    found = []
    for document in DOCUMENTS:
        text = re.sub(r"```.*?```", "", document.read_text(), flags=re.S)
        found += [" ".join(m.split()) for m in re.findall(r"`(?:\.venv/bin/)?metatrack ([^`]+)`", text)]
    return found


def test_inline_commands_name_real_commands_and_options():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = inline_commands()
    assert len(found) >= 5
    for text in found:
        tokens = shlex.split(text)
        if tokens[0].startswith("-"):
            target, options = parser, tokens
        else:
            assert tokens[0] in sub.choices, f"`metatrack {text}`: no command {tokens[0]!r}"
            target, options = sub.choices[tokens[0]], tokens[1:]
        known = {s for a in target._actions for s in a.option_strings}
        for tok in options:
            if tok.startswith("-"):
                assert tok.split("=")[0] in known, f"`metatrack {text}`: no option {tok}"


def test_yaml_snippets_are_valid_meta_training_configs(tmp_path):
    blocks = [yaml.safe_load(b) for _, _, b in all_blocks("yaml")]
    assert blocks
    shipped = yaml.safe_load((ROOT / "src/metatrack/configs/metasdnet.yaml").read_text())
    for snippet in blocks:
        sources = snippet["meta_training"]["sources"]
        MetaTrainConfig.from_dict(snippet["meta_training"])
        for source in sources:  # each reader accepts the options given
            fmt, path = parse_dataset_spec(source["dataset"])
            module, _, func = FORMATS[fmt].partition(":")
            reader = getattr(__import__(module, fromlist=[func]), func)
            inspect.signature(reader).bind(path, **(source.get("options") or {}))
        # as a user makes my_vid.yaml: the shipped config with these sources
        config = dict(shipped, meta_training=dict(shipped["meta_training"], sources=sources))
        (tmp_path / "my_vid.yaml").write_text(yaml.safe_dump(config))
        MetaTrainConfig.from_dict(load_config(tmp_path / "my_vid.yaml")["meta_training"])


# ---------------------------------------------------------------- running the cheap commands


def write_video(path: Path, frames: int = 6, size=(320, 240)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, size)
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), (9, 9), 0)
    for i in range(frames):  # the README's box 120,80,60,90 moving right
        img = background.copy()
        x = 120 + 3 * i
        img[80:170, x:x + 60] = (40, 40, 220)
        img[100:150, x + 15:x + 45] = (220, 220, 40)
        writer.write(img)
    writer.release()


#: the three targets of ``match.mp4`` on its first frame (docs/tracking.md's boxes), x, y, w, h
MATCH_TARGETS = [(40, 60, 30, 50), (300, 150, 40, 60), (520, 200, 30, 50)]


def write_match(path: Path, frames: int = 90, size=(640, 360)) -> None:
    """``match.mp4`` of docs/tracking.md: three textured targets drifting over a textured background."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, size)
    assert writer.isOpened()
    rng = np.random.default_rng(1)
    background = cv2.GaussianBlur(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), (9, 9), 0)
    textures = [cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (3, 3), 0)
                for _, _, w, h in MATCH_TARGETS]
    for i in range(frames):
        img = background.copy()
        for k, ((x, y, _, _), texture) in enumerate(zip(MATCH_TARGETS, textures, strict=True)):
            x, y = x + i * (1 if k != 1 else -1), y + (i // 3) * (1 if k != 2 else -1)
            img[y:y + texture.shape[0], x:x + texture.shape[1]] = texture
        writer.write(img)
    writer.release()


def write_vot(root: Path) -> Path:
    """The OTB toy sequences in VOT-2016 layout: list.txt, frames in the folder, polygons, .tag files."""
    otb = write_otb(root.with_name(root.name + "-src"))
    root.mkdir()
    (root / "list.txt").write_text("\n".join(DEFAULT_SPECS) + "\n")
    for name, spec in DEFAULT_SPECS.items():
        folder = root / name
        folder.mkdir()
        for i, img in enumerate(sorted((otb / name / "img").glob("*.jpg"))):
            shutil.copy(img, folder / f"{i + 1:08d}.jpg")
        lines = [",".join(f"{v:g}" for v in (x, y, x + w, y, x + w, y + h, x, y + h)) for x, y, w, h in boxes_of(spec)]
        (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
        (folder / "occlusion.tag").write_text("0\n1\n")
    return root


def write_got10k(root: Path) -> Path:
    """The OTB toy sequences in GOT-10k val layout."""
    otb = write_otb(root.with_name(root.name + "-src"))
    root.mkdir(parents=True)
    names = [f"GOT-10k_Val_{i:06d}" for i in range(1, len(DEFAULT_SPECS) + 1)]
    (root / "list.txt").write_text("\n".join(names) + "\n")
    for seq_name, (name, spec) in zip(names, DEFAULT_SPECS.items(), strict=True):
        folder = root / seq_name
        folder.mkdir()
        for i, img in enumerate(sorted((otb / name / "img").glob("*.jpg"))):
            shutil.copy(img, folder / f"{i + 1:08d}.jpg")
        boxes = boxes_of(spec)
        (folder / "groundtruth.txt").write_text("".join(",".join(f"{v:g}" for v in b) + "\n" for b in boxes))
        (folder / "absence.label").write_text("0\n" * len(boxes))
        (folder / "cover.label").write_text("8\n" * len(boxes))
        (folder / "meta_info.ini").write_text("[METAINFO]\nobject_class: toy\n")
    return root


def write_otb_with_two_targets(root: Path) -> Path:
    write_otb(root)
    jog = root / "Jogging"
    shutil.copytree(root / "Alpha" / "img", jog / "img")
    (jog / "groundtruth_rect.1.txt").write_text("".join(f"{11 + 2 * i},13,14,10\n" for i in range(8)))
    (jog / "groundtruth_rect.2.txt").write_text("".join(f"{40 - i}\t{30 + i}\t12\t16\n" for i in range(8)))
    return root


def make_work(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The folder the commands run in (files the README names) and the data set specs to use."""
    work = tmp_path / "work"
    work.mkdir()
    write_video(work / "my_video.mp4")
    write_match(work / "match.mp4")
    frames = work / "frames_folder"
    frames.mkdir()
    boxes = boxes_of(DEFAULT_SPECS["Alpha"])
    for i, img in enumerate(sorted((write_otb(tmp_path / "frames-src") / "Alpha" / "img").glob("*.jpg"))):
        shutil.copy(img, frames / f"{i + 1}.jpg")
    (work / "groundtruth_rect.txt").write_text("".join(f"{x + 1:g},{y + 1:g},{w:g},{h:g}\n" for x, y, w, h in boxes))
    code = next(b for _, b in readme_blocks("python") if 'register_tracker("my-tracker")' in b)
    (work / "my_tracker.py").write_text(code + "\n")
    data = {
        "otb": f"otb:{write_otb(tmp_path / 'otb')}",
        "otb_jogging": f"otb:{write_otb_with_two_targets(tmp_path / 'OTB100')}",
        "vot": f"vot:{write_vot(tmp_path / 'vot2016')}",
        "got10k": f"got10k:{write_got10k(tmp_path / 'GOT-10k' / 'val')}",
    }
    return work, data


def substituted(command: Command, data: dict[str, str]) -> list[str]:
    argv = list(command.argv)
    for i, tok in enumerate(argv):
        if i and argv[i - 1] == "--dataset":
            assert tok in SUBSTITUTE, f"{command.where}: no small data set stands in for {tok}"
            argv[i] = data[SUBSTITUTE[tok]]
    return argv


def outputs(args: argparse.Namespace) -> list[str]:
    """The files and folders a command says it writes."""
    if args.command == "report":
        return [str(Path(args.out) / ("report.md" if args.format == "md" else "report.html"))]
    if args.command == "bench":
        return [str(Path(args.out) / "bench.json")]
    if args.command == "vot-workspace":
        return [str(Path(args.out) / "trackers.ini"), str(Path(args.out) / "sequences" / "list.txt")]
    found = [getattr(args, a, None) for a in ("json", "boxes")]
    if args.command == "run":
        found.append(args.results)
    if args.command == "track":
        found.append(args.out)
    return [f for f in found if f]


@pytest.mark.slow
def test_cheap_readme_commands_run(tmp_path, monkeypatch, capsys):
    import metatrack.trackers.base as registry

    work, data = make_work(tmp_path)
    monkeypatch.chdir(work)
    sys.modules.pop("my_tracker", None)
    registry._REGISTRY.pop("my-tracker", None)
    executed = []
    try:
        for command in COMMANDS:  # in document order: each document's commands build on each other
            rule = command.rule()
            if rule is None or rule[1] != "run" or command.key in executed:
                continue
            argv = substituted(command, data)
            code = main(argv)
            printed = capsys.readouterr()
            assert code == 0, (f"{command.where} exited {code}\n"
                               f"ran: metatrack {shlex.join(argv)}\n{printed.out}\n{printed.err}")
            args = build_parser().parse_args(argv)
            for path in outputs(args):
                assert (work / path).exists(), f"{command.where}: {path} was not written"
            executed.append(command.key)
    finally:
        sys.modules.pop("my_tracker", None)
        registry._REGISTRY.pop("my-tracker", None)
    print("\n".join(executed))
    kinds = {k.split()[0] for k in executed}
    assert {"trackers", "track", "run", "score", "report", "bench"} <= kinds
    assert len(executed) >= 15


def readme_bench_commands() -> list[tuple[str, list[str]]]:
    """(document:line, argv after the interpreter) of every `python bench/<script>.py ...` line."""
    found = []
    for document, start, block in all_blocks("bash"):
        for offset, text in enumerate(block.splitlines()):
            if "bench/" not in text:
                continue
            tokens = shlex.split(text, comments=True)
            for k, tok in enumerate(tokens):
                if tok.startswith("bench/") and tok.endswith(".py"):
                    found.append((f"{document}:{start + offset}", tokens[k:]))
                    break
    return found


def test_every_documented_bench_command_uses_options_its_script_has():
    """The bench scripts are not run here (they take minutes); each one the documents name exists and
    accepts every option they give it (checked against its own --help)."""
    commands = readme_bench_commands()
    assert any(argv[0] == "bench/meta_bench.py" for _, argv in commands)
    assert any(argv[0] == "bench/results_tables.py" for _, argv in commands)
    helps: dict[str, str] = {}
    for line, argv in commands:
        script = ROOT / argv[0]
        assert script.is_file(), f"{line}: {argv[0]} does not exist"
        if argv[0] not in helps:
            out = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                                 cwd=ROOT, timeout=120)
            assert out.returncode == 0, f"{argv[0]} --help failed: {out.stderr[-500:]}"
            helps[argv[0]] = out.stdout
        for tok in argv[1:]:
            if tok.startswith("--"):
                option = tok.split("=", 1)[0]
                assert re.search(rf"(^|\s|\[){re.escape(option)}\b", helps[argv[0]]), (
                    f"{line}: {argv[0]} has no option {option}")


# ---------------------------------------------------------------- the Python example and the links


def python_blocks(document: Path, needle: str) -> list[str]:
    return [b for _, b in document_blocks(document, "python") if needle in b]


@pytest.mark.slow
def test_the_readme_python_examples_track_a_video(tmp_path, monkeypatch, capsys):
    """The README's three lines, given a frame and a box as its text says, and its ``metatrack.track``
    loop as written, on the 6-frame video of ``my_video.mp4``."""
    (three,) = python_blocks(README, "metatrack.create_tracker(")
    assert [line.split("#")[0].strip() for line in three.strip().splitlines() if line.strip()] == [
        "import metatrack", 'tracker = metatrack.create_tracker("metasdnet")', "tracker.init(frame, box)",
        "box = tracker.update(frame)"]
    write_video(tmp_path / "my_video.mp4")
    monkeypatch.chdir(tmp_path)
    cap = cv2.VideoCapture("my_video.mp4")
    frame = cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2RGB)
    scope: dict = {"frame": frame, "box": (120, 80, 60, 90)}
    exec(compile(three, "README.md (three lines)", "exec"), scope)
    box = np.asarray(scope["box"], dtype=float)
    assert box.shape == (4,) and np.all(np.isfinite(box)) and box[2] > 0 and box[3] > 0
    assert scope["tracker"].name == "metasdnet"

    (loop,) = python_blocks(README, "metatrack.track(")
    capsys.readouterr()
    exec(compile(loop, "README.md (metatrack.track)", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed] == ["0", "1", "2", "3", "4", "5"]
    assert "120." in printed[0] and printed[0].endswith("nan")


@pytest.mark.slow
def test_the_tracking_docs_python_examples_run(tmp_path, monkeypatch, capsys):
    """docs/tracking.md's Python examples, as written, on ``my_video.mp4`` and ``match.mp4``."""
    document = ROOT / "docs" / "tracking.md"
    blocks = [b for _, b in document_blocks(document, "python")]
    assert any("color=\"bgr\"" in b for b in blocks) and any("track_many(" in b for b in blocks)
    write_video(tmp_path / "my_video.mp4")
    write_match(tmp_path / "match.mp4")
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        capsys.readouterr()
        exec(compile(block, "docs/tracking.md (Python example)", "exec"), {})
        assert capsys.readouterr().out.strip(), block


def heading_anchors(document: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (outside code blocks)."""
    text = re.sub(r"```.*?```", "", document.read_text(), flags=re.S)
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        candidate, n = slug, 1
        while candidate in anchors:
            candidate, n = f"{slug}-{n}", n + 1
        anchors.add(candidate)
    return anchors


def relative_links(document: Path) -> list[tuple[int, str]]:
    """(line, target) of every Markdown link or image of a document that is not a URL."""
    found = []
    in_code = False
    for number, line in enumerate(document.read_text().splitlines(), start=1):
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        for target in re.findall(r"\]\(([^)\s]+)\)", re.sub(r"`[^`]*`", "", line)):
            if not re.match(r"[a-z][a-z0-9+.-]*:", target):
                found.append((number, target))
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=[name_of(d) for d in DOCUMENTS])
def test_every_relative_link_leads_to_a_file_and_heading(document):
    links = relative_links(document)
    assert links, f"{name_of(document)} links nowhere"
    for line, target in links:
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        assert resolved.exists(), f"{name_of(document)}:{line}: {target} does not exist"
        if anchor:
            assert resolved.suffix == ".md", f"{name_of(document)}:{line}: anchor into a non-Markdown file"
            assert anchor in heading_anchors(resolved), (
                f"{name_of(document)}:{line}: {target}: no heading with anchor #{anchor} in {resolved.name}")
