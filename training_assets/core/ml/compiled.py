"""A scikit-learn model compiled to ONNX and scored by ONNX Runtime, for the online path.

Scoring one row through MLflow's pyfunc and scikit-learn costs a millisecond or more, nearly
all of it input validation (the schema, then each pipeline step's checks of a DataFrame);
ONNX Runtime scores the same row in microseconds. skl2onnx compiles the fitted pipeline
when a server loads it; nothing about the registered model changes.

ONNX Runtime computes in float32 here (its imputer has no float64 kernel), so answers differ
from scikit-learn's in the seventh significant digit. The compiled model is only used once it
agrees with scikit-learn on probe rows (nulls, zeros, and values across several scales) within
`TOLERANCE`; a model that cannot be compiled, or disagrees, is scored through pyfunc as before,
and `reason` says why. Rows holding a value float32 cannot carry exactly (beyond 2**24 in
magnitude) are scored through pyfunc too.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

# The largest difference from scikit-learn's answer a compiled model may show on the probes,
# relative to the answer's magnitude (at least 1): float32 carries about seven digits.
TOLERANCE = 1e-5
# Integers beyond this lose digits in float32.
EXACT_IN_FLOAT32 = float(2**24)
_PROBE_ROWS = 256


@dataclass(frozen=True)
class CompiledModel:
    """An ONNX Runtime session over the model, taking `columns` in that order."""

    session: object
    columns: list[str]
    input_name: str

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Predictions of the rows of `matrix` (float32, `columns` in order)."""
        [output] = self.session.run(None, {self.input_name: matrix})
        return np.ravel(output).astype(np.float64)


def compile_model(model, columns: list[str]) -> tuple[CompiledModel | None, str]:
    """`model` (a fitted scikit-learn estimator taking `columns`) compiled and checked against
    itself on probe rows; None and the reason when it cannot be compiled or disagrees."""
    try:
        import onnxruntime
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType

        order = [str(name) for name in getattr(model, "feature_names_in_", columns)]
        if sorted(order) != sorted(columns):
            return None, f"the model takes {order}, the signature names {columns}"
        graph = to_onnx(model, initial_types=[("X", FloatTensorType([None, len(order)]))])
        options = onnxruntime.SessionOptions()
        # One request's rows are few: threads would cost more than they save, and the
        # server's requests already run side by side.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # any model skl2onnx or ONNX Runtime cannot take
        return None, f"not compiled to ONNX ({type(error).__name__}: {error})"
    if len(session.get_outputs()) != 1:
        # A classifier's graph answers a label and probabilities; pyfunc says which it serves.
        return None, f"the ONNX graph has {len(session.get_outputs())} outputs, not one"
    compiled = CompiledModel(session, order, session.get_inputs()[0].name)
    probes = probe_rows(order, model)
    try:
        expected = np.ravel(np.asarray(model.predict(probes), dtype=float))
        found = compiled.predict(probes.to_numpy(dtype=np.float32))
    except Exception as error:  # a model that refuses nulls, or a graph that fails to run
        return None, f"not checked against scikit-learn ({type(error).__name__}: {error})"
    worst = float(np.max(np.abs(found - expected) / np.maximum(1.0, np.abs(expected))))
    if not np.isfinite(worst) or worst > TOLERANCE:
        return None, f"ONNX differs from scikit-learn by {worst:.3g} on probe rows"
    return compiled, ""


def probe_rows(columns: list[str], model=None, seed: int = 0) -> pd.DataFrame:
    """Rows to compare a compiled model with its original on, float32-exact (as served):
    nulls, zeros and ones, and values where the model was fit (within four standard
    deviations of its scaler's means), or, for a model without a scaler, of several scales
    and signs. Values far outside the training data would judge float32 on sums no request
    makes."""
    rng = np.random.default_rng(seed)
    centre, spread = _fitted_scale(model, columns)
    values = {}
    for position, name in enumerate(columns):
        if centre is not None:
            column = centre[position] + rng.uniform(-4, 4, _PROBE_ROWS) * spread[position]
        else:
            scales = np.array([1.0, 10.0, 1000.0])
            column = rng.uniform(-1, 1, _PROBE_ROWS) * rng.choice(scales, _PROBE_ROWS)
        column[rng.uniform(0, 1, _PROBE_ROWS) < 0.2] = np.nan
        column[:3] = [0.0, 1.0, np.nan]
        values[name] = column.astype(np.float32).astype(np.float64)
    return pd.DataFrame(values)


def _fitted_scale(model, columns: list[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The means and standard deviations a step of `model` (a scaler) learnt, per column."""
    steps = [step for _, step in getattr(model, "steps", [])] or [model]
    for step in steps:
        mean, scale = getattr(step, "mean_", None), getattr(step, "scale_", None)
        if mean is not None and scale is not None and len(mean) == len(columns):
            return np.asarray(mean, dtype=float), np.asarray(scale, dtype=float)
    return None, None


def exact_in_float32(matrix: np.ndarray) -> bool:
    """Whether every value of `matrix` (float64, NaN for a missing one) survives float32
    with the digits a trained model may rely on."""
    return not bool(np.any(np.abs(np.nan_to_num(matrix)) > EXACT_IN_FLOAT32))
