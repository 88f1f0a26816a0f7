"""The training table's columns, declared once: keys, features, label and their dtypes.

Every other module (the Feast join, the gates, the split, the model) takes its column names
from here, so a renamed feature is a one-line change and a mismatch is caught by the gates.
"""

ENTITY_KEY = "driver_id"
EVENT_TIMESTAMP = "event_timestamp"
LABEL = "trip_completed"

# Feature columns as the model sees them, in model input order.
FEATURES = ("conv_rate", "acc_rate", "avg_daily_trips")

# The FeatureService in feature_repo/ that names exactly FEATURES.
FEATURE_SERVICE = "driver_activity_model"

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
}

TRAINING_COLUMNS = tuple(TRAINING_DTYPES)
