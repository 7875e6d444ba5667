"""``lamina export RUN``: the run's model as an ONNX file that onnxruntime serves from raw inputs."""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import statistics
import tempfile
import time

import numpy as np

from ..errors import ConfigError, one_line

HELP = "export a trained model as an ONNX file (float32, int8 or float16) for onnxruntime"
DESCRIPTION = """\
Write a run's model as an ONNX file (default RUN/export/model.onnx) with a dynamic batch axis
(and a dynamic sequence axis for a text run), checked by onnx.checker and against lamina's own
output before anything is written. The file carries the run's whole input pipeline in its
metadata (lamina.preprocess: scaling, reshape, standardisation statistics; lamina.tokenizer:
the tokenizer.json of a text run), so it serves raw inputs alone:

  pre = Preprocess.from_metadata(lamina.onnx.read_metadata("model.onnx"))
  session.run(None, {"input": pre.prepare(raw_rows)})

and the classes, task, loss, model config, checkpoint name, the checkpoint file's sha256 and the
opset. Then it reports the file's size, the run's metrics on its test split from lamina and
from onnxruntime running the file, and the time per batch of 64 inputs of each (median).

--quantize int8 stores int8 weights: static quantization (activations calibrated on --calibrate
N training samples, default 256; per output channel unless --per-tensor) for models with
convolutions, dynamic quantization (activations quantized at run time) for MLP, recurrent and
text models; --static / --dynamic choose (--calibrate, --per-channel or --per-tensor imply
--static). --fp16 stores float16 weights. The file is model.int8.onnx / model.fp16.onnx, and
the float32 size is reported beside its own.

Nothing is written unless every step succeeds: a model that cannot be exported, a bad option,
or a failed quantization exits 2 with one line, leaving any earlier export as it was. Needs
onnx and onnxruntime: pip install 'lamina[onnx]'.

examples:
  lamina export runs/mlp_digits
  lamina export runs/cnn_digits --quantize int8 --calibrate 512 --json
  lamina export runs/bert_text --quantize int8 --out bert_int8.onnx
  lamina export runs/mlp_digits --fp16 --checkpoint last
"""

