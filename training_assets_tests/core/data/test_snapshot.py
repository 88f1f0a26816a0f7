"""The data snapshot checks of training_assets.core.data.snapshot."""

import os

import pytest

from training_assets.core.data.snapshot import (
    SnapshotChanged,
    file_states,
    verify_requested,
    verify_unchanged,
)


def test_a_pinned_version_that_differs_is_named_with_both_versions():
    with pytest.raises(
        SnapshotChanged, match=r"orders: requested aaaaaaaaaaaa, found bbbbbbbbbbbb"
    ):
        verify_requested(
            {"orders": "a" * 64, "stats": "c" * 64}, {"orders": "b" * 64, "stats": "c" * 64}
        )


def test_unpinned_versions_are_not_checked():
    verify_requested({"orders": "", "stats": "c"}, {"orders": "b", "stats": "c"})


def test_a_file_written_while_it_is_read_is_named(tmp_path):
    kept, rewritten = tmp_path / "kept.csv", tmp_path / "rewritten.csv"
    kept.write_text("a\n1\n")
    rewritten.write_text("a\n1\n")
    states = file_states([kept, rewritten])
    verify_unchanged(states, [kept, rewritten])

    rewritten.write_text("a\n1\n2\n")
    os.utime(rewritten, ns=(1, 1))

    with pytest.raises(SnapshotChanged, match="rewritten.csv"):
        verify_unchanged(states, [kept, rewritten])


def test_a_file_that_appears_or_goes_away_is_named(tmp_path):
    first = tmp_path / "first.parquet"
    first.write_bytes(b"x")
    states = file_states([first])
    second = tmp_path / "second.parquet"
    second.write_bytes(b"y")

    with pytest.raises(SnapshotChanged, match="second.parquet"):
        verify_unchanged(states, [first, second])
    first.unlink()
    with pytest.raises(SnapshotChanged, match="first.parquet"):
        verify_unchanged(states, [first])
