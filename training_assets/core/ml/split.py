"""The train/test split of the training table: by a seeded shuffle or by time."""

from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.model_selection import train_test_split

from training_assets.core.schema import EVENT_TIMESTAMP, LABEL


class SplitSettings(BaseModel):
    """How the training table is split into train and test rows."""

    test_size: float = Field(default=0.2, gt=0, lt=1, description="Share of rows held out.")
    random_seed: int = Field(default=17, description="Seed of the shuffle before the split.")
    strategy: Literal["random", "time"] = Field(
        default="random",
        description="'random': seeded shuffle. 'time': train on the earliest orders, test on "
        "the latest test_size share.",
    )


class Split(NamedTuple):
    train_x: pd.DataFrame
    train_y: pd.Series
    test_x: pd.DataFrame
    test_y: pd.Series
    # The test rows' other columns (keys, feature timestamp), for slicing the evaluation.
    test_keys: pd.DataFrame


def split_frame(
    frame: pd.DataFrame,
    features: tuple[str, ...],
    test_size: float,
    random_seed: int,
    strategy: str = "random",
) -> Split:
    """A train/test split with only the feature columns in X, in the order of `features`.

    Args:
        frame: The training table.
        features: The model's inputs: the columns of X.
        test_size: Share of rows held out for the test split, in (0, 1).
        random_seed: Seed of the shuffle for the random strategy.
        strategy: "random" shuffles with the seed; "time" trains on the earliest orders and tests
            on the latest `test_size` share, as a model is used on orders after its training.

    Raises:
        ValueError: on a bad `test_size` or `strategy`, or if the splits would share a row.
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), found {test_size}")
    # Row positions are split, and each output gathers only its own columns: no copy of the
    # whole table on the way. The positions are those train_test_split gives the frame.
    count = len(frame)
    if strategy == "random":
        train_rows, test_rows = train_test_split(
            np.arange(count), test_size=test_size, random_state=random_seed
        )
    elif strategy == "time":
        order = np.argsort(frame[EVENT_TIMESTAMP].to_numpy(), kind="stable")
        cut = count - int(np.ceil(count * test_size))
        train_rows, test_rows = order[:cut], order[cut:]
    else:
        raise ValueError(f"strategy must be 'random' or 'time', found {strategy!r}")
    in_test = np.zeros(count, dtype=bool)
    in_test[test_rows] = True
    shared = int(in_test[train_rows].sum())
    if shared:
        raise ValueError(f"train and test splits share {shared} rows")
    others = [column for column in frame.columns if column not in (*features, LABEL)]
    train_index, test_index = frame.index.take(train_rows), frame.index.take(test_rows)
    return Split(
        train_x=model_inputs(_rows(frame, list(features), train_rows, train_index)),
        train_y=_column(frame, LABEL, train_rows, train_index),
        test_x=model_inputs(_rows(frame, list(features), test_rows, test_index)),
        test_y=_column(frame, LABEL, test_rows, test_index),
        test_keys=_rows(frame, others, test_rows, test_index),
    )


def model_inputs(features: pd.DataFrame) -> pd.DataFrame:
    """Model inputs with integer features as float64, as a table with missing values holds them.

    The model's signature then does not depend on whether some order lacked features: an
    integer column is int32 when every order has stats and float64 when one has none.
    """
    integers = [c for c in features.columns if pd.api.types.is_integer_dtype(features[c])]
    return features.astype({column: "float64" for column in integers}) if integers else features


def _rows(frame: pd.DataFrame, columns: list[str], rows: np.ndarray, index: pd.Index):
    """`columns` of `frame` at row positions `rows`, labelled with `index`, dtypes kept."""
    return pd.DataFrame({column: frame[column].array.take(rows) for column in columns}, index=index)


def _column(frame: pd.DataFrame, column: str, rows: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(frame[column].array.take(rows), index=index, name=column)
