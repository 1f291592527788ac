"""A safetensors reader in the standard library plus torch (the GPU machine's venv has no safetensors package)."""
import json
import struct

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32}


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = bytearray(data[8 + n + a:8 + n + b])
        t = torch.frombuffer(raw, dtype=DTYPES[info["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out


def clip_state(path):
    """OpenAI-layout CLIP weights, the golden folder's sparse token embedding rebuilt, as float32."""
    s = load(path)
    if "token_embedding.used_ids" in s:
        ids, rows = s.pop("token_embedding.used_ids"), s.pop("token_embedding.used_rows")
        w = torch.zeros(49408, rows.shape[1])
        w[ids] = rows
        s["token_embedding.weight"] = w
    return {k: v.float() for k, v in s.items()}
