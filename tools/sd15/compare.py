#!/usr/bin/env python3
"""Compare a PNG from `sdfarm render` with a diffusers .npy reference: per-channel max and mean |Δ| on 0–255."""
import sys, numpy as np, zlib, struct

def read_png(path):  # tiny reader for our own 8-bit RGB, non-interlaced PNGs
    data = open(path, "rb").read(); pos = 8; idat = b""; w = h = 0
    while pos < len(data):
        n, t = struct.unpack(">I4s", data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
        if t == b"IHDR": w, h = struct.unpack(">II", body[:8])
        elif t == b"IDAT": idat += body
    raw = zlib.decompress(idat); stride = w * 3; out = np.zeros((h, stride), np.int32); prev = np.zeros(stride, np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]; line = np.frombuffer(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)], np.uint8).astype(np.int32)
        cur = np.zeros(stride, np.int32)
        for x in range(stride):
            a = cur[x - 3] if x >= 3 else 0; b = prev[x]; c = prev[x - 3] if x >= 3 else 0
            if f == 0: p = 0
            elif f == 1: p = a
            elif f == 2: p = b
            elif f == 3: p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + p) & 255
        out[y] = cur; prev = cur
    return out.reshape(h, w, 3)

ours = read_png(sys.argv[1]).astype(np.int32); ref = np.load(sys.argv[2]).astype(np.int32)
d = np.abs(ours - ref)
mx = d.reshape(-1, 3).max(0); mean = d.reshape(-1, 3).mean(0)
print(f"max |Δ| per channel {mx.tolist()}, mean |Δ| per channel {[round(float(m), 4) for m in mean]}")
sys.exit(0 if mx.max() <= 3 and mean.max() <= 0.1 else 1)
