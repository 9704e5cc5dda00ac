"""Trigger-word detection ("activate"): espeak-ng speech over generated noise, Conv1d + GRU, frame and event F1.

Course 5, week 3 ("trigger word detection"): clips of a few seconds with 0-4 spoken
"activate" and 0-2 other words at random positions over generated background (coloured
noise, mains hum, babble), the words synthesized offline by espeak-ng in many accents,
voice variants, speeds and pitches (:mod:`deepgrad.audio.trigger`); dev and test clips are
spoken by voices never heard in training. The model is the course's, sized for two
cores: log-mel frames -> Conv1d (kernel 15, stride 4) -> BatchNorm -> ReLU -> dropout ->
GRU -> dropout -> GRU -> dropout -> a per-frame sigmoid that should be 1 for the
``label_frames`` output frames after each "activate" ends. Reports frame-level and
event-level precision, recall and F1 (defined in :mod:`deepgrad.audio.trigger`) and frame
accuracy on the test clips beside an all-zeros model, at threshold 0.5 and at the
threshold best on dev; writes ``metrics.json``, ``history.csv``, ``model.safetensors``,
``curves_loss.png``, ``trigger.png`` (spectrogram, labels and output of test clips),
``test_clip.wav`` and ``test_clip_chimes.wav`` (a chime after each detection). Needs espeak-ng.
"""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from ..nn import GRU, BatchNorm1d, Conv1d, Dropout, Linear, Module
from ..nn import functional as F

#: the `deepgrad run` flags this recipe takes (any other is refused)
FLAGS = ("epochs", "seed", "lr", "batch_size", "config")
DEFAULTS: dict[str, Any] = {
    "train_clips": 2000, "dev_clips": 200, "test_clips": 400, "seconds": 5.0,
    "epochs": 12, "batch_size": 32, "lr": 2e-3,
    "conv_channels": 96, "hidden": 64, "dropout": 0.2,  # the course: 196 filters, GRU 128 x 2, 523,329 parameters
    "per_pair": 2, "negatives_per_voice": 12,  # voices: each accent+variant pair at 2 speeds/pitches
    "quick_train_clips": 64, "quick_dev_clips": 16, "quick_test_clips": 24, "quick_epochs": 2,
    "quick_per_pair": 1, "quick_negatives_per_voice": 4,
}
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.1, 0.91, 0.05))


class TriggerModel(Module):
    """The course's trigger-word model: ``(N, n_mels, frames)`` -> logits ``(N, output frames)``."""

    def __init__(self, n_mels: int = 40, channels: int = 96, hidden: int = 64, kernel: int = 15, stride: int = 4,
                 dropout: float = 0.2):
        super().__init__()
        self.conv = Conv1d(n_mels, channels, kernel, stride=stride)
        self.bn = BatchNorm1d(channels)
        self.drop = Dropout(dropout)
        self.gru1 = GRU(channels, hidden, batch_first=True)
        self.gru2 = GRU(hidden, hidden, batch_first=True)
        self.out = Linear(hidden, 1)

    def forward(self, x):
        z = self.drop(F.relu(self.bn(self.conv(x))))  # (N, C, T')
        z, _ = self.gru1(z.permute(0, 2, 1))
        z, _ = self.gru2(self.drop(z))
        return self.out(self.drop(z))[..., 0]  # (N, T') logits


def predict(model, x, batch: int = 64) -> np.ndarray:
    from ..autograd import no_grad
    from ..tensor import Tensor

    model.eval()
    with no_grad():
        out = [1.0 / (1.0 + np.exp(-model(Tensor._wrap(x[i:i + batch])).data)) for i in range(0, len(x), batch)]
    model.train()
    return np.concatenate(out).astype(np.float32)


def scores(probs, clips, framing, threshold: float) -> dict:
    from ..audio.trigger import event_scores, frame_scores

    return {"frame": frame_scores(probs, clips.y, threshold), "event": event_scores(probs, clips.ends, framing, threshold)}


