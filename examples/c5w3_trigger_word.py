# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Course 5, week 3: trigger word detection ("activate")
#
# The course mixes recordings of "activate", other words and 10 s backgrounds, computes a
# spectrogram (5511 frames x 101 frequencies), and trains Conv1D (196 filters, kernel 15,
# stride 4) -> BatchNorm -> ReLU -> dropout -> GRU(128) -> GRU(128) -> a per-step sigmoid
# that should be 1 for the 50 output steps after each "activate" ends; a chime is played
# after each detection.
#
# The course's recordings are not on this machine. Here every word is spoken by
# **espeak-ng** (`apt-get install espeak-ng`, or `bash scripts/get-data.sh`) in many
# accents, voice variants, speeds and pitches, over generated background (coloured noise,
# mains hum, babble of other words): `deepgrad.audio`. The dev clips are spoken by voices
# (accent + variant) never heard in training. Features are 40 log-mel bands every 10 ms;
# clips are 5 s (122 output steps of 40 ms) and the labels are the 9 steps (0.36 s) after
# each "activate", the course's 50 of 1375 steps over 10 s.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn, optim
from deepgrad.audio import trigger as T
from deepgrad.audio.synth import Voice, espeak_path, synthesize
from deepgrad.audio.wav import write_wav

args = _common.parse_args("c5w3_trigger_word", "Trigger-word detection on espeak-ng speech.")
results = _common.Results(args)
if espeak_path() is None:
    sys.exit("espeak-ng is not installed: apt-get install espeak-ng (or bash scripts/get-data.sh)")
dg.manual_seed(args.seed)
framing = T.Framing()
plt = _common.pyplot()

# %% [markdown]
# ## The words and their spectrograms
#
# The same word in three voices (accent + variant, speed in words per minute, pitch).

# %%
voices = [Voice("en-us", "m3", 150, 40), Voice("en-gb-scotland", "f2", 190, 60), Voice("en-029", "klatt", 130, 50)]
words = [synthesize(T.TRIGGER, v, framing.rate) for v in voices]
results["word_seconds"] = [round(len(w) / framing.rate, 3) for w in words]
if plt is not None:
    fig, axes = plt.subplots(1, 3, figsize=(12, 3))
    for ax, v, w in zip(axes, voices, words):
        ax.imshow(T.features(w, framing), aspect="auto", origin="lower", cmap="magma",
                  extent=(0, len(w) / framing.rate, 0, framing.n_mels))
        ax.set_title(f"'{T.TRIGGER}': {v}", fontsize=8)
        ax.set_xlabel("seconds")
    axes[0].set_ylabel("mel band")
    fig.tight_layout()
    fig.savefig(args.out / "words.png", dpi=90)
    plt.close(fig)

# %% [markdown]
# ## Training clips and their labels
#
# Each clip: background, 0-4 "activate" and 0-2 other words at random non-overlapping
# positions (the course's counts). Held-out voices speak the dev clips.

# %%
per_pair, negs = (1, 4) if args.quick else (2, 12)
n_train, n_dev, epochs = (48, 24, 2) if args.quick else (600, 200, 5)
train_bank = T.word_bank("train", framing.rate, per_pair, negs, seed=args.seed, quick=args.quick)
dev_bank = T.word_bank("dev", framing.rate, per_pair, negs, seed=args.seed, quick=args.quick)
train = T.make_clips(train_bank, n_train, seed=args.seed, framing=framing)
dev = T.make_clips(dev_bank, n_dev, seed=args.seed + 1, framing=framing, keep_audio=4)
results.add("output steps per clip", course=1375, ours=int(train.y.shape[1]), note="course: 10 s; here 5 s of 40 ms steps")
results.add("share of frames labelled 1 (train)", ours=float(train.y.mean()), pct=True)

# %% [markdown]
# ## The course's model, and ours
#
# The course's model, layer for layer (with the batch normalization after each GRU), has
# 523,329 parameters in Keras, which counts BatchNorm's running mean and variance; the
# same layers here have 522,425 trainable parameters and 904 running statistics.
# Ours is smaller for two cores: 40 mel bands, 96 filters, GRUs of 64.


# %%
class TriggerNet(nn.Module):
    def __init__(self, n_in, channels, hidden, bn_after_gru=False, dropout=0.2):
        super().__init__()
        self.conv = nn.Conv1d(n_in, channels, 15, stride=4)
        self.bn = nn.BatchNorm1d(channels)
        self.drop = nn.Dropout(dropout)
        self.gru1 = nn.GRU(channels, hidden, batch_first=True)
        self.gru2 = nn.GRU(hidden, hidden, batch_first=True)
        self.bn1 = nn.BatchNorm1d(hidden) if bn_after_gru else None
        self.bn2 = nn.BatchNorm1d(hidden) if bn_after_gru else None
        self.out = nn.Linear(hidden, 1)

    def _norm(self, bn, z):  # BatchNorm1d over (N, T, H): channels second
        return z if bn is None else bn(z.permute(0, 2, 1)).permute(0, 2, 1)

    def forward(self, x):
        z = self.drop(F.relu(self.bn(self.conv(x))))
        z, _ = self.gru1(z.permute(0, 2, 1))
        z, _ = self.gru2(self.drop(self._norm(self.bn1, z)))
        return self.out(self.drop(self._norm(self.bn2, z)))[..., 0]


