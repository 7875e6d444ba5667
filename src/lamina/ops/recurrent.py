"""Recurrent layers over a whole sequence as single ops: one direction of one RNN/LSTM/GRU layer.

The input projection for every time step (xg = x W_ih^T + b, one big GEMM) is done before the
op by ``linear``; the op loops over time with one ``h W_hh^T`` GEMM and one fused cell update
per step, and its backward is backpropagation through time in the reverse loop, with the
W_hh gradient summed over all steps in one GEMM at the end. Shapes: xg (T, N, G*H), h0 and
c0 (N, H), w_hh (G*H, H); outputs y (T, N, H) and the final states (N, H).

Cells (gate order as PyTorch):
  RNN   h = act(xg + h_prev W_hh^T)                                     act = tanh | relu
  LSTM  [i, f, g, o] = [sig, sig, tanh, sig](xg + h_prev W_hh^T)
        c = f * c_prev + i * g,  h = o * tanh(c)
        dc' = dc + dh o (1 - tanh(c)^2),  dgates = [dc' g i(1-i), dc' c_prev f(1-f), dc' i (1-g^2),
        dh tanh(c) o(1-o)],  dc_prev = dc' f,  dh_prev = dgates W_hh
  GRU   [r, z] = sig(xg_rz + hg_rz),  hg = h_prev W_hh^T + b_hh
        n = tanh(xg_n + r * hg_n),  h = (1 - z) * n + z * h_prev
        dn' = dh (1-z)(1-n^2),  dxg = [dn' hg_n r(1-r), dh (h_prev - n) z(1-z), dn'],
        dhg = dxg with its n-part times r,  dh_prev = dh z + dhg W_hh

``mask`` (T, N) bool marks valid steps of padded sequences: a padded step keeps the state,
outputs zero, and passes the state gradient straight through (so padding gets zero gradient).
With ``reverse`` the loop runs from t = T-1 down to 0, so a sequence's reverse pass starts at
its last valid step. On CPU the per-step cell math is a compiled kernel (``_rnn_kernels``), and
the work is split over lamina's threads (``_blas``): an LSTM by hidden units (each thread owns
its units' rows of W_hh; one barrier per step), a GRU by batch rows;
elsewhere the same formulas run as array code. The backward under ``create_graph=True``
re-runs these formulas with Tensor ops, so second derivatives work.
"""
from __future__ import annotations

import threading

import numpy as np

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from . import _blas
from . import _rnn_kernels as K
from . import elementwise as E
from .shape import cat, stack


# ---------------------------------------------------------------- array / Tensor vocabularies
class _ArrayOps:
    """The few operations the generic step math needs, on raw xp arrays."""

    def __init__(self, xp):
        self.xp = xp

    def sigmoid(self, x):
        e = self.xp.exp(-self.xp.abs(x))
        r = 1.0 / (1.0 + e)
        return self.xp.where(x >= 0, r, e * r)

    def tanh(self, x):
        return self.xp.tanh(x)

    def relu(self, x):
        return self.xp.maximum(x, 0)

    def positive(self, x, y):  # x * (y > 0), the relu gradient gate
        return x * (y > 0)

    def mask(self, x, m):  # x * m for a constant 0/1 mask
        return x * m

    def cat(self, xs):
        return self.xp.concatenate(xs, axis=-1)

    def stack(self, xs):
        return self.xp.stack(xs)


class _TensorOps:
    """The same vocabulary on lamina Tensors (recorded, so the result can be differentiated)."""

    sigmoid = staticmethod(E.sigmoid)
    tanh = staticmethod(E.tanh)
    relu = staticmethod(E.relu)

    @staticmethod
    def positive(x, y):
        return E.mask_mul(x, y.array > 0)

    @staticmethod
    def mask(x, m):
        return E.mask_mul(x, m)

    @staticmethod
    def cat(xs):
        return cat(xs, -1)

    @staticmethod
    def stack(xs):
        return stack(xs)


def _order(T: int, reverse: bool):
    return range(T - 1, -1, -1) if reverse else range(T)


def _masks(mask, t, dtype):
    """(m, 1 - m) as (N, 1) float arrays for step t, or (None, None) without a mask."""
    if mask is None:
        return None, None
    m = mask[t][:, None].astype(dtype)
    return m, 1.0 - m


