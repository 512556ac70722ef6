"""`cartoonize`: the command-line face of the batch engine (the desktop app drives the same engine)."""
from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from core import __version__
from core.batch import (
    BatchFinished, BatchOptions, BatchStarted, FrameProgress, ItemFinished, ItemStarted, TileProgress, write_report,
)
from core.batch_setup import BatchRequest, BatchSetupError, EngineSettings, NoModelError, prepare_batch
from core.cancel import CancelToken
from core.devices import DeviceError, list_devices, set_cpu_threads
from core.failures import FailureKind
from core.image_io import DEFAULT_MAX_PIXELS
from core.model_file import ModelFileError
from core.model_registry import default_model_name, import_model, list_broken_models, list_models
from core.output_names import DEFAULT_NAME_PATTERN
from core.region_strength import RegionStrength
from core.segmenter import SegmenterFileError
from core.video import VIDEO_CODECS, VideoError, VideoOptions

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cartoonize",
        description="Cartoonize photos and videos (files or whole folders, recursively) with a GAN generator. "
                    "Videos keep their sound, frame rate and length; animated GIF, WebP and PNG pictures stay animated "
                    "(same frames, timing and loop count). Outputs mirror the input folders' layout under OUT, named "
                    "by --name-pattern; inputs are never modified, and only files this tool wrote are ever replaced. "
                    "Every entry of a folder is either cartoonized or named in the summary with the reason.",
        epilog="Region strength: --foreground-strength and --background-strength set how much cartoon the subject "
               "(people, characters) and the rest get, by the bundled segmenter's soft mask; e.g. "
               "--foreground-strength 40 keeps faces close to the photo while the background is fully cartoonized. "
               "They multiply --strength.")
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="image files (animated GIF/WebP/PNG too), video files and/or folders of them")
    parser.add_argument("-o", "--output", type=Path, metavar="OUT", help="output folder (created if missing)")
    parser.add_argument("--model", help="model name (see --list-models) or path to a .safetensors model file")
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    parser.add_argument("--precision", choices=["auto", "fp32", "fp16", "bf16"], default="auto",
                        help="auto = fp16 on CUDA (fp32 fallback), fp32 elsewhere")
    parser.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    parser.add_argument("--max-side", type=int, metavar="PX", help="downscale so the longer side is at most PX")
    parser.add_argument("--tile", type=int, metavar="PX",
                        help="tile size in pixels (default: chosen from the device's memory)")
    parser.add_argument("--format", dest="output_format", choices=["same", "png", "jpeg", "webp"], default="same",
                        help="output format; 'same' keeps JPEG/PNG/WebP/GIF and writes PNG for the rest; "
                             "animated pictures stay animated (in their own format, or PNG/WebP if asked)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality, 1-100 (default 95)")
    parser.add_argument("--strength", type=float, default=1.0, help="blend with the original, 0-1 (default 1)")
    parser.add_argument("--foreground-strength", type=float, default=100.0, metavar="PERCENT",
                        help="cartoon strength on the subject (people, characters), 0-100 (default 100)")
    parser.add_argument("--background-strength", type=float, default=100.0, metavar="PERCENT",
                        help="cartoon strength on the rest of the picture, 0-100 (default 100)")
    parser.add_argument("--name-pattern", default=DEFAULT_NAME_PATTERN, metavar="PATTERN",
                        help="output name from the input's name without suffix: {stem} (default) keeps it, "
                             "{stem}_cartoon adds to it, so outputs may sit beside their inputs (-o the input folder)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--skip-existing", dest="existing", action="store_const", const="skip",
                          help="keep outputs this tool already wrote, so a re-run resumes (default)")
    existing.add_argument("--overwrite", dest="existing", action="store_const", const="overwrite",
                          help="redo outputs this tool already wrote (a file it did not write is never replaced)")
    parser.set_defaults(existing="skip")
    video = parser.add_argument_group("video")
    video.add_argument("--video-codec", choices=VIDEO_CODECS, default="libx264",
                       help="H.264 encoder: libx264 (CPU, default) or h264_nvenc (NVIDIA GPU)")
    video.add_argument("--crf", type=int, default=18,
                       help="video quality, 0 (lossless) to 51 (worst); default 18, which looks lossless")
    video.add_argument("--frames-only", action="store_true",
                       help="write each video as a folder of PNG frames instead of a video file")
    video.add_argument("--frames-as-video", action="store_true",
                       help="make each folder of numbered frames (frame_0001.png, …) one video; without it, their "
                            "frames are cartoonized one by one into a mirrored folder, like any photos")
    video.add_argument("--fps", type=_frame_rate, metavar="RATE",
                       help="frame rate of --frames-as-video videos (24, 29.97, 30000/1001; default 25)")
    video.add_argument("--temporal-smoothing", action="store_true",
                       help="reduce flicker between frames of videos and animated pictures (blends with the previous "
                            "frame along the motion)")
    video.add_argument("--frame-batch", type=int, default=4, metavar="N",
                       help="frames per generator pass (default 4)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help=f"refuse images above this many pixels (default {DEFAULT_MAX_PIXELS:,})")
    parser.add_argument("--report", type=Path, metavar="FILE", help="write a JSON report of the batch")
    parser.add_argument("--list-models", action="store_true", help="list bundled and user models, then exit")
    parser.add_argument("--list-devices", action="store_true", help="list devices, then exit")
    parser.add_argument("--import-whitebox", type=Path, metavar="FILE",
                        help="import a White-box Cartoonization .tflite generator as a user model (needs --name)")
    parser.add_argument("--import-model", type=Path, metavar="FILE",
                        help="import a .safetensors model file or a .pt/.pth generator state dict (needs --name)")
    parser.add_argument("--name", help="name for an imported model")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _frame_rate(text: str) -> Fraction:
    try:
        rate = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a frame rate: {text!r} (use e.g. 24, 29.97 or 30000/1001)") from None
    if not 0 < rate <= 1000:
        raise argparse.ArgumentTypeError(f"frame rate {text} is out of range (0 to 1000)")
    return rate


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.list_devices:
            return _print_devices()
        if args.list_models:
            return _print_models()
        if args.import_whitebox or args.import_model:
            return _import(parser, args)
        return _run(parser, args)
    except (DeviceError, ModelFileError, SegmenterFileError, VideoError, ValueError) as exc:
        print(f"cartoonize: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _print_devices() -> int:
    for device in list_devices():
        print(f"{device.spec:10} {device.label}")
    return EXIT_OK


def _print_models() -> int:
    default = default_model_name()
    entries = list_models()
    if not entries:
        print(_NO_MODEL_HELP)
    for entry in entries:
        origin = "bundled" if entry.bundled else "user"
        marker = " (default)" if entry.name == default else ""
        print(f"{entry.name}{marker} [{origin}] — {entry.metadata.display_name}; licence: {entry.metadata.license}")
        if entry.metadata.description:
            print(f"    {entry.metadata.description}")
    for broken in list_broken_models():
        print(f"{broken.path.stem} [broken] — {broken.path}: {broken.reason}")
    return EXIT_OK


def _import(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not args.name:
        parser.error("importing a model needs --name NAME")
    entry = import_model(args.import_whitebox or args.import_model, args.name)
    print(f"imported {entry.name!r} → {entry.path}")
    return EXIT_OK


_NO_MODEL_HELP = (
    "No cartoonization model is installed yet: this build ships none, and you have not imported one.\n"
    "Import your own with `cartoonize --import-whitebox FILE.tflite --name NAME` (a White-box Cartoonization\n"
    "TFLite file) or `cartoonize --import-model FILE --name NAME`, then run with --model NAME."
)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not args.inputs:
        parser.error("give at least one INPUT file or folder")
    if args.output is None:
        parser.error("give an output folder with -o OUT")
    if not 1 <= args.quality <= 100:
        parser.error("--quality must be between 1 and 100")
    if not 0.0 <= args.strength <= 1.0:
        parser.error("--strength must be between 0 and 1")
    if not 0 <= args.crf <= 51:
        parser.error("--crf must be between 0 and 51")
    if args.frame_batch < 1:
        parser.error("--frame-batch must be at least 1")
    if args.fps is not None and not args.frames_as_video:
        parser.error("--fps sets the rate of --frames-as-video videos: add --frames-as-video")
    for name in ("foreground_strength", "background_strength"):
        if not 0.0 <= getattr(args, name) <= 100.0:
            parser.error(f"--{name.replace('_', '-')} must be between 0 and 100 (percent)")
    _check_report_path(parser, args.report)
    video = VideoOptions(codec=args.video_codec, crf=args.crf, frames_only=args.frames_only,
                         frames_as_video=args.frames_as_video, fps=args.fps,
                         temporal_smoothing=args.temporal_smoothing, batch_frames=args.frame_batch)
    options = BatchOptions(args.output, args.output_format, args.quality, args.existing, args.max_side,
                           args.max_pixels, video, name_pattern=args.name_pattern)
    engine = EngineSettings(args.model, args.device, args.precision, args.tile, args.strength,
                            RegionStrength(args.foreground_strength / 100.0, args.background_strength / 100.0))
    set_cpu_threads(args.threads)
    try:
        batch = prepare_batch(BatchRequest(tuple(args.inputs), options, engine))
    except NoModelError:
        print(f"cartoonize: error: {_NO_MODEL_HELP}", file=sys.stderr)
        return EXIT_USAGE
    except BatchSetupError as exc:
        if exc.kind is FailureKind.REQUEST:
            parser.error(str(exc))
        print(f"cartoonize: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"cartoonize: {len(batch.plan.counted)} input(s), model {batch.model.name!r} on {batch.cartoonizer.device} "
          f"→ {args.output}", file=sys.stderr)
    cancel = CancelToken()
    try:
        summary = _drive(batch.run(cancel), quiet=args.quiet)
    except KeyboardInterrupt:
        # the generator is closed by the interrupt; atomic writes mean no partial file was left
        print("cartoonize: interrupted; finished outputs are kept, re-run to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.report:
        write_report(summary, args.report)
    print(f"cartoonize: {summary.done} done, {summary.skipped} skipped, {summary.failed} failed "
          f"in {summary.seconds:.1f} s → {Path(args.output).resolve()}", file=sys.stderr)
    return EXIT_SOME_FAILED if summary.failed else EXIT_OK


def _check_report_path(parser: argparse.ArgumentParser, report: Path | None) -> None:
    """The report is written after the batch: a path that cannot take it is a usage error found before."""
    if report is None:
        return
    report = report.expanduser().absolute()
    if report.is_dir():
        parser.error(f"--report {report} is a folder; give a file name such as {report / 'report.json'}")
    for folder in report.parents:
        if folder.exists():
            if not folder.is_dir():
                parser.error(f"--report {report} lies under {folder}, which is not a folder")
            break


def _drive(events, quiet: bool):
    """Feed engine events to a tqdm bar (files as units, tiles as fractions) and print each failure."""
    bar = None
    for event in events:
        if isinstance(event, BatchStarted):
            bar = tqdm(total=event.total, unit="file", disable=quiet, file=sys.stderr, dynamic_ncols=True)
        elif isinstance(event, ItemStarted):
            bar.set_postfix_str(str(event.item.relative), refresh=True)
        elif isinstance(event, TileProgress) and event.tiles_total > 1:
            bar.set_postfix_str(f"tile {event.tiles_done}/{event.tiles_total}", refresh=True)
        elif isinstance(event, FrameProgress):
            bar.set_postfix_str(_frame_status(event), refresh=True)
        elif isinstance(event, ItemFinished):
            bar.update(event.progress.files_done - bar.n)  # an entry only named is not one of the files
            if event.result.status == "failed":
                tqdm.write(f"failed: {event.result.item.source}: {event.result.error}", file=sys.stderr)
            elif event.result.status == "skipped" and event.result.note:
                tqdm.write(f"skipped: {event.result.item.source}: {event.result.note}", file=sys.stderr)
            elif event.result.note:
                tqdm.write(f"note: {event.result.item.source}: {event.result.note}", file=sys.stderr)
        elif isinstance(event, BatchFinished):
            bar.close()
            return event.summary
    raise RuntimeError("the batch engine stopped without a summary")


def _frame_status(event: FrameProgress) -> str:
    total = f"/{event.frames_total}" if event.frames_total else ""
    eta = f", {_clock(event.eta_s)} left" if event.eta_s is not None else ""
    return f"frame {event.frames_done}{total} at {event.fps:.1f} fps{eta}"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


if __name__ == "__main__":
    sys.exit(main())
