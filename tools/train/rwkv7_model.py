"""RWKV-7 ("x070") in PyTorch, written from the math of docs/spec/rwkv.md §5.3 and docs/architectures/rwkv7.md.

Parameter names and shapes are the ones include/rwkv/models/rwkv7.hpp loads (docs/spec/rwkv.md §5.1), so
`state_dict()` goes to a safetensors file as is, and a shipped file loads back with `load_file`.
Every tensor is used in the form the C++ loader uses it: w0 is the raw decay bias inside
exp(−e^(−1/2)·σ(·)), k_k/k_a/r_k are plain multipliers, ln0 is applied to the embedding.

For speed on CPU, everything but the state recurrence runs over the whole [B, T] block at once;
only the generalized delta rule loops over time (`wkv7`). float32 throughout.
"""
import json
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

DECAY_SCALE = 0.606531  # e^(−1/2), written as the reference does (docs/spec/rwkv.md §6 item 16)
GROUP_NORM_EPS = 64e-5  # ln_x (docs/spec/rwkv.md §1.2), not the 1e-5 of the LayerNorms


def wkv7_reference(r, w, k, v, kappa, alpha, n_head, state=None):
    """Generalized delta rule per head (docs/spec/rwkv.md §5.3), S[h][value][key]:
        S ← S·(diag(w) − κ̂ (κ̂⊙α)ᵀ) + v kᵀ,   y = S r   (from the new state).
    All inputs are [B, T, C]; returns y [B, T, C] and the final state [B, H, N, N].
    Plain autograd; `wkv7` is the same with a hand-written backward (the training path)."""
    B, T, C = r.shape
    N = C // n_head
    shape = (B, T, n_head, N)
    r, w, k, v, kappa, alpha = (z.reshape(shape) for z in (r, w, k, v, kappa, alpha))
    removal = kappa * alpha  # the "b" of the kernels; "a" is −κ̂
    S = r.new_zeros(B, n_head, N, N) if state is None else state
    ys = []
    for t in range(T):
        # sa[i] = Σ_j S[i][j]·κ̂[j], taken from the old state.
        sa = (S * kappa[:, t, :, None, :]).sum(-1)
        S = (S * w[:, t, :, None, :]
             - sa[..., None] * removal[:, t, :, None, :]
             + v[:, t, :, :, None] * k[:, t, :, None, :])
        ys.append((S * r[:, t, :, None, :]).sum(-1))
    return torch.stack(ys, dim=1).reshape(B, T, C), S


class _DeltaRule(torch.autograd.Function):
    """The recurrence of `wkv7_reference` with a = −κ̂, b = κ̂⊙α, on [B, T, H, N] inputs and a zero
    start state. Forward keeps every state S_0 … S_T ([T+1, B, H, N, N]); backward walks time in
    reverse with G = ∂L/∂S_t:
        G += dy_t r_tᵀ;  dr_t = S_tᵀ dy_t;  dv_t = G k_t;  dk_t = Gᵀ v_t;  dw_t = Σ_i G ⊙ S_{t−1};
        sa = S_{t−1} a_t;  dsa = G b_t;  db_t = Gᵀ sa;  da_t = S_{t−1}ᵀ dsa;  G ← G ⊙ w_t + dsa a_tᵀ."""

    @staticmethod
    def forward(ctx, r, w, k, v, a, b):
        B, T, H, N = r.shape
        states = r.new_empty(T + 1, B, H, N, N)
        states[0].zero_()
        y = r.new_empty(B, T, H, N)
        for t in range(T):
            S = states[t]
            sa = (S * a[:, t, :, None, :]).sum(-1)
            Sn = torch.addcmul(S * w[:, t, :, None, :], sa[..., None], b[:, t, :, None, :])
            Sn.addcmul_(v[:, t, :, :, None], k[:, t, :, None, :])
            states[t + 1] = Sn
            y[:, t] = (Sn * r[:, t, :, None, :]).sum(-1)
        ctx.save_for_backward(r, w, k, v, a, b, states)
        return y

    @staticmethod
    def backward(ctx, dy):
        r, w, k, v, a, b, states = ctx.saved_tensors
        B, T, H, N = r.shape
        dr, dw, dk, dv, da, db = (torch.empty_like(r) for _ in range(6))
        G = r.new_zeros(B, H, N, N)
        for t in reversed(range(T)):
            S_new, S_old = states[t + 1], states[t]
            G.addcmul_(dy[:, t, :, :, None], r[:, t, :, None, :])
            dr[:, t] = (S_new * dy[:, t, :, :, None]).sum(-2)
            dv[:, t] = (G * k[:, t, :, None, :]).sum(-1)
            dk[:, t] = (G * v[:, t, :, :, None]).sum(-2)
            dw[:, t] = (G * S_old).sum(-2)
            sa = (S_old * a[:, t, :, None, :]).sum(-1)
            dsa = (G * b[:, t, :, None, :]).sum(-1)
            db[:, t] = (G * sa[..., None]).sum(-2)
            da[:, t] = (S_old * dsa[..., None]).sum(-2)
            G = torch.addcmul(G * w[:, t, :, None, :], dsa[..., None], a[:, t, :, None, :])
        return dr, dw, dk, dv, da, db


