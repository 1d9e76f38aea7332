"""`ssm_scan`: the diagonal SSM recurrence (S4D recurrent mode), fused (README.md beside this file).

The package shares its name with the function. Python sets `tsdyn.kernels.ssm_scan` to this
package once it is imported, so `from tsdyn.kernels import ssm_scan` can return the package rather
than the function; the package is therefore made callable and forwards the call to the function.
"""

import sys
import types

from ._ssm_scan import default_backend, ssm_scan

__all__ = ["default_backend", "ssm_scan"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return ssm_scan(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