# ---------------------------------------------------------------- generic step math (arrays or Tensors)
def _generic_forward(ops, mode, xg, states, w_hh, b_hh, mask, reverse):
    """Run the loop with ``ops``; returns (y, final states, per-step saved values)."""
    T = xg.shape[0]
    H = w_hh.shape[1]
    ys, saved = [None] * T, [None] * T
    for t in _order(T, reverse):
        h = states[0]
        m, nm = _masks(mask, t, xg.dtype)
        hh = h @ w_hh.T
        if mode == "LSTM":
            c = states[1]
            gates = xg[t] + hh
            i, f = ops.sigmoid(gates[:, :H]), ops.sigmoid(gates[:, H:2 * H])
            g, o = ops.tanh(gates[:, 2 * H:3 * H]), ops.sigmoid(gates[:, 3 * H:])
            c_new = f * c + i * g
            tc = ops.tanh(c_new)
            h_new = o * tc
            saved[t] = (i, f, g, o, tc, h, c)
            new = [h_new, c_new]
        elif mode == "GRU":
            hg = hh + b_hh
            x_t = xg[t]
            r = ops.sigmoid(x_t[:, :H] + hg[:, :H])
            z = ops.sigmoid(x_t[:, H:2 * H] + hg[:, H:2 * H])
            n = ops.tanh(x_t[:, 2 * H:] + r * hg[:, 2 * H:])
            h_new = (1.0 - z) * n + z * h
            saved[t] = (r, z, n, hg[:, 2 * H:], h)
            new = [h_new]
        else:
            h_new = (ops.tanh if mode == "RNN_TANH" else ops.relu)(xg[t] + hh)
            saved[t] = (h_new, h)
            new = [h_new]
        if m is None:
            ys[t], states = h_new, new
        else:
            ys[t] = ops.mask(h_new, m)
            states = [ops.mask(a, m) + ops.mask(b, nm) for a, b in zip(new, states)]
    return ops.stack(ys), states, saved


def _generic_backward(ops, mode, saved, gy, gstates, w_hh, mask, reverse):
    """BPTT with ``ops``; returns (dxg, d initial states, dW_hh, db_hh or None)."""
    T = len(saved)
    dxg, dhg, hprev = [None] * T, [None] * T, [None] * T
    dstates = list(gstates)
    for t in _order(T, not reverse):
        m, nm = _masks(mask, t, gy.dtype)
        dh = dstates[0] + gy[t]
        if m is not None:
            dh = ops.mask(dh, m)
        if mode == "LSTM":
            i, f, g, o, tc, h, c = saved[t]
            dc_in = dstates[1] if m is None else ops.mask(dstates[1], m)
            dc = dc_in + dh * o * (1.0 - tc * tc)
            dgates = ops.cat([dc * g * i * (1.0 - i), dc * c * f * (1.0 - f), dc * i * (1.0 - g * g),
                              dh * tc * o * (1.0 - o)])
            dxg[t] = dgates
            new = [dgates @ w_hh, dc * f]
        elif mode == "GRU":
            r, z, n, hgn, h = saved[t]
            dnp = dh * (1.0 - z) * (1.0 - n * n)
            drp = dnp * hgn * r * (1.0 - r)
            dzp = dh * (h - n) * z * (1.0 - z)
            dxg[t] = ops.cat([drp, dzp, dnp])
            dhg[t] = ops.cat([drp, dzp, dnp * r])
            new = [dh * z + dhg[t] @ w_hh]
        else:
            h_new, h = saved[t]
            dpre = dh * (1.0 - h_new * h_new) if mode == "RNN_TANH" else ops.positive(dh, h_new)
            dxg[t] = dpre
            new = [dpre @ w_hh]
        hprev[t] = h
        if m is not None:
            new = [a + ops.mask(b, nm) for a, b in zip(new, dstates)]
        dstates = new
    dxg = ops.stack(dxg)
    G = dxg.shape[-1]
    d_rec = ops.stack(dhg) if mode == "GRU" else dxg
    hp = ops.stack(hprev)
    dw = d_rec.reshape(-1, G).T @ hp.reshape(-1, hp.shape[-1])
    db = d_rec.reshape(-1, G).sum(0) if mode == "GRU" else None
    return dxg, dstates, dw, db


