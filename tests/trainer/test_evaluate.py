from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from tests.conftest import gradient_image
from trainer.evaluate import (
    FEATURE_DIM, evaluate_model, frechet_distance, inception_features, kernel_inception_distance, load_inception,
    markdown_report, write_json_report, write_markdown_report,
)


@pytest.fixture(scope="session")
def inception():
    """The ~90 MB FID Inception model, loaded once for the whole session."""
    return load_inception("cpu")


def _gaussian(mean: np.ndarray, cov: np.ndarray, count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=count)


def _closed_form(mu_a, sigma_a, mu_b, sigma_b) -> float:
    covmean = scipy.linalg.sqrtm(sigma_a @ sigma_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sigma_a + sigma_b - 2.0 * covmean))


def test_fid_of_a_set_with_itself_is_zero():
    feats = np.random.default_rng(0).normal(size=(200, 32))
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-8)
    few = np.random.default_rng(1).normal(size=(10, 64))             # singular covariance: 10 vectors in 64-d
    assert frechet_distance(few, few) == pytest.approx(0.0, abs=1e-8)
    assert np.isfinite(frechet_distance(few, few + 0.1)) and frechet_distance(few, few + 0.1) > 0


def test_fid_matches_the_closed_form_for_gaussians():
    rng = np.random.default_rng(2)
    mu_a, mu_b = np.zeros(4), np.array([1.0, -0.5, 0.0, 2.0])
    root_a, root_b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    sigma_a, sigma_b = root_a @ root_a.T + np.eye(4), root_b @ root_b.T + 0.5 * np.eye(4)
    a, b = _gaussian(mu_a, sigma_a, 40_000, 3), _gaussian(mu_b, sigma_b, 40_000, 4)
    measured = frechet_distance(a, b)
    # the same formula on the samples' own statistics, through scipy's sqrtm: equal up to round-off
    sample_form = _closed_form(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert measured == pytest.approx(sample_form, rel=1e-9)
    # and the population value, up to sampling error
    assert measured == pytest.approx(_closed_form(mu_a, sigma_a, mu_b, sigma_b), rel=0.03)
    diagonal = frechet_distance(_gaussian(np.zeros(2), np.diag([1.0, 4.0]), 40_000, 5),
                                _gaussian(np.ones(2), np.diag([4.0, 9.0]), 40_000, 6))
    assert diagonal == pytest.approx(2.0 + (1 - 2) ** 2 + (2 - 3) ** 2, rel=0.03)   # ‖Δμ‖² + Σ(σa − σb)²


def test_kid_is_zero_for_equal_distributions_and_grows_with_a_shift():
    same_a = _gaussian(np.zeros(16), np.eye(16), 1000, 7)
    same_b = _gaussian(np.zeros(16), np.eye(16), 1000, 8)
    shifted = _gaussian(np.full(16, 0.5), np.eye(16), 1000, 9)
    equal = kernel_inception_distance(same_a, same_b, subsets=20, subset_size=500)
    apart = kernel_inception_distance(same_a, shifted, subsets=20, subset_size=500)
    assert abs(equal.mean) < 0.01
    assert apart.mean > 0.5 and apart.mean > 20 * (abs(equal.mean) + equal.std)


def test_kid_is_the_unbiased_mmd_with_the_cubic_kernel():
    rng = np.random.default_rng(10)
    a, b = rng.normal(size=(6, 3)), rng.normal(0.3, 1.0, size=(6, 3))
    kernel = lambda x, y: (x @ y / 3 + 1.0) ** 3  # noqa: E731
    within = sum(kernel(a[i], a[j]) + kernel(b[i], b[j]) for i in range(6) for j in range(6) if i != j) / 30
    across = sum(kernel(a[i], b[j]) for i in range(6) for j in range(6)) / 36
    result = kernel_inception_distance(a, b, subsets=3, subset_size=6)          # every subset is the whole set
    assert result.mean == pytest.approx(within - 2 * across) and result.std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.slow  # ~1 s per picture on a 2-core CPU
def test_inception_features_shape_and_quantisation(inception):
    floats = [gradient_image(40, 56, 0), gradient_image(300, 320, 1)]
    as_bytes = [(np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8) for x in floats]
    features = inception_features(floats, "cpu", batch_size=2, model=inception)
    assert features.shape == (2, FEATURE_DIM) and np.isfinite(features).all() and (features >= 0).all()
    assert np.array_equal(features, inception_features(as_bytes, "cpu", batch_size=2, model=inception))
    assert inception_features([], "cpu", model=inception).shape == (0, FEATURE_DIM)


def _write_pictures(tmp_path):
    photos, cartoons = tmp_path / "photos", tmp_path / "cartoons"
    for folder, offset in ((photos, 0), (cartoons, 10)):
        folder.mkdir()
        for i in range(3 if folder == photos else 2):
            Image.fromarray((gradient_image(48, 64, offset + i) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    (photos / "1.png").write_bytes(b"broken")                                  # skipped, not counted
    return photos, cartoons


class PooledColours(torch.nn.Module):
    """Stands in for Inception where only the plumbing is tested: (N, 3, 299, 299) → (N, 192) coarse colours."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(x, 8).flatten(1)


def test_a_model_in_training_is_evaluated_on_a_copy(tmp_path, tiny_model, tiny_model_file):
    photos, cartoons = _write_pictures(tmp_path)
    generator = tiny_model.generator.train()
    in_memory = evaluate_model(tiny_model, photos, cartoons, "cpu", short_side_px=64, kid_subsets=5,
                               inception=PooledColours())
    from_file = evaluate_model(tiny_model_file, photos, cartoons, "cpu", short_side_px=64, kid_subsets=5,
                               inception=PooledColours())
    assert tiny_model.generator is generator and generator.training          # not switched to eval mode
    # the file holds fp16 weights, so the two differ by that rounding only
    assert in_memory["to_cartoons"]["fid"] == pytest.approx(from_file["to_cartoons"]["fid"], rel=1e-2)
    assert in_memory["to_photos"]["fid"] > 0


@pytest.mark.slow  # six pictures through Inception
def test_evaluate_model_and_reports(tmp_path, tiny_model_file, inception):
    photos, cartoons = _write_pictures(tmp_path)
    results = evaluate_model(tiny_model_file, photos, cartoons, "cpu", limit=3, short_side_px=64,
                             kid_subsets=5, inception=inception)
    assert (results["photos"], results["cartoons"]) == (2, 2)
    for key in ("to_cartoons", "to_photos", "photos_to_cartoons"):
        assert np.isfinite(results[key]["fid"]) and results[key]["fid"] >= 0
    assert results["to_photos"]["fid"] > 0                                     # the model changed the pictures

    written = write_json_report(results, tmp_path / "report.json")
    assert json.loads(written.read_text()) == results
    table = write_markdown_report([results, results | {"model": "other"}], tmp_path / "report.md").read_text()
    assert "| Model | FID with Cartoon | FID with Real |" in table and "| other |" in table
    assert table == markdown_report([results, results | {"model": "other"}])


def test_baselines_are_contenders_that_keep_the_picture_size():
    from trainer.evaluate import BASELINES, EvaluationError, baseline_contender

    photo = gradient_image(48, 64, seed=2)
    for name in BASELINES:
        contender = baseline_contender(name)
        styled = contender.stylize(photo)
        assert contender.name == f"baseline: {name}" and styled.shape == photo.shape
        assert styled.dtype == np.float32 and 0.0 <= styled.min() <= styled.max() <= 1.0
        assert np.abs(styled - photo).mean() > 0.005  # it did something
    with pytest.raises(EvaluationError, match="unknown baseline"):
        baseline_contender("sepia")


def test_comparison_sheet_has_a_row_per_picture_and_a_column_per_contender(tmp_path):
    from trainer.evaluate import SHEET_HEADER_PX, Contender, write_comparison_sheet

    pictures = []
    for i, (h, w) in enumerate([(40, 60), (64, 48)]):
        pictures.append(tmp_path / f"p{i}.png")
        Image.fromarray((gradient_image(h, w, seed=i) * 255).astype(np.uint8)).save(pictures[-1])
    invert = Contender("invert", lambda rgb: 1.0 - rgb)
    sheet = write_comparison_sheet(tmp_path / "sheet.png", [invert], pictures, short_side_px=32)
    pixels = np.asarray(Image.open(sheet)).astype(np.float32) / 255.0
    assert pixels.shape == (SHEET_HEADER_PX + 2 * 32, 2 * 32, 3)
    photo_cell, cartoon_cell = pixels[SHEET_HEADER_PX:SHEET_HEADER_PX + 32, :32], pixels[SHEET_HEADER_PX:-32, 32:]
    assert np.allclose(cartoon_cell[:32], 1.0 - photo_cell, atol=2 / 255)
