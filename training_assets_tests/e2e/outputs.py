"""Reading what a run's IO managers stored, as the next step would."""

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training_assets.core import paths
from training_assets.core.data import storage


def stored_training_table(run_id: str) -> pa.Table:
    """The training table a run wrote: `training_data` is written by the step slice by slice
    and moved into the run's folder, so its in-memory output is only the file's name."""
    return pq.read_table(paths.default_io_dir() / "runs" / run_id / "training_data.parquet")


def stored_frame(run_id: str, asset: str) -> pd.DataFrame | pd.Series:
    """A frame or series a run stored as parquet (the split's outputs, which the step streams
    to files), loaded as the next step loads it."""
    return storage.read_parquet(paths.default_io_dir() / "runs" / run_id / f"{asset}.parquet")
