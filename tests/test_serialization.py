import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.serialization import (
    ModelFileError,
    load_model,
    load_weights,
    read_model_metadata,
    register_model_class,
    save_model,
    save_weights,
)


def _model():
    dg.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 16, bias=False), nn.BatchNorm1d(16), nn.ReLU(),
                         nn.Dropout(0.25), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3))


def _trained(model):
    # move BatchNorm's running statistics away from their initial values
    model.train()
    for _ in range(3):
        model(dg.randn(32, 3, 4))
    return model.eval()


def test_sequential_roundtrip_same_process(tmp_path):
    m = _trained(_model())
    save_model(m, tmp_path / "m.safetensors", metadata={"note": "hi"})
    m2 = load_model(tmp_path / "m.safetensors")
    assert not m2.training
    assert repr(m2) == repr(m)
    x = dg.randn(5, 3, 4)
    np.testing.assert_array_equal(m(x).data, m2(x).data)
    meta = read_model_metadata(tmp_path / "m.safetensors")
    assert meta["format"] == "deepgrad-model" and meta["user"] == {"note": "hi"}
    assert meta["architecture"]["class"] == "deepgrad.nn.container.Sequential"


def test_load_in_new_process_predicts_identically(tmp_path):
    m = _trained(_model())
    path = tmp_path / "m.safetensors"
    save_model(m, path)
    x = np.random.default_rng(1).standard_normal((7, 3, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import numpy as np
        from deepgrad.serialization import load_model
        import deepgrad as dg
        m = load_model({str(path)!r})
        out = m(dg.from_numpy(np.load({str(tmp_path / 'x.npy')!r}))).data
        np.save({str(tmp_path / 'y.npy')!r}, out)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), m(dg.from_numpy(x)).data)


