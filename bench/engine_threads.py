"""Does the calling thread change an unseen prompt's first token? (not a test)

`python -m bench.engine_threads [--pairs 40]`: raw llama-cpp-python, the server's
constructor arguments and prompt rendering (`bench.engine_paths.open_raw`), a new prompt
per pair, evaluated after `reset()` up to the first sampled token, once from the
benchmark's own long-lived thread and once from a thread started for it (as the server
did for every generation until session 15), in alternating order. The build links
llama.cpp's CPU backend with OpenMP, which keeps a team of worker threads per calling
thread: a new calling thread builds a new team on its first decode.

2026-12-07, idle 2-core VM, 40 pairs: long-lived thread 161.5 ms, new thread 179.5 ms,
paired difference +14.9 ms (mean +18.8): the cold gap `bench.engine` measured. The server
now runs every generation on one long-lived thread (backends/local.py); docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time

from bench.engine_paths import open_raw, request_body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    args = parser.parse_args()
    llama, render, _ = open_raw(args.threads)

    def first_token(prompt: str) -> float:
        tokens = render(request_body(prompt, 16))
        started = time.perf_counter()
        llama.reset()
        for _ in llama.generate(tokens, temp=0, top_k=0, reset=True):
            break
        return (time.perf_counter() - started) * 1000

    def on_new_thread(prompt: str) -> float:
        out: list[float] = []
        worker = threading.Thread(target=lambda: out.append(first_token(prompt)))
        worker.start()
        worker.join()
        return out[0]

    first_token("A warm-up prompt.")
    times: dict[str, list[float]] = {"long-lived thread": [], "new thread": []}
    paths = {"long-lived thread": first_token, "new thread": on_new_thread}
    differences = []
    rng = random.Random(0)
    for pair in range(args.pairs):
        prompt = f"Tell me a short story about a fox named {pair} who likes {rng.random():.4f}."
        order = list(paths) if pair % 2 else list(paths)[::-1]
        taken = {name: paths[name](prompt) for name in order}
        for name, ms in taken.items():
            times[name].append(ms)
        differences.append(taken["new thread"] - taken["long-lived thread"])
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.1f} ms")
    print(
        f"new − long-lived, paired: median {statistics.median(differences):+.1f} ms, "
        f"mean {statistics.mean(differences):+.1f} ms ({args.pairs} pairs)"
    )


if __name__ == "__main__":
    main()
