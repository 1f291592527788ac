#!/usr/bin/env python3
"""The reference's sampled frame indices for videos, through ../shared/bench/reference_loader_bench.py.

That file reimplements PySlowFast's PyAV data path (bit-identical to the reference's code). This script calls its
pieces: header facts (average_rate, frames, duration), window_start, the pts window decode
(_pyav_decode_pts_range) and linspace_pick, and maps each kept frame to its place in the whole stream (all frames
decoded, by pts), so that indices compare with froster's. Prints JSON:
  {"<file>": {"frames": n, "fps": f, "views": [[8 indices] x 3], "train": {"<u>": [8 indices], ...}}}

Usage: python3 reference_indices.py BENCH_DIR VIDEO... (needs av, numpy, torch: the setup's venv has them)
"""
import json
import math
import os
import sys
import types

sys.path.insert(0, sys.argv[1])
import av  # noqa: E402
import reference_loader_bench as R  # noqa: E402

TRAIN_U = (0.0, 0.137, 0.5, 0.731, 0.999)


def stats():
    return types.SimpleNamespace(packet_bytes=0, frames_decoded=0, yuv_bytes=0)


def all_pts(path):
    with av.open(path) as c:
        return sorted(f.pts for f in c.decode(c.streams.video[0]))


def indices(path, clip_idx, num_clips, u, order):
    with av.open(path) as c:
        s = c.streams.video[0]
        fps, n, duration = float(s.average_rate), int(s.frames or 0), s.duration
        if duration is None or n <= 0:
            n_all = len(order)
            win = R.sampling_window_frames(fps)
            start = R.window_start(n_all, win, clip_idx, num_clips, u, use_offset=R.USE_OFFSET_SAMPLING)
            return [int(i) for i in R.linspace_pick(start, start + win - 1, R.NUM_FRAMES, n_all)]
        clip = R.decode_window_frames(fps)
        start_idx = R.window_start(n, clip, clip_idx, num_clips, u)
        ppf = duration / n
        start_pts, end_pts = int(start_idx * ppf), int((start_idx + clip - 1) * ppf)
        kept = R._pyav_decode_pts_range(c, s, start_pts, end_pts, stats())
        idx = R.linspace_pick(0, R.sampling_window_frames(fps) - 1, R.NUM_FRAMES, len(kept))
        return [order.index(kept[int(i)].pts) for i in idx]


def main():
    out = {}
    for path in sys.argv[2:]:
        order = all_pts(path)
        with av.open(path) as c:
            s = c.streams.video[0]
            facts = {"frames": int(s.frames or 0), "fps": float(s.average_rate), "decoded": len(order)}
        facts["views"] = [indices(path, k, 3, 0.0, order) for k in range(3)]
        facts["train"] = {repr(u): indices(path, -1, 1, u, order) for u in TRAIN_U}
        out[os.path.basename(path)] = facts
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
