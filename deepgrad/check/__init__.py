"""Numerical checks: gradient checking for any op, function or model."""
from .gradcheck import GradcheckReport, InputReport, gradcheck, gradcheck_model  # noqa: F401
