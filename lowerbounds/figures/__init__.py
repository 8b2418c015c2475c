"""The main job: the figures of docs/figures.md, each a small recipe (cells -> table -> figure)."""

from .job import RECIPES, FiguresReport, figures, render
from .presets import PRESETS, Preset

__all__ = ["figures", "render", "RECIPES", "FiguresReport", "PRESETS", "Preset"]