def wkv7(r, w, k, v, kappa, alpha, n_head, state=None):
    """`wkv7_reference`, with the hand-written backward when training from a zero state."""
    if state is not None or not torch.is_grad_enabled():
        return wkv7_reference(r, w, k, v, kappa, alpha, n_head, state)
    B, T, C = r.shape
    shape = (B, T, n_head, C // n_head)
    kappa = kappa.reshape(shape)
    y = _DeltaRule.apply(*(z.reshape(shape) for z in (r, w, k, v)), -kappa, kappa * alpha.reshape(shape))
    return y.reshape(B, T, C), None


def dense(x, weight):
    """x [..., in] times weight [out, in]ᵀ (F.linear: ~13 GFLOP/s forward + backward on one Zen 3 core
    with OpenBLAS as the libblas alternative, ~2.5× a 1×1 conv1d through oneDNN; tools/train/README.md)."""
    return F.linear(x, weight)


def lora(x, down, up, middle=None):
    """(x·down)·up with the factors stored [in, rank] and [rank, in] (docs/spec/rwkv.md §1.2)."""
    h = dense(x, down.t())
    return dense(h if middle is None else middle(h), up.t())


def token_shift(x, prev=None):
    """prev[t] = x[t−1]; prev[0] = the stored previous row (zeros at the start of a text)."""
    first = torch.zeros_like(x[:, :1]) if prev is None else prev[:, None]
    return torch.cat([first, x[:, :-1]], dim=1)


class TimeMix(nn.Module):
    def __init__(self, C, n_head, layer, ranks):
        super().__init__()
        self.n_head, self.layer = n_head, layer
        for name in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g"):
            self.register_parameter(name, nn.Parameter(torch.zeros(1, 1, C)))
        self.w0 = nn.Parameter(torch.zeros(1, 1, C))
        self.w1 = nn.Parameter(torch.zeros(C, ranks["w"]))
        self.w2 = nn.Parameter(torch.zeros(ranks["w"], C))
        self.a0 = nn.Parameter(torch.zeros(1, 1, C))
        self.a1 = nn.Parameter(torch.zeros(C, ranks["a"]))
        self.a2 = nn.Parameter(torch.zeros(ranks["a"], C))
        # Layer 0 keeps v0/v1/v2 (the training layout) although it never uses them (§5.2).
        self.v0 = nn.Parameter(torch.zeros(1, 1, C))
        self.v1 = nn.Parameter(torch.zeros(C, ranks["v"]))
        self.v2 = nn.Parameter(torch.zeros(ranks["v"], C))
        self.g1 = nn.Parameter(torch.zeros(C, ranks["g"]))
        self.g2 = nn.Parameter(torch.zeros(ranks["g"], C))
        self.k_k = nn.Parameter(torch.zeros(1, 1, C))
        self.k_a = nn.Parameter(torch.zeros(1, 1, C))
        self.r_k = nn.Parameter(torch.zeros(n_head, C // n_head))
        self.receptance = nn.Linear(C, C, bias=False)
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        self.ln_x = nn.GroupNorm(n_head, C, eps=GROUP_NORM_EPS)

    def forward(self, a, v_first, state=None):
        """a = LN(x; ln1) [B, T, C]; state = (x_prev [B, C], S [B, H, N, N]) or None."""
        B, T, C = a.shape
        H, N = self.n_head, C // self.n_head
        prev = token_shift(a, None if state is None else state[0])
        d = prev - a  # the coefficients multiply (prev − cur)
        xr, xw, xk, xv, xa, xg = (a + d * m for m in (self.x_r, self.x_w, self.x_k, self.x_v, self.x_a, self.x_g))

        r, k, v = dense(xr, self.receptance.weight), dense(xk, self.key.weight), dense(xv, self.value.weight)
        w = torch.exp(-DECAY_SCALE * torch.sigmoid(self.w0 + lora(xw, self.w1, self.w2, torch.tanh)))
        alpha = torch.sigmoid(self.a0 + lora(xa, self.a1, self.a2))
        g = lora(xg, self.g1, self.g2, torch.sigmoid)

        # Removal key from k before its α rescale (§6 item 9); L2 per head, eps 1e-12.
        kappa = F.normalize((k * self.k_k).view(B, T, H, N), p=2, dim=-1, eps=1e-12).view(B, T, C)
        k = k * (1 + (alpha - 1) * self.k_a)

        if self.layer == 0:
            v_first = v
        else:
            v = v + (v_first - v) * torch.sigmoid(self.v0 + lora(xv, self.v1, self.v2))

        y, S = wkv7(r, w, k, v, kappa, alpha, H, None if state is None else state[1])
        y = self.ln_x(y.reshape(B * T, C)).view(B, T, C)
        bonus = (r * k * self.r_k.view(1, 1, C)).view(B, T, H, N).sum(-1, keepdim=True)
        y = y + (bonus * v.view(B, T, H, N)).view(B, T, C)
        return dense(y * g, self.output.weight), v_first, (a[:, -1], S)


class ChannelMix(nn.Module):
    def __init__(self, C, F_):
        super().__init__()
        self.x_k = nn.Parameter(torch.zeros(1, 1, C))
        self.key = nn.Linear(C, F_, bias=False)
        self.value = nn.Linear(F_, C, bias=False)

    def forward(self, b, prev_row=None):
        xk = b + (token_shift(b, prev_row) - b) * self.x_k
        return dense(torch.relu(dense(xk, self.key.weight)) ** 2, self.value.weight), b[:, -1]


class Block(nn.Module):
    def __init__(self, C, n_head, F_, layer, ranks):
        super().__init__()
        if layer == 0:
            self.ln0 = nn.LayerNorm(C)
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.att = TimeMix(C, n_head, layer, ranks)
        self.ffn = ChannelMix(C, F_)

    def forward(self, x, v_first, state=None):
        dx, v_first, att_state = self.att(self.ln1(x), v_first, None if state is None else state[:2])
        x = x + dx
        dx, ffn_prev = self.ffn(self.ln2(x), None if state is None else state[2])
        return x + dx, v_first, (*att_state, ffn_prev)


class RWKV7(nn.Module):
    def __init__(self, n_vocab=256, n_embd=128, n_layer=2, head_size=64, dim_ffn=None, ranks=None):
        super().__init__()
        C = n_embd
        self.n_embd, self.n_layer, self.head_size = C, n_layer, head_size
        ranks = ranks or {"w": 32, "a": 32, "v": 32, "g": 32}
        self.emb = nn.Embedding(n_vocab, C)
        self.blocks = nn.ModuleList(Block(C, C // head_size, dim_ffn or 4 * C, i, ranks) for i in range(n_layer))
        self.ln_out = nn.LayerNorm(C)
        self.head = nn.Linear(C, n_vocab, bias=False)

    def forward(self, tokens, state=None):
        """tokens [B, T] int64 → logits [B, T, V]; state: list per layer of (att x_prev, S, ffn x_prev)."""
        x = self.blocks[0].ln0(self.emb(tokens))
        v_first, new_state = None, []
        for i, block in enumerate(self.blocks):
            x, v_first, s = block(x, v_first, None if state is None else state[i])
            new_state.append(s)
        return dense(self.ln_out(x), self.head.weight), new_state

    @torch.no_grad()
    def init_weights(self, seed):
        """Our own starting point: unit-gain input projections, zero output projections (each block
        starts as the identity), decays spread from fast to slow across channels, small LoRAs."""
        gen = torch.Generator().manual_seed(seed)
        C, L = self.n_embd, self.n_layer

        def normal(t, std):
            t.copy_(torch.randn(t.shape, generator=gen) * std)

        normal(self.emb.weight, 1.0)
        normal(self.head.weight, 0.5 / math.sqrt(C))
        ramp = torch.arange(C, dtype=torch.float32) / C  # 0 … 1 over the channels
        for i, blk in enumerate(self.blocks):
            depth = i / max(L - 1, 1)  # 0 in the first block, 1 in the last
            att = blk.att
            # Token shift: early blocks lean on the previous byte more; channels vary so each has a mix.
            for name, base in (("x_r", 0.5), ("x_w", 0.7), ("x_k", 0.6), ("x_v", 0.5), ("x_a", 0.6), ("x_g", 0.5)):
                getattr(att, name).copy_((base * (1 - ramp ** (1 - 0.5 * depth))).view(1, 1, C))
            # Decay bias: σ(w0) from ≈ 1 (per-token decay ≈ 0.55, fast) to ≈ 0 (decay ≈ 1, memory).
            att.w0.copy_((2.0 - 8.0 * ramp ** 0.7).view(1, 1, C))
            att.a0.zero_()
            att.v0.fill_(1.0)
            for down, up in (("w1", "w2"), ("a1", "a2"), ("v1", "v2"), ("g1", "g2")):
                normal(getattr(att, down), 0.1 / math.sqrt(C))
                normal(getattr(att, up), 0.1 / math.sqrt(getattr(att, up).shape[0]))
            # g = σ(·)·g2 ≈ 0.5·Σ g2: start the gate near 1 by adding a constant column sum.
            att.g2.add_(2.0 / att.g2.shape[0])
            att.k_k.fill_(0.85)
            att.k_a.fill_(1.0)
            att.r_k.fill_(0.0)
            for lin in (att.receptance, att.key, att.value):
                normal(lin.weight, 1.0 / math.sqrt(C))
            att.output.weight.zero_()
            att.ln_x.weight.fill_(1.0)
            att.ln_x.bias.zero_()
            blk.ffn.x_k.copy_((0.8 * (1 - ramp ** (1 - 0.5 * depth))).view(1, 1, C))
            normal(blk.ffn.key.weight, 1.0 / math.sqrt(C))
            blk.ffn.value.weight.zero_()


# ---- safetensors (the format is a JSON header and raw little-endian data; no extra package needed) ----

def save_file(tensors, path, metadata):
    header, offset, chunks = {"__metadata__": metadata}, 0, []
    for name in sorted(tensors):
        data = tensors[name].detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(chunks))


def load_file(path):
    import numpy as np
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", f"{name}: only F32 is read here"
        b, e = info["data_offsets"]
        arr = np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<f4").reshape(info["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, metadata


def model_from_tensors(tensors):
    """Builds an RWKV7 whose shape is read from the tensors (as the C++ loader does) and loads them."""
    V, C = tensors["emb.weight"].shape
    H, N = tensors["blocks.0.att.r_k"].shape
    L = 1 + max(int(k.split(".")[1]) for k in tensors if k.startswith("blocks."))
    ranks = {x: tensors[f"blocks.0.att.{x}1"].shape[1] for x in "wavg"}
    model = RWKV7(V, C, L, N, tensors["blocks.0.ffn.key.weight"].shape[0], ranks)
    model.load_state_dict(tensors)
    return model
