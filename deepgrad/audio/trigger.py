"""Trigger-word data and scoring (course 5, week 3, "trigger word detection": the word "activate").

**Clips.** ``make_clip`` lays 0-4 spoken trigger words and 0-2 other words (the course's
counts) at random, non-overlapping positions over a generated background
(:func:`deepgrad.audio.noise.background`). Words come from a :class:`WordBank`: clips
synthesized by espeak-ng (:mod:`deepgrad.audio.synth`) in several accents, voice variants,
speeds and pitches. ``word_banks`` splits the voices three ways, so that the dev and test
clips are spoken by accent+variant pairs never heard in training (and their babble too).

**Frames and labels.** Features are log-mel spectrogram frames every ``hop`` samples; the
model's output frame ``j`` (a strided convolution, ``stride`` spectrogram frames per output
frame) starts at sample ``j * hop * stride``. As in the course (``insert_ones``: the 50
output steps after the end of each "activate" set to 1), the ``label_frames`` output frames
after the one in which a trigger ends are 1: ``y[j_end + 1 : j_end + 1 + label_frames] = 1``
with ``j_end = end_sample // (hop * stride)``.

**Events** (``detect_events``, ``event_scores``). A detection is an onset: an output frame
where the probability reaches the threshold while the previous frame was below it, at
least ``refractory`` frames after the previous detection (the course's chime rule: one
chime, then 75 steps of silence). A trigger word is found when a detection falls in its
window: its labelled frames, widened by ``tolerance`` frames before the first. Each window
takes at most one detection (in time order); a detection in no window, or in a window
already taken, is a false positive; a window without a detection is a false negative.
Event precision, recall and F1 are summed over a whole split. ``frame_scores`` gives the
per-frame precision, recall, F1 and accuracy of ``p >= threshold`` against the labels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .features import log_mel_spectrogram
from .noise import background, chime
from .synth import ACCENTS, VARIANTS, Voice, synthesize

TRIGGER = "activate"
#: words that are not the trigger: look-alikes (same rhythm or sounds) and everyday words.
#: Nothing containing "activat" (deactivate, activation) is here: those would be ambiguous labels.
NEGATIVE_WORDS = (
    "active", "activity", "activist", "captivate", "cultivate", "motivate", "navigate", "actuate", "aggravate",
    "elevate", "renovate", "agitate", "evacuate", "accurate", "acrobat", "attitude", "actor", "tractor", "vacation",
    "decorate", "calculate", "educate", "operate", "celebrate", "generate", "animate", "estimate", "dedicate",
    "alligator", "cactus", "hello", "weather", "music", "lights", "kitchen", "tomorrow", "computer", "morning",
    "please", "window", "yellow", "coffee", "garden", "seven", "remember", "basket", "ticket", "umbrella", "dinner",
    "orange", "table", "pocket", "rabbit", "camera", "picture", "number", "water", "holiday", "station", "yesterday",
)

#: which accents and voice variants speak in each split (no accent+variant pair is shared)
SPLIT_VOICES = {
    "train": (ACCENTS[:5], VARIANTS[:5] + VARIANTS[7:10] + VARIANTS[12:14]),
    "dev": (("en-gb-x-gbclan",), ("m6", "f4")),
    "test": (("en-gb-x-gbcwmd", "en-us-nyc"), ("m7", "f5", "klatt3")),
}


@dataclass
class WordBank:
    """Spoken clips (float32 at ``rate``): ``triggers`` (the trigger word) and ``negatives``
    (other words), with the voices that spoke them."""

    rate: int
    triggers: list = field(default_factory=list)
    negatives: list = field(default_factory=list)
    voices: list = field(default_factory=list)


def split_voices(split: str, per_pair: int, seed: int, quick: bool = False) -> list[Voice]:
    """The voices of a split: each of its accent+variant pairs at ``per_pair`` random speeds
    (120-200 words a minute) and pitches (25-75). ``quick`` keeps two accents and three variants."""
    accents, variants = SPLIT_VOICES[split]
    if quick:
        accents, variants = accents[:2], variants[:3]
    rng = np.random.default_rng([seed, sum(map(ord, split))])
    return [Voice(a, v, int(rng.integers(120, 201)), int(rng.integers(25, 76)))
            for a in accents for v in variants for _ in range(per_pair)]


def word_bank(split: str, rate: int = 16000, per_pair: int = 2, negatives_per_voice: int = 12, seed: int = 0,
              quick: bool = False, folder: str | None = None) -> WordBank:
    """The trigger word in every voice of ``split`` and ``negatives_per_voice`` other words per voice
    (drawn without replacement from ``NEGATIVE_WORDS``), synthesized with espeak-ng (cached)."""
    rng = np.random.default_rng([seed, 7, sum(map(ord, split))])
    bank = WordBank(rate)
    for voice in split_voices(split, per_pair, seed, quick):
        bank.voices.append(voice)
        bank.triggers.append(synthesize(TRIGGER, voice, rate, folder))
        for w in rng.choice(len(NEGATIVE_WORDS), size=min(negatives_per_voice, len(NEGATIVE_WORDS)), replace=False):
            bank.negatives.append(synthesize(NEGATIVE_WORDS[int(w)], voice, rate, folder))
    return bank


@dataclass(frozen=True)
class Framing:
    """How samples map to feature frames and to the model's output frames."""

    rate: int = 16000
    n_fft: int = 400  # 25 ms windows
    hop: int = 160  # every 10 ms
    n_mels: int = 40
    kernel: int = 15  # the course's Conv1D(196, kernel_size=15, strides=4)
    stride: int = 4
    label_frames: int = 9  # 9 x 40 ms = 0.36 s, the course's 50 of 1375 steps over 10 s

    def feature_frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop  # centred STFT frames

    def output_frames(self, n_samples: int) -> int:
        return (self.feature_frames(n_samples) - self.kernel) // self.stride + 1

    @property
    def samples_per_output(self) -> int:
        return self.hop * self.stride


