"""The Python package against the Rust loader: the same bytes, DistributedSampler sharding, test views, the float
output's normalisation, corrupted packs. Needs FROSTER_TEST_PACK (a pack with list "train") and FROSTER_BENCH
(the froster-bench binary); scripts/python-tests.sh sets both."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import froster_loader
from froster_loader import Loader, LoaderError, Pack

PACK = os.environ["FROSTER_TEST_PACK"]
BENCH = os.environ["FROSTER_BENCH"]


class LoaderTest(unittest.TestCase):
    def test_same_bytes_as_the_rust_loader(self):
        with tempfile.TemporaryDirectory() as tmp:
            dump = os.path.join(tmp, "batch.bin")
            subprocess.run([BENCH, "loader", "--packs", PACK, "--pack-list", "train", "--dump", dump,
                            "--batch", "4", "--seed", "3", "--epoch", "1", "--workers", "2"], check=True,
                           capture_output=True)
            with open(dump, "rb") as f:
                want = f.read()
            with open(dump[:-4] + ".json") as f:
                facts = json.load(f)
        for workers in (1, 3):
            loader = Loader(PACK, list="train", batch_size=4, crop=224, scale=(224, 256), seed=3, workers=workers,
                            to="raw")
            loader.set_epoch(1)
            batch = next(iter(loader))
            loader.close()
            self.assertEqual(list(batch["video"].shape), facts["shape"])
            self.assertEqual(batch["video"].tobytes(), want, f"workers={workers}")
            self.assertEqual(batch["index"], facts["index"])

    def test_torch_gets_the_bytes_without_a_copy_of_meaning(self):
        import torch

        raw = next(iter(Loader(PACK, batch_size=2, crop=64, scale=(64, 72), to="raw")))
        again = next(iter(Loader(PACK, batch_size=2, crop=64, scale=(64, 72))))
        video, label = again["video"], again["label"]
        self.assertEqual((video.dtype, tuple(video.shape)), (torch.uint8, (2, 8, 64, 64, 3)))
        self.assertEqual(bytes(video.flatten()[:4096].tolist()), raw["video"].tobytes()[:4096])
        self.assertEqual(label.dtype, torch.int64)

    def test_two_ranks_partition_the_list(self):
        ids = {}
        for rank in (0, 1):
            loader = Loader(PACK, batch_size=3, train=False, crop=64, views=1, rank=rank, world_size=2)
            ids[rank] = [i for b in loader for i in b["index"]]
        n = len(Pack(PACK).list("train"))
        self.assertEqual(len(ids[0]), len(ids[1]))
        self.assertEqual(set(ids[0]) | set(ids[1]), set(range(n)))
        if n % 2 == 0:
            self.assertFalse(set(ids[0]) & set(ids[1]))

    def test_test_mode_gives_every_view(self):
        loader = Loader(PACK, batch_size=6, train=False, crop=64, views=3, crops=1)
        seen = {}
        for b in loader:
            for i, v, c in zip(b["index"], b["view"], b["crop"]):
                seen.setdefault(i, []).append((v, c))
        self.assertEqual(len(loader), -(-3 * len(Pack(PACK).list("train")) // 6))
        self.assertTrue(all(sorted(v) == [(0, 0), (1, 0), (2, 0)] for v in seen.values()), seen)

    def test_float_output_is_the_normalised_uint8(self):
        import torch

        kw = dict(batch_size=2, crop=64, scale=(64, 72), seed=5)
        u8 = next(iter(Loader(PACK, **kw)))["video"]
        f32 = next(iter(Loader(PACK, output="float", **kw)))["video"]
        mean = torch.tensor(froster_loader.CLIP_MEAN).view(1, 3, 1, 1, 1)
        std = torch.tensor(froster_loader.CLIP_STD).view(1, 3, 1, 1, 1)
        want = (u8.permute(0, 4, 1, 2, 3).float() / 255 - mean) / std
        self.assertEqual(tuple(f32.shape), tuple(want.shape))
        self.assertLess((f32 - want).abs().max().item(), 1e-5)

    def test_a_corrupted_pack_names_the_video_and_frame(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "pack")
            shutil.copytree(PACK, bad)
            # Flip a byte inside every stored frame of the first video (docs/pack-format.md: a record is a
            # 16-byte header, then a frame table of (offset u64, length u32, crc32 u32) entries).
            with open(os.path.join(bad, "manifest.json")) as f:
                manifest = json.load(f)
            video = manifest["videos"][0]
            path = os.path.join(bad, manifest["shards"][video["shard"]]["file"])
            with open(path, "r+b") as f:
                data = bytearray(f.read())
                table = video["offset"] + 16
                for k in range(video["frames"]):
                    at = int.from_bytes(data[table + 16 * k: table + 16 * k + 8], "little")
                    data[at + 1] ^= 0xFF
                f.seek(0)
                f.write(data)
            with self.assertRaises(LoaderError) as e:
                for _ in Loader(bad, batch_size=4, train=False, crop=64, views=3, strict=True):
                    pass
            self.assertIn(f"pack video {video['id']} frame", str(e.exception))

    def test_dropping_the_loader_joins_its_threads_and_ctrl_c_stops_it(self):
        def tasks():
            return len(os.listdir("/proc/self/task"))

        import gc

        gc.collect()  # loaders of earlier tests go (and join their threads) first
        before = tasks()
        # 54 test views, one per batch: more than the channels hold, so the workers are still running below.
        loader = Loader(PACK, batch_size=1, train=False, crop=64, views=3, crops=3, workers=4)
        it = iter(loader)
        next(it)
        self.assertGreater(tasks(), before)
        del it, loader
        gc.collect()
        self.assertEqual(tasks(), before)
        script = ("import froster_loader, sys\n"
                  "l = froster_loader.Loader(sys.argv[1], batch_size=1, crop=224, workers=1, to='raw')\n"
                  "print('started', flush=True)\n"
                  "while True:\n"
                  "    for _ in l: pass\n")
        p = subprocess.Popen(["python", "-c", script, PACK], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.stdout.readline().strip(), "started")
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("KeyboardInterrupt", err)

    def test_pack_lists_videos_and_reads_a_frame(self):
        pack = Pack(PACK)
        video = pack.videos[0]
        frame = pack.read_frame(video, 0)
        self.assertEqual(len(frame.shape), 3)
        self.assertEqual(frame.shape[2], 3)
        self.assertGreater(pack.frames(video), 0)
        with self.assertRaises(ValueError):
            pack.read_frame("no such video", 0)

    def test_the_dataset_adapter_and_the_benchmark_run(self):
        import torch.utils.data

        loader = Loader(PACK, batch_size=4, crop=64, scale=(64, 72))
        dl = torch.utils.data.DataLoader(froster_loader.as_dataset(loader), batch_size=None, num_workers=0)
        self.assertEqual(sum(1 for _ in dl), len(loader))
        out = subprocess.run(["python", "-m", "froster_loader.bench", "--packs", PACK, "--clips", "8",
                              "--workers", "2", "--rust", BENCH], check=True, capture_output=True, text=True)
        numbers = json.loads(out.stdout)
        self.assertGreater(numbers["python_train_clips_per_s"], 0)
        self.assertIn("train_ratio", numbers)


if __name__ == "__main__":
    unittest.main()
