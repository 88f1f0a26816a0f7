"""Unit tests for the file fingerprints in training_assets.core.data.fingerprints."""

from pathlib import Path

import numpy as np
import pandas as pd

from training_assets.core.data.fingerprints import (
    combined_digest,
    content_digest,
    signatures,
)
from training_assets.core.data.orders import order_files
from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP, LABEL


def orders(driver_ids, start="2025-12-01 00:00") -> pd.DataFrame:
    n = len(driver_ids)
    return pd.DataFrame(
        {
            EVENT_TIMESTAMP: pd.date_range(start, periods=n, freq="min", tz="UTC"),
            ENTITY_KEY: np.asarray(driver_ids, dtype=np.int64),
            LABEL: np.asarray([i % 2 for i in range(n)], dtype=np.int64),
        }
    )


def write(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


# --- signatures / combined_digest ----------------------------------------------------------


def test_signatures_change_with_size_and_digest_with_any_part(tmp_path):
    path = tmp_path / "a.parquet"
    path.write_bytes(b"abc")
    before = signatures([path])
    path.write_bytes(b"abcd")

    assert signatures([path])[str(path)][0] == 4
    assert signatures([path]) != before
    assert combined_digest("a", "b") != combined_digest("a", "c")
    assert combined_digest("a", "b") == combined_digest("a", "b")


# --- content_digest ------------------------------------------------------------------------


def test_content_digest_is_stable_for_unchanged_files(tmp_path):
    path = write(orders([1001, 1002]), tmp_path / "orders.parquet")

    first = content_digest([path])
    second = content_digest([path])

    assert first == second
    assert len(first) == 64 and int(first, 16) >= 0


def test_content_digest_changes_when_bytes_change(tmp_path):
    path = write(orders([1001, 1002]), tmp_path / "orders.parquet")
    before = content_digest([path])

    write(orders([1001, 1003]), path)

    assert content_digest([path]) != before


def test_content_digest_changes_when_file_is_renamed(tmp_path):
    path = write(orders([1001, 1002]), tmp_path / "a.parquet")
    before = content_digest([path])

    renamed = path.rename(tmp_path / "b.parquet")

    assert content_digest([renamed]) != before


def test_content_digest_over_folder_tracks_each_file(tmp_path):
    write(orders([1001]), tmp_path / "a.parquet")
    b = write(orders([2001]), tmp_path / "b.parquet")
    before = content_digest(order_files(tmp_path))
    assert content_digest(order_files(tmp_path)) == before

    write(orders([2002]), b)

    assert content_digest(order_files(tmp_path)) != before
