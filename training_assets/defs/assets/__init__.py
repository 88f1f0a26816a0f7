"""The training graph's assets, one module per stage."""
