#!/usr/bin/env python3
"""Trains a byte-level RWKV-7 on the fortunes corpus (fortune_data.py) and exports it as a safetensors
file that `rwkv-cli` loads (tensor names/shapes of docs/spec/rwkv.md §5.1, the byte-tokenizer metadata).

  nice -n 5 /usr/bin/python3 tools/train/train_rwkv7.py --minutes 40 --out-dir /tmp/run \
      --export examples/models/fortune-v7-c128-l2.safetensors

AdamW, linear warmup then cosine decay to --min-lr (default lr/10), on random windows of the training
stream; every --eval-every steps it logs held-out bits per byte (a fixed set of windows), and every
--checkpoint-minutes it writes checkpoint.pt (temp file + rename, so it is whole whenever it is read).
The schedule is laid out over --minutes of wall time, so a run stops on time with its lr decayed.

--resume CHECKPOINT continues from a checkpoint.pt (a warm restart): its weights, its optimizer state when
it holds one, its model shape; then a fresh warmup and cosine over --minutes. Step and byte counts go on
from the checkpoint's.

  /usr/bin/python3 tools/train/train_rwkv7.py --resume /tmp/run1/checkpoint.pt --lr 1e-3 \
      --min-lr 1e-4 --warmup 30 --minutes 45 --out-dir /tmp/train2 --export FILE
"""
import argparse
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fortune_data  # noqa: E402
from rwkv7_model import RWKV7, save_file  # noqa: E402

LN2 = math.log(2)


def metadata(args):
    """The keys the old demo file carried; "tokenizer": "bytes" makes our tools use the byte tokenizer."""
    return {"architecture": "rwkv7", "format": "pt", "n_embd": str(args.n_embd), "n_layer": str(args.n_layer),
            "rwkv_version": "7", "seed": str(args.seed), "tokenizer": "bytes", "vocab_size": "256",
            "note": "trained on Debian fortunes by tools/train/train_rwkv7.py; see examples/models/README.md"}


def export(state_dict, path, args):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file(state_dict, path, metadata(args))


def windows(stream, starts, T):
    x = torch.stack([stream[s:s + T + 1] for s in starts])
    return x[:, :-1], x[:, 1:]


def save_checkpoint(path, **fields):
    """torch.save to a temp file, then rename: a reader never sees a half-written checkpoint."""
    tmp = path + ".tmp"
    torch.save(fields, tmp)
    os.replace(tmp, path)


