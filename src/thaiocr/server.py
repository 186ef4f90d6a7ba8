"""HTTP serving: one model loaded at start-up, line images batched across concurrent requests.

Endpoints: ``GET /ping`` and ``POST /invocations`` (the SageMaker hosting contract), ``POST
/v1/recognize`` (line images), ``POST /v1/ocr`` (pages: images or PDFs, when a page reader is
given), ``GET /v1/model``, and FastAPI's ``/docs``. Every error is ``{"error": code, "detail":
message}``. See docs/serving.md.

The line images of concurrent requests go through one :class:`LineBatcher`: a worker thread runs
them through the model in shared batches, which is what makes a CPU fast (a batch of 32 lines costs
little more than a few single lines). Requests are decoded and wait on a thread of the server's
bounded pool; the pixels of a request are checked from the image headers first, line images are
decoded straight to the model's size, and a :class:`DecodeGate` lets only a few images decode at
once, so memory stays bounded whatever arrives (issue 25 measured 3.1 GB before). How a request's body
becomes images, and the :class:`~thaiocr.serverinput.ApiError` every failure is raised as, live in
:mod:`thaiocr.serverinput`; here are the batcher, the service, the app and its middleware, and
:func:`serve`.
"""

from __future__ import annotations

import ctypes
import logging
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from PIL import Image
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thaiocr.errors import ThaiOCRError
from thaiocr.imageload import line_target, pixel_limit_message
from thaiocr.predict import Prediction, Recognizer, named_model_path
from thaiocr.runfolder import MODEL_FOLDER, ONNX_NAME
from thaiocr.serverinput import ApiError, PageSource, decode_image, image_sizes, read_image_request, request_pages

log = logging.getLogger("thaiocr.server")


@dataclass(frozen=True)
class Limits:
    """What requests may ask of the server: beyond the sizes and counts it answers 413.

    Pixel counts (width x height) are read from the image headers before anything is decoded. A
    line image is decoded straight to the size the model reads (a few dozen pixels high), so what
    the line limit bounds is decoding work, not what is held; ``decode_slots`` bounds how many images
    all requests together decode at once, which bounds the memory decoding takes.
    """

    max_upload_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000  # per image (a page)
    max_line_pixels: int = 4_000_000  # per line image: some 250 times what a 48 x 320 model reads
    max_request_pixels: int = 64_000_000  # all the images of one request together
    max_images: int = 256
    decode_slots: int = 2

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value <= 0:
                raise ThaiOCRError(f"{name} must be positive, got {value}")


class PageReaderLike(Protocol):
    """What the server needs of ``thaiocr.page.PageReader``: an image in, a result with ``.lines``
    and ``.to_dict()`` out."""

    def __call__(self, image: Image.Image) -> Any: ...


# --- batching -----------------------------------------------------------------------------------


@dataclass
class _Job:
    images: list[Image.Image]
    future: Future


