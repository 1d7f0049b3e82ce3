"""How fast the demo starts and answers, and how it holds up under load: prints figures.

    python -m cnngru.bench.demo [--clients 30] [--tokens 400] [--starts 3]

1. Start: ``python app.py`` in a fresh process, from launch to the first page served
   (imports, loading every model, building the page), the median of ``--starts`` runs.
2. First character: from submitting a Generate request to the first streamed update holding a
   generated character, on an idle server (median and worst of 10).
3. Response sizes: the JSON of each endpoint's final response as ``gradio_client`` receives it
   (figures included; what a page downloads at the end of a request).
4. Load: ``--clients`` separate ``gradio_client`` clients send a Generate request at the same
   moment. Each ends completed, refused as busy (the queue is full: a clear message), failed
   with another clear error, or lost (nothing within 60 s; must be 0). Latency p50/p95 is over
   the completed ones.
   One request alone is timed first (median of 3), on the same server.
   ``--phases`` adds where that latency goes: the median times of the first streamed update,
   the last one before the end, and the final response (figures, coloured text).
5. Device: on a machine with CUDA, characters/s of one generation on the CPU and on the GPU.
6. "Your text": the first character while a training job runs, and the app's memory with
   ``MAX_SESSIONS`` + 1 sessions that have trained (``cnngru/bench/your_text.py``).

Timings swing when anything else runs on the machine; check it is idle first.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from ..app.offline import keep_offline
from ..paths import REPO as ROOT
from ..paths import RESULTS_DIR
from .your_text import figures as your_text_figures

keep_offline()  # for the gradio_client clients below (importing cnngru.app did it already)

PROMPT = "ROMEO\n"
LOST_AFTER = 60.0  # seconds without a result or a clear error


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, float]:
    """Start ``python app.py`` on ``port`` (``env``: more environment variables); return the
    process and seconds until it served."""
    started = time.perf_counter()
    log = tempfile.TemporaryFile("w+")  # not a pipe: a long-running app would fill it and stall
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT,
                            env={**os.environ, **(env or {}), "GRADIO_SERVER_NAME": "127.0.0.1",
                                 "GRADIO_SERVER_PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=log, text=True)
    url = f"http://127.0.0.1:{port}/"
    while time.perf_counter() - started < 120:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"app.py exited:\n{log.read()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return proc, time.perf_counter() - started
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("app.py did not serve within 120 s")


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


_OPEN: list = []  # every client made: each holds a heartbeat stream open until it is closed


def client_for(url: str):
    """A ``gradio_client`` client of the local app. Without ``ssl_verify=False`` every request
    loads the system's certificate store (httpx makes an SSL context per request, even for
    ``http://``): 30 clients then spend ~2.9 s of CPU on the app's two cores during the load,
    against ~0.3 s, and the bench measures its own clients more than the app."""
    from gradio_client import Client

    client = Client(url, analytics_enabled=False, verbose=False, ssl_verify=False)
    _OPEN.append(client)
    return client


def close_clients() -> None:
    """Close every client made so far: a load is then measured with its own clients only."""
    while _OPEN:
        _OPEN.pop().close()


def generate_args(strategy: str, tokens: int, seed: int) -> tuple:
    return (strategy, PROMPT, tokens, 0.8, 0, 1.0, seed, False, False)


def first_char_latency(url: str, strategy: str, runs: int = 10) -> list[float]:
    """Seconds from submit to the first update that holds a generated character."""
    client = client_for(url)
    client.predict(*generate_args(strategy, 20, 0), api_name="/generate")  # warm the path
    latencies = []
    for i in range(runs):
        started = time.perf_counter()
        job = client.submit(*generate_args(strategy, 400, i), api_name="/generate")
        for update in job:
            if len(update[0]) > len(PROMPT):
                latencies.append(time.perf_counter() - started)
                break
        job.result()
    return latencies


def response_size(result) -> int:
    """Bytes of a response's JSON, as ``gradio_client`` returns it (plots are JSON strings inside
    it, escaped again, as on the wire)."""
    return len(json.dumps(result).encode("utf-8"))


SCORE_TEXT = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to "
              "suffer\nThe slings and arrows of outrageous fortune,\n")


def response_sizes(url: str, strategy: str) -> list[tuple[str, int]]:
    """(what was asked, bytes) for one request to each endpoint, in one session."""
    from gradio_client.exceptions import AppError

    client = client_for(url)
    sizes = []
    for tokens in (200, 2000):
        result = client.predict(*generate_args(strategy, tokens, 0), api_name="/generate")
        sizes.append((f"/generate {strategy} {tokens} characters", response_size(result)))
    result = client.predict(200, 0.8, 0, 1.0, 1, False, api_name="/continue_generation")
    sizes.append(("/continue_generation +200 characters", response_size(result)))
    path = client.predict(api_name="/numbers")
    sizes.append(("/numbers (a file reference)", response_size(path)))
    sizes.append(("  its JSON file, 2,200 characters", Path(path).stat().st_size))
    result = client.predict(PROMPT, 300, 0.8, 0, 1.0, 0, False, False, api_name="/compare")
    sizes.append(("/compare 300 characters per model", response_size(result)))
    result = client.predict(SCORE_TEXT, "hybrid", "gru", False, api_name="/score")
    sizes.append((f"/score {len(SCORE_TEXT)} characters", response_size(result)))
    sizes.append(("/results", response_size(client.predict(api_name="/results"))))
    try:
        result = client.predict(SCORE_TEXT, 0.9, api_name="/refine")
        sizes.append((f"/refine {len(SCORE_TEXT)} characters", response_size(result)))
    except AppError:  # no refiner shipped: the endpoint says so
        pass
    return sizes


def load_run(url: str, clients: int, strategy: str, tokens: int,
             server_pid: int | None = None) -> dict:
    """``clients`` clients submit at once; count how each request ends. With ``server_pid``,
    also the CPU seconds from the moment every client is connected (each fetched the page's
    config) to the last request's end, of the server, of its helper processes (the generation
    process), and of these clients: what the requests themselves cost the machine."""
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    pool = [client_for(url) for _ in range(clients)]
    cpu_before = _cpu_split(server_pid) if server_pid else None
    outcomes: list[tuple[str, float]] = [("lost", 0.0)] * clients
    barrier = threading.Barrier(clients)

    def one(k: int) -> None:
        barrier.wait()
        started = time.perf_counter()
        try:
            pool[k].submit(*generate_args(strategy, tokens, k),
                           api_name="/generate").result(timeout=LOST_AFTER)
            outcomes[k] = ("completed", time.perf_counter() - started)
        except QueueError:
            outcomes[k] = ("busy", time.perf_counter() - started)
        except AppError:
            outcomes[k] = ("error", time.perf_counter() - started)
        except Exception:  # a timeout, or an error without a clear message
            outcomes[k] = ("lost", time.perf_counter() - started)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = [kind for kind, _ in outcomes]
    done = sorted(s for kind, s in outcomes if kind == "completed")
    return {kind: kinds.count(kind) for kind in ("completed", "busy", "error", "lost")} | {
        "p50": _quantile(done, 0.5), "p95": _quantile(done, 0.95),
        "cpu": None if server_pid is None else {
            k: v - cpu_before[k] for k, v in _cpu_split(server_pid).items()}}


def _cpu_split(server_pid: int) -> dict[str, float]:
    """CPU seconds so far: the server, its child processes (all of them), this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"server": cpu_seconds(server_pid),
            "helpers": sum(cpu_seconds(p) for p in child_pids(server_pid)),
            "clients": usage.ru_utime + usage.ru_stime}


