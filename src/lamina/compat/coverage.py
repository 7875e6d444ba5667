"""How much of PyTorch's Python API lamina covers, measured against an installed PyTorch.

For each namespace (torch.Tensor methods, torch.* functions, torch.nn, torch.nn.functional,
torch.optim, lr_scheduler, torch.distributions, ...) every public name PyTorch has is put in
exactly one class:

* **have**: lamina has an object under the same name and path;
* **missing**: lamina has nothing there yet;
* **refused**: lamina leaves it out on purpose (REFUSED below, each with its reason; a lamina
  object carrying ``__lamina_refused__ = "reason"`` counts here too);
* **set aside**: out of scope for a training framework on NumPy/CuPy (quantized, sparse,
  complex-only, named tensors, storage internals, other backends, compiler internals, names
  PyTorch itself removed...). The categories are explicit lists with their reasons below; they
  do not include anything a training script plausibly calls.

The percentage is have / (have + missing): set-aside and refused names are left out of it.
PyTorch is the oracle: it is imported only here, only when the table is computed.
"""
from __future__ import annotations

import importlib
import inspect
import types
from dataclasses import dataclass

__all__ = ["NAMESPACES", "REFUSED", "REFUSED_BEHAVIOURS", "SET_ASIDE", "Rule", "classify", "compute"]


@dataclass(frozen=True)
class Rule:
    """A set-aside category: the names it covers (exact, by prefix, suffix or substring) and why."""

    reason: str
    names: frozenset = frozenset()
    prefixes: tuple = ()
    suffixes: tuple = ()
    contains: tuple = ()
    exclude: frozenset = frozenset()  # real ops a pattern would catch (index_copy is not a view copy)

    def matches(self, name: str) -> bool:
        if name in self.exclude:
            return False
        return (name in self.names or name.startswith(self.prefixes) or name.endswith(self.suffixes)
                or any(c in name for c in self.contains))


def _names(text: str) -> frozenset:
    return frozenset(text.split())


