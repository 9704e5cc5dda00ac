"""Model files: weights in safetensors, architecture as JSON, no pickle anywhere.

``save_model(model, path)`` writes one ``.safetensors`` file: every parameter and
buffer as a tensor, and in the file's metadata a JSON description of the architecture
(each module's class and the constructor arguments it recorded in ``_init_args``),
a format version and a SHA-256 of the tensor bytes. ``load_model(path)`` rebuilds
the model from that description — only classes on an allow-list (deepgrad's own
modules, plus any you ``register_model_class``) can be named, and nothing in the file
is ever executed — then loads the weights. A truncated or altered file fails with an
error that says so.

The safetensors format (https://github.com/huggingface/safetensors) is simple enough
to read and write here directly: an 8-byte little-endian header length, a JSON
header (``{name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}``), then the
raw little-endian bytes. Files written here open with the ``safetensors`` library too.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import struct
import tempfile
from collections import OrderedDict

import numpy as np

FORMAT = "deepgrad-model"
FORMAT_VERSION = 1

_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
    "BOOL": np.bool_,
}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}


class ModelFileError(ValueError):
    """A model or checkpoint file is truncated, altered, or not a deepgrad file."""


# ----- atomic writes -------------------------------------------------------------------
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix.

    The bytes go to a temporary file in the same directory, are flushed and fsynced,
    then ``os.replace`` swaps it in (atomic on POSIX) and the directory is fsynced so
    the rename itself survives a crash.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dfd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dfd)


# ----- safetensors, by hand -------------------------------------------------------------
def _le_bytes(arr: np.ndarray) -> np.ndarray:
    """The little-endian bytes of ``arr`` as a flat uint8 view (a copy only if ``arr`` is not
    already contiguous little-endian): for writing and hashing without ``tobytes`` copies."""
    return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).reshape(-1).view(np.uint8)


def safetensors_bytes(tensors: dict, metadata: dict | None = None) -> bytes:
    """Encode ``{name: ndarray}`` (+ string metadata) as safetensors bytes."""
    header: dict = {}
    chunks = []
    offset = 0
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        code = _CODES.get(arr.dtype.newbyteorder("="))
        if code is None:
            raise TypeError(f"safetensors: {name!r} has unsupported dtype {arr.dtype}")
        raw = _le_bytes(arr)
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + raw.nbytes]}
        chunks.append(raw)
        offset += raw.nbytes
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)
    return b"".join([struct.pack("<Q", len(hbytes)), hbytes, *chunks])  # type: ignore[list-item]  # one copy of the data, here; ndarray is a buffer, NumPy's stubs say so only for Python >= 3.12


def parse_safetensors(raw: bytes, name: str = "<bytes>") -> tuple[OrderedDict[str, np.ndarray], dict, bytes]:
    """Decode safetensors bytes -> (tensors, metadata, data section); clear errors when damaged."""
    if len(raw) < 8:
        raise ModelFileError(f"{name}: not a safetensors file or truncated ({len(raw)} bytes)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ModelFileError(f"{name}: truncated or not a safetensors file (header says {n} bytes, file has {len(raw) - 8})")
    try:
        header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{name}: damaged header ({e})") from e
    if not isinstance(header, dict):
        raise ModelFileError(f"{name}: damaged header (not a JSON object)")
    metadata = header.pop("__metadata__", {}) or {}
    data = raw[8 + n :]
    tensors: OrderedDict[str, np.ndarray] = OrderedDict()
    end_max = 0
    for key, info in header.items():
        try:
            dtype = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
            shape, (begin, end) = tuple(info["shape"]), info["data_offsets"]
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{name}: damaged header entry for {key!r} ({e!r})") from e
        if not all(isinstance(d, int) and not isinstance(d, bool) for d in (*shape, begin, end)):
            raise ModelFileError(f"{name}: header entry {key!r}: shape {list(shape)} and offsets must be whole numbers")
        if any(d < 0 for d in shape):
            raise ModelFileError(f"{name}: header entry {key!r}: negative dimension in shape {list(shape)}")
        count = 1
        for d in shape:  # Python integers: no overflow
            count *= d
        if count * dtype.itemsize > len(raw):
            raise ModelFileError(f"{name}: header entry {key!r}: shape {list(shape)} needs {count * dtype.itemsize} "
                                 f"bytes, more than the whole file ({len(raw)})")
        if end - begin != count * dtype.itemsize or begin < 0:
            raise ModelFileError(f"{name}: header entry {key!r} is inconsistent (shape {shape}, bytes {begin}..{end})")
        if end > len(data):
            raise ModelFileError(
                f"{name}: truncated: tensor {key!r} needs bytes up to {end} of the data section, "
                f"file has only {len(data)}"
            )
        end_max = max(end_max, end)
        tensors[key] = np.frombuffer(data, dtype=dtype, count=count, offset=begin).reshape(shape).astype(dtype.newbyteorder("="))
    if end_max != len(data):
        raise ModelFileError(f"{name}: {len(data) - end_max} unexpected trailing bytes after the tensors")
    return tensors, metadata, data


def read_safetensors(path) -> tuple[OrderedDict[str, np.ndarray], dict]:
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    tensors, metadata, _ = parse_safetensors(raw, path)
    return tensors, metadata


def _digest(tensors: dict, metadata: dict) -> str:
    """SHA-256 over every tensor (name, dtype, shape, bytes) and the other metadata."""
    h = hashlib.sha256()
    meta = {k: v for k, v in metadata.items() if k != "sha256"}
    h.update(json.dumps(meta, sort_keys=True).encode("utf-8"))
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        h.update(name.encode("utf-8"))
        h.update(str(arr.dtype.newbyteorder("<").str).encode())
        h.update(repr(tuple(arr.shape)).encode())
        h.update(_le_bytes(arr))  # type: ignore[arg-type]  # ndarray is a buffer; NumPy's stubs say so only for Python >= 3.12
    return h.hexdigest()


def save_tensors(path, tensors: dict, metadata: dict | None = None) -> None:
    """Atomically write ``{name: array}`` with a SHA-256 of the arrays in the metadata."""
    tensors = OrderedDict((k, np.asarray(getattr(v, "data", v))) for k, v in tensors.items())
    meta = dict(metadata or {})
    meta["sha256"] = _digest(tensors, meta)
    atomic_write_bytes(path, safetensors_bytes(tensors, meta))


def load_tensors(path, verify: bool = True) -> tuple[OrderedDict[str, np.ndarray], dict]:
    """Read a file written by ``save_tensors``; with ``verify`` the SHA-256 must match."""
    path = os.fspath(path)
    tensors, meta = read_safetensors(path)
    if verify:
        want = meta.get("sha256")
        if want is None:
            raise ModelFileError(f"{path}: no sha256 in the metadata; not written by deepgrad (pass verify=False to read it anyway)")
        got = _digest(tensors, meta)
        if got != want:
            raise ModelFileError(f"{path}: checksum mismatch: the weights were altered or damaged (sha256 {got[:16]}..., expected {want[:16]}...)")
    return tensors, meta


# ----- architecture as JSON -----------------------------------------------------------------
_REGISTERED: dict[str, type] = {}


def _qualname(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def register_model_class(cls):
    """Allow ``load_model`` to rebuild instances of ``cls`` (usable as a class decorator)."""
    from .nn import Module

    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"register_model_class: {cls!r} is not a deepgrad.nn.Module subclass")
    _REGISTERED[_qualname(cls)] = cls
    return cls


def _allowed(name: str):
    """The class named ``name`` if it is on the allow-list, else None.

    Allowed: classes registered with ``register_model_class`` and Module subclasses
    defined inside the deepgrad package (whose module may be imported to find them;
    nothing outside deepgrad is ever imported).
    """
    from .nn import Module

    if name in _REGISTERED:
        return _REGISTERED[name]
    mod_name, _, cls_name = name.rpartition(".")
    if not (mod_name == "deepgrad" or mod_name.startswith("deepgrad.")) or "<" in name:
        return None
    try:
        mod = importlib.import_module(mod_name)
    except ImportError:
        return None
    obj: object = mod
    for part in cls_name.split("."):
        obj = getattr(obj, part, None)
    if isinstance(obj, type) and issubclass(obj, Module) and _qualname(obj) == name:
        return obj
    return None


def _encode(v, where: str):
    from .nn import Module

    if isinstance(v, Module):
        return {"__module__": describe(v, where)}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return {"__tuple__": [_encode(x, where) for x in v]}
    if isinstance(v, list):
        return [_encode(x, where) for x in v]
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        return {"__dict__": [[k, _encode(x, where)] for k, x in v.items()]}
    if isinstance(v, np.random.Generator):
        # Only initialisation and dropout masks draw from it; the loaded weights replace
        # the former, and a rebuilt model uses the library generator for the latter.
        return None
    if isinstance(v, np.dtype) or (isinstance(v, type) and issubclass(v, np.generic)):
        return {"__dtype__": np.dtype(v).name}
    raise TypeError(
        f"save_model: cannot describe constructor argument {v!r} of {where} as JSON; "
        "save the weights with save_weights() and rebuild the model in code instead"
    )


def _decode(v, where: str):
    if isinstance(v, list):
        return [_decode(x, where) for x in v]
    if isinstance(v, dict):
        if "__module__" in v:
            return build(v["__module__"])
        if "__tuple__" in v:
            return tuple(_decode(x, where) for x in v["__tuple__"])
        if "__dict__" in v:
            return OrderedDict((k, _decode(x, where)) for k, x in v["__dict__"])
        if "__dtype__" in v:
            return np.dtype(v["__dtype__"]).type
        raise ModelFileError(f"load_model: unknown value {v!r} in the architecture of {where}")
    return v


def _takes_no_arguments(cls) -> bool:
    from .nn import Module

    return all(k.__dict__.get("__init__") is None for k in cls.__mro__ if k is not Module and issubclass(k, Module))


def describe(module, where: str = "model") -> dict:
    """The JSON-able architecture of ``module``: its class and its constructor arguments."""
    cls = type(module)
    name = _qualname(cls)
    if _allowed(name) is not cls:
        raise TypeError(
            f"save_model: {name} ({where}) is not a deepgrad class; decorate it with "
            "deepgrad.serialization.register_model_class (in the code that loads it too) "
            "or save only the weights with save_weights()"
        )
    init = module.__dict__.get("_init_args")
    if init is None and _takes_no_arguments(cls):
        init = ((), {})  # e.g. Tanh(): no __init__ of its own, so nothing was recorded
    if init is None:
        raise TypeError(f"save_model: {name} ({where}) recorded no constructor arguments (_init_args)")
    args, kwargs = init
    return {
        "class": name,
        "args": [_encode(a, name) for a in args],
        "kwargs": {k: _encode(x, name) for k, x in kwargs.items()},
    }


def build(desc: dict):
    """Rebuild a module from ``describe``'s output; only allow-listed classes."""
    if not isinstance(desc, dict) or "class" not in desc:
        raise ModelFileError(f"load_model: damaged architecture entry {desc!r}")
    name = desc["class"]
    cls = _allowed(name)
    if cls is None:
        raise ModelFileError(
            f"load_model: class {name!r} is not on the allow-list (deepgrad's own modules and classes "
            "registered with deepgrad.serialization.register_model_class)"
        )
    args = [_decode(a, name) for a in desc.get("args", [])]
    kwargs = {k: _decode(v, name) for k, v in desc.get("kwargs", {}).items()}
    return cls(*args, **kwargs)


