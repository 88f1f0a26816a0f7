"""One logged prediction as a test writes it: an online champion's answer unless told."""

from datetime import UTC, datetime

from training_assets.core.monitoring.prediction_log import (
    CHAMPION,
    ONLINE,
    Prediction,
    new_prediction_id,
)


def a_prediction(
    driver: int,
    when: str,
    value: float | None = 0.5,
    *,
    role: str = CHAMPION,
    version: int = 1,
    scored_at: datetime | None = None,
    features: dict | None = None,
) -> Prediction:
    """A prediction for `driver` at the ISO time `when`; `value=None` is a request whose
    features were not found, which has no prediction."""
    return Prediction(
        prediction_id=new_prediction_id(),
        source=ONLINE,
        role=role,
        entity=driver,
        event_timestamp=datetime.fromisoformat(when),
        model_name="m",
        model_version=version,
        features={"conv_rate": 0.5} if features is None else features,
        features_found=value is not None,
        prediction=value,
        scored_at=scored_at or datetime.now(UTC),
    )
