#!/usr/bin/env python3
# Writes the seed corpora tests/fuzz/corpus/<target>/ (committed; rerun only to change them).
import json, os, struct, glob
here = os.path.dirname(os.path.abspath(__file__))
def put(target, name, data):
    d = os.path.join(here, "corpus", target); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), "wb").write(data if isinstance(data, bytes) else data.encode())

def shard(values, magic=20240520, version=1, count=None):
    h = [0] * 256; h[0], h[1], h[2] = magic, version, len(values) if count is None else count
    return struct.pack("<256i", *h) + struct.pack("<%dH" % len(values), *values)
put("shard", "tokens", shard([1, 2, 3, 50256]))
put("shard", "labels", shard([0, 1, 0]))
put("shard", "empty", shard([]))
put("shard", "bad_count", shard([1, 2], count=5))

def safetensors(tensors, metadata=None):
    header, data = {}, b""
    if metadata: header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode(); text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data
put("safetensors", "two", safetensors([("w", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
                                       ("b", "I32", [3], struct.pack("<3i", 1, 2, 3))], {"steps": "3", "deep_active": "true"}))
put("safetensors", "f64_scalar", safetensors([("x", "F64", [], struct.pack("<d", 0.5))]))
put("safetensors", "empty", safetensors([]))

for p in sorted(glob.glob(os.path.join(here, "../../train/configs/*.json"))):
    put("config", os.path.basename(p)[:-5], open(p).read())
put("config", "defaults", "{}")
put("config", "encoder", '{"causal": false, "n_classes": 3, "attention": "full", "ffn": "switch"}')
put("config", "nested", '{"moe": {"n_shared": 1, "d_ff_deep": 32}, "dsse": {"transfer_step": null}, "gmha": {"window": 4}}')

put("glue", "sst2", b"\x00\x1f" + b"sentence\tlabel\nhello world\t1\na bad , bad movie \t0\n")
put("glue", "mrpc", b"\x01\x1f" + "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tA b c.\tC d.\n0\t3\t4\tx\ty z\n".encode())

bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
cs = bs[:]; n = 0
for b in range(256):
    if b not in bs: bs.append(b); cs.append(256 + n); n += 1
b2u = dict(zip(bs, cs))
enc = {chr(b2u[b]): b for b in range(256)}
merges = [("a", "b"), ("ab", "c"), ("a", "a"), ("aa", "aa"), ("Ġ", "w"), ("h", "e")]
for l, r in merges: enc[l + r] = len(enc)
enc["<|endoftext|>"] = len(enc)
put("gpt2_vocab", "tiny", json.dumps(enc, ensure_ascii=False) + "\0#version: 0.2\n" + "".join("%s %s\n" % m for m in merges))

put("bpe", "hello", "Hello world, it's 2024!")
put("bpe", "unicode", "caf\u00e9 na\u00efve \u4f60\u597d \U0001F600 \u0661\u0662")
put("bpe", "letters", "abcdefghijklmnopqrstuvwxyz" * 20)
put("bpe", "spaces", "a  b\t\tc\n\n\n   ")
