"""Fused AL-RNN kernels for the CPU (numba): teacher-forced loss with its hand-written backward,
free runs, n-step prediction errors and the QR Lyapunov spectrum.

Layout inside the training kernel: the S sequences of a run are the fastest axis
(`Z[R, T + 1, M, S]`), so every inner loop is a contiguous, vectorisable loop over sequences.
Runs are independent and run in parallel (`prange`). Derivation of the backward: README.md.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "alrnn_forced_loss_grad",
    "alrnn_free_run",
    "alrnn_largest_lyapunov",
    "alrnn_lyapunov_spectrum",
    "alrnn_prediction_error",
    "noisy_windows",
]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@numba.njit(inline="always")
def _splitmix(x):
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True)
def _fill_noisy(data, st, T1, N, noise_sd, key, buf):
    # buf[t * N + n] = data[st + t, n] + noise_sd * eps with eps ~ N(0, 1) drawn from a
    # counter-based stream keyed by `key` alone (splitmix64, Marsaglia's polar method), so the
    # noise of a window does not depend on which other runs or windows share the batch.
    count = T1 * N
    for k in range(count):
        buf[k] = data[st + k // N, k % N]
    if noise_sd > 0:
        c = np.uint64(0)
        k = 0
        while k < count:
            bits = _splitmix(key + c)
            c += np.uint64(1)
            u = np.float64(bits >> np.uint64(40)) * (2.0 / 16777216.0) - 1.0
            v = np.float64((bits >> np.uint64(8)) & np.uint64(0xFFFFFF)) * (2.0 / 16777216.0) - 1.0
            q = u * u + v * v
            if q >= 1.0 or q == 0.0:
                continue
            fac = noise_sd * np.sqrt(-2.0 * np.log(q) / q)
            buf[k] += fac * u
            if k + 1 < count:
                buf[k + 1] += fac * v
            k += 2


@numba.njit(inline="always")
def _window_key(key, r_seq):
    return _splitmix(key ^ (np.uint64(r_seq) * _M2))


@numba.njit(cache=True)
def _gather(data, starts, noise_sd, keys, T1, X):
    # X[R, T1, N, S]: the noisy windows, as the fused kernel builds them
    R, S = starts.shape
    N = data.shape[1]
    buf = np.empty(T1 * N, dtype=X.dtype)
    for r in range(R):
        for s in range(S):
            _fill_noisy(data, starts[r, s], T1, N, noise_sd, _window_key(keys[r], s), buf)
            for t in range(T1):
                for n in range(N):
                    X[r, t, n, s] = buf[t * N + n]


def noisy_windows(data, starts, window: int, noise_sd: float, keys) -> np.ndarray:
    """The training windows the fused kernel sees, as `[R, S, window + 1, N]` (for the reference).

    data [T, N]; starts [R, S] int64 (first index of each window); keys [R] uint64 (noise keys).
    """
    R, S = starts.shape
    X = np.empty((R, window + 1, data.shape[1], S), dtype=data.dtype)
    _gather(data, np.ascontiguousarray(starts, np.int64), float(noise_sd), keys, window + 1, X)
    return np.ascontiguousarray(X.transpose(0, 3, 1, 2))


@numba.njit(fastmath=True, cache=True)
def _forced_one_run(a, W, h, L, X, alpha, wts, K, Z, G, ga, gW, gh, gL):
    # one run: a [M], W [M, M], h [M], L [M-N, N], X [T1, N, S] noisy window, alpha [T1],
    # wts [T1, N] loss weight of each step and observed unit (row 0 unused), K = M - P linear
    # units; Z [T1, M, S] forced states (out), G [T, M, S] dloss/dzhat (work).
    # Every inner loop runs over the S sequences of a contiguous row, so it vectorises.
    T1, N, S = X.shape
    T = T1 - 1
    M = a.shape[0]
    scale = 2.0 / (S * T * N)
    dt = a.dtype
    relu = np.empty((M - K, S), dtype=dt)
    for n in range(N):
        for s in range(S):
            Z[0, n, s] = X[0, n, s]
    for k in range(M - N):
        for s in range(S):
            acc = 0.0
            for n in range(N):
                acc += L[k, n] * X[0, n, s]
            Z[0, N + k, s] = acc
    lsum = 0.0
    for t in range(1, T1):
        zp = Z[t - 1]
        zn = Z[t]
        for q in range(M - K):
            for s in range(S):
                relu[q, s] = max(zp[K + q, s], 0.0)
        for i in range(M):
            ai = a[i]
            hi = h[i]
            for s in range(S):
                zn[i, s] = ai * zp[i, s] + hi
        for j in range(K):  # zn += W Phi*(z_{t-1}): linear columns, then ReLU columns
            src = zp[j]
            for i in range(M):
                w = W[i, j]
                row = zn[i]
                for s in range(S):
                    row[s] += w * src[s]
        for q in range(M - K):
            src = relu[q]
            for i in range(M):
                w = W[i, K + q]
                row = zn[i]
                for s in range(S):
                    row[s] += w * src[s]
        al = alpha[t]
        for n in range(N):
            row = zn[n]
            xt = X[t, n]
            et = G[t - 1, n]
            wtn = wts[t, n]
            for s in range(S):
                e = row[s] - xt[s]
                lsum += wtn * e * e
                et[s] = scale * wtn * e
                row[s] = (1.0 - al) * row[s] + al * xt[s]
    # reverse pass: d = dloss/dz_t (after forcing), g = G[t-1] = dloss/dzhat_t (before forcing).
    # Parameter gradients are accumulated per sequence (acc[..., s]) and summed over s once at
    # the end: no horizontal reduction inside the time loop.
    d = np.zeros((M, S), dtype=dt)
    acc_a = np.zeros((M, S), dtype=dt)
    acc_h = np.zeros((M, S), dtype=dt)
    acc_W = np.zeros((M, M, S), dtype=dt)
    for t in range(T, 0, -1):
        al = alpha[t]
        g = G[t - 1]
        for n in range(N):  # the forced share (alpha) of the observed units gets no gradient
            for s in range(S):
                g[n, s] = (1.0 - al) * d[n, s] + g[n, s]
        for i in range(N, M):
            for s in range(S):
                g[i, s] = d[i, s]
        zp = Z[t - 1]
        for q in range(M - K):
            for s in range(S):
                relu[q, s] = max(zp[K + q, s], 0.0)
        for i in range(M):  # dW += g Phi*(z_{t-1})^T, da += g * z_{t-1}, dh += g
            gi = g[i]
            ra = acc_a[i]
            rh = acc_h[i]
            zi = zp[i]
            for s in range(S):
                ra[s] += gi[s] * zi[s]
                rh[s] += gi[s]
            for j in range(K):
                rw = acc_W[i, j]
                zj = zp[j]
                for s in range(S):
                    rw[s] += gi[s] * zj[s]
            for q in range(M - K):
                rw = acc_W[i, K + q]
                rq = relu[q]
                for s in range(S):
                    rw[s] += gi[s] * rq[s]
        for j in range(M):
            for s in range(S):
                d[j, s] = 0.0
        for i in range(M):  # d = W^T g (then masked by D_t and plus a * g)
            gi = g[i]
            for j in range(M):
                w = W[i, j]
                row = d[j]
                for s in range(S):
                    row[s] += w * gi[s]
        for j in range(M):
            aj = a[j]
            if j < K:
                for s in range(S):
                    d[j, s] = aj * g[j, s] + d[j, s]
            else:
                for s in range(S):
                    d[j, s] = aj * g[j, s] + (d[j, s] if zp[j, s] > 0 else 0.0)
    for i in range(M):
        sa = 0.0
        sh = 0.0
        for s in range(S):
            sa += acc_a[i, s]
            sh += acc_h[i, s]
        ga[i] = sa
        gh[i] = sh
        for j in range(M):
            acc = 0.0
            for s in range(S):
                acc += acc_W[i, j, s]
            gW[i, j] = acc
    for k in range(M - N):
        for n in range(N):
            acc = 0.0
            for s in range(S):
                acc += d[N + k, s] * X[0, n, s]
            gL[k, n] = acc
    return lsum / (S * T * N)


@numba.njit(parallel=True, cache=True)
def _forced_fwd_bwd(
    a, W, h, L, data, starts, alpha, wts, noise_sd, keys, P, loss, ga, gW, gh, gL, Z
):
    R, M = a.shape
    S = starts.shape[1]
    T1 = alpha.shape[1]
    N = data.shape[1]
    dt = a.dtype
    for r in numba.prange(R):
        X = np.empty((T1, N, S), dtype=dt)
        buf = np.empty(T1 * N, dtype=dt)
        for s in range(S):
            _fill_noisy(data, starts[r, s], T1, N, noise_sd, _window_key(keys[r], s), buf)
            for t in range(T1):
                for n in range(N):
                    X[t, n, s] = buf[t * N + n]
        G = np.empty((T1 - 1, M, S), dtype=dt)
        loss[r] = _forced_one_run(
            a[r], W[r], h[r], L[r], X, alpha[r], wts[r], M - P, Z[r], G, ga[r], gW[r], gh[r], gL[r]
        )


def alrnn_forced_loss_grad(
    a, W, h, L, data, starts, alpha, P: int, noise_sd=0.0, keys=None, weights=None
):
    """Per-run teacher-forced MSE and its gradients in one fused forward/backward pass.

    Same maths as `naive_alrnn_forced_loss` on `noisy_windows(data, starts, T, noise_sd, keys)`.

    Parameters
    ----------
    a, h : [R, M];  W : [R, M, M];  L : [R, M - N, N]   numpy, one float dtype
    data : [T_data, N]  the (scaled) training series
    starts : [R, S] int  first index of each window (window = T + 1 points)
    alpha : [R, T + 1]  forcing weight per step (1 = identity teacher forcing; entry 0 unused)
    P : int  ReLU units (the last P)
    noise_sd : float  Gaussian observation noise added to each window (counter-based, by `keys`)
    keys : [R] uint64  noise keys (one per run)
    weights : [R, T + 1, N], optional  loss weight of each step's squared error per observed
        unit (entry 0 unused; None = all ones, the plain MSE): loss = mean over (S, T, N) of
        w_{t,n} (zhat_{t,n} - x_{t,n})^2

    Returns
    -------
    loss [R], (ga [R, M], gW [R, M, M], gh [R, M], gL [R, M - N, N]), Z [R, T + 1, M, S]
    (the forced states, z_0 .. z_T).
    """
    R, M = a.shape
    dt = a.dtype
    T1 = alpha.shape[1]
    S = starts.shape[1]
    if keys is None:
        keys = np.zeros(R, dtype=np.uint64)
    N = data.shape[1]
    if weights is None:
        weights = np.ones((R, T1, N), dtype=dt)
    loss = np.zeros(R, dtype=np.float64)
    ga, gW, gh, gL = np.zeros_like(a), np.zeros_like(W), np.zeros_like(h), np.zeros_like(L)
    Z = np.empty((R, T1, M, S), dtype=dt)
    _forced_fwd_bwd(
        a,
        W,
        h,
        L,
        np.ascontiguousarray(data, dt),
        np.ascontiguousarray(starts, np.int64),
        np.ascontiguousarray(alpha, dt),
        np.ascontiguousarray(np.broadcast_to(weights, (R, T1, N)), dt),
        float(noise_sd),
        np.ascontiguousarray(keys, np.uint64),
        int(P),
        loss,
        ga,
        gW,
        gh,
        gL,
        Z,
    )
    return loss, (ga, gW, gh, gL), Z


@numba.njit(inline="always")
def _map(a, W, h, r, z, K, phi, zn):
    """zn = a z + W phi(z) + h for run r (phi: ReLU on the units from K on), the AL-RNN map."""
    M = z.shape[0]
    for j in range(M):
        v = z[j]
        phi[j] = v if (j < K or v > 0) else 0.0
    for i in range(M):
        acc = a[r, i] * z[i] + h[r, i]
        for j in range(M):
            acc += W[r, i, j] * phi[j]
        zn[i] = acc


@numba.njit(parallel=True, cache=True)
def _free_run(a, W, h, z0, P, out):
    R, B, steps, M = out.shape
    K = M - P
    for rb in numba.prange(R * B):
        r = rb // B
        b = rb % B
        z = z0[r, b].copy()
        phi = np.empty(M, dtype=z.dtype)
        for t in range(steps):
            _map(a, W, h, r, z, K, phi, out[r, b, t])
            for i in range(M):
                z[i] = out[r, b, t, i]


def alrnn_free_run(a, W, h, z0, steps: int, P: int) -> np.ndarray:
    """Free run of R models from B initial states: z0 [R, B, M] -> states [R, B, steps, M]."""
    R, B, M = z0.shape
    out = np.empty((R, B, steps, M), dtype=a.dtype)
    _free_run(a, W, h, np.ascontiguousarray(z0, a.dtype), int(P), out)
    return out


@numba.njit(parallel=True, cache=True)
def _pe(a, W, h, L, x, n_steps, P, err):
    R, M = a.shape
    T, N = x.shape
    K = M - P
    for t in numba.prange(T - n_steps):
        z = np.empty(M, dtype=a.dtype)
        zn = np.empty(M, dtype=a.dtype)
        phi = np.empty(M, dtype=a.dtype)
        for r in range(R):
            for n in range(N):
                z[n] = x[t, n]
            for k in range(M - N):
                acc = 0.0
                for n in range(N):
                    acc += L[r, k, n] * x[t, n]
                z[N + k] = acc
            for _ in range(n_steps):
                _map(a, W, h, r, z, K, phi, zn)
                z[:] = zn
            e = 0.0
            for n in range(N):
                e += (z[n] - x[t + n_steps, n]) ** 2
            err[r, t] = e / N


def alrnn_prediction_error(a, W, h, L, x, n_steps: int, P: int) -> np.ndarray:
    """PE(n): MSE of n-step free predictions started from every point of x [T, N] -> [R]."""
    R = a.shape[0]
    T = x.shape[0]
    err = np.empty((R, T - n_steps), dtype=np.float64)
    _pe(a, W, h, L, np.ascontiguousarray(x, a.dtype), int(n_steps), int(P), err)
    return err.mean(axis=1)


@numba.njit(parallel=True, cache=True)
def _lyap(a, W, h, z0, steps, transient, P, Q0, out):
    R, M = a.shape
    K = M - P
    for r in numba.prange(R):
        z = z0[r].copy()
        zn = np.empty(M)
        phi = np.empty(M)
        Q = Q0.copy()
        V = np.empty((M, M))
        sums = np.zeros(M)
        for t in range(transient + steps):
            # J = diag(a) + W D(z);  V = J Q
            for i in range(M):
                for c in range(M):
                    acc = a[r, i] * Q[i, c]
                    for j in range(M):
                        if j < K or z[j] > 0:
                            acc += W[r, i, j] * Q[j, c]
                    V[i, c] = acc
            _map(a, W, h, r, z, K, phi, zn)
            z[:] = zn
            # modified Gram-Schmidt: V = Q R, log|R_cc| accumulated after the transient
            for c in range(M):
                for p in range(c):
                    dot = 0.0
                    for i in range(M):
                        dot += Q[i, p] * V[i, c]
                    for i in range(M):
                        V[i, c] -= dot * Q[i, p]
                nrm = 0.0
                for i in range(M):
                    nrm += V[i, c] * V[i, c]
                nrm = np.sqrt(nrm)
                if t >= transient:
                    sums[c] += np.log(nrm) if nrm > 0 else -np.inf
                for i in range(M):
                    Q[i, c] = V[i, c] / nrm if nrm > 0 else 0.0
            if not np.isfinite(z[0]):
                break
        for c in range(M):
            out[r, c] = sums[c] / steps


def alrnn_lyapunov_spectrum(a, W, h, z0, steps: int, P: int, transient: int = 1000, seed: int = 0):
    """Lyapunov spectrum per map step by QR along a free run: z0 [R, M] -> [R, M], descending."""
    R, M = a.shape
    Q0, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((M, M)))
    out = np.empty((R, M))
    f = np.float64
    _lyap(
        a.astype(f),
        W.astype(f),
        h.astype(f),
        np.ascontiguousarray(z0, f),
        int(steps),
        int(transient),
        int(P),
        np.ascontiguousarray(Q0),
        out,
    )
    return -np.sort(-out, axis=1)


@numba.njit(parallel=True, cache=True)
def _lyap_max(a, W, h, z0, steps, transient, P, v0, out):
    R, M = a.shape
    K = M - P
    for r in numba.prange(R):
        z = z0[r].copy()
        zn = np.empty(M)
        phi = np.empty(M)
        v = v0.copy()
        vn = np.empty(M)
        total = 0.0
        for t in range(transient + steps):
            # v <- J_t v / |J_t v|, J_t = diag(a) + W D(z_{t-1});  z <- F(z)
            for i in range(M):
                acc = a[r, i] * v[i]
                for j in range(M):
                    if j < K or z[j] > 0:
                        acc += W[r, i, j] * v[j]
                vn[i] = acc
            _map(a, W, h, r, z, K, phi, zn)
            nrm = 0.0
            for i in range(M):
                nrm += vn[i] * vn[i]
            nrm = np.sqrt(nrm)
            if not (nrm > 0 and np.isfinite(nrm) and np.isfinite(zn[0])):
                total = np.nan
                break
            if t >= transient:
                total += np.log(nrm)
            for i in range(M):
                v[i] = vn[i] / nrm
                z[i] = zn[i]
        out[r] = total / steps


def alrnn_largest_lyapunov(a, W, h, z0, steps: int, P: int, transient: int = 1000, seed: int = 0):
    """Largest Lyapunov exponent per map step of R models: one tangent vector renormalised every
    step along a free run from z0 [R, M] (the first column of the QR method, at 1/M of its cost).
    NaN when the run or the tangent leaves the finite range."""
    R, M = a.shape
    v0 = np.random.default_rng(seed).standard_normal(M)
    v0 /= np.linalg.norm(v0)
    out = np.empty(R)
    f = np.float64
    _lyap_max(
        a.astype(f),
        W.astype(f),
        h.astype(f),
        np.ascontiguousarray(z0, f),
        int(steps),
        int(transient),
        int(P),
        v0,
        out,
    )
    return out
