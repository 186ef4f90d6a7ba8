"""Handlers of the ``thaiocr`` commands: each parses, calls one library function and prints.

:mod:`thaiocr.cli` builds the parser, which names these functions, and runs the chosen one. The
handlers live apart from the parser so that each module does one job: this one turns parsed
arguments into library calls and output, that one only declares the commands and their options.
Heavy modules (torch, onnxruntime, boto3, fastapi) are imported inside handlers so that
``thaiocr --help`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from thaiocr.errors import ThaiOCRError, counted
from thaiocr.runfolder import MODEL_FOLDER

if TYPE_CHECKING:
    from thaiocr.config import Config
    from thaiocr.documents import PageInput
    from thaiocr.page import PageReader, PageResult
    from thaiocr.predict import Recognizer
    from thaiocr.searchpdf import SearchablePdf


def _load_config(args: argparse.Namespace):
    from thaiocr.config import load_config

    return load_config(args.config, args.override)


# --- handlers -----------------------------------------------------------------------------------


def cmd_synth(args: argparse.Namespace) -> int:
    if args.action == "fonts":
        return _list_fonts(args)
    if args.action == "pages":
        return _synth_pages(args)
    from thaiocr.synth.lines import generate_dataset, write_preview

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
    from thaiocr.synth.fonts import discover_fonts

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
    from thaiocr.kernel.recipe import read_yaml_mapping
    from thaiocr.synth.effectsettings import DEFAULT_EFFECTS, EffectSettings

    if path is None:
        return DEFAULT_EFFECTS
    data = read_yaml_mapping(path)
    return EffectSettings.from_dict(data.get("effects", data), where=f"{path}: effects")


def _val_fonts(value: str) -> int | list[str]:
    return int(value) if value.strip().isdigit() else [name.strip() for name in value.split(",") if name.strip()]


def _list_fonts(args: argparse.Namespace) -> int:
    from thaiocr.charset import builtin_dict_chars, load_charset
    from thaiocr.synth.fonts import discover_fonts, font_coverage
    from thaiocr.synth.lines import fonts_by_split

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
    print("✅ data and config are ready" if ready else f"❌ not ready: {counted(problems, 'problem')}",
          file=sys.stderr)
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
    """``--pretrained`` sets ``Global.pretrained_model`` (see :func:`~thaiocr.shipped.pretrained_folder`)."""
    import dataclasses

    from thaiocr.shipped import pretrained_folder

    pretrained = pretrained_folder(path)
    return dataclasses.replace(config, Global=dataclasses.replace(config.Global, pretrained_model=pretrained))


def cmd_lm(args: argparse.Namespace) -> int:
    from thaiocr.lmtext import default_lm_path, recipe_lm

    if args.lines < 0:
        raise ThaiOCRError(f"--lines must not be negative, got {args.lines}")
    config = _load_config(args)
    lm = recipe_lm(config, args.lines, args.order, args.min_count, args.seed, progress=not args.quiet)
    path = lm.save(args.out or default_lm_path(config))
    print(f"Wrote {path}: {lm.header['grams']:,} grams of up to {lm.order} characters from "
          f"{lm.header['synthetic_lines']:,} synthetic and {lm.header['labelled_lines']:,} labelled lines")
    return 0


def cmd_det_train(args: argparse.Namespace) -> int:
    from thaiocr.det.config import load_det_config
    from thaiocr.det.train import train_detector

    result = train_detector(load_det_config(args.config, args.override), resume=not args.no_resume,
                            progress=not args.quiet)
    best = (f"best H-mean {result.best['hmean']:.3f} (precision {result.best['precision']:.3f}, recall "
            f"{result.best['recall']:.3f}) at step {result.best_step}" if result.best else "no held-out pages")
    print(f"Finished {result.steps} steps in {result.seconds:.0f} s; {best}")
    print(f"Detector: {result.onnx_path} (thaiocr ocr PAGE --detector {result.onnx_path})")
    return 0


def cmd_det_export(args: argparse.Namespace) -> int:
    from thaiocr.det.config import load_det_config
    from thaiocr.det.train import export_det_checkpoint

    path, parity = export_det_checkpoint(load_det_config(args.config, args.override), args.checkpoint, args.out)
    print(f"Exported {path} (+ config.yml); max |ONNX - PyTorch| = {parity:.2e}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from thaiocr.evaluate import evaluate_label_file
    from thaiocr.predict import Recognizer

    recognizer = Recognizer(args.model, decoder=args.decoder, reread=not args.read_once)
    metrics, lines = evaluate_label_file(recognizer, args.labels, batch_size=args.batch_size,
                                         max_pixels=args.max_pixels)
    if args.report:
        from thaiocr.report import write_report

        print(f"Wrote {write_report(args.report, lines, recognizer.source, args.labels)}", file=sys.stderr)
    print(json.dumps(metrics.to_dict(), indent=2) if args.json else metrics)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from thaiocr.export import export_checkpoint

    if args.int8 and args.config is None:
        raise ThaiOCRError("--int8 needs the recipe the model trained on (-c RECIPE) for its calibration lines")
    if args.calibration_lines <= 0:
        raise ThaiOCRError(f"--calibration-lines must be positive, got {args.calibration_lines}")
    config = _load_config(args) if args.int8 else None
    out = args.out or args.checkpoint.parent / MODEL_FOLDER
    path, parity = export_checkpoint(args.checkpoint, out)
    print(f"Exported {path} (+ dict.txt, config.yml); max |ONNX - PyTorch| = {parity:.2e}")
    if config is not None:
        from thaiocr.quantize import quantize_in_place

        agreement, checked = quantize_in_place(path, config, args.calibration_lines)
        print(f"Quantized its convolutions to int8 on {args.calibration_lines} training lines; the likeliest "
              f"class agrees with float32 at {agreement:.2%} of time steps of the next {checked}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from thaiocr.predict import Recognizer, predict_label_file

    recognizer = Recognizer(args.model, decoder=args.decoder, reread=not args.read_once)
    if args.labels:
        if not args.out:
            raise ThaiOCRError("--labels needs --out P.tsv for the predictions")
        count = predict_label_file(recognizer, args.labels, args.out, args.batch_size, args.max_pixels)
        print(f"Wrote {count} predictions to {args.out}")
        return 0
    if not args.images:
        raise ThaiOCRError("give one or more IMAGE paths, or --labels L --out P.tsv")
    return _predict_files(recognizer, args.images, args.batch_size, args.max_pixels)


def _predict_files(recognizer: Recognizer, paths: list[Path], batch_size: int, max_pixels: int) -> int:
    """Print ``path<TAB>text<TAB>confidence`` for each image that reads and one error line (stderr)
    for each that does not, in the order given; 1 when any failed."""
    from thaiocr.imageload import decode, line_target
    from thaiocr.preprocess import ImageError

    target = line_target(recognizer.preprocess)
    images, failures = {}, {}
    for index, path in enumerate(paths):
        try:  # decoded at the size the model reads: a large file never lands in memory whole
            images[index] = decode(path, str(path), max_pixels, target=target)
        except ImageError as exc:
            failures[index] = str(exc)
    predictions = recognizer(list(images.values()), batch_size=batch_size) if images else []
    read = dict(zip(images, predictions, strict=True))
    for index, path in enumerate(paths):
        if index in read:
            print(f"{path}\t{read[index].text}\t{read[index].confidence:.3f}", flush=True)
        else:
            print(f"thaiocr: error: {failures[index]}", file=sys.stderr, flush=True)
    if failures:
        print(f"thaiocr: {len(failures)} of {counted(len(paths), 'image')} could not be read", file=sys.stderr)
    return 1 if failures else 0


def _synth_pages(args: argparse.Namespace) -> int:
    from thaiocr.synth.fonts import discover_fonts
    from thaiocr.synth.pages import LABEL_FILE, generate_pages

    if args.pages_out is None:
        raise ThaiOCRError("synth pages needs an output folder: thaiocr synth pages OUT --count N")
    manifest = generate_pages(args.pages_out, args.count, seed=args.seed, fonts=discover_fonts(args.fonts),
                              font_split=args.font_split, val_fonts=_val_fonts(args.val_fonts),
                              content=args.content, progress=not args.quiet)
    print(f"Wrote {manifest['count']} pages and their line boxes ({LABEL_FILE}) to {args.pages_out}")
    return 0


def cmd_ocr(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from thaiocr.documents import parse_pages
    from thaiocr.page import PageReader, image_format_for
    from thaiocr.searchpdf import SearchablePdf

    if args.draw:
        image_format_for(args.draw)  # a bad --draw name fails before any page is read
    selected = parse_pages(args.pages) if args.pages else None
    with SearchablePdf() if args.pdf else nullcontext() as pdf:  # no Thai font: fails before models load
        reader = PageReader.from_paths(model=args.model, detector=args.detector, boxes_only=args.boxes_only,
                                        decoder=args.decoder, reread=not args.read_once)
        failed, total = _ocr_pages(reader, args, selected, pdf)
        if pdf is not None:
            _save_pdf(pdf, args.pdf)
    if failed:
        print(f"thaiocr: {failed} of {counted(total, 'page')} could not be read", file=sys.stderr)
    return 1 if failed else 0


def _ocr_pages(reader: PageReader, args: argparse.Namespace, selected: set[int] | None,
               pdf: SearchablePdf | None) -> tuple[int, int]:
    """Read every page of the inputs, one in memory at a time, printing each (and adding it to
    ``pdf``); a page that cannot be read is reported. The number of those, and of all pages."""
    from tqdm import tqdm

    from thaiocr.documents import document_pages, image_points, may_hold_pages

    several = len(args.inputs) > 1 or any(may_hold_pages(path) for path in args.inputs)
    pages = document_pages(args.inputs, selected, args.dpi, args.max_pixels)
    failed = total = 0
    for total, page in enumerate(tqdm(pages, desc="reading pages", unit="page", disable=not several,
                                      file=sys.stderr), start=1):
        if page.image is None:
            failed += 1
            print(f"thaiocr: error: {page.error}", file=sys.stderr, flush=True)
            continue
        result = reader(page.image)
        _print_page(page, result, args, total if several else None)
        if pdf is not None:
            pdf.add_page(page.image, result.lines, page.points or image_points(page.image))
    return failed, total


def _save_pdf(pdf: SearchablePdf, path: Path) -> None:
    """``--pdf``: write the pages read, if any (the pages that failed are left out)."""
    if len(pdf):
        pdf.save(path)
    else:
        print(f"thaiocr: error: no page was read, so {path} was not written", file=sys.stderr)


def _print_page(page: PageInput, result: PageResult, args: argparse.Namespace, index: int | None) -> None:
    """One page's reading: a JSON record on one line, or its text (after a header when the inputs
    may hold several pages, ``index`` being this page's place among them); ``--draw`` writes the
    page's picture (OUT-N.png for the Nth)."""
    from thaiocr.page import write_drawing

    if args.draw:
        write_drawing(args.draw if index is None else args.draw.with_stem(f"{args.draw.stem}-{index}"),
                      page.image, result)
    if args.json:
        record = {"source": str(page.source), "page": page.number, **result.to_dict()}
        print(json.dumps(record, ensure_ascii=False), flush=True)
    else:
        print(result.text if index is None else f"==> {page.name} <==\n{result.text}\n", flush=True)


