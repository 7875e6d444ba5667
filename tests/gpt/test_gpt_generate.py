"""Generation: the KV cache gives the same tokens as recomputing the context, and is faster."""
import time

import numpy as np
import pytest

import lamina
from lamina.models.gpt import GPT, GPTConfig, sample_logits


@pytest.fixture(scope="module")
def model():
    lamina.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=31, block_size=24, n_layer=2, n_head=4, n_embd=32))
    # larger weights than GPT-2's init, so the distributions are peaked and the tests see real choices
    for p in m.parameters():
        if p.ndim == 2:
            p.array *= 8.0
    return m


def gen(seed=0):
    return lamina.Generator().manual_seed(seed)


def prompt(B=3, T=5, V=31, seed=0):
    return lamina.tensor(np.random.default_rng(seed).integers(0, V, (B, T)))


SETTINGS = [dict(temperature=0.0), dict(temperature=1.0), dict(temperature=0.7, top_k=5),
            dict(temperature=1.3, top_p=0.8), dict(temperature=0.9, top_k=10, top_p=0.9)]


@pytest.mark.parametrize("kw", SETTINGS)
@pytest.mark.parametrize("new", [15, 50])   # within block_size (5 + 15 <= 24) and past it (the window slides)
def test_cache_gives_identical_tokens(model, kw, new):
    a = model.generate(prompt(), new, generator=gen(1), use_cache=True, **kw).numpy()
    b = model.generate(prompt(), new, generator=gen(1), use_cache=False, **kw).numpy()
    assert a.shape == (3, 5 + new) and a.dtype == np.int64
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[:, :5], prompt().numpy())
    assert len(np.unique(a[:, 5:])) > 1


@pytest.mark.parametrize("step", [1, 7, 24])
def test_cache_gives_identical_tokens_with_a_window_step(model, step):
    kw = dict(temperature=0.9, top_k=12, window_step=step)
    a = model.generate(prompt(2, 30), 40, generator=gen(3), use_cache=True, **kw).numpy()
    b = model.generate(prompt(2, 30), 40, generator=gen(3), use_cache=False, **kw).numpy()
    np.testing.assert_array_equal(a, b)


def test_window_step_sets_the_context(model):
    """Greedy token n is the argmax of forward(seq[start:n]), the window moving `step` tokens when full."""
    bs, step = 24, 5
    out = model.generate(prompt(1, 3), 40, temperature=0, window_step=step).numpy()
    start = 0
    with lamina.no_grad():
        for n in range(3, 43):
            if n - start > bs:
                start = n - bs + step - 1
            assert 0 < n - start <= bs and (n - start >= bs - step + 1 or start == 0)
            logits, _ = model(lamina.tensor(out[:, start:n]))
            assert out[0, n] == int(logits.numpy()[0, -1].argmax()), n


def test_same_seed_same_tokens_other_seed_other_tokens(model):
    a = model.generate(prompt(), 30, generator=gen(5)).numpy()
    b = model.generate(prompt(), 30, generator=gen(5)).numpy()
    c = model.generate(prompt(), 30, generator=gen(6)).numpy()
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_greedy_is_argmax_of_forward(model):
    out = model.generate(prompt(1, 4), 6, temperature=0).numpy()
    with lamina.no_grad():
        for t in range(4, 10):
            logits, _ = model(lamina.tensor(out[:, :t]))
            assert out[0, t] == int(logits.numpy()[0, -1].argmax())


def test_cached_decoding_logits_match_forward(model):
    x = prompt(2, 20).numpy()
    with lamina.no_grad():
        full, _ = model(lamina.tensor(x))
        cache = model.new_cache(2)
        model.eval()
        first = model._last_logits(x[:, :8], cache)          # prefill 8 positions (Tensor path)
        from lamina.models.gpt import _Decoder
        dec = _Decoder(model)
        steps = [dec(x[:, t], cache) for t in range(8, 20)]  # then one position at a time (array path)
    np.testing.assert_allclose(first, full.numpy()[:, 7], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.stack(steps, 1), full.numpy()[:, 8:], rtol=1e-4, atol=1e-4)


