"""The online serving endpoint, `training-assets-serve`: the champion behind HTTP, on Feast's
online features, following `@champion` as it moves and logging every answer.

FastAPI on uvicorn, not BentoML: both are already installed (Feast's and MLflow's own
dependencies), Feast's feature server is built on them, and the model stays MLflow's pyfunc
as the registry holds it, with no second packaging of it into a bento.

No Dagster here (lint-imports enforces it): the server's process imports Feast, MLflow and
the core package only.
"""
