"""Fashion-MNIST: 70,000 grayscale 28x28 images of clothing in 10 classes.

Where the files are looked for, in order:

1. ``root`` when given, and then only there: a ``root`` that does not exist or lacks
   the files is an error, never a silent fallback to another location;
2. ``$DEEPGRAD_DATA/fashion-mnist`` and ``$DEEPGRAD_DATA``;
3. the user cache ``~/.cache/deepgrad/fashion-mnist`` (``$XDG_CACHE_HOME`` respected);
4. the system location ``/usr/share/datasets/fashion-mnist`` (Debian's
   ``dataset-fashion-mnist`` package).

If none holds the four files and ``download`` is allowed, they are fetched from the
data set's official source into the cache and their MD5 checksums (the ones published
by Zalando Research) are verified before use.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from ..dataset import TensorDataset
from .idx import read_idx

CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# Published with the data set (https://github.com/zalandoresearch/fashion-mnist#get-the-data).
MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)

SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"
HOW_TO_GET = (
    "Get it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu; installs to "
    f"{SYSTEM_DIR}), or download the four files from {MIRRORS[0]} into one of the directories "
    "above, or point DEEPGRAD_DATA at a directory holding them."
)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "deepgrad" / "fashion-mnist"


def search_dirs(root: str | os.PathLike | None = None) -> list[Path]:
    """The directories searched, in order."""
    dirs: list[Path] = []
    if root is not None:
        dirs.append(Path(root))
    env = os.environ.get("DEEPGRAD_DATA")
    if env:
        dirs += [Path(env) / "fashion-mnist", Path(env)]
    dirs += [cache_dir(), Path(SYSTEM_DIR)]
    return dirs


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(dest: Path, timeout: float = 30.0) -> list[str]:
    """Fetch all files into ``dest``, verifying MD5s; returns the errors met (empty on success)."""
    errors = []
    dest.mkdir(parents=True, exist_ok=True)
    for name, md5 in MD5.items():
        target = dest / name
        if target.exists() and _md5(target) == md5:
            continue
        for mirror in MIRRORS:
            url = mirror + name
            fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                    while chunk := resp.read(1 << 20):
                        out.write(chunk)
                got = _md5(Path(tmp))
                if got != md5:
                    raise ValueError(f"checksum mismatch: MD5 {got}, expected {md5}")
                os.replace(tmp, target)
                break
            except Exception as e:  # noqa: BLE001 - every failure is reported to the user
                errors.append(f"{url}: {e}")
                if os.path.exists(tmp):
                    os.unlink(tmp)
        else:
            return errors
    return []


def find_files(root=None, download: bool = True) -> Path:
    """The directory that holds all four files (downloading them if needed and allowed).

    An explicit ``root`` is the only place looked at: it must exist and hold the files.
    """
    if root is not None:
        d = Path(root)
        if not d.is_dir():
            raise FileNotFoundError(f"Fashion-MNIST root {d}: no such directory")
        missing = [f for pair in FILES.values() for f in pair if not (d / f).is_file()]
        if missing:
            raise FileNotFoundError(f"Fashion-MNIST root {d}: missing {', '.join(missing)}. {HOW_TO_GET}")
        return d
    tried = []
    for d in search_dirs(root):
        tried.append(str(d))
        if all((d / f).is_file() for pair in FILES.values() for f in pair):
            return d
    download = download and os.environ.get("DEEPGRAD_NO_DOWNLOAD", "") in ("", "0")
    errors = _download(cache_dir()) if download else ["download disabled"]
    if not errors:
        return cache_dir()
    raise FileNotFoundError(
        "Fashion-MNIST not found. Looked for "
        + ", ".join(n for pair in FILES.values() for n in pair)
        + " in:\n  " + "\n  ".join(tried)
        + "\nDownload: " + "; ".join(errors[-len(MIRRORS):])
        + "\n" + HOW_TO_GET
    )


def load_fashion_mnist(
    split: str = "train",
    root=None,
    download: bool = True,
    normalize: bool = True,
    flatten: bool = False,
    dtype=np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one split (``"train"``: 60,000, ``"test"``: 10,000).

    Returns ``X`` of shape ``(N, 1, 28, 28)`` (or ``(N, 784)`` with ``flatten``), scaled
    to [0, 1] when ``normalize`` (else raw uint8), and ``y`` of shape ``(N,)`` int64 in 0..9.
    """
    if split not in FILES:
        raise ValueError(f"load_fashion_mnist: split must be 'train' or 'test', got {split!r}")
    d = find_files(root, download)
    images_file, labels_file = FILES[split]
    images = read_idx(d / images_file)
    labels = read_idx(d / labels_file)
    check_images_labels(images, labels, d / images_file, d / labels_file)
    X = images.reshape(len(images), -1) if flatten else images[:, None, :, :]
    if normalize:
        X = X.astype(dtype)
        X /= dtype(255.0)  # in place: no second full-size array
    return X, labels.astype(np.int64)


def check_images_labels(images, labels, images_path, labels_path, classes: int = len(CLASSES),
                        size=(28, 28)) -> None:
    """What the files must hold: uint8 images ``(N, 28, 28)``, uint8 labels ``(N,)`` in 0..classes-1."""
    if images.dtype != np.uint8:
        raise ValueError(f"{images_path}: images must be uint8, got {images.dtype}")
    if images.ndim != 3 or images.shape[1:] != tuple(size):
        raise ValueError(f"{images_path}: images must have shape (N, {size[0]}, {size[1]}), got {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{labels_path}: labels must be a uint8 vector, got {labels.dtype} of shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{images_path}: {len(images)} images but {labels_path}: {len(labels)} labels")
    if len(labels) and int(labels.max()) >= classes:
        bad = int(np.argmax(labels >= classes))
        raise ValueError(f"{labels_path}: label {int(labels[bad])} at index {bad} is out of range 0..{classes - 1}")


class FashionMNIST(TensorDataset):
    """Fashion-MNIST as a Dataset: ``FashionMNIST("train")[i] -> (x (1, 28, 28), y)``."""

    classes = CLASSES

    def __init__(self, split: str = "train", root=None, download: bool = True, flatten: bool = False, transform=None):
        X, y = load_fashion_mnist(split, root=root, download=download, flatten=flatten)
        super().__init__(X, y, transform=transform)
        self.split = split