# ---------------------------------------------------------------- set aside: Tensor methods and torch.*
SET_ASIDE: dict[str, Rule] = {
    "quantized": Rule(
        "quantized tensors (integer values with scales/zero points) are a deployment format; lamina's "
        "quantization works on ordinary tensors in deploy/",
        _names("dequantize int_repr qscheme is_quantized fused_moving_avg_obs_fake_quant empty_quantized"),
        prefixes=("q_", "quantize_", "quantized_", "fake_quantize", "choose_qparams")),
    "sparse": Rule(
        "sparse layouts (COO/CSR/BSR...): lamina's tensors are dense NumPy/CuPy arrays",
        _names("coalesce is_coalesced indices values crow_indices col_indices ccol_indices row_indices dense_dim "
               "sparse_dim to_dense is_sparse is_sparse_csr smm sspaddmm hspmm hsmm dsmm spmm saddmm"),
        contains=("sparse",)),
    "complex-only": Rule(
        "meaningful only for complex dtypes, which lamina does not support (float/int/bool only)",
        _names("real imag angle conj conj_physical conj_physical_ view_as_complex view_as_real polar complex "
               "is_conj resolve_conj resolve_neg is_neg sgn sgn_ adjoint mH isreal cdouble cfloat chalf")),
    "named tensors": Rule(
        "named tensors (a prototype API in PyTorch)",
        _names("names rename rename_ refine_names align_to align_as has_names")),
    "nested tensors": Rule("nested (jagged) tensors", _names("is_nested to_padded_tensor")),
    "storage and memory layout": Rule(
        "raw storages, memory addresses and memory formats: a lamina tensor is one NumPy/CuPy array",
        _names("storage untyped_storage storage_type storage_offset set_ share_memory_ is_shared data_ptr "
               "const_data_ptr record_stream to_mkldnn is_mkldnn is_set_to resize_ resize_as_ dim_order "
               "new_empty_strided empty_strided empty_permuted is_storage from_file module_load")),
    "other backends": Rule(
        "kernels and device checks of backends lamina doesn't have (cuDNN, MIOpen, oneDNN, FBGEMM, XLA, MPS, "
        "IPU, XPU, MTIA, Vulkan, meta); lamina's devices are the CPU and CUDA",
        _names("is_mps is_xpu is_ipu is_xla is_vulkan is_meta is_maia is_mtia ipu xpu mtia is_vulkan_available "
               "get_device_module cudnn_is_acceptable batch_norm_backward_elemt batch_norm_backward_reduce "
               "batch_norm_elemt batch_norm_gather_stats batch_norm_gather_stats_with_counts batch_norm_stats "
               "batch_norm_update_stats"),
        prefixes=("cudnn_", "miopen_", "mkldnn_", "fbgemm_", "native_")),
    "autocast internals": Rule(
        "per-backend autocast switches and its nesting/cache bookkeeping (the device-generic "
        "is_autocast_enabled/get_autocast_dtype/set_autocast_* are counted)",
        _names("autocast_decrement_nesting autocast_increment_nesting clear_autocast_cache get_autocast_cpu_dtype "
               "get_autocast_gpu_dtype get_autocast_ipu_dtype get_autocast_xla_dtype is_autocast_cpu_enabled "
               "is_autocast_ipu_enabled is_autocast_xla_enabled set_autocast_cpu_dtype set_autocast_cpu_enabled "
               "set_autocast_gpu_dtype set_autocast_ipu_dtype set_autocast_ipu_enabled set_autocast_xla_dtype "
               "set_autocast_xla_enabled is_autocast_cache_enabled set_autocast_cache_enabled")),
    "ATen internals behind nn": Rule(
        "the low-level ops that torch.nn modules and torch.nn.functional call; scripts call those",
        _names("affine_grid_generator grid_sampler grid_sampler_2d grid_sampler_3d constant_pad_nd convolution "
               "conv_tbc embedding_renorm_ norm_except_dim feature_dropout feature_dropout_ feature_alpha_dropout "
               "feature_alpha_dropout_ rnn_relu rnn_relu_cell rnn_tanh rnn_tanh_cell lstm lstm_cell gru gru_cell "
               "unsafe_chunk unsafe_split unsafe_split_with_sizes slice_inverse")),
    "undocumented internals": Rule("undocumented attributes of the autograd/tracer internals",
                                   _names("name output_nr")),
    "copy variants of views": Rule(
        "out-of-place copies of view ops (x.permute_copy(...) = x.permute(...).clone()), generated for "
        "functionalization and export",
        suffixes=("_copy",), exclude=_names("index_copy")),
    "compiler and tracing": Rule(
        "TorchScript, torch.compile/export, symbolic shapes and functorch transforms: lamina runs eagerly",
        _names("fork wait import_ir_module import_ir_module_from_buffer parse_ir parse_schema parse_type_comment "
               "merge_type_from_type_comment unify_type_list cond while_loop vmap classproperty "
               "compiled_with_cxx11_abi get_file_path prepare_multiprocessing_environment "
               "profiler_allow_cudagraph_cupti_lazy_reinit_cuda12 init_num_threads nonzero_static as_subclass "
               "thread_safe_generator"),
        prefixes=("sym_",)),
    "removed from PyTorch": Rule(
        "PyTorch removed or deprecated these itself (calling them raises or warns there); their replacements "
        "are counted",
        _names("eig lstsq symeig solve matrix_rank reinforce volatile resize chain_matmul set_default_tensor_type "
               "range frobenius_norm nuclear_norm")),
}

# ---------------------------------------------------------------- set aside: other namespaces
_DISPATCH = Rule("__torch_function__ dispatch and argument helpers, not user API",
                 _names("assert_int_or_pair boolean_dispatch handle_torch_function has_torch_function "
                        "has_torch_function_unary has_torch_function_variadic"))
