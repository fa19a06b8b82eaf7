"""The synthetic world of the sdfarm-shapes demo model: vocabulary, captions, the held-out split, a
deterministic renderer of captioned images, and the pixel-statistics classifier used by `evaluate`.

Only numpy: training (train.py) and evaluation (evaluate.py) both import this file, so the words, colours,
split and classifier can never drift apart.
"""
import numpy as np

SIZE = 32  # images are SIZE x SIZE RGB

# Named colours (RGB 0-255). Chosen far apart in RGB (the closest pair, orange/yellow, is 100 apart) so that
# the nearest-colour classifier is unambiguous on clean images.
COLOURS = {
    "red": (210, 30, 40),
    "orange": (245, 130, 20),
    "yellow": (240, 230, 30),
    "green": (30, 160, 60),
    "blue": (40, 70, 220),
    "purple": (150, 40, 200),
    "white": (245, 245, 245),
    "black": (25, 25, 25),
}
COLOUR_NAMES = list(COLOURS)
SHAPES = ["circle", "square", "triangle"]

TEMPLATE = "a {fg} {shape} on a {bg} background"

# Geometry (pixels, 32x32 image): the shape's bounding box is s x s with s in [SIZE_MIN, SIZE_MAX]; it stays
# MARGIN pixels clear of the border, so the border is always background.
SIZE_MIN, SIZE_MAX, MARGIN = 12, 20, 3
SUPERSAMPLE = 4  # anti-aliased edges: coverage measured on a 4x4 sub-pixel grid


def caption(shape, fg, bg):
    return TEMPLATE.format(fg=fg, shape=shape, bg=bg)


def all_combinations():
    """Every (shape, fg, bg) with fg != bg: 3 x 8 x 7 = 168."""
    return [(s, f, b) for f in COLOUR_NAMES for b in COLOUR_NAMES if f != b for s in SHAPES]


def held_out_shape(fg, bg):
    """For every ordered colour pair exactly one shape is never shown in training: shape index
    (i_fg + 2 * i_bg) mod 3. Every (fg, bg) pair is still seen with the two other shapes, and every
    (shape, fg) and (shape, bg) pair is seen with most of the other colours."""
    i, j = COLOUR_NAMES.index(fg), COLOUR_NAMES.index(bg)
    return SHAPES[(i + 2 * j) % 3]


def is_held_out(shape, fg, bg):
    return held_out_shape(fg, bg) == shape


def train_combinations():
    return [c for c in all_combinations() if not is_held_out(*c)]


def held_out_combinations():
    return [c for c in all_combinations() if is_held_out(*c)]


def _coverage(shape, cx, cy, s):
    """Fraction of each pixel covered by the shape (SIZE x SIZE float32), by supersampling."""
    n = SIZE * SUPERSAMPLE
    coords = (np.arange(n, dtype=np.float32) + 0.5) / SUPERSAMPLE
    y, x = coords[:, None], coords[None, :]
    h = s / 2.0
    if shape == "circle":
        inside = (x - cx) ** 2 + (y - cy) ** 2 <= h * h
    elif shape == "square":
        inside = (np.abs(x - cx) <= h) & (np.abs(y - cy) <= h)
    elif shape == "triangle":  # upright isosceles: base s at the bottom, apex s above it (bbox s x s)
        top, bottom = cy - h, cy + h
        t = (y - top) / s  # 0 at the apex, 1 at the base
        inside = (y >= top) & (y <= bottom) & (np.abs(x - cx) <= t * h)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    inside = inside.astype(np.float32).reshape(SIZE, SUPERSAMPLE, SIZE, SUPERSAMPLE)
    return inside.mean(axis=(1, 3))


def draw(shape, fg, bg, rng):
    """One image (SIZE x SIZE x 3 uint8) of `shape` in colour `fg` on `bg`, random size and position from `rng`
    (a numpy Generator), so the same generator state always gives the same image."""
    s = float(rng.uniform(SIZE_MIN, SIZE_MAX))
    lo, hi = MARGIN + s / 2, SIZE - MARGIN - s / 2
    cx, cy = float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi))
    a = _coverage(shape, cx, cy, s)[..., None]
    img = (1 - a) * np.array(COLOURS[bg], np.float32) + a * np.array(COLOURS[fg], np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------- classifier

PALETTE = np.array([COLOURS[c] for c in COLOUR_NAMES], np.float32)
BORDER = 2          # background = median colour of the outer 2-pixel frame
FG_DISTANCE = 60.0  # a pixel is a foreground candidate when it is this far (RGB Euclidean) from the background
# Shape from the fill ratio of the foreground's bounding box: square ~1.0, circle ~pi/4 = 0.785, triangle ~0.5 (a little more at 32 px: edge pixels).
FILL_CIRCLE, FILL_SQUARE = 0.69, 0.93


def nearest_colour(rgb):
    return COLOUR_NAMES[int(np.argmin(((PALETTE - np.asarray(rgb, np.float32)) ** 2).sum(axis=1)))]


def classify(img):
    """Pixel statistics only -> dict(fg, bg, shape, fill, fg_pixels, ...). Documented in README.md here.

    1. background colour: per-channel median of the 2-pixel border frame -> nearest named colour;
    2. foreground candidates: pixels farther than 60 (RGB distance) from that median; their per-channel
       median -> nearest named colour (no candidates: fg = None);
    3. foreground mask: pixels closer to the foreground median than to the background median (splits
       anti-aliased edges at the midpoint); bounding box of the mask's rows/columns that hold at least
       2 mask pixels (ignores isolated specks);
    4. shape from the fill ratio (mask pixels / bounding-box area): >= 0.93 square, >= 0.69 circle, else triangle.
    """
    img = np.asarray(img, np.float32)[..., :3]
    h, w, _ = img.shape
    frame = np.concatenate([img[:BORDER].reshape(-1, 3), img[-BORDER:].reshape(-1, 3),
                            img[BORDER:-BORDER, :BORDER].reshape(-1, 3), img[BORDER:-BORDER, -BORDER:].reshape(-1, 3)])
    bg_rgb = np.median(frame, axis=0)
    out = {"bg": nearest_colour(bg_rgb), "bg_rgb": [round(float(v), 1) for v in bg_rgb],
           "fg": None, "fg_rgb": None, "shape": None, "fill": None, "fg_pixels": 0}
    dist_bg = np.sqrt(((img - bg_rgb) ** 2).sum(axis=2))
    cand = dist_bg > FG_DISTANCE
    if cand.sum() < 4:
        return out
    fg_rgb = np.median(img[cand], axis=0)
    out["fg"], out["fg_rgb"] = nearest_colour(fg_rgb), [round(float(v), 1) for v in fg_rgb]
    mask = ((img - fg_rgb) ** 2).sum(axis=2) < ((img - bg_rgb) ** 2).sum(axis=2)
    rows = np.where(mask.sum(axis=1) >= 2)[0]
    cols = np.where(mask.sum(axis=0) >= 2)[0]
    out["fg_pixels"] = int(mask.sum())
    if len(rows) == 0 or len(cols) == 0:
        return out
    box = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    fill = float(box.sum()) / box.size
    out["fill"] = round(fill, 3)
    out["shape"] = "square" if fill >= FILL_SQUARE else "circle" if fill >= FILL_CIRCLE else "triangle"
    return out