def label_frames(ends, n_out: int, framing: Framing) -> np.ndarray:
    """The labels of a clip whose trigger words end at sample indices ``ends``: ``framing.label_frames``
    ones after the output frame in which each ends (cut at the clip's end), float32 ``(n_out,)``."""
    y = np.zeros(n_out, np.float32)
    for e in ends:
        j = int(e) // framing.samples_per_output
        y[j + 1: j + 1 + framing.label_frames] = 1.0
    return y


def _place(rng: np.random.Generator, length: int, n: int, taken: list, gap: int) -> tuple[int, int] | None:
    """A random segment ``[start, start + length)`` in ``[0, n)`` at least ``gap`` samples from every
    segment in ``taken`` (None after 100 tries, the course's ``get_random_time_segment`` loop)."""
    if length > n:
        return None
    for _ in range(100):
        s = int(rng.integers(0, n - length + 1))
        if all(s + length + gap <= a or s >= b + gap for a, b in taken):
            return s, s + length
    return None


@dataclass
class Clip:
    audio: np.ndarray  # float32 samples
    ends: list  # sample index after the last sample of each trigger word, in time order
    segments: list  # (start, end, is_trigger) of every inserted word


def make_clip(bank: WordBank, rng: np.random.Generator, seconds: float = 5.0, max_triggers: int = 4,
              max_negatives: int = 2) -> Clip:
    """One clip: background, then 0-``max_triggers`` trigger words and 0-``max_negatives`` other words
    at random non-overlapping positions (at least 50 ms apart), each at a random level."""
    n = int(round(seconds * bank.rate))
    x = background(n, bank.rate, rng, babble_clips=bank.negatives).astype(np.float64)
    taken: list = []
    words = [(bank.triggers[int(rng.integers(len(bank.triggers)))], True) for _ in range(int(rng.integers(0, max_triggers + 1)))]
    words += [(bank.negatives[int(rng.integers(len(bank.negatives)))], False)
              for _ in range(int(rng.integers(0, max_negatives + 1)))]
    segments = []
    for k in rng.permutation(len(words)):
        clip, is_trigger = words[int(k)]
        seg = _place(rng, len(clip), n, taken, gap=int(0.05 * bank.rate))
        if seg is None:
            continue
        taken.append(seg)
        x[seg[0]:seg[1]] += rng.uniform(0.15, 0.6) * clip
        segments.append((seg[0], seg[1], bool(is_trigger)))
    segments.sort()
    peak = np.abs(x).max()
    if peak > 0.99:
        x *= 0.99 / peak
    return Clip(x.astype(np.float32), [b for a, b, t in segments if t], segments)


def normalize_features(f: np.ndarray) -> np.ndarray:
    """Per-clip normalization of log-mel features ``(..., n_mels, frames)``: each band's mean over
    time removed, then divided by the clip's standard deviation (robust to the recording level)."""
    f = f - f.mean(axis=-1, keepdims=True)
    return (f / (f.std(axis=(-2, -1), keepdims=True) + 1e-5)).astype(np.float32)


