#!/usr/bin/env python3
"""Builds examples/models/demo-v7-c128-l2.safetensors: a tiny RWKV-7 whose output is a character
bigram model of an English text, so that the README's demo prints letters and words, not noise.

How: start from `rwkv-cli init` random weights (C 128, L 2, byte vocabulary), then
  * each byte b gets the embedding f_b = 8·(e_i − e_127), i = the byte's class (≤ 126 classes):
    mean 0 and variance 1, so LN(f_b; ln0 = 1, 0) = f_b;
  * head[v][i] = log P(v | class i) / 8 and head[v][127] = 0, so head · f_b = log P(v | b);
  * att.output and ffn.value are scaled down, so the (real, running) RWKV-7 blocks perturb the
    bigram only slightly; ln_out is the identity affine.
Usage: scripts/make-demo-model.py RWKV_CLI CORPUS.txt... OUT.safetensors   (standard library only)
"""
import json, math, struct, subprocess, sys, tempfile, os
from collections import Counter

cli, corpus_files, out = sys.argv[1], sys.argv[2:-1], sys.argv[-1]
C, V = 128, 256
with tempfile.TemporaryDirectory() as d:
    base = os.path.join(d, "base.safetensors")
    subprocess.run([cli, "init", "--arch", "v7", "--n-embd", str(C), "--n-layer", "2", "--vocab", str(V),
                    "--seed", "2026", "--tokenizer", "bytes", "--out", base], check=True)
    raw = open(base, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = bytearray(raw[8 + n:])

def get(name):
    b, e = header[name]["data_offsets"]
    return list(struct.unpack("<%df" % ((e - b) // 4), data[b:e]))

def put(name, values):
    b, e = header[name]["data_offsets"]
    assert (e - b) // 4 == len(values), name
    data[b:e] = struct.pack("<%df" % len(values), *values)

text = b"".join(open(f, "rb").read() for f in corpus_files)
markup = set(b"|`*#_=<>[]{}\\~^$")
text = bytes(c for c in text if (32 <= c < 127 or c == 10) and c not in markup)  # prose characters
classes = sorted(set(text))[:126]
cls = {b: i for i, b in enumerate(classes)}
other = cls[ord(" ")]  # bytes never seen behave like a space
pairs = Counter(zip(text, text[1:]))
first = Counter(text[:-1])

emb, head = [0.0] * (V * C), [0.0] * (V * C)
for b in range(V):
    i = cls.get(b, other)
    emb[b * C + i], emb[b * C + 127] = 8.0, -8.0
for a in classes:
    i = cls[a]
    for v in range(V):
        p = (pairs[(a, v)] + 0.01) / (first[a] + 0.01 * V)  # lightly smoothed bigram
        head[v * C + i] = max(math.log(p), -12.0) / 8.0
put("emb.weight", emb)
put("head.weight", head)
for name in ("blocks.0.ln0", "ln_out"):
    put(name + ".weight", [1.0] * C)
    put(name + ".bias", [0.0] * C)
for name in header:
    if name.endswith("att.output.weight") or name.endswith("ffn.value.weight"):
        put(name, [x * 0.02 for x in get(name)])
header["__metadata__"]["note"] = "demo: character bigram of English text inside RWKV-7 weights"
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
with open(out + ".tmp", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + data)
os.replace(out + ".tmp", out)
print("wrote", out, "with", len(classes), "character classes from", len(text), "bytes of text")
