from django.apps import AppConfig


class ScaleConfig(AppConfig):
    """A health-system-sized dataset (seed_scale) and the benchmark of every hot path (bench)."""

    name = "scale"
