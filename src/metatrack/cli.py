"""The ``metatrack`` command line: one verb per job, each a thin layer over the library.

Every error the project raises on purpose (:class:`MetatrackError`) is printed as one line naming the
file, line or argument at fault, with exit status 2; nothing else is caught.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

from .errors import ConfigError, MetatrackError


def _tracker_list(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ConfigError("--tracker: give at least one tracker name")
    return names


def load_plugin(spec: str) -> ModuleType:
    """Import a user's module that registers trackers (``@register_tracker(...)`` runs on import).

    ``spec`` is a Python file (``my_tracker.py``, imported under its file name, with its folder put
    on ``sys.path`` so that worker processes can import it too) or a module name importable from the
    current folder or the environment (``mypackage.trackers``).
    """
    path = Path(spec)
    if spec.endswith(".py") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"--plugin {spec!r}: no such file")
        folder, name = str(path.resolve().parent), path.stem
        loaded = sys.modules.get(name)
        if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() != path.resolve():
            raise ConfigError(f"--plugin {spec!r}: a module named {name!r} is already imported; rename the file")
    else:
        folder, name = os.getcwd(), spec  # as `python -m` would find it
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        return importlib.import_module(name)
    except MetatrackError:
        raise
    except Exception as exc:
        raise ConfigError(f"--plugin {spec!r}: cannot import it ({type(exc).__name__}: {exc})") from None


def _sequences(args: argparse.Namespace):
    from .data import open_dataset

    sequences = open_dataset(args.dataset)
    if getattr(args, "sequences", None):
        wanted = [s.strip() for s in args.sequences.split(",") if s.strip()]
        by_name = {s.name: s for s in sequences}
        missing = [w for w in wanted if w not in by_name]
        if missing:
            raise ConfigError(f"--sequences: not in {args.dataset}: {', '.join(missing)}")
        sequences = [by_name[w] for w in wanted]
    return sequences


def cmd_synth(args: argparse.Namespace) -> int:
    from .data.composite import DEFAULT_SPLITS, write_split

    default = DEFAULT_SPLITS[args.split]
    paths = write_split(
        Path(args.out),
        args.split,
        sequences=default["sequences"] if args.sequences is None else args.sequences,
        frames=default["frames"] if args.frames is None else args.frames,
        seed=default["seed"] if args.seed is None else args.seed,
        progress=True,
        version=args.version,
        objects=args.objects,
    )
    print(f"{len(paths)} sequences of the {args.split} split in {args.out}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .evaluation.runner import run_tracker

    sequences = _sequences(args)
    kwargs = _runtime_kwargs(args)
    for name in _tracker_list(args.tracker):
        run_tracker(
            name,
            sequences,
            Path(args.results),
            protocol=args.protocol,
            repetitions=args.repetitions,
            jobs=args.jobs,
            seed=args.seed,
            deterministic=args.deterministic,
            tracker_kwargs=kwargs,
        )
    return 0


def _runtime_kwargs(args: argparse.Namespace) -> dict:
    """The tracker keywords of ``--runtime`` and ``--onnx-model`` (none for the default, torch)."""
    device = getattr(args, "device", None)
    if args.onnx_model and args.runtime != "onnx":
        raise ConfigError("--onnx-model is read by --runtime onnx only")
    if args.runtime == "torch":
        return {}
    if device and not device.startswith("cpu"):
        raise ConfigError(f"--runtime {args.runtime} runs on the CPU (onnxruntime's CPU provider): --device {device} "
                          "needs --runtime torch")
    return {"runtime": args.runtime, **({"onnx_model": args.onnx_model} if args.onnx_model else {})}


def _score(args: argparse.Namespace, sequences=None) -> dict:
    from .evaluation.scoring import score_results

    trackers = _tracker_list(args.tracker) if getattr(args, "tracker", None) else None
    eao_range = getattr(args, "eao_range", None)
    if eao_range and "," in eao_range:
        try:
            lo, hi = (int(v) for v in eao_range.split(","))
        except ValueError:
            raise ConfigError(f"--eao-range {eao_range!r}: expected LOW,HIGH or vot2016/vot2017") from None
        eao_range = (lo, hi)
    if sequences is None:
        sequences = _sequences(args)
    return score_results(sequences, Path(args.results), protocol=args.protocol, trackers=trackers,
                         eao_range=eao_range)


def cmd_score(args: argparse.Namespace) -> int:
    from .evaluation.scoring import write_scores
    from .evaluation.tables import format_table

    scores = _score(args)
    print(format_table(scores, args.protocol))
    if args.json:
        write_scores(scores, Path(args.json))
        print(f"scores written to {args.json}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .evaluation.html_report import write_html_report
    from .evaluation.report import write_report

    sequences = _sequences(args)
    scores = _score(args, sequences)
    out = Path(args.out)
    files: dict[str, Path] = {}
    if args.format in ("md", "both"):
        files.update(write_report(scores, out, protocol=args.protocol, title=args.title))
    if args.format in ("html", "both"):
        files["html"] = write_html_report(scores, out, protocol=args.protocol, title=args.title,
                                          sequences=sequences, pngs=files or None)
    print(f"report written to {out} ({len(files)} files)")
    if "html" in files:
        print(f"HTML report: {files['html']} (open it in a browser)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    paths = run_demo(args.out, quick=args.quick, jobs=args.jobs)
    print(f"\nreport: {paths['report']}/ (start with {paths['summary'].name}, report.md and success.png)")
    print(f"HTML report: {paths['html']} (open it in a browser)")
    return 0


def load_config(path: str | Path) -> dict:
    """A YAML config file as a dict; a missing or malformed file is an error naming it."""
    import yaml

    from .errors import DataError

    p = Path(path)
    if not p.is_file():
        raise DataError("config file is missing", p)
    try:
        cfg = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = None if line is None else line + 1
        raise DataError(f"not valid YAML ({getattr(exc, 'problem', exc)})", p, where) from None
    if not isinstance(cfg, dict) or "model" not in cfg:
        raise DataError("a config needs a 'model:' key (metasdnet or metacrest)", p)
    from .trackers.base import trainable_models

    if cfg["model"] not in trainable_models():
        raise DataError(f"model {cfg['model']!r} cannot be meta-trained; known: {', '.join(trainable_models())}", p)
    return cfg


def cmd_train(args: argparse.Namespace) -> int:
    from .training import leave_rank, train_from_config

    cfg = load_config(args.config)
    if args.device == "cuda" and "LOCAL_RANK" in os.environ:  # torchrun: one GPU per process
        args.device = f"cuda:{os.environ['LOCAL_RANK']}"
    model = train_from_config(cfg, args.out, device=args.device, resume=args.resume, progress=not args.no_progress,
                              deterministic=args.deterministic)
    print(f"model: {model}\ntraining curve: {model.parent / 'training_curve.png'}")
    leave_rank(0)  # under torchrun: exit without the interpreter's finalisation (training.leave_rank says why)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_onnx

    done = export_onnx(args.tracker, args.onnx, **({"model": args.model} if args.model else {}))
    print(f"{done['file']}: crop {done['input']} -> features {done['output']}, onnxruntime equals torch within "
          f"{done['relative_error']:.1e} (relative), sha256 {done['sha256']}")
    return 0


def cmd_upgrade_model(args: argparse.Namespace) -> int:
    from .modelfile import MODEL_FORMAT, upgrade_model

    out = upgrade_model(args.model, args.out)
    print(f"{out}: model format {MODEL_FORMAT}")
    return 0


def cmd_init_analysis(args: argparse.Namespace) -> int:
    from .evaluation.init_analysis import analyse, markdown_table, write_analysis

    results = analyse(_tracker_list(args.trackers), _sequences(args), lookahead=args.lookahead, seed=args.seed)
    print(markdown_table(results))
    js, md = write_analysis(results, args.out)
    print(f"written: {js}, {md}")
    return 0


def cmd_track(args: argparse.Namespace) -> int:
    from .data.video import read_first_box
    from .tracking import parse_box, sigterm_as_interrupt, track_video

    if bool(args.box) == bool(args.box_from):
        raise ConfigError("give the first box with exactly one of --box x,y,w,h (once per target) or --box-from FILE")
    if args.box:
        several = len(args.box) > 1
        boxes = [parse_box(text, f"--box #{k + 1}" if several else "--box") for k, text in enumerate(args.box)]
    else:
        boxes = [read_first_box(args.box_from, origin=args.box_origin)]
    kwargs = {}
    if args.model:
        kwargs["model"] = args.model
    if args.device:
        kwargs["device"] = args.device
    kwargs.update(_runtime_kwargs(args))
    if args.deterministic:
        from .determinism import set_deterministic

        set_deterministic(0)  # track_video() seeds the trackers with 0 too
    with sigterm_as_interrupt():  # `kill PID` ends the run as Ctrl-C does: boxes and video kept
        result = track_video(args.input, boxes, tracker=args.tracker, tracker_kwargs=kwargs, out_video=args.out,
                             boxes_file=args.boxes, progress=not args.no_progress, start=args.start, end=args.end,
                             max_frames=args.max_frames)
    targets = f" x {result.targets} targets" if result.targets > 1 else ""
    print(f"{result.frames} frames ({result.first} to {result.last}){targets} tracked at {result.fps:.1f} frames "
          f"per second (first frame {result.init_seconds:.3f} s)")
    for label, path in (("annotated video", args.out), ("boxes", args.boxes)):
        if path:
            print(f"{label}: {path}")
    return 0


#: the trackers `metatrack bench` compares by default
BENCH_TRACKERS = ["metasdnet", "sdnet-30", "metacrest", "crest-converged", "opencv-csrt", "opencv-kcf"]


def cmd_bench(args: argparse.Namespace) -> int:
    from .evaluation.bench import bench, format_bench

    trackers = _tracker_list(args.trackers) if args.trackers else BENCH_TRACKERS
    table = bench(trackers, _sequences(args), Path(args.out), seed=args.seed, tracker_kwargs=_runtime_kwargs(args))
    print(format_bench(table))
    print(f"\nwritten: {Path(args.out) / 'bench.json'}, {Path(args.out) / 'bench.md'}")
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    from .weights import main as weights_main

    return weights_main([])


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .calibration.fit import DEFAULT_DATASETS, DEFAULT_TRACKERS, calibrate

    datasets = args.dataset or list(DEFAULT_DATASETS)
    trackers = _tracker_list(args.trackers) if args.trackers else list(DEFAULT_TRACKERS)
    command = "metatrack calibrate " + " ".join(f"--dataset {d}" for d in datasets) + \
        f" --trackers {','.join(trackers)} --results {args.results} --out {args.out} --seed {args.seed}"
    doc = calibrate(datasets, trackers, Path(args.results), Path(args.out), seed=args.seed, jobs=args.jobs,
                    iou_threshold=args.iou_threshold, command=command)
    for name, entry in doc["trackers"].items():
        v = entry["validation"]
        print(f"{name:18s} a={entry['a']:.4g} b={entry['b']:.4g} present at p >= {entry['threshold']:.3f}  "
              f"validation: ECE {v['ece']:.3f}, LT F {v['lt_f_score']:.3f}")
    print(f"calibrations written to {args.out}")
    return 0


def cmd_trackers(args: argparse.Namespace) -> int:
    from .trackers import available_trackers

    print("\n".join(available_trackers()))
    return 0


def cmd_vot_workspace(args: argparse.Namespace) -> int:
    from .vot_workspace import DEFAULT_TRACKERS, write_workspace

    trackers = _tracker_list(args.trackers) if args.trackers else list(DEFAULT_TRACKERS)
    out = write_workspace(_sequences(args), Path(args.out), trackers, python=args.python,
                          trax_path=args.trax_path, repetitions=args.repetitions, plugins=tuple(args.plugin or ()),
                          progress=True)
    print(f"VOT toolkit workspace written to {out} ({', '.join(trackers)}); "
          "docs/evaluation.md, 'The VOT toolkit over TraX', runs it")
    return 0


def cmd_vot_import(args: argparse.Namespace) -> int:
    from .vot_workspace import import_results

    for name in _tracker_list(args.tracker):
        done = import_results(Path(args.workspace), name, Path(args.results), experiment=args.experiment)
        print(f"{name}: {len(done)} sequence(s) of the toolkit's {args.experiment!r} results in {args.results}")
    return 0


#: --deterministic of run, track and train
DETERMINISTIC_HELP = "bit-identical results from run to run on CPU (one thread, seeded RNGs; metatrack.determinism)"


def _add_dataset(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--dataset",
        required=required,
        default=None if required else "embedded:eval",
        help="FORMAT:PATH with FORMAT one of otb, vot, got10k, lasot, imagenet-vid, embedded, real "
        "(embedded:train, embedded:eval and embedded:test are the built-in composite splits: meta-training, "
        "validation and test; embedded:crossing a second validation split of small targets crossing "
        "look-alikes, embedded:hard a third under the test split's conditions, embedded:faces a fourth of portrait "
        "faces, embedded:backdrops a fifth over backgrounds of the test split's kinds; real:all the hand-annotated "
        "real clips)",
    )
    p.add_argument("--sequences", help="comma-separated sequence names to keep (default: all)")


def _add_plugin(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plugin", action="append", metavar="MODULE_OR_FILE.py",
                   help="import this module or Python file first, so that the trackers it registers "
                   "(@register_tracker) are known by name; repeatable")


def _add_runtime(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runtime", choices=["torch", "onnx"], default="torch",
                   help="where the deep trackers' backbone runs: torch (default) or onnxruntime on the CPU "
                   "(exported on first use into a cache folder, checked against torch)")
    p.add_argument("--onnx-model", metavar="FILE.onnx",
                   help="with --runtime onnx: this file from `metatrack export --onnx` instead of the cached export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metatrack", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("synth", help="write the embedded composite data set (OTB layout)")
    p.add_argument("--out", required=True)
    p.add_argument("--split", choices=["train", "eval", "test", "crossing", "hard", "faces", "backdrops"],
                   default="eval",
                   help="crossing: the validation split of small targets, look-alikes crossing and static "
                   "occluders; hard: the validation split of eval's imagery under test's conditions; faces: "
                   "the validation split of portrait faces; backdrops: the validation split over backgrounds of test's "
                   "kinds (docs/data.md)")
    p.add_argument("--sequences", type=int, help="default: the split's default (train 96, eval 16, test 16, "
                   "crossing 12, hard 16, faces 16, backdrops 16)")
    p.add_argument("--frames", type=int, help="frames per sequence (default: train 120, eval 150, test 150, "
                   "crossing 240, hard 150, faces 150, backdrops 150)")
    p.add_argument("--seed", type=int, help="default: train 1, eval 0, test 3, crossing 5, hard 7, faces 9, "
                   "backdrops 10")
    p.add_argument("--version", type=int, help="another version of the split (train: 4; default: train 2, eval 1, "
                                                "test 1; docs/data.md)")
    p.add_argument("--objects", type=int, help="only the first N target objects of the split's pool take turns")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("run", help="run trackers on every sequence of a data set")
    p.add_argument("--tracker", required=True, help="registered name(s), comma-separated, or module:Class")
    _add_dataset(p)
    p.add_argument("--results", required=True, help="results folder: DIR/<tracker>/<seq>.txt")
    p.add_argument("--protocol", choices=["ope", "vot"], default="ope")
    p.add_argument("--repetitions", type=int, default=1)
    p.add_argument("--jobs", type=int, default=1, help="sequences run in parallel processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deterministic", action="store_true", help=DETERMINISTIC_HELP)
    _add_runtime(p)
    _add_plugin(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("score", help="score every tracker folder under a results folder")
    _add_dataset(p)
    p.add_argument("--results", required=True)
    p.add_argument("--protocol", choices=["ope", "vot", "lt"], default="ope",
                   help="ope (OTB), vot (reset-based) or lt (VOT-LT precision/recall/F of one-pass runs "
                        "from their confidences; OPE's JSON carries it too as long_term)")
    p.add_argument("--tracker", help="only these trackers (comma-separated)")
    p.add_argument("--json", help="write the scores as JSON to this file")
    p.add_argument("--eao-range", help="VOT: LOW,HIGH sequence lengths, vot2016 or vot2017 (default: automatic)")
    _add_plugin(p)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("report", help="plots and tables of a results folder: Markdown and/or one HTML page")
    _add_dataset(p)
    p.add_argument("--results", required=True)
    p.add_argument("--protocol", choices=["ope", "vot"], default="ope")
    p.add_argument("--tracker", help="only these trackers (comma-separated)")
    p.add_argument("--out", required=True)
    p.add_argument("--title", default="metatrack report")
    p.add_argument("--format", choices=["md", "html", "both"], default="md",
                   help="md: report.md and PNG plots (default); html: one self-contained report.html "
                   "(plots, tables, per-sequence thumbnails; opens from disk); both")
    p.add_argument("--eao-range", help="VOT: LOW,HIGH sequence lengths, vot2016 or vot2017 (default: automatic)")
    _add_plugin(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="run, score and report on the embedded eval split")
    p.add_argument("--out", default="demo-out")
    p.add_argument("--quick", action="store_true", help="a one-minute version: 3 sequences, their first 60 frames")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("track", help="track targets through a video file, image folder or camera")
    p.add_argument("input", help="video file, folder of images, or camera index (0, 1, ...)")
    p.add_argument("--box", action="append",
                   help="a target on the first frame tracked: x,y,w,h (0-based pixels); repeat it for several "
                   "targets (ids 1, 2, ... in order; the boxes file is then in MOTChallenge layout)")
    p.add_argument("--box-from", help="take the first box from the first line of this ground-truth file")
    p.add_argument("--start", type=int, default=0, metavar="FRAME",
                   help="the frame (0-based) the box is on and tracking starts from; earlier frames are skipped")
    p.add_argument("--end", type=int, metavar="FRAME", help="the last frame tracked, inclusive (default: the last)")
    p.add_argument("--box-origin", type=float, default=0.0,
                   help="coordinate origin of --box-from (1 for OTB/LaSOT files)")
    p.add_argument("--tracker", default="metasdnet")
    p.add_argument("--model", help="model file (default: the shipped one)")
    p.add_argument("--device", help="cpu or cuda (trackers that run on torch)")
    _add_runtime(p)
    p.add_argument("--out", help="write an annotated video here (.mp4 or .avi)")
    p.add_argument("--boxes", help="write one x,y,w,h line per frame here (streamed: NAME.part until the end)")
    p.add_argument("--max-frames", type=int, help="track at most this many frames")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--deterministic", action="store_true", help=DETERMINISTIC_HELP)
    _add_plugin(p)
    p.set_defaults(func=cmd_track)

    p = sub.add_parser("train", help="meta-train a tracker (Algorithm 1), or pre-train one (MDNet), from a YAML config")
    p.add_argument("--config", required=True, help="YAML with model:, tracker: and meta_training: sections")
    p.add_argument("--out", required=True, help="folder for checkpoint.pt, log.jsonl, the model and its curve")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt exactly")
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--deterministic", action="store_true", help=DETERMINISTIC_HELP)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("init-analysis", help="the paper's Table 2: first-frame accuracy/loss and time")
    _add_dataset(p)
    p.add_argument("--trackers", required=True, help="comma-separated, e.g. metasdnet-01,sdnet-01,sdnet-30")
    p.add_argument("--out", required=True)
    p.add_argument("--lookahead", type=int, default=5, help="future frames for LH (paper: 5)")
    p.add_argument("--seed", type=int, default=0)
    _add_plugin(p)
    p.set_defaults(func=cmd_init_analysis)

    p = sub.add_parser("bench", help="first-frame time, fps, peak memory, AUC and precision of trackers")
    p.add_argument("--trackers", help=f"comma-separated (default: {','.join(BENCH_TRACKERS)})")
    _add_dataset(p, required=False)
    p.add_argument("--out", default="runs/bench")
    p.add_argument("--seed", type=int, default=0)
    _add_runtime(p)
    _add_plugin(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("export", help="write a tracker's feature extractor as ONNX (checked by onnxruntime)")
    p.add_argument("--onnx", required=True, metavar="FILE.onnx", help="the ONNX file to write")
    p.add_argument("--tracker", default="metasdnet", help="an adaptive tracker (metasdnet, metacrest, sdnet-N, ...)")
    p.add_argument("--model", help="model file of a meta-tracker (default: the shipped one)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("upgrade-model", help="rewrite a model file of an older format in the current one")
    p.add_argument("model", help="the .safetensors model file")
    p.add_argument("--out", help="write the upgraded file here (default: replace MODEL, atomically)")
    p.set_defaults(func=cmd_upgrade_model)

    p = sub.add_parser("weights", help="fetch and check the pretrained backbone weights")
    p.set_defaults(func=cmd_weights)

    p = sub.add_parser("vot-workspace", help="write an offline VOT toolkit workspace (sequences, stack, "
                       "trackers over TraX) from any data set")
    _add_dataset(p)
    p.add_argument("--out", required=True, help="the workspace folder: new or empty, never overwritten")
    p.add_argument("--trackers", help="comma-separated tracker names for trackers.ini "
                   "(default: opencv-kcf,opencv-csrt,dlib-correlation)")
    p.add_argument("--repetitions", type=int, default=15,
                   help="runs per sequence of the reset-based experiment (VOT2016: 15; the toolkit stops a "
                   "deterministic tracker after 3 identical ones)")
    p.add_argument("--python", help="the interpreter that runs metatrack's TraX server (default: this one)")
    p.add_argument("--trax-path", help="folder holding the trax package alone (default: .vot-venv/trax-only, "
                   "made by scripts/vot_toolkit_venv.sh)")
    _add_plugin(p)
    p.set_defaults(func=cmd_vot_workspace)

    p = sub.add_parser("vot-import", help="copy the VOT toolkit's text results of a workspace into a metatrack "
                       "results folder (then: metatrack score --dataset vot:WORKSPACE)")
    p.add_argument("--workspace", required=True, help="the workspace metatrack vot-workspace wrote")
    p.add_argument("--tracker", required=True, help="tracker name(s) as in trackers.ini's labels, comma-separated")
    p.add_argument("--results", required=True, help="metatrack results folder: DIR/<tracker>/<seq>_001.txt ...")
    p.add_argument("--experiment", choices=["baseline", "unsupervised"], default="baseline",
                   help="baseline: the reset-based runs (score with --protocol vot); unsupervised: one-pass")
    p.set_defaults(func=cmd_vot_import)

    p = sub.add_parser("calibrate", help="fit each tracker's confidence calibration on validation data "
                       "(writes the calibration file)")
    p.add_argument("--dataset", action="append",
                   help="a validation data set FORMAT:PATH, repeatable (default: embedded:eval and real:validation; "
                   "test and train sets are refused)")
    p.add_argument("--trackers", help="comma-separated (default: the shipped file's trackers)")
    p.add_argument("--results", default="runs/calibration", help="the trackers' runs, per data set (resumable)")
    p.add_argument("--out", required=True, help="the calibration JSON to write (the shipped one: "
                   "src/metatrack/calibration/confidence.json)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="sequences run in parallel processes")
    p.add_argument("--iou-threshold", type=float, default=0.0,
                   help="a frame is a positive where IoU > this (default 0: the box overlaps the target)")
    _add_plugin(p)
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("trackers", help="list the registered trackers")
    _add_plugin(p)
    p.set_defaults(func=cmd_trackers)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "device", None):  # every command with --device: one check, one line
            from .devices import check_device

            args.device = check_device(args.device)
        for spec in getattr(args, "plugin", None) or []:
            load_plugin(spec)
        return int(args.func(args) or 0)
    except MetatrackError as exc:
        print(f"metatrack: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("metatrack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