# ----- public API ---------------------------------------------------------------------------
def _state(model_or_state) -> dict:
    if hasattr(model_or_state, "state_dict"):
        return model_or_state.state_dict()
    return dict(model_or_state)


def save_weights(model_or_state, path, metadata: dict | None = None) -> None:
    """Write a model's ``state_dict`` (or a dict of arrays) to a safetensors file."""
    meta = {"format": "deepgrad-weights", "format_version": str(FORMAT_VERSION)}
    if metadata:
        meta["user"] = json.dumps(metadata)
    save_tensors(path, _state(model_or_state), meta)


def load_weights(model, path, strict: bool = True):
    """Load weights saved by ``save_weights`` or ``save_model`` into ``model``; returns it.

    With ``model=None`` returns the ``{name: ndarray}`` dict instead.
    """
    tensors, _ = load_tensors(path)
    if model is None:
        return tensors
    model.load_state_dict(tensors, strict=strict)
    return model


def save_model(model, path, metadata: dict | None = None) -> None:
    """Save weights + architecture to one safetensors file (``load_model`` rebuilds it)."""
    from . import __version__

    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "deepgrad_version": __version__,
        "architecture": json.dumps(describe(model)),
    }
    if metadata:
        meta["user"] = json.dumps(metadata)
    save_tensors(path, model.state_dict(), meta)


