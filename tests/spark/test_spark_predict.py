"""lamina.spark: a pandas UDF scoring a DataFrame column with a run gives exactly ``lamina predict``'s
outputs (10,000 feature rows on local[2]; encoded images and image paths), and ``lamina predict RUN
--spark in.parquet --out out.parquet``. One SparkSession for the module (its start-up is the slow part)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil

import numpy as np
import pytest

pytest.importorskip("pyspark", reason="PySpark is not installed: pip install 'lamina[spark]'")
pytest.importorskip("pandas", reason="pandas is not installed: pip install 'lamina[spark]'")
pytest.importorskip("pyarrow", reason="pyarrow is not installed: pip install 'lamina[spark]'")
pytest.importorskip("sklearn", reason="the digits dataset needs scikit-learn")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17+ (apt-get install openjdk-17-jre-headless)", allow_module_level=True)

import pandas as pd  # noqa: E402

from lamina.cli.main import main  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")

SMALL = """
[model]
name = "mlp"
hidden_sizes = [16]

[data]
name = "digits"
batch_size = 128
standardize = true

[optimizer]
name = "adam"
lr = 0.01

[train]
epochs = 2

[metrics]
names = ["accuracy"]
"""


def lamina(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("sparkrun")
    (d / "small.toml").write_text(SMALL)
    code, _, err = lamina("train", d / "small.toml", "--run-dir", d / "run", "-q")
    assert code == 0, err
    return d / "run"


@pytest.fixture(scope="module")
def spark():
    from lamina.spark import spark_session
    old = os.environ.get("SPARK_LOCAL_IP")
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # the driver and its block manager on the loopback only
    session = spark_session("local[2]", "lamina-tests", conf={
        "spark.driver.memory": "512m", "spark.sql.shuffle.partitions": "2",
        "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"})  # a faster JVM start
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    if old is None:
        os.environ.pop("SPARK_LOCAL_IP", None)
    else:
        os.environ["SPARK_LOCAL_IP"] = old


def _reference(run, *inputs):
    code, out, err = lamina("predict", run, *inputs, "--json")
    assert code == 0, err
    return json.loads(out)["predictions"]


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """10,000 raw digits rows (pixel values 0..16) as x.npy and as x.parquet (id, features)."""
    d = tmp_path_factory.mktemp("rows")
    x = np.random.default_rng(0).integers(0, 17, (10000, 64)).astype(np.float64)
    np.save(d / "x.npy", x)
    pd.DataFrame({"id": np.arange(len(x)), "features": list(x)}).to_parquet(d / "x.parquet")
    return d


def test_cli_spark_on_10000_rows_equals_lamina_predict(run, spark, rows, tmp_path):
    code, out, err = lamina("predict", run, "--spark", rows / "x.parquet", "--out", tmp_path / "out.parquet")
    assert code == 0, err
    assert "scored 10000 rows" in out
    got = pd.read_parquet(tmp_path / "out.parquet")
    assert list(got.columns) == ["id", "features", "class", "label", "probability", "probabilities"]
    assert got["id"].tolist() == list(range(10000))  # the input's order
    ref = _reference(run, rows / "x.npy")
    assert got["class"].tolist() == [r["class"] for r in ref]
    assert got["label"].tolist() == [r["label"] for r in ref]
    assert got["probability"].tolist() == [r["probability"] for r in ref]  # exactly: the same float64s
    assert [list(p) for p in got["probabilities"]] == [r["probabilities"] for r in ref]


def test_udf_over_two_partitions_equals_lamina_predict(run, spark, rows, tmp_path):
    from lamina.spark import predict_udf
    x = np.load(rows / "x.npy")[:3000]
    np.save(tmp_path / "x.npy", x)
    df = spark.createDataFrame(pd.DataFrame({"id": np.arange(len(x)), "features": list(x)})).repartition(2)
    assert df.rdd.getNumPartitions() == 2  # both workers score a share, the rows shuffled
    per_row, batched = predict_udf(run, batch_size=1), predict_udf(run)
    got = (df.select("id", per_row("features").alias("a"), batched("features").alias("b"))
           .select("id", "a.class", "a.probabilities", "b.probabilities").toPandas().sort_values("id"))
    ref = _reference(run, tmp_path / "x.npy", "--batch-size", 1)
    assert got["class"].tolist() == [r["class"] for r in ref]
    a = np.array([list(p) for p in got.iloc[:, 2]])
    assert a.tolist() == [r["probabilities"] for r in ref]  # batch size 1: the same rows alone, bit for bit
    np.testing.assert_allclose(np.array([list(p) for p in got.iloc[:, 3]]), a, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="kind"):
        predict_udf(run, kind="audio")


def test_cli_scores_encoded_images_and_image_paths(run, spark, tmp_path):
    from PIL import Image
    from sklearn.datasets import load_digits
    digits = load_digits()
    paths, blobs = [], []
    for i in range(6):
        p = tmp_path / f"digit{i}.png"
        Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8), mode="L").save(p)
        paths.append(str(p))
        blobs.append(p.read_bytes())
    pd.DataFrame({"name": [f"d{i}" for i in range(6)], "image": blobs}).to_parquet(tmp_path / "img.parquet")
    code, out, err = lamina("predict", run, "--spark", tmp_path / "img.parquet", "--out", tmp_path / "out.parquet")
    assert code == 0, err
    assert "scored 6 rows" in out
    got = pd.read_parquet(tmp_path / "out.parquet").sort_values("name")
    assert list(got.columns) == ["name", "image", "class", "label", "probability", "probabilities"]
    ref = _reference(run, *paths)
    assert got["class"].tolist() == [r["class"] for r in ref]
    assert [list(p) for p in got["probabilities"]] == [r["probabilities"] for r in ref]
    # the same images by path, in a string column chosen with --column
    pd.DataFrame({"path": paths, "note": ["x"] * 6}).to_parquet(tmp_path / "paths.parquet")
    code, _, err = lamina("predict", run, "--spark", tmp_path / "paths.parquet", "--out", tmp_path / "o2.parquet",
                          "--column", "path")
    assert code == 0, err
    got2 = pd.read_parquet(tmp_path / "o2.parquet")
    assert got2["probability"].tolist() == [r["probability"] for r in ref]


def test_cli_spark_errors(run, spark, tmp_path):
    code, _, err = lamina("predict", run, "--spark", tmp_path / "in.parquet")
    assert code == 2 and "--out" in err
    pd.DataFrame({"a": ["x"], "b": ["y"]}).to_parquet(tmp_path / "two.parquet")
    code, _, err = lamina("predict", run, "--spark", tmp_path / "two.parquet", "--out", tmp_path / "o.parquet")
    assert code == 2 and "--column" in err
    code, _, err = lamina("predict", run, "--spark", tmp_path / "two.parquet", "--out", tmp_path / "o.parquet",
                          "--column", "nope")
    assert code == 2 and "'nope' is not a column" in err
    code, _, err = lamina("predict", run, "--spark", tmp_path / "missing.parquet", "--out", tmp_path / "o.parquet")
    assert code == 2 and "not found" in err
    code, _, err = lamina("predict", run, "x.npy", "--spark", tmp_path / "two.parquet", "--out", tmp_path / "o.parquet")
    assert code == 2 and "INPUTS" in err
