"""The peer's --trace summary on the CPU: the ops that ran inside it, once per call, with sane times."""
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer import traced  # noqa: E402


class TraceTest(unittest.TestCase):
    def test_the_summary_names_what_ran_per_step(self):
        a = torch.randn(64, 64)
        t = traced(3, torch.device("cpu"), lambda: torch.relu(a @ a))
        self.assertEqual((t["steps"], t["of"]), (3, "cpu ops"))
        self.assertTrue(0 < t["busy_ms_per_step"] <= t["wall_ms_per_step"] * 1.01, t)
        self.assertAlmostEqual(t["idle"], max(0.0, 1 - t["busy_ms_per_step"] / t["wall_ms_per_step"]), places=6)
        calls = {name: per_step for name, _, per_step in t["top"]}
        self.assertEqual(calls.get("aten::relu"), 1.0, t["top"])
        ms = [m for _, m, _ in t["top"]]
        self.assertEqual(ms, sorted(ms, reverse=True))


if __name__ == "__main__":
    unittest.main()
