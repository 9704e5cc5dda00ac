"""Hyperparameter search over a recipe's declared search space, with Optuna (optional extra ``tune``).

    deepgrad tune RECIPE --trials N [--sampler random|tpe] [--coarse-to-fine] [--epochs E] [--quick]
                  [--storage URL] [--out DIR] [--seed S] [--dask tcp://HOST:PORT | --workers N]

A recipe declares ``SEARCH_SPACE`` (parameter -> ``{"low", "high", "log", "int"}``) and
``search_config(params)`` (a point of the space -> configuration overrides of its
``DEFAULTS``). Every trial is a normal recipe run (``deepgrad run RECIPE`` with those
overrides), recorded in the run store. With ``--dask``/``--workers`` the trials run on Dask
workers sharing the study in PostgreSQL (:func:`run_distributed`, optional extra ``dist``).
See docs/tune.md.
"""
from .distributed import run_distributed
from .space import narrow, sample
from .study import TrialPruning, run_study

__all__ = ["narrow", "sample", "run_study", "run_distributed", "TrialPruning"]
