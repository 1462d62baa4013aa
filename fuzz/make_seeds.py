#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/ (small, deterministic; the result is committed).

Usage: python3 fuzz/make_seeds.py [--golden DIR] [--vocab FILE]

Needs only the Python standard library: the .pth files are written with a hand-made pickle (the
opcodes torch.save emits) inside a hand-made zip, so neither torch nor numpy is required. The model
seeds are the shared golden checkpoints' tensor lists (names and shapes from their safetensors
headers) shrunk to C = 32 (GoldFinch: 64, its default head size; and one Finch-C2 block instead of two),
with small pseudo-random values. The GGUF seeds keep the metadata and tensor list of the shared llama.cpp
RWKV-7 files (golden/gguf/) with the model shrunk to C = 32 and one layer.
Without --golden/--vocab (default ../shared/golden, ../shared/data/rwkv_vocab_v20230424.txt) the
seeds that need them are skipped with a message.
"""

import argparse
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- values ------------------------------------------------------------------------------------

class Lcg:
    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFF

    def uniform(self, lo, hi):
        self.s = (self.s * 1664525 + 1013904223) & 0xFFFFFFFF
        return lo + (hi - lo) * (self.s / 2**32)


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def tensor_bytes(dtype, values):
    if dtype == "F32":
        return struct.pack("<%df" % len(values), *values)
    if dtype == "F16":
        return struct.pack("<%de" % len(values), *values)
    if dtype == "BF16":  # round to nearest even from the f32 bits
        out = bytearray()
        for v in values:
            (u,) = struct.unpack("<I", struct.pack("<f", v))
            u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
            out += struct.pack("<H", u & 0xFFFF)
        return bytes(out)
    raise ValueError(dtype)


DTYPE_SIZE = {"F32": 4, "BF16": 2, "F16": 2}
STORAGE = {"F32": "FloatStorage", "BF16": "BFloat16Storage", "F16": "HalfStorage"}


# ---- safetensors -------------------------------------------------------------------------------

def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, bytes)."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blob = b""
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + blob


# ---- pickle (the protocol-2 opcodes torch.save uses) ---------------------------------------------

class Pickle:
    def __init__(self, proto=2):
        self.b = bytearray([0x80, proto])
        self.memo = 0

    def op(self, c):
        self.b += bytes([c]) if isinstance(c, int) else c
        return self

    def put(self):
        if self.memo < 256:
            self.b += b"q" + bytes([self.memo])
        else:
            self.b += b"r" + struct.pack("<I", self.memo)
        self.memo += 1
        return self

    def str(self, s):
        s = s.encode()
        self.b += b"X" + struct.pack("<I", len(s)) + s
        return self.put()

    def glob(self, module, name):
        self.b += b"c" + module.encode() + b"\n" + name.encode() + b"\n"
        return self.put()

    def int(self, v):
        if 0 <= v < 256:
            self.b += b"K" + bytes([v])
        elif 0 <= v < 65536:
            self.b += b"M" + struct.pack("<H", v)
        elif -(2**31) <= v < 2**31:
            self.b += b"J" + struct.pack("<i", v)
        else:
            self.b += b"\x8a\x08" + struct.pack("<q", v)
        return self

    def tuple(self, items_fn, n):
        if n == 0:
            self.b += b")"
            return self
        if n <= 3:
            items_fn()
            self.b += bytes([0x84 + n])
            return self
        self.b += b"("
        items_fn()
        self.b += b"t"
        return self

    def int_tuple(self, values):
        return self.tuple(lambda: [self.int(v) for v in values], len(values))


def contiguous_stride(shape):
    stride, acc = [], 1
    for d in reversed(shape):
        stride.insert(0, acc)
        acc *= d
    return stride


def state_dict_pickle(entries, ordered=True, build_metadata=False, parameter=False):
    """entries: list of (name, dtype, storage_key, storage_numel, offset, shape)."""
    p = Pickle()
    if ordered:
        p.glob("collections", "OrderedDict").op(b")").op(b"R").put()
    else:
        p.op(b"}").put()
    if entries:
        p.op(b"(")
        for name, dtype, key, storage_numel, offset, shape in entries:
            p.str(name)
            if parameter:
                p.glob("torch._utils", "_rebuild_parameter")
                p.op(b"(")
            p.glob("torch._utils", "_rebuild_tensor_v2")
            p.op(b"(")
            p.op(b"(")  # persistent id
            p.str("storage").glob("torch", STORAGE[dtype]).str(key).str("cpu").int(storage_numel)
            p.op(b"t").put().op(b"Q")
            p.int(offset).int_tuple(shape).int_tuple(contiguous_stride(shape))
            p.op(0x89)  # requires_grad False
            p.glob("collections", "OrderedDict").op(b")").op(b"R").put()  # backward_hooks
            p.op(b"t").put().op(b"R").put()
            if parameter:
                p.op(0x89)
                p.glob("collections", "OrderedDict").op(b")").op(b"R").put()
                p.op(b"t").put().op(b"R").put()
        p.op(b"u")
    if build_metadata:  # state_dict._metadata, as torch pickles it through BUILD
        p.op(b"}").put().str("_metadata").glob("collections", "OrderedDict").op(b")").op(b"R").put()
        p.op(b"s").op(b"b")
    p.op(b".")
    return bytes(p.b)


# ---- zip (stored entries, optional Zip64 records and 64-byte data alignment like torch) ----------

def zip_archive(items, zip64=False, align=64):
    out = bytearray()
    central = bytearray()
    for name, data in items:
        nb = name.encode()
        offset = len(out)
        extra = b""
        if align:
            pad = (-(offset + 30 + len(nb) + 4)) % align
            extra = struct.pack("<HH", 0xCAFE, pad) + b"Z" * pad
        crc = zlib.crc32(data) & 0xFFFFFFFF
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, crc, len(data), len(data), len(nb), len(extra))
        out += nb + extra + data
        if zip64:
            cextra = struct.pack("<HHQQQ", 0x0001, 24, len(data), len(data), offset)
            sizes = (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
        else:
            cextra = b""
            sizes = (len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45 if zip64 else 20, 45 if zip64 else 20, 0, 0, 0, 0,
                               crc, sizes[0], sizes[1], len(nb), len(cextra), 0, 0, 0, 0, sizes[2])
        central += nb + cextra
    cd_offset, cd_size, count = len(out), len(central), len(items)
    out += central
    if zip64:
        rec = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)
        out += struct.pack("<IIQI", 0x07064B50, 0, rec, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_offset, 0)
    return bytes(out)


def pth(tensors, prefix="archive", zip64=False, ordered=True, byteorder=True, build_metadata=False,
        parameter=False, share_storage=False):
    """tensors: list of (name, dtype, shape, bytes). With share_storage, consecutive tensors of one dtype
    share one storage (offsets into it), as views of one buffer do in torch."""
    entries, storages = [], []
    for i, (name, dtype, shape, data) in enumerate(tensors):
        elem = DTYPE_SIZE[dtype]
        if share_storage and storages and storages[-1][1] == dtype:
            key, _, blob = storages[-1]
            offset = len(blob) // elem
            storages[-1] = (key, dtype, blob + data)
        else:
            key, offset = str(len(storages)), 0
            storages.append((key, dtype, data))
        entries.append([name, dtype, key, None, offset, list(shape)])
    sizes = {key: len(blob) // DTYPE_SIZE[dtype] for key, dtype, blob in storages}
    for e in entries:
        e[3] = sizes[e[2]]
    pkl = state_dict_pickle([tuple(e) for e in entries], ordered=ordered, build_metadata=build_metadata,
                            parameter=parameter)
    items = [(prefix + "/data.pkl", pkl)]
    if byteorder:
        items.append((prefix + "/byteorder", b"little"))
    for key, _, blob in storages:
        items.append((prefix + "/data/" + key, blob))
    items.append((prefix + "/version", b"3\n"))
    return zip_archive(items, zip64=zip64), pkl


# ---- seeds -------------------------------------------------------------------------------------

def small_tensors():
    rng = Lcg(7)
    out = []
    for name, dtype, shape in [("emb.weight", "F32", [4, 3]), ("blocks.0.ln1.weight", "BF16", [3]),
                               ("blocks.0.att.x_r", "F16", [1, 1, 3]), ("scalar", "F32", []),
                               ("empty", "F32", [0, 3])]:
        vals = [rng.uniform(-1, 1) for _ in range(numel(shape))]
        out.append((name, dtype, shape, tensor_bytes(dtype, vals)))
    return out


def io_seeds():
    t = small_tensors()
    st = safetensors(t, {"format": "pt", "note": "fuzz seed"})
    for target in ("tensor_file", "safetensors"):
        write(target, "small.safetensors", st)
        write(target, "no-metadata.safetensors", safetensors(t[:2]))
        write(target, "empty-header.safetensors", safetensors([]))
    variants = {
        "small.pth": dict(),
        "zip64-plain-dict.pth": dict(zip64=True, ordered=False, prefix="model"),
        "metadata-parameter.pth": dict(build_metadata=True, parameter=True, byteorder=False),
        "shared-storage.pth": dict(share_storage=True),
    }
    for fname, kw in variants.items():
        archive, pkl = pth(t, **kw)
        write("tensor_file", fname, archive)
        write("pth_unpickle", fname.replace(".pth", ".pkl"), pkl)
    # A bare pickle (pre-1.6 torch.save) and a few pickles the unpickler must refuse or accept.
    write("tensor_file", "legacy-raw-pickle.bin", b"\x80\x02\x8a\x0alo\x8c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.")
    write("pth_unpickle", "forbidden-global.pkl", b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.")
    p = Pickle(4)
    p.op(b"\x95" + struct.pack("<Q", 0))  # FRAME
    p.op(b"}").op(0x94)  # EMPTY_DICT MEMOIZE
    p.op(b"\x8c\x01a").op(0x94)  # SHORT_BINUNICODE
    p.op(b"\x8c\x0ctorch._utils").op(b"\x8c\x12_rebuild_tensor_v2").op(0x93).op(0x94)  # STACK_GLOBAL
    p.op(b"(").op(b"(").op(b"\x8c\x07storage").op(b"\x8c\x05torch").op(b"\x8c\x0cFloatStorage").op(0x93)
    p.op(b"\x8c\x010").op(b"\x8c\x03cpu").op(b"K\x04").op(b"t").op(b"Q")
    p.op(b"K\x00").op(b"K\x02K\x02\x86").op(b"K\x02K\x01\x86").op(0x88).op(b"}").op(b"N").op(b"t").op(b"R")
    p.op(b"s").op(b".")
    write("pth_unpickle", "protocol4-frame-stack-global.pkl", bytes(p.b))
    write("pth_unpickle", "memo-get.pkl", b"\x80\x02}q\x00h\x00h\x00X\x01\x00\x00\x00kq\x01h\x01ss.")


def hf_seeds():
    """Hugging Face shard indexes (fuzz_hf_index) and HF-layout safetensors (fuzz_tensor_file)."""
    wm = {"rwkv.embeddings.weight": "model-00001-of-00002.safetensors",
          "rwkv.blocks.0.ln1.weight": "model-00002-of-00002.safetensors", "head.weight": "model-00001-of-00002.safetensors"}
    write("hf_index", "two-shards.json", json.dumps({"metadata": {"total_size": 48}, "weight_map": wm}, indent=2))
    write("hf_index", "one-shard.json", json.dumps({"weight_map": {"model.embeddings.weight": "model.safetensors"}}))
    write("hf_index", "folder-part.json", json.dumps({"weight_map": {"a": "../b.safetensors"}}))
    write("hf_index", "non-string.json", '{"weight_map": {"a": 1, "b": ["x"]}}')
    write("hf_index", "empty-map.json", '  {"weight_map": {}}')
    rng = Lcg(11)
    def f32(name, shape):
        return (name, "F32", shape, tensor_bytes("F32", [rng.uniform(-1, 1) for _ in range(numel(shape))]))
    fla = [f32("model.embeddings.weight", [4, 3]), f32("model.layers.0.attn.w_lora.lora.0.weight", [2, 3]),
           f32("model.layers.0.attn.w_lora.lora.2.weight", [3, 2]), f32("model.layers.0.attn.w_lora.lora.2.bias", [3]),
           f32("model.layers.0.attn.x_x", [6, 3]), f32("model.layers.0.attn.k_k", [3]), f32("lm_head.weight", [4, 3])]
    write("tensor_file", "hf-fla-rwkv7.safetensors", safetensors(fla, {"format": "pt"}))
    tf = [f32("rwkv.embeddings.weight", [4, 3]), f32("rwkv.blocks.0.pre_ln.weight", [3]),
          f32("rwkv.blocks.0.attention.time_mix_key", [1, 1, 3]), f32("rwkv.blocks.0.feed_forward.time_mix_receptance", [1, 1, 3]),
          f32("head.weight", [4, 3])]
    write("tensor_file", "hf-transformers-rwkv.safetensors", safetensors(tf, {"format": "pt"}))


# Golden tensor shapes → seed shapes. 128 = C; [2, 64] = [H, N]; LoRA ranks → 2; FFN → 8; V → 4.
def shrink_shape(name, shape, C, N):
    if shape == [2, 64]:
        return [C // N, N]
    if name.endswith("time_maa_kv_w1"):  # [C, 2·D]
        return [C, 4]
    table = {128: C, 64: 2, 32: 2, 160: 10, 512: 8, 448: 8, 256: 4, 8: C // 16, 136: C + C // 16}
    return [table.get(d, d) for d in shape]


def initial_value(name, rng):
    if name.endswith(("ln0.weight", "ln1.weight", "ln2.weight", "ln_out.weight", "ln_x.weight")) or ".ln_" in name:
        return 1.0 + rng.uniform(-0.1, 0.1)
    return rng.uniform(-0.5, 0.5)


def model_seeds(golden):
    if not golden or not os.path.isdir(golden):
        print("make_seeds: no golden directory, model_load seeds skipped")
        return
    specs = [("v4-c128-l2", 32, 32), ("v5-c128-l2", 32, 32), ("v6-c128-l2", 32, 32), ("v7-c128-l2", 32, 32),
             ("goldfinch-c128-l3", 64, 64)]
    for stem, C, N in specs:
        with open(os.path.join(golden, stem + ".safetensors"), "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        rng = Lcg(len(stem))
        tensors = []
        for name, info in header.items():
            if name == "__metadata__":
                continue
            if stem.startswith("goldfinch"):  # one Finch-C2 block under the GOLD block: L = 2
                if name.startswith("blocks.1."):
                    continue
                if name.startswith("blocks.2."):
                    name = "blocks.1." + name[len("blocks.2."):]
            shape = shrink_shape(name, info["shape"], C, N)
            vals = [initial_value(name, rng) for _ in range(numel(shape))]
            tensors.append((name, "BF16", shape, tensor_bytes("BF16", vals)))
        tensors.sort()
        short = stem.split("-")[0]
        write("model_load", short + ".bf16.safetensors", safetensors(tensors))
        if short in ("v4", "v7"):
            write("model_load", short + ".bf16.pth", pth(tensors)[0])
        if short == "v7":  # the same values widened to f32: the f32 policy then views the bytes in place
            widened = []
            for nm, _, sh, data in tensors:
                vals = [struct.unpack("<f", b"\x00\x00" + data[2 * i:2 * i + 2])[0] for i in range(numel(sh))]
                widened.append((nm, "F32", sh, tensor_bytes("F32", vals)))
            write("model_load", "v7.f32.safetensors", safetensors(widened))


def vocab_seeds(vocab):
    if not vocab or not os.path.isfile(vocab):
        print("make_seeds: no World vocabulary, vocabulary seeds from the real file skipped")
        lines = []
    else:
        with open(vocab, "rb") as f:
            lines = f.read().split(b"\n")
    if lines:
        head = b"\n".join(lines[:120]) + b"\n"
        write("world_tokenizer_vocab", "official-head.txt", head)
        # Lines with escapes, bytes literals, multi-byte text and the largest ids.
        picked = [ln for ln in lines if b"\\x" in ln or b"\\u" in ln or b"b'" in ln or b'"' in ln][:80]
        picked += [ln for ln in lines[-40:] if ln]
        write("world_tokenizer_vocab", "official-escapes.txt", b"\n".join(picked) + b"\n")
        write("world_tokenizer_vocab", "official-head-crlf-bom.txt",
              b"\xef\xbb\xbf" + b"\r\n".join(lines[200:260]) + b"\r\n")
    write("world_tokenizer_vocab", "handmade.txt",
          "1 'a' 1\n2 'ab' 2\n3 b'\\x00\\xff' 2\n4 '\\u4f60' 3\n5 r'\\n' 2\n6 \"it's\" 4\n"
          "7 'a b' 3\n9 '\\101' 1\n10 u'\\U0001F600' 4\n12 b'\\t\\n\\r' 3\n8 'abc' 3\n")


def text_seeds():
    texts = {
        "english.txt": "The quick brown fox jumps over the lazy dog. there these hello world\n\n",
        "utf8.txt": "été 你好 😀 — naïve café\n",
        "prefixes.txt": "abcdefabcdeabcdabcaba xyzwxyzxyx zazbzczt qqq\x00q\xff",
        "spaces.txt": "a  b   c    d\n\n\nthe  the",
    }
    for name, t in texts.items():
        write("world_tokenizer_encode", name, t)
    write("world_tokenizer_encode", "bytes.bin", bytes(range(256)))
    # utf8_stream: byte 0 seeds the chunking, the rest is the stream.
    streams = {
        "valid.bin": "été 你好 😀 ascii".encode(),
        "truncated.bin": b"ok \xe4\xbd \xf0\x9f\x98 \xc3",
        "overlong-surrogate.bin": b"\xc0\xaf \xe0\x80\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xf5 \xff",
        "replacement.bin": "\ufffd".encode() + b"\xef\xbf" + "x\ufffd".encode(),
        "continuations.bin": b"\x80\x81\xbf abc \xe2\x82\xac\xe2\x82",
    }
    for i, (name, s) in enumerate(streams.items()):
        write("utf8_stream", name, bytes([i * 37 % 256]) + s)


def state_file(arch, n_layer, n_embd, n_head, head_size, entries, cache_width=0, cached=0, cache_dtype="f32"):
    rng = Lcg(3)
    header = {"architecture": arch, "n_layer": n_layer, "n_embd": n_embd, "n_head": n_head,
              "head_size": head_size, "cache_width": cache_width, "cache_dtype": cache_dtype, "dtype": "f32",
              "entries": [{"name": n, "shape": s} for n, s in entries]}
    h = json.dumps(header, separators=(",", ":")).encode()
    total = sum(numel(s) for _, s in entries)
    out = b"RWKVSTAT" + struct.pack("<II", 1, len(h)) + h
    out += struct.pack("<Q", total) + tensor_bytes("F32", [rng.uniform(-1, 1) for _ in range(total)])
    out += struct.pack("<Q", cached)
    out += struct.pack("<%di" % cached, *range(cached))
    out += tensor_bytes(cache_dtype.upper(), [rng.uniform(-1, 1) for _ in range(cached * cache_width)])
    return out + struct.pack("<I", zlib.crc32(out) & 0xFFFFFFFF)


def state_seeds():
    C, H, N = 4, 1, 4
    v7 = []
    for i in range(2):
        v7 += [("blocks.%d.att.x_prev" % i, [C]), ("blocks.%d.att.kv" % i, [H, N, N]), ("blocks.%d.ffn.x_prev" % i, [C])]
    write("state_file", "rwkv7.state", state_file("rwkv7", 2, C, H, N, v7))
    v4 = [("blocks.0.att.x_prev", [C]), ("blocks.0.att.aa", [C]), ("blocks.0.att.bb", [C]),
          ("blocks.0.att.pp", [C]), ("blocks.0.ffn.x_prev", [C])]
    write("state_file", "rwkv4.state", state_file("rwkv4", 1, C, 0, 0, v4))
    gf = [("blocks.0.att.x_prev", [C]), ("blocks.0.att.kv", [H, N, N]), ("blocks.0.ffn.x_prev", [C])]
    write("state_file", "goldfinch-cache.state", state_file("goldfinch", 2, C, H, N, gf, cache_width=2, cached=3))
    write("state_file", "goldfinch-cache-bf16.state",
          state_file("goldfinch", 2, C, H, N, gf, cache_width=3, cached=2, cache_dtype="bf16"))
    # Regression seed: a state with no values made deserialize_state memcpy into a null buffer.
    write("state_file", "regress-no-values.state", state_file("rwkv5", 0, 0, 0, 0, []))


def config_seeds(golden):
    base = {"model": {"tmix": "x060c2", "tmix2": "gold", "inv_other_layer_ratio": 3, "n_layer": 3, "n_embd": 128,
                      "head_size": 64, "rope": None, "brope": None, "alibi": None, "use_one_minus_w": 1, "use_v2": 1}}
    write("goldfinch_config", "minimal.json", json.dumps(base))
    write("goldfinch_config", "defaults.json", '{"model": {}}')
    write("goldfinch_config", "rope.json", '{"model": {"rope": {"theta": 10000}, "use_v2": 0}}')
    # Regression seeds: flags of other JSON types escaped as nlohmann::type_error, and a huge float
    # was cast to int (undefined behaviour); both are format_error / accepted now.
    write("goldfinch_config", "regress-flag-string.json", '{"model": {"use_v2": "yes"}}')
    write("goldfinch_config", "regress-flag-array.json", '{"model": {"use_one_minus_w": [1]}}')
    write("goldfinch_config", "regress-flag-huge-float.json", '{"model": {"use_v2": 1e300, "use_one_minus_w": false}}')
    if golden and os.path.isfile(os.path.join(golden, "goldfinch-c128-l3.config.json")):
        with open(os.path.join(golden, "goldfinch-c128-l3.config.json"), "rb") as f:
            write("goldfinch_config", "official.json", f.read())


def gpt2_symbols(data):
    table, nxt = [], 256
    for b in range(256):
        if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255:
            table.append(chr(b))
        else:
            table.append(chr(nxt))
            nxt += 1
    return "".join(table[b] for b in data)


def bpe_json(pairs, nfc=True, array_merges=False):
    vocab = {gpt2_symbols(bytes([b])): b for b in range(256)}
    merges = []
    for left, right in pairs:
        merged = gpt2_symbols(left + right)
        vocab.setdefault(merged, len(vocab))
        l, r = gpt2_symbols(left), gpt2_symbols(right)
        merges.append([l, r] if array_merges else l + " " + r)
    added = []
    for content, special in [("<|endoftext|>", True), ("<|padding|>", True), ("   ", False), ("  ", False)]:
        added.append({"id": len(vocab) + len(added), "content": content, "special": special,
                      "normalized": not special, "single_word": False, "lstrip": False, "rstrip": False})
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True}
    return json.dumps({"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
                       "normalizer": {"type": "NFC"} if nfc else None, "pre_tokenizer": byte_level,
                       "post_processor": byte_level, "decoder": byte_level,
                       "model": {"type": "BPE", "dropout": None, "unk_token": None, "vocab": vocab,
                                 "merges": merges}}, ensure_ascii=False)


def bpe_seeds():
    pairs = [(b"t", b"h"), (b"th", b"e"), (b" ", b"th"), (b"a", b"b"), (b"ab", b"c"), (b"\xc3", b"\xa9"),
             (b"\xe4", b"\xbd"), (b"\xe4\xbd", b"\xa0"), (b"'", b"s"), (b"1", b"2")]
    write("bpe_tokenizer_json", "nfc-string-merges.json", bpe_json(pairs))
    write("bpe_tokenizer_json", "plain-pair-merges.json", bpe_json(pairs[:4], nfc=False, array_merges=True))
    texts = {
        "english.txt": "The theme: it's 12 o'clock, the  end   here\n\n",
        "nfd.txt": "e\u0301te\u0301 A\u030a \u1e9b\u0323 \uac00\u11a8",
        "specials.txt": "a<|endoftext|>b<|padding|><|endoftext|>  <|endof",
        "long-run.txt": "a" * 100 + " " + "ab" * 40 + "thethe" * 15,
        "mixed.txt": "\u4f60\u597d\u4e16\u754c \U0001f600\U0001f600 \u00e9\u00e9 123456 \t\r\n x",
    }
    for name, t in texts.items():
        write("bpe_tokenizer_encode", name, t)
    write("bpe_tokenizer_encode", "invalid.bin", b"ok \xc3\x28 \xed\xa0\x80")


# ---- GGUF --------------------------------------------------------------------------------------

GGUF_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "B", 10: "Q", 11: "q", 12: "d"}
GGML_LAYOUT = {0: (1, 4), 1: (1, 2), 30: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34)}


def gguf_parse(data):
    """(metadata [(key, type, raw value bytes)], tensors [(name, ne, type)]) of a GGUF v2/v3 file."""
    pos = [24]

    def take(fmt):
        (v,) = struct.unpack_from("<" + fmt, data, pos[0])
        pos[0] += struct.calcsize("<" + fmt)
        return v

    def string():
        n = take("Q")
        s = data[pos[0]:pos[0] + n]
        pos[0] += n
        return s

    def skip_value(t):
        if t == 8:
            string()
        elif t == 9:
            item, count = take("I"), take("Q")
            for _ in range(count):
                skip_value(item)
        else:
            take(GGUF_SCALAR[t])

    n_tensors, n_kv = struct.unpack_from("<QQ", data, 8)
    metadata = []
    for _ in range(n_kv):
        key = string().decode()
        t = take("I")
        start = pos[0]
        skip_value(t)
        metadata.append((key, t, data[start:pos[0]]))
    tensors = []
    for _ in range(n_tensors):
        name = string().decode()
        ne = [take("Q") for _ in range(take("I"))]
        t = take("I")
        take("Q")
        tensors.append((name, ne, t))
    return metadata, tensors


def gguf_write(metadata, tensors, alignment=32):
    """tensors: [(name, ne, type, bytes)]; offsets laid out one after another, aligned."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)))
    for key, t, raw in metadata:
        out += struct.pack("<Q", len(key)) + key.encode() + struct.pack("<I", t) + raw
    offset = 0
    for name, ne, t, blob in tensors:
        out += struct.pack("<Q", len(name)) + name.encode() + struct.pack("<I", len(ne))
        out += b"".join(struct.pack("<Q", d) for d in ne) + struct.pack("<IQ", t, offset)
        offset += -(-len(blob) // alignment) * alignment
    out += b"\0" * (-len(out) % alignment)
    for _, _, _, blob in tensors:
        out += blob + b"\0" * (-len(blob) % alignment)
    return bytes(out)


def ggml_values(t, count, rng):
    """`count` small pseudo-random values stored as ggml type t."""
    if t == 0:
        return tensor_bytes("F32", [rng.uniform(-0.5, 0.5) for _ in range(count)])
    if t == 1:
        return tensor_bytes("F16", [rng.uniform(-0.5, 0.5) for _ in range(count)])
    if t == 8:  # Q8_0: f16 scale 1/256, codes
        out = bytearray()
        for _ in range(count // 32):
            out += struct.pack("<e", 1.0 / 256) + bytes(int(rng.uniform(0, 256)) & 0xFF for _ in range(32))
        return bytes(out)
    raise ValueError(t)


def gguf_seeds(golden):
    """The shared llama.cpp GGUF goldens (C = 128, two layers) shrunk to C = 32 and one layer, with the
    same metadata (one head of 32) and tensor list, values small and pseudo-random."""
    shrink = {128: 32, 512: 128, 256: 64}
    for kind in ("q8_0", "f16"):
        path = os.path.join(golden, "gguf", "v7-c128-l2.%s.gguf" % kind)
        if not os.path.exists(path):
            print("skipping the GGUF seeds: %s not found" % path)
            return
        with open(path, "rb") as f:
            metadata, tensors = gguf_parse(f.read())
        edited = []
        for key, t, raw in metadata:
            if key == "rwkv7.wkv.head_size":
                raw = struct.pack("<I", 32)
            elif key == "rwkv7.embedding_length":
                raw = struct.pack("<I", 32)
            elif key == "rwkv7.feed_forward_length":
                raw = struct.pack("<I", 128)
            elif key == "rwkv7.block_count":
                raw = struct.pack("<I", 1)
            edited.append((key, t, raw))
        rng = Lcg(7)
        out = []
        for name, ne, t in tensors:
            if name.startswith("blk.1."):
                continue
            ne = [shrink.get(d, d) for d in ne]
            out.append((name, ne, t, ggml_values(t, numel(ne), rng)))
        data = gguf_write(edited, out)
        write("gguf", "rwkv7-c32-l1.%s.gguf" % kind, data)
        if kind == "q8_0":  # the f16 one is over tensor_file's 64 KiB input limit
            write("tensor_file", "rwkv7-c32-l1.%s.gguf" % kind, data)
            write("model_load", "rwkv7-c32-l1.%s.gguf" % kind, data)
    # Every metadata value type once, nested arrays and a non-default alignment.
    md = [("general.architecture", 8, struct.pack("<Q", 5) + b"rwkv7"),
          ("general.alignment", 4, struct.pack("<I", 64)),
          ("rwkv7.wkv.head_size", 4, struct.pack("<I", 2))]
    for i, (t, fmt) in enumerate(sorted(GGUF_SCALAR.items())):
        md.append(("test.scalar%d" % i, t, struct.pack("<" + fmt, 1)))
    md.append(("test.nested", 9, struct.pack("<IQ", 9, 2) + struct.pack("<IQ", 4, 1) + struct.pack("<I", 7)
               + struct.pack("<IQ", 8, 1) + struct.pack("<Q", 2) + b"hi"))
    lerp = ggml_values(0, 12, Lcg(3))
    write("gguf", "value-types.gguf", gguf_write(md, [("blk.0.time_mix_lerp_fused.weight", [2, 1, 1, 6], 0, lerp),
                                                      ("blk.0.time_mix_r_k.weight", [2], 0, lerp[:8])], 64))
    # One super-block of each K-quant (random bytes but f16 scales of 1/256: every bit path decodes).
    rng = Lcg(7)
    kq = []
    for t, size, d_at in ((10, 84, (80, 82)), (11, 110, (108,)), (12, 144, (0, 2)), (13, 176, (0, 2)), (14, 210, (208,))):
        blob = bytearray(int(rng.uniform(0, 256)) & 0xFF for _ in range(size))
        for at in d_at:
            blob[at:at + 2] = struct.pack("<e", 1.0 / 256)
        kq.append(("blk.0.kquant%d.weight" % t, [256], t, bytes(blob)))
    write("gguf", "k-quants.gguf", gguf_write(md[:1] + md[2:3], kq))


# ---- rwkv.cpp files ("ggmf") ------------------------------------------------------------------

GGMF_MAGIC = 0x67676D66
GGMF_TO_GGML = {0: 0, 1: 1, 2: 2, 3: 3, 7: 6, 8: 7, 9: 8}  # rwkv.cpp's type codes -> ggml's


def ggmf_parse(data):
    """(header (version, n_vocab, n_embd, n_layer, type), tensors [(name, ne, rwkv.cpp type)])."""
    header = struct.unpack_from("<5I", data, 4)
    pos, tensors = 24, []
    while pos < len(data):
        n_dims, name_len, t = struct.unpack_from("<3I", data, pos)
        ne = list(struct.unpack_from("<%dI" % n_dims, data, pos + 12))
        pos += 12 + 4 * n_dims
        name = data[pos:pos + name_len].decode()
        pos += name_len
        block, size = GGML_LAYOUT[GGMF_TO_GGML[t]]
        pos += numel(ne) // block * size
        tensors.append((name, ne, t))
    return header, tensors


def ggmf_write(header, tensors):
    """header: (version, n_vocab, n_embd, n_layer, type); tensors: [(name, ne, type, bytes)]."""
    out = bytearray(struct.pack("<6I", GGMF_MAGIC, *header))
    for name, ne, t, blob in tensors:
        out += struct.pack("<3I", len(ne), len(name), t) + b"".join(struct.pack("<I", d) for d in ne)
        out += name.encode() + blob
    return bytes(out)


def ggmf_values(t, count, rng):
    """`count` small pseudo-random values as rwkv.cpp type t (block types: scale 1/256, offset 0)."""
    g = GGMF_TO_GGML[t]
    if g in (0, 1, 8):
        return ggml_values(g, count, rng)
    block, size = GGML_LAYOUT[g]
    head = struct.pack("<e", 1.0 / 256) + (struct.pack("<e", 0.0) if g in (3, 7) else b"")
    out = bytearray()
    for _ in range(count // block):
        out += head + bytes(int(rng.uniform(0, 256)) & 0xFF for _ in range(size - len(head)))
    return bytes(out)


def ggmf_seeds(peers):
    """rwkv.cpp's tiny test models (peers/rwkv.cpp/), one file per architecture, shrunk to one layer,
    C = 32 and a vocabulary of 32, with their tensor lists, shapes and types, values pseudo-random."""
    files = ["tiny-rwkv-4v0-660K-FP32.bin", "tiny-rwkv-5v1-730K-FP16.bin", "tiny-rwkv-5v2-730K-Q5_1.bin",
             "tiny-rwkv-6v0-3m-Q5_0.bin", "tiny-rwkv-7v0-834K-Q5_1.bin"]
    for name in files:
        path = os.path.join(peers, name)
        if not os.path.exists(path):
            print("skipping the rwkv.cpp seeds: %s not found" % path)
            return
        with open(path, "rb") as f:
            (version, n_vocab, n_embd, _, t), tensors = ggmf_parse(f.read())
        # C and the vocabulary to 32, the FFN to 64; RWKV-6's 16 heads of 8 to 4 (H·N = C).
        shrink = {n_embd: 32, n_vocab: 32, 448: 64, 16: 4}
        rng = Lcg(11)
        out = []
        for tname, ne, tt in tensors:
            if tname.startswith("blocks.") and not tname.startswith("blocks.0."):
                continue
            ne = [shrink.get(d, d) for d in ne]
            blob = ggmf_values(tt, numel(ne), rng)
            if tname.endswith((".att.time_decay", ".att.time_first")) and tt == 0:
                # In the domain of the inverses the reader applies: RWKV-4's -exp(d) < 0, else (0, 1).
                sign = -1.0 if name.startswith("tiny-rwkv-4") else 1.0
                blob = tensor_bytes("F32", [sign * rng.uniform(0.1, 0.9) for _ in range(numel(ne))])
            out.append((tname, ne, tt, blob))
        write("ggmf", name.replace("tiny-rwkv-", "rwkv-c32-l1-"), ggmf_write((version, 32, 32, 1, t), out))


def main():
    global CORPUS
    shared = os.path.normpath(os.path.join(HERE, "..", "..", "shared"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--golden", default=os.path.join(shared, "golden"))
    ap.add_argument("--vocab", default=os.path.join(shared, "data", "rwkv_vocab_v20230424.txt"))
    ap.add_argument("--peers", default=os.path.join(shared, "peers"))
    ap.add_argument("--ggmf-only", metavar="DIR",
                    help="write only the rwkv.cpp-file seeds, under DIR/<target>/ (scripts/fuzz does, like "
                         "--gguf-only: they derive from the shared peers/rwkv.cpp files)")
    ap.add_argument("--gguf-only", metavar="DIR",
                    help="write only the GGUF seeds, under DIR/<target>/ (scripts/fuzz does, into build-fuzz/: "
                         "they derive from the shared llama.cpp files, so they are not committed)")
    args = ap.parse_args()
    if args.gguf_only:
        CORPUS = args.gguf_only
        gguf_seeds(args.golden)
        return
    if args.ggmf_only:
        CORPUS = args.ggmf_only
        ggmf_seeds(os.path.join(args.peers, "rwkv.cpp"))
        return
    io_seeds()
    hf_seeds()
    model_seeds(args.golden)
    vocab_seeds(args.vocab)
    text_seeds()
    state_seeds()
    config_seeds(args.golden)
    bpe_seeds()


if __name__ == "__main__":
    main()
