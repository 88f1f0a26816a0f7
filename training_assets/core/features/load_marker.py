"""What the online store itself says it holds: a marker per feature view, written into the
online store with each load of the view.

Feast's registry records where the last load of a view ended (`most_recent_end_time`), but the
registry lives apart from the online store: a Redis restarted without persistence, flushed,
evicted or replaced behind the same URL, or a deleted sqlite file, leaves the registry saying
"loaded" over an empty store. The marker lives in the same store as the features (a row of the
view's own table in sqlite, a key beside the entity keys in Redis), so whatever removes the
features removes it too. Its entity key has a join key of its own, which no feature view uses,
so no lookup of a driver can read it.

The marker says where the load's data ended (`data_end`: the newest event time loaded) and
when the load finished (`loaded_at`). A marker without `data_end` is withdrawn: the skew check
found the store differing from the offline features, so the store is not trusted until the
view is loaded again in full.
"""

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feast import FeatureStore, FeatureView

# A join key that no entity of the repo has: the marker's key can never be a driver's.
MARKER_JOIN_KEY = "__training_assets_load__"
_DATA_END, _LOADED_AT, _WITHDRAWN = "data_end", "loaded_at", "withdrawn_because"


@dataclass(frozen=True)
class LoadMarker:
    """The last load of a view as the online store records it."""

    view: str
    loaded_at: datetime
    data_end: datetime | None
    withdrawn_because: str | None = None

    @property
    def withdrawn(self) -> bool:
        return self.data_end is None


def read_marker(store: "FeatureStore", view: "FeatureView") -> LoadMarker | None:
    """The view's marker in the online store; None when the store holds none (never loaded
    by the pipeline, or the store lost it with its data)."""
    try:
        [(_, values)] = store.provider.online_read(
            store.config, view, [_marker_key(view)], [_DATA_END, _LOADED_AT, _WITHDRAWN]
        )
    except sqlite3.OperationalError as error:
        # A sqlite file deleted or replaced has lost the view's table with its rows.
        if "no such table" in str(error):
            return None
        raise
    # sqlite answers a missing key with no values, Redis with empty ones.
    text = {name: value.string_val for name, value in (values or {}).items()}
    if not text.get(_LOADED_AT):
        return None
    return LoadMarker(
        view=view.name,
        loaded_at=datetime.fromisoformat(text[_LOADED_AT]),
        data_end=datetime.fromisoformat(text[_DATA_END]) if text.get(_DATA_END) else None,
        withdrawn_because=text.get(_WITHDRAWN) or None,
    )


def write_marker(store: "FeatureStore", view: "FeatureView", data_end: datetime) -> LoadMarker:
    """Record in the online store that `view` holds the source's rows up to `data_end`, as of
    now. Written after the load's rows, so a load that fails midway leaves the marker of the
    load before it."""
    return _write(store, view, LoadMarker(view.name, datetime.now(UTC), data_end))


def withdraw_marker(store: "FeatureStore", view: "FeatureView", because: str) -> LoadMarker:
    """Record that the online store's copy of `view` is not to be trusted (`because` says
    why): predictions are refused and the next load reloads the view in full."""
    return _write(store, view, LoadMarker(view.name, datetime.now(UTC), None, because))


def _write(store: "FeatureStore", view: "FeatureView", marker: LoadMarker) -> LoadMarker:
    from feast.protos.feast.types.Value_pb2 import Value

    values = {
        _LOADED_AT: Value(string_val=marker.loaded_at.isoformat()),
        _DATA_END: Value(string_val=marker.data_end.isoformat() if marker.data_end else ""),
        _WITHDRAWN: Value(string_val=marker.withdrawn_because or ""),
    }
    # The event time is the write's own: Redis keeps a key's newest write and skips older ones.
    store.provider.online_write_batch(
        store.config, view, [(_marker_key(view), values, marker.loaded_at, marker.loaded_at)], None
    )
    return marker


def _marker_key(view: "FeatureView"):
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    return EntityKey(join_keys=[MARKER_JOIN_KEY], entity_values=[Value(string_val=view.name)])
