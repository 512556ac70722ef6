"""Plot the campaign's learning curve: held-out KID to the anime frames against training images seen.

    .venv/bin/python bench/campaign/learning_curve.py [--csv bench/campaign/learning_curve.csv]
                                                      [--out docs/campaign/learning-curve.png]

Each row of the CSV is one held-out evaluation (`cartoonize-train evaluate`, 400 portraits vs 400 anime frames):
rows with `images_seen` are checkpoints of a run and become points on that run's line (a branch starts with an
unlabelled copy of its parent's point); rows without are references
(White-box, the OpenCV filter, the cartoon targets, the photos) and become horizontal lines. The issue's bar is to
get below the lowest reference; the curve shows how far each stretch of training moved toward it. Drawn with
Pillow so the plot needs nothing beyond the app's own dependencies.
"""
from __future__ import annotations

import argparse
import csv
import math
import re
from collections import defaultdict
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[2]
SIZE = (960, 860)
MARGIN = {"left": 80, "right": 250, "top": 50, "bottom": 70}
RUN_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#ff7f0e",
               "#000080", "#808000", "#800000", "#008080", "#4b0082"]
REFERENCE_COLOUR = "#777777"


def read_rows(path: Path) -> tuple[dict[str, list[tuple[float, float, str]]], list[tuple[str, float]]]:
    """Runs as {run: [(images_seen, kid, label)]} sorted by images seen, and references as [(label, kid)]."""
    runs: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    references = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(row for row in handle if not row.startswith("#")):
            kid = float(row["kid_to_anime_x1e3"])
            if row["images_seen"].strip():
                runs[row["run"]].append((float(row["images_seen"]), kid, row["label"]))
            else:
                references.append((row["label"], kid))
    return {run: sorted(points) for run, points in runs.items()}, references


def point_label(label: str, kid: float) -> str:
    """A bundled model's name and its KID; other points only their KID (the legend names the run, the CSV the
    step), so that close points stay readable."""
    bundled = re.search(r"cartoon-v\d+", label)
    return f"{bundled.group(0)} {kid:.0f}" if bundled else f"{kid:.0f}"


def nice_step(span: float, ticks: int = 5) -> float:
    """A round tick spacing (1, 2 or 5 × a power of ten) giving about `ticks` ticks over `span`."""
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _ticks(maximum: float, step: float) -> list[float]:
    return [i * step for i in range(int(round(maximum / step)) + 1)]


def plot(runs: dict[str, list[tuple[float, float, str]]], references: list[tuple[str, float]], out: Path) -> None:
    """Draw the runs' lines and the references' horizontal lines into one PNG."""
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    left, top = MARGIN["left"], MARGIN["top"]
    right, bottom = SIZE[0] - MARGIN["right"], SIZE[1] - MARGIN["bottom"]
    xs = [x for points in runs.values() for x, _, _ in points]
    ys = [y for points in runs.values() for _, y, _ in points] + [kid for _, kid in references]
    x_step, y_step = nice_step(max(xs) * 1.05), nice_step(max(ys) * 1.05)
    x_max = x_step * math.ceil(max(xs) * 1.05 / x_step)
    y_min, y_max = 0.0, y_step * math.ceil(max(ys) * 1.05 / y_step)

    def at(x: float, y: float) -> tuple[float, float]:
        return (left + (right - left) * x / x_max, bottom - (bottom - top) * (y - y_min) / (y_max - y_min))

    draw.rectangle((left, top, right, bottom), outline="black")
    for y in _ticks(y_max, y_step):
        _, py = at(0, y)
        draw.line((left - 4, py, left, py), fill="black")
        draw.text((left - 8, py), f"{y:g}", fill="black", font=font, anchor="rm")
    for x in _ticks(x_max, x_step):
        px, _ = at(x, 0)
        draw.line((px, bottom, px, bottom + 4), fill="black")
        draw.text((px, bottom + 8), f"{x / 1000:g}k", fill="black", font=font, anchor="mt")
    draw.text(((left + right) / 2, SIZE[1] - 30), "training images seen (128 px crops)", fill="black", font=font,
              anchor="mm")
    draw.text((left, 20), "held-out KID x 1000 to 400 anime frames (lower is better)", fill="black", font=font)

    label_y = -math.inf
    for label, kid in sorted(references, key=lambda reference: -reference[1]):  # top to bottom
        _, py = at(0, kid)
        for px in range(left, right, 12):
            draw.line((px, py, min(px + 6, right), py), fill=REFERENCE_COLOUR)
        label_y = max(py, label_y + 16)  # labels of close references do not overlap
        draw.text((right + 8, label_y), f"{label} {kid:.0f}", fill=REFERENCE_COLOUR, font=font, anchor="lm")
    for index, (colour, (run, points)) in enumerate(zip(RUN_COLOURS, runs.items())):
        pixels = [at(x, y) for x, y, _ in points]
        draw_run(draw, run, pixels, [(kid, label) for _, kid, label in points], colour, font,
                 legend_at=(right + 8, label_y + 28 + 18 * index), width=3)  # legend below the references' labels
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)


def draw_run(draw: ImageDraw.ImageDraw, run: str, pixels: list[tuple[float, float]],
             points: list[tuple[float, str]], colour: str, font: ImageFont.ImageFont, *,
             legend_at: tuple[float, float], width: int) -> None:
    """One run: its path through `pixels`, a dot per point labelled with its KID (`points`: (kid, label); a branch
    point repeats its parent's point unlabelled), and its legend entry at `legend_at`."""
    if len(pixels) > 1:
        draw.line(pixels, fill=colour, width=width)
    for (px, py), (kid, label) in zip(pixels, points):
        draw.ellipse((px - 4, py - 4, px + 4, py + 4), fill=colour)
        if label:
            draw.text((px + 6, py - 6), point_label(label, kid), fill=colour, font=font, anchor="ld")
    x, y = legend_at
    draw.line((x, y + 8, x + 20, y + 8), fill=colour, width=3)
    draw.text((x + 26, y), run, fill=colour, font=font)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=REPO / "bench/campaign/learning_curve.csv")
    parser.add_argument("--out", type=Path, default=REPO / "docs/campaign/learning-curve.png")
    args = parser.parse_args()
    runs, references = read_rows(args.csv)
    plot(runs, references, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
