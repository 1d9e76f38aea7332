"""Pilot (third session): derivative-free fine-tuning of trained AL-RNNs on the validation
trajectory. An elitist (1, pop) evolution strategy perturbs h (SD sigma), a (SD sigma * AS) and W
(SD sigma * WS), keeps a candidate only if its validation score D_stsp + 5 D_H (100 000-step free
run from the validation's first point, 1000 dropped) beats the incumbent, and adapts sigma
(x1.2 on success, x0.93 otherwise); the tuned run is then scored on the test trajectory.

    python benchmarks/reconstruct_es_pilot.py MODEL_DIR RUNS POP GENS SIGMA AS WS
    python benchmarks/reconstruct_es_pilot.py benchmarks/results/reconstruct_lorenz63_tau12_model 0,3 16 60 0.003 0.3 0.1
"""

import sys
import time

import numpy as np

sys.path.insert(0, ".")
import numba

from tsdyn.datasets.systems import simulate
from tsdyn.kernels.rollout.cpu import alrnn_free_run
from tsdyn.reconstruct import ALRNNReconstructor
from tsdyn.reconstruct.metrics import BinnedDstsp, SpectrumHellinger

numba.set_num_threads(1)
tr = simulate("lorenz63", 100_000, seed=0).values
te = simulate("lorenz63", 100_000, seed=1).values
va = simulate("lorenz63", 100_000, seed=2).values
rec = ALRNNReconstructor.load(sys.argv[1])
xv = rec.scale(va)
xt = rec.scale(te)
Bv = BinnedDstsp(xv, 30)
Hv = SpectrumHellinger(xv, 20)
Bt = BinnedDstsp(xt, 30)
Ht = SpectrumHellinger(xt, 20)
p = rec.model_.numpy_params(np.float32)
P = rec.model_.P
AS = float(sys.argv[6])
WS = float(sys.argv[7])
runs = [int(r) for r in sys.argv[2].split(",")]
pop = int(sys.argv[3])
gens = int(sys.argv[4])
sigma0 = float(sys.argv[5])


def score(a, W, h, L, x0, B, H, steps=100000, tr_=1000):
    R = len(a)
    z0 = np.concatenate([np.broadcast_to(x0, (R, 3)), L @ x0], axis=1)[:, None, :].astype(
        np.float32
    )
    g = alrnn_free_run(a, W, h, z0, tr_ + steps, P)[:, 0, tr_:, :3]
    ds = np.array([B(x) for x in g])
    dh = np.array([H(x) for x in g])
    ds = np.where(np.isfinite(ds), ds, np.inf)
    dh = np.where(np.isfinite(dh), dh, 1.0)
    return ds, dh


for r in runs:
    a, W, h, L = (p[k][r] for k in "aWhL")
    t0 = time.time()
    ds, dh = score(a[None], W[None], h[None], L[None], xv[0].astype(np.float32), Bv, Hv)
    best = ds[0] + 5 * dh[0]
    print(f"run {r}: start val {ds[0]:.3f}/{dh[0]:.3f}")
    dst, dht = score(a[None], W[None], h[None], L[None], xt[0].astype(np.float32), Bt, Ht)
    print(f"   test {dst[0]:.3f}/{dht[0]:.3f}")
    rng = np.random.default_rng(r)
    sig = sigma0
    # parameters perturbed: h, a (relative scale 1), W (scale 0.3)
    for gen in range(gens):
        eps_h = rng.normal(0, sig, (pop, 20)).astype(np.float32)
        eps_a = rng.normal(0, sig * AS, (pop, 20)).astype(np.float32)
        eps_W = rng.normal(0, sig * WS, (pop, 20, 20)).astype(np.float32)
        A = np.clip(a[None] + eps_a, 0, 1.2)
        Hh = h[None] + eps_h
        WW = W[None] + eps_W
        ds, dh = score(
            A, WW, Hh, np.broadcast_to(L, (pop, *L.shape)).copy(), xv[0].astype(np.float32), Bv, Hv
        )
        sc = ds + 5 * dh
        k = int(np.argmin(sc))
        if sc[k] < best:
            best = sc[k]
            a, W, h = A[k], WW[k], Hh[k]
            sig *= 1.2
        else:
            sig *= 0.93
        if gen % 5 == 4 or gen == gens - 1:
            print(
                f"  gen {gen + 1} best val score {best:.3f} (ds {ds[k]:.3f} dh {dh[k]:.3f}) sig {sig:.4f} {time.time() - t0:.0f}s",
                flush=True,
            )
    dst, dht = score(a[None], W[None], h[None], L[None], xt[0].astype(np.float32), Bt, Ht)
    print(f"run {r}: after ES test {dst[0]:.3f}/{dht[0]:.3f}")
