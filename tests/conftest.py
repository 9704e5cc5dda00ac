import os

from hypothesis import HealthCheck, settings

# A CI profile keeps property-based tests quick on 2 cores; set HYPOTHESIS_PROFILE=thorough for more examples.
settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _run_store_outside_the_checkout(tmp_path_factory):
    """Recipe runs in tests record into a temporary run store, never into the checkout's runs/runs.sqlite."""
    before = os.environ.get("DEEPGRAD_STORE")
    if not before:
        os.environ["DEEPGRAD_STORE"] = str(tmp_path_factory.mktemp("run-store") / "runs.sqlite")
    yield
    if not before:
        os.environ.pop("DEEPGRAD_STORE", None)
