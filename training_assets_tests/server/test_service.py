"""The prediction service on its own, with an online store and models that answer what the test
says: each answer is scored in shadow by the challenger and the previous champion on the
shadow queue, logged under the answer's prediction id with the model's role, and never
returned; a shadow model that fails costs the other nothing and is counted."""

from types import SimpleNamespace

import numpy as np
from prometheus_client import generate_latest

from training_assets.core.features import online
from training_assets.server.metrics import ServerMetrics
from training_assets.server.models import Served, ServedModel
from training_assets.server.service import PredictionService


class Model:
    """Predicts `value` for every row; `broken` raises instead."""

    def __init__(self, value: float, broken: bool = False):
        self.value, self.broken = value, broken

    def predict_rows(self, rows, positions):
        if self.broken:
            raise ValueError("this model cannot score")
        return np.full(len(positions), self.value)


class Log:
    def __init__(self):
        self.rows = []

    def record(self, predictions):
        self.rows.extend(predictions)


def service(monkeypatch, served: Served, shadow: bool = True) -> PredictionService:
    def read_rows(store, features, keys):
        return online.OnlineRows(list(keys), [True] * len(keys), {"rate": [0.5] * len(keys)})

    monkeypatch.setattr(online, "read_rows", read_rows)
    follower = SimpleNamespace(served=served, model_name="m", alias="champion")
    made = PredictionService(None, "service", follower, Log(), ServerMetrics(), shadow=shadow)
    made.state.problems, made.features = [], object()
    return made


def test_each_answer_is_scored_in_shadow_by_the_previous_champion_under_its_id(monkeypatch):
    served = Served(
        champion=ServedModel("m", 3, Model(3.0)),
        challenger=ServedModel("m", 4, Model(4.0, broken=True)),
        previous=ServedModel("m", 2, Model(2.0)),
    )
    made = service(monkeypatch, served)
    answers = made.predict([1001, 1002], impute=False)
    made.stop()  # the shadow queue drained

    assert [(a["model_version"], a["prediction"]) for a in answers] == [(3, 3.0), (3, 3.0)]
    assert not {"previous", "challenger"} & {key for answer in answers for key in answer}
    by_role = {}
    for row in made.log.rows:
        by_role.setdefault(row.role, {})[row.prediction_id] = row
    assert set(by_role) == {"champion", "previous"}
    ids = [answer["prediction_id"] for answer in answers]
    assert list(by_role["champion"]) == list(by_role["previous"]) == ids
    for prediction_id, row in by_role["previous"].items():
        answered = by_role["champion"][prediction_id]
        assert (row.model_version, row.prediction, row.source) == (2, 2.0, "online")
        assert (row.entity, row.features, row.event_timestamp) == (
            answered.entity,
            answered.features,
            answered.event_timestamp,
        )
    metrics = generate_latest(made.metrics.registry).decode()
    assert 'training_assets_serve_predictions_total{role="previous"} 2.0' in metrics
    assert 'training_assets_serve_shadow_failed_total{role="challenger"} 1.0' in metrics


def test_without_shadow_the_previous_champion_is_not_scored(monkeypatch):
    served = Served(ServedModel("m", 3, Model(3.0)), previous=ServedModel("m", 2, Model(2.0)))
    made = service(monkeypatch, served, shadow=False)
    made.predict([1001], impute=False)
    made.stop()

    assert {row.role for row in made.log.rows} == {"champion"}
