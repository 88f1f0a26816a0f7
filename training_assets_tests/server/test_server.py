"""`training-assets-serve` as a real process on the embedded defaults (sqlite online store,
MLflow's sqlite store): it answers what `predict_online` answers for the same drivers, logs
every answer under the id it returned, follows `@champion` under load without losing or
mixing a request, scores `@challenger` and the champion the current one replaced in shadow for
the log only, and starts without MLflow, serving once it answers and going on serving when it
goes away."""

import json
import threading
from datetime import UTC, datetime

import pandas as pd
import pytest
import requests

from training_assets.core.features import online
from training_assets.core.monitoring.prediction_log import ParquetSink
from training_assets.core.schema import FEATURE_SERVICE
from training_assets.core.tracking.registry import ROLLBACK_REASON, move_alias
from training_assets_tests.server.conftest import MODEL_NAME, UNKNOWN
from training_assets_tests.server.process import serve

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serving")]
SERVE_ARGS = ("--model-name", MODEL_NAME, "--poll-seconds", "0.3")
ROLES = ("champion", "challenger")


def ready(server) -> bool:
    return server.health().status_code == 200


def expected(world, version: int, drivers: list[int], impute: bool = False) -> pd.DataFrame:
    return online.predict_online(
        world.client,
        world.store(),
        FEATURE_SERVICE,
        f"models:/{MODEL_NAME}/{version}",
        drivers,
        impute,
    )


def answered_by(answers: list[list], version: int) -> int:
    return sum(answer[0]["model_version"] == version for mine in answers for answer in mine)


def logged(world) -> pd.DataFrame:
    sink = ParquetSink(world.working_area / "predictions")
    return sink.read(datetime.now(UTC).date()).to_pandas()


def test_the_server_answers_what_predict_online_answers_and_logs_every_answer(world, tmp_path):
    drivers = [*world.drivers[:3], UNKNOWN]
    with serve(world.working_area, tmp_path, *SERVE_ARGS) as server:
        server.wait_for(lambda: ready(server), "a ready server")
        answered = server.predict(drivers)
        imputed = server.predict([UNKNOWN], impute=True)
        metrics = server.get("/metrics").text
        health = server.get("/health").json()
        # Written within a second of the answer, while the server runs.
        ids = {row["prediction_id"] for row in [*answered.json(), *imputed.json()]}
        server.wait_for(lambda: ids <= set(logged(world)["prediction_id"]), "the logged ids", 10)

    assert answered.status_code == imputed.status_code == 200
    want, want_imputed = expected(world, 1, drivers), expected(world, 1, [UNKNOWN], impute=True)
    rows = answered.json()
    assert [row["driver_id"] for row in rows] == drivers
    assert [row["features_found"] for row in rows] == want["features_found"].tolist()
    assert [row["prediction"] for row in rows[:3]] == pytest.approx(want["prediction"][:3].tolist())
    assert rows[3]["prediction"] is None
    assert imputed.json()[0]["prediction"] == pytest.approx(want_imputed["prediction"][0])
    for row, (_, wanted) in zip(rows, want.iterrows(), strict=True):
        for name, value in row["features"].items():
            assert value == (None if pd.isna(wanted[name]) else pytest.approx(wanted[name]))
    assert {(row["model_name"], row["model_version"]) for row in rows} == {(MODEL_NAME, 1)}
    assert len(ids) == 5
    # The trained pipeline is scored compiled (core/ml/compiled.py), not through pyfunc.
    assert health["scorer"] == "onnxruntime"
    assert 'training_assets_serve_requests_total{status="200"} 2.0' in metrics
    assert 'training_assets_serve_model_version{model_name="served-model",role="champion"} 1.0' in (
        metrics
    )
    log = logged(world).set_index("prediction_id")
    assert set(log.index) == ids
    assert set(log["source"]) == {"online"} and set(log["role"]) == {"champion"}
    by_id = {row["prediction_id"]: row for row in [*rows, *imputed.json()]}
    for prediction_id, row in by_id.items():
        entry = log.loc[prediction_id]
        assert entry["driver_id"] == row["driver_id"]
        assert entry["model_version"] == 1
        assert (
            json.loads(entry["features"]) == pytest.approx(row["features"])
            or not row["features_found"]
        )
        assert (pd.isna(entry["prediction"]) and row["prediction"] is None) or entry[
            "prediction"
        ] == pytest.approx(row["prediction"])