course = TriggerNet(101, 196, 128, bn_after_gru=True)
trainable = sum(p.data.size for p in course.parameters())
running = sum(b.size for name, b in course.named_buffers() if "running" in name)
results.add("parameters of the course's model (with BN statistics)", course=523329, ours=int(trainable + running))
model = TriggerNet(framing.n_mels, 96, 64)
results.add("parameters of the model trained here", ours=int(sum(p.data.size for p in model.parameters())))

# %% [markdown]
# ## Training
#
# Adam, binary cross-entropy on every output step.


# %%
def predict(m, x):
    m.eval()
    with dg.no_grad():
        p = np.concatenate([1 / (1 + np.exp(-m(dg.tensor(x[i:i + 64])).data)) for i in range(0, len(x), 64)])
    m.train()
    return p


opt = optim.Adam(model.parameters(), lr=2e-3)
rng = np.random.default_rng(args.seed)
losses = []
for epoch in range(epochs):
    for idx in np.array_split(rng.permutation(n_train), max(1, n_train // 32)):
        loss = F.binary_cross_entropy_with_logits(model(dg.tensor(train.x[idx])), dg.tensor(train.y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.data))
    print(f"epoch {epoch + 1}/{epochs}: training loss {np.mean(losses[-(n_train // 32 or 1):]):.4f}")
results["losses"] = losses

# %% [markdown]
# ## Results on the dev clips (voices not heard in training)
#
# Frame accuracy is the course's measure; with about 10% of the frames labelled 1, a
# model that always says 0 already scores 0.90. F1 over the labelled frames, and over
# events (a detection counts when the output first reaches 0.5 within the labelled window
# of an "activate", or at most 2 steps before it; `deepgrad.audio.trigger` has the exact
# rule), say how well the word is found; all zeros scores 0 on both.

# %%
p = predict(model, dev.x)
ours, zeros = T.frame_scores(p, dev.y), T.frame_scores(np.zeros_like(p), dev.y)
ev, ev0 = T.event_scores(p, dev.ends, framing), T.event_scores(np.zeros_like(p), dev.ends, framing)
results.add("dev frame accuracy", course=0.946, ours=ours["accuracy"], pct=True)
results.add("dev frame accuracy, all zeros", course=0.90, ours=zeros["accuracy"], pct=True)
results.add("dev frame F1", ours=ours["f1"])
results.add("dev event F1", ours=ev["f1"], note=f"precision {ev['precision']:.2f}, recall {ev['recall']:.2f}")
results.add("dev event F1, all zeros", ours=ev0["f1"])
results["dev_scores"] = {"frame": ours, "event": ev, "zeros_frame": zeros, "zeros_event": ev0}

# %% [markdown]
# ## A chime after each detection
#
# The course's `chime_on_activate`: `dev_clip_chimes.wav` is a dev clip with a chime at
# each detection.

# %%
k = next((i for i in range(len(dev.audio)) if len(dev.ends[i]) >= 2), 0)
det = T.detect_events(p[k], 0.5, framing.label_frames)
write_wav(args.out / "dev_clip.wav", dev.audio[k], framing.rate)
write_wav(args.out / "dev_clip_chimes.wav", T.insert_chimes(dev.audio[k], det, framing), framing.rate)
results["chime_clip"] = {"triggers_end_s": [e / framing.rate for e in dev.ends[k]],
                         "detections_s": [(j + 1) * framing.samples_per_output / framing.rate for j in det]}
if plt is not None:
    fig, (a, b) = plt.subplots(2, 1, figsize=(10, 5), gridspec_kw={"height_ratios": [2, 1]})
    secs = len(dev.audio[k]) / framing.rate
    a.imshow(dev.x[k], aspect="auto", origin="lower", cmap="magma", extent=(0, secs, 0, framing.n_mels))
    for e in dev.ends[k]:
        a.axvline(e / framing.rate, color="cyan")
    a.set_title("dev clip: log-mel spectrogram (cyan: each 'activate' ends)")
    t = np.arange(len(p[k])) * framing.samples_per_output / framing.rate
    b.fill_between(t, dev.y[k], step="post", color="tab:green", alpha=0.3, label="label")
    b.plot(t, p[k], drawstyle="steps-post", label="output")
    for j in det:
        b.axvline((j + 1) * framing.samples_per_output / framing.rate, color="tab:red", ls="--")
    b.set_xlim(0, secs)
    b.set_xlabel("seconds (red: chime)")
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "trigger.png", dpi=90)
    plt.close(fig)

results.finish()
