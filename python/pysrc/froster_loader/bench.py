"""Throughput of the loader from Python: ``python -m froster_loader.bench --packs PACK [--rust froster-bench]``.

Prints train clips/s and test views/s through the Python package (the arrays handed to torch or numpy included)
and, with ``--rust``, the Rust ``froster-bench loader`` numbers on the same pack and workers, and their ratio.
It measures; it asserts nothing.
"""
import argparse
import json
import os
import subprocess
import time

from . import Loader


def rate(packs, list_name, train, workers, clips):
    loader = Loader(packs, list=list_name, batch_size=1, train=train, crop=224, scale=(224, 256),
                    workers=workers, views=3, crops=1)
    n, t0 = 0, time.perf_counter()
    while n < clips:
        for b in loader:
            n += len(b["id"])
            if n >= clips:
                break
    loader.close()
    return n / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--packs", required=True, help="pack folder")
    p.add_argument("--list", default=None, help="pack list (default: the first)")
    p.add_argument("--workers", type=int, default=os.cpu_count(), help="loader threads (default: all cores)")
    p.add_argument("--clips", type=int, default=48, help="clips per measurement")
    p.add_argument("--rust", default=None, help="path of froster-bench, to compare on the same pack and workers")
    a = p.parse_args()
    from ._froster_loader import Pack

    list_name = a.list or Pack(a.packs).lists[0]
    out = {"workers": a.workers,
           "python_train_clips_per_s": rate(a.packs, list_name, True, a.workers, a.clips),
           "python_test_views_per_s": rate(a.packs, list_name, False, a.workers, a.clips)}
    if a.rust:
        cmd = [a.rust, "loader", "--packs", a.packs, "--pack-list", list_name, "--workers", str(a.workers),
               "--clips", str(a.clips)]
        rust = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        out["rust_train_clips_per_s"] = rust["pack_train_clips_per_s_nt"]
        out["rust_test_views_per_s"] = rust["pack_test_views_per_s_nt"]
        out["train_ratio"] = out["python_train_clips_per_s"] / out["rust_train_clips_per_s"]
        out["test_ratio"] = out["python_test_views_per_s"] / out["rust_test_views_per_s"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