def _split_units(a, P: int):
    """(..., N, H) -> contiguous (P, ..., N, H/P): each part's hidden units."""
    if P == 1:
        return np.ascontiguousarray(a)[None]
    lead = a.shape[:-1]
    return np.ascontiguousarray(np.moveaxis(a.reshape(lead + (P, a.shape[-1] // P)), -2, 0))


def _join_units(a):
    """The inverse of ``_split_units``: (P, ..., N, h) -> (..., N, P*h)."""
    if a.shape[0] == 1:
        return a[0]
    return np.ascontiguousarray(np.moveaxis(a, 0, -2)).reshape(a.shape[1:-1] + (-1,))


def _run_units(parts, loop) -> None:
    """Run ``loop(mine, barrier)`` on one thread per unit part, side by side (they meet at a
    barrier every step), or all parts on this thread when they cannot run side by side."""
    if len(parts) == 1:
        loop([0], None)
        return
    barrier = threading.Barrier(len(parts))

    def one(p, lo, hi):
        try:
            loop([p], barrier)
        except BaseException:
            barrier.abort()  # the other threads leave their wait with BrokenBarrierError
            raise

    _blas.run(parts, one, serial=lambda: loop(list(range(len(parts))), None))


# ---------------------------------------------------------------- the op
class RecurrentLayer(Function):
    """(y, h_n[, c_n]) = one direction of one recurrent layer over the whole sequence.

    Inputs: xg (T, N, G*H) the input projection, h0 (N, H), [c0 (N, H) for LSTM], w_hh
    (G*H, H), [b_hh (G*H,) for GRU]. Gradients: dxg (T, N, G*H), dh0, dc0, dW_hh, db_hh by
    backpropagation through time (see the module docstring).
    """

    def __init__(self, mode: str, mask=None, reverse: bool = False):
        self.mode, self.mask, self.reverse = mode, mask, reverse

    def _split(self, arrays):
        if self.mode == "LSTM":
            xg, h0, c0, w = arrays
            return xg, [h0, c0], w, None
        if self.mode == "GRU":
            xg, h0, w, b = arrays
            return xg, [h0], w, b
        xg, h0, w = arrays
        return xg, [h0], w, None

    def forward(self, *arrays):
        xg, states, w, b = self._split(arrays)
        xp = backend.array_module(xg)
        if self.mode == "LSTM" and K.available(xg, w, *states):
            return self._lstm_forward(xg, states, w)
        if self.mode == "GRU" and K.available(xg, w, *states, b):
            return self._gru_forward(xg, states, w, b)
        y, finals, self.saved = _generic_forward(_ArrayOps(xp), self.mode, xg, states, w, b, self.mask,
                                                 self.reverse)
        return (y, *finals)

    def backward(self, gy, *gstates):
        xg, states, w, b = self._split(self.inputs)
        if is_grad_enabled():  # create_graph=True: recompute and differentiate with Tensor ops
            _, _, saved = _generic_forward(_TensorOps, self.mode, xg, states, w, b, self.mask, self.reverse)
            dxg, dstates, dw, db = _generic_backward(_TensorOps, self.mode, saved, gy, list(gstates), w,
                                                     self.mask, self.reverse)
        else:
            if "lstm_fast" in self.__dict__:
                res = self._lstm_backward(gy.array, [g.array for g in gstates], w.array,
                                          self.needs_input_grad[len(gstates) + 1])
            elif "gru_fast" in self.__dict__:
                res = self._gru_backward(gy.array, [g.array for g in gstates], w.array,
                                          self.needs_input_grad[len(gstates) + 1])
            else:
                res = _generic_backward(_ArrayOps(gy.xp), self.mode, self.saved, gy.array,
                                        [g.array for g in gstates], w.array, self.mask, self.reverse)
            wrap = Tensor._wrap
            dxg, dstates = wrap(res[0]), [wrap(s) for s in res[1]]
            dw = None if res[2] is None else wrap(res[2])
            db = None if res[3] is None else wrap(res[3])
        grads = [dxg, *dstates, dw] + ([db] if self.mode == "GRU" else [])
        return tuple(g if need else None for g, need in zip(grads, self.needs_input_grad))

    # ------------------------------------------------------------ compiled CPU path, LSTM: hidden units in parts
    # Each thread owns a range of hidden units: its rows of W_hh (the four gates of its units,
    # made contiguous by a column permutation of the gate layout), its cell updates and its
    # columns of h. A step's product then reads only that thread's share of W_hh; the threads
    # meet at one barrier per step (the next product needs the whole h). Splitting the batch
    # instead was measured to gain almost nothing: each (N/2 x H) @ (H x 4H) product repacked
    # all of W_hh, which costs as much as the arithmetic at these sizes.
    def _unit_parts(self, T, N, H):
        """Equal ranges of hidden units, one per thread (one range when H doesn't divide)."""
        parts = _blas.split(H, T * N * 4 * H * H)
        return [(0, H)] if H % len(parts) else parts

    def _lstm_forward(self, xg, states, w):
        # Per-part state lives in part-major arrays (P, T, N, h) so that every kernel argument is
        # contiguous (the kernels do not vectorize over strided rows: 2x slower on column slices).
        # A part's gates are columns (g, lo:hi) of the i, f, g, o layout: viewed as (N, 4, H).
        T, N, G = xg.shape
        H = w.shape[1]
        dt = xg.dtype
        parts = self._unit_parts(T, N, H)
        P, h = len(parts), H // len(parts)
        xg4 = xg.reshape(T, N, 4, H)
        w4 = w.T.reshape(H, 4, H)
        w_blocks = [np.ascontiguousarray(w4[:, :, lo:hi]).reshape(H, 4 * h) for lo, hi in parts]
        mask, use_mask = self.mask, self.mask is not None
        ones = np.ones(N, dtype=bool)
        hp = np.empty((T, N, H), dt)                                   # whole states fed into step t
        hpp, cp = np.empty((P, T, N, h), dt), np.empty((P, T, N, h), dt)
        acts = np.empty((P, T, N, 4 * h), dt)                          # gate activations
        aux, yp = np.empty((P, T, N, h), dt), np.empty((P, T, N, h), dt)  # tanh(c), output
        h_n, c_n = np.empty((P, N, h), dt), np.empty((P, N, h), dt)
        k_gates, k_out = K.get("lstm_gates"), K.get("lstm_out")
        order = list(_order(T, self.reverse))
        hp[order[0]] = states[0]
        for p, (lo, hi) in enumerate(parts):
            hpp[p, order[0]], cp[p, order[0]] = states[0][:, lo:hi], states[1][:, lo:hi]
        scale = np.full(4 * h, -1.0, dt)
        scale[2 * h:3 * h] = -2.0  # exp(-x) for the sigmoid gates, exp(-2x) for tanh

        def loop(mine, barrier):
            """The time loop for the unit parts ``mine``; ``barrier`` joins the other threads' loops."""
            buf, ebuf = np.empty((N, 4 * h), dt), np.empty((N, h), dt)
            buf4 = buf.reshape(N, 4, h)
            with np.errstate(over="ignore"):  # exp overflow -> inf is the right limit
                for k, t in enumerate(order):
                    nxt = order[k + 1] if k + 1 < T else None
                    m = mask[t] if use_mask else ones
                    for p in mine:
                        lo, hi = parts[p]
                        h_out = hpp[p, nxt] if nxt is not None else h_n[p]
                        c_out = cp[p, nxt] if nxt is not None else c_n[p]
                        np.matmul(hp[t], w_blocks[p], out=buf)
                        np.add(buf4, xg4[t, :, :, lo:hi], out=buf4)
                        np.multiply(buf, scale, out=buf)
                        np.exp(buf, out=buf)
                        k_gates(buf, cp[p, t], m, use_mask, acts[p, t], c_out, ebuf)
                        np.exp(ebuf, out=ebuf)
                        k_out(ebuf, acts[p, t], hpp[p, t], m, use_mask, aux[p, t], h_out, yp[p, t])
                        if nxt is not None:
                            hp[nxt, :, lo:hi] = h_out  # the next product needs the whole state
                    if barrier is not None:
                        barrier.wait()

        _run_units(parts, loop)
        self.lstm_fast = (hp, cp, acts, aux, parts)
        return _join_units(yp), _join_units(h_n), _join_units(c_n)

    def _lstm_backward(self, gy, gstates, w, need_w: bool):
        hp, cp, acts, aux, parts = self.lstm_fast
        T, N, H = hp.shape
        P, h = len(parts), H // len(parts)
        dt = hp.dtype
        gy_parts = _split_units(np.asarray(gy, dtype=dt), P)
        mask, use_mask = self.mask, self.mask is not None
        ones = np.ones(N, dtype=bool)
        dh, dc = _split_units(np.asarray(gstates[0], dtype=dt), P), _split_units(np.asarray(gstates[1], dtype=dt), P)
        dgp = np.empty((P, N, 4 * h), dt)     # a step's gate gradients, per part
        dxg = np.empty((T, N, 4 * H), dt)     # all steps, i, f, g, o layout
        dxg4 = dxg.reshape(T, N, 4, H)
        w_blocks = [np.ascontiguousarray(w[:, lo:hi]) for lo, hi in parts]  # (4H, h): W_hh's columns of a part
        kernel = K.get("lstm_bwd")

        def loop(mine, barrier):
            tmp = np.empty((N, h), dt)
            for t in _order(T, not self.reverse):
                m = mask[t] if use_mask else ones
                for p in mine:
                    lo, hi = parts[p]
                    kernel(acts[p, t], aux[p, t], cp[p, t], dh[p], dc[p], gy_parts[p, t], m, use_mask, dgp[p])
                    dxg4[t, :, :, lo:hi] = dgp[p].reshape(N, 4, h)
                if barrier is not None:
                    barrier.wait()  # the product below needs every part's gate gradients
                for p in mine:
                    np.matmul(dxg[t], w_blocks[p], out=tmp)
                    dh[p] += tmp

        _run_units(parts, loop)
        dw = _blas.mm(dxg.reshape(-1, 4 * H).T, hp.reshape(-1, H)) if need_w else None  # sum_t dgates_t^T h_{t-1}
        return dxg, [_join_units(dh), _join_units(dc)], dw, None

    # ------------------------------------------------------------ compiled CPU path, GRU: batch rows in parts
    def _gru_forward(self, xg, states, w, b):
        T, N, G = xg.shape
        H = w.shape[1]
        dt = xg.dtype
        xg = np.ascontiguousarray(xg)
        wt = w.T
        mask = self.mask
        use_mask = mask is not None
        ones = np.ones(N, dtype=bool)
        hp = np.empty((T, N, H), dt)  # hp[t]: the state fed into step t
        acts = np.empty((T, N, G), dt)  # gate activations
        aux = np.empty((T, N, H), dt)  # hg_n = (h W_hh^T + b_hh)_n
        y = np.empty((T, N, H), dt)
        h_n = np.empty((N, H), dt)
        k_mid, k_out = K.get("gru_mid"), K.get("gru_out")
        order = list(_order(T, self.reverse))
        hp[order[0]] = states[0]

        def rows(_, lo, hi):
            """The whole time loop for batch rows lo:hi (sequences are independent)."""
            n = hi - lo
            buf, ebuf, erz = np.empty((n, G), dt), np.empty((n, H), dt), np.empty((n, 2 * H), dt)
            with np.errstate(over="ignore"):  # exp overflow -> inf is the right limit
                for k, t in enumerate(order):
                    nxt = order[k + 1] if k + 1 < T else None
                    h_out = (hp[nxt] if nxt is not None else h_n)[lo:hi]
                    m = (mask[t] if use_mask else ones)[lo:hi]
                    h_in, a_t, x_t = hp[t, lo:hi], acts[t, lo:hi], xg[t, lo:hi]
                    np.matmul(h_in, wt, out=buf)
                    np.add(buf, b, out=buf)
                    np.add(buf[:, :2 * H], x_t[:, :2 * H], out=erz)
                    np.negative(erz, out=erz)
                    np.exp(erz, out=erz)
                    k_mid(erz, buf, x_t, a_t, aux[t, lo:hi], ebuf)
                    np.exp(ebuf, out=ebuf)
                    k_out(ebuf, a_t, h_in, m, use_mask, h_out, y[t, lo:hi])

        # the batch's rows in parts, one per thread, each looping over time on its own core
        _blas.run(_blas.split(N, T * N * G * H), rows)
        self.gru_fast = (hp, acts, aux)
        return y, h_n

    def _gru_backward(self, gy, gstates, w, need_w: bool):
        hp, acts, aux = self.gru_fast
        T, N, H = hp.shape
        dt = hp.dtype
        gy = np.ascontiguousarray(gy, dtype=dt)
        mask, use_mask = self.mask, self.mask is not None
        ones = np.ones(N, dtype=bool)
        dh = np.array(gstates[0], dtype=dt, order="C")
        dxg, drec = np.empty(acts.shape, dt), np.empty(acts.shape, dt)
        kernel = K.get("gru_bwd")

        def rows(_, lo, hi):
            """Backpropagation through time for batch rows lo:hi."""
            tmp, dh_r = np.empty((hi - lo, H), dt), dh[lo:hi]
            for t in _order(T, not self.reverse):
                m = (mask[t] if use_mask else ones)[lo:hi]
                kernel(acts[t, lo:hi], aux[t, lo:hi], hp[t, lo:hi], dh_r, gy[t, lo:hi], m, use_mask,
                       dxg[t, lo:hi], drec[t, lo:hi])
                np.matmul(drec[t, lo:hi], w, out=tmp)
                dh_r += tmp

        _blas.run(_blas.split(N, T * N * acts.shape[-1] * H), rows)
        flat = drec.reshape(-1, acts.shape[-1])
        dw = _blas.mm(flat.T, hp.reshape(-1, H)) if need_w else None  # sum over steps of dgates_t^T h_{t-1}
        return dxg, [dh], dw, flat.sum(0)