def test_chunked_prefill_matches_forward(model):
    x = prompt(2, 20).numpy()
    with lamina.no_grad():
        full, _ = model(lamina.tensor(x))
        cache = model.new_cache(2)
        h1 = model._hidden(x[:, :7], cache)
        h2 = model._hidden(x[:, 7:], cache)                   # queries at positions 7..19 over keys 0..19
        logits = model.lm_head(lamina.cat([h1, h2], 0)).numpy()
    ref = np.concatenate([full.numpy()[:, :7].reshape(-1, 31), full.numpy()[:, 7:].reshape(-1, 31)])
    np.testing.assert_allclose(logits, ref, rtol=1e-4, atol=1e-4)
    assert cache.length == 20


def test_generate_restores_training_mode_and_needs_no_grad(model):
    model.train()
    out = model.generate(prompt(1, 3), 4, generator=gen())
    assert model.training and out.shape == (1, 7) and not out.requires_grad
    model.eval()


def test_prompt_longer_than_block_size(model):
    p = prompt(2, 40)
    a = model.generate(p, 5, generator=gen(2)).numpy()
    b = model.generate(p, 5, generator=gen(2), use_cache=False).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 45)


def test_generate_argument_errors(model):
    with pytest.raises(ValueError, match="temperature"):
        model.generate(prompt(), 3, temperature=-1)
    with pytest.raises(ValueError, match="top_k"):
        model.generate(prompt(), 3, top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        model.generate(prompt(), 3, top_p=1.5)
    with pytest.raises(ValueError, match="at least one token"):
        model.generate(lamina.zeros(2, 0, dtype=lamina.int64), 3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(prompt(), -1)
    with pytest.raises(ValueError, match="window_step"):
        model.generate(prompt(), 3, window_step=25)


def test_sample_logits_top_k_top_p_and_temperature():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]] * 4000))
    count = lambda ids: np.bincount(ids, minlength=4) / len(ids)  # noqa: E731
    freq = count(sample_logits(logits, generator=gen(0)))
    np.testing.assert_allclose(freq, [0.5, 0.3, 0.15, 0.05], atol=0.03)
    assert set(sample_logits(logits, top_k=2, generator=gen(0))) == {0, 1}
    f = count(sample_logits(logits, top_k=2, generator=gen(0)))
    np.testing.assert_allclose(f[:2], [0.625, 0.375], atol=0.03)
    # nucleus 0.79: 0.5 + 0.3 reaches it, so only tokens 0 and 1 remain; 0.81 needs token 2 as well
    assert set(sample_logits(logits, top_p=0.79, generator=gen(0))) == {0, 1}
    assert set(sample_logits(logits, top_p=0.81, generator=gen(0))) == {0, 1, 2}
    assert set(sample_logits(logits, top_p=0.01, generator=gen(0))) == {0}
    cold = count(sample_logits(logits, temperature=0.25, generator=gen(0)))
    assert cold[0] > 0.85
    assert (sample_logits(logits[:3], temperature=0) == 0).all()


def test_cache_is_five_times_faster_for_a_256_token_sample():
    # Without the cache step t recomputes t positions; with it, one. Measured on a loaded 2-core machine:
    # 9-12x for this model (6-8x with n_embd=64, where fixed per-op costs weigh more). Best of several
    # runs each, as other processes steal time slices.
    lamina.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=96, block_size=256, n_layer=2, n_head=4, n_embd=128))
    p = lamina.tensor([[0]])

    def run(use_cache):
        t = time.perf_counter()
        out = m.generate(p, 255, temperature=1.0, top_k=40, generator=gen(0), use_cache=use_cache)
        return time.perf_counter() - t, out.numpy()

    run(True)
    cached = [run(True) for _ in range(3)]
    uncached = [run(False) for _ in range(2)]
    np.testing.assert_array_equal(cached[0][1], uncached[0][1])
    tc, tu = min(t for t, _ in cached), min(t for t, _ in uncached)
    assert tu / tc >= 5.0, f"cached {tc * 1e3:.0f} ms, uncached {tu * 1e3:.0f} ms: {tu / tc:.1f}x"


def test_cache_overflow_is_a_clear_error(model):
    with lamina.no_grad():
        cache = model.new_cache(1)
        model._hidden(np.zeros((1, 20), dtype=np.int64), cache)
        with pytest.raises(ValueError, match="do not fit in a KV cache"):
            model._hidden(np.zeros((1, 5), dtype=np.int64), cache)
