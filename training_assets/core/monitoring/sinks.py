"""The one place the prediction log's sink is chosen from a configured location.

Every writer (batch scoring, the online server) and every reader (the outcomes join) asks for
the same location's sink, so a deployment moves them all at once: a PostgreSQL URL is the
production profile's table (postgres_sink.py), a folder is parquet files by event day. With no
location, `TRAINING_ASSETS_PREDICTION_LOG_URL` (as the server reads it), else the working
area's `predictions/` folder. A new kind of sink is one more case here.
"""

from pathlib import Path
from urllib.parse import urlparse

from training_assets.core import paths, settings
from training_assets.core.monitoring.postgres_sink import sink_for
from training_assets.core.monitoring.prediction_log import ParquetSink, PredictionSink


class PredictionSinkError(ValueError):
    """A configured prediction log location that no sink serves."""


def prediction_sink(location: str | None = None) -> PredictionSink:
    """The sink of `location` (a PostgreSQL URL, or a local folder), else of the
    environment's prediction log URL, else the working area's parquet folder.

    Raises:
        PredictionSinkError: naming the location, when no sink serves its scheme.
    """
    location = location or settings.prediction_log_url()
    default = paths.default_prediction_log_path()
    if not location:
        return sink_for(None, default)
    scheme = urlparse(location).scheme
    if scheme.startswith("postgres"):
        return sink_for(location, default)
    # A Windows drive letter parses as a one-letter scheme.
    if scheme in ("", "file") or len(scheme) == 1:
        return ParquetSink(Path(location.removeprefix("file://")))
    raise PredictionSinkError(
        f"prediction log location {location!r}: no sink for {scheme!r} locations; use a "
        "PostgreSQL URL (postgresql://user@host/db) or a local folder"
    )