LATENCY_BATCH = 64
DEFAULT_CALIBRATION = 256
MIN_OPSET = 13
_FILE_NAMES = {"float32": "model.onnx", "int8": "model.int8.onnx", "float16": "model.fp16.onnx"}
_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
               "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def configure(p) -> None:
    p.add_argument("run", metavar="RUN", help="a run directory (or a checkpoint file in one)")
    p.add_argument("--format", choices=("onnx",), default="onnx", help="the file format (default: onnx)")
    p.add_argument("--out", metavar="PATH",
                   help="the file to write (or a folder for it); default RUN/export/model[.int8|.fp16].onnx")
    p.add_argument("--checkpoint", choices=("best", "last"),
                   help="which of the run's weights (default: the run's train.final_weights)")
    p.add_argument("--quantize", choices=("int8",), help="store int8 weights (static or dynamic quantization)")
    p.add_argument("--calibrate", type=int, metavar="N",
                   help=f"static quantization: calibrate on N training samples (default {DEFAULT_CALIBRATION})")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--static", dest="quant_mode", action="store_const", const="static",
                      help="static int8 quantization (calibrated activations; default for models with convolutions)")
    mode.add_argument("--dynamic", dest="quant_mode", action="store_const", const="dynamic",
                      help="dynamic int8 quantization (default for MLP, recurrent and text models)")
    chan = p.add_mutually_exclusive_group()
    chan.add_argument("--per-channel", dest="per_channel", action="store_true", default=None,
                      help="static quantization: one weight scale per output channel (the default)")
    chan.add_argument("--per-tensor", dest="per_channel", action="store_false",
                      help="static quantization: one weight scale per tensor")
    p.add_argument("--fp16", action="store_true", help="store float16 weights")
    p.add_argument("--opset", type=int, metavar="N", help="the ONNX opset (default 17)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


# ---------------------------------------------------------------- checks before any work
def _check_flags(args) -> None:
    if args.quantize is None:
        for flag, given in (("--calibrate", args.calibrate is not None), ("--static", args.quant_mode == "static"),
                            ("--dynamic", args.quant_mode == "dynamic"),
                            ("--per-channel", args.per_channel is True), ("--per-tensor", args.per_channel is False)):
            if given:
                raise ConfigError(f"{flag} is an option of --quantize int8; add --quantize int8 or drop {flag}")
    if args.quantize and args.fp16:
        raise ConfigError("--quantize int8 and --fp16 exclude each other: choose one precision")
    if args.calibrate is not None and args.calibrate < 1:
        raise ConfigError(f"--calibrate must be a positive number of samples, got {args.calibrate}")
    if args.quant_mode == "dynamic":
        extra = "--calibrate" if args.calibrate is not None else (
            "--per-channel" if args.per_channel is True else "--per-tensor" if args.per_channel is False else None)
        if extra:
            raise ConfigError(f"{extra} is an option of static quantization; --dynamic quantizes activations at "
                              "run time (no calibration, per-tensor): drop one of them")


def _require_runtime():
    try:
        import onnx
        import onnxruntime
    except ImportError as e:
        raise ConfigError(f"lamina export needs the onnx and onnxruntime packages ({e.name or 'one'} is missing): "
                          "pip install 'lamina[onnx]'") from None
    return onnx, onnxruntime


def _opset(args, onnx) -> int:
    from ...onnx import DEFAULT_OPSET
    if args.opset is None:
        return DEFAULT_OPSET
    top = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= args.opset <= top:
        raise ConfigError(f"--opset must be between {MIN_OPSET} and {top} (this onnx package's newest), "
                          f"got {args.opset}")
    return args.opset


def _out_path(args, run_dir: str, precision: str) -> str:
    name = _FILE_NAMES[precision]
    if args.out is None:
        return os.path.join(run_dir, "export", name)
    out = args.out
    if os.path.isdir(out):
        return os.path.join(out, name)
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ConfigError(f"--out: folder not found: {parent}")
    if not out.lower().endswith(".onnx"):
        raise ConfigError(f"--out: {out} should name a .onnx file (or an existing folder)")
    return out


def _load(args):
    from .. import rundir
    if args.checkpoint is not None:
        if os.path.isfile(args.run):
            raise ConfigError(f"--checkpoint picks best or last in a run directory; {args.run} is already a "
                              "checkpoint file")
        _, ckpt = rundir.find_checkpoint(args.run, args.checkpoint)
        if os.path.basename(ckpt) != f"{args.checkpoint}.safetensors":
            raise ConfigError(f"--checkpoint {args.checkpoint}: the run has no checkpoints/{args.checkpoint}."
                              f"safetensors (it has {os.path.basename(ckpt)})")
    loaded = rundir.load_run(args.run, args.checkpoint)
    info = loaded.preprocess.info
    if info.get("task") == "language_model":
        raise ConfigError(f"{loaded.run_dir} is a language model ({info['dataset']}); lamina export writes "
                          "classifiers and regressors (sample from it with lamina generate RUN)")
    return loaded


def _has_conv(model) -> bool:
    from ...nn.layers.conv import _ConvNd
    return any(isinstance(m, _ConvNd) for m in model.modules())


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _metadata(loaded, opset: int, precision: str, quant: dict | None) -> dict:
    """Everything a server needs beside the graph: the input pipeline, classes, task, model and weights."""
    info = loaded.preprocess.info
    cfg = loaded.cfg
    classes = None
    if info["task"] == "classification":
        names = info.get("classes")
        classes = [str(c) for c in names] if names else [str(i) for i in range(int(info["num_classes"]))]
    meta = dict(loaded.preprocess.to_metadata())
    meta.update({
        "lamina.task": info["task"],
        "lamina.classes": classes,
        "lamina.loss": cfg["loss"]["name"],
        "lamina.model_name": cfg["model"].get("name", "layers"),
        "lamina.model": cfg["model"],
        "lamina.run": os.path.basename(os.path.abspath(loaded.run_dir)),
        "lamina.checkpoint": os.path.basename(loaded.checkpoint),
        "lamina.weights_sha256": _sha256(loaded.checkpoint),
        "lamina.opset": str(opset),
        "lamina.precision": precision,
    })
    if quant is not None:
        meta["lamina.quantization"] = quant
    return meta


def _set_metadata(onnx, path: str, meta: dict) -> None:
    """Write ``meta`` into the file's metadata_props (a quantizer may have dropped or kept them)."""
    import json
    proto = onnx.load(path)
    keep = [(p.key, p.value) for p in proto.metadata_props if p.key not in meta]
    del proto.metadata_props[:]
    for k, v in keep + [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in meta.items()]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, path)


