#!/usr/bin/env python3
"""Writes weights/clip/: vocab.json and merges.txt -- byte for byte the files openai/clip-vit-large-patch14
ships in tokenizer/ (and SD 1.x copies) -- derived from bpe_simple_vocab_16e6.txt.gz, which the PyPI package
open-clip-torch bundles (MIT licence, (c) 2021 OpenAI), plus SD 1.5's tokenizer_config.json and
special_tokens_map.json (padding with <|endoftext|>, 77 positions).

Then checks that transformers' CLIPTokenizer loaded from that folder gives the same ids as open_clip's
SimpleTokenizer on plain ASCII prompts. Deterministic; run twice, same bytes.

    tools/setup-python-env && .venv/bin/python tools/make-clip-vocab.py
"""
import gzip
import hashlib
import importlib.util
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "weights", "clip")

# The BPE file's first line is a version comment; CLIP uses the next 49152 - 256 - 2 = 48,894 merges
# (vocabulary size 49,408 = 256 bytes + 256 bytes with </w> + 48,894 merges + 2 special tokens).
NUM_MERGES = 49152 - 256 - 2

# SD 1.5's tokenizer/tokenizer_config.json and special_tokens_map.json (stable-diffusion-v1-5, which copied
# openai/clip-vit-large-patch14's and set pad_token to <|endoftext|>).
def _added(content, typed):
    d = {"content": content, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
    return {"__type": "AddedToken", **d} if typed else d


TOKENIZER_CONFIG = {
    "add_prefix_space": False,
    "bos_token": _added("<|startoftext|>", True),
    "do_lower_case": True,
    "eos_token": _added("<|endoftext|>", True),
    "errors": "replace",
    "model_max_length": 77,
    "name_or_path": "openai/clip-vit-large-patch14",
    "pad_token": "<|endoftext|>",
    "special_tokens_map_file": "./special_tokens_map.json",
    "tokenizer_class": "CLIPTokenizer",
    "unk_token": _added("<|endoftext|>", True),
}
SPECIAL_TOKENS_MAP = {
    "bos_token": _added("<|startoftext|>", False),
    "eos_token": _added("<|endoftext|>", False),
    "pad_token": "<|endoftext|>",
    "unk_token": _added("<|endoftext|>", False),
}

# Plain ASCII prompts: on these, every CLIP tokenizer variant agrees (no ftfy/NFC/HTML-entity differences).
ASCII_CHECKS = [
    "a photograph of an astronaut riding a horse", "", "a", "A RED Cat", "hello, world!", "!!!", "...", "a,b;c",
    "1024x768", "3.14", "it's", "don't", "I'LL", "we've they're you'd I'm", "tabs\tand\nnewlines", "  spaced   out  ",
    "(masterpiece:1.2), best quality", "((ultra detailed)), [bad hands]", "photo of a dog, 8k, dslr, bokeh",
    "portrait of a woman by greg rutkowski, trending on artstation", "an oil painting of a lighthouse at dusk",
    "email@example.com", "http://example.com/path?q=1&x=2", "#hashtag @mention", "C++ and C# code",
    "snake_case and kebab-case", "UPPERCASE_WITH_UNDERSCORE", "a|b|c", "~`^$%*{}<>", "1234567890",
    "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis", "x" * 60,
    "the quick brown fox jumps over the lazy dog " * 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz",
    "'s 't 're 've 'm 'll 'd", "rock'n'roll", "o'clock", "don''t", "lo-fi, hi-res, 4k uhd",
    "a cat:0.5 AND a dog:1.5", "<lora:foo:0.8>", "[[[a]]]", "{a|b}", "\"quoted\" 'single'", "end.",
]


def byte_symbols():
    """The 256 byte -> printable unicode symbols of GPT-2/CLIP byte-level BPE, in byte order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    # Vocabulary order: the printable bytes first (in byte order), then the remapped ones.
    return [table[b] for b in printable] + [table[b] for b in range(256) if b not in printable]


def open_clip_dir():
    spec = importlib.util.find_spec("open_clip")  # finding the package does not import it (it needs torchvision)
    if spec is None:
        sys.exit("open-clip-torch is not installed: run tools/setup-python-env")
    return spec.submodule_search_locations[0]


def load_simple_tokenizer(folder):
    """open_clip/tokenizer.py on its own (importing the open_clip package would pull torchvision)."""
    spec = importlib.util.spec_from_file_location("open_clip_simple_tokenizer", os.path.join(folder, "tokenizer.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SimpleTokenizer(os.path.join(folder, "bpe_simple_vocab_16e6.txt.gz"))


def main():
    folder = open_clip_dir()
    bpe = os.path.join(folder, "bpe_simple_vocab_16e6.txt.gz")
    lines = gzip.open(bpe).read().decode("utf-8").split("\n")
    merges = lines[1:1 + NUM_MERGES]
    assert len(merges) == NUM_MERGES and all(len(m.split(" ")) == 2 for m in merges)
    symbols = byte_symbols()
    vocab = symbols + [s + "</w>" for s in symbols] + [m.replace(" ", "") for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408 and len(set(vocab)) == 49408

    os.makedirs(OUT, exist_ok=True)
    # Same bytes as the Hugging Face files: one line, ", "/": " separators, UTF-8 (not \u escapes), no newline.
    with open(os.path.join(OUT, "vocab.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    with open(os.path.join(OUT, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(m + "\n" for m in merges))
    for name, obj in (("tokenizer_config.json", TOKENIZER_CONFIG), ("special_tokens_map.json", SPECIAL_TOKENS_MAP)):
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            f.write(json.dumps(obj, indent=2) + "\n")
    for name in ("vocab.json", "merges.txt"):
        data = open(os.path.join(OUT, name), "rb").read()
        print(f"{name}: {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}")

    # Check: transformers' CLIPTokenizer from the folder == open_clip's SimpleTokenizer (sot + encode + eot).
    from transformers import CLIPTokenizer
    ours = CLIPTokenizer.from_pretrained(OUT)
    assert ours.pad_token == "<|endoftext|>" and ours.pad_token_id == 49407 and ours.model_max_length == 77
    assert len(ours) == 49408, len(ours)
    reference = load_simple_tokenizer(folder)
    for text in ASCII_CHECKS:
        want = [49406] + reference.encode(text) + [49407]
        got = ours(text).input_ids
        assert got == want, f"{text!r}: transformers {got} != open_clip {want}"
    # A known id sequence (diffusers' documentation prompt through SD 1.x's tokenizer).
    assert ours("a photograph of an astronaut riding a horse").input_ids == \
        [49406, 320, 8853, 539, 550, 18376, 6765, 320, 4558, 49407]
    print(f"CLIPTokenizer({type(ours).__name__}, transformers) == open_clip SimpleTokenizer on {len(ASCII_CHECKS)} ASCII strings")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