def read_model_metadata(path) -> dict:
    """The metadata of a model file (format, version, architecture, user metadata), decoded."""
    _, meta = read_safetensors(path)
    out = dict(meta)
    for key in ("architecture", "user"):
        if key in out:
            out[key] = json.loads(out[key])
    return out


def load_model(path, eval_mode: bool = True):
    """Rebuild a model saved by ``save_model`` and load its weights (in eval mode by default)."""
    path = os.fspath(path)
    tensors, meta = load_tensors(path)
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a deepgrad model file (format {meta.get('format')!r}); use load_weights() for weights-only files")
    version = int(meta.get("format_version", "0"))
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {version} is newer than this deepgrad supports ({FORMAT_VERSION})")
    try:
        desc = json.loads(meta["architecture"])
    except (KeyError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: damaged architecture description ({e})") from e
    import deepgrad.nn  # noqa: F401  (the allow-listed layers)

    check_architecture(desc, tensors, path)
    model = build(desc)
    want = {k: tuple(np.shape(v)) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in tensors.items()}
    problems = [f"missing {k}" for k in sorted(set(want) - set(got))]
    problems += [f"unexpected {k}" for k in sorted(set(got) - set(want))]
    problems += [f"{k}: architecture {want[k]}, file {got[k]}" for k in sorted(set(want) & set(got)) if want[k] != got[k]]
    if problems:
        raise ModelFileError(f"{path}: the architecture does not match the weights: " + "; ".join(problems))
    model.load_state_dict(tensors, strict=True)
    return model.eval() if eval_mode else model


def _module_ints(desc):
    """The integer constructor arguments of one architecture entry (not of nested modules)."""
    out = []

    def walk(v):
        if isinstance(v, bool):
            return
        if isinstance(v, int):
            out.append(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict) and "__module__" not in v:
            for x in v.values():
                walk(x)

    walk(list(desc.get("args", [])))
    walk(dict(desc.get("kwargs", {})))
    return out


def _nested(desc):
    def walk(v):
        if isinstance(v, dict):
            if "__module__" in v:
                yield v["__module__"]
            else:
                for x in v.values():
                    yield from walk(x)
        elif isinstance(v, list):
            for x in v:
                yield from walk(x)

    yield from walk(list(desc.get("args", [])))
    yield from walk(dict(desc.get("kwargs", {})))


def check_architecture(desc, tensors: dict, path="model") -> None:
    """Refuse, before building anything, an architecture far larger than the weights stored
    with it: a module whose two largest integer arguments multiply to more than 64 times the
    number of values in the file (plus 65,536), or modules whose such products add up to more
    than that, would allocate memory the file cannot fill (e.g. ``Linear(10**9, 10**9)``
    beside a few kilobytes of weights). Two arguments, not all of them: a layer's weights hold
    at least the product of its two largest sizes (``Linear(a, b)``: a*b, ``Conv2d(c, d, k)``:
    c*d*k*k, ``Embedding(n, d)``: n*d), while the product of every setting of a whole model
    (``TriggerModel(40, 96, 64, 15, 4)``) says nothing about its size. The exact shapes are
    then compared after building (``load_model``)."""
    total = sum(int(np.asarray(v).size) for v in tensors.values())
    limit = 64 * total + 65536
    stack, spent = [desc], 0
    while stack:
        d = stack.pop()
        if not isinstance(d, dict):
            raise ModelFileError(f"{path}: damaged architecture entry {d!r}")
        ints = sorted((max(abs(v), 1) for v in _module_ints(d)), reverse=True)[:2]
        size = int(np.prod(ints, dtype=object)) if ints else 1  # Python ints: no overflow
        spent += size  # over the whole architecture: many modules cannot add up to a bomb either
        if size > limit or spent > limit:
            args = ", ".join(str(a) for a in d.get("args", []))
            raise ModelFileError(
                f"{path}: the architecture asks for {d.get('class', '?').rpartition('.')[2]}({args}) "
                f"(its two largest arguments multiplying to {size}) but the weights in the file hold only {total} values; not building it")
        stack.extend(_nested(d))
