"""Learning benchmark: `python -m bench.learning` — what a refit costs in the daemon.

Times `learning.propose` (the version a refit makes, with its guard rail) on 1,000 corrections,
alone and with 100 examples of two categories of the user's own (the three shipped heads
refitted), and the lean of a 1,000-correction memory on one photo (what every arrival pays).
The feature values are drawn at random: the cost depends on their number, not their values.
Medians of five runs; prints JSON and writes bench/out/learning.json.
"""

from __future__ import annotations

import os

# As the daemon runs (cli/xintud.py): one BLAS thread; measured beside two, see RESULTS.md.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bench.measure import median  # noqa: E402
from xintud.core.categories import CATEGORY_IDS  # noqa: E402
from xintud.engine.features import TEXT_FEATURE_NAMES  # noqa: E402
from xintud.engine.learned import LearnedHeads  # noqa: E402
from xintud.engine.models.store import load_heads  # noqa: E402
from xintud.learning.propose import Example, memory_of, propose  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RUNS = 5


def median_seconds(work: Callable[[], object], runs: int = RUNS) -> float:
    """The median wall time of `runs` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return median(times)


def drawn_examples(count: int, categories: tuple[str, ...], seed: int) -> list[Example]:
    """`count` examples with random non-negative features, spread over `categories`."""
    rng = np.random.default_rng(seed)
    features = np.abs(rng.standard_normal((count, len(TEXT_FEATURE_NAMES)))).astype(np.float32)
    return [Example(sha256=hashlib.sha256(f"{seed}-{i}".encode()).hexdigest(),
                    category=categories[i % len(categories)], features=features[i])
            for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench.learning", description=__doc__)
    parser.add_argument("--corrections", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "learning.json")
    args = parser.parse_args(argv)
    shipped = LearnedHeads(*load_heads())
    corrections = drawn_examples(args.corrections, CATEGORY_IDS, seed=1)
    own = drawn_examples(100, ("receipts", "whiteboards"), seed=2)
    memory = memory_of(corrections)
    photo = drawn_examples(1, ("other",), seed=3)[0].features[None]
    first = propose(corrections, None, "v0001", shipped)
    results = {
        "blas_threads": os.environ["OPENBLAS_NUM_THREADS"],
        "corrections": args.corrections,
        "held_back": first.info.held_back,
        "refit_memory_only_s": round(median_seconds(
            lambda: propose(corrections, None, "v0002", shipped)), 3),
        "refit_with_100_examples_of_2_own_categories_s": round(median_seconds(
            lambda: propose([*corrections, *own], None, "v0003", shipped)), 3),
        "lean_one_photo_ms": round(1000 * median_seconds(
            lambda: memory.logit_bonus(photo, CATEGORY_IDS), runs=51), 3),
    }
    print(json.dumps(results, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
