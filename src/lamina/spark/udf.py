"""Batch inference on Spark: a pandas UDF that scores a DataFrame column with a lamina run.

    from lamina.spark import predict_udf
    score = predict_udf("runs/mlp_digits")                 # feature arrays, images or texts
    df = spark.read.parquet("digits.parquet")              # a column "features": array<double>
    out = df.withColumn("pred", score("features")).select("id", "pred.class", "pred.probability")

The UDF is an iterator pandas UDF: each Python worker loads the run once (``scoring.load`` caches
it per process, and Spark reuses its Python workers), then scores every Arrow batch of its
partitions through the run's ``Preprocess``, computing what ``lamina predict`` computes. The run
directory must be readable where the executors run (local mode, or a shared filesystem).

Bit for bit: BLAS rounds a row's float32 result differently depending on which rows share its
matrix product, so the UDF's numbers equal ``lamina predict --batch-size B``'s exactly when the
rows are batched alike: always with ``batch_size=1``; ``score_parquet`` (``lamina predict RUN
--spark``) numbers the rows and scores them in predict's own batches, so it matches for any B.
Otherwise they agree to float32 rounding (about 1e-7 relative).

Column types: ``array<number>`` (raw feature rows, as ``lamina predict`` reads them from a .npy),
``binary`` (encoded image files: PNG, JPEG, ...), ``string`` (image paths, or texts for a text run).
The result is a struct: ``class``, ``label``, ``probability``, ``probabilities`` for a classifier,
``prediction`` for a regressor.
"""
from typing import Iterator

import os
import sys

__all__ = ["predict_udf", "result_schema", "score_parquet", "spark_session"]


def _pyspark():
    try:
        import pyspark  # noqa: F401
        import pyspark.sql.functions  # noqa: F401
    except ImportError as e:
        raise ImportError("lamina.spark needs PySpark (and pandas, pyarrow): pip install 'lamina[spark]'") from e
    return pyspark


def result_schema(info: dict):
    """The Spark struct type of a run's results (``info``: its Preprocess info)."""
    _pyspark()
    from pyspark.sql import types as T
    from .scoring import output_columns
    output_columns(info)
    if info["task"] == "classification":
        return T.StructType([T.StructField("class", T.LongType()), T.StructField("label", T.StringType()),
                             T.StructField("probability", T.DoubleType()),
                             T.StructField("probabilities", T.ArrayType(T.DoubleType()))])
    return T.StructType([T.StructField("prediction", T.ArrayType(T.DoubleType()))])