def child_pids(pid: int) -> list[int]:
    """The processes ``pid`` started that still run, and theirs."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *child_pids(kid)]
    return found


def load_phases(url: str, clients: int, strategy: str, tokens: int) -> dict[str, float]:
    """Where the load's latency goes: per request, the first streamed update, the last one
    before the end, and the final response (medians, seconds from submitting). A diagnostic
    (``--phases``): it reads every update, and a lost request would hold it up."""
    pool = [client_for(url) for _ in range(clients)]
    stamps: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients)

    def one(k: int) -> None:
        barrier.wait()
        started = time.perf_counter()
        job = pool[k].submit(*generate_args(strategy, tokens, k), api_name="/generate")
        stamps[k] = [time.perf_counter() - started for _ in job]  # the last: the final response
        job.result()

    threads = [threading.Thread(target=one, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"first update": statistics.median(s[0] for s in stamps),
            "last streamed update": statistics.median(s[-2] if len(s) > 1 else s[0]
                                                      for s in stamps),
            "final response": statistics.median(s[-1] for s in stamps)}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process (all its threads) has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def inside_first_response(url: str, model: str = "hybrid", runs: int = 5) -> list[float]:
    """Seconds for the Inside tab's filter table (``/inside_filters``), from a fresh client:
    the first request, then the rest (the table is loaded at start, never computed)."""
    times = []
    for _ in range(runs):
        client = client_for(url)
        started = time.perf_counter()
        client.predict(model, api_name="/inside_filters")
        times.append(time.perf_counter() - started)
    return times


def coloured_view_bytes(url: str, strategy: str = "hybrid", tokens: int = 2000) -> dict[str, int]:
    """Bytes the coloured text adds for a text of ``tokens`` generated characters: the largest
    streamed update's view (from the server), and the finished view in each colouring (built
    from the same text, as the page's redraw builds it)."""
    from ..app.text_views import UNIT, available, text_view
    from ..checkpoint import load
    from ..diagnostics import analyse

    job = client_for(url).submit(*generate_args(strategy, tokens, 0), api_name="/generate")
    updates = list(job)
    final = job.result()
    sizes = {"streamed update (largest)": max(response_size(u[6]) for u in updates[:-1]
                                              if isinstance(u[6], str)),
             "finished, /generate's final response (confidence)": response_size(final[6])}
    bundle = load(strategy)
    a = analyse(bundle, final[0])
    for quantity in (*available(a), UNIT):
        html, _ = text_view(bundle, a, quantity, 0)
        sizes[f"finished, {quantity} (built here)"] = response_size(html)
    return sizes


