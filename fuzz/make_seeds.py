#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/).

Run from anywhere: python3 fuzz/make_seeds.py [model.gguf]. The seeds are
small handcrafted inputs, plus the first 4 KiB of the SmolLM2 model file when
it is given or found in the default place (the header and the first metadata
pairs: real key names and layouts for the GGUF targets, not the model).

The GGUF files follow the layout in include/foundry/io/gguf.hpp (v3, or v2
where noted); the tiny Llama model is the one tests/support/gguf_builder.hpp
builds (2 blocks, n_embd 8, 2 heads and 1 KV head of 4, FFN 16, vocabulary
of 6, F32 weights).
"""
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
F32, F16, Q4_0, Q4_1, Q8_0 = 0, 1, 2, 3, 8
SCALAR = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
          FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}
BLOCK = {F32: (1, 4), F16: (1, 2), Q4_0: (32, 18), Q4_1: (32, 20), Q8_0: (32, 34)}


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def value(t, v):
    if t == STRING:
        return gstr(v)
    if t == ARRAY:
        et, items = v
        out = struct.pack("<IQ", et, len(items))
        return out + b"".join(value(et, x) for x in items)
    return struct.pack(SCALAR[t], v)


def gguf(pairs, tensors, version=3, alignment=32):
    """pairs: [(key, type, value)]; tensors: [(name, ggml_type, dims, data bytes)]."""
    out = struct.pack("<IIQQ", 0x46554747, version, len(tensors), len(pairs))
    for k, t, v in pairs:
        out += gstr(k) + struct.pack("<I", t) + value(t, v)
    offset, offsets = 0, []
    for name, gt, dims, data in tensors:
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", gt, offset)
        offsets.append(offset)
        offset = (offset + len(data) + alignment - 1) // alignment * alignment
    out += b"\0" * (-len(out) % alignment)
    data_section = bytearray(offset)
    for (name, gt, dims, data), o in zip(tensors, offsets):
        data_section[o:o + len(data)] = data
    return out + bytes(data_section)


def f32_tensor(name, dims, rng):
    n = 1
    for d in dims:
        n *= d
    return (name, F32, dims, struct.pack("<%df" % n, *[rng.uniform(-0.1, 0.1) for _ in range(n)]))


def tiny_llama(rng, int_type=UINT32):
    L, E, H, HKV, FF, V = 2, 8, 2, 1, 16, 6
    hd = E // H
    pairs = [("general.architecture", STRING, "llama"),
             ("llama.block_count", int_type, L),
             ("llama.embedding_length", int_type, E),
             ("llama.attention.head_count", int_type, H),
             ("llama.attention.head_count_kv", int_type, HKV),
             ("llama.feed_forward_length", int_type, FF),
             ("llama.context_length", int_type, 64),
             ("llama.rope.dimension_count", int_type, hd),
             ("llama.rope.freq_base", FLOAT32, 10000.0),
             ("llama.attention.layer_norm_rms_epsilon", FLOAT32, 1e-5),
             ("llama.vocab_size", int_type, V),
             ("tokenizer.ggml.model", STRING, "gpt2"),
             ("tokenizer.ggml.tokens", ARRAY, (STRING, list("abcdef"))),
             ("tokenizer.ggml.merges", ARRAY, (STRING, []))]
    tensors = [f32_tensor("token_embd.weight", [E, V], rng), f32_tensor("output_norm.weight", [E], rng)]
    for i in range(L):
        p = "blk.%d." % i
        tensors += [f32_tensor(p + "attn_norm.weight", [E], rng),
                    f32_tensor(p + "attn_q.weight", [E, H * hd], rng),
                    f32_tensor(p + "attn_k.weight", [E, HKV * hd], rng),
                    f32_tensor(p + "attn_v.weight", [E, HKV * hd], rng),
                    f32_tensor(p + "attn_output.weight", [H * hd, E], rng),
                    f32_tensor(p + "ffn_norm.weight", [E], rng),
                    f32_tensor(p + "ffn_gate.weight", [E, FF], rng),
                    f32_tensor(p + "ffn_up.weight", [E, FF], rng),
                    f32_tensor(p + "ffn_down.weight", [FF, E], rng)]
    return gguf(pairs, tensors)


def all_types(rng):
    pairs = [("general.architecture", STRING, "test"), ("general.alignment", UINT32, 64),
             ("t.u8", UINT8, 200), ("t.i8", INT8, -3), ("t.u16", UINT16, 60000),
             ("t.i16", INT16, -30000), ("t.u32", UINT32, 4000000000), ("t.i32", INT32, -7),
             ("t.f32", FLOAT32, 1.5), ("t.bool", BOOL, True), ("t.u64", UINT64, 1 << 63),
             ("t.i64", INT64, -(1 << 62)), ("t.f64", FLOAT64, -2.25), ("t.str", STRING, "h\u00e9llo"),
             ("t.a.f32", ARRAY, (FLOAT32, [1.0, 2.0, 3.0])), ("t.a.i32", ARRAY, (INT32, [-1, 0, 1])),
             ("t.a.bool", ARRAY, (BOOL, [True, False])), ("t.a.str", ARRAY, (STRING, ["x", "", "yz"])),
             ("t.a.empty", ARRAY, (UINT64, []))]
    tensors = [f32_tensor("f32", [3, 2], rng),
               ("f16", F16, [4, 1, 2], bytes(rng.randrange(256) for _ in range(16))),
               ("q4_1", Q4_1, [64], bytes(rng.randrange(256) for _ in range(40))),
               ("q8_0", Q8_0, [32, 2, 1, 1], bytes(rng.randrange(256) for _ in range(68))),
               ("q4_0", Q4_0, [32], bytes(rng.randrange(256) for _ in range(18)))]
    return gguf(pairs, tensors, alignment=64)


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    rng = random.Random(19)
    model = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
        "~/.cache/foundry/models/SmolLM2-135M-Instruct.Q4_1.gguf")

    llama = tiny_llama(rng)
    for target in ("gguf", "model_metadata"):
        write(target, "tiny_llama.gguf", llama)
    write("model_metadata", "tiny_llama_u64.gguf", tiny_llama(rng, UINT64))
    write("gguf", "all_types.gguf", all_types(rng))
    write("gguf", "v2_metadata_only.gguf",
          gguf([("general.name", STRING, "v2"), ("a", ARRAY, (UINT16, [1, 2]))], [], version=2))
    write("gguf", "empty_v3.gguf", gguf([], []))
    if os.path.isfile(model):
        with open(model, "rb") as f:
            write("gguf", "smollm2_header_4k.gguf", f.read(4096))
    else:
        print("note: %s not found, no model-header seed" % model)

    texts = [b"\x00Hello world", b"\x01<|im_start|>user\nhi there<|im_end|>\n",
             b"\x02numbers 12345 and  spaces\t\n  end", b"\x03h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82",
             b"\x00the thing in the ring", b"\x01\xff\xfe\xc3 broken utf-8 \xe2\x82", b"\x02's 't 're 've 'm 'll 'd"]
    for i, t in enumerate(texts):
        write("tokenizer", "text_%d" % i, t)

    for fi, gt in enumerate([F32, F16, 30, Q8_0, Q4_0, Q4_1]):  # order of quant_fuzz.cpp; 30 = BF16
        size = BLOCK.get(gt, (1, 2))[1]
        write("quant", "blocks_%d" % fi, bytes([fi, 0]) + bytes(rng.randrange(256) for _ in range(size * 2)))
        floats = struct.pack("<64f", *[rng.uniform(-4, 4) for _ in range(64)])
        write("quant", "floats_%d" % fi, bytes([fi, 1]) + floats)


if __name__ == "__main__":
    main()
