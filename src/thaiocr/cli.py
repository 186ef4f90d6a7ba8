"""``thaiocr`` command line: the parser of every command and its options, and ``main``.

The handlers are in :mod:`thaiocr.clihandlers`: the parser names each command's handler with
``set_defaults(func=...)``, and ``main`` runs it, printing a :class:`~thaiocr.errors.ThaiOCRError`
as a message. Only argparse and the handlers module are imported here (the handlers import heavy
modules such as torch inside themselves), so that ``thaiocr --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from thaiocr import __version__
from thaiocr.clihandlers import (
    cmd_cloud_check,
    cmd_cloud_deploy,
    cmd_cloud_download,
    cmd_cloud_endpoints,
    cmd_cloud_entry,
    cmd_cloud_estimate,
    cmd_cloud_image,
    cmd_cloud_invoke,
    cmd_cloud_logs,
    cmd_cloud_status,
    cmd_cloud_stop,
    cmd_cloud_train,
    cmd_cloud_undeploy,
    cmd_cloud_upload,
    cmd_data_check,
    cmd_data_convert,
    cmd_data_merge,
    cmd_data_split,
    cmd_data_stats,
    cmd_demo,
    cmd_det_export,
    cmd_det_train,
    cmd_eval,
    cmd_export,
    cmd_lm,
    cmd_ocr,
    cmd_predict,
    cmd_serve,
    cmd_synth,
    cmd_train,
)
from thaiocr.errors import ThaiOCRError

SHIPPED_DEFAULT = ("or 'shipped-small', the faster shipped model "
                   "(default: 'shipped', the general printed-Thai model shipped in the package)")


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", required=True, type=Path, help="recipe YAML (PaddleOCR style)")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. -o Global.epoch_num=10 (repeatable)")


def _add_model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=None,
                   help=f".onnx file, best_model/ folder or .pt checkpoint {SHIPPED_DEFAULT}")
    _add_decoder_arg(p)


def _add_decoder_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--decoder", choices=("auto", "beam", "greedy"), default="auto",
                   help="beam: weigh readings with the language model (charlm.gz) beside the model; greedy: "
                        "faster, without it; auto (default): beam where the model has one")
    p.add_argument("--read-once", action="store_true",
                   help="read every line once: faster, without the second, wider reading of lines whose "
                        "letters came out crowded")


def _add_max_pixels_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-pixels", type=int, default=40_000_000, metavar="N",
                   help="refuse larger images (width x height, read before decoding; default: %(default)s)")


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
                   help="text source or weighted mix, e.g. words:2,numbers:1 (sources: words, phrases, "
                        "abbreviations, prose, receipts, wiki, names, numbers, mixed, coverage; default: %(default)s)")
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
                   help="effect probabilities and ranges (see `synth/effectsettings.py`; e.g. jpeg: {probability: 0})")
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
                   help="fine-tune: start from the weights of a .pt checkpoint (or a folder holding one; "
                        "'shipped' or 'shipped-small': a shipped model; 'ppocrv4': PaddleOCR's PP-OCRv4 "
                        "recogniser in the rapidocr-onnxruntime wheel, for configs/rec/thai_ppocrv4.yml); "
                        "the alphabet may differ. Sets "
                        "Global.pretrained_model; resuming latest.pt takes precedence")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("lm", help="count a recipe's training text into a character language model for beam decoding",
                       description="Draw lines as the recipe's training does (its synthetic looks and text sources, "
                                   "and its training labels) and count them into a character n-gram model, "
                                   "charlm.gz; a model folder with one beside inference.onnx reads with the beam "
                                   "decoder. Benchmark text never enters.")
    _add_config_args(p)
    p.add_argument("--out", type=Path, default=None,
                   help="output file (default: best_model/charlm.gz in the recipe's Global.save_model_dir)")
    p.add_argument("--lines", type=int, default=300_000, help="synthetic lines to draw (default: %(default)s)")
    p.add_argument("--order", type=int, default=6, help="characters per gram, history included (default: %(default)s)")
    p.add_argument("--min-count", type=int, default=3,
                   help="leave out grams of 3+ characters seen fewer times (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_lm)

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
    _add_max_pixels_arg(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("export", help="export a checkpoint to ONNX (+ dict.txt, config.yml) with a parity check")
    p.add_argument("checkpoint", type=Path, help="a .pt checkpoint, e.g. models/numbers/best_accuracy.pt")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: best_model/ beside it)")
    p.add_argument("--int8", action="store_true", help="int8 convolutions (about a third faster), calibrated on "
                   "lines of the recipe given with -c; the float32 model can be exported again from the .pt")
    p.add_argument("-c", "--config", type=Path, default=None, help="the recipe the model trained on (for --int8)")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value of that recipe (repeatable)")
    p.add_argument("--calibration-lines", type=int, default=256,
                   help="training lines that measure activation ranges (and as many again the agreement)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("predict", help="read text lines from images")
    _add_model_arg(p)
    p.add_argument("images", nargs="*", type=Path, help="line images")
    p.add_argument("--labels", type=Path, help="read the image paths of a PaddleOCR label file")
    p.add_argument("--out", type=Path, help="with --labels: write path<TAB>prediction lines here")
    p.add_argument("--batch-size", type=int, default=32)
    _add_max_pixels_arg(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("ocr", help="read pages: detect their text lines, read them, print them in reading order",
                       description="Read pages (images, PDFs, multi-page TIFFs, folders): detect the text lines, "
                                   "read them, and print the text in reading order: columns one after another, "
                                   "tables row by row (cells split by tabs), a blank line between paragraphs.")
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT",
                   help="page image, PDF, multi-page TIFF or folder of images (several may be given)")
    p.add_argument("--pages", default=None, metavar="LIST",
                   help="only these pages of each PDF or TIFF, e.g. 1-3,7 (default: all)")
    p.add_argument("--dpi", type=int, default=200, help="resolution PDF pages are rendered at (default: %(default)s)")
    p.add_argument("--model", type=Path, default=None,
                   help=f"recogniser: .onnx file, best_model/ folder or .pt checkpoint {SHIPPED_DEFAULT}")
    _add_decoder_arg(p)
    p.add_argument("--boxes-only", action="store_true", help="detect the text lines without reading them")
    p.add_argument("--detector", default="ppocrv4", metavar="NAME_OR_ONNX",
                   help="text detector: ppocrv4, ppocrv6, thaiocr-db or a DB .onnx file (default: %(default)s)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON record per page (source, page, size, text, lines with polygon, text and "
                        "confidence, and blocks: paragraphs and tables with their column, text and lines), one per "
                        "line")
    p.add_argument("--draw", type=Path, default=None, metavar="OUT.png",
                   help="also write the page with the boxes and the text read drawn on it (OUT-N.png for page N "
                        "of several)")
    p.add_argument("--pdf", type=Path, default=None, metavar="OUT.pdf",
                   help="also write a searchable PDF: every page read, as an image with the text read laid over "
                        "it invisibly (a Thai TrueType font embedded), so a viewer can find and copy it; a PDF page "
                        "keeps its size, an image's comes from the resolution it states (200 dpi if none)")
    _add_max_pixels_arg(p)
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
    _add_decoder_arg(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="(default: %(default)s)")
    p.add_argument("--max-upload-mb", type=float, default=20.0, help="largest request body (default: %(default)s)")
    p.add_argument("--max-pixels", type=int, default=40_000_000, help="largest image (a page), width x height "
                                                                       "(default: %(default)s)")
    p.add_argument("--max-line-pixels", type=int, default=4_000_000,
                   help="largest line image, width x height (default: %(default)s)")
    p.add_argument("--max-request-pixels", type=int, default=64_000_000,
                   help="most pixels in all the images of one request (default: %(default)s)")
    p.add_argument("--max-images", type=int, default=256, help="most images in one request (default: %(default)s)")
    p.add_argument("--decode-slots", type=int, default=2,
                   help="images decoded at once across all requests (default: %(default)s)")
    p.add_argument("--max-batch", type=int, default=32,
                   help="line images of concurrent requests read in one model call (default: %(default)s)")
    p.add_argument("--batch-wait-ms", type=float, default=2.0,
                   help="how long a batch waits for more lines before it runs (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="model threads (default: half the cores)")
    p.add_argument("--detector", default=None, metavar="NAME_OR_ONNX",
                   help="text detector for page OCR (/v1/ocr, mode=page): ppocrv4, ppocrv6, thaiocr-db or a DB "
                        ".onnx file; without one, page requests answer 501")
    p.set_defaults(func=cmd_serve)

    _add_cloud_commands(sub)
    return parser


def _add_cloud_commands(sub: argparse._SubParsersAction) -> None:
    """``thaiocr cloud ...``: the guide's SageMaker workflow as commands (docs/cloud.md)."""
    cloud = sub.add_parser("cloud", help="Amazon SageMaker: check, upload, train, watch, download, deploy, invoke",
                           description="Train and serve on Amazon SageMaker with boto3; see docs/cloud.md.")
    actions = cloud.add_subparsers(dest="cloud_command", required=True, metavar="ACTION")
    region = argparse.ArgumentParser(add_help=False)
    region.add_argument("--region", default=None,
                        help="AWS region (default: AWS_REGION, then AWS_DEFAULT_REGION, then the profile's)")
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

    _add_endpoint_commands(actions, region)

    p = actions.add_parser("entry", help="inside a SageMaker job: train as /opt/ml describes (SM_ROOT moves it)")
    p.add_argument("ignored", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_cloud_entry)