NAMESPACE_SET_ASIDE: dict[str, dict[str, Rule]] = {
    "torch.nn": {
        "deprecated or legacy": Rule("deprecated in PyTorch (Container, NLLLoss2d) or a Lua-Torch port (CrossMapLRN2d)",
                                     _names("Container NLLLoss2d CrossMapLRN2d")),
        "lazy-module internals": Rule("placeholders lazy modules use before their first call",
                                      _names("UninitializedBuffer UninitializedParameter")),
    },
    "torch.nn.functional": {
        "dispatch helpers": _DISPATCH,
        "deprecated": Rule("deprecated in PyTorch: use interpolate", _names("upsample upsample_bilinear upsample_nearest")),
        "other backends": Rule("GPU low-precision (fp8) GEMM kernels and native internals",
                               _names("grouped_mm scaled_mm scaled_grouped_mm native_channel_shuffle")),
        "legacy": Rule("fairseq's time-batch-channel convolution", _names("conv_tbc")),
    },
    "torch.nn.init": {
        "deprecated": Rule("deprecated aliases without the trailing underscore",
                           _names("constant normal uniform xavier_normal xavier_uniform kaiming_normal "
                                  "kaiming_uniform dirac eye orthogonal sparse")),
        "sparse": SET_ASIDE["sparse"],
    },
    "torch.nn.utils": {
        "deprecated": Rule("deprecated in PyTorch: use clip_grad_norm_", _names("clip_grad_norm")),
        "storage and memory layout": Rule("memory formats (channels_last)", _names(
            "convert_conv2d_weight_memory_format convert_conv3d_weight_memory_format")),
    },
    "torch.optim": {"sparse": Rule("optimizers for sparse gradients", _names("SparseAdam"))},
    "torch.autograd": {},
    "torch.optim.lr_scheduler": {},
    "torch.distributions": {},
    "torch (classes, dtypes, submodules)": {},
    "torch.cuda": {},
}

# ---------------------------------------------------------------- refused on purpose
_PYLOOP = ("calls a Python function once per element; lamina never loops over elements in Python "
           "(write the function with tensor ops)")
REFUSED: dict[str, dict[str, str]] = {
    "torch.Tensor methods": {"apply_": _PYLOOP, "map_": _PYLOOP, "map2_": _PYLOOP},
    "torch functions": {
        "compile": "lamina has no graph compiler: ops run eagerly on NumPy/BLAS, Numba kernels and CuPy "
                   "(replace `model = torch.compile(model)` with `model`)",
    },
    "torch (classes, dtypes, submodules)": {
        "jit": "TorchScript: lamina runs eagerly and deploys through ONNX export (lamina export)",
        "hub": "torch.hub.load imports and runs code downloaded from a repository; lamina loads weights only "
               "(safetensors, lamina.io.load_state_dict_from)",
    },
}
REFUSED_BEHAVIOURS: list[tuple[str, str]] = [
    ("torch.save(model) / torch.save(optimizer)",
     "pickles the whole object, and loading a pickle can run arbitrary code; lamina.save refuses objects "
     "(TypeError) and writes tensors + JSON: save obj.state_dict() and rebuild the object from code/config"),
    ("torch.load of a .pt/.pth pickle; weights_only=False",
     "unpickling can run code; lamina.load reads safetensors + JSON only (weights_only is always effectively "
     "True) and its error says how to convert a .pt file once with safetensors.torch.save_file"),
    ("torch.hub.load", "runs downloaded code"),
    ("Tensor.apply_ / map_ / map2_", _PYLOOP),
]


# ---------------------------------------------------------------- what PyTorch has
def _public(obj) -> list[str]:
    return sorted(n for n in dir(obj) if not n.startswith("_"))


def _tensor_methods(torch) -> list[str]:
    return _public(torch.Tensor)


def _torch_functions(torch) -> list[str]:
    out = []
    for n in _public(torch):
        o = getattr(torch, n, None)
        if callable(o) and not inspect.isclass(o) and not isinstance(o, types.ModuleType):
            out.append(n)
    return out


_TOP = ("Tensor Size Generator device dtype finfo iinfo no_grad enable_grad set_grad_enabled inference_mode "
        "autocast FloatTensor LongTensor float16 float32 float64 bfloat16 half float double int8 int16 int32 "
        "int64 uint8 bool long int short complex64 cfloat pi e inf nan newaxis default_generator "
        "nn optim autograd cuda backends utils distributions linalg fft special random amp accelerator mps func "
        "jit hub onnx distributed multiprocessing testing").split()