@torch.no_grad()
def held_out_bpb(model, held, T, n):
    """Bits per byte over n fixed, non-overlapping windows from the start of the held-out stream."""
    model.eval()
    total, count = 0.0, 0
    for j in range(0, n, 16):
        starts = [i * T for i in range(j, min(j + 16, n))]
        x, y = windows(held, starts, T)
        logits, _ = model(x)
        total += F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.train()
    return total / count / LN2


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--head-size", type=int, default=32)
    p.add_argument("--ctx", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr", type=float, default=None, help="end of the cosine (default lr/10)")
    p.add_argument("--warmup", type=int, default=50, help="warmup steps")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--minutes", type=float, default=40, help="wall-time budget; the cosine is laid out over it")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: time only)")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--checkpoint-minutes", type=float, default=5, help="write checkpoint.pt this often")
    p.add_argument("--resume", metavar="CHECKPOINT", help="start from this checkpoint.pt (warm restart)")
    p.add_argument("--eval-windows", type=int, default=64)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--threads", type=int, default=1, help="1 beats 2 on a shared 2-core machine (oversubscription)")
    p.add_argument("--out-dir", required=True, help="log.txt and checkpoint.pt go here")
    p.add_argument("--export", help="write the final model here (safetensors)")
    p.add_argument("--export-checkpoint", metavar="CHECKPOINT",
                   help="only export this checkpoint.pt (its own args) to --export, no training")
    args = p.parse_args()
    if args.export_checkpoint:
        saved = torch.load(args.export_checkpoint)
        export(saved["model"], args.export, argparse.Namespace(**saved["args"]))
        print(f"exported step {saved['step']} of {args.export_checkpoint} to {args.export}")
        return

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    log = open(os.path.join(args.out_dir, "log.txt"), "a", buffering=1)

    def say(msg):
        print(msg, flush=True)
        log.write(msg + "\n")

    train_bytes, held_bytes = fortune_data.split_streams()
    train = torch.frombuffer(bytearray(train_bytes), dtype=torch.uint8).long()
    held = torch.frombuffer(bytearray(held_bytes), dtype=torch.uint8).long()
    n_eval = min(args.eval_windows, (len(held) - 1) // args.ctx)

    saved = None
    if args.resume:
        saved = torch.load(args.resume)
        for key in ("n_embd", "n_layer", "head_size"):  # the model shape is the checkpoint's
            setattr(args, key, saved["args"][key])
    model = RWKV7(256, args.n_embd, args.n_layer, args.head_size)
    model.init_weights(args.seed)
    if saved:
        model.load_state_dict(saved["model"])
    n_params = sum(p.numel() for p in model.parameters())
    say(f"args {vars(args)}")
    seen = 0
    if saved:
        # Checkpoints from before --resume hold no byte count; every step there was batch × ctx bytes.
        seen = saved.get("bytes", saved["step"] * saved["args"]["batch"] * saved["args"]["ctx"])
        say(f"resumed {args.resume}: step {saved['step']}, {seen} bytes seen, "
            f"optimizer state {'loaded' if 'opt' in saved else 'fresh'}")
    say(f"train {len(train)} bytes, held-out {len(held)} bytes, {n_params} parameters")

    # Weight decay on the matrices only (not on norms, lerp coefficients, biases, embeddings).
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "emb" not in n and "r_k" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "emb" not in n and "r_k" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.99), eps=1e-8)
    if saved and "opt" in saved:
        opt.load_state_dict(saved["opt"])
    min_lr = args.lr / 10 if args.min_lr is None else args.min_lr

    gen = torch.Generator().manual_seed(args.seed + (saved["step"] if saved else 0))
    budget = args.minutes * 60
    start = time.time()
    step0 = saved["step"] if saved else 0
    step, ema = step0, None
    ckpt_path = os.path.join(args.out_dir, "checkpoint.pt")
    last_ckpt = start

    def checkpoint():
        save_checkpoint(ckpt_path, model=model.state_dict(), opt=opt.state_dict(), step=step, bytes=seen,
                        args=vars(args))

    while True:
        elapsed = time.time() - start
        done = elapsed / budget
        if done >= 1 or (args.max_steps and step - step0 >= args.max_steps):
            break
        if args.max_steps:
            done = max(done, (step - step0) / args.max_steps)
        warm = min(1.0, (step - step0 + 1) / args.warmup)
        lr = warm * (min_lr + (args.lr - min_lr) * 0.5 * (1 + math.cos(math.pi * min(done, 1.0))))
        for g in opt.param_groups:
            g["lr"] = lr

        starts = torch.randint(0, len(train) - args.ctx - 1, (args.batch,), generator=gen).tolist()
        x, y = windows(train, starts, args.ctx)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += y.numel()
        bpb = loss.item() / LN2
        ema = bpb if ema is None else 0.98 * ema + 0.02 * bpb
        if step % args.eval_every == 0:
            hb = held_out_bpb(model, held, args.ctx, n_eval)
            say(f"step {step} t {time.time() - start:.0f}s bytes {seen} lr {lr:.2e} "
                f"train_bpb(ema) {ema:.4f} held_bpb {hb:.4f}")
        elif step % 10 == 0:
            print(f"step {step} t {time.time() - start:.0f}s train_bpb(ema) {ema:.4f}", flush=True)
        if time.time() - last_ckpt >= args.checkpoint_minutes * 60:
            checkpoint()
            last_ckpt = time.time()

    wall = time.time() - start
    hb = held_out_bpb(model, held, args.ctx, (len(held) - 1) // args.ctx)
    say(f"done: {step} steps, {seen} bytes, {wall:.0f}s wall, train_bpb(ema) {ema:.4f}, "
        f"held_bpb(all {len(held)} bytes, ctx {args.ctx}) {hb:.4f}")
    checkpoint()
    if args.export:
        export(model.state_dict(), args.export, args)
        say(f"exported {args.export} ({os.path.getsize(args.export)} bytes)")


if __name__ == "__main__":
    main()
