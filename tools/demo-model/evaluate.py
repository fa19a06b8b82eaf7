"""Renders every held-out (shape, colour, background) combination of the sdfarm-shapes demo model through the
Swift engine (`sdfarm render`, one process per image) and scores the PNGs with world.classify, a pixel-statistics
classifier. Prints per-attribute accuracy, writes a JSON report and a contact sheet, and exits 1 when a target
(foreground colour >= 90 %, background colour >= 90 %, shape >= 70 %) is missed.

Before scoring, the classifier itself is checked on freshly drawn ground-truth images of the same combinations.
Run through `tools/demo-model/evaluate`.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import world  # noqa: E402

TARGETS = {"fg": 0.90, "bg": 0.90, "shape": 0.70}


def render(sdfarm, model, prompt, seed, args, path):
    cmd = [sdfarm, "render", "--model", model, "--prompt", prompt, "--seed", str(seed), "--steps", str(args.steps),
           "--sampler", args.sampler, "--cfg-scale", str(args.cfg_scale), "--width", str(args.size),
           "--height", str(args.size), "--output", path]
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads_per_render))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"sdfarm render failed (exit {r.returncode}) for {prompt!r} seed {seed}:\n{r.stderr.strip()}")
    return cmd


def ground_truth_check(combos, per_combo, seed):
    """Accuracy of the classifier on drawn images (random sizes and positions) of `combos`."""
    rng = np.random.default_rng(seed)
    ok = {"fg": 0, "bg": 0, "shape": 0}
    n = 0
    for shape, fg, bg in combos:
        for _ in range(per_combo):
            got = world.classify(world.draw(shape, fg, bg, rng))
            ok["fg"] += got["fg"] == fg
            ok["bg"] += got["bg"] == bg
            ok["shape"] += got["shape"] == shape
            n += 1
    return {"images": n, **{k: round(v / n, 4) for k, v in ok.items()}}


def contact_sheet(items, path, size, scale=2, columns=14):
    rows = (len(items) + columns - 1) // columns
    cell = size * scale + 4
    sheet = Image.new("RGB", (columns * cell, rows * cell), (128, 128, 128))
    for i, item in enumerate(items):
        img = Image.open(item["png"]).convert("RGB").resize((size * scale, size * scale), Image.NEAREST)
        r, c = divmod(i, columns)
        sheet.paste(img, (c * cell + 2, r * cell + 2))
    sheet.save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(REPO, "weights", "sdfarm-shapes"))
    ap.add_argument("--sdfarm", default=os.environ.get("SDFARM", os.path.join(REPO, ".build", "release", "sdfarm")),
                    help="the engine binary (default $SDFARM or .build/release/sdfarm)")
    ap.add_argument("--seeds", default="1,2,3,4,5,6,7,8",
                    help="comma-separated render seeds; every held-out combination is rendered with each (one seed "
                         "gives every prompt the same starting noise, so a few seeds say little on their own)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--sampler", default="euler_a")
    ap.add_argument("--cfg-scale", type=float, default=7.5)
    ap.add_argument("--size", type=int, default=world.SIZE, help="render size (the model is trained at 32x32)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="renders in parallel")
    ap.add_argument("--threads-per-render", type=int, default=1)
    ap.add_argument("--train-sample", type=int, default=0,
                    help="also render this many training combinations (seen captions), for comparison")
    ap.add_argument("--out", default=os.path.join(REPO, ".cache", "demo-model-eval"))
    args = ap.parse_args()
    if not os.access(args.sdfarm, os.X_OK):
        sys.exit(f"evaluate: no engine binary at {args.sdfarm}; build it (swift build -c release --product sdfarm) or set SDFARM")
    if not os.path.isfile(os.path.join(args.model, "model_index.json")):
        sys.exit(f"evaluate: {args.model} is not a diffusers folder (no model_index.json); run tools/demo-model/train first")
    seeds = [int(s) for s in args.seeds.split(",")]
    os.makedirs(args.out, exist_ok=True)

    held = world.held_out_combinations()
    gt = ground_truth_check(held, 10, seed=12345)
    print(f"classifier on drawn ground truth ({gt['images']} images of the held-out combinations): "
          f"fg {gt['fg']:.1%}  bg {gt['bg']:.1%}  shape {gt['shape']:.1%}")

    jobs = [("held_out", c, s) for c in held for s in seeds]
    if args.train_sample:
        train = world.train_combinations()
        pick = np.random.default_rng(7).choice(len(train), size=min(args.train_sample, len(train)), replace=False)
        jobs += [("train", train[i], seeds[0]) for i in sorted(pick)]

    def one(job):
        split, (shape, fg, bg), seed = job
        prompt = world.caption(shape, fg, bg)
        path = os.path.join(args.out, f"{split}-{fg}-{shape}-on-{bg}-seed{seed}.png")
        render(args.sdfarm, args.model, prompt, seed, args, path)
        got = world.classify(np.array(Image.open(path).convert("RGB")))
        return {"split": split, "prompt": prompt, "seed": seed, "want": {"shape": shape, "fg": fg, "bg": bg},
                "got": got, "png": path, "correct": {"fg": got["fg"] == fg, "bg": got["bg"] == bg, "shape": got["shape"] == shape}}

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, jobs))
    seconds = time.time() - t0

    summary = {}
    for split in ("held_out", "train"):
        rs = [r for r in results if r["split"] == split]
        if not rs:
            continue
        acc = {k: sum(r["correct"][k] for r in rs) / len(rs) for k in ("fg", "bg", "shape")}
        acc["all_three"] = sum(all(r["correct"].values()) for r in rs) / len(rs)
        summary[split] = {"images": len(rs), "combinations": len({r["prompt"] for r in rs}),
                          **{k: round(v, 4) for k, v in acc.items()}}
    per_shape = {s: round(np.mean([r["correct"]["shape"] for r in results if r["split"] == "held_out" and r["want"]["shape"] == s]), 3)
                 for s in world.SHAPES}
    confusion = {}
    for r in results:
        if r["split"] == "held_out":
            key = f"{r['want']['shape']}->{r['got']['shape']}"
            confusion[key] = confusion.get(key, 0) + 1
    per_seed = {}
    for seed in seeds:
        rs = [r for r in results if r["split"] == "held_out" and r["seed"] == seed]
        per_seed[str(seed)] = {k: round(sum(r["correct"][k] for r in rs) / len(rs), 4) for k in ("fg", "bg", "shape")}
    h = summary["held_out"]
    passed = all(h[k] >= t for k, t in TARGETS.items())
    settings = {"sampler": args.sampler, "steps": args.steps, "cfg_scale": args.cfg_scale, "size": f"{args.size}x{args.size}",
                "seeds": seeds, "engine": os.path.relpath(args.sdfarm, REPO) if args.sdfarm.startswith(REPO) else args.sdfarm}
    report = {"model": os.path.relpath(args.model, REPO), "settings": settings, "targets": TARGETS, "passed": passed,
              "summary": summary, "held_out_accuracy_by_seed": per_seed,
              "held_out_shape_accuracy_by_shape": per_shape, "held_out_shape_confusion": confusion,
              "classifier_ground_truth": gt, "render_seconds": round(seconds, 1), "results": results}
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    contact_sheet([r for r in results if r["split"] == "held_out"], os.path.join(args.out, "held-out.png"), args.size)

    print(f"rendered {len(results)} images through {settings['engine']} in {seconds:.0f}s "
          f"({args.sampler}, {args.steps} steps, cfg {args.cfg_scale}, {args.size}x{args.size}, seeds {seeds})")
    for split, s in summary.items():
        print(f"{split:9s} {s['combinations']:3d} combinations, {s['images']:3d} images: fg {s['fg']:.1%}  bg {s['bg']:.1%}  "
              f"shape {s['shape']:.1%}  all three {s['all_three']:.1%}")
    for seed, acc in per_seed.items():
        print(f"  held-out, seed {seed:>3s}: fg {acc['fg']:.1%}  bg {acc['bg']:.1%}  shape {acc['shape']:.1%}")
    print(f"held-out shape accuracy by shape: {per_shape}; confusion (want->got): {dict(sorted(confusion.items()))}")
    print(f"report: {os.path.join(args.out, 'report.json')}; contact sheet: {os.path.join(args.out, 'held-out.png')}")
    verdict = "PASS" if passed else "FAIL"
    print(f"{verdict}: targets fg >= {TARGETS['fg']:.0%}, bg >= {TARGETS['bg']:.0%}, shape >= {TARGETS['shape']:.0%} "
          f"on {h['combinations']} held-out combinations")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
