"""AL-RNN rollouts: teacher-forced loss with a fused hand-written backward, free runs, PE, QR
Lyapunov spectrum. `naive` is the PyTorch reference (autograd); `cpu` the numba kernels.

Import the backends by module path (`tsdyn.kernels.rollout.cpu`); this file imports neither.
"""
