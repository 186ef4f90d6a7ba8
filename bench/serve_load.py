"""Load bench of ``thaiocr serve``: throughput, latency, errors and memory under concurrent clients.

Starts the real server (a ``python -m thaiocr serve`` subprocess on 127.0.0.1, a free port) with the
model given, then for each concurrency level runs that many client threads for a fixed time, each
posting line images (PNG, one request after another on its own keep-alive connection) to
``/v1/recognize``. Prints line recognitions/s, p50/p99 latency, errors, the server's CPU time per
line (all its threads; steadier than lines/s on a shared machine) and its resident memory (VmRSS)
after each level. The issue's target: >= 200 lines/s at concurrency 8, no errors,
flat memory.

    .venv/bin/python bench/serve_load.py --model models/numbers/best_model

Lines come from ``--labels`` (a PaddleOCR label file; its images) or, without it, from 64 freshly
synthesised digit lines.

``--soak`` instead runs ``--concurrency`` clients (default 32) for ``--seconds`` (default 180) that mix
good line requests with hostile ones (the 247 KiB JSON of sixteen 6000 x 6000 PNGs, a 30000 x 30000
pixel bomb, random bytes, truncated PNGs, deeply nested JSON, broken multipart, unknown content
types), and prints lines/s of the good requests, the answers by kind and status, connection errors,
and the server's RSS at start, peak and end. Its targets (issue 25): no 5xx, no connection error,
RSS at the end within 100 MB of the start.

    .venv/bin/python bench/serve_load.py --model shipped-small --soak
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import os
import random
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from thaiocr.shipped import is_shipped_name

PING_TIMEOUT_S = 60


@dataclass
class LevelResult:
    concurrency: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    lines: int = 0
    errors: int = 0
    rss_mib: float = 0.0
    server_cpu_s: float = 0.0

    def row(self) -> str:
        ordered = sorted(self.latencies_ms) or [float("nan")]
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        cpu_ms = 1000 * self.server_cpu_s / self.lines if self.lines else float("nan")
        return (f"{self.concurrency:>11} {len(self.latencies_ms):>8} {self.lines / self.seconds:>9.0f} "
                f"{statistics.median(ordered):>8.1f} {p99:>8.1f} {self.errors:>6} {cpu_ms:>11.2f} "
                f"{self.rss_mib:>12.1f}")



def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True,
                        help="what `thaiocr serve --model` takes, e.g. models/numbers/best_model (after `make demo`)")
    parser.add_argument("--labels", type=Path, default=None, help="label file whose images to send")
    parser.add_argument("--levels", default="1,8,32", help="concurrency levels (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="time per level (default: 5), or of the soak (default: 180)")
    parser.add_argument("--soak", action="store_true", help="mix good and hostile requests (see above)")
    parser.add_argument("--concurrency", type=int, default=32, help="soak clients (default: %(default)s)")
    parser.add_argument("--hostile-share", type=float, default=0.2,
                        help="share of soak requests that are hostile (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="run the levels this many times: memory is flat when later rounds end where "
                             "the first did (default: %(default)s)")
    parser.add_argument("--lines-per-request", type=int, default=1)
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="extra `thaiocr serve` argument, e.g. --server-arg=--batch-wait-ms=0 (repeatable)")
    return parser.parse_args()


def line_images(labels: Path | None) -> list[bytes]:
    """The encoded images of a label file, or of 64 digit lines synthesised into a temporary folder."""
    from thaiocr.data import read_labelled_images

    if labels is not None:
        return [sample.image_path.read_bytes() for sample in read_labelled_images(labels)]
    from thaiocr.synth.lines import generate_dataset

    with tempfile.TemporaryDirectory(prefix="serve_load_") as folder:
        generate_dataset(Path(folder), n_train=0, n_val=64, seed=1, workers=1, progress=False)
        return line_images(Path(folder) / "rec_gt_val.txt")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: Path, port: int, extra: list[str], log_path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "thaiocr", "serve", "--model", str(model), "--port", str(port), *extra]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + PING_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server stopped (exit {server.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            if request(port, "GET", "/ping")[0] == 200:
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    sys.exit(f"the server did not answer /ping within {PING_TIMEOUT_S} s")


def request(port: int, method: str, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def multipart(images: list[bytes], boundary: str = "thaiocr-bench") -> bytes:
    parts = [(f"--{boundary}\r\nContent-Disposition: form-data; name=\"images\"; filename=\"{i}.png\"\r\n"
              "Content-Type: image/png\r\n\r\n").encode() + data + b"\r\n" for i, data in enumerate(images)]
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def client_loop(port: int, bodies: list[tuple[bytes, str]], lines: int, stop_at: float, result: LevelResult,
                lock: threading.Lock, offset: int) -> None:
    """One client: requests back to back on one connection until ``stop_at``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    i = offset
    while time.monotonic() < stop_at:
        body, content_type = bodies[i % len(bodies)]
        i += 1
        start = time.perf_counter()
        try:
            conn.request("POST", "/v1/recognize", body=body, headers={"Content-Type": content_type})
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except OSError:
            ok = False
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        elapsed_ms = (time.perf_counter() - start) * 1000
        with lock:
            result.latencies_ms.append(elapsed_ms)
            result.lines += lines if ok else 0
            result.errors += 0 if ok else 1
    conn.close()


