"""The "Your text" tab's figures for the app bench: prints them.

    python -m cnngru.bench.your_text [--sessions 9] [--strategy hybrid]

1. Memory: ``--sessions`` clients (``MAX_SESSIONS`` + 1 by default) each train the four
   strategies on Debian's GPL-3 at the API's 3-second test budget, all submitted at once (they
   run one at a time in the line). Printed: the app's resident memory before and after, how
   many sessions still hold models (at most ``MAX_SESSIONS``), and whether the app stays under
   ``APP_MEMORY_CAP``. The training processes' own memory is not the app's and is not counted.
2. First character while a job trains: a 1-minute job runs; another session's Generate
   requests are timed from submit to the first streamed generated character (median and worst
   of 10; the target is under 1 s). The job then finishes: its wall time (the target is at most
   4 x the budget + 15 s) and each strategy's validation BPC (the target is under 3.0).

``python -m cnngru.bench.demo`` prints these too, after its own figures.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..app.offline import keep_offline

keep_offline()

TEXT = Path("/usr/share/common-licenses/GPL-3")


def app_rss(pid: int) -> int:
    """Resident memory of process ``pid`` in bytes (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def train_sessions(url: str, count: int, text: str) -> list:
    """``count`` sessions, each having trained at the test budget (all submitted at once)."""
    from .demo import client_for

    clients = [client_for(url) for _ in range(count)]
    jobs = [c.submit(text, None, "3s", api_name="/train_your_text") for c in clients]
    with ThreadPoolExecutor(count) as pool:  # read every stream, so none is left hanging
        list(pool.map(lambda job: job.result(timeout=1800), jobs))
    return clients


def memory_figures(url: str, pid: int, sessions: int, text: str) -> list[str]:
    from ..app.session_models import APP_MEMORY_CAP, MAX_SESSIONS

    before = app_rss(pid)
    started = time.perf_counter()
    clients = train_sessions(url, sessions, text)
    took = time.perf_counter() - started
    after = app_rss(pid)
    held = sum(bool(c.predict(api_name="/your_models")["models"]) for c in clients)
    verdict = "under" if after < APP_MEMORY_CAP else "OVER"
    return [f"your text, {sessions} sessions trained at the 3 s test budget in {took:.0f} s "
            f"(one job at a time): app resident memory {before / 2**20:,.0f} MB before, "
            f"{after / 2**20:,.0f} MB after, {verdict} the cap of {APP_MEMORY_CAP / 2**20:,.0f} MB;"
            f" {held} sessions hold models (at most {MAX_SESSIONS})"]


def first_char_while_training(url: str, strategy: str, text: str, runs: int = 10) -> list[str]:
    from .demo import client_for, first_char_latency

    trainer = client_for(url)
    job = trainer.submit(text, None, "1min", api_name="/train_your_text")
    for update in job:  # wait until it is past planning, training on its core
        if "Training" in update[0]:
            break
    latencies = first_char_latency(url, strategy, runs)
    still = not job.done()
    job.result(timeout=600)
    table = trainer.predict(api_name="/your_models")["table"]
    bpc = ", ".join(f"{r['name']} {r['val_bpc']:.3f}" for r in table["rows"])
    return [f"first streamed character ({strategy}) while a training job runs"
            f"{'' if still else ' (the job ended before the last request: figure unsure)'}: "
            f"median {statistics.median(latencies) * 1000:.0f} ms, worst "
            f"{max(latencies) * 1000:.0f} ms over {len(latencies)} requests (target: under 1 s)",
            f"your text, GPL-3 ({len(text):,} characters) at 1 min per strategy: the job took "
            f"{table['job_s']:.0f} s from its process's start to its end, {table['took_s']:.0f} s "
            "of it planning, training and evaluating (target: at most 4 x 60 + 15 = 255 s); "
            f"validation BPC {bpc} (target: under 3.0)"]


def figures(url: str, pid: int, say: Callable[[str], None], strategy: str = "hybrid",
            sessions: int | None = None) -> None:
    """Print the tab's figures against the app at ``url`` (process ``pid``)."""
    from ..app.session_models import MAX_SESSIONS

    if not TEXT.is_file():
        say(f"your text: skipped ({TEXT} is not here)")
        return
    text = TEXT.read_text(encoding="utf-8")
    for line in first_char_while_training(url, strategy, text):
        say(line)
    for line in memory_figures(url, pid, sessions or MAX_SESSIONS + 1, text):
        say(line)


def main(argv: list[str] | None = None) -> None:
    from ..app.session_models import MAX_SESSIONS
    from .demo import free_port, start_app, stop_app

    parser = argparse.ArgumentParser(prog="python -m cnngru.bench.your_text", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=MAX_SESSIONS + 1)
    parser.add_argument("--strategy", default="hybrid")
    parser.add_argument("--out", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    port = free_port()
    proc, _seconds = start_app(port)
    try:
        figures(f"http://127.0.0.1:{port}/", proc.pid, say, args.strategy, args.sessions)
    finally:
        stop_app(proc)
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
