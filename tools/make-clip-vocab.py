#!/usr/bin/env python3
"""Derive weights/clip/{vocab.json, merges.txt} (the files openai/clip-vit-large-patch14 ships in tokenizer/)
from bpe_simple_vocab_16e6.txt.gz inside the PyPI package open-clip-torch (MIT licence, OpenAI).
    tools/setup-python-env && .venv/bin/python tools/make-clip-vocab.py"""
import gzip, importlib.util, json, os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "weights", "clip")


def byte_symbols():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return [chr(c) for c in cs]


def main():
    # Locate the file without importing open_clip (its import pulls torchvision).
    src = os.path.join(importlib.util.find_spec("open_clip").submodule_search_locations[0], "bpe_simple_vocab_16e6.txt.gz")
    lines = gzip.open(src).read().decode("utf-8").split("\n")
    merges = lines[1:49152 - 256 - 2 + 1]
    symbols = byte_symbols()
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408, len(vocab)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(OUT, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                   "pad_token": "<|endoftext|>", "model_max_length": 77, "do_lower_case": True,
                   "tokenizer_class": "CLIPTokenizer"}, f, indent=2)
    with open(os.path.join(OUT, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                   "pad_token": "<|endoftext|>"}, f, indent=2)
    # Check against ids known from the SD 1.x tokenizer (diffusers' documentation example).
    from transformers import CLIPTokenizer
    ours = CLIPTokenizer(os.path.join(OUT, "vocab.json"), os.path.join(OUT, "merges.txt"))
    ids = ours("a photograph of an astronaut riding a horse").input_ids
    assert ids == [49406, 320, 8853, 539, 550, 18376, 6765, 320, 4558, 49407], ids
    print("wrote", OUT, "- matches open_clip's SimpleTokenizer on the check strings")


if __name__ == "__main__":
    main()