def test_an_alias_move_under_load_loses_no_request_and_mixes_no_versions(world, tmp_path):
    """Four clients keep asking while @champion moves from 1 to 2 (the challenger, already
    held) and is rolled back to 1 (loaded again beside 2); @challenger (2) is scored in
    shadow while it differs from the champion, for the log only."""
    drivers = world.drivers[:5]
    want = {v: expected(world, v, drivers)["prediction"].tolist() for v in (1, 2)}
    assert want[1] != pytest.approx(want[2])
    world.move("challenger", 2)
    with serve(world.working_area, tmp_path, *SERVE_ARGS) as server:
        server.wait_for(
            lambda: server.health().json()["challenger_version"] == 2 and ready(server),
            "the champion and the challenger loaded",
        )
        answers: list[list] = [[] for _ in range(4)]
        failures = []
        stop = threading.Event()

        def ask(mine: list) -> None:
            session = requests.Session()
            while not stop.is_set():
                response = session.post(
                    f"{server.url}/predict", json={"driver_ids": drivers}, timeout=30
                )
                (mine if response.status_code == 200 else failures).append(response.json())

        clients = [threading.Thread(target=ask, args=(mine,)) for mine in answers]
        for client in clients:
            client.start()
        try:
            server.wait_for(lambda: sum(map(len, answers)) >= 40, "answers before the move")
            world.move("champion", 2)
            server.wait_for(lambda: answered_by(answers, 2) >= 40, "answers by version 2")
            before_rollback = answered_by(answers, 1)
            world.move("champion", 1)
            server.wait_for(
                lambda: answered_by(answers, 1) >= before_rollback + 40, "answers after rollback"
            )
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=60)
        metrics = server.get("/metrics").text
        rows = [row for mine in answers for answer in mine for row in answer]
        ids = {row["prediction_id"] for row in rows}
        by_1 = {row["prediction_id"] for row in rows if row["model_version"] == 1}

        def all_logged() -> bool:
            # The shadow scores are made on a queue of their own and may be logged later.
            log = logged(world)
            roles = {role: set(log[log["role"] == role]["prediction_id"]) for role in ROLES}
            return ids <= roles["champion"] and by_1 <= roles["challenger"]

        server.wait_for(all_logged, "the logged ids and their shadow scores", 30)

    assert failures == []
    for mine in answers:
        versions = [{row["model_version"] for row in answer} for answer in mine]
        # One version per answer, and each client saw 1, then 2, then 1 again, never back.
        assert all(len(seen) == 1 for seen in versions)
        order = [seen.pop() for seen in versions]
        moves = tuple(v for i, v in enumerate(order) if i == 0 or order[i - 1] != v)
        assert moves in {(1,), (1, 2), (1, 2, 1)}
        for answer, version in zip(mine, order, strict=True):
            assert [row["prediction"] for row in answer] == pytest.approx(want[version])
    assert 'training_assets_serve_model_version{model_name="served-model",role="champion"} 1.0' in (
        metrics
    )
    assert "training_assets_serve_model_swaps_total 3.0" in metrics
    assert "training_assets_serve_shadow_skipped_total 0.0" in metrics
    log = logged(world)
    champion_rows = log[log["role"] == "champion"].set_index("prediction_id")
    shadow = log[log["role"] == "challenger"].set_index("prediction_id")
    assert set(champion_rows.index) == ids
    answered_by_1 = champion_rows[champion_rows["model_version"] == 1]
    # Every answer of version 1 has its shadow row by version 2; none of version 2 has one.
    assert set(shadow.index) == set(answered_by_1.index)
    assert set(shadow["model_version"]) == {2}
    for prediction_id, row in shadow.iterrows():
        assert row["prediction"] == pytest.approx(want[2][drivers.index(row["driver_id"])])
        assert champion_rows.loc[prediction_id, "driver_id"] == row["driver_id"]


def test_a_sigterm_stops_the_server_after_its_shadow_scores_and_log_are_written(world, tmp_path):
    """Nothing is written while it runs (a flush a minute): what the log holds at the end was
    written on the way out, after uvicorn stopped on the SIGTERM."""
    world.move("challenger", 2)
    args = (*SERVE_ARGS, "--log-flush-seconds", "60")
    with serve(world.working_area, tmp_path, *args) as server:
        server.wait_for(
            lambda: ready(server) and server.health().json()["challenger_version"] == 2,
            "the champion and the challenger loaded",
        )
        answers = [server.predict(world.drivers[:3]).json() for _ in range(2)]
        code = server.stop()

    ids = {row["prediction_id"] for answer in answers for row in answer}
    log = logged(world)
    assert code == 0
    for role in ("champion", "challenger"):
        assert set(log[log["role"] == role]["prediction_id"]) == ids


