"""Named points at which tests kill the process, to prove that a crash there heals.

Set `TRAINING_ASSETS_KILL_AT` to a point's name and the process SIGKILLs itself when it gets
there. Unset, as everywhere but in those tests, `point` costs one dictionary lookup.
"""

import os
import signal

from training_assets.core import settings

KILL_AT_ENV = settings.KILL_AT_ENV

# Between mlflow.register_model and moving the alias: a version exists with no alias.
AFTER_REGISTER = "after_register"
# In trained_model, after the MLflow run started and before the model is logged.
TRAINING = "training"


def point(name: str) -> None:
    """Die here if a test asked for it."""
    if settings.kill_at() == name:
        os.kill(os.getpid(), signal.SIGKILL)
