"""Numerical checks: gradient checking for any op, function or model."""
from .gradcheck import (  # noqa: F401
    GradcheckReport, InputReport, ModelGradcheckReport, check_model_gradients, gradcheck, gradcheck_model,
)
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly  # noqa: F401
