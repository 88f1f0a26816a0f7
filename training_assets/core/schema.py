"""The training table's columns, declared once: keys, features, label and their dtypes.

Every other module (the Feast join, the gates, the split, the model) takes its column names
from here, so a renamed feature is a one-line change and a mismatch is caught by the gates.
"""

ENTITY_KEY = "driver_id"
EVENT_TIMESTAMP = "event_timestamp"
LABEL = "trip_completed"

# Feature columns as the model sees them, in model input order.
FEATURES = ("conv_rate", "acc_rate", "avg_daily_trips")

# Provenance of the joined feature rows: the latest timestamp and created time of the rows an
# order was joined with. The offline store returns them per view (columns named from
# PROVENANCE_PREFIX); the training table keeps them so that the point-in-time gates can prove
# no order saw a feature row from its future or one written after it. Never model inputs.
FEATURE_TIMESTAMP = "feature_timestamp"
FEATURE_CREATED = "feature_created"
PROVENANCE_PREFIX = "__provenance__"

# Valid values per feature: (lowest, highest), None where unbounded.
FEATURE_RANGES = {
    "conv_rate": (0.0, 1.0),
    "acc_rate": (0.0, 1.0),
    "avg_daily_trips": (0.0, None),
}

# The FeatureService in feature_repo/ that names exactly FEATURES: what the model is trained on
# and what a served model needs.
FEATURE_SERVICE = "driver_activity_model"

# Columns of the orders (label) files that users provide.
ORDERS_DTYPES = {
    ENTITY_KEY: "int64",
    EVENT_TIMESTAMP: "datetime64[ns, UTC]",
    LABEL: "int64",
}

# Dtypes of the training table after the Feast join: the features as the feature view declares
# them. An integer feature with nulls (an order with no feature row) loads into pandas as
# float64; the dtype gate accepts that when every present value is a whole number that fits.
# The join's timestamp unit varies by engine, so times are normalised to nanoseconds.
TRAINING_DTYPES = {
    ENTITY_KEY: "int64",
    EVENT_TIMESTAMP: "datetime64[ns, UTC]",
    LABEL: "int64",
    "conv_rate": "float32",
    "acc_rate": "float32",
    "avg_daily_trips": "int32",
    FEATURE_TIMESTAMP: "datetime64[ns, UTC]",
    FEATURE_CREATED: "datetime64[ns, UTC]",
}

TRAINING_COLUMNS = tuple(TRAINING_DTYPES)