def request_bodies(images: list[bytes], per_request: int) -> list[tuple[bytes, str]]:
    if per_request == 1:
        return [(data, "image/png") for data in images]
    groups = [[images[(i + k) % len(images)] for k in range(per_request)] for i in range(len(images))]
    return [(multipart(group), "multipart/form-data; boundary=thaiocr-bench") for group in groups]


def run_level(port: int, pid: int, bodies: list[tuple[bytes, str]], lines: int, concurrency: int,
              seconds: float) -> LevelResult:
    result, lock = LevelResult(concurrency, seconds), threading.Lock()
    cpu_before = cpu_seconds(pid)
    stop_at = time.monotonic() + seconds
    threads = [threading.Thread(target=client_loop, args=(port, bodies, lines, stop_at, result, lock, i * 7))
               for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.server_cpu_s = cpu_seconds(pid) - cpu_before
    result.rss_mib = rss_mib(pid)
    return result


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the soak: good and hostile requests mixed --------------------------------------------------

SOAK_PEAK_POLL_S = 0.2


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` one-bit pixels, with almost no pixel data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    data = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def amplifying_png() -> bytes:
    """6000 x 6000 one-bit pixels (108 MB as RGB) in some 11 KB of PNG."""
    from PIL import Image, ImageDraw

    image = Image.new("1", (6000, 6000), 1)
    draw = ImageDraw.Draw(image)
    for y in range(0, 6000, 500):
        draw.text((10, y), "hello 123", fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def hostile_bodies(images: list[bytes]) -> dict[str, tuple[bytes, str]]:
    """Requests a careless or hostile client sends, by name: (body, content type)."""
    rng = random.Random(0)
    encoded = base64.b64encode(amplifying_png()).decode("ascii")
    return {
        "amplification": (json.dumps({"images": [encoded] * 16}).encode(), "application/json"),
        "pixel_bomb": (png_header(30000, 30000), "image/png"),
        "random_bytes": (rng.randbytes(2048), "image/png"),
        "truncated_png": (images[0][: len(images[0]) // 2], "image/png"),
        "nested_json": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        "broken_multipart": (multipart(images[:2])[:120], "multipart/form-data; boundary=thaiocr-bench"),
        "bad_base64": (b'{"images": ["not base64!"]}', "application/json"),
        "unknown_type": (images[0], "text/plain"),
    }


@dataclass
class SoakResult:
    seconds: float
    lines: int = 0
    answers: Counter = field(default_factory=Counter)  # (kind, status) -> count
    connection_errors: int = 0


def soak_client(port: int, mix: list[tuple[str, bytes, str]], stop_at: float, result: SoakResult,
                lock: threading.Lock, seed: int) -> None:
    """One client: requests drawn from ``mix`` back to back on one connection until ``stop_at``."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while time.monotonic() < stop_at:
        kind, body, content_type = rng.choice(mix)
        try:
            conn.request("POST", "/v1/recognize", body=body, headers={"Content-Type": content_type})
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError:
            status = None
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        with lock:
            if status is None:
                result.connection_errors += 1
                continue
            result.answers[(kind, status)] += 1
            if kind == "line" and status == 200:
                result.lines += 1
    conn.close()


def peak_rss_mib(pid: int, stop: threading.Event, peak: list[float]) -> None:
    while not stop.wait(SOAK_PEAK_POLL_S):
        peak[0] = max(peak[0], rss_mib(pid))


def run_soak(port: int, pid: int, images: list[bytes], concurrency: int, seconds: float,
             hostile_share: float) -> SoakResult:
    hostile = hostile_bodies(images)
    good = [("line", data, "image/png") for data in images]
    copies = max(1, round(len(good) * hostile_share / (1 - hostile_share) / len(hostile)))
    mix = good + [(kind, body, content_type) for kind, (body, content_type) in hostile.items()] * copies
    result, lock = SoakResult(seconds), threading.Lock()
    start_rss = rss_mib(pid)
    stop, peak = threading.Event(), [start_rss]
    monitor = threading.Thread(target=peak_rss_mib, args=(pid, stop, peak), daemon=True)
    monitor.start()
    stop_at = time.monotonic() + seconds
    clients = [threading.Thread(target=soak_client, args=(port, mix, stop_at, result, lock, i))
               for i in range(concurrency)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    stop.set()
    monitor.join()
    time.sleep(1.0)  # the server settles: the last decodes end, the heap is trimmed
    print(f"soak: {concurrency} clients for {seconds:.0f} s, {len(good)} good line images and "
          f"{len(hostile)} hostile kinds ({hostile_share:.0%} of requests)")
    print(f"good lines read: {result.lines} ({result.lines / seconds:.0f} lines/s)")
    print(f"{'kind':<18} {'status':>6} {'answers':>8}")
    for (kind, status), count in sorted(result.answers.items()):
        print(f"{kind:<18} {status:>6} {count:>8}")
    server_errors = sum(count for (_, status), count in result.answers.items() if status >= 500)
    end_rss = rss_mib(pid)
    print(f"5xx answers: {server_errors}; connection errors: {result.connection_errors}")
    print(f"server RSS MiB: start {start_rss:.1f}, peak {max(peak[0], end_rss):.1f} (VmHWM "
          f"{status_mib(pid, 'VmHWM'):.1f}), end {end_rss:.1f} ({end_rss - start_rss:+.1f})")
    return result


def status_mib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    args = parse_args()
    if not args.model.exists() and not is_shipped_name(args.model):
        sys.exit(f"{args.model}: no such model; train one first (`make demo` writes models/numbers/best_model)")
    images = line_images(args.labels)
    bodies = request_bodies(images, args.lines_per_request)
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="serve_load_", suffix=".log")[1])
    server = start_server(args.model, port, args.server_arg, log_path)
    try:
        run_level(port, server.pid, bodies, args.lines_per_request, 8, 1.0)  # warm-up: first allocations
        if args.soak:
            print(f"model: {args.model}; server log {log_path}")
            result = run_soak(port, server.pid, images, args.concurrency, args.seconds or 180.0, args.hostile_share)
            failed = result.connection_errors or any(status >= 500 for _, status in result.answers)
            return 1 if failed else 0
        seconds = args.seconds or 5.0
        print(f"model: {args.model}  ({len(images)} distinct line images, {args.lines_per_request} per request, "
              f"{seconds:.0f} s per level; server log {log_path})")
        print(f"server RSS after start-up and warm-up: {rss_mib(server.pid):.1f} MiB")
        print(f"{'round':>5} {'concurrency':>11} {'requests':>8} {'lines/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'errors':>6} {'CPU ms/line':>11} {'RSS MiB after':>12}")
        for round_no in range(1, args.rounds + 1):
            for level in (int(c) for c in args.levels.split(",")):
                result = run_level(port, server.pid, bodies, args.lines_per_request, level, seconds)
                print(f"{round_no:>5} {result.row()}", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(30)
    # uvicorn finishes the requests in flight, then re-raises the signal: -15 is a graceful stop
    print(f"server stopped on SIGTERM with exit code {code}; see its log for the shutdown")
    return 0


if __name__ == "__main__":
    sys.exit(main())
