"""lamina.spark: batch inference with a trained run over Spark DataFrames.

    from lamina.spark import predict_udf, spark_session
    spark = spark_session("local[2]")
    score = predict_udf("runs/mlp_digits")
    spark.read.parquet("in.parquet").withColumn("pred", score("features")).write.parquet("out.parquet")

or from the command line: ``lamina predict RUN --spark in.parquet --out out.parquet``.
Needs pip install 'lamina[spark]' (pyspark, pandas, pyarrow) and Java 17+.
"""
from .scoring import load, model_input, score
from .udf import predict_udf, result_schema, score_parquet, spark_session

__all__ = ["load", "model_input", "predict_udf", "result_schema", "score", "score_parquet", "spark_session"]