def cmd_demo(args: argparse.Namespace) -> int:
    from thaiocr.demo import run_demo

    run_demo(data_dir=args.data, run_dir=args.out, config_path=args.config, progress=not args.quiet)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from thaiocr.server import Limits, serve

    limits = Limits(max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels,
                    max_line_pixels=args.max_line_pixels, max_request_pixels=args.max_request_pixels,
                    max_images=args.max_images, decode_slots=args.decode_slots)
    serve(args.model, host=args.host, port=args.port, limits=limits, max_batch=args.max_batch,
          batch_wait_ms=args.batch_wait_ms, threads=args.threads, detector=args.detector,
          decoder=args.decoder, reread=not args.read_once)
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


def cmd_cloud_deploy(args: argparse.Namespace) -> int:
    from thaiocr.cloud.deploy import Hosting, banner, deploy, how_to_call, plan_deploy

    hosting = Hosting.from_options(args.instance_type, args.instance_count, args.serverless, args.max_concurrency)
    aws = _aws(args)
    plan = plan_deploy(aws, hosting=hosting, role=args.role, job=args.job, model_dir=args.model, s3=args.s3,
                       image=args.image, name=args.name)
    print(banner(plan, aws.region))
    deploy(aws, plan, poll=args.poll, progress=not args.quiet)
    print(how_to_call(plan.name))
    return 0


