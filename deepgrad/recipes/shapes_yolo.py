"""Shapes, several objects per image: YOLO-style detection with anchors, score threshold and NMS (course 4, week 3).

The course's car-detection exercise at small scale: generated 48x48 RGB images with one
to three possibly overlapping circles, squares and triangles; a fully convolutional net
(three fused conv-ReLU-pool stages 16-32-64 with batch norm, a 3x3 and a 1x1 conv) whose
output is a 6x6 grid with 2 anchor boxes per cell (12x12 and 20x20 pixels) and
``[t_o, t_x, t_y, t_w, t_h, 3 class logits]`` per anchor, trained with the YOLO loss
(``deepgrad.vision.detection.yolo_loss``) by Adam with a cosine schedule. At test time:
decode, score = objectness x class probability, threshold, per-class non-max suppression
(IoU 0.5), at most 10 boxes, as in the course's ``yolo_eval``. Reports mAP@0.5 (all-point
interpolated AP per class, averaged; target >= 0.9) on held-out images, computed over
detections scoring at least 0.05 (the precision-recall curve needs the low-scoring ones),
and precision/recall at the course's score threshold 0.6; draws the 0.6-threshold
detections over test images.

Measured (seed 0, one BLAS thread): test mAP@0.5 **0.926** (AP circle 0.955, square
0.949, triangle 0.874); at score 0.6: precision 0.958, recall 0.841; 1,729 s on the
2-core machine shared with ~20 other processes.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

#: the ``deepgrad run`` flags this recipe takes (see deepgrad.recipes)
FLAGS = ("epochs", "seed", "lr", "batch_size")

DEFAULTS: dict[str, Any] = {"size": 48, "train": 4000, "dev": 300, "test": 1000, "epochs": 15, "batch_size": 32, "lr": 2e-3,
            "widths": [16, 32, 64], "head": 64, "anchors": [[12, 12], [20, 20]], "objects": [1, 3],
            "coord_weight": 5.0, "noobj_weight": 0.5, "map_score_threshold": 0.05, "score_threshold": 0.6,
            "nms_iou": 0.5, "max_boxes": 10}
QUICK: dict[str, Any] = {"train": 200, "dev": 50, "test": 50, "epochs": 1}


def precision_recall_at(dets, targets, iou_threshold=0.5):
    """Precision and recall of a fixed set of detections (matching as in mAP, class by class)."""
    from ..vision.boxes import match_detections

    tp = n_det = n_gt = 0
    for (pb, ps, pl), (gb, gl) in zip(dets, targets):
        n_det += len(pb)
        n_gt += len(gb)
        for c in np.unique(np.r_[pl, gl]).astype(int):
            tp += int(match_detections(pb[pl == c], ps[pl == c], gb[gl == c], iou_threshold).sum())
    return (tp / n_det if n_det else float("nan")), (tp / n_gt if n_gt else float("nan"))


def run(args) -> dict:
    import deepgrad as dg

    from .. import optim
    from ..data.datasets.shapes import CLASSES, make_shapes
    from ..tensor import Tensor
    from ..vision import boxes as B
    from ..vision.detection import YOLO, detect, yolo_loss, yolo_targets
    from .shapes_common import draw_boxes, finish_run, pyplot, setup, train_loop

    t0 = time.perf_counter()
    recipe = "shapes-yolo"
    cfg, seed, out = setup(args, recipe, DEFAULTS, QUICK)
    S = cfg["size"]
    gen: dict[str, Any] = dict(size=S, objects=tuple(cfg["objects"]))
    train, dev, test = (make_shapes(cfg[k], seed=1000 * seed + 10 + j, **gen)
                        for j, k in enumerate(("train", "dev", "test")))

    dg.manual_seed(seed)
    model = YOLO(len(CLASSES), cfg["anchors"], cfg["widths"], cfg["head"])
    grid = S // model.stride
    cfg["grid"] = grid
    T, C = yolo_targets(train.boxes, train.labels, grid, S, model.anchors, len(CLASSES))
    opt = optim.Adam(model.parameters(), lr=cfg["lr"])
    steps = cfg["epochs"] * -(-len(train) // cfg["batch_size"])
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=cfg["lr"] * 0.01)

    def step_fn(idx):
        pred = model(Tensor._wrap(train.images[idx]))
        return yolo_loss(pred, T[idx], C[idx], cfg["coord_weight"], cfg["noobj_weight"])

    def measure(data):
        dets = detect(model, data.images, S, cfg["map_score_threshold"], cfg["nms_iou"], cfg["max_boxes"])
        targets = list(zip(data.boxes, data.labels))
        m = B.mean_average_precision(dets, targets, len(CLASSES), 0.5)
        keep = [tuple(a[s >= cfg["score_threshold"]] for a in (b, s, c)) for b, s, c in dets]
        p, r = precision_recall_at(keep, targets)
        return {"map50": m["map"], **{f"ap50_{n}": a for n, a in zip(CLASSES, m["ap"])},
                "precision_at_0.6": p, "recall_at_0.6": r}, keep

    def evaluate():
        m, _ = measure(dev)
        return {f"dev_{k}": v for k, v in m.items()}

    history = train_loop(model, opt, len(train), cfg["batch_size"], cfg["epochs"], step_fn, evaluate, seed, sched,
                         name=recipe)
    test_m, keep = measure(test)
    results = {f"test_{k}": v for k, v in test_m.items()}
    results.update({f"dev_{k}": v for k, v in measure(dev)[0].items()})
    results["train_time_s"] = round(sum(r["time"] for r in history.rows), 1)

    pictures = []
    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(3, 6, figsize=(12, 6.6))
        for k, ax in enumerate(axes.ravel()):
            b, s, c = keep[k]
            draw_boxes(ax, test.images[k], b, c, s, test.boxes[k], CLASSES)
        fig.suptitle(f"{recipe}: detections with score >= {cfg['score_threshold']} after NMS (solid; red circle, "
                     f"green square, blue triangle), true boxes dashed\n"
                     f"test mAP@0.5 {test_m['map50']:.3f}", fontsize=9)
        fig.tight_layout()
        p = f"{out}/detections.png"
        fig.savefig(p, dpi=100)
        plt.close(fig)
        pictures.append(p)
    metrics = finish_run(out, recipe, model, history, results, cfg, seed, t0, pictures,
                         metric_keys=("dev_map50", "dev_ap50_circle", "dev_ap50_square", "dev_ap50_triangle"))
    per_class = ", ".join(f"{n} {results['test_ap50_' + n]:.3f}" for n in CLASSES)
    print(f"{recipe}: test mAP@0.5 {test_m['map50']:.4f}  (AP per class {per_class})  precision@0.6 "
          f"{test_m['precision_at_0.6']:.3f} recall@0.6 {test_m['recall_at_0.6']:.3f}  "
          f"({metrics['wall_time_s']:.1f} s)  -> {out}")
    return metrics