def run(args) -> dict:
    import deepgrad as dg

    from .. import optim
    from ..audio import trigger as T
    from ..audio.synth import require_espeak
    from ..train.history import History
    from ._common import config_overrides, finish, out_dir, setting, train_epoch

    t0 = time.perf_counter()
    recipe = "trigger-word"
    require_espeak()
    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    cfg: dict[str, Any] = {k: v for k, v in DEFAULTS.items() if not k.startswith("quick")}
    for k in ("train_clips", "dev_clips", "test_clips", "per_pair", "negatives_per_voice"):
        if quick:
            cfg[k] = DEFAULTS[f"quick_{k}"]
    cfg.update(config_overrides(args))  # --config FILE (keys of DEFAULTS); the flags below win
    cfg.update(quick=quick, epochs=setting(args, "epochs", DEFAULTS["quick_epochs"] if quick else DEFAULTS["epochs"]),
               lr=setting(args, "lr", DEFAULTS["lr"]), batch_size=setting(args, "batch_size", DEFAULTS["batch_size"]),
               optimizer="Adam", trigger=T.TRIGGER)
    out = out_dir(args, recipe)
    framing = T.Framing()
    cfg["framing"] = {k: getattr(framing, k) for k in ("rate", "n_fft", "hop", "n_mels", "kernel", "stride", "label_frames")}
    progress = not quick

    tb = time.perf_counter()
    banks = {s: T.word_bank(s, framing.rate, cfg["per_pair"], cfg["negatives_per_voice"], seed=seed, quick=quick)
             for s in ("train", "dev", "test")}
    sets = {s: T.make_clips(banks[s], cfg[f"{s}_clips"], seed=seed * 1000 + k, framing=framing, seconds=cfg["seconds"],
                            keep_audio=8 if s == "test" else 0)
            for k, s in enumerate(("train", "dev", "test"))}
    cfg["voices"] = {s: sorted({v.name for v in banks[s].voices}) for s in banks}
    cfg.update(train_examples=len(sets["train"].x), dev_examples=len(sets["dev"].x), test_examples=len(sets["test"].x))
    data_s = time.perf_counter() - tb
    if progress:
        print(f"{recipe}: {sum(len(b.triggers) + len(b.negatives) for b in banks.values())} spoken words, "
              f"{sum(len(c.x) for c in sets.values())} clips of {cfg['seconds']} s made in {data_s:.0f} s; "
              f"labels: {sets['train'].y.mean():.1%} of the training frames are 1", flush=True)

    dg.manual_seed(seed)
    model = TriggerModel(framing.n_mels, cfg["conv_channels"], cfg["hidden"], framing.kernel, framing.stride, cfg["dropout"])
    opt = optim.Adam(model.parameters(), lr=cfg["lr"])
    rng = np.random.default_rng(seed)
    history = History()
    xtr, ytr = sets["train"].x, sets["train"].y
    bs = cfg["batch_size"]
    best, best_state = -1.0, None
    for epoch in range(1, cfg["epochs"] + 1):
        te = time.perf_counter()
        order = rng.permutation(len(xtr))
        losses = train_epoch(history, epoch, order, bs, lambda idx: F.binary_cross_entropy_with_logits(
            model(dg.tensor(xtr[idx])), dg.tensor(ytr[idx])), opt)
        if losses is None:  # a loss that is not finite: history.stop_reason says where
            break
        p_dev = predict(model, sets["dev"].x)
        eps = 1e-7
        dev_loss = float(-np.mean(sets["dev"].y * np.log(p_dev + eps) + (1 - sets["dev"].y) * np.log(1 - p_dev + eps)))
        s = scores(p_dev, sets["dev"], framing, 0.5)
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "dev_loss": dev_loss,
                        "dev_accuracy": s["frame"]["accuracy"], "dev_frame_f1": s["frame"]["f1"],
                        "dev_event_f1": s["event"]["f1"], "time_s": round(time.perf_counter() - te, 2)})
        if s["event"]["f1"] > best:
            best, best_state = s["event"]["f1"], model.state_dict()
        if progress:
            print(f"{recipe} epoch {epoch}/{cfg['epochs']}: train loss {np.mean(losses):.4f}  dev loss {dev_loss:.4f}  "
                  f"dev frame F1 {s['frame']['f1']:.3f}  event F1 {s['event']['f1']:.3f}  "
                  f"({time.perf_counter() - te:.1f} s)", flush=True)
    if best_state is not None:
        model.load_state_dict(best_state)

    p_dev, p_test = predict(model, sets["dev"].x), predict(model, sets["test"].x)
    dev_by_t = {t: scores(p_dev, sets["dev"], framing, t)["event"]["f1"] for t in THRESHOLDS}
    thr = max(THRESHOLDS, key=lambda t: (dev_by_t[t], -abs(t - 0.5)))
    test = scores(p_test, sets["test"], framing, 0.5)
    test_tuned = scores(p_test, sets["test"], framing, thr)
    zeros = scores(np.zeros_like(p_test), sets["test"], framing, 0.5)
    dev = scores(p_dev, sets["dev"], framing, 0.5)

    files = _write_examples(out, sets["test"], p_test, framing, recipe)
    results = {
        "test_accuracy": test["frame"]["accuracy"],
        "test_event_f1": test["event"]["f1"], "test_frame_f1": test["frame"]["f1"],
        "test_event_precision": test["event"]["precision"], "test_event_recall": test["event"]["recall"],
        "test_frame_precision": test["frame"]["precision"], "test_frame_recall": test["frame"]["recall"],
        "zeros_test_event_f1": zeros["event"]["f1"], "zeros_test_frame_f1": zeros["frame"]["f1"],
        "zeros_test_accuracy": zeros["frame"]["accuracy"],
        "dev_event_f1": dev["event"]["f1"], "dev_frame_f1": dev["frame"]["f1"], "dev_accuracy": dev["frame"]["accuracy"],
        "dev_threshold": thr, "test_event_f1_at_dev_threshold": test_tuned["event"]["f1"],
        "test_frame_f1_at_dev_threshold": test_tuned["frame"]["f1"],
        "test_scores": test, "test_scores_at_dev_threshold": test_tuned, "zeros_test_scores": zeros,
        "dev_event_f1_by_threshold": {str(t): v for t, v in dev_by_t.items()},
        "test_triggers": int(sum(len(e) for e in sets["test"].ends)),
        "data_seconds": round(data_s, 1), "example_files": files,
        "best_epoch": int(history.best("dev_event_f1", mode="max")["epoch"]) if len(history) else 0,
    }
    metrics = finish(out, recipe, model, history, results, cfg, seed, t0)
    print(f"{recipe}: test event F1 {test['event']['f1']:.3f} (P {test['event']['precision']:.3f}, "
          f"R {test['event']['recall']:.3f}; all zeros {zeros['event']['f1']:.3f}), frame F1 {test['frame']['f1']:.3f} "
          f"(all zeros {zeros['frame']['f1']:.3f}), frame accuracy {test['frame']['accuracy']:.3f} "
          f"(all zeros {zeros['frame']['accuracy']:.3f}); at the dev threshold {thr}: event F1 "
          f"{test_tuned['event']['f1']:.3f}; {metrics['wall_time_s']:.1f} s -> {out}")
    return metrics


