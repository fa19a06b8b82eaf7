#!/usr/bin/env python3
"""Deterministic random-weight Stable Diffusion 1.5 checkpoint, in both layouts users have.

Writes (default under .cache/sd15-random/ at the repo root, never committed: ~6 GB):
  folder/                diffusers layout, fp32 safetensors, SD 1.5 configs, tokenizer from weights/clip
  sd15-random-fp16.safetensors   single-file original (CompVis) layout, fp16, with the junk buffers real files carry
and reference renders from diffusers for `check_sd15.py`.

Weights: every parameter ~ N(0, 1/fan_in) (norm weights 1 + N(0, 0.1²), biases N(0, 0.02²)), seeded, so
activations stay O(1) and images have structure. The fp16 single file holds the same weights rounded to
fp16; the reference for it is computed from the rounded weights.

Usage: tools/setup-python-env && .venv/bin/python tools/sd15/make_random_sd15.py [--out DIR]
"""
import argparse, json, os, shutil, sys
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools", "sd15"))
from ldm_names import diffusers_to_ldm  # noqa: E402

UNET = dict(sample_size=64, in_channels=4, out_channels=4, block_out_channels=[320, 640, 1280, 1280],
            down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
            up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3, layers_per_block=2,
            attention_head_dim=8, cross_attention_dim=768, norm_num_groups=32)
VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512],
           down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
           layers_per_block=2, norm_num_groups=32, sample_size=512, scaling_factor=0.18215)
SCHEDULER = {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
             "clip_sample": False, "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True,
             "steps_offset": 1, "trained_betas": None}


def reinit(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                if "norm" in name and name.endswith("weight"):
                    p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.02 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p[0].numel()
                std = 0.5 if "embedding" in name else fan_in ** -0.5
                p.copy_(std * torch.randn(p.shape, generator=g))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, ".cache", "sd15-random"))
    args = ap.parse_args()
    from diffusers import AutoencoderKL, UNet2DConditionModel, PNDMScheduler, StableDiffusionPipeline
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    from safetensors.torch import save_file

    torch.manual_seed(0)
    folder = os.path.join(args.out, "folder")
    os.makedirs(folder, exist_ok=True)
    unet = UNet2DConditionModel(**UNET); reinit(unet, 1)
    vae = AutoencoderKL(**VAE); reinit(vae, 2)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                        num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu"))
    reinit(text, 3)
    # Round to fp16 so the fp32 folder and the fp16 single file hold identical values.
    for m in (unet, vae, text):
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(p.half().float())
    tokenizer = CLIPTokenizer(os.path.join(REPO, "weights/clip/vocab.json"), os.path.join(REPO, "weights/clip/merges.txt"),
                              pad_token="<|endoftext|>", model_max_length=77)
    scheduler = PNDMScheduler.from_config(SCHEDULER)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    with open(os.path.join(folder, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(SCHEDULER, f, indent=2)

    state = {}
    for prefix, m in (("unet", unet), ("vae", vae), ("text", text)):
        for k, v in m.state_dict().items():
            if prefix == "text" and not k.startswith("text_model."):
                k = "text_model." + k
            if prefix == "vae" and "mid_block.attentions.0." in k and v.dim() == 2:
                v = v[:, :, None, None]  # original VAE attention projections are 1x1 convolutions
            state[diffusers_to_ldm(prefix, k, UNET["layers_per_block"], len(UNET["block_out_channels"]),
                                   VAE["layers_per_block"], len(VAE["block_out_channels"]))] = v.half().contiguous()
    state["betas"] = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000) ** 2
    state["alphas_cumprod"] = torch.cumprod(1 - state["betas"], 0)
    state["model_ema.decay"] = torch.tensor(0.9999)
    state["cond_stage_model.transformer.text_model.embeddings.position_ids"] = torch.arange(77, dtype=torch.int64)[None]
    save_file(state, os.path.join(args.out, "sd15-random-fp16.safetensors"))
    print("wrote", folder, "and", os.path.join(args.out, "sd15-random-fp16.safetensors"))


if __name__ == "__main__":
    main()
