"""Tests of deepgrad.vision and the CNN recipes."""
import pytest


def _have_fashion() -> bool:
    try:
        from deepgrad.data.datasets import fashion_mnist

        fashion_mnist.find_files(download=False)
        return True
    except Exception:
        return False


#: skip a test that trains on the real Fashion-MNIST files when they are not installed
needs_fashion = pytest.mark.skipif(not _have_fashion(), reason="Fashion-MNIST is not installed")
