"""What a run ran, in words: a job by its name, a launch from the asset graph by its assets."""

from dagster import AssetKey

from training_assets.defs.tags import what_ran


def test_a_named_job_is_its_name():
    assert what_ran("training_job", [AssetKey("trained_model")]) == "training_job"


def test_a_launch_from_the_asset_graph_is_named_by_its_assets():
    keys = [AssetKey(name) for name in ("trained_model", "evaluation")]
    assert what_ran("__ASSET_JOB", keys) == "materialize evaluation, trained_model"


def test_many_assets_are_counted_not_listed():
    keys = [AssetKey(f"asset_{i}") for i in range(7)]
    label = what_ran("__ASSET_JOB_0", keys)
    assert label.startswith("materialize asset_0, asset_1, asset_2, asset_3")
    assert label.endswith("and 3 more")
    assert "__" not in label
