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
# # Course 4, week 3: car detection with YOLO (on generated shapes)
#
# The course runs a pretrained YOLOv2 on road photographs: a 19x19 grid, 5 anchor boxes
# per cell and 85 numbers per anchor (objectness, box, 80 class probabilities), then
# keeps the boxes whose score (objectness x class probability) is at least 0.6 and
# removes overlapping ones with non-max suppression (IoU 0.5, at most 10 boxes).
#
# Offline there are neither road photographs nor YOLOv2's weights, so we **train** a small
# YOLO from scratch on images the project generates: circles, squares and triangles (our
# "cars", "pedestrians" and "signs") on textured backgrounds, several per image and
# possibly overlapping (`deepgrad.data.datasets.make_shapes`). Everything else is the
# course's pipeline: a grid with anchors, the YOLO outputs, filtering by score, IoU and
# non-max suppression (`deepgrad.vision.boxes`), and mAP@0.5 to measure it.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
from deepgrad import optim
from deepgrad.data.datasets import SHAPES_CLASSES, make_shapes
from deepgrad.vision import boxes as B
from deepgrad.vision.detection import YOLO, detect, yolo_loss, yolo_targets

args = _common.parse_args("c4w3_car_detection", "YOLO-style detection on generated shapes.",
                          epochs=(int, 6, "training epochs (default 6)"))
dg.manual_seed(args.seed)
results = _common.Results(args)
cfg = dict(size=48, train=2000, test=500, epochs=args.epochs, batch=32, lr=2e-3)
if args.quick:
    cfg.update(train=160, test=40, epochs=1)

# %% [markdown]
# ## 1. Intersection over union and non-max suppression
#
# IoU = area of the intersection / area of the union. Non-max suppression keeps the
# highest-scoring box, drops every box overlapping it by more than the threshold, and
# repeats. `box_iou`, `nms` and `batched_nms` (per class) have torchvision's names.

# %%
box1, box2 = np.array([[2, 1, 4, 3]]), np.array([[1, 2, 3, 4]])
iou = float(B.box_iou(box1, box2)[0, 0])
print(f"IoU of (2, 1, 4, 3) and (1, 2, 3, 4): {iou:.4f}")  # overlap 1, union 4 + 4 - 1
results.add("IoU of two 2x2 boxes overlapping by 1x1", None, round(iou, 4), note="1 / 7")
cands = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [21, 19, 31, 29]], float)
scores = np.array([0.9, 0.8, 0.7, 0.95])
kept = B.nms(cands, scores, 0.5)
print("NMS at IoU 0.5 keeps", kept.tolist())
results.add("NMS keeps (4 boxes, two overlapping pairs)", None, str(kept.tolist()))

# %% [markdown]
# ## 2. The data: generated shapes with boxes

# %%
train = make_shapes(cfg["train"], size=cfg["size"], objects=(1, 3), seed=args.seed)
test = make_shapes(cfg["test"], size=cfg["size"], objects=(1, 3), seed=args.seed + 1000)
print(f"{len(train)} training and {len(test)} test images, {sum(len(b) for b in test.boxes)} test objects")

# %% [markdown]
# ## 3. The model and its outputs
#
# Three conv-ReLU-pool stages take a 48x48 image to a 6x6 grid (8 pixels per cell); a
# 1x1 convolution gives each cell 2 anchors x (1 objectness + 4 box + 3 classes). The
# course's output is 19 x 19 x 5 x 85 (80 classes); ours is 6 x 6 x 2 x 8. The box
# centre is `(cell + sigmoid(t_x, t_y)) * cell size`, its sides `anchor * exp(t_w, t_h)`.

# %%
model = YOLO(num_classes=3, anchors=((12, 12), (20, 20)))
grid = cfg["size"] // model.stride
out_shape = tuple(model(dg.tensor(train.images[:1])).shape[1:])
print("output per image:", out_shape)
results.add("output per image (grid x grid x anchors x numbers)", "19x19x5x85", "x".join(map(str, out_shape)))
T, C = yolo_targets(train.boxes, train.labels, grid, cfg["size"], model.anchors, 3)

# %% [markdown]
# ## 4. Training with the YOLO loss
#
# Objectness (binary cross-entropy on every anchor, the empty ones weighted 0.5), box
# coordinates (squared error, weight 5) and class (cross-entropy) for the anchors
# responsible for an object: the one in the cell holding the object's centre whose
# shape fits best.

# %%
opt = optim.Adam(model.parameters(), lr=cfg["lr"])
steps = cfg["epochs"] * -(-len(train) // cfg["batch"])
sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=cfg["lr"] * 0.01)
rng = np.random.default_rng(args.seed)
losses = []
for epoch in range(cfg["epochs"]):
    model.train()
    order = rng.permutation(len(train))
    for s in range(0, len(train), cfg["batch"]):
        idx = order[s:s + cfg["batch"]]
        loss, parts = yolo_loss(model(dg.tensor(train.images[idx])), T[idx], C[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.data))
    print(f"epoch {epoch + 1}: mean loss {np.mean(losses[-(len(train) // cfg['batch']):]):.3f}")
results["losses"] = losses

# %% [markdown]
# ## 5. Filtering: score threshold, non-max suppression, at most 10 boxes
#
# As the course's `yolo_eval`: score = objectness x class probability; keep >= 0.6; NMS
# per class at IoU 0.5; at most 10 boxes. mAP@0.5 (the area under each class's
# precision-recall curve, all-point interpolation, averaged over classes) is computed on
# all boxes scoring >= 0.05, since the curve needs the low-scoring ones too.

# %%
dets = detect(model, test.images, cfg["size"], score_threshold=0.05, iou_threshold=0.5, max_boxes=10)
m = B.mean_average_precision(dets, list(zip(test.boxes, test.labels)), 3)
shown = [tuple(a[s >= 0.6] for a in (b, s, c)) for b, s, c in dets]
n_kept = sum(len(b) for b, _, _ in shown)
print(f"test mAP@0.5 {m['map']:.3f}; AP per class " + ", ".join(f"{n} {a:.3f}" for n, a in zip(SHAPES_CLASSES, m["ap"])))
results.add("score threshold / NMS IoU / max boxes", "0.6 / 0.5 / 10", "0.6 / 0.5 / 10")
results.add("test mAP@0.5", None, m["map"], note=f"{len(test)} held-out images; `deepgrad run shapes-yolo` trains longer")
results.add("boxes kept at score >= 0.6 / true objects", None, f"{n_kept} / {sum(len(b) for b in test.boxes)}")
results["map"] = m

plt = _common.pyplot()
if plt is not None:
    from deepgrad.recipes.shapes_common import draw_boxes

    fig, axes = plt.subplots(2, 6, figsize=(12, 4.6))
    for k, ax in enumerate(axes.ravel()):
        b, s, c = shown[k]
        draw_boxes(ax, test.images[k], b, c, s, test.boxes[k], SHAPES_CLASSES)
    fig.suptitle(f"YOLO on held-out shapes: boxes scoring >= 0.6 after NMS (solid), true boxes (dashed); "
                 f"mAP@0.5 {m['map']:.3f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out / "detections.png", dpi=100)
    plt.close(fig)
    print(f"picture: {args.out / 'detections.png'}")

# %%
results.finish()
