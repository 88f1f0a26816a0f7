"""Which batch rows found their features, on a real point-in-time join of the feature repo
over a stats file from Feast's own generator: a matched row whose values are null found its
features; an unknown driver, a time before any stats and a time past the view's TTL did not."""

import numpy as np
import pandas as pd

from training_assets.core import paths
from training_assets.core.features import feast_repo
from training_assets.core.ml.batch import FEATURES_FOUND, features_found
from training_assets.core.ml.table import as_training_table, with_order_position
from training_assets.core.schema import FEATURE_SERVICE
from training_assets_tests.core.features.test_materialize import FEATURES, feast_generated


def test_features_found_follows_the_matched_rows_not_their_values(working_area, tmp_path):
    stats = feast_generated(tmp_path / "driver_stats.parquet", "2021-04-01", "2021-04-03", 13)
    frame = pd.read_parquet(stats)
    # One driver-hour whose stats are all null, as a writer leaves a failed aggregation.
    nulled = frame.index[frame["driver_id"] == 5003][5]
    frame.loc[nulled, FEATURES] = np.nan
    frame.to_parquet(stats, index=False)
    store = feast_repo.feature_store(
        paths.feature_repo(),
        registry=tmp_path / "feast" / "registry.db",
        online_store=tmp_path / "feast" / "online.db",
        provenance=True,
    )
    feast_repo.apply_repo(store, paths.feature_repo(), stats)
    schema = feast_repo.applied_schema(store, FEATURE_SERVICE)
    first, last = pd.to_datetime(frame["datetime"], utc=True).agg(["min", "max"])
    at_null = pd.to_datetime(frame.loc[nulled, "datetime"], utc=True) + pd.Timedelta(minutes=1)
    requests = pd.DataFrame(
        {
            "event_timestamp": [
                last,
                at_null,
                last,
                first - pd.Timedelta(hours=1),
                last + pd.Timedelta(days=2),
            ],
            "driver_id": np.array([5001, 5003, 999_999, 5002, 5004], dtype=np.int64),
        }
    )
    # Joined in reverse, so that the position column has to put the rows back in order.
    joined = feast_repo.historical_table(
        store, with_order_position(requests).iloc[::-1].reset_index(drop=True), FEATURE_SERVICE
    )

    found = joined.append_column(FEATURES_FOUND, features_found(joined, schema))
    table = as_training_table(found, schema).to_pandas()

    assert table["driver_id"].tolist() == requests["driver_id"].tolist()
    assert table.loc[1, FEATURES].isna().all()
    assert table[FEATURES_FOUND].tolist() == [True, True, False, False, False]
