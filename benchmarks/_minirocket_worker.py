"""Runs classification_peers' MiniRocket recipe in an interpreter where aeon (and numba) import.

    python _minirocket_worker.py DIR

reads DIR/in.npz (written by ``classification_peers.minirocket``: the utterances concatenated along
time with their lengths, the labels and the seed) and writes the recipe's result dict to DIR/out.json.
"""

import json
import sys
from pathlib import Path

import numpy as np
from classification_peers import _minirocket_run


def split(frames: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return np.split(frames, np.cumsum(lengths)[:-1])


def main(folder: str) -> None:
    data = np.load(Path(folder) / "in.npz")
    result = _minirocket_run(split(data["train"], data["train_len"]), data["y_train"],
                             split(data["test"], data["test_len"]), data["y_test"], int(data["seed"]))
    (Path(folder) / "out.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