def _is_ort_error(e: BaseException) -> bool:
    return type(e).__module__.startswith("onnxruntime")


# ---------------------------------------------------------------- the file in onnxruntime
def _session(ort, path: str):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only: a quantized graph's notes are not the user's business
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def _ort_module(session):
    """A lamina Module running ``session``: the Trainer evaluates the file as it evaluates the model."""
    from ...nn import Module
    from ...tensor import Tensor

    class OnnxRuntimeModel(Module):
        def __init__(self):
            super().__init__()
            first = session.get_inputs()[0]
            self._run = session.run
            self._input = first.name
            self._dtype = _ORT_DTYPES.get(first.type, np.float32)

        def forward(self, x):
            arr = np.ascontiguousarray(np.asarray(x.array if hasattr(x, "array") else x), dtype=self._dtype)
            out = self._run(None, {self._input: arr})[0]
            return Tensor._wrap(np.asarray(out, dtype=np.float32) if out.dtype == np.float16 else out)

    return OnnxRuntimeModel()


def _evaluate(model, cfg: dict, info: dict, pair) -> dict:
    from ...data import DataLoader
    from ...train import Trainer
    from .. import build
    names = list(cfg["metrics"]["names"]) or (["accuracy"] if info["task"] == "classification" else [])
    loader = DataLoader(build._tensors(*pair), batch_size=cfg["data"]["eval_batch_size"])
    trainer = Trainer(model, build.build_loss(cfg, info), None, metrics=names)
    return trainer.evaluate(loader)


def _median_ms(fn, min_runs: int = 5, max_runs: int = 20, budget_s: float = 1.0) -> tuple:
    """``(median milliseconds, runs)`` of ``fn()`` after one warm-up call."""
    fn()
    times, stop = [], time.perf_counter() + budget_s
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() < stop):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0, len(times)


def _latency(lamina_model, ort_model, x: np.ndarray) -> dict:
    from ...autograd import no_grad
    from ...tensor import Tensor
    batch = np.ascontiguousarray(x[np.arange(LATENCY_BATCH) % len(x)])
    wrapped = Tensor._wrap(batch)

    def lamina_fn():
        with no_grad():
            lamina_model(wrapped)

    ms_lamina, n1 = _median_ms(lamina_fn)
    ms_ort, n2 = _median_ms(lambda: ort_model(wrapped))
    return {"batch_size": LATENCY_BATCH, "runs": min(n1, n2), "lamina": ms_lamina, "onnxruntime": ms_ort}


