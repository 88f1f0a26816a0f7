"""Resource fields set by the environment are shown as its variables (defs/resources)."""

import json

import pytest
from dagster import Definitions

from training_assets.defs.automation.jobs import training_job
from training_assets.defs.resources import embedded_defaults

SECRET = "s3cret-password"


def resource_defaults(resource: str = "mlflow_store") -> dict:
    job = Definitions(jobs=[training_job], resources=embedded_defaults()).resolve_job_def(
        "training_job"
    )
    resources = job.run_config_schema.config_type.fields["resources"].config_type
    fields = resources.fields[resource].config_type.fields["config"].config_type.fields
    return {name: field.default_value for name, field in fields.items() if field.default_provided}


mlflow_store_defaults = resource_defaults


def test_the_launchpad_shows_the_variable_a_tracking_uri_comes_from_never_its_value(
    monkeypatch,
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://user:{SECRET}@127.0.0.1:5000")
    monkeypatch.setenv("TRAINING_ASSETS_MLFLOW_UI_URL", "http://mlflow.example:5000")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)

    defaults = mlflow_store_defaults()

    assert defaults["tracking_uri"] == {"env": "MLFLOW_TRACKING_URI"}
    assert defaults["ui_url"] == {"env": "TRAINING_ASSETS_MLFLOW_UI_URL"}
    # Unset: left to the field's own default, since an EnvVar of an unset variable fails a run.
    assert defaults.get("registry_uri") != {"env": "MLFLOW_REGISTRY_URI"}
    assert SECRET not in json.dumps(defaults, default=str)


def test_without_the_variables_the_fields_keep_their_defaults(monkeypatch):
    for variable in ["MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "TRAINING_ASSETS_MLFLOW_UI_URL"]:
        monkeypatch.delenv(variable, raising=False)

    defaults = mlflow_store_defaults()

    assert not any(isinstance(value, dict) and "env" in value for value in defaults.values())


def window_in_a_run() -> int | None:
    """The training window a run's orders_source holds, with the code location's resources."""
    from dagster import asset, materialize

    from training_assets.defs.resources.orders import OrdersSource

    seen = []

    @asset
    def probe(orders_source: OrdersSource) -> None:
        seen.append(orders_source.training_window_days)

    materialize([probe], resources={"orders_source": embedded_defaults()["orders_source"]})
    return seen[0]


def test_the_training_window_comes_from_its_variable_and_reaches_the_run(monkeypatch):
    monkeypatch.setenv("TRAINING_ASSETS_TRAINING_WINDOW_DAYS", "28")
    assert window_in_a_run() == 28
    monkeypatch.delenv("TRAINING_ASSETS_TRAINING_WINDOW_DAYS")
    assert window_in_a_run() is None


def test_the_registry_policy_comes_from_the_environment_and_a_wrong_value_is_named(monkeypatch):
    from training_assets.definitions import build_definitions

    monkeypatch.setenv("TRAINING_ASSETS_PROMOTION", "shadow")
    monkeypatch.setenv("TRAINING_ASSETS_ROLLBACK_ON_LIVE_REGRESSION", "yes")
    registry = build_definitions().resources["model_registry"]
    # What the live sensors hold: their resources come from the code location, not run config.
    assert (registry.promotion, registry.rollback_on_live_regression) == ("shadow", True)

    monkeypatch.setenv("TRAINING_ASSETS_PROMOTION", "sometimes")
    with pytest.raises(ValueError, match="TRAINING_ASSETS_PROMOTION is 'sometimes'"):
        embedded_defaults()
    monkeypatch.setenv("TRAINING_ASSETS_PROMOTION", "manual")
    monkeypatch.setenv("TRAINING_ASSETS_ROLLBACK_ON_LIVE_REGRESSION", "maybe")
    with pytest.raises(ValueError, match="TRAINING_ASSETS_ROLLBACK_ON_LIVE_REGRESSION='maybe'"):
        embedded_defaults()


def test_the_gate_thresholds_come_from_the_deployments_file_and_a_wrong_one_is_named(
    monkeypatch, tmp_path
):
    from training_assets.definitions import build_definitions

    thresholds = tmp_path / "gates.yaml"
    thresholds.write_text("shadow_min_days: 5\nmin_labelled_rows: 300\nrmse_ceiling: 0.45\n")
    monkeypatch.setenv("TRAINING_ASSETS_GATES_FILE", str(thresholds))
    gates = build_definitions().resources["gates"]
    # What the shadow promotion and rollback sensors hold, and every run's defaults.
    assert (gates.shadow_min_days, gates.min_labelled_rows, gates.rmse_ceiling) == (5, 300, 0.45)

    for text, message in (
        ("shadow_min_dayz: 5\n", "shadow_min_dayz is no gate threshold"),
        ("- 5\n", "expected a mapping of thresholds, found list"),
        ("shadow_min_days: 0\n", "shadow_min_days"),
    ):
        thresholds.write_text(text)
        with pytest.raises(ValueError, match=message) as refused:
            embedded_defaults()
        assert str(thresholds) in str(refused.value)
    monkeypatch.setenv("TRAINING_ASSETS_GATES_FILE", str(tmp_path / "missing.yaml"))
    with pytest.raises(ValueError, match="missing.yaml"):
        embedded_defaults()


def test_the_shipped_gates_file_loads_and_holds_the_defaults(monkeypatch):
    import yaml

    from training_assets.core import paths
    from training_assets.core.gates.limits import GateLimits

    shipped = paths.PROJECT_ROOT / "deploy" / "gates.yaml"
    monkeypatch.setenv("TRAINING_ASSETS_GATES_FILE", str(shipped))
    gates = embedded_defaults()["gates"]
    values = yaml.safe_load(shipped.read_text())
    assert values and {name: getattr(gates, name) for name in values} == {
        name: getattr(GateLimits(), name) for name in values
    }
