#!/usr/bin/env python3
"""The training script's PyTorch RWKV-7 (tools/train/rwkv7_model.py) and our C++ model agree.

Loads the shipped safetensors into the PyTorch model, runs a fixed byte string, and compares the
logits with `rwkv-cli eval` in seq and rnn mode (raw f32 [T, V]): max |Δlogit| must be ≤ 1e-4.
Also checks the hand-written delta-rule backward against plain autograd (float64, tiny shapes).
Exits 77 (a ctest skip) when torch cannot be imported.

usage: test_torch_matches_cpp.py RWKV_CLI MODEL.safetensors
"""
import json
import os
import subprocess
import sys
import tempfile

SYSTEM_PYTHON = "/usr/bin/python3"  # where Debian's python3-torch installs

try:
    import numpy as np
    import torch
except ImportError:
    # CMake may have found another interpreter (pyenv, a venv) first; Debian's torch is for /usr/bin.
    if os.path.exists(SYSTEM_PYTHON) and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) \
            and not os.environ.get("RWKV_TORCH_TEST_REEXEC"):
        os.environ["RWKV_TORCH_TEST_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    print("SKIP: torch (python3-torch) is not importable")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "train"))
from rwkv7_model import load_file, model_from_tensors, wkv7, wkv7_reference  # noqa: E402

TOLERANCE = 1e-4
TEXT = b"Q: Why did the chicken cross the road?\nA: To get to the other side.\n\t\t-- Anonymous\n\n"


def check_backward():
    """_DeltaRule's backward == autograd through the reference loop (float64)."""
    B, T, C, H = 2, 5, 16, 2
    g = torch.Generator().manual_seed(3)
    grads = []
    for fn in (wkv7, wkv7_reference):
        r, k, v = (torch.randn(B, T, C, generator=g, dtype=torch.float64) for _ in range(3))
        w = 0.5 + 0.5 * torch.rand(B, T, C, generator=g, dtype=torch.float64)
        kappa = torch.nn.functional.normalize(torch.randn(B, T, H, C // H, generator=g, dtype=torch.float64),
                                              dim=-1).reshape(B, T, C)
        alpha = torch.rand(B, T, C, generator=g, dtype=torch.float64)
        xs = [z.requires_grad_() for z in (r, w, k, v, kappa, alpha)]
        y, _ = fn(*xs, H)
        (y * torch.linspace(-1, 1, y.numel(), dtype=torch.float64).reshape(y.shape)).sum().backward()
        grads.append([x.grad for x in xs])
        g.manual_seed(3)  # the same inputs for the second function
    worst = max((a - b).abs().max().item() for a, b in zip(*grads))
    print(f"delta-rule backward vs autograd: max |Δgrad| = {worst:.3g}")
    return worst <= 1e-10


def main():
    cli, model_path = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    tensors, metadata = load_file(model_path)
    ok = metadata.get("tokenizer") == "bytes"
    if not ok:
        print(f"FAIL: metadata tokenizer is {metadata.get('tokenizer')!r}, expected 'bytes'")
    model = model_from_tensors(tensors).eval()
    tokens = list(TEXT)
    with torch.no_grad():
        expected = model(torch.tensor([tokens]))[0][0].numpy()

    with tempfile.TemporaryDirectory() as d:
        tok_file, out = os.path.join(d, "tokens.json"), os.path.join(d, "logits.f32")
        with open(tok_file, "w") as f:
            json.dump(tokens, f)
        for mode in ("seq", "rnn"):
            subprocess.run([cli, "eval", "--model", model_path, "--tokens", tok_file, "--logits-out", out,
                            "--mode", mode, "--backend", "cpu", "--threads", "1"], check=True)
            got = np.fromfile(out, dtype="<f4").reshape(len(tokens), -1)
            delta = float(np.abs(got - expected).max())
            print(f"{mode}: max |Δlogit| = {delta:.3g} over {len(tokens)} tokens (logits up to "
                  f"{float(np.abs(expected).max()):.3g})")
            ok &= delta <= TOLERANCE
    ok &= check_backward()
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
