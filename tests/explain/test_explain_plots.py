"""The plotting helpers write real PNG files (heat map, coloured tokens, feature bars, attention)."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from lamina.explain import plot_attention, plot_feature_importance, plot_image_attribution, plot_token_attribution

PNG = b"\x89PNG\r\n\x1a\n"


def _png(path):
    with open(path, "rb") as f:
        head = f.read(8)
    return head == PNG


def test_plots_write_png_files(tmp_path):
    rng = np.random.default_rng(0)
    img, attr = rng.random((1, 8, 8)), rng.standard_normal((1, 8, 8))
    paths = [
        plot_image_attribution(attr, img, tmp_path / "img.png", title="IG"),
        plot_image_attribution(np.abs(attr)[0], None, tmp_path / "sub" / "cam.png"),
        plot_image_attribution(rng.standard_normal((3, 6, 6)), rng.random((3, 6, 6)), tmp_path / "rgb.png"),
        plot_token_attribution(["[CLS]", "a", "great", "film", "[SEP]"], [0.0, 0.1, 0.9, -0.3, 0.0], tmp_path / "t.png"),
        plot_feature_importance(["age", "bmi", "bp"], [0.3, -0.1, 0.05], tmp_path / "f.png", errors=[0.01, 0.02, 0.0]),
        plot_attention(rng.dirichlet(np.ones(4), (2, 4)), ["a", "b", "c", "d"], tmp_path / "a.png"),
    ]
    for p in paths:
        assert _png(p), p
    assert not list(tmp_path.glob("*.tmp.png"))


def test_plot_errors_name_the_mismatch(tmp_path):
    with pytest.raises(ValueError, match="3 tokens but 2 scores"):
        plot_token_attribution(["a", "b", "c"], [1.0, 2.0], tmp_path / "x.png")
    with pytest.raises(ValueError, match="must be an image"):
        plot_image_attribution(np.zeros((2, 2, 2, 2)), None, tmp_path / "x.png")
    with pytest.raises(ValueError, match="2 names but 3 values"):
        plot_feature_importance(["a", "b"], [1, 2, 3], tmp_path / "x.png")
