"""Numerical checks: gradient checking for any op, function or model."""
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly  # noqa: F401
from .gradcheck import (  # noqa: F401
    GradcheckReport,
    InputReport,
    ModelGradcheckReport,
    check_model_gradients,
    gradcheck,
    gradcheck_model,
)

_LAZY = {"inspect": "health", "HealthReport": "health", "HealthMonitor": "health", "layer_stats": "health",
         "plot_health_history": "health"}


def __getattr__(name):  # the diagnostics import matplotlib and the trainer: load them on first use
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
