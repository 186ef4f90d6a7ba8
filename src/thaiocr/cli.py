"""``thaiocr`` command line: each handler parses, calls one library function and prints.

Heavy modules (torch, onnxruntime) are imported inside handlers so that ``thaiocr --help``
answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from thaiocr import __version__
from thaiocr.errors import ThaiOCRError

if TYPE_CHECKING:
    from thaiocr.config import Config

SHIPPED_DEFAULT = "(default: the general printed-Thai model shipped in the package)"


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", required=True, type=Path, help="recipe YAML (PaddleOCR style)")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. -o Global.epoch_num=10 (repeatable)")


def _add_model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=None,
                   help=f".onnx file, best_model/ folder or .pt checkpoint {SHIPPED_DEFAULT}")


def _add_writer_args(p: argparse.ArgumentParser, places: bool = False) -> None:
    """Options shared by the data commands that write: overwrite, bad lines, copy or link images."""
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--skip-bad", action="store_true", help="leave bad lines out (listed) instead of stopping")
    if places:
        how = p.add_mutually_exclusive_group()
        how.add_argument("--copy", dest="place", action="store_const", const="copy", default="copy",
                         help="copy images into the output folder (default)")
        how.add_argument("--link", dest="place", action="store_const", const="link",
                         help="hard-link images instead (same file system only)")


def _load_config(args: argparse.Namespace):
    from thaiocr.config import load_config

    return load_config(args.config, args.override)


# --- handlers -----------------------------------------------------------------------------------


def cmd_synth(args: argparse.Namespace) -> int:
    if args.action == "fonts":
        return _list_fonts(args)
    if args.action == "pages":
        return _synth_pages(args)
    from thaiocr.synth import generate_dataset, write_preview

    settings = _synth_settings(args)
    if args.preview:
        path = write_preview(args.preview_out, args.preview, **settings)
        print(f"Wrote a contact sheet of {args.preview} training lines to {path}")
        return 0
    manifest = generate_dataset(args.out, n_train=args.train, n_val=args.val, workers=args.workers,
                                progress=not args.quiet, image_format=args.format, **settings)
    print(f"Wrote {manifest['n_train']} training and {manifest['n_val']} validation lines to {args.out}")
    families = ", ".join(manifest["val_families"])
    print(f"  {len(manifest['train_fonts'])} training fonts; validation families never seen in training: {families}")
    return 0


def _synth_settings(args: argparse.Namespace) -> dict:
    from thaiocr.charset import load_charset
    from thaiocr.fonts import discover_fonts

    return {
        "seed": args.seed,
        "val_fonts": _val_fonts(args.val_fonts),
        "fonts": discover_fonts(args.fonts),
        "source": args.source,
        "charset": load_charset(args.dict) if args.dict else None,
        "max_length": args.max_length,
        "height": args.height,
        "effects": _effect_settings(args.effects),
    }


def _effect_settings(path: Path | None):
    """The effect settings of a YAML file (its top level, or its ``effects`` mapping); defaults without one."""
    from thaiocr.config import read_yaml_mapping
    from thaiocr.effectsettings import DEFAULT_EFFECTS, EffectSettings

    if path is None:
        return DEFAULT_EFFECTS
    data = read_yaml_mapping(path)
    return EffectSettings.from_dict(data.get("effects", data), where=f"{path}: effects")


def _val_fonts(value: str) -> int | list[str]:
    return int(value) if value.strip().isdigit() else [name.strip() for name in value.split(",") if name.strip()]


def _list_fonts(args: argparse.Namespace) -> int:
    from thaiocr.charset import builtin_dict_chars, load_charset
    from thaiocr.fonts import discover_fonts, font_coverage
    from thaiocr.synth import fonts_by_split

    fonts = discover_fonts(args.fonts)
    by_split, _ = fonts_by_split(fonts, _val_fonts(args.val_fonts))
    held_out = {font.name for font in by_split["val"]}
    chars = list(load_charset(args.dict).chars) if args.dict else builtin_dict_chars("thai_full")
    rows = [font_coverage(font, chars) for font in fonts]
    if args.json:
        print(json.dumps([{**r.to_dict(), "split": "val" if r.name in held_out else "train"} for r in rows],
                         ensure_ascii=False, indent=2))
        return 0
    print(f"{'font':<44} {'split':<5} {'Thai':>6} {'ASCII':>6} {'dict':>9}  missing / note")
    for r in rows:
        split = "val" if r.name in held_out else "train"
        missing = (r.missing[:24] + "…") if len(r.missing) > 25 else r.missing
        print(f"{r.name:<44} {split:<5} {r.thai:>3}/87 {r.ascii:>3}/94 {r.dict_covered:>4}/{r.dict_size:<4}  "
              f"{missing} {r.note}".rstrip())
    print(f"{len(rows)} fonts in {len({f.family for f in fonts})} families; a font never renders a text it lacks")
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    from thaiocr.data import check_data

    reports = check_data(_load_config(args), check_images=args.images)
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=2))
    else:
        for report in reports:
            print(report.summary())
    ready = all(r.ok for r in reports)
    problems = sum(len(r.problems) for r in reports)
    print("✅ data and config are ready" if ready else f"❌ not ready: {problems} problems", file=sys.stderr)
    return 0 if ready else 1


def cmd_data_stats(args: argparse.Namespace) -> int:
    from thaiocr.charset import load_charset
    from thaiocr.datatools import dataset_stats

    if args.space and not args.dict:
        raise ThaiOCRError("--space adds the space to a dict: give --dict too")
    stats = dataset_stats(args.labels, load_charset(args.dict, args.space) if args.dict else None, not args.quiet)
    print(json.dumps(stats.to_dict(), ensure_ascii=False, indent=2) if args.json else stats.summary())
    return 0


def cmd_data_split(args: argparse.Namespace) -> int:
    from thaiocr.datatools import split_labels

    print(split_labels(args.labels, args.val_fraction, args.seed, args.out_dir, force=args.force,
                       skip_bad=args.skip_bad, progress=not args.quiet).summary())
    return 0


def cmd_data_merge(args: argparse.Namespace) -> int:
    from thaiocr.datatools import merge_datasets

    print(merge_datasets(args.inputs, args.out, name=args.name, place=args.place, force=args.force,
                         skip_bad=args.skip_bad, progress=not args.quiet).summary())
    return 0


def cmd_data_convert(args: argparse.Namespace) -> int:
    from thaiocr.datatools import convert_dataset

    print(convert_dataset(args.src, args.format, args.out, name=args.name, images=args.images, place=args.place,
                          force=args.force, skip_bad=args.skip_bad, progress=not args.quiet).summary())
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from thaiocr.train import train

    config = _load_config(args)
    if args.pretrained:
        config = _with_pretrained(config, args.pretrained)
    result = train(config, resume=not args.no_resume, progress=not args.quiet)
    if result.onnx_path is None:
        return 0  # a DDP rank other than 0: rank 0 reports the run
    best = f"best {result.best} at step {result.best_step}" if result.best else "no validation split"
    print(f"Finished {result.steps} steps in {result.seconds:.0f} s; {best}")
    print(f"Inference model: {result.onnx_path}")
    return 0


def _with_pretrained(config: Config, path: Path) -> Config:
    """``--pretrained`` sets ``Global.pretrained_model`` (relative to the current folder, as ``-o`` paths are);
    ``shipped`` names the folder of the shipped model, whose weights are there as ``model.pt``."""
    import dataclasses

    if str(path) == "shipped":
        from thaiocr.predict import shipped_model_path

        path = shipped_model_path().parent
    return dataclasses.replace(config, Global=dataclasses.replace(config.Global, pretrained_model=path.absolute()))


def cmd_det_train(args: argparse.Namespace) -> int:
    from thaiocr.detconfig import load_det_config
    from thaiocr.dettrain import train_detector

    result = train_detector(load_det_config(args.config, args.override), resume=not args.no_resume,
                            progress=not args.quiet)
    best = (f"best H-mean {result.best['hmean']:.3f} (precision {result.best['precision']:.3f}, recall "
            f"{result.best['recall']:.3f}) at step {result.best_step}" if result.best else "no held-out pages")
    print(f"Finished {result.steps} steps in {result.seconds:.0f} s; {best}")
    print(f"Detector: {result.onnx_path} (thaiocr ocr PAGE --detector {result.onnx_path})")
    return 0


def cmd_det_export(args: argparse.Namespace) -> int:
    from thaiocr.detconfig import load_det_config
    from thaiocr.dettrain import export_det_checkpoint

    path, parity = export_det_checkpoint(load_det_config(args.config, args.override), args.checkpoint, args.out)
    print(f"Exported {path} (+ config.yml); max |ONNX - PyTorch| = {parity:.2e}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from thaiocr.evaluate import evaluate_label_file
    from thaiocr.predict import Recognizer

    recognizer = Recognizer(args.model)
    metrics, lines = evaluate_label_file(recognizer, args.labels, batch_size=args.batch_size)
    if args.report:
        from thaiocr.report import write_report

        print(f"Wrote {write_report(args.report, lines, recognizer.source, args.labels)}", file=sys.stderr)
    print(json.dumps(metrics.to_dict(), indent=2) if args.json else metrics)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from thaiocr.export import export_checkpoint

    out = args.out or args.checkpoint.parent / "best_model"
    path, parity = export_checkpoint(args.checkpoint, out)
    print(f"Exported {path} (+ dict.txt, config.yml); max |ONNX - PyTorch| = {parity:.2e}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from thaiocr.predict import Recognizer, predict_label_file

    recognizer = Recognizer(args.model)
    if args.labels:
        if not args.out:
            raise ThaiOCRError("--labels needs --out P.tsv for the predictions")
        count = predict_label_file(recognizer, args.labels, args.out, batch_size=args.batch_size)
        print(f"Wrote {count} predictions to {args.out}")
        return 0
    if not args.images:
        raise ThaiOCRError("give one or more IMAGE paths, or --labels L --out P.tsv")
    for image, pred in zip(args.images, recognizer(args.images, batch_size=args.batch_size), strict=True):
        print(f"{image}\t{pred.text}\t{pred.confidence:.3f}")
    return 0


def _synth_pages(args: argparse.Namespace) -> int:
    from thaiocr.fonts import discover_fonts
    from thaiocr.synthpages import LABEL_FILE, generate_pages

    if args.pages_out is None:
        raise ThaiOCRError("synth pages needs an output folder: thaiocr synth pages OUT --count N")
    manifest = generate_pages(args.pages_out, args.count, seed=args.seed, fonts=discover_fonts(args.fonts),
                              font_split=args.font_split, val_fonts=_val_fonts(args.val_fonts),
                              content=args.content, progress=not args.quiet)
    print(f"Wrote {manifest['count']} pages and their line boxes ({LABEL_FILE}) to {args.pages_out}")
    return 0


def cmd_ocr(args: argparse.Namespace) -> int:
    from thaiocr.page import PageReader, image_format_for, write_drawing
    from thaiocr.preprocess import open_image

    if args.draw:
        image_format_for(args.draw)  # a bad --draw name fails before the page is read
    image = open_image(args.image)
    result = PageReader.from_paths(model=args.model, detector=args.detector, boxes_only=args.boxes_only)(image)
    if args.draw:
        write_drawing(args.draw, image, result)
    print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) if args.json else result.text)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from thaiocr.demo import run_demo

    run_demo(data_dir=args.data, run_dir=args.out, config_path=args.config, progress=not args.quiet)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from thaiocr.server import Limits, serve

    limits = Limits(max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels,
                    max_images=args.max_images)
    serve(args.model, host=args.host, port=args.port, limits=limits, max_batch=args.max_batch,
          batch_wait_ms=args.batch_wait_ms, threads=args.threads, detector=args.detector)
    return 0


# --- cloud (Amazon SageMaker; see docs/cloud.md) --------------------------------------------------


def _aws(args: argparse.Namespace):
    from thaiocr.cloud.aws import Aws

    return Aws.connect(args.region)


def cmd_cloud_check(args: argparse.Namespace) -> int:
    from thaiocr.cloud.check import run_checks

    checks = run_checks(_aws(args), args.config, args.override, args.s3, args.role)
    print("\n".join(check.line() for check in checks))
    return 0 if all(check.ok for check in checks) else 1


def cmd_cloud_upload(args: argparse.Namespace) -> int:
    from thaiocr.cloud.s3sync import sync_upload

    result = sync_upload(args.dataset, args.destination, args.exclude, region=args.region, workers=args.workers,
                         progress=not args.quiet)
    print(result.summary())
    return 0


def cmd_cloud_train(args: argparse.Namespace) -> int:
    from thaiocr.cloud.aws import Aws, resolve_region
    from thaiocr.cloud.jobs import JobOptions, plan_job, submit_job

    options = JobOptions(args.instance_type, args.max_runtime, args.instance_count, args.spot, args.max_wait,
                         args.image, tuple(args.tag), args.output, args.job_name)
    plan = plan_job(args.config, args.override, args.s3, args.role, options, resolve_region(args.region))
    if args.dry_run:
        print(json.dumps(plan.request, indent=2, ensure_ascii=False))
        return 0
    aws = Aws(plan.region)
    print(plan.banner())
    print(f"✅ Training job created: {submit_job(plan, aws)}")
    if args.no_wait:
        print(f"Watch it: thaiocr cloud status {plan.name} --watch")
        return 0
    return _watch(aws, plan.name, args.poll)


def _watch(aws, name: str, poll: float) -> int:
    from thaiocr.cloud.monitor import watch

    return watch(aws.client("sagemaker"), name, aws.region, poll=poll).exit_code


def cmd_cloud_status(args: argparse.Namespace) -> int:
    from thaiocr.cloud.monitor import describe_job, summary, utc_now

    aws = _aws(args)
    if args.watch:
        return _watch(aws, args.job, args.poll)
    print(summary(describe_job(aws.client("sagemaker"), args.job), aws.region, utc_now()))
    return 0


def cmd_cloud_stop(args: argparse.Namespace) -> int:
    from thaiocr.cloud.monitor import stop_job

    print(stop_job(_aws(args).client("sagemaker"), args.job))
    return 0


def cmd_cloud_logs(args: argparse.Namespace) -> int:
    from thaiocr.cloud.logs import print_logs

    print_logs(_aws(args), args.job, follow=args.follow, poll=args.poll)
    return 0


def cmd_cloud_download(args: argparse.Namespace) -> int:
    from thaiocr.cloud.artifacts import describe_run_folder, download_model

    folder = download_model(_aws(args), args.job, args.dest, force=args.force, progress=not args.quiet)
    print(describe_run_folder(folder))
    return 0


def cmd_cloud_estimate(args: argparse.Namespace) -> int:
    from thaiocr.cloud.costs import price_region
    from thaiocr.cloud.estimate import DEFAULT_INSTANCES, estimate

    result = estimate(_load_config(args), args.instance_type or DEFAULT_INSTANCES, price_region(args.region),
                      samples=args.samples, steps=args.steps)
    print(result.table())
    return 0


def cmd_cloud_entry(args: argparse.Namespace) -> int:
    from thaiocr.cloud.container import main as run_container

    return run_container(progress=not args.quiet)


# --- parser -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="thaiocr", description="Build, judge and use Thai OCR models.")
    parser.add_argument("--version", action="version", version=f"thaiocr {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("synth", help="generate synthetic Thai text lines in the guide's dataset layout",
                       description="Write a synthetic dataset; `synth fonts` lists the fonts found and their "
                                   "coverage; --preview N writes a contact sheet instead of a dataset; "
                                   "`synth pages OUT --count N` writes A4 pages with line boxes (PaddleOCR det "
                                   "labels) for text detection.")
    p.add_argument("action", nargs="?", choices=["fonts", "pages"],
                   help="fonts: list fonts and what they cover; pages: write synthetic pages with line boxes")
    p.add_argument("pages_out", nargs="?", type=Path, metavar="OUT", help="synth pages: output folder")
    p.add_argument("--out", type=Path, default=Path("data/numbers"), help="dataset folder (default: %(default)s)")
    p.add_argument("--train", type=int, default=20000, help="training lines (default: %(default)s)")
    p.add_argument("--val", type=int, default=1000, help="validation lines (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--source", default="numbers",
                   help="text source or weighted mix, e.g. words:2,numbers:1 (sources: words, phrases, wiki, "
                        "names, numbers, mixed, coverage; default: %(default)s)")
    p.add_argument("--dict", default=None, help="keep texts to this dict (digits, thai_full or a file)")
    p.add_argument("--max-length", type=int, default=40, help="longest label in code points (default: %(default)s)")
    p.add_argument("--height", type=int, default=32,
                   help="lines are rendered HEIGHT to 2*HEIGHT px high (default: %(default)s)")
    p.add_argument("--fonts", type=Path, action="append", default=[], metavar="DIR",
                   help="also use the fonts in DIR (repeatable)")
    p.add_argument("--val-fonts", default="3",
                   help="font families held out for validation: a count or names, comma-separated (default: 3)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--format", choices=["png", "jpg"], default="png",
                   help="image files: lossless PNG, or JPEG at quality 95 (faster to write; default: %(default)s)")
    p.add_argument("--effects", type=Path, default=None, metavar="YAML",
                   help="effect probabilities and ranges (see `effectsettings.py`; e.g. jpeg: {probability: 0})")
    p.add_argument("--preview", type=int, default=0, metavar="N", help="write a contact sheet of N lines instead")
    p.add_argument("--preview-out", type=Path, default=Path("synth_preview.png"),
                   help="contact sheet path (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="synth fonts: print JSON")
    p.add_argument("--count", type=int, default=100, help="synth pages: pages to write (default: %(default)s)")
    p.add_argument("--content", choices=["thai", "numbers"], default="thai",
                   help="synth pages: Thai documents, or only number texts (default: %(default)s)")
    p.add_argument("--font-split", choices=["train", "val", "all"], default="train",
                   help="synth pages: training fonts, the held-out families of --val-fonts, or all "
                        "(default: %(default)s)")
    p.set_defaults(func=cmd_synth)

    data = sub.add_parser("data", help="dataset tools").add_subparsers(dest="data_command", required=True,
                                                                      metavar="ACTION")
    p = data.add_parser("check", help="validate a recipe and its label files and images (the guide's setup check)")
    _add_config_args(p)
    p.add_argument("--images", choices=["exists", "open", "decode"], default="open",
                   help="how hard to check images (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    p.set_defaults(func=cmd_data_check)

    p = data.add_parser("stats", help="label lengths, alphabet coverage, fonts and image sizes of label files")
    p.add_argument("labels", nargs="+", type=Path, metavar="LABELS", help="PaddleOCR label files")
    p.add_argument("--dict", help="built-in dict name (digits, thai_full) or dict file to measure coverage against")
    p.add_argument("--space", action="store_true", help="the dict includes the space (use_space_char)")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    p.set_defaults(func=cmd_data_stats)

    p = data.add_parser("split", help="split a label file into rec_gt_train.txt and rec_gt_val.txt (seeded)")
    p.add_argument("labels", type=Path, metavar="LABELS", help="PaddleOCR label file")
    p.add_argument("--val-fraction", type=float, required=True, help="share of lines for validation, e.g. 0.05")
    p.add_argument("--seed", type=int, required=True, help="the same seed gives the same split")
    p.add_argument("--out-dir", type=Path, default=None, help="where to write (default: the label file's folder)")
    _add_writer_args(p)
    p.set_defaults(func=cmd_data_split)

    p = data.add_parser("merge", help="gather datasets or label files into one dataset folder")
    p.add_argument("inputs", nargs="+", type=Path, metavar="DATASET_OR_LABELS",
                   help="dataset folders (their rec_gt_*.txt) or label files")
    p.add_argument("--out", type=Path, required=True, help="output dataset folder")
    p.add_argument("--name", help="write every line to this label file (default: keep each input's file name)")
    _add_writer_args(p, places=True)
    p.set_defaults(func=cmd_data_merge)

    p = data.add_parser("convert", help="turn csv/jsonl/space label files, tesstrain pairs or text-named images "
                                         "into the guide's layout")
    p.add_argument("src", type=Path, metavar="SRC", help="label file (csv, jsonl, space) or image folder")
    p.add_argument("--from", dest="format", required=True, metavar="FORMAT",
                   choices=["csv", "jsonl", "space", "tesstrain", "filename"],
                   help="csv, jsonl, space, tesstrain or filename (see README)")
    p.add_argument("--out", type=Path, required=True, help="output dataset folder")
    p.add_argument("--name", default="rec_gt_train.txt", help="label file name (default: %(default)s)")
    p.add_argument("--images", type=Path, default=None,
                   help="folder the image paths of a csv/jsonl/space file are relative to (default: its folder)")
    _add_writer_args(p, places=True)
    p.set_defaults(func=cmd_data_convert)

    p = sub.add_parser("train", help="train a recogniser from a recipe (resumes from latest.pt)")
    _add_config_args(p)
    p.add_argument("--no-resume", action="store_true", help="start afresh even if the run folder has latest.pt")
    p.add_argument("--pretrained", type=Path, default=None, metavar="MODEL",
                   help="fine-tune: start from the weights of a .pt checkpoint (or a folder holding one; 'shipped': "
                        "the shipped model); the alphabet may differ. Sets Global.pretrained_model; resuming "
                        "latest.pt takes precedence")
    p.set_defaults(func=cmd_train)

    det = sub.add_parser("det", help="text detection: train a DB detector on pages with line boxes")
    det_actions = det.add_subparsers(dest="det_command", required=True, metavar="ACTION")
    p = det_actions.add_parser("train", help="train a DB text detector from a det recipe (resumes from latest.pt)")
    _add_config_args(p)
    p.add_argument("--no-resume", action="store_true", help="start afresh even if the run folder has latest.pt")
    p.set_defaults(func=cmd_det_train)
    p = det_actions.add_parser("export", help="export a run's best_accuracy.pt to ONNX with the recipe's "
                                              "post-processing settings (re-export after tuning them)")
    _add_config_args(p)
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="a .pt checkpoint (default: best_accuracy.pt in the recipe's Global.save_model_dir)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: best_model/ in the run folder)")
    p.set_defaults(func=cmd_det_export)

    p = sub.add_parser("eval", help="line accuracy, CER and NED of a model on a label file")
    _add_model_arg(p)
    p.add_argument("--labels", required=True, type=Path, help="PaddleOCR label file (paths relative to it)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--report", type=Path, default=None, metavar="HTML",
                   help="also write a self-contained HTML report: breakdowns by length and font, character "
                        "confusions, the worst lines with their images")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("export", help="export a checkpoint to ONNX (+ dict.txt, config.yml) with a parity check")
    p.add_argument("checkpoint", type=Path, help="a .pt checkpoint, e.g. models/numbers/best_accuracy.pt")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: best_model/ beside it)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("predict", help="read text lines from images")
    _add_model_arg(p)
    p.add_argument("images", nargs="*", type=Path, help="line images")
    p.add_argument("--labels", type=Path, help="read the image paths of a PaddleOCR label file")
    p.add_argument("--out", type=Path, help="with --labels: write path<TAB>prediction lines here")
    p.add_argument("--batch-size", type=int, default=32)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("ocr", help="read a page: detect its text lines, read them, print them in reading order")
    p.add_argument("image", type=Path, metavar="IMAGE", help="page image")
    p.add_argument("--model", type=Path, default=None,
                   help=f"recogniser: .onnx file, best_model/ folder or .pt checkpoint {SHIPPED_DEFAULT}")
    p.add_argument("--boxes-only", action="store_true", help="detect the text lines without reading them")
    p.add_argument("--detector", default="ppocrv4", metavar="NAME_OR_ONNX",
                   help="text detector: ppocrv4, thaiocr-db or a DB .onnx file (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print each line's polygon, text and confidence as JSON")
    p.add_argument("--draw", type=Path, default=None, metavar="OUT.png",
                   help="also write the page with the boxes and the text read drawn on it")
    p.set_defaults(func=cmd_ocr)

    p = sub.add_parser("demo", help="the main job: synthesise digits, train on CPU, export, evaluate, read")
    p.add_argument("--config", type=Path, default=None, help="recipe (default: configs/rec/numbers.yml)")
    p.add_argument("--data", type=Path, default=Path("data/numbers"), help="dataset folder (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("models/numbers"), help="run folder (default: %(default)s)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="serve a model over HTTP (SageMaker's /ping and /invocations, /v1/...)",
                       description="Load the model once and answer HTTP requests until SIGINT/SIGTERM; "
                                   "see docs/serving.md. /docs shows the API.")
    p.add_argument("--model", type=Path, default=None,
                   help=".onnx file, best_model/ folder (or one holding a single inference.onnx) or .pt checkpoint "
                        + SHIPPED_DEFAULT)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="(default: %(default)s)")
    p.add_argument("--max-upload-mb", type=float, default=20.0, help="largest request body (default: %(default)s)")
    p.add_argument("--max-pixels", type=int, default=40_000_000, help="largest image, width x height "
                                                                       "(default: %(default)s)")
    p.add_argument("--max-images", type=int, default=256, help="most images in one request (default: %(default)s)")
    p.add_argument("--max-batch", type=int, default=32,
                   help="line images of concurrent requests read in one model call (default: %(default)s)")
    p.add_argument("--batch-wait-ms", type=float, default=2.0,
                   help="how long a batch waits for more lines before it runs (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="model threads (default: half the cores)")
    p.add_argument("--detector", default=None, metavar="NAME_OR_ONNX",
                   help="text detector for page OCR (/v1/ocr, mode=page): ppocrv4, thaiocr-db or a DB .onnx file; "
                        "without one, page requests answer 501")
    p.set_defaults(func=cmd_serve)

    _add_cloud_commands(sub)
    return parser


def _add_cloud_commands(sub: argparse._SubParsersAction) -> None:
    """``thaiocr cloud ...``: the guide's SageMaker workflow as commands (docs/cloud.md)."""
    cloud = sub.add_parser("cloud", help="train on Amazon SageMaker: check, upload, train, watch, download",
                           description="Train on Amazon SageMaker with boto3; see docs/cloud.md.")
    actions = cloud.add_subparsers(dest="cloud_command", required=True, metavar="ACTION")
    region = argparse.ArgumentParser(add_help=False)
    region.add_argument("--region", default=None, help="AWS region (default: AWS_REGION or the profile's)")
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("--s3", "--bucket", dest="s3", required=True, metavar="S3_URI",
                        help="the dataset's S3 folder, as given to `cloud upload` (s3://bucket/prefix)")
    target.add_argument("--role", required=True, help="SageMaker execution role: name or ARN")

    p = actions.add_parser("check", parents=[region, target],
                           help="the guide's setup check: credentials, bucket, training data, IAM role, recipe")
    _add_config_args(p)
    p.set_defaults(func=cmd_cloud_check)

    p = actions.add_parser("upload", parents=[region], help="sync a dataset folder to S3 (unchanged files skipped)")
    p.add_argument("dataset", type=Path, metavar="DATASET_DIR", help="folder to upload, e.g. data/numbers")
    p.add_argument("destination", metavar="S3_URI", help="s3://bucket/prefix")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="leave out paths matching GLOB, relative to DATASET_DIR, e.g. '*.log' (repeatable)")
    p.add_argument("--workers", type=int, default=8, help="files uploaded at once (default: %(default)s)")
    p.set_defaults(func=cmd_cloud_upload)

    p = actions.add_parser("train", parents=[region, target],
                           help="start a SageMaker training job of a recipe and watch it")
    _add_config_args(p)
    p.add_argument("--instance-type", default="ml.m5.xlarge", help="(default: %(default)s)")
    p.add_argument("--instance-count", type=int, default=1, help="(default: %(default)s)")
    p.add_argument("--spot", action="store_true", help="managed spot training, resumable from S3 checkpoints")
    p.add_argument("--max-wait", type=int, default=None, metavar="S",
                   help="spot: seconds to wait for capacity plus train (default: twice --max-runtime)")
    p.add_argument("--max-runtime", type=int, default=86400, metavar="S", help="(default: %(default)s)")
    p.add_argument("--image", default=None, metavar="URI",
                   help="your own training image (default: SageMaker's PyTorch image for the region)")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="job tag (repeatable)")
    p.add_argument("--output", default=None, metavar="S3_URI",
                   help="where models, checkpoints and the source go (default: s3://<bucket>/thaiocr/)")
    p.add_argument("--job-name", default=None, help="(default: thaiocr-<recipe>-<date>-<time>)")
    p.add_argument("--dry-run", action="store_true", help="print the request as JSON and send nothing")
    p.add_argument("--no-wait", action="store_true", help="start the job and return")
    p.add_argument("--poll", type=float, default=30, metavar="S", help="seconds between status lines")
    p.set_defaults(func=cmd_cloud_train)

    p = actions.add_parser("status", parents=[region], help="a job's status, times and cost; --watch follows it")
    p.add_argument("job", metavar="JOB")
    p.add_argument("--watch", action="store_true", help="print status lines until the job ends (Ctrl-C asks)")
    p.add_argument("--poll", type=float, default=30, metavar="S", help="seconds between status lines")
    p.set_defaults(func=cmd_cloud_status)

    p = actions.add_parser("stop", parents=[region], help="stop a training job")
    p.add_argument("job", metavar="JOB")
    p.set_defaults(func=cmd_cloud_stop)

    p = actions.add_parser("logs", parents=[region], help="a job's CloudWatch log lines")
    p.add_argument("job", metavar="JOB")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until the job ends")
    p.add_argument("--poll", type=float, default=10, metavar="S", help="seconds between reads when following")
    p.set_defaults(func=cmd_cloud_logs)

    p = actions.add_parser("download", parents=[region], help="fetch a job's model.tar.gz and unpack it safely")
    p.add_argument("job", metavar="JOB")
    p.add_argument("dest", type=Path, metavar="DEST", help="run folder to create, e.g. models/sagemaker_trained")
    p.add_argument("--force", action="store_true", help="replace DEST if it exists")
    p.set_defaults(func=cmd_cloud_download)

    p = actions.add_parser("estimate", parents=[region],
                           help="time and cost of a recipe here and on instance types, from a short measurement")
    _add_config_args(p)
    p.add_argument("--instance-type", action="append", default=[], metavar="TYPE",
                   help="instance type to compare (repeatable; default: a CPU and GPU selection)")
    p.add_argument("--samples", type=int, default=None, metavar="N",
                   help="training lines per epoch (default: counted from the recipe's label files)")
    p.add_argument("--steps", type=int, default=10, help="training steps to time (default: %(default)s)")
    p.set_defaults(func=cmd_cloud_estimate)

    p = actions.add_parser("entry", help="inside a SageMaker job: train as /opt/ml describes (SM_ROOT moves it)")
    p.add_argument("ignored", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_cloud_entry)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a reader that has gone shows here, not in the flush at exit
        return code
    except ThaiOCRError as exc:
        print(f"thaiocr: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("thaiocr: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `thaiocr ... | head`: stop quietly, as a process killed by SIGPIPE would (128 + 13). Python
        # flushes stdout again at exit; pointing it at devnull keeps that flush from failing too.
        import contextlib
        import os

        with contextlib.suppress(OSError, ValueError):  # ValueError: a stdout with no file descriptor
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
