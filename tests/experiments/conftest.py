import pytest


@pytest.fixture(autouse=True)
def _own_store(tmp_path, monkeypatch):
    """Every test here records into its own store, never into the checkout's runs/."""
    monkeypatch.setenv("DEEPGRAD_STORE", str(tmp_path / "default-store" / "runs.sqlite"))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