def _top(torch) -> list[str]:
    return [n for n in _TOP if hasattr(torch, n)]


def _defined_in(mod, prefix: str, pred) -> list[str]:
    out = []
    for n in _public(mod):
        o = getattr(mod, n, None)
        if pred(o) and str(getattr(o, "__module__", "") or "").startswith(prefix):
            out.append(n)
    return out


def _nn(torch) -> list[str]:
    return _defined_in(torch.nn, "torch.nn", inspect.isclass)


def _functional(torch) -> list[str]:
    return _defined_in(torch.nn.functional, "torch", inspect.isroutine)


def _init(torch) -> list[str]:
    return _defined_in(torch.nn.init, "torch.nn.init", inspect.isroutine)


def _utils(torch) -> list[str]:
    import torch.nn.utils.parametrizations  # noqa: F401  (submodules the table walks)
    import torch.nn.utils.parametrize  # noqa: F401
    import torch.nn.utils.rnn  # noqa: F401
    import torch.nn.utils.stateless  # noqa: F401
    u = torch.nn.utils
    names = _defined_in(u, "torch.nn.utils", inspect.isroutine)
    names += ["rnn." + n for n in ("PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
                                   "pack_sequence", "unpad_sequence", "unpack_sequence") if hasattr(u.rnn, n)]
    names += ["parametrize." + n for n in ("register_parametrization", "remove_parametrizations", "is_parametrized",
                                           "cached") if hasattr(u.parametrize, n)]
    names += ["parametrizations." + n for n in ("orthogonal", "spectral_norm", "weight_norm")
              if hasattr(u.parametrizations, n)]
    names += ["stateless.functional_call"] if hasattr(u.stateless, "functional_call") else []
    return names


def _optim(torch) -> list[str]:
    import torch.optim.swa_utils  # noqa: F401
    names = [n for n in _public(torch.optim)
             if inspect.isclass(getattr(torch.optim, n)) and issubclass(getattr(torch.optim, n), torch.optim.Optimizer)]
    sw = torch.optim.swa_utils
    return names + ["swa_utils." + n for n in ("AveragedModel", "SWALR", "update_bn", "get_ema_multi_avg_fn",
                                               "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn")
                    if hasattr(sw, n)]


def _lr_scheduler(torch) -> list[str]:
    return _defined_in(torch.optim.lr_scheduler, "torch.optim.lr_scheduler", inspect.isclass)


def _distributions(torch) -> list[str]:
    D = torch.distributions
    bases = (D.Distribution, D.transforms.Transform)
    names = [n for n in _public(D) if inspect.isclass(getattr(D, n)) and issubclass(getattr(D, n), bases)]
    return names + [n for n in ("kl_divergence", "register_kl", "constraints", "biject_to", "transform_to")
                    if hasattr(D, n)]


_AUTOGRAD = ("Function backward grad gradcheck gradgradcheck detect_anomaly set_detect_anomaly no_grad enable_grad "
             "set_grad_enabled inference_mode Variable functional.jacobian functional.hessian functional.vjp "
             "functional.jvp functional.hvp functional.vhp function.once_differentiable function.FunctionCtx "
             "forward_ad.dual_level forward_ad.make_dual forward_ad.unpack_dual graph.saved_tensors_hooks "
             "graph.save_on_cpu graph.register_multi_grad_hook profiler.profile profiler.record_function").split()

_CUDA = ("is_available device_count current_device set_device synchronize get_device_name get_device_capability "
         "get_device_properties memory_allocated max_memory_allocated memory_reserved max_memory_reserved "
         "reset_peak_memory_stats empty_cache mem_get_info manual_seed manual_seed_all seed initial_seed "
         "get_rng_state set_rng_state is_bf16_supported device OutOfMemoryError Stream Event stream current_stream "
         "amp.autocast amp.GradScaler").split()


