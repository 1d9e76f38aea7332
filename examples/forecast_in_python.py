"""Forecast a table from Python: the same Forecaster that `tsdyn forecast` drives.

    python examples/forecast_in_python.py [path/to/ETTh1.csv]

Without an argument it uses the built-in demo table.
"""

import sys

from tsdyn.datasets import demo_table, load_table
from tsdyn.forecast import Forecaster

table = load_table(sys.argv[1]) if len(sys.argv) > 1 else demo_table()
model = Forecaster("dlinear", seq_len=336, pred_len=96, epochs=10, seed=2021).fit(table)
scores = model.evaluate()  # all test windows, standardized as the papers report
print(
    f"test MSE {scores['mse']:.4f}  MAE {scores['mae']:.4f}  (Repeat {scores['repeat']['mse']:.4f})"
)
future = model.predict()  # the 96 steps after the data, in original units
print(
    "first forecast step:",
    future["time"][0],
    dict(zip(future["columns"], future["values"][0].round(3), strict=True)),
)
model.save("dlinear.safetensors")  # reload with Forecaster.load("dlinear.safetensors")