def _write_examples(out: str, clips, probs, framing, recipe: str) -> list[str]:
    """``test_clip.wav`` / ``test_clip_chimes.wav`` of the first kept test clip with two or more
    triggers (else the first), and ``trigger.png`` of up to three kept test clips."""
    from ..audio.trigger import detect_events, insert_chimes
    from ..audio.wav import write_wav

    if not clips.audio:
        return []
    kept = range(len(clips.audio))
    pick = next((i for i in kept if len(clips.ends[i]) >= 2), 0)
    det = detect_events(probs[pick], 0.5, framing.label_frames)
    write_wav(os.path.join(out, "test_clip.wav"), clips.audio[pick], framing.rate)
    write_wav(os.path.join(out, "test_clip_chimes.wav"), insert_chimes(clips.audio[pick], det, framing), framing.rate)
    files = ["test_clip.wav", "test_clip_chimes.wav"]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return files
    show = [pick] + [i for i in kept if i != pick][:2]
    fig, axes = plt.subplots(2 * len(show), 1, figsize=(10, 3.2 * len(show)), sharex=False,
                             gridspec_kw={"height_ratios": [2, 1] * len(show)})
    sec_per_out = framing.samples_per_output / framing.rate
    for k, i in enumerate(show):
        a, b = axes[2 * k], axes[2 * k + 1]
        n = len(clips.x[i][0])
        a.imshow(clips.x[i], aspect="auto", origin="lower", cmap="magma",
                 extent=(0, n * framing.hop / framing.rate, 0, framing.n_mels))
        for e in clips.ends[i]:
            a.axvline(e / framing.rate, color="cyan", lw=1)
        a.set_ylabel("mel band")
        a.set_title(f"test clip {i}: log-mel spectrogram (cyan: end of each 'activate')", fontsize=9)
        t = np.arange(len(probs[i])) * sec_per_out
        b.fill_between(t, clips.y[i], step="post", color="tab:green", alpha=0.3, label="label")
        b.plot(t, probs[i], color="tab:blue", drawstyle="steps-post", label="model output")
        for j in detect_events(probs[i], 0.5, framing.label_frames):
            b.axvline(j * sec_per_out, color="tab:red", ls="--", lw=1)
        b.axhline(0.5, color="grey", lw=0.5)
        b.set_ylim(-0.05, 1.05)
        b.set_xlim(0, n * framing.hop / framing.rate)
        b.set_ylabel("p(trigger)")
        b.legend(loc="upper right", fontsize=7)
    axes[-1].set_xlabel("seconds (red dashes: detections, where the chime goes)")
    fig.suptitle(f"{recipe}: test clips (voices not heard in training)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "trigger.png"), dpi=90)
    plt.close(fig)
    return files + ["trigger.png"]
