"""The one place the prediction log's sink is chosen from a configured location.

Every writer (batch scoring, the online server) and every reader (the outcomes join) asks
`prediction_sink` for the same location's sink, so a deployment moves them all at once. A new
kind of sink (a database table) is one more case here.
"""

from pathlib import Path
from urllib.parse import urlparse

from training_assets.core import paths
from training_assets.core.monitoring.prediction_log import ParquetSink, PredictionSink


class PredictionSinkError(ValueError):
    """A configured prediction log location that no sink serves."""


def prediction_sink(location: str | None = None) -> PredictionSink:
    """The sink of `location`: a local folder of parquet files by event day; default the
    working area's `predictions/` folder.

    Raises:
        PredictionSinkError: naming the location, when no sink serves its scheme.
    """
    if not location:
        return ParquetSink(paths.default_prediction_log_path())
    scheme = urlparse(location).scheme
    # A Windows drive letter parses as a one-letter scheme.
    if scheme in ("", "file") or len(scheme) == 1:
        return ParquetSink(Path(location.removeprefix("file://")))
    raise PredictionSinkError(
        f"prediction log location {location!r}: no sink for {scheme!r} locations; use a "
        "local folder"
    )
