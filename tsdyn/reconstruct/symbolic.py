"""Symbolic dynamics of a trained AL-RNN (research note `alrnn.md` section 5).

A state's symbol is the on/off pattern of the P ReLU units, d = 1[z_{M-P+1..M} > 0]: the linear
subregion whose affine map z -> (diag(a) + W D_d) z + h produces the next state. Symbols are written
as bit strings over the ReLU units in order ("01": unit M-P off, unit M on) and coded as integers
with the first ReLU unit as the most significant bit.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = [
    "cycles",
    "fixed_points",
    "region_jacobian",
    "region_stats",
    "symbol_name",
    "symbols",
    "transition_matrix",
]


def symbols(z: np.ndarray, P: int) -> np.ndarray:
    """Integer symbol of every state: z [..., M] -> [...] (0 for every state when P = 0)."""
    if P == 0:
        return np.zeros(z.shape[:-1], dtype=np.int64)
    bits = (z[..., -P:] > 0).astype(np.int64)
    return bits @ (1 << np.arange(P - 1, -1, -1))


def symbol_name(code: int, P: int) -> str:
    """Bit string of a symbol, e.g. 2 -> "10" for P = 2 ("" for P = 0)."""
    return format(int(code), f"0{P}b") if P else ""


def _bits(code: int, P: int) -> np.ndarray:
    return np.array([(int(code) >> (P - 1 - k)) & 1 for k in range(P)], dtype=np.float64)


def region_jacobian(a: np.ndarray, W: np.ndarray, code: int, P: int) -> np.ndarray:
    """J_Omega = diag(a) + W D_Omega, D_Omega = diag(1_{M-P}, bits of Omega): [M, M]."""
    M = len(a)
    D = np.ones(M)
    if P:
        D[M - P :] = _bits(code, P)
    return np.diag(a) + W * D[None, :]


def region_stats(codes: np.ndarray, P: int) -> list[dict]:
    """Visited subregions, most frequent first: symbol, code, steps, share of the run."""
    values, counts = np.unique(codes, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    total = counts.sum()
    return [
        {
            "symbol": symbol_name(values[i], P),
            "code": int(values[i]),
            "steps": int(counts[i]),
            "share": float(counts[i] / total),
        }
        for i in order
    ]


def transition_matrix(codes: np.ndarray, states: np.ndarray | None = None):
    """Row-stochastic transition matrix between visited symbols, dwell (self-loops) included.

    C_ij = #{t: s_t = i, s_{t+1} = j};  P_ij = C_ij / sum_j C_ij (note section 5.2).

    Returns (states [K] in the given order, or sorted), P [K, K], C [K, K].
    """
    codes = np.asarray(codes)
    states = np.unique(codes) if states is None else np.asarray(states)
    index = {int(s): k for k, s in enumerate(states)}
    K = len(states)
    C = np.zeros((K, K), dtype=np.int64)
    src = np.array([index[int(c)] for c in codes[:-1]])
    dst = np.array([index[int(c)] for c in codes[1:]])
    np.add.at(C, (src, dst), 1)
    rows = C.sum(axis=1, keepdims=True)
    Pm = np.divide(C, rows, out=np.zeros_like(C, dtype=np.float64), where=rows > 0)
    return states, Pm, C


def _stability(eigvals: np.ndarray) -> dict:
    mod = np.abs(eigvals)
    n_unstable = int(np.sum(mod > 1.0))
    if n_unstable == 0:
        kind = "stable"
    elif n_unstable == len(eigvals):
        kind = "unstable"
    else:
        kind = "saddle"
    spiral = bool(np.any(np.abs(eigvals.imag) > 1e-12))
    return {
        "type": kind + (" focus" if spiral else ""),
        "spectral_radius": float(mod.max()),
        "unstable_directions": n_unstable,
        "eigenvalues": [[float(v.real), float(v.imag)] for v in eigvals],
    }


def fixed_points(
    a: np.ndarray, W: np.ndarray, h: np.ndarray, P: int, regions: list[int] | None = None
) -> list[dict]:
    """Fixed point of each subregion's affine map and its self-consistency (note section 5.4).

    z*_Omega = (I - diag(a) - W D_Omega)^{-1} h; "real" iff the symbol of z*_Omega is Omega (the
    map that fixes it is the one that acts there), else "virtual". Stability from the eigenvalues
    of J_Omega (stable: all |lambda| < 1; saddle: some above, some below; "focus": complex pairs).
    `regions`: the codes to analyse (default: all 2^P, which needs P <= 16).
    """
    M = len(a)
    if regions is None:
        if P > 16:
            raise ValueError(f"2^{P} regions are too many to enumerate; pass the visited ones")
        regions = range(2**P)
    out = []
    for code in regions:
        J = region_jacobian(a, W, code, P)
        try:
            z = np.linalg.solve(np.eye(M) - J, h)
        except np.linalg.LinAlgError:
            out.append({"symbol": symbol_name(code, P), "code": code, "exists": False})
            continue
        real = int(symbols(z, P)) == code
        out.append(
            {
                "symbol": symbol_name(code, P),
                "code": code,
                "exists": True,
                "real": bool(real),
                "z": z.tolist(),
                **_stability(np.linalg.eigvals(J)),
            }
        )
    return out


def _step(a, W, h, z, P):
    phi = z.copy()
    if P:
        phi[-P:] = np.maximum(phi[-P:], 0.0)
    return a * z + W @ phi + h


def cycles(
    a: np.ndarray,
    W: np.ndarray,
    h: np.ndarray,
    P: int,
    max_period: int = 4,
    regions: list[int] | None = None,
    budget: int = 20_000,
) -> list[dict]:
    """Real k-cycles (2 <= k <= max_period) by enumerating region sequences (SCYFI's closed form).

    For a sequence Omega_1..Omega_k: z_0 = (I - J_k..J_1)^{-1} b with b = J_k(..(J_2 h + h)..) + h;
    accepted when iterating the true map from z_0 visits exactly Omega_1..Omega_k and returns to
    z_0 (relative tolerance 1e-8). Sequences are taken over `regions` (default: all 2^P), primitive
    and up to rotation; enumeration stops after `budget` sequences in total. Stability from the
    eigenvalues of the cycle's Jacobian product.
    """
    M = len(a)
    regions = list(range(2**P)) if regions is None else sorted(int(r) for r in regions)
    jac = {c: region_jacobian(a, W, c, P) for c in regions}
    found = []
    tried = 0
    for k in range(2, max_period + 1):
        for seq in itertools.product(regions, repeat=k):
            if any(seq[i:] + seq[:i] < seq for i in range(1, k)):
                continue  # not the smallest rotation
            if any(k % p == 0 and seq == seq[:p] * (k // p) for p in range(1, k)):
                continue  # a repetition of a shorter cycle
            tried += 1
            if tried > budget:
                return found
            A = np.eye(M)
            b = np.zeros(M)
            for c in seq:
                A = jac[c] @ A
                b = jac[c] @ b + h
            try:
                z0 = np.linalg.solve(np.eye(M) - A, b)
            except np.linalg.LinAlgError:
                continue
            z = z0
            orbit = []
            ok = True
            for c in seq:
                if int(symbols(z, P)) != c:
                    ok = False
                    break
                orbit.append(z)
                z = _step(a, W, h, z, P)
            if not ok or not np.allclose(z, z0, rtol=1e-8, atol=1e-8 * (1 + np.abs(z0).max())):
                continue
            found.append(
                {
                    "period": k,
                    "symbols": [symbol_name(c, P) for c in seq],
                    "z": [o.tolist() for o in orbit],
                    **_stability(np.linalg.eigvals(A)),
                }
            )
    return found
