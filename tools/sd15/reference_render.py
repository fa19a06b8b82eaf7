#!/usr/bin/env python3
"""Render with diffusers from the random SD 1.5 folder and save the uint8 image as .npy (for check_sd15)."""
import argparse, numpy as np, torch
from diffusers import StableDiffusionPipeline, DDIMScheduler, EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler

SAMPLERS = {"ddim": DDIMScheduler, "euler": EulerDiscreteScheduler, "euler_a": EulerAncestralDiscreteScheduler,
            "dpmpp_2m": DPMSolverMultistepScheduler}
ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True); ap.add_argument("--prompt", required=True)
ap.add_argument("--negative-prompt", default=""); ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--steps", type=int, default=3); ap.add_argument("--sampler", default="ddim")
ap.add_argument("--cfg-scale", type=float, default=7.5); ap.add_argument("--width", type=int, default=128)
ap.add_argument("--height", type=int, default=96); ap.add_argument("--out", required=True)
a = ap.parse_args()
torch.set_num_threads(2)
pipe = StableDiffusionPipeline.from_pretrained(a.model, safety_checker=None, torch_dtype=torch.float32)
pipe.scheduler = SAMPLERS[a.sampler].from_config(pipe.scheduler.config)
img = pipe(a.prompt, negative_prompt=a.negative_prompt or None, num_inference_steps=a.steps, guidance_scale=a.cfg_scale,
           width=a.width, height=a.height, generator=torch.Generator("cpu").manual_seed(a.seed), output_type="np").images[0]
np.save(a.out, (img * 255).round().astype("uint8"))
print("saved", a.out, img.shape)
