"""One ``cnngru study`` job as a process of its own, for the demo's "Your text" tab.

    python -m cnngru.evaluation.study_worker FOLDER SECONDS [--rates FILE]

Reads ``FOLDER/text.txt``, trains the four strategies on one thread (``study_text``) and writes
the checkpoints and the table into ``FOLDER``. It reports on stdout, one JSON object a line:
``{"event": "plan", ...}`` once, ``{"event": "progress", ...}`` after every slice, then
``{"event": "done"}`` or ``{"event": "error", "message": ...}``. A file ``FOLDER/stop`` asks it
to stop after the current round: every strategy then has had the same number of slices, and the
table is written from what was trained.

``--rates`` keeps the measured training throughput in a JSON file, so the measurement is made
once per app, not once per job (each job is a fresh process).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

TEXT, STOP, TABLE = "text.txt", "stop", "table.json"


def say(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def kept_rates(path: Path | None):
    """``slowest_rate``, remembered in ``path`` across processes."""
    from .text_study import slowest_rate

    def rate(params: int, vocab_size: int, batch_size: int, seq_len: int) -> float:
        if path is None:
            return slowest_rate(params, vocab_size, batch_size, seq_len)
        key = f"{params},{vocab_size},{batch_size},{seq_len}"
        try:
            known = json.loads(path.read_text())
        except (OSError, ValueError):
            known = {}
        if key not in known:
            known[key] = slowest_rate(params, vocab_size, batch_size, seq_len)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(known))
            os.replace(tmp, path)
        return known[key]

    return rate


def exit_with_parent(every: float = 1.0) -> None:
    """End this process if the app that started it is gone (a job never outlives its app).
    The app names itself in ``CNNGRU_APP_PID``: it may be gone before this line runs."""
    import threading
    import time

    parent = int(os.environ.get("CNNGRU_APP_PID") or os.getppid())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cnngru.evaluation.study_worker")
    p.add_argument("folder")
    p.add_argument("seconds", type=float)
    p.add_argument("--rates", default=None, help="JSON file of measured throughputs")
    args = p.parse_args(argv)
    folder = Path(args.folder)
    exit_with_parent()

    import torch

    torch.set_num_threads(1)  # one core for the job; the app's visitors keep the other
    from .text_study import TextError, study_text

    def progress(p) -> None:
        say("progress", **asdict(p))

    try:
        text = (folder / TEXT).read_text(encoding="utf-8")
        study_text(text, args.seconds, folder, on_progress=progress,
                   should_stop=(folder / STOP).exists,
                   rate=kept_rates(Path(args.rates) if args.rates else None),
                   on_plan=lambda plan: say("plan", **asdict(plan), steps=plan.steps))
    except TextError as e:
        say("error", message=str(e))
        return 2
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
