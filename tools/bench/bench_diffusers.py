#!/usr/bin/env python3
"""Time diffusers (fp32, CPU) on a model folder: text encoder (batch 2), one UNet step with CFG
(batch 2), VAE decode (medians of at least 3 repeats), and peak RSS. Prints one JSON line. Same inputs as `sdfarm bench --model`."""
import argparse, json, resource, time, torch
from diffusers import StableDiffusionPipeline

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True); ap.add_argument("--size", type=int, default=512)
ap.add_argument("--threads", type=int, default=2); ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--render-steps", type=int, default=0, help="also time one whole render with this many euler steps")
a = ap.parse_args()
torch.set_num_threads(a.threads)
pipe = StableDiffusionPipeline.from_pretrained(a.model, safety_checker=None, torch_dtype=torch.float32)
lat = a.size // 8

def best(f):
    """Median of the repeats (at least 3)."""
    ts = []
    for _ in range(max(3, a.repeats)):
        s = time.perf_counter(); f(); ts.append(time.perf_counter() - s)
    return sorted(ts)[len(ts) // 2]

with torch.no_grad():
    ids = torch.tensor([[49406] + [320] * 75 + [49407], [49406] + [49407] * 76])
    text = best(lambda: pipe.text_encoder(ids))
    x = torch.randn(2, 4, lat, lat); ctx = torch.randn(2, 77, 768)
    unet = best(lambda: pipe.unet(x, 981, encoder_hidden_states=ctx))
    z = torch.randn(1, 4, lat, lat)
    vae = best(lambda: pipe.vae.decode(z))
    render = None
    if a.render_steps:
        from diffusers import EulerDiscreteScheduler
        pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
        s = time.perf_counter()
        pipe("a red bicycle", num_inference_steps=a.render_steps, height=a.size, width=a.size, guidance_scale=7.5,
             generator=torch.Generator().manual_seed(1))
        render = time.perf_counter() - s
result = {"engine": "diffusers", "text_encoder_s": text, "unet_step_s": unet, "vae_decode_s": vae,
          "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}
if render is not None:
    result["render_s"] = render
print(json.dumps(result))
