"""Plot what the campaign trades: held-out KID to the anime frames against FID to the input photos.

    .venv/bin/python bench/campaign/tradeoff_plot.py [--csv bench/campaign/learning_curve.csv]
                                                     [--out docs/campaign/kid-vs-photo-fid.png]
                                                     [--zoom FID_MIN FID_MAX KID_MIN KID_MAX]

A cartoonizer must move its outputs toward the anime frames (KID down) while staying faithful to the photos (FID to
the photos low). Every evaluation in the learning curve's CSV becomes a point: each run's checkpoints joined in
order, the references (White-box, the OpenCV filter, the cartoon targets, the photos) as labelled diamonds. The
issue's bar is the shaded corner: KID below both White-box's and the filter's, FID to the photos at most
White-box's. `--zoom` draws only that window (the last stretches crowd one corner of the full plot); points
outside it are left out. Drawn with Pillow, like the learning curve.
"""
from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from learning_curve import REFERENCE_COLOUR, RUN_COLOURS, draw_run, nice_step

REPO = Path(__file__).resolve().parents[2]
SIZE = (1060, 680)
MARGIN = {"left": 80, "right": 330, "top": 50, "bottom": 70}
BAR_COLOUR = "#d9f2d9"

Point = tuple[float, float, str]  # (FID to the photos, KID x 1000 to the anime frames, label)


def read_points(path: Path) -> tuple[dict[str, list[Point]], list[Point]]:
    """Runs as {run: [points in step order]} and the references; rows without a FID to the photos are left out."""
    runs: dict[str, list[tuple[float, Point]]] = defaultdict(list)
    references = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(row for row in handle if not row.startswith("#")):
            if not row["fid_to_photos"].strip():
                continue
            point = (float(row["fid_to_photos"]), float(row["kid_to_anime_x1e3"]), row["label"])
            if row["images_seen"].strip():
                runs[row["run"]].append((float(row["images_seen"]), point))
            else:
                references.append(point)
    return {run: [point for _, point in sorted(points)] for run, points in runs.items()}, references


def bar_corner(references: list[Point]) -> tuple[float, float] | None:
    """(largest FID to the photos, largest KID) that meets the issue's bar, from White-box's and the filter's rows."""
    by_label = {label: (fid, kid) for fid, kid, label in references}
    whitebox, stylization = by_label.get("White-box"), by_label.get("OpenCV stylization")
    if whitebox is None or stylization is None:
        return None
    return whitebox[0], min(whitebox[1], stylization[1])


def _ticks(low: float, high: float, step: float) -> list[float]:
    """The multiples of `step` from `low` to `high`."""
    return [i * step for i in range(math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9) + 1)]


def plot(runs: dict[str, list[Point]], references: list[Point], out: Path,
         zoom: tuple[float, float, float, float] | None = None) -> None:
    """Draw the shaded bar, the runs' paths and the references into one PNG (only `zoom`'s window when given)."""
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    left, top = MARGIN["left"], MARGIN["top"]
    right, bottom = SIZE[0] - MARGIN["right"], SIZE[1] - MARGIN["bottom"]
    colours = dict(zip(runs, RUN_COLOURS))  # before the zoom drops runs: a run keeps its colour in both plots
    if zoom is not None:
        x_min, x_max, y_min, y_max = zoom
        inside = lambda point: x_min <= point[0] <= x_max and y_min <= point[1] <= y_max  # noqa: E731
        runs = {run: kept for run, path in runs.items() if (kept := [p for p in path if inside(p)])}
        references = [point for point in references if inside(point)] + [
            point for point in references if not inside(point) and point[2] in ("White-box", "OpenCV stylization")]
    points = [p for path in runs.values() for p in path] + references
    if zoom is None:
        x_min = y_min = 0.0
        x_max = nice_step(max(x for x, _, _ in points) * 1.05) * math.ceil(
            max(x for x, _, _ in points) * 1.05 / nice_step(max(x for x, _, _ in points) * 1.05))
        y_max = nice_step(max(y for _, y, _ in points) * 1.05) * math.ceil(
            max(y for _, y, _ in points) * 1.05 / nice_step(max(y for _, y, _ in points) * 1.05))
    x_step, y_step = nice_step(x_max - x_min), nice_step(y_max - y_min)

    def at(x: float, y: float) -> tuple[float, float]:
        x, y = min(max(x, x_min), x_max), min(max(y, y_min), y_max)  # a reference outside the window sits on its edge
        return (left + (right - left) * (x - x_min) / (x_max - x_min),
                bottom - (bottom - top) * (y - y_min) / (y_max - y_min))

    corner = bar_corner(references)
    if corner is not None:
        corner_x, corner_y = at(*corner)
        if corner_x > left and corner_y < bottom:
            draw.rectangle((left, corner_y, corner_x, bottom), fill=BAR_COLOUR)
        draw.text((left + 8, bottom - 8), "the issue's bar", fill="#2a7a2a", font=font, anchor="ld")
    draw.rectangle((left, top, right, bottom), outline="black")
    for y in _ticks(y_min, y_max, y_step):
        draw.line((left - 4, at(x_min, y)[1], left, at(x_min, y)[1]), fill="black")
        draw.text((left - 8, at(x_min, y)[1]), f"{y:g}", fill="black", font=font, anchor="rm")
    for x in _ticks(x_min, x_max, x_step):
        draw.line((at(x, y_min)[0], bottom, at(x, y_min)[0], bottom + 4), fill="black")
        draw.text((at(x, y_min)[0], bottom + 8), f"{x:g}", fill="black", font=font, anchor="mt")
    draw.text(((left + right) / 2, SIZE[1] - 30), "held-out FID to the input photos (lower: more faithful)",
              fill="black", font=font, anchor="mm")
    draw.text((left, 20), "held-out KID x 1000 to 400 anime frames (lower: more like the anime frames)",
              fill="black", font=font)
    for x, y, label in references:
        px, py = at(x, y)
        draw.polygon([(px, py - 6), (px + 6, py), (px, py + 6), (px - 6, py)], fill=REFERENCE_COLOUR)
        draw.text((px + 9, py), f"{label} {y:.0f}", fill=REFERENCE_COLOUR, font=font, anchor="lm")
    for index, (run, path) in enumerate(runs.items()):
        pixels = [at(x, y) for x, y, _ in path]
        draw_run(draw, run, pixels, [(kid, label) for _, kid, label in path], colours[run], font,
                 legend_at=(right + 8, top + 18 * index), width=2)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=REPO / "bench/campaign/learning_curve.csv")
    parser.add_argument("--out", type=Path, default=REPO / "docs/campaign/kid-vs-photo-fid.png")
    parser.add_argument("--zoom", type=float, nargs=4, metavar=("FID_MIN", "FID_MAX", "KID_MIN", "KID_MAX"),
                        help="draw only this window")
    args = parser.parse_args()
    runs, references = read_points(args.csv)
    plot(runs, references, args.out, tuple(args.zoom) if args.zoom else None)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
