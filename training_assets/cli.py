"""`training-assets-predict`: score drivers with the champion on their online features, as a
serving endpoint would (`python -m training_assets.cli` does the same).

    training-assets-predict 1001 1002
    training-assets-predict --model-uri models:/sklearn-elastic-net-reg/3 1001

Prints one JSON object per driver: its features as the online store holds them, whether the
store knew it (`features_found`), and the prediction; a driver the store does not know gets
no prediction (null) unless --impute asks the model to fill its features. A registered model's
answers carry its name, version and a `prediction_id` under which each is written to the
prediction log, as the server's are (TRAINING_ASSETS_PREDICTION_LOG_URL, else parquet under
<working area>/predictions); a model named by --model-uri or another --alias is scored and
not logged, since the log's figures are the champion's.
Refuses (exit 2), saying to materialize online_features, when the online store was never
loaded for the service's views, lost its data since, or was last loaded longer ago than a
view's TTL.

Reads the environment the pipeline reads: the feature repo (TRAINING_ASSETS_FEATURE_REPO,
FEAST_FS_YAML_FILE_PATH for the production profile), MLFLOW_TRACKING_URI and the working area;
the resources' defaults for the rest, and run config set for the pipeline does not reach it
(name the model with --model-name or --model-uri). Load the online store first with the
online_features asset: `feast materialize` loads the features but not the record of the load
that this command checks.
"""

import argparse
import sys

from training_assets.core.schema import FEATURE_SERVICE


def predict(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="training-assets-predict", description=__doc__)
    parser.add_argument("driver_ids", nargs="+", type=int, help="drivers to score")
    parser.add_argument("--model-uri", help="the model; default models:/<model name>@<alias>")
    parser.add_argument("--model-name", default=None, help="registered model name")
    parser.add_argument("--alias", default=None, help="alias to score with (default champion)")
    parser.add_argument("--feature-service", default=FEATURE_SERVICE)
    parser.add_argument(
        "--impute",
        action="store_true",
        help="score drivers the online store does not know on the model's imputed features",
    )
    args = parser.parse_args(argv)

    from mlflow.exceptions import MlflowException

    from training_assets.core.features import online
    from training_assets.core.tracking.registry import DEFAULT_ALIAS, registered_version
    from training_assets.defs.resources.feast import FeastResource
    from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry

    client = MlflowStore().configure_client()
    names = {"model_name": args.model_name, "alias": args.alias}
    registry = ModelRegistry(**{key: value for key, value in names.items() if value})
    model_uri = args.model_uri or registry.champion_uri()
    try:
        # The version the alias names now, scored and logged as that version even if the
        # alias moves meanwhile.
        version = registered_version(client, model_uri)
        scored_uri = f"models:/{version[0]}/{version[1]}" if version else model_uri
        store = FeastResource().store()
        frame = online.predict_online(
            client, store, args.feature_service, scored_uri, args.driver_ids, impute=args.impute
        )
    except online.OnlineStoreNotReady as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    except MlflowException as error:
        print(f"cannot load {model_uri}: {error.message}", file=sys.stderr)
        return 2
    except Exception as error:  # Feast's errors have no common base; say which and stop
        print(
            f"cannot read the online features of {args.feature_service!r}: "
            f"{type(error).__name__}: {error}",
            file=sys.stderr,
        )
        return 2
    frame["model_uri"] = model_uri
    # Logged as the champion's answers only when the champion answered: another alias's or
    # URI's answers would join the champion's live figures under its role.
    if version is not None and args.model_uri is None and registry.alias == DEFAULT_ALIAS:
        _log_answers(frame, *version)
    print(frame.to_json(orient="records", lines=True), end="")
    return 0


def _log_answers(frame, model_name: str, model_version: int) -> None:
    """Name the answers (`model_name`, `model_version`, `prediction_id`) and write them to the
    prediction log before they are printed; a log that cannot be written is reported on
    stderr, and the answers are printed all the same."""
    from training_assets.core.features.online import FEATURES_FOUND
    from training_assets.core.monitoring import prediction_log as plog
    from training_assets.core.monitoring.sinks import prediction_sink
    from training_assets.core.schema import ENTITY_KEY

    features = [c for c in frame.columns if c not in (ENTITY_KEY, FEATURES_FOUND, "prediction")]
    features.remove("model_uri")
    frame["model_name"], frame["model_version"] = model_name, model_version
    frame["prediction_id"] = [plog.new_prediction_id() for _ in range(len(frame))]
    now = plog.scored_now()
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    try:
        log = plog.PredictionLog(
            prediction_sink(), writer=f"predict-{plog.new_prediction_id()[:8]}"
        )
        log.record(
            [
                plog.Prediction(
                    prediction_id=row["prediction_id"],
                    source=plog.ONLINE,
                    role=plog.CHAMPION,
                    entity=int(row[ENTITY_KEY]),
                    event_timestamp=now,
                    model_name=model_name,
                    model_version=model_version,
                    features={name: row[name] for name in features},
                    features_found=bool(row[FEATURES_FOUND]),
                    prediction=row["prediction"],
                    scored_at=now,
                )
                for row in records
            ]
        )
        log.close()
    except Exception as error:  # the answers stand; say what was not recorded
        print(
            f"prediction log: {len(records)} answer(s) not written: {type(error).__name__}: "
            f"{error}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    sys.exit(predict())
