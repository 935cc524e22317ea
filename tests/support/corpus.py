"""Where the shared test corpus is: `../shared/corpus` beside the checkout (as CI lays it
out), or CARM_CORPUS."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def corpus_directory() -> Path:
    candidates = [Path(os.environ["CARM_CORPUS"])] if os.environ.get("CARM_CORPUS") else []
    candidates += [REPO.parent / "shared" / "corpus", Path("/work/shared/corpus")]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


CORPUS = corpus_directory()
