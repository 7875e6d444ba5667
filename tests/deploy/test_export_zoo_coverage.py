"""Every model in lamina.models.list_models() must have an ONNX export test: a case in
test_export_zoo_vision.VISION_CASES, test_export_zoo_text.TEXT_CASES, or any other ``*_CASES`` dict
(name -> (builder, make_inputs)) of a ``test_export_zoo_*.py`` file beside this one."""
import importlib
import os

from lamina.models import list_models

REQUIRED = {"test_export_zoo_vision": "VISION_CASES", "test_export_zoo_text": "TEXT_CASES"}


def _all_cases() -> tuple[dict, dict, list]:
    """(model name -> case, model name -> the dicts naming it, the problems met while reading them)."""
    here = os.path.dirname(os.path.abspath(__file__))
    modules = sorted({f[:-3] for f in os.listdir(here) if f.startswith("test_export_zoo_") and f.endswith(".py")}
                     - {"test_export_zoo_coverage"} | set(REQUIRED))
    cases, owners, problems = {}, {}, []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as e:
            problems.append(f"{name}.py could not be imported ({e})")
            continue
        dicts = {a: v for a, v in vars(module).items() if a.endswith("_CASES") and isinstance(v, dict)}
        if name in REQUIRED and REQUIRED[name] not in dicts:
            problems.append(f"{name}.py defines no {REQUIRED[name]} dict")
        for attr, d in dicts.items():
            for model, case in d.items():
                cases[model] = case
                owners.setdefault(model, []).append(f"{name}.{attr}")
    return cases, owners, problems


def test_every_zoo_model_has_an_export_test():
    cases, _, problems = _all_cases()
    missing = sorted(set(list_models()) - set(cases))
    assert not missing, (f"zoo models without an ONNX export test: {', '.join(missing)}"
                         + (f" ({'; '.join(problems)})" if problems else ""))
    assert not problems, "; ".join(problems)


def test_export_cases_name_registered_models_only_once():
    cases, owners, _ = _all_cases()
    twice = {m: o for m, o in owners.items() if len(o) > 1}
    assert not twice, f"models with more than one export case: {twice}"
    stale = sorted(set(cases) - set(list_models()))
    assert not stale, f"export cases for models that are not registered: {', '.join(stale)}"
    for name, case in cases.items():
        assert isinstance(case, tuple) and len(case) == 2 and all(map(callable, case)), \
            f"{name}: a case must be (builder, make_inputs), got {case!r}"
