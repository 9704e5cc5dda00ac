"""IDX reading on small files in the real format, written here by hand, and the loader's search/download/error paths."""
import gzip
import hashlib
import os
import struct

import numpy as np
import pytest

from deepgrad.data.datasets import fashion_mnist as fm
from deepgrad.data.datasets import load_fashion_mnist, read_idx, write_idx


def _idx_bytes(arr: np.ndarray) -> bytes:
    # The format by hand: 0x0000, type 0x08 (ubyte), ndim, big-endian u32 sizes, data.
    assert arr.dtype == np.uint8
    return struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def _write_fake_set(d, n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        img_name, lab_name = fm.FILES[split]
        with open(os.path.join(d, img_name), "wb") as f:
            f.write(gzip.compress(_idx_bytes(imgs)))
        with open(os.path.join(d, lab_name), "wb") as f:
            f.write(gzip.compress(_idx_bytes(labels)))
        out[split] = (imgs, labels)
    return out


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No real data reachable: empty env dir, empty cache, a system dir that does not exist."""
    monkeypatch.setenv("DEEPGRAD_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(fm, "SYSTEM_DIR", str(tmp_path / "system"))
    return tmp_path


def test_read_idx_gzip_and_raw(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.gz").write_bytes(gzip.compress(_idx_bytes(arr)))
    (tmp_path / "a").write_bytes(_idx_bytes(arr))
    for name in ("a.gz", "a"):
        got = read_idx(tmp_path / name)
        assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
        np.testing.assert_array_equal(got, arr)


def test_write_idx_roundtrip_other_dtypes(tmp_path):
    for arr in (np.arange(6, dtype=np.int32).reshape(2, 3) - 3, np.linspace(0, 1, 5, dtype=np.float32)):
        write_idx(tmp_path / "x.gz", arr)
        got = read_idx(tmp_path / "x.gz")
        assert got.dtype == arr.dtype
        np.testing.assert_array_equal(got, arr)


def test_read_idx_rejects_bad_files(tmp_path):
    arr = np.zeros((3, 4), np.uint8)
    (tmp_path / "trunc").write_bytes(_idx_bytes(arr)[:-2])
    with pytest.raises(ValueError, match="size mismatch"):
        read_idx(tmp_path / "trunc")
    (tmp_path / "magic").write_bytes(b"\x01\x02" + _idx_bytes(arr)[2:])
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "magic")
    (tmp_path / "badgz.gz").write_bytes(gzip.compress(_idx_bytes(arr))[:-8])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(tmp_path / "badgz.gz")


def test_loader_reads_from_root_and_normalizes(isolated, tmp_path):
    d = tmp_path / "root"
    d.mkdir()
    data = _write_fake_set(d)
    X, y = load_fashion_mnist("train", root=d, download=False)
    assert X.shape == (12, 1, 28, 28) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(X[:, 0], data["train"][0] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, data["train"][1])
    Xf, yt = load_fashion_mnist("test", root=d, download=False, flatten=True, normalize=False)
    assert Xf.shape == (5, 784) and Xf.dtype == np.uint8
    np.testing.assert_array_equal(Xf, data["test"][0].reshape(5, -1))


def test_search_order_env_before_cache(isolated):
    env = isolated / "env" / "fashion-mnist"
    cache = isolated / "cache" / "deepgrad" / "fashion-mnist"
    env.mkdir(parents=True)
    cache.mkdir(parents=True)
    _write_fake_set(env, n_train=7, seed=1)
    _write_fake_set(cache, n_train=9, seed=2)
    assert fm.find_files(download=False) == env
    X, _ = load_fashion_mnist("train", download=False)
    assert len(X) == 7
    for f in os.listdir(env):
        os.remove(env / f)
    assert fm.find_files(download=False) == cache


def test_missing_data_error_lists_every_path_and_how_to_get_it(isolated):
    with pytest.raises(FileNotFoundError) as e:
        load_fashion_mnist("train", download=False)
    msg = str(e.value)
    for d in fm.search_dirs():
        assert str(d) in msg
    assert str(isolated / "system") in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "train-images-idx3-ubyte.gz" in msg


def test_download_verifies_checksums(isolated, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _write_fake_set(mirror)
    md5 = {name: hashlib.md5((mirror / name).read_bytes()).hexdigest() for name in fm.MD5}
    monkeypatch.setattr(fm, "MIRRORS", (mirror.as_uri() + "/",))
    # a wrong checksum: refused, nothing left in the cache
    monkeypatch.setattr(fm, "MD5", {**md5, "train-labels-idx1-ubyte.gz": "0" * 32})
    with pytest.raises(FileNotFoundError, match="checksum mismatch"):
        load_fashion_mnist("train")
    assert not (fm.cache_dir() / "train-labels-idx1-ubyte.gz").exists()
    assert not [f for f in os.listdir(fm.cache_dir()) if f.endswith(".part")]
    # correct checksums: downloaded into the cache and loaded
    monkeypatch.setattr(fm, "MD5", md5)
    X, y = load_fashion_mnist("train")
    assert X.shape == (12, 1, 28, 28)
    assert sorted(os.listdir(fm.cache_dir())) == sorted(md5)


def test_no_download_env_var(isolated, monkeypatch):
    monkeypatch.setenv("DEEPGRAD_NO_DOWNLOAD", "1")
    with pytest.raises(FileNotFoundError, match="download disabled"):
        load_fashion_mnist("test")


@pytest.mark.skipif(not os.path.exists(os.path.join(fm.SYSTEM_DIR, "t10k-labels-idx1-ubyte.gz")),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_real_test_set_when_installed(monkeypatch):
    monkeypatch.delenv("DEEPGRAD_DATA", raising=False)
    X, y = load_fashion_mnist("test", root=fm.SYSTEM_DIR, download=False)
    assert X.shape == (10000, 1, 28, 28)
    np.testing.assert_array_equal(np.bincount(y), [1000] * 10)


def test_dataset_class(isolated, tmp_path):
    from deepgrad.data import DataLoader
    from deepgrad.data.datasets import FashionMNIST

    d = tmp_path / "root"
    d.mkdir()
    _write_fake_set(d)
    ds = FashionMNIST("test", root=d, download=False)
    assert len(ds) == 5 and ds.classes[9] == "Ankle boot"
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32 and 0 <= y < 10
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 1, 28, 28)
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("valid", root=d, download=False)