class LineBatcher:
    """Runs the line images of many requests through one recogniser in shared batches.

    A worker thread takes the oldest request, adds whatever else is queued (waiting up to
    ``wait_ms`` for more) until it holds ``max_batch`` lines, runs one model call and resolves each
    request's future. A request's lines are never split, so a batch may pass ``max_batch`` by the
    last request's lines. ``close`` finishes every queued request before the thread stops.
    """

    def __init__(self, recognizer: Callable[..., list[Prediction]], max_batch: int = 32, wait_ms: float = 2.0):
        if max_batch <= 0:
            raise ValueError(f"max_batch must be positive, got {max_batch}")
        self._recognizer = recognizer
        self.max_batch = max_batch
        self.wait_ms = wait_ms
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()  # orders submit against close, so no job lands after the sentinel
        self._thread = threading.Thread(target=self._work, name="thaiocr-line-batcher", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._closed

    def submit(self, images: list[Image.Image]) -> Future:
        """Queue the images of one request; the future gives their predictions in order."""
        job = _Job(images, Future())
        with self._lock:
            if self._closed:
                raise ApiError(503, "shutting_down", "the server is shutting down")
            self._queue.put(job)
        return job.future

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    def _work(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            jobs, stopping = self._gather(first)
            self._run(jobs)

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        """The jobs of the next batch, and whether the stop sentinel was met while gathering."""
        jobs, count = [first], len(first.images)
        deadline = time.monotonic() + self.wait_ms / 1000
        while count < self.max_batch:
            try:
                job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            count += len(job.images)
        return jobs, False

    def _run(self, jobs: list[_Job]) -> None:
        images = [image for job in jobs for image in job.images]
        try:
            predictions = self._recognizer(images, batch_size=self.max_batch)
        except Exception as exc:  # every request of the batch learns why, none hangs
            for job in jobs:
                job.future.set_exception(exc)
            return
        start = 0
        for job in jobs:
            job.future.set_result(predictions[start : start + len(job.images)])
            start += len(job.images)


# --- decoding -----------------------------------------------------------------------------------


class DecodeGate:
    """At most ``slots`` images decoded at once, across all requests; the C heap is given back after.

    A burst of large images leaves freed memory in the allocator's per-thread arenas, which the
    process keeps (resident) unless told otherwise: when no decode is in flight and at least
    ``release_after`` pixels were decoded since the last time, the heap is trimmed (``malloc_trim``,
    glibc only), so the server returns to its resting size without paying for it on every small line.
    """

    def __init__(self, slots: int, release: Callable[[], None] | None = None,
                 release_after: int = 4_000_000) -> None:
        if slots <= 0:
            raise ValueError(f"decode slots must be positive, got {slots}")
        self._slots = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._active = 0
        self._pixels = 0  # decoded since the last release
        self._release = release or release_memory
        self._release_after = release_after

    @contextmanager
    def slot(self, pixels: int) -> Iterator[None]:
        """Hold a slot while decoding an image of ``pixels`` pixels."""
        with self._slots:
            with self._lock:
                self._active += 1
                self._pixels += pixels
            try:
                yield
            finally:
                self._leave()

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1
            release = self._active == 0 and self._pixels >= self._release_after
            if release:
                self._pixels = 0
        if release:
            self._release()


def _malloc_trim() -> Callable[[], None]:
    """glibc's ``malloc_trim(0)`` (frees unused heap pages back to the system); a no-op elsewhere."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # the C library the interpreter runs on
    if trim is None:
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    return lambda: trim(0) and None


release_memory = _malloc_trim()


# --- the service --------------------------------------------------------------------------------


class OCRService:
    """What the endpoints call: decoding within limits, batched line reading, page reading."""

    def __init__(self, recognizer: Recognizer, page_reader: PageReaderLike | None, limits: Limits,
                 batcher: LineBatcher) -> None:
        self.recognizer = recognizer
        self.page_reader = page_reader
        self.limits = limits
        self.batcher = batcher
        self.decoding = DecodeGate(limits.decode_slots)
        self._page_lock = threading.Lock()  # one page at a time: its two models already use every core

    def check_count(self, blobs: Sequence[bytes]) -> None:
        if len(blobs) > self.limits.max_images:
            raise ApiError(413, "too_many_images",
                           f"{len(blobs)} images in one request; the limit is {self.limits.max_images}")

    def check_pixels(self, blobs: Sequence[bytes], limit: int, option: str) -> list[int]:
        """Each image's pixel count; 413 unless each is within ``limit`` and all of them within the
        request's limit. Only the headers are read."""
        sizes = image_sizes(blobs, limit, option)
        for index, (width, height) in enumerate(sizes):
            if width * height > limit:
                raise ApiError(413, "too_many_pixels", pixel_limit_message(
                    f"image {index}", f"{width}x{height}", width * height, limit, option))
        total = sum(width * height for width, height in sizes)
        if total > self.limits.max_request_pixels:
            raise ApiError(413, "too_many_pixels", pixel_limit_message(
                "the request", f"{len(sizes)} images together", total, self.limits.max_request_pixels,
                "--max-request-pixels"))
        return [width * height for width, height in sizes]

    def line_limit(self) -> tuple[int, str]:
        """The pixel limit of one line image and the option that sets it."""
        if self.limits.max_line_pixels < self.limits.max_pixels:
            return self.limits.max_line_pixels, "--max-line-pixels"
        return self.limits.max_pixels, "--max-pixels"

    def read_lines(self, blobs: Sequence[bytes]) -> list[dict]:
        """Blocking (run it on a worker thread): decode at the model's size, queue for the batcher, wait."""
        limit, option = self.line_limit()
        pixels = self.check_pixels(blobs, limit, option)
        images = []
        for index, blob in enumerate(blobs):
            with self.decoding.slot(pixels[index]):
                images.append(decode_image(blob, index, limit, option, target=line_target(self.recognizer.preprocess)))
        predictions = self.batcher.submit(images).result()
        return [{"text": p.text, "confidence": float(p.confidence)} for p in predictions]

    def read_pages(self, blobs: Sequence[bytes]) -> tuple[list[dict], int]:
        """Blocking (run it on a worker thread): decode (a PDF: render) and read each page; a record
        per page (``image``: its place in the request, ``page``: its number within a PDF, else 1),
        and the number of lines.

        Pages are decoded one at a time, as they are read, so one full-size page is held at once.
        Everything, PDFs opened included, happens under the page lock: PDFium is not thread-safe."""
        if self.page_reader is None:
            raise ApiError(501, "page_mode_unavailable",
                           "this server has no page reader (text detector); send line images to /v1/recognize")
        records, lines = [], 0
        with self._page_lock, request_pages(blobs, self.limits.max_pixels, self.limits.max_images) as pages:
            self.check_pages(pages)
            for page in pages:
                with self.decoding.slot(page.pixels):
                    image = page.load()
                result = self.page_reader(image)
                del image
                records.append({"image": page.image, "page": page.number, **result.to_dict()})
                lines += len(result.lines)
        return records, lines

    def check_pages(self, pages: Sequence[PageSource]) -> None:
        """413 unless each page (a PDF's at the size it is rendered at) is within the page's pixel
        limit and all of them within the request's."""
        for page in pages:
            if page.pixels > self.limits.max_pixels:
                raise ApiError(413, "too_many_pixels", pixel_limit_message(
                    page.name, "{}x{}".format(*page.size), page.pixels, self.limits.max_pixels, "--max-pixels"))
        total = sum(page.pixels for page in pages)
        if total > self.limits.max_request_pixels:
            raise ApiError(413, "too_many_pixels", pixel_limit_message(
                "the request", f"{len(pages)} pages together", total, self.limits.max_request_pixels,
                "--max-request-pixels"))

    def model_info(self) -> dict:
        charset, preprocess = self.recognizer.charset, self.recognizer.preprocess
        return {
            "name": model_name(Path(self.recognizer.source)),
            "source": self.recognizer.source,
            "dict_sha256": charset.dict_sha256,
            "num_classes": charset.num_classes,
            "decoder": self.recognizer.decoder,
            "reread_crowded_lines": self.recognizer.reread is not None,
            "quantization": self.recognizer.quantization,
            "input": {"height": preprocess.height, "max_width": preprocess.max_width,
                      "image_shape": preprocess.image_shape, "channel_order": "BGR"},
            "page_mode": self.page_reader is not None,
            "limits": asdict(self.limits),
            "batching": {"max_batch": self.batcher.max_batch, "wait_ms": self.batcher.wait_ms},
        }


def model_name(source: Path) -> str:
    """The run's name from a model path: ``models/numbers/best_model/inference.onnx`` -> ``numbers``."""
    folder = source.parent
    return folder.parent.name if folder.name == MODEL_FOLDER and folder.parent.name else folder.name or source.stem


def resolve_model(path: Path | None) -> Path:
    """What ``Recognizer.from_path`` takes; in a folder without a model on top (an unpacked
    ``model.tar.gz``, say), the one ``inference.onnx`` found below it; None or a shipped name
    (``shipped``, ``shipped-small``): that shipped model."""
    path = named_model_path(path)  # a shipped model is a file, returned as it is below
    if not path.is_dir() or (path / ONNX_NAME).is_file() or (path / MODEL_FOLDER / ONNX_NAME).is_file():
        return path
    found = sorted(path.rglob(ONNX_NAME))
    if len(found) != 1:
        listing = ", ".join(str(p) for p in found) or "none"
        raise ThaiOCRError(f"{path}: expected one {ONNX_NAME} in the folder, found {len(found)} ({listing})")
    return found[0]


# --- the app ------------------------------------------------------------------------------------


def create_app(recognizer: Recognizer, page_reader: PageReaderLike | None = None, limits: Limits | None = None,
               max_batch: int = 32, batch_wait_ms: float = 2.0) -> FastAPI:
    """The HTTP app around a loaded recogniser (and optionally a page reader)."""
    limits = limits or Limits()
    service = OCRService(recognizer, page_reader, limits, LineBatcher(recognizer, max_batch, batch_wait_ms))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        service.batcher.close()  # after uvicorn has let in-flight requests finish

    app = FastAPI(title="thaiocr", summary="Thai text recognition", lifespan=lifespan)
    app.state.service = service
    _add_error_handlers(app)
    app.add_middleware(UploadLimit, max_bytes=limits.max_upload_bytes)
    app.add_middleware(RequestLog)
    _add_routes(app, service)
    return app


def _add_routes(app: FastAPI, service: OCRService) -> None:
    async def answer(request: Request, wanted: str | None) -> JSONResponse:
        parsed = await read_image_request(request)
        mode = _mode_for(parsed.mode, wanted, parsed.has_pdf)
        service.check_count(parsed.blobs)
        if mode == "page":
            pages, request.state.lines = await run_in_threadpool(service.read_pages, parsed.blobs)
            return JSONResponse({"pages": pages})
        lines = await run_in_threadpool(service.read_lines, parsed.blobs)
        request.state.lines = len(lines)
        return JSONResponse({"lines": lines})

    @app.get("/ping", summary="Health check (SageMaker): 200 once the model is loaded")
    async def ping() -> JSONResponse:  # async: nothing here blocks, so no hop to a worker thread
        if not service.batcher.alive:
            raise ApiError(503, "not_ready", "the model worker is not running")
        return JSONResponse({"status": "ok"})

    @app.post("/invocations", summary="SageMaker inference: line images (default) or pages (mode=page, or a PDF)")
    async def invocations(request: Request) -> JSONResponse:
        return await answer(request, None)

    @app.post("/v1/recognize", summary="Read one or more line images")
    async def recognize(request: Request) -> JSONResponse:
        return await answer(request, "line")

    @app.post("/v1/ocr", summary="Read pages, images or PDFs (a record per page): detect the lines, read each")
    async def ocr(request: Request) -> JSONResponse:
        return await answer(request, "page")

    @app.get("/v1/model", summary="The loaded model: name, alphabet hash, input geometry, source")
    async def model() -> JSONResponse:
        return JSONResponse(service.model_info())


def _mode_for(stated: str | None, wanted: str | None, has_pdf: bool = False) -> str:
    """The endpoint's mode; a request stating another is refused rather than silently overridden.
    ``/invocations`` reads a PDF as pages unless told otherwise, and a PDF is never read as lines."""
    if wanted is None:
        mode = stated or ("page" if has_pdf else "line")
    elif stated not in (None, wanted):
        raise ApiError(400, "bad_mode", f"this endpoint reads {wanted}s; use /invocations to choose the mode")
    else:
        mode = wanted
    if mode == "line" and has_pdf:
        raise ApiError(400, "bad_mode", "a PDF is read as pages: send it to /v1/ocr, or to /invocations with mode=page")
    return mode


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.detail)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "internal_error", f"{type(exc).__name__}: {exc}")


