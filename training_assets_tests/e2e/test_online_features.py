"""The online_features asset through a real Dagster instance: materialized after the feature
repo is applied, it loads the online store and says what it loaded."""

from dagster import AssetKey, AssetSelection

from training_assets.definitions import defs


def materialize_online(instance):
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={AssetKey("feature_store"), AssetKey("online_features")}
    )
    return job.execute_in_process(instance=instance)


def test_online_features_loads_the_store_once_and_then_reports_it_up_to_date(
    working_area, instance
):
    first = materialize_online(instance)
    second = materialize_online(instance)

    assert first.success and second.success
    views = [
        result.asset_materializations_for_node("online_features")[0].metadata["views"].value
        for result in (first, second)
    ]
    assert [view["how"] for view in views[0]] == ["initial"]
    assert [view["how"] for view in views[1]] == ["up to date"]
    assert views[0][0]["view"] == "driver_stats"
    # Serving is its own group: training_job does not load the online store.
    training = defs.resolve_job_def("training_job")
    assert AssetKey("online_features") not in training.asset_layer.executable_asset_keys
    assert AssetSelection.groups("serving").resolve(defs.resolve_asset_graph()) == {
        AssetKey("online_features"),
        AssetKey("batch_predictions"),
    }


def test_online_features_reloads_a_store_that_lost_its_file(working_area, instance):
    """The registry still says the view was loaded; the store says otherwise, and wins."""
    first = materialize_online(instance)
    (working_area / "feast" / "online_store.db").unlink()
    second = materialize_online(instance)

    assert first.success and second.success
    [materialization] = second.asset_materializations_for_node("online_features")
    [view] = materialization.metadata["views"].value
    assert view["how"] == "reload: store lost its data"
    assert view["start"] is not None
    assert materialization.metadata["reloaded_views"].value == ["driver_stats"]
    passed = [e.passed for e in second.get_asset_check_evaluations()]
    assert passed == [True]
