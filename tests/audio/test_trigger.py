"""Trigger-word data and scoring: labels, placement, events, noise, chimes, espeak-ng words, the recipe."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from deepgrad.audio import noise as N
from deepgrad.audio import trigger as T
from deepgrad.audio.synth import Voice, espeak_path, synthesize, trim_silence

NO_ESPEAK = "espeak-ng not installed (apt-get install espeak-ng, or bash scripts/get-data.sh)"
FR = T.Framing()  # 16 kHz, hop 160, stride 4: one output frame per 640 samples; 9 label frames


def test_labels_are_the_frames_after_each_trigger_ends():
    n_out = FR.output_frames(5 * 16000)
    assert n_out == (501 - 15) // 4 + 1 == 122
    y = T.label_frames([640 * 10 + 5, 640 * 50], n_out, FR)
    assert np.flatnonzero(y).tolist() == list(range(11, 20)) + list(range(51, 60))
    end = T.label_frames([640 * 118], n_out, FR)  # cut at the clip's end
    assert np.flatnonzero(end).tolist() == [119, 120, 121]
    assert T.label_frames([], n_out, FR).sum() == 0


def _tone_bank(rate=16000):
    t = np.arange(int(0.5 * rate)) / rate
    trig = [np.sin(2 * np.pi * 440 * t).astype(np.float32)]
    neg = [np.sin(2 * np.pi * 220 * t[: rate // 4]).astype(np.float32), np.sin(2 * np.pi * 330 * t).astype(np.float32)]
    return T.WordBank(rate, trig, neg)


def test_clips_place_words_apart_and_label_the_triggers():
    bank = _tone_bank()
    rng = np.random.default_rng(0)
    seen_triggers = 0
    for _ in range(30):
        c = T.make_clip(bank, rng, seconds=3.0)
        assert c.audio.shape == (48000,) and np.abs(c.audio).max() <= 0.99 + 1e-6
        segs = c.segments
        for (_, b0, _), (a1, _, _) in zip(segs, segs[1:]):
            assert b0 + 800 <= a1  # non-overlapping, at least 50 ms apart
        assert c.ends == [b for a, b, trig in segs if trig]
        assert all(b - a == 8000 for a, b, trig in segs if trig)
        seen_triggers += len(c.ends)
        assert len(c.ends) <= 4 and len(segs) - len(c.ends) <= 2
    assert seen_triggers > 20
    a = T.make_clips(bank, 4, seed=3, framing=FR, seconds=3.0, keep_audio=1)
    b = T.make_clips(bank, 4, seed=3, framing=FR, seconds=3.0)
    np.testing.assert_array_equal(a.x, b.x)  # seeded: same clips
    assert a.ends == b.ends and a.x.shape == (4, 40, 301) and a.y.shape == (4, FR.output_frames(48000))
    for y, ends in zip(a.y, a.ends):
        assert y.sum() == sum(min(9, len(y) - (e // 640 + 1)) for e in ends) or len(ends) > 1  # overlaps only merge
    np.testing.assert_allclose(a.x.mean(axis=-1), 0, atol=1e-4)  # per-band mean removed


def test_place_gives_up_when_there_is_no_room():
    rng = np.random.default_rng(0)
    assert T._place(rng, 100, 50, [], 0) is None
    assert T._place(rng, 40, 100, [(30, 70)], 0) is None
    s = T._place(rng, 30, 100, [(30, 70)], 0)
    assert s in [(0, 30), (70, 100)]


def test_detections_and_event_matching():
    p = np.zeros(60)
    p[12:18] = 0.9  # finds the first trigger (window 11-19, from 9 with tolerance 2)
    p[20] = 0.7  # a second rise within the refractory period: not a detection
    p[40:43] = 0.8  # a false alarm
    p[52] = 0.6  # one frame early within the tolerance of the second window (53-61)
    assert T.detect_events(p, 0.5, refractory=9) == [12, 40, 52]
    assert T.detect_events(p, 0.5, refractory=1) == [12, 20, 40, 52]
    assert T.detect_events(np.ones(30), 0.5, refractory=9) == [0]
    windows = T.event_windows([640 * 10, 640 * 52], FR, tolerance=2)
    assert windows == [(9, 20), (51, 62)]
    assert T.match_events([12, 40, 52], windows) == (2, 1, 0)
    assert T.match_events([12, 14, 40], windows) == (1, 2, 1)  # one detection per window
    s = T.event_scores([p], [[640 * 10, 640 * 52]], FR, 0.5)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 0)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == 1 and s["f1"] == pytest.approx(0.8)
    zeros = T.event_scores([np.zeros(60)], [[640 * 10]], FR)
    assert zeros["f1"] == 0 and zeros["fn"] == 1


def test_frame_scores():
    y = np.array([[0, 0, 1, 1, 1, 0]], float)
    p = np.array([[0.1, 0.6, 0.7, 0.4, 0.9, 0.2]])
    s = T.frame_scores(p, y, 0.5)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 1) and s["f1"] == pytest.approx(2 / 3)
    assert s["accuracy"] == pytest.approx(4 / 6)
    z = T.frame_scores(np.zeros_like(p), y)
    assert z["f1"] == 0 and z["accuracy"] == pytest.approx(0.5)


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0])
def test_colored_noise_has_the_spectral_slope(exponent):
    x = N.colored_noise(2 ** 16, exponent, np.random.default_rng(0))
    assert N.rms(x) == pytest.approx(1.0, rel=1e-5)
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.arange(len(p))
    band = (f > 10) & (f < 10000)
    slope = np.polyfit(np.log(f[band]), np.log(p[band] + 1e-30), 1)[0]
    assert slope == pytest.approx(-exponent, abs=0.1)


def test_hum_babble_background_and_chime():
    rng = np.random.default_rng(0)
    h = N.hum(16000, 16000, rng, fundamental=50.0)
    spec = np.abs(np.fft.rfft(h))
    assert spec.argmax() in (50, 100, 150, 200, 250) and spec[[50, 100]].min() > 100 * np.median(spec)
    bank = _tone_bank()
    bg = N.background(32000, 16000, rng, babble_clips=bank.negatives, level=(0.01, 0.02))
    assert 0.01 - 1e-6 <= N.rms(bg) <= 0.02 + 1e-6
    c = N.chime(16000)
    assert len(c) == 4800 and np.abs(c).max() == pytest.approx(0.5, rel=1e-6)
    assert np.abs(c[:800]).max() > 10 * np.abs(c[-800:]).max()  # it decays


def test_insert_chimes_after_each_detection():
    x = np.zeros(16000 * 2, np.float32)
    out = T.insert_chimes(x, [3, 20], FR)
    loud = np.flatnonzero(np.abs(out) > 1e-3)
    assert loud[0] >= 4 * 640 and loud[0] < 4 * 640 + 100  # the end of output frame 3
    assert np.abs(out[21 * 640: 21 * 640 + 200]).max() > 0.1
    assert np.abs(out[: 4 * 640]).max() == 0
    np.testing.assert_array_equal(T.insert_chimes(x, [], FR), x)


def test_trim_silence():
    x = np.concatenate([np.zeros(1000), np.ones(500), np.zeros(1000)])
    assert len(trim_silence(x, 16000, margin_s=0.0)) == 500
    assert len(trim_silence(x, 16000, margin_s=0.01)) == 500 + 2 * 160


@pytest.mark.skipif(espeak_path() is None, reason=NO_ESPEAK)
def test_espeak_words_are_speech_length_and_cached(tmp_path):
    v = Voice("en-us", "f2", 160, 50)
    a = synthesize("activate", v, 16000, folder=str(tmp_path))
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and files[0].endswith(".npy") and files[1].endswith(".wav")
    assert a.dtype == np.float32 and 0.3 < len(a) / 16000 < 1.5 and np.abs(a).max() == pytest.approx(1.0)
    np.testing.assert_array_equal(synthesize("activate", v, 16000, folder=str(tmp_path)), a)  # from the cache
    fast = synthesize("activate", Voice("en-us", "f2", 220, 50), 16000, folder=str(tmp_path))
    assert len(fast) < len(a)  # speed is words per minute
    assert not np.array_equal(synthesize("active", v, 16000, folder=str(tmp_path))[:1000], a[:1000])


def test_split_voices_are_disjoint():
    pairs = {s: {v.name for v in T.split_voices(s, 2, 0)} for s in ("train", "dev", "test")}
    assert not (pairs["train"] & pairs["dev"]) and not (pairs["train"] & pairs["test"]) and not (pairs["dev"] & pairs["test"])
    assert len(pairs["train"]) == 50 and len(T.split_voices("train", 2, 0)) == 100
    assert T.TRIGGER not in T.NEGATIVE_WORDS and not any("activat" in w for w in T.NEGATIVE_WORDS)


@pytest.mark.slow
@pytest.mark.skipif(espeak_path() is None, reason=NO_ESPEAK)
def test_trigger_word_recipe_quick(tmp_path):
    from deepgrad import recipes

    out = tmp_path / "run"
    args = SimpleNamespace(recipe="trigger-word", quick=True, seed=0, out=str(out), epochs=None, lr=None,
                           batch_size=None, config=None, store=str(tmp_path / "runs.sqlite"))
    m = recipes.get("trigger-word").run(args)
    written = json.loads((out / "metrics.json").read_text())
    assert written["recipe"] == "trigger-word" and written["epochs"] == 2
    for k in ("test_event_f1", "test_frame_f1", "zeros_test_event_f1", "zeros_test_accuracy", "dev_threshold"):
        assert k in m
    assert m["zeros_test_event_f1"] == 0 and m["zeros_test_frame_f1"] == 0
    assert 0.7 < m["zeros_test_accuracy"] < 1  # most frames are 0
    assert m["test_triggers"] > 0 and 0 <= m["test_event_f1"] <= 1
    assert set(m["config"]["voices"]["test"]).isdisjoint(m["config"]["voices"]["train"])
    from deepgrad.audio.wav import read_wav

    a, rate = read_wav(out / "test_clip.wav")
    b, _ = read_wav(out / "test_clip_chimes.wav")
    assert rate == 16000 and len(a) == len(b) == 5 * 16000
    assert (out / "history.csv").exists() and (out / "model.safetensors").exists()
    if "trigger.png" in m["example_files"]:
        assert (out / "trigger.png").stat().st_size > 10000
