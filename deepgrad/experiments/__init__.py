"""Structuring ML projects (course 3): the run store, choosing a run, diagnosing it.

* :class:`RunStore` - every run in one SQLite file (safe with many writers);
  :class:`RunTracker` - a ``Trainer`` callback that records a ``fit`` in it.
* :func:`best_run` - one optimizing metric under satisficing constraints.
* :func:`diagnose` - avoidable bias, variance, data mismatch, overfitting to dev.
* :func:`analyze_errors`, :func:`tag_report` - error analysis and the tagging spreadsheet.
* :func:`learning_curve` - train and dev error against the training-set size.
"""
from .curves import LearningCurve, learning_curve
from .diagnose import Diagnosis, diagnose, errors_from_metrics
from .errors import analyze_errors, tag_report
from .select import Constraint, Selection, best_run
from .store import RunNotFound, RunStore, RunStoreError, run_value, store_path
from .tracker import RunTracker, count_parameters, measure_predict_ms

__all__ = ["RunStore", "RunStoreError", "RunNotFound", "RunTracker", "store_path", "run_value", "count_parameters",
           "measure_predict_ms", "best_run", "Constraint", "Selection", "diagnose", "Diagnosis", "errors_from_metrics",
           "analyze_errors", "tag_report", "learning_curve", "LearningCurve"]