def _curated(names, sub: str):
    """A fixed list of names under ``torch.<sub>``, kept where this PyTorch has them."""
    def collect(torch):
        root = _walk(torch, sub)
        return [n for n in names if root is not _MISSING and _walk(root, n) is not _MISSING]
    return collect


@dataclass(frozen=True)
class Namespace:
    title: str
    torch_path: str
    lamina_path: str
    collect: object  # torch -> list of (possibly dotted) names
    shared_rules: bool = False  # use SET_ASIDE (Tensor methods and torch.* functions)


NAMESPACES: list[Namespace] = [
    Namespace("torch.Tensor methods", "torch.Tensor", "lamina.Tensor", _tensor_methods, True),
    Namespace("torch functions", "torch", "lamina", _torch_functions, True),
    Namespace("torch (classes, dtypes, submodules)", "torch", "lamina", _top),
    Namespace("torch.nn", "torch.nn", "lamina.nn", _nn),
    Namespace("torch.nn.functional", "torch.nn.functional", "lamina.nn.functional", _functional),
    Namespace("torch.nn.init", "torch.nn.init", "lamina.nn.init", _init),
    Namespace("torch.nn.utils", "torch.nn.utils", "lamina.nn.utils", _utils),
    Namespace("torch.optim", "torch.optim", "lamina.optim", _optim),
    Namespace("torch.optim.lr_scheduler", "torch.optim.lr_scheduler", "lamina.optim.lr_scheduler", _lr_scheduler),
    Namespace("torch.distributions", "torch.distributions", "lamina.distributions", _distributions),
    Namespace("torch.autograd", "torch.autograd", "lamina.autograd", _curated(_AUTOGRAD, "autograd")),
    Namespace("torch.cuda", "torch.cuda", "lamina.cuda", _curated(_CUDA, "cuda")),
]


# ---------------------------------------------------------------- lookup and classification
_MISSING = object()  # "nothing there" (None is a value: torch.newaxis is None)
_UNSET = object()


def _walk(obj, dotted: str):
    """The object at ``dotted`` below ``obj``, importing submodules on the way; _MISSING if none."""
    for part in dotted.split(".") if dotted else ():
        nxt = getattr(obj, part, _MISSING)
        if nxt is _MISSING and isinstance(obj, types.ModuleType):
            try:
                nxt = importlib.import_module(f"{obj.__name__}.{part}")
            except Exception:  # not there, or broken: either way nothing usable
                nxt = _MISSING
        if nxt is _MISSING:
            return _MISSING
        obj = nxt
    return obj


def _lookup(path: str):
    """What lamina has at a dotted path ('lamina.nn.utils.rnn.pad_sequence'), or _MISSING."""
    head, _, rest = path.partition(".")
    try:
        root = importlib.import_module(head)
    except Exception:
        return _MISSING
    return _walk(root, rest)


def classify(namespace: str, name: str, lamina_obj=_UNSET) -> tuple[str, str]:
    """('have' | 'missing' | 'refused' | 'set aside', detail) for one PyTorch name in ``namespace``
    (a Namespace title). ``lamina_obj`` is what lamina has there (looked up when not given)."""
    ns = next((n for n in NAMESPACES if n.title == namespace), None)
    if ns is None:
        raise KeyError(f"unknown namespace {namespace!r}; expected one of {[n.title for n in NAMESPACES]}")
    rules = SET_ASIDE if ns.shared_rules else NAMESPACE_SET_ASIDE.get(namespace, {})
    for category, rule in rules.items():
        if rule.matches(name):
            return "set aside", category
    if lamina_obj is _UNSET:
        lamina_obj = _lookup(ns.lamina_path + "." + name)
    if lamina_obj is not _MISSING:
        marked = getattr(lamina_obj, "__lamina_refused__", None)
        if isinstance(marked, str):
            return "refused", marked
        return "have", ""
    if name in REFUSED.get(namespace, {}):
        return "refused", REFUSED[namespace][name]
    return "missing", ""


