"""Trains the sdfarm-shapes demo model from scratch on the CPU and saves it as a diffusers folder.

Stage 1: AutoencoderKL (32x32 RGB <-> 4x16x16 latents) on drawn images, L1 + MSE reconstruction + a tiny KL.
Stage 2: CLIPTextModel + UNet2DConditionModel jointly, standard epsilon-prediction DDPM objective
(scaled_linear betas 0.00085..0.012, 1000 steps) with offset noise and min-SNR-5 loss weights, 10 % empty
captions for classifier-free guidance, EMA weights.

Everything is drawn from fixed seeds (numpy PCG64 for the data, torch.manual_seed for the networks, 2 torch
threads), so a rerun on the same software versions gives the same weights. Run through `tools/demo-model/train`.
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import world  # noqa: E402

import diffusers  # noqa: E402
import transformers  # noqa: E402
from diffusers import AutoencoderKL, EulerAncestralDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer  # noqa: E402

VOCAB = os.path.join(REPO, "weights", "clip")

CONFIG = {
    "seed": 20261127,
    "threads": 2,
    "vae": dict(in_channels=3, out_channels=3, block_out_channels=[16, 32],
                down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                layers_per_block=1, norm_num_groups=8, latent_channels=4, sample_size=world.SIZE),
    "vae_train": dict(steps=600, batch=16, lr=2e-3, warmup=50, kl_weight=1e-6),
    "text": dict(vocab_size=49408, max_position_embeddings=77, hidden_size=64, num_hidden_layers=2,
                 num_attention_heads=4, intermediate_size=128, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                 bos_token_id=49406, eos_token_id=49407, pad_token_id=49407, projection_dim=64),
    "unet": dict(sample_size=world.SIZE // 2, in_channels=4, out_channels=4, block_out_channels=[32, 64, 64],
                 down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                 up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
                 layers_per_block=1, attention_head_dim=4, cross_attention_dim=64, norm_num_groups=16),
    # noise_offset: a per-image, per-channel constant added to the training noise ("offset noise"). Without it the
    # model learns to read the global colour from the ~7 % of signal left at t = 999 and, at sampling time, reads
    # it from the random mean of the seed's noise instead of from the prompt: the background colour then follows
    # the seed. min_snr_gamma: loss weight min(SNR, 5) / SNR (Hang et al. 2023), which spends the short training
    # on the noisy steps where shape and colours are decided rather than on fine detail.
    "unet_train": dict(steps=4800, batch=32, pool=10240, lr=1e-3, warmup=150, final_lr_fraction=0.1, uncond_prob=0.1,
                       ema_decay=0.999, noise_offset=0.1, min_snr_gamma=5.0),
    # diffusers EulerAncestralDiscreteScheduler with SD's training schedule. clip_sample/set_alpha_to_one
    # false as in SD 1.5's file: DDIM built from this config would otherwise take DDIM's defaults (true) and
    # clip x̂₀ to [-1, 1], which these unit-variance latents exceed.
    "scheduler": {"_class_name": "EulerAncestralDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "epsilon",
                  "set_alpha_to_one": False, "steps_offset": 1, "timestep_spacing": "linspace", "trained_betas": None},
}


def log(msg, f=None):
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    print(line, flush=True)
    if f:
        f.write(line + "\n")
        f.flush()


def lr_at(step, cfg):
    if step < cfg["warmup"]:
        return cfg["lr"] * (step + 1) / cfg["warmup"]
    p = (step - cfg["warmup"]) / max(1, cfg["steps"] - cfg["warmup"])
    lo = cfg.get("final_lr_fraction", 0.1)
    return cfg["lr"] * (lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * p)))


class Data:
    """Deterministic stream of (images, combination indices) drawn from the training combinations."""

    def __init__(self, seed, combos):
        self.rng = np.random.default_rng(seed)
        self.combos = combos

    def batch(self, n):
        idx = self.rng.integers(len(self.combos), size=n)
        imgs = np.stack([world.draw(*self.combos[i], self.rng) for i in idx])
        x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1
        return x, idx


def train_vae(cfg, out_log):
    torch.manual_seed(cfg["seed"] + 1)
    vae = AutoencoderKL(**cfg["vae"], scaling_factor=1.0)
    tc = cfg["vae_train"]
    opt = torch.optim.AdamW(vae.parameters(), lr=tc["lr"], weight_decay=0.0)
    # The VAE sees every combination (held-out ones included): it only learns to compress colours and edges;
    # the held-out split is about which *captions* the text encoder and UNet see.
    data = Data(cfg["seed"] + 2, world.all_combinations())
    t0 = time.time()
    for step in range(tc["steps"]):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, tc)
        x, _ = data.batch(tc["batch"])
        post = vae.encode(x).latent_dist
        z = post.sample()
        rec = vae.decode(z).sample
        l1 = (rec - x).abs().mean()
        mse = F.mse_loss(rec, x)
        kl = post.kl().mean()
        loss = l1 + mse + tc["kl_weight"] * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == tc["steps"] - 1:
            log(f"vae step {step:5d}/{tc['steps']} l1 {l1.item():.4f} mse {mse.item():.5f} kl {kl.item():.1f} "
                f"lr {lr_at(step, tc):.2e} {time.time() - t0:.0f}s", out_log)
    vae.eval()
    # scaling_factor: 1 / std of the latent means over a fixed sample, so the UNet sees ~unit-variance latents.
    with torch.no_grad():
        x, idx = Data(cfg["seed"] + 3, world.all_combinations()).batch(512)
        mean = vae.encode(x).latent_dist.mean
        rec = vae.decode(mean).sample
        err = ((rec - x).abs() * 127.5).mean().item()
        std = mean.std().item()
        imgs = ((rec.permute(0, 2, 3, 1).clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
        want = world.all_combinations()
        got = [world.classify(im) for im in imgs]
        rec_acc = {k: sum(g[k] == want[i][j] for g, i in zip(got, idx)) / len(got) for j, k in enumerate(("shape", "fg", "bg"))}
    log(f"classifier on 512 VAE reconstructions: {rec_acc}", out_log)
    vae.register_to_config(scaling_factor=round(1.0 / std, 5))
    log(f"vae done in {time.time() - t0:.0f}s: latent std {std:.4f} -> scaling_factor {vae.config.scaling_factor}; "
        f"mean |reconstruction error| {err:.2f}/255", out_log)
    return vae, {"seconds": round(time.time() - t0, 1), "final_l1": round(l1.item(), 5), "final_mse": round(mse.item(), 6),
                 "latent_std": round(std, 5), "scaling_factor": vae.config.scaling_factor,
                 "reconstruction_mae_255": round(err, 3),
                 "classifier_on_reconstructions": rec_acc}


def train_diffusion(cfg, vae, tokenizer, out_log):
    torch.manual_seed(cfg["seed"] + 4)
    text = CLIPTextModel(CLIPTextConfig(**cfg["text"]))
    unet = UNet2DConditionModel(**cfg["unet"])
    tc = cfg["unet_train"]
    combos = world.train_combinations()
    captions = [world.caption(*c) for c in combos] + [""]
    ids = tokenizer(captions, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    empty = len(combos)
    params = list(text.parameters()) + list(unet.parameters())
    opt = torch.optim.AdamW(params, lr=tc["lr"], weight_decay=0.0)
    ema = [p.detach().clone() for p in params]
    sched = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    acp = sched.alphas_cumprod.float()
    gen = torch.Generator().manual_seed(cfg["seed"] + 6)
    sf = vae.config.scaling_factor
    t0, running = time.time(), None
    # A fixed pool of drawn images, encoded once (latent mean and std, so every use draws a fresh posterior sample).
    data = Data(cfg["seed"] + 5, combos)
    means, stds, labels = [], [], []
    with torch.no_grad():
        for _ in range(tc["pool"] // 256):
            x, idx = data.batch(256)
            post = vae.encode(x).latent_dist
            means.append(post.mean)
            stds.append(post.std)
            labels.append(torch.from_numpy(idx))
    means, stds, labels = torch.cat(means), torch.cat(stds), torch.cat(labels)
    log(f"encoded a pool of {len(labels)} training images in {time.time() - t0:.0f}s", out_log)
    order = torch.randperm(len(labels), generator=gen)
    pos = 0
    for step in range(tc["steps"]):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, tc)
        if pos + tc["batch"] > len(order):
            order, pos = torch.randperm(len(labels), generator=gen), 0
        sel = order[pos:pos + tc["batch"]]
        pos += tc["batch"]
        z0 = (means[sel] + stds[sel] * torch.randn(means[sel].shape, generator=gen)) * sf
        b = z0.shape[0]
        drop = torch.rand(b, generator=gen) < tc["uncond_prob"]
        cap = torch.where(drop, torch.full((b,), empty), labels[sel])
        t = torch.randint(0, 1000, (b,), generator=gen)
        noise = torch.randn(z0.shape, generator=gen)
        if tc["noise_offset"]:
            noise = noise + tc["noise_offset"] * torch.randn((b, z0.shape[1], 1, 1), generator=gen)
        a = acp[t].view(-1, 1, 1, 1)
        zt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        cond = text(ids[cap]).last_hidden_state
        pred = unet(zt, t, cond).sample
        per_image = ((pred - noise) ** 2).mean(dim=(1, 2, 3))
        if tc["min_snr_gamma"]:
            snr = acp[t] / (1 - acp[t])
            per_image = per_image * snr.clamp(max=tc["min_snr_gamma"]) / snr
        loss = per_image.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(tc["ema_decay"], (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - decay)
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 100 == 0 or step == tc["steps"] - 1:
            el = time.time() - t0
            log(f"unet step {step:5d}/{tc['steps']} loss {loss.item():.4f} (avg {running:.4f}) lr {lr_at(step, tc):.2e} "
                f"{el:.0f}s, eta {el / (step + 1) * (tc['steps'] - step - 1):.0f}s", out_log)
    with torch.no_grad():
        for p, e in zip(params, ema):
            p.copy_(e)
    return text.eval(), unet.eval(), {"seconds": round(time.time() - t0, 1), "final_loss_avg": round(running, 5)}


def save(folder, vae, text, unet, tokenizer, cfg):
    scheduler = EulerAncestralDiscreteScheduler.from_config(cfg["scheduler"])
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    tmp = folder + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    pipe.to(torch.float16).save_pretrained(tmp, safe_serialization=True)
    with open(os.path.join(tmp, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(cfg["scheduler"], f, indent=2)
        f.write("\n")
    tok = os.path.join(tmp, "tokenizer")
    shutil.rmtree(tok)
    os.makedirs(tok)
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(VOCAB, name), os.path.join(tok, name))
    # keep the model card (written by hand, not by training) across retrains
    card = os.path.join(folder, "README.md")
    if os.path.exists(card):
        shutil.copy(card, os.path.join(tmp, "README.md"))
    shutil.rmtree(folder, ignore_errors=True)
    os.rename(tmp, folder)


def digest(folder):
    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            if name.endswith(".safetensors"):
                with open(os.path.join(root, name), "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--output", default=os.path.join(REPO, "weights", "sdfarm-shapes"))
    ap.add_argument("--vae-steps", type=int, help="override (quick experiments only)")
    ap.add_argument("--unet-steps", type=int, help="override (quick experiments only)")
    ap.add_argument("--vae-from", help="experiments only: load a trained VAE folder instead of training one")
    ap.add_argument("--vae-only", action="store_true", help="experiments only: stop after the VAE, saving it to OUTPUT/vae")
    args = ap.parse_args()
    cfg = json.loads(json.dumps(CONFIG))
    if args.vae_steps is not None:
        cfg["vae_train"]["steps"] = args.vae_steps
    if args.unet_steps is not None:
        cfg["unet_train"]["steps"] = args.unet_steps
    torch.set_num_threads(cfg["threads"])
    torch.use_deterministic_algorithms(True)
    folder = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    log_path = folder + ".train.log"
    t0 = time.time()
    with open(log_path, "w") as out_log:
        log(f"torch {torch.__version__} diffusers {diffusers.__version__} transformers {transformers.__version__} "
            f"numpy {np.__version__}; {cfg['threads']} threads; output {folder}", out_log)
        tokenizer = CLIPTokenizer.from_pretrained(VOCAB)
        if args.vae_from:
            vae, vae_stats = AutoencoderKL.from_pretrained(args.vae_from).eval(), {"loaded_from": args.vae_from}
        else:
            vae, vae_stats = train_vae(cfg, out_log)
        if args.vae_only:
            vae.save_pretrained(os.path.join(folder, "vae"))
            return
        for p in vae.parameters():
            p.requires_grad_(False)
        text, unet, diff_stats = train_diffusion(cfg, vae, tokenizer, out_log)
        wall = time.time() - t0
        save(folder, vae, text, unet, tokenizer, cfg)
        sizes = {p: sum(v.numel() for v in m.state_dict().values()) for p, m in (("vae", vae), ("text_encoder", text), ("unet", unet))}
        report = {"wall_seconds": round(wall, 1), "vae": vae_stats, "diffusion": diff_stats, "parameters": sizes,
                  "weights_sha256": digest(folder), "config": cfg,
                  "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                               "transformers": transformers.__version__, "numpy": np.__version__},
                  "train_combinations": len(world.train_combinations()),
                  "held_out_combinations": len(world.held_out_combinations())}
        with open(os.path.join(folder, "training.json"), "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        log(f"done: training wall time {wall / 60:.1f} min; weights sha256 {report['weights_sha256']}; "
            f"parameters {sizes}; saved {folder}", out_log)
    shutil.move(log_path, os.path.join(folder, "train.log"))  # the log travels with the weights


if __name__ == "__main__":
    main()