def features(audio: np.ndarray, framing: Framing) -> np.ndarray:
    """Normalized log-mel features of one clip (or a batch), ``(..., n_mels, frames)``."""
    return normalize_features(log_mel_spectrogram(audio, framing.rate, framing.n_fft, framing.hop, framing.n_mels))


@dataclass
class ClipSet:
    x: np.ndarray  # (N, n_mels, frames) features
    y: np.ndarray  # (N, output frames) labels
    ends: list  # per clip, the trigger ends (samples)
    audio: list  # the first ``keep_audio`` clips' samples


def make_clips(bank: WordBank, n: int, seed: int, framing: Framing, seconds: float = 5.0, keep_audio: int = 0) -> ClipSet:
    """``n`` seeded clips of ``bank``'s words: features, labels and trigger ends (same seed, same clips)."""
    rng = np.random.default_rng(seed)
    n_samples = int(round(seconds * bank.rate))
    T, Ty = framing.feature_frames(n_samples), framing.output_frames(n_samples)
    x = np.empty((n, framing.n_mels, T), np.float32)
    y = np.empty((n, Ty), np.float32)
    ends, audio = [], []
    for i in range(n):
        c = make_clip(bank, rng, seconds)
        x[i] = features(c.audio, framing)
        y[i] = label_frames(c.ends, Ty, framing)
        ends.append(c.ends)
        if i < keep_audio:
            audio.append(c.audio)
    return ClipSet(x, y, ends, audio)


# ----- scoring ---------------------------------------------------------------------------
def detect_events(p, threshold: float = 0.5, refractory: int = 9) -> list[int]:
    """Output frames where ``p`` rises to ``threshold`` (previous frame below it, or frame 0), at least
    ``refractory`` frames after the previous detection."""
    p = np.asarray(p)
    above = p >= threshold
    rising = np.flatnonzero(above & ~np.concatenate([[False], above[:-1]]))
    out: list[int] = []
    for j in rising:
        if not out or j - out[-1] >= refractory:
            out.append(int(j))
    return out


def event_windows(ends, framing: Framing, tolerance: int = 2) -> list[tuple[int, int]]:
    """``[lo, hi)`` output frames in which a detection finds each trigger: its labelled frames,
    ``tolerance`` frames earlier at the start."""
    out = []
    for e in ends:
        j = int(e) // framing.samples_per_output + 1
        out.append((max(0, j - tolerance), j + framing.label_frames))
    return out


def match_events(detections, windows) -> tuple[int, int, int]:
    """``(true positives, false positives, false negatives)``: detections matched in time order to the
    first window that contains them and is not yet taken."""
    taken = [False] * len(windows)
    tp = 0
    for d in detections:
        for k, (lo, hi) in enumerate(windows):
            if not taken[k] and lo <= d < hi:
                taken[k] = True
                tp += 1
                break
    return tp, len(detections) - tp, len(windows) - tp


def _prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def event_scores(probs, ends_per_clip, framing: Framing, threshold: float = 0.5, tolerance: int = 2) -> dict:
    """Event precision, recall and F1 over clips (``probs``: ``(N, output frames)``)."""
    tp = fp = fn = 0
    for p, ends in zip(probs, ends_per_clip):
        a, b, c = match_events(detect_events(p, threshold, framing.label_frames), event_windows(ends, framing, tolerance))
        tp, fp, fn = tp + a, fp + b, fn + c
    return _prf(tp, fp, fn)


def frame_scores(probs, labels, threshold: float = 0.5) -> dict:
    """Per-frame precision, recall, F1 and accuracy of ``probs >= threshold`` against ``labels``."""
    pred = np.asarray(probs) >= threshold
    truth = np.asarray(labels) > 0.5
    tp = int(np.sum(pred & truth))
    fp = int(np.sum(pred & ~truth))
    fn = int(np.sum(~pred & truth))
    return {**_prf(tp, fp, fn), "accuracy": float(np.mean(pred == truth))}


def insert_chimes(audio, detections, framing: Framing, sound=None) -> np.ndarray:
    """``audio`` with a chime added at the end of each detection's output frame (the course's
    ``chime_on_activate``)."""
    x = np.asarray(audio, dtype=np.float64).copy()
    c = chime(framing.rate) if sound is None else np.asarray(sound, dtype=np.float64)
    for j in detections:
        s = (int(j) + 1) * framing.samples_per_output
        if s >= len(x):
            continue
        seg = c[: len(x) - s]
        x[s: s + len(seg)] += seg
    peak = np.abs(x).max() if len(x) else 0.0
    if peak > 0.99:
        x *= 0.99 / peak
    return x.astype(np.float32)