def _add_endpoint_commands(actions: argparse._SubParsersAction, region: argparse.ArgumentParser) -> None:
    """``cloud deploy / invoke / endpoints / undeploy / image``: the guide's last step (docs/cloud.md)."""
    p = actions.add_parser("deploy", parents=[region], help="serve a trained model on a SageMaker endpoint")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--job", default=None, help="a finished training job: its model.tar.gz is deployed")
    source.add_argument("--model", type=Path, default=None, metavar="DIR",
                        help="a local model folder (one inference.onnx below it), packed and uploaded to --s3")
    p.add_argument("--s3", default=None, metavar="S3_URI", help="where --model is uploaded (s3://bucket/prefix)")
    p.add_argument("--role", required=True, help="SageMaker execution role: name or ARN")
    hosting = p.add_mutually_exclusive_group()
    hosting.add_argument("--instance-type", default=None, help="real-time instances (default: ml.m5.large)")
    hosting.add_argument("--serverless", type=int, default=None, metavar="MEMORY_MB",
                         help="serverless instead: memory of 1024-6144 MB, in 1024 MB steps")
    p.add_argument("--instance-count", type=int, default=None, help="real-time instances (default: 1)")
    p.add_argument("--max-concurrency", type=int, default=None,
                   help="serverless: concurrent requests, 1-200 (default: 5)")
    p.add_argument("--image", default=None, metavar="URI",
                   help="serving image (default: <account>.dkr.ecr.<region>.amazonaws.com/thaiocr:latest, "
                        "what `cloud image` pushes)")
    p.add_argument("--name", default=None, help="endpoint name (default: thaiocr-<job or folder>-<date>-<time>)")
    p.add_argument("--poll", type=float, default=30, metavar="S", help="seconds between status lines")
    p.set_defaults(func=cmd_cloud_deploy)

    p = actions.add_parser("invoke", parents=[region], help="read images with a deployed endpoint")
    p.add_argument("endpoint", metavar="ENDPOINT")
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    p.add_argument("--page", action="store_true", help="page OCR (the endpoint finds the lines)")
    p.add_argument("--json", action="store_true", help="print the endpoint's JSON answers")
    p.set_defaults(func=cmd_cloud_invoke)

    p = actions.add_parser("endpoints", parents=[region],
                           help="this tool's endpoints: status, hosting, age, cost so far")
    p.set_defaults(func=cmd_cloud_endpoints)

    p = actions.add_parser("undeploy", parents=[region], help="delete an endpoint, its configuration and model")
    p.add_argument("endpoint", metavar="ENDPOINT")
    p.set_defaults(func=cmd_cloud_undeploy)

    p = actions.add_parser("image", parents=[region],
                           help="build Dockerfile.sagemaker and push it to ECR (the --image of train and deploy)")
    p.add_argument("--repository", default="thaiocr", help="ECR repository (default: %(default)s)")
    p.add_argument("--tag", default="latest", help="(default: %(default)s)")
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="docker build argument, e.g. TORCH_INDEX=https://download.pytorch.org/whl/cu124")
    p.add_argument("--dry-run", action="store_true", help="print each step; build, create and push nothing")
    p.set_defaults(func=cmd_cloud_image)


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
