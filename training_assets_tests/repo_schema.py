"""The training schema of the project's own feature repo, for tests that need the features as
the repo declares them without applying it to a registry."""

import functools

from training_assets.core import paths
from training_assets.core.features import feast_repo
from training_assets.core.schema import FEATURE_SERVICE, TrainingSchema


@functools.cache
def repo_schema() -> TrainingSchema:
    """The schema of the repo's default feature service, read from `feature_repo/`."""
    services = feast_repo.load_repo(paths.FEATURE_REPO).feature_services
    (service,) = [service for service in services if service.name == FEATURE_SERVICE]
    return feast_repo.training_schema(service)
