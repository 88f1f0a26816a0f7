"""The days' live quality as the sensors and the report read it: each day's latest judgement,
however many times the days were judged again."""

from dagster import AssetMaterialization

from training_assets.defs import live_records
from training_assets.defs.live_records import LIVE_MODEL_QUALITY, latest_by_day


def judged(instance, day: str, rmse: float) -> None:
    instance.report_runless_asset_event(
        AssetMaterialization(
            asset_key=LIVE_MODEL_QUALITY, partition=day, metadata={"champion.rmse": rmse}
        )
    )


def test_each_days_latest_judgement_is_found_behind_its_rejudgements(instance, monkeypatch):
    # Two days asked for: the older day's judgement lies behind five of the newer day's.
    monkeypatch.setattr(live_records, "SEARCHED_DAYS", 2)
    judged(instance, "2025-12-27", 0.40)
    for rmse in (0.41, 0.42, 0.43, 0.44, 0.45):  # the newer day judged again as labels arrive
        judged(instance, "2025-12-28", rmse)

    days = latest_by_day(instance)

    assert sorted(days) == ["2025-12-27", "2025-12-28"]
    assert days["2025-12-28"]["champion.rmse"] == 0.45
    assert days["2025-12-27"]["champion.rmse"] == 0.40


def test_the_search_stops_at_the_days_it_was_asked_for(instance, monkeypatch):
    monkeypatch.setattr(live_records, "SEARCHED_DAYS", 2)
    for day in ("2025-12-26", "2025-12-27", "2025-12-28"):
        judged(instance, day, 0.4)

    assert sorted(latest_by_day(instance)) == ["2025-12-27", "2025-12-28"]
