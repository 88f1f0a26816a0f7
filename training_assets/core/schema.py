"""The training table's columns, declared once: keys, features, label and their dtypes.

Every other module (the Feast join, the gates, the split, the model) takes its column names
from here, so a renamed feature is a one-line change and a mismatch is caught by the gates.
"""

ENTITY_KEY = "driver_id"
EVENT_TIMESTAMP = "event_timestamp"
LABEL = "trip_completed"

# Feature columns as the model sees them, in model input order.
FEATURES = ("conv_rate", "acc_rate", "avg_daily_trips")

# When the joined stats row was observed. The training table carries it so the point-in-time
# gate can prove no order saw a feature row from its future; it is never a model input.
FEATURE_TIMESTAMP = "stats_observed_at"
# Feast serves it as whole epoch seconds (Int64): Feast's stores disagree on the pandas dtype of
# a timestamp-typed feature, but not on an integer's.
FEATURE_EPOCH = "stats_observed_unix"

# Valid values per feature: (lowest, highest), None where unbounded.
FEATURE_RANGES = {
    "conv_rate": (0.0, 1.0),
    "acc_rate": (0.0, 1.0),
    "avg_daily_trips": (0.0, None),
}

# The FeatureService in feature_repo/ that names exactly FEATURES: what a served model needs.
FEATURE_SERVICE = "driver_activity_model"
# The FeatureService the training table is built from: FEATURES plus FEATURE_TIMESTAMP.
TRAINING_FEATURE_SERVICE = "driver_activity_training"

# Columns of the orders (label) files that users provide.
ORDERS_DTYPES = {
    ENTITY_KEY: "int64",
    EVENT_TIMESTAMP: "datetime64[ns, UTC]",
    LABEL: "int64",
}

# Dtypes of the training table after the Feast join. `avg_daily_trips` is Int32 in Feast but
# arrives as float64: an order with no feature row gets a null, which pandas cannot hold in an
# int32 column. The join's timestamp unit varies by engine, so it is normalised to nanoseconds.
TRAINING_DTYPES = {
    ENTITY_KEY: "int64",
    EVENT_TIMESTAMP: "datetime64[ns, UTC]",
    LABEL: "int64",
    "conv_rate": "float32",
    "acc_rate": "float32",
    "avg_daily_trips": "float64",
    FEATURE_TIMESTAMP: "datetime64[ns, UTC]",
}

TRAINING_COLUMNS = tuple(TRAINING_DTYPES)