def test_readable_by_the_safetensors_library(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    m = _model()
    save_model(m, tmp_path / "m.safetensors")
    arrays = st.load_file(str(tmp_path / "m.safetensors"))
    sd = m.state_dict()
    assert set(arrays) == set(sd)
    for k in sd:
        np.testing.assert_array_equal(arrays[k], sd[k])


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(_model(), path)
    raw = path.read_bytes()
    for cut in (len(raw) - 4, len(raw) // 2, 20, 3):
        (tmp_path / "t.safetensors").write_bytes(raw[:cut])
        with pytest.raises(ModelFileError, match="truncated|damaged"):
            load_model(tmp_path / "t.safetensors")


def test_tampered_weights_are_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(_model(), path)
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        load_model(path)


def test_tampered_architecture_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(_model(), path)
    raw = path.read_bytes()
    evil = raw.replace(b"deepgrad.nn.activation.ReLU", b"deepgrad.nn.activation.GELU")
    assert evil != raw and len(evil) == len(raw)
    path.write_bytes(evil)
    with pytest.raises(ModelFileError, match="checksum"):
        load_model(path)


def test_class_outside_allow_list_is_refused(tmp_path):
    import deepgrad.serialization as ser
    from deepgrad.serialization import safetensors_bytes

    # a file crafted to name an arbitrary class (with a valid checksum) is still refused
    desc = {"class": "os.system", "args": ["echo pwned"], "kwargs": {}}
    meta = {"format": "deepgrad-model", "format_version": "1", "architecture": json.dumps(desc)}
    meta["sha256"] = ser._digest({}, meta)
    (tmp_path / "evil.safetensors").write_bytes(safetensors_bytes({}, meta))
    with pytest.raises(ModelFileError, match="allow-list"):
        load_model(tmp_path / "evil.safetensors")


class TwoLayer(nn.Module):
    def __init__(self, d_in, hidden=5):
        super().__init__()
        self.a = nn.Linear(d_in, hidden)
        self.b = nn.Linear(hidden, 2)

    def forward(self, x):
        return self.b(dg.relu(self.a(x)))


def test_custom_class_needs_registration(tmp_path):
    dg.manual_seed(0)
    m = TwoLayer(4, hidden=6)
    with pytest.raises(TypeError, match="register_model_class"):
        save_model(m, tmp_path / "m.safetensors")
    register_model_class(TwoLayer)
    save_model(m, tmp_path / "m.safetensors")
    m2 = load_model(tmp_path / "m.safetensors")
    assert isinstance(m2, TwoLayer) and m2.a.out_features == 6
    x = dg.randn(3, 4)
    np.testing.assert_array_equal(m(x).data, m2(x).data)


def test_weights_only(tmp_path):
    m = _trained(_model())
    save_weights(m, tmp_path / "w.safetensors")
    m2 = _model()
    load_weights(m2, tmp_path / "w.safetensors")
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, m2.state_dict()[k])
    with pytest.raises(ModelFileError, match="not a deepgrad model"):
        load_model(tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="missing keys|unexpected"):
        load_weights(nn.Sequential(nn.Linear(12, 3)), tmp_path / "w.safetensors")


def test_no_pickle(tmp_path):
    save_model(_model(), tmp_path / "m.safetensors")
    raw = (tmp_path / "m.safetensors").read_bytes()
    assert b"\x80\x04\x95" not in raw and b"\x80\x05\x95" not in raw


def test_architecture_far_larger_than_its_weights_is_refused_before_building(tmp_path, monkeypatch):
    import json as _json

    from deepgrad import nn as _nn
    from deepgrad.serialization import ModelFileError, check_architecture, load_model, save_model, save_tensors

    built = []
    monkeypatch.setattr(_nn.Linear, "__init__", lambda self, *a, **k: built.append(a) or (_ for _ in ()).throw(
        AssertionError("built")))
    small = {"weight": np.zeros((3, 2), np.float32), "bias": np.zeros(3, np.float32)}
    many = {"class": "deepgrad.nn.container.Sequential",
            "args": [{"__module__": {"class": "deepgrad.nn.linear.Linear", "args": [256, 256], "kwargs": {}}}] * 50,
            "kwargs": {}}
    for arch in ({"class": "deepgrad.nn.linear.Linear", "args": [10**9, 10**9], "kwargs": {}}, many):
        with pytest.raises(ModelFileError, match="weights in the file hold only 9 values"):
            check_architecture(arch, small, "m")
        path = tmp_path / "m.safetensors"
        save_tensors(path, small, {"format": "deepgrad-model", "format_version": "1", "architecture": _json.dumps(arch)})
        with pytest.raises(ModelFileError, match="not building it"):
            load_model(path)
    assert built == []
    monkeypatch.undo()
    # real models pass the check: every recipe-sized model in the zoo loads back
    from deepgrad.vision import build_model
    from deepgrad.vision.models import _ZOO

    for name in sorted(_ZOO):
        m = build_model(name)
        save_model(m, tmp_path / f"{name}.safetensors")
        assert load_model(tmp_path / f"{name}.safetensors") is not None
    from deepgrad.recipes.fashion_cnn import fashion_resnet

    save_model(fashion_resnet(32, (2, 2)), tmp_path / "r.safetensors")
    load_model(tmp_path / "r.safetensors")


def test_every_recipe_model_loads_back_through_the_size_guard(tmp_path):
    """The guard looks at a module's two largest integer arguments: a whole model whose many
    settings multiply to a large number (TriggerModel(40, 96, 64, 15, 4) -> 14,745,600, more than
    64x its 114,017 weights) is not a bomb, and every recipe's model loads back from its file."""
    from deepgrad.recipes.trigger_word import TriggerModel
    from deepgrad.serialization import load_model, save_model
    from deepgrad.text.lm import RNNLanguageModel
    from deepgrad.text.seq2seq import DateTranslator, TransformerTranslator
    from deepgrad.vision.detection import YOLO, Localizer
    from deepgrad.vision.segmentation import UNet
    from deepgrad.vision.verification import EmbeddingNet

    models = [TriggerModel(), Localizer(), YOLO(), UNet(), EmbeddingNet(), RNNLanguageModel(60),
              DateTranslator(60, padding_idx=0), TransformerTranslator(59, 14, padding_idx=0),
              TransformerTranslator(59, 66, padding_idx=0)]
    for i, m in enumerate(models):
        path = tmp_path / f"m{i}.safetensors"
        save_model(m, path)
        back = load_model(path)
        assert type(back) is type(m)
        for k, v in m.state_dict().items():
            np.testing.assert_array_equal(np.asarray(back.state_dict()[k]), np.asarray(v), err_msg=f"{type(m).__name__} {k}")
