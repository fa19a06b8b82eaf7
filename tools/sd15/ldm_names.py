"""diffusers → original LDM (CompVis) tensor names for SD 1.x, any layers_per_block. Our own mapping,
written from REFERENCE.md §6 (the inverse of what Sources/Diffusion/Weights/SingleFileCheckpoint.swift reads)."""

RESNET = [("norm1.", "in_layers.0."), ("conv1.", "in_layers.2."), ("time_emb_proj.", "emb_layers.1."),
          ("norm2.", "out_layers.0."), ("conv2.", "out_layers.3."), ("conv_shortcut.", "skip_connection.")]


def _resnet(rest):
    for a, b in RESNET:
        if rest.startswith(a):
            return b + rest[len(a):]
    return rest


def _unet(k, L, levels):
    p = "model.diffusion_model."
    if k.startswith("time_embedding.linear_1."): return p + "time_embed.0." + k.split("linear_1.", 1)[1]
    if k.startswith("time_embedding.linear_2."): return p + "time_embed.2." + k.split("linear_2.", 1)[1]
    if k.startswith("conv_in."): return p + "input_blocks.0.0." + k[len("conv_in."):]
    if k.startswith("conv_norm_out."): return p + "out.0." + k[len("conv_norm_out."):]
    if k.startswith("conv_out."): return p + "out.2." + k[len("conv_out."):]
    parts = k.split(".")
    if parts[0] == "down_blocks":
        i = int(parts[1]); kind = parts[2]
        if kind == "downsamplers":
            return p + f"input_blocks.{(i + 1) * (L + 1)}.0.op." + ".".join(parts[5:])
        j = int(parts[3]); rest = ".".join(parts[4:])
        idx = 1 + i * (L + 1) + j
        return p + (f"input_blocks.{idx}.0." + _resnet(rest) if kind == "resnets" else f"input_blocks.{idx}.1." + rest)
    if parts[0] == "mid_block":
        j = int(parts[2]); rest = ".".join(parts[3:])
        return p + (f"middle_block.{2 * j}." + _resnet(rest) if parts[1] == "resnets" else "middle_block.1." + rest)
    if parts[0] == "up_blocks":
        i = int(parts[1]); kind = parts[2]
        if kind == "upsamplers":
            return None  # placed by the caller, which knows whether the level has attention
        j = int(parts[3]); rest = ".".join(parts[4:])
        idx = i * (L + 1) + j
        return p + (f"output_blocks.{idx}.0." + _resnet(rest) if kind == "resnets" else f"output_blocks.{idx}.1." + rest)
    raise KeyError(k)


def _vae(k, L, levels):
    p = "first_stage_model."
    if k.startswith(("quant_conv.", "post_quant_conv.")): return p + k
    part, rest = k.split(".", 1)
    q = p + part + "."
    if rest.startswith(("conv_in.", "conv_out.")): return q + rest
    if rest.startswith("conv_norm_out."): return q + "norm_out." + rest[len("conv_norm_out."):]
    if rest.startswith("mid_block.resnets."):
        j = int(rest.split(".")[2]); tail = rest.split(".", 3)[3]
        return q + f"mid.block_{j + 1}." + tail.replace("conv_shortcut.", "nin_shortcut.")
    if rest.startswith("mid_block.attentions.0."):
        tail = rest[len("mid_block.attentions.0."):]
        for a, b in (("group_norm.", "norm."), ("to_q.", "q."), ("to_k.", "k."), ("to_v.", "v."), ("to_out.0.", "proj_out.")):
            if tail.startswith(a):
                return q + "mid.attn_1." + b + tail[len(a):]
    bits = rest.split(".")
    i = int(bits[1])
    level = i if part == "encoder" else levels - 1 - i
    name = "down" if part == "encoder" else "up"
    if bits[2] == "resnets":
        return q + f"{name}.{level}.block.{bits[3]}." + ".".join(bits[4:]).replace("conv_shortcut.", "nin_shortcut.")
    sampler = "downsample" if part == "encoder" else "upsample"
    return q + f"{name}.{level}.{sampler}.conv." + ".".join(bits[5:])


def diffusers_to_ldm(component, key, unet_layers, unet_levels, vae_layers, vae_levels, up_has_attention=None):
    if component == "text":
        return "cond_stage_model.transformer." + key
    if component == "vae":
        return _vae(key, vae_layers, vae_levels)
    name = _unet(key, unet_layers, unet_levels)
    if name is None:  # up_blocks.i.upsamplers.0.conv.*
        parts = key.split(".")
        i = int(parts[1]); L = unet_layers
        has_attn = up_has_attention[i] if up_has_attention is not None else i > 0
        return "model.diffusion_model." + f"output_blocks.{i * (L + 1) + L}.{2 if has_attn else 1}.conv." + ".".join(parts[5:])
    return name