def compute(torch=None) -> dict:
    """The coverage report as a dict (what ``--json`` prints). Imports PyTorch unless given."""
    from .alias import is_active
    if is_active():
        raise RuntimeError("lamina.compat.compute: as_torch() is active, so `torch` is lamina itself; call "
                           "lamina.compat.restore() first (or run `python -m lamina.compat` in a fresh process)")
    if torch is None:
        import torch  # the oracle: only here, only when asked
    import lamina
    report = {"torch_version": str(torch.__version__), "lamina_version": lamina.__version__, "namespaces": [],
              "refused_behaviours": [{"what": w, "reason": r} for w, r in REFUSED_BEHAVIOURS]}
    for ns in NAMESPACES:
        entry = {"namespace": ns.title, "torch": ns.torch_path, "lamina": ns.lamina_path, "have": [], "missing": [],
                 "refused": {}, "set_aside": {}, "note": ""}
        if _lookup(ns.lamina_path) is _MISSING:
            entry["note"] = f"{ns.lamina_path} does not exist (or fails to import)"
        rules = SET_ASIDE if ns.shared_rules else NAMESPACE_SET_ASIDE.get(ns.title, {})
        for name in ns.collect(torch):
            kind, detail = classify(ns.title, name)
            if kind == "set aside":
                cat = entry["set_aside"].setdefault(detail, {"reason": rules[detail].reason, "names": []})
                cat["names"].append(name)
            elif kind == "refused":
                entry["refused"][name] = detail
            else:
                entry[kind].append(name)
        considered = len(entry["have"]) + len(entry["missing"])
        entry["considered"] = considered
        entry["set_aside_count"] = sum(len(c["names"]) for c in entry["set_aside"].values())
        entry["percent"] = round(100.0 * len(entry["have"]) / considered, 1) if considered else 100.0
        report["namespaces"].append(entry)
    return report


# ---------------------------------------------------------------- printing
def _wrap(names, indent: str = "    ", width: int = 100) -> str:
    lines, line = [], indent
    for n in names:
        if len(line) + len(n) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += n + " "
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


def format_text(report: dict, missing_only: bool = False) -> str:
    out = []
    if not missing_only:
        out.append(f"lamina {report['lamina_version']} against PyTorch {report['torch_version']}")
        out.append("percent = have / (have + missing); set-aside and refused names are not counted\n")
    for e in report["namespaces"]:
        if missing_only:
            if e["missing"]:
                out.append(f"{e['namespace']} ({len(e['missing'])} missing):")
                out.append(_wrap(e["missing"]))
            continue
        out.append(f"{e['namespace']}: {len(e['have'])} have / {e['considered']} considered = {e['percent']}%"
                   f"  (set aside {e['set_aside_count']}, refused {len(e['refused'])})")
        if e["note"]:
            out.append(f"  note: {e['note']}")
        for cat, c in e["set_aside"].items():
            out.append(f"  set aside, {cat} ({len(c['names'])}): {c['reason']}")
            out.append(_wrap(c["names"], "      "))
        for name, why in e["refused"].items():
            out.append(f"  refused: {name}: {why}")
        if e["missing"]:
            out.append(f"  missing ({len(e['missing'])}):")
            out.append(_wrap(e["missing"]))
        out.append("")
    if not missing_only:
        out.append("Refused on purpose (behaviours):")
        for r in report["refused_behaviours"]:
            out.append(f"  {r['what']}: {r['reason']}")
    return "\n".join(out)


def format_markdown(report: dict) -> str:
    rows = ["| namespace | have | considered | coverage | set aside | refused |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for e in report["namespaces"]:
        rows.append(f"| `{e['namespace']}` | {len(e['have'])} | {e['considered']} | {e['percent']}% | "
                    f"{e['set_aside_count']} | {len(e['refused'])} |")
    rows.append("")
    rows.append(f"Measured against PyTorch {report['torch_version']} with `python -m lamina.compat`; coverage = have / "
                "considered, where set-aside names (quantized, sparse, complex-only, named tensors, storage "
                "internals, other backends, compiler internals, removed APIs) and refused ones are not considered.")
    return "\n".join(rows)
