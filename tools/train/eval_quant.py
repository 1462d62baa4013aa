#!/usr/bin/env python3
"""Quality of the quantized precisions against f32 on held-out fortunes (the model card's table).

  tools/train/eval_quant.py build/tools/rwkv-cli examples/models/fortune-v7-c128-l2.safetensors --bytes 4096

Runs `rwkv-cli eval --mode seq --backend cpu --precision P` for each precision on the first --bytes
bytes of the held-out stream (fortune_data.py) and prints bits per byte (of the next byte, over
--bytes − 1 predictions) and how often each precision's top-1 byte equals f32's. numpy only.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fortune_data  # noqa: E402


def logits_for(cli, model, tokens, precision, threads):
    with tempfile.TemporaryDirectory() as d:
        tok, out = os.path.join(d, "tokens.json"), os.path.join(d, "logits.f32")
        with open(tok, "w") as f:
            json.dump(tokens, f)
        subprocess.run([cli, "eval", "--model", model, "--tokens", tok, "--logits-out", out, "--mode", "seq",
                        "--backend", "cpu", "--precision", precision, "--threads", str(threads)], check=True)
        return np.fromfile(out, dtype="<f4").reshape(len(tokens), -1).astype(np.float64)


def bits_per_byte(logits, tokens):
    z = logits[:-1]
    log_norm = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
    nll = log_norm - z[np.arange(len(z)), tokens[1:]]
    return float(nll.mean() / np.log(2))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cli")
    p.add_argument("model")
    p.add_argument("--bytes", type=int, default=4096)
    p.add_argument("--precisions", default="f32,int8,int4")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    _, held = fortune_data.split_streams()
    tokens = list(held[:a.bytes])
    ref = None
    print(f"{len(tokens)} held-out bytes ({len(tokens) - 1} predictions)")
    print("precision  bits/byte  top-1 agreement with f32")
    for prec in a.precisions.split(","):
        lg = logits_for(a.cli, a.model, tokens, prec, a.threads)
        if ref is None:
            ref = lg
        agree = float((lg.argmax(1) == ref.argmax(1)).mean())
        print(f"{prec:9s}  {bits_per_byte(lg, np.array(tokens)):.4f}     {100 * agree:.2f}%")


if __name__ == "__main__":
    main()