def cmd_cloud_invoke(args: argparse.Namespace) -> int:
    from thaiocr.cloud.invoke import invoke, readings_json

    readings = invoke(_aws(args), args.endpoint, args.images, page=args.page)
    print(readings_json(readings) if args.json else "\n".join(r.text() for r in readings))
    return 0


def cmd_cloud_endpoints(args: argparse.Namespace) -> int:
    from thaiocr.cloud.deploy import endpoints_table, list_endpoints

    print(endpoints_table(list_endpoints(_aws(args))))
    return 0


def cmd_cloud_undeploy(args: argparse.Namespace) -> int:
    from thaiocr.cloud.deploy import billable_left, undeploy

    aws = _aws(args)
    for item in undeploy(aws, args.endpoint):
        print(f"🗑️ deleted {item}")
    if billable_left(aws.client("sagemaker"), args.endpoint):
        print(f"⏳ {args.endpoint} is still being deleted; `thaiocr cloud endpoints` shows when it is gone")
    else:
        print(f"✅ nothing of {args.endpoint} is left to bill")
    return 0


def cmd_cloud_image(args: argparse.Namespace) -> int:
    from thaiocr.cloud.image import build_and_push, dry_run_lines, plan_image

    aws = _aws(args)
    plan = plan_image(aws, args.repository, args.tag, tuple(args.build_arg))
    if args.dry_run:
        print("\n".join(dry_run_lines(plan)))
        return 0
    print(f"✅ pushed {build_and_push(aws, plan)}")
    print("Use it: thaiocr cloud train ... --image URI, thaiocr cloud deploy ... (the default image)")
    return 0
