"""The code location, as a file the GraphQL tests load in a code server of its own."""

from training_assets.definitions import defs  # noqa: F401