def served(server, champion: int, previous: int | None) -> bool:
    health = server.health().json()
    return (health["model_version"], health["previous_version"]) == (champion, previous)


def test_after_a_promotion_the_old_champion_is_scored_in_shadow_until_a_rollback(world, tmp_path):
    """@champion promoted from 1 to 2 (as `registry.promote` records it): each answer of 2 is
    logged with a `previous` row by 1 under its prediction id, and answers only 2's
    prediction; rolled back to 1, nothing is scored as previous (a rollback is not judged
    again)."""
    drivers = world.drivers[:5]
    want = {v: expected(world, v, drivers)["prediction"].tolist() for v in (1, 2)}
    with serve(world.working_area, tmp_path, *SERVE_ARGS) as server:
        server.wait_for(lambda: ready(server) and served(server, 1, None), "version 1 alone")
        before = server.predict(drivers).json()
        move_alias(world.client, MODEL_NAME, "champion", 2, "test", "promoted")
        server.wait_for(lambda: served(server, 2, 1), "version 2 with version 1 as previous")
        promoted = [server.predict(drivers).json() for _ in range(3)]
        scored = 'training_assets_serve_predictions_total{role="previous"} 15.0'
        server.wait_for(lambda: scored in server.get("/metrics").text, "the shadow scores")
        metrics = server.get("/metrics").text
        reason = f"{ROLLBACK_REASON} 2: worse live"
        move_alias(world.client, MODEL_NAME, "champion", 1, "test", reason, record_previous=False)
        server.wait_for(lambda: served(server, 1, None), "version 1 back, with no previous")
        after = server.predict(drivers).json()
        metrics_after = server.get("/metrics").text
    # Stopped: the shadow queue was drained and the log written.

    assert set(before[0]) == set(promoted[0][0]) == set(after[0])
    for answer in promoted:
        assert [row["model_version"] for row in answer] == [2] * len(drivers)
        assert [row["prediction"] for row in answer] == pytest.approx(want[2])
    gauge = 'training_assets_serve_model_version{model_name="served-model",role="%s"}'
    assert f"{gauge % 'champion'} 2.0" in metrics and f"{gauge % 'previous'} 1.0" in metrics
    assert f"{gauge % 'champion'} 1.0" in metrics_after and gauge % "previous" not in metrics_after
    assert scored in metrics_after and "training_assets_serve_shadow_skipped_total 0.0" in metrics
    log = logged(world)
    answers = [before, *promoted, after]
    answered = {row["prediction_id"]: row for answer in answers for row in answer}
    champion_rows = log[log["role"] == "champion"].set_index("prediction_id")
    previous = log[log["role"] == "previous"].set_index("prediction_id")
    assert set(champion_rows.index) == set(answered)
    assert set(previous.index) == {row["prediction_id"] for answer in promoted for row in answer}
    assert set(previous["model_version"]) == {1} and set(log["role"]) == {"champion", "previous"}
    for prediction_id, row in previous.iterrows():
        assert row["driver_id"] == answered[prediction_id]["driver_id"]
        assert row["prediction"] == pytest.approx(want[1][drivers.index(row["driver_id"])])
        assert row["features"] == champion_rows.loc[prediction_id, "features"]
        assert champion_rows.loc[prediction_id, "model_version"] == 2


def test_no_shadow_loads_and_scores_no_previous_champion(world, tmp_path):
    move_alias(world.client, MODEL_NAME, "champion", 2, "test", "promoted")
    with serve(world.working_area, tmp_path, *SERVE_ARGS, "--no-shadow") as server:
        server.wait_for(lambda: ready(server), "a ready server")
        health = server.health().json()
        answer = server.predict(world.drivers[:3]).json()
        metrics = server.get("/metrics").text

    assert (health["model_version"], health["previous_version"]) == (2, None)
    assert 'role="previous"' not in metrics
    log = logged(world)
    assert set(log["role"]) == {"champion"}
    assert set(log["prediction_id"]) == {row["prediction_id"] for row in answer}