def _check_other_shapes(model, session, x: np.ndarray, tokens: bool) -> None:
    """The float32 file against lamina at another batch size (and a shorter sequence for text)."""
    from ...autograd import no_grad
    from ...onnx import ExportError
    from ...tensor import Tensor
    cases = [x[:min(len(x), 5)]]
    if tokens and x.shape[1] > 2:
        cases.append(x[:min(len(x), 3), :max(2, x.shape[1] // 2)])
    name = session.get_inputs()[0].name
    for xb in cases:
        xb = np.ascontiguousarray(xb)
        with no_grad():
            want = np.asarray(model(Tensor._wrap(xb)).array)
        try:
            got = session.run(None, {name: xb})[0]
        except Exception as e:  # noqa: BLE001 - onnxruntime's own exception types
            if not _is_ort_error(e):
                raise
            raise ExportError(f"onnxruntime cannot run the file on inputs of shape {xb.shape}: {one_line(e)}") \
                from None
        if got.shape != want.shape or not np.allclose(got, want, atol=1e-4, rtol=1e-3):
            raise ExportError(f"on inputs of shape {xb.shape} onnxruntime's output differs from lamina's "
                              "(a dimension of the example was fixed in the graph)")


# ---------------------------------------------------------------- quantization
def _calibration(train_x: np.ndarray, n: int) -> np.ndarray:
    if len(train_x) <= n:
        return np.ascontiguousarray(train_x)
    idx = np.sort(np.random.default_rng(0).choice(len(train_x), size=n, replace=False))
    return np.ascontiguousarray(train_x[idx])


def _convert(args, src: str, dst: str, model, train_x) -> dict | None:
    """Quantize or convert ``src`` into ``dst``; returns the quantization settings (or None)."""
    try:
        from ... import quantization
    except ImportError as e:
        raise ConfigError(f"{'--quantize int8' if args.quantize else '--fp16'} needs lamina.quantization, which "
                          f"cannot be imported here: {one_line(e)}") from None
    what = "--fp16" if args.fp16 else "--quantize int8"
    needed = ("convert_float16",) if args.fp16 else ("quantize_static_onnx", "quantize_dynamic_onnx")
    missing = [n for n in needed if not callable(getattr(quantization, n, None))]
    if missing:
        raise ConfigError(f"{what} needs lamina.quantization.{missing[0]}, which this install of lamina lacks")
    settings = None
    quiet = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the quantizer's advice on the root logger
    try:
        # np.errstate: onnxruntime's calibrator divides by the width of every range it saw, an
        # attention mask's infinite one included; the file's metrics are reported below either way
        # the working directory: onnxruntime's shape inference leaves temporary files in it
        with np.errstate(all="ignore"), _working_dir(os.path.dirname(os.path.abspath(dst))):
            settings = _run_converter(args, quantization, src, dst, model, train_x)
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - onnxruntime's quantizer raises anything; the user gets one line
        raise ConfigError(f"{what} failed: {type(e).__name__}: {one_line(e)}") from None
    finally:
        logging.disable(quiet)
    if not os.path.isfile(dst):
        raise ConfigError(f"{what} failed: it wrote no file")
    return settings


@contextlib.contextmanager
def _working_dir(path: str):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _run_converter(args, quantization, src, dst, model, train_x) -> dict | None:
    if args.fp16:
        quantization.convert_float16(src, dst)
        return None
    mode = args.quant_mode
    if mode is None:
        static_flags = args.calibrate is not None or args.per_channel is not None
        mode = "static" if static_flags or _has_conv(model) else "dynamic"
    if mode == "static":
        per_channel = True if args.per_channel is None else args.per_channel
        calib = _calibration(train_x, args.calibrate or DEFAULT_CALIBRATION)
        quantization.quantize_static_onnx(src, dst, calib, per_channel=per_channel)
        return {"mode": "static", "per_channel": per_channel, "calibration_samples": int(len(calib))}
    quantization.quantize_dynamic_onnx(src, dst)
    return {"mode": "dynamic"}


# ---------------------------------------------------------------- the command
def run(args) -> int:
    _check_flags(args)
    onnx, ort = _require_runtime()
    # onnxruntime's warnings about graphs it optimises (its sessions inside export and the
    # quantizer) are not the user's business: errors only while the command runs, then its default
    ort.set_default_logger_severity(3)
    try:
        return _export(args, onnx, ort)
    finally:
        ort.set_default_logger_severity(2)


def _export(args, onnx, ort) -> int:
    from ...io import atomic_write_bytes
    from ...onnx import ExportError, export
    from ...tensor import Tensor
    from .. import build, rundir
    opset = _opset(args, onnx)
    precision = "int8" if args.quantize else "float16" if args.fp16 else "float32"
    loaded = _load(args)
    out = _out_path(args, loaded.run_dir, precision)
    info, cfg = loaded.preprocess.info, loaded.cfg
    tokens = info.get("input_kind") == "tokens"

    data = build.build_data(cfg, preprocess=loaded.preprocess)
    train, val, test = data.arrays
    split, pair = next(((s, p) for s, p in (("test", test), ("val", val), ("train", train))
                        if p is not None and len(p[0])), (None, None))
    if pair is None:
        raise ConfigError("the run's data has no samples to check the export on")
    x = np.ascontiguousarray(pair[0])
    example = Tensor._wrap(np.ascontiguousarray(x[:2]))
    dynamic = {"input": {0: "batch", 1: "sequence"}, "output": {0: "batch"}} if tokens else None
    model_name = cfg["model"].get("name", "layers")

    meta = _metadata(loaded, opset, "float32", None)
    try:
        proto = export(loaded.model, example, None, dynamic_axes=dynamic, opset=opset, metadata=meta)
    except ExportError as e:
        raise ConfigError(f"cannot export the model of {loaded.run_dir} ({model_name}): {one_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - onnxruntime refusing the graph (e.g. an opset it does not know)
        if not _is_ort_error(e):
            raise
        raise ConfigError(f"onnxruntime cannot run the exported model at opset {opset}: {one_line(e)}") from None

    with tempfile.TemporaryDirectory(prefix="lamina-export-") as tmp:
        f32 = os.path.join(tmp, _FILE_NAMES["float32"])
        with open(f32, "wb") as f:
            f.write(proto.SerializeToString())
        try:
            _check_other_shapes(loaded.model, _session(ort, f32), x, tokens)
        except ExportError as e:
            raise ConfigError(f"cannot export the model of {loaded.run_dir} ({model_name}): {one_line(e)}") \
                from None
        final, quant = f32, None
        if precision != "float32":
            final = os.path.join(tmp, _FILE_NAMES[precision])
            train_x = train[0] if train is not None and len(train[0]) else x
            quant = _convert(args, f32, final, loaded.model, train_x)
            _set_metadata(onnx, final, _metadata(loaded, opset, precision, quant))
        try:
            session = _session(ort, final)
        except Exception as e:  # noqa: BLE001
            if not _is_ort_error(e):
                raise
            raise ConfigError(f"onnxruntime cannot load the {precision} file: {one_line(e)}") from None
        ort_model = _ort_module(session)
        before = _evaluate(loaded.model, cfg, info, pair)
        try:
            after = _evaluate(ort_model, cfg, info, pair)
        except Exception as e:  # noqa: BLE001
            if not _is_ort_error(e):
                raise
            raise ConfigError(f"onnxruntime cannot run the {precision} file: {one_line(e)}") from None
        latency = _latency(loaded.model, ort_model, x)
        with open(final, "rb") as f:
            blob = f.read()
        f32_size = os.path.getsize(f32)
        inputs = [{"name": i.name, "shape": list(i.shape), "type": i.type} for i in session.get_inputs()]
        outputs = [{"name": o.name, "shape": list(o.shape), "type": o.type} for o in session.get_outputs()]

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    atomic_write_bytes(out, blob)
    result = {"file": out, "format": args.format, "precision": precision, "quantization": quant, "opset": opset,
              "size_bytes": len(blob), "float32_size_bytes": f32_size, "run": loaded.run_dir,
              "checkpoint": loaded.checkpoint, "weights_sha256": meta["lamina.weights_sha256"], "model": model_name,
              "task": info["task"], "inputs": inputs, "outputs": outputs, "split": split,
              "num_samples": int(len(x)), "metrics": {"lamina": before, "onnxruntime": after}, "latency_ms": latency}
    if args.json:
        print(rundir.dumps_json(result))
    else:
        _print(result)
    return 0


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""  # pragma: no cover


def _print(r: dict) -> None:
    how = r["precision"]
    q = r["quantization"]
    if q is not None:
        how = f"int8, {q['mode']} quantization" + (
            f" ({'per-channel' if q['per_channel'] else 'per-tensor'}, calibrated on {q['calibration_samples']} "
            "training samples)" if q["mode"] == "static" else "")
    size = _size(r["size_bytes"])
    if r["precision"] != "float32":
        size += f"; float32 {_size(r['float32_size_bytes'])}, {r['size_bytes'] / r['float32_size_bytes']:.2f}x"
    print(f"wrote {r['file']}  ({size})")
    print(f"  {r['model']}, {how}, opset {r['opset']}, weights {os.path.basename(r['checkpoint'])}")
    before, after = r["metrics"]["lamina"], r["metrics"]["onnxruntime"]
    head = f"{r['split']} split, {r['num_samples']} samples"
    rows = [(k, float(v), float(after[k])) for k, v in before.items() if np.ndim(v) == 0]
    width = max([len(head)] + [len(k) + 2 for k, _, _ in rows])
    print(f"{head:<{width}}  {'lamina':>12}  {'onnxruntime':>12}")
    for k, a, b in rows:
        print(f"{'  ' + k:<{width}}  {a:>12.6f}  {b:>12.6f}")
    lat = r["latency_ms"]
    print(f"latency per batch of {lat['batch_size']} (median of {lat['runs']} runs): lamina {lat['lamina']:.3f} ms, "
          f"onnxruntime {lat['onnxruntime']:.3f} ms")