# --- middleware (plain ASGI: no per-request task or body copy) ----------------------------------


class UploadLimit:
    """413 for bodies over ``max_bytes``: at once when Content-Length says so, else while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _error(413, "upload_too_large", self._detail(int(declared)))(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise ApiError(413, "upload_too_large", self._detail(received))
            return message

        await self.app(scope, limited_receive, send)

    def _detail(self, size: int) -> str:
        return f"the body has {size}+ bytes; the limit is {self.max_bytes} bytes ({self.max_bytes / 2**20:.1f} MiB)"


class RequestLog:
    """One log line per request: method, path, status, milliseconds, lines read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets when the app fails before it answers

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            lines = scope.get("state", {}).get("lines", 0)
            log.info("%s %s %d %.1f ms %d lines", scope["method"], scope["path"], status,
                     (time.perf_counter() - start) * 1000, lines)


# --- running ------------------------------------------------------------------------------------


def serve(model: Path | None, host: str = "127.0.0.1", port: int = 8080, limits: Limits | None = None,
          max_batch: int = 32, batch_wait_ms: float = 2.0, threads: int | None = None,
          detector: str | Path | None = None, decoder: str = "auto", reread: bool = True) -> None:
    """Load the model (and, with a detector, a page reader), then serve until SIGINT/SIGTERM;
    in-flight requests finish first. ``decoder``, ``reread``: as :class:`~thaiocr.predict.Recognizer` takes them."""
    import uvicorn

    _log_to_stderr()
    model = resolve_model(model)
    threads = threads or default_threads()
    recognizer = Recognizer.from_path(model, num_threads=threads, decoder=decoder, reread=reread)
    page_reader = _page_reader(model, detector, threads, decoder, reread) if detector else None
    app = create_app(recognizer, page_reader, limits, max_batch=max_batch, batch_wait_ms=batch_wait_ms)
    log.info("loaded %s (%d classes, input height %d); page mode %s", recognizer.source,
             recognizer.charset.num_classes, recognizer.preprocess.height, "on" if page_reader else "off")
    uvicorn.run(app, host=host, port=port, access_log=False, timeout_graceful_shutdown=30)


def default_threads() -> int:
    """Model threads when serving: half the cores. Decoding, HTTP and the clients need the rest; on
    2 busy cores one model thread served 1.5-3x the lines/s of two (bench/serve_load.py)."""
    return max(1, (os.cpu_count() or 2) // 2)


def _page_reader(model: Path, detector: str | Path, threads: int, decoder: str, reread: bool) -> PageReaderLike:
    from thaiocr.page import PageReader

    return PageReader.from_paths(model=model, detector=detector, num_threads=threads, decoder=decoder,
                                 reread=reread)


def _log_to_stderr() -> None:
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s thaiocr.server: %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False

