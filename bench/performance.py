#!/usr/bin/env python3
"""Measures decode and prefill speed with `rwkv-cli bench --json` and plots it against the machine's
own limits (docs/performance.md).

    python3 bench/performance.py --cli build/tools/rwkv-cli --out docs/performance
    python3 bench/performance.py --plot-only --out docs/performance      # redraw from results.jsonl

Every run of `rwkv-cli bench` measures the machine's read bandwidth and f32 FMA peak with the same
thread count, so each point is also a fraction of what this machine can do (the roofline fractions of
docs/contracts.md, "`rwkv-cli init` and `rwkv-cli bench`"). The model is a random-weight RWKV-7 at the
shape of the released 0.1B (C 768, 12 layers, World vocabulary) made with `rwkv-cli init`: speed does
not depend on the weights' values.

Writes OUT/results.jsonl (one bench JSON object per line), OUT/*.png (matplotlib, Debian's
python3-matplotlib) and prints a Markdown table of the results.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

PRECISIONS = ["f32", "bf16", "int8", "int4"]
THREADS = [1, 2]
BATCHES = [1, 2, 4, 8, 16]


def bench(cli, model, precision, threads, batch, quick):
    cmd = [cli, "bench", "--model", model, "--precision", precision, "--threads", str(threads), "--batch",
           str(batch), "--json", "--decode", "16" if quick else "64", "--prefill", "128" if quick else "512",
           "--limits-seconds", "0.2" if quick else "1", "--prefill-seconds", "0.2" if quick else "1"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def measure(args):
    os.makedirs(args.out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="rwkv-performance-")
    model = os.path.join(workdir, "v7-c768-l12.safetensors")
    n_embd, n_layer = (256, 4) if args.quick else (768, 12)
    subprocess.run([args.cli, "init", "--arch", "v7", "--n-embd", str(n_embd), "--n-layer", str(n_layer),
                    "--vocab", "65536", "--head-size", "64", "--seed", "1", "--out", model], check=True)
    runs = [(p, t, 1) for p in PRECISIONS for t in THREADS]
    runs += [(p, max(THREADS), b) for p in ("f32", "int8") for b in BATCHES if b > 1]
    results = []
    for precision, threads, batch in runs:
        r = bench(args.cli, model, precision, threads, batch, args.quick)
        r["cpu"] = cpu_name()
        results.append(r)
        print(f"{precision:5} threads {threads} batch {batch:2}: decode {r['decode_tok_s']:8.1f} tok/s "
              f"({100 * r['decode_roofline_fraction']:5.1f}% of bandwidth), prefill {r['prefill_tok_s']:8.1f} "
              f"tok/s ({100 * r['prefill_roofline_fraction']:5.1f}% of FMA peak)", file=sys.stderr)
    with open(os.path.join(args.out, "results.jsonl"), "w") as f:
        for r in results:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    os.remove(model)
    os.rmdir(workdir)
    return results


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def plot(results, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    single = [r for r in results if r["batch"] == 1]
    title = f"{single[0]['cpu']}, RWKV-7 C {single[0]['n_embd']} L {single[0]['n_layer']}"

    width = 0.8 / len(THREADS)

    def bars_per_thread_count(ax, value, label, over_bars=None):
        """One bar per precision for each thread count, side by side, each annotated with label(row);
        over_bars(j, xs, rows), when given, draws on each group before its annotations."""
        for j, threads in enumerate(THREADS):
            rows = {r["precision"]: r for r in single if r["threads"] == threads}
            xs = [i + (j - (len(THREADS) - 1) / 2) * width for i in range(len(PRECISIONS))]
            bars = ax.bar(xs, [value(rows[p]) for p in PRECISIONS], width * 0.9,
                          label=f"{threads} thread{'s' if threads > 1 else ''}")
            if over_bars:
                over_bars(j, xs, rows)
            for bar, p in zip(bars, PRECISIONS):
                ax.annotate(label(rows[p]), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(PRECISIONS)), PRECISIONS)

    def finish(fig, ax, ylabel, heading, name):
        ax.set_ylabel(ylabel)
        ax.set_title(f"{heading}\n{title}", fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)

    # 1. Decode: tokens/s per precision and thread count, with the bandwidth bound of each.
    fig, ax = plt.subplots(figsize=(8, 4.5))

    def bandwidth_bounds(j, xs, rows):
        ax.scatter(xs, [rows[p]["decode_roofline_tok_s"] for p in PRECISIONS], marker="_", s=400, color="black",
                   zorder=3, label="bandwidth bound (bytes per token ÷ measured GB/s)" if j == 0 else None)

    bars_per_thread_count(ax, lambda r: r["decode_tok_s"], lambda r: f"{100 * r['decode_roofline_fraction']:.0f}%",
                          bandwidth_bounds)
    finish(fig, ax, "decode tokens/s (one agent)", "Decode against the memory-bandwidth bound", "decode.png")

    # 2. Prefill: fraction of the FMA peak per precision and thread count.
    fig, ax = plt.subplots(figsize=(8, 4))
    bars_per_thread_count(ax, lambda r: 100 * r["prefill_roofline_fraction"], lambda r: f"{r['prefill_tok_s']:.0f}")
    finish(fig, ax, "% of measured f32 FMA peak", "Prefill (512-token prompt; labels: tokens/s)", "prefill.png")

    # 3. Many agents: summed decode tokens/s against the batch size.
    fig, ax = plt.subplots(figsize=(8, 4))
    threads = max(THREADS)
    for precision in ("f32", "int8"):
        rows = sorted((r for r in results if r["precision"] == precision and r["threads"] == threads),
                      key=lambda r: r["batch"])
        rows = [r for r in rows if r["batch"] in BATCHES]
        ax.plot([r["batch"] for r in rows], [r["decode_tok_s"] for r in rows], marker="o", label=precision)
        ax.axhline(rows[0]["decode_roofline_tok_s"], linestyle=":", linewidth=1,
                   color=ax.lines[-1].get_color())
    ax.set_xscale("log", base=2)
    ax.set_xticks(BATCHES, [str(b) for b in BATCHES])
    ax.set_xlabel("agents stepped together (forward_batch)")
    finish(fig, ax, "decode tokens/s, summed over agents",
           f"Many agents, one model ({threads} threads; dotted: one agent's bandwidth bound)", "batch.png")


def table(results):
    print("| precision | threads | batch | decode tok/s | of bandwidth bound | prefill tok/s | of FMA peak |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['precision']} | {r['threads']} | {r['batch']} | {r['decode_tok_s']:.1f} | "
              f"{100 * r['decode_roofline_fraction']:.0f}% | {r['prefill_tok_s']:.1f} | "
              f"{100 * r['prefill_roofline_fraction']:.0f}% |")
    r = results[0]
    print(f"\nMachine limits measured in the same runs ({r['threads']} thread(s), first run): "
          f"{r['bandwidth_gbs']:.1f} GB/s read, {r['fma_peak_gflops']:.0f} GFLOP/s f32 FMA ({r['limits_isa']}).")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", default="build/tools/rwkv-cli")
    ap.add_argument("--out", default="docs/performance")
    ap.add_argument("--quick", action="store_true", help="a small model and short runs (a smoke test)")
    ap.add_argument("--plot-only", action="store_true", help="redraw from OUT/results.jsonl")
    args = ap.parse_args()
    if args.plot_only:
        with open(os.path.join(args.out, "results.jsonl")) as f:
            results = [json.loads(line) for line in f if line.strip()]
    else:
        results = measure(args)
    plot(results, args.out)
    table(results)


if __name__ == "__main__":
    main()
