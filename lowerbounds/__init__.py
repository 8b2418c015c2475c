"""lowerbounds — bounds, thresholds, sweeps and the figures (the science layer)."""

__all__: list[str] = []