def inside_bench(out: str | None = None) -> list[str]:
    """The Inside tab's and the coloured text's figures alone, on a fresh ``python app.py``:
    ``python -c "from cnngru.bench.demo import inside_bench; inside_bench('results/bench-inside.txt')"``
    (the full bench prints them too)."""
    port = free_port()
    proc, _ = start_app(port)
    url = f"http://127.0.0.1:{port}/"
    try:
        times = inside_first_response(url)
        lines = [f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start",
                 f"Inside tab, filter table (/inside_filters hybrid) from a fresh client: first "
                 f"{times[0] * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms "
                 f"over {len(times)}"]
        lines += [f"coloured text, 2,000 generated characters, {what}: {size / 1000:,.1f} KB"
                  for what, size in coloured_view_bytes(url).items()]
    finally:
        stop_app(proc)
    print("\n".join(lines), flush=True)
    if out:
        Path(out).write_text("\n".join(lines) + "\n")
    return lines


def device_speeds(strategy: str, tokens: int = 1000) -> dict[str, float]:
    """Characters/s of one generation per available device (the CPU, and CUDA if present)."""
    import torch

    import cnngru

    speeds = {}
    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        bundle = cnngru.load(strategy, device=device)
        list(cnngru.generate(bundle, PROMPT, max_new_tokens=50, seed=0))  # warm up
        started = time.perf_counter()
        list(cnngru.generate(bundle, PROMPT, max_new_tokens=tokens, seed=0))
        speeds[device] = tokens / (time.perf_counter() - started)
    return speeds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cnngru.bench.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--tokens", type=int, default=400, help="characters per load request")
    parser.add_argument("--strategy", default="hybrid")
    parser.add_argument("--starts", type=int, default=3, help="cold starts to time")
    parser.add_argument("--phases", action="store_true", help="also time the load's phases: "
                        "first update, last streamed update, final response")
    parser.add_argument("--out", default=None, help="also write the figures to this file "
                        "(results/bench-app.txt also refreshes the README's benchmark block)")
    args = parser.parse_args(argv)
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":  # measure as app.py runs: one BLAS thread
        forwarded = sys.argv[1:] if argv is None else argv
        os.execve(sys.executable, [sys.executable, "-m", "cnngru.bench.demo", *forwarded],
                  {**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    from ..app import common

    lines: list[str] = []

    def say(line: str) -> None:
        """A figure: to the screen, and kept for ``--out``."""
        lines.append(line)
        print(line, flush=True)

    say(f"cnngru demo bench: {os.cpu_count()} cores, {common.GENERATIONS} generation workers "
          f"(batched), {common.CONCURRENCY} for other model requests, queue size "
          f"{common.QUEUE_SIZE}")
    starts = []
    for _ in range(args.starts - 1):
        proc, seconds = start_app(free_port())
        starts.append(seconds)
        stop_app(proc)
    port = free_port()
    proc, seconds = start_app(port)
    starts.append(seconds)
    say(f"start, launch to first page served: median {statistics.median(starts):.2f} s "
          f"({', '.join(f'{s:.2f}' for s in starts)})")
    try:
        url = f"http://127.0.0.1:{port}/"
        first = first_char_latency(url, args.strategy)
        say(f"first streamed character ({args.strategy}): median "
              f"{statistics.median(first) * 1000:.0f} ms, worst {max(first) * 1000:.0f} ms "
              f"over {len(first)} requests")
        for what, size in response_sizes(url, args.strategy):
            say(f"response size, {what}: {size / 1000:,.1f} KB")
        inside = inside_first_response(url)
        say(f"Inside tab, filter table (/inside_filters hybrid) from a fresh client: first "
            f"{inside[0] * 1000:.0f} ms, median {statistics.median(inside) * 1000:.0f} ms "
            f"over {len(inside)}")
        for what, size in coloured_view_bytes(url, args.strategy).items():
            say(f"coloured text, 2,000 generated characters, {what}: {size / 1000:,.1f} KB")
        alone = statistics.median(load_run(url, 1, args.strategy, args.tokens)["p50"]
                                  for _ in range(3))
        say(f"one request alone, {args.tokens} characters ({args.strategy}): {alone:.2f} s "
            "(median of 3)")
        stats = client_for(url).predict(api_name="/engine_stats")[args.strategy]
        close_clients()
        # The clients stand for visitors on other machines: what the sections above left in
        # this process (a loaded model among it) must not stall them in a full collection.
        gc.collect()
        gc.freeze()
        load = load_run(url, args.clients, args.strategy, args.tokens, server_pid=proc.pid)
        cpu = load["cpu"]
        after = client_for(url).predict(api_name="/engine_stats")[args.strategy]
        batch = (after["characters"] - stats["characters"]) / max(after["steps"] - stats["steps"], 1)
        say(f"load, {args.clients} simultaneous clients x {args.tokens} characters "
              f"({args.strategy}): completed {load['completed']}, busy {load['busy']}, "
              f"other clear errors {load['error']}, lost {load['lost']}; latency of the "
              f"completed p50 {load['p50']:.2f} s, p95 {load['p95']:.2f} s "
              f"({load['p95'] / alone:.1f} x alone); the engine's mean batch {batch:.1f} rows")
        # By the p95 time, 95% of the identical requests have finished, and so has their work:
        # even with every core busy throughout, p95 cannot come sooner than this.
        cores = os.cpu_count() or 1
        total = sum(cpu.values())
        floor = 0.95 * total / cores
        say(f"load, CPU time: the server {cpu['server']:.2f} s, its generation process "
            f"{cpu['helpers']:.2f} s, the {args.clients} clients {cpu['clients']:.2f} s; "
            f"{total / args.clients * 1000:.0f} ms a request in all; on {cores} cores p95 cannot "
            f"be under 95% of it / {cores} = {floor:.2f} s ({floor / alone:.1f} x alone)")
        if args.phases:
            close_clients()
            phases = load_phases(url, args.clients, args.strategy, args.tokens)
            say(f"load phases, {args.clients} clients (medians from submitting): "
                + ", ".join(f"{name} {t:.2f} s" for name, t in phases.items()))
        your_text_figures(url, proc.pid, say, args.strategy)
    finally:
        stop_app(proc)
    speeds = device_speeds(args.strategy)
    say("generation speed: " + ", ".join(f"{d} {s:,.0f} chars/s" for d, s in speeds.items()))
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
        from .generation_speed import write_readme_block

        if Path(args.out).resolve() == (RESULTS_DIR / "bench-app.txt").resolve():
            write_readme_block()


if __name__ == "__main__":
    main()