def predict_udf(run_dir, kind: str | None = None, batch_size: int = 256, allow_nonfinite: bool = False,
                prefer: str | None = None):
    """A pandas UDF ``column -> struct`` scoring with the run at ``run_dir`` (see the module docstring).

    ``kind``: 'features', 'images' or 'texts' (default: inferred from the values); ``batch_size``:
    rows per forward pass (lamina predict's --batch-size); ``allow_nonfinite``: score NaN/Inf features
    (their results are null) instead of failing the task; ``prefer``: 'best' or 'last' checkpoint
    (default: the run's train.final_weights).
    """
    _pyspark()
    import pandas as pd
    from pyspark.sql.functions import pandas_udf
    from ..cli.errors import ConfigError
    from .scoring import load, model_input, output_columns, score
    if kind not in (None, "features", "images", "texts"):
        raise ValueError(f"predict_udf: kind must be 'features', 'images', 'texts' or None, got {kind!r}")
    if int(batch_size) < 1:
        raise ValueError(f"predict_udf: batch_size must be a positive integer, got {batch_size}")
    run_dir = os.path.abspath(os.fspath(run_dir))
    loaded = load(run_dir, prefer)  # checks the run on the driver, before any task runs
    info = loaded.preprocess.info
    columns = output_columns(info)
    schema = result_schema(info)
    batch_size = int(batch_size)

    def lamina_predict(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        run = load(run_dir, prefer)  # once per Python worker
        for values in batches:
            try:
                x = model_input(run.preprocess, values, kind, allow_nonfinite)
            except ConfigError as e:
                raise ValueError(f"lamina predict_udf ({run_dir}): {e}") from None
            yield pd.DataFrame(score(run, x, batch_size), columns=list(columns))

    return pandas_udf(lamina_predict, returnType=schema)


def spark_session(master: str | None = None, app_name: str = "lamina", conf: dict | None = None):
    """The active SparkSession, or a new one: ``master`` (default ``local[*]``, unless launched by
    spark-submit), the Python workers running this interpreter, Arrow on."""
    _pyspark()
    import shutil
    from pyspark.sql import SparkSession
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise RuntimeError("Spark needs Java (17 or later) and none was found: install it (e.g. apt-get install "
                           "openjdk-17-jre-headless) or set JAVA_HOME")
    builder = SparkSession.builder.appName(app_name)
    if master is not None or "PYSPARK_GATEWAY_PORT" not in os.environ:
        builder = builder.master(master or "local[*]")
    settings = {"spark.sql.execution.arrow.pyspark.enabled": "true", "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false"}
    # the Python workers run this interpreter (so they import lamina from this environment), unless the
    # user chose one: PySpark reads the variable when the SparkContext starts
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings.update(conf or {})
    for k, v in settings.items():
        builder = builder.config(k, v)
    return builder.getOrCreate()


def _input_column(df, column: str | None) -> tuple:
    """``(column expression, name)`` to score: the named column, the only one, the one named features /
    image / text / path, or every numeric column assembled into an array (a wide table, like a CSV)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
    from ..cli.errors import ConfigError
    fields = {f.name: f.dataType for f in df.schema.fields}
    if column is not None:
        if column not in fields:
            raise ConfigError(f"--column {column!r} is not a column of the input (columns: {', '.join(fields)})")
        return F.col(column), column
    scorable = (T.ArrayType, T.BinaryType, T.StringType)
    candidates = [n for n, t in fields.items() if isinstance(t, scorable)]
    for name in ("features", "image", "text", "path"):
        if name in candidates:
            return F.col(name), name
    if len(candidates) == 1:
        return F.col(candidates[0]), candidates[0]
    numeric = [n for n, t in fields.items() if isinstance(t, T.NumericType)]
    if not candidates and numeric and len(numeric) == len(fields):
        return F.array(*[F.col(n).cast("double") for n in numeric]), None
    shown = ", ".join(f"{n} ({t.simpleString()})" for n, t in fields.items())
    raise ConfigError(f"which column holds the inputs? the input has {shown}; "
                      "name it with --column")


def score_parquet(run_dir, input_path: str, output_path: str, column: str | None = None, master: str | None = None,
                  batch_size: int = 256, allow_nonfinite: bool = False, spark=None) -> int:
    """Score ``input_path`` (Parquet) with the run and write ``output_path`` (Parquet): the input's columns
    plus the prediction columns, rows in the input's order. Returns the number of rows written.

    Exactly ``lamina predict``'s numbers: BLAS rounds a row's float32 result differently depending on
    the rows batched with it, so the rows are numbered in file order (``zipWithIndex``) and scored in
    the batches ``lamina predict --batch-size`` makes (rows [k B, (k + 1) B), one group per batch,
    spread over the executors). A text run's padding follows its batch, not the whole file.
    """
    from pyspark.sql import types as T
    from ..cli.errors import ConfigError
    from .scoring import load, output_columns
    if not os.path.exists(input_path):
        raise ConfigError(f"--spark: input not found: {input_path}")
    if int(batch_size) < 1:
        raise ConfigError(f"--batch-size must be a positive integer, got {batch_size}")
    run_dir = os.path.abspath(os.fspath(run_dir))
    info = load(run_dir).preprocess.info
    columns = output_columns(info)
    spark = spark or spark_session(master, "lamina predict")
    df = spark.read.parquet(os.path.abspath(input_path))
    taken = [c for c in columns if c in df.columns]
    if taken:
        raise ConfigError(f"--spark: the input already has column(s) {', '.join(taken)}, which the predictions "
                          "would overwrite; rename them")
    expr, name = _input_column(df, column)
    keep = list(df.columns)
    if name is None:  # numeric columns assembled into one array column
        name = "__lamina_input"
        df = df.withColumn(name, expr)
    row, chunk = "__lamina_row", "__lamina_batch"
    indexed, total = _with_row_numbers(df, row)
    fields = indexed.schema.fields
    indexed = indexed.withColumn(chunk, (indexed[row] / int(batch_size)).cast("long"))
    result = T.StructType([f for f in fields if f.name in keep or f.name == row] + list(result_schema(info).fields))
    scorer = _batch_scorer(run_dir, name, keep, row, list(columns), int(batch_size), allow_nonfinite)
    out = indexed.groupBy(chunk).applyInPandas(scorer, schema=result).orderBy(row).drop(row)
    out.write.mode("overwrite").parquet(os.path.abspath(output_path))
    return total


def _with_row_numbers(df, name: str):
    """``(df with a column name, number of rows)``: the column numbers the rows 0, 1, ... in order (file
    order for a Parquet file), computed in the JVM: each partition's rows counted once, then partition
    offset + row in the partition (``monotonically_increasing_id`` is partition index * 2^33 + row)."""
    from pyspark.sql import functions as F
    pid, mid = "__lamina_partition", "__lamina_mid"
    tagged = df.withColumn(pid, F.spark_partition_id()).withColumn(mid, F.monotonically_increasing_id())
    counts = dict(tagged.groupBy(pid).count().collect())
    offsets, total = [], 0
    for p in sorted(counts):
        offsets += [F.lit(p), F.lit(total)]
        total += counts[p]
    if not offsets:
        return df.withColumn(name, F.lit(0).cast("long")), 0
    offset = F.element_at(F.create_map(*offsets), F.col(pid))
    local = F.col(mid) - F.shiftleft(F.col(pid).cast("long"), 33)
    return tagged.withColumn(name, (offset + local).cast("long")).drop(pid, mid), total


def _batch_scorer(run_dir: str, name: str, keep: list, row: str, columns: list, batch_size: int,
                  allow_nonfinite: bool):
    """The ``applyInPandas`` function of ``score_parquet``: one of lamina predict's batches -> its results."""
    from ..cli.errors import ConfigError
    from .scoring import load, model_input, score

    def score_batch(pdf):
        import pandas as pd
        run = load(run_dir)  # once per Python worker
        pdf = pdf.sort_values(row)
        try:
            x = model_input(run.preprocess, pdf[name], None, allow_nonfinite)
        except ConfigError as e:
            raise ValueError(f"lamina predict --spark ({run_dir}): {e}") from None
        res = pd.DataFrame(score(run, x, batch_size), columns=columns, index=pdf.index)
        return pd.concat([pdf[keep + [row]], res], axis=1)

    return score_batch
