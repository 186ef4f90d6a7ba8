"""PDFs into the server: /v1/ocr and /invocations (page mode) read each page of a PDF, within the
limits, and refuse a damaged or encrypted one clearly (FastAPI's TestClient)."""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from PIL import Image

from conftest import font_named
from pagekit import column_page, scripted_recognizer
from thaiocr.server import Limits, create_app

with warnings.catch_warnings():  # starlette suggests httpx2 at import; httpx (a dev extra) is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PDF = {"content-type": "application/pdf"}


def pdf_of(*pages: Image.Image, dpi: int = 100) -> bytes:
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", save_all=True, append_images=list(pages[1:]), resolution=dpi)
    return buffer.getvalue()


def encrypted_pdf() -> bytes:
    """A one-page PDF locked by a password (the standard security handler; no password opens it)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
               b"<< /Filter /Standard /V 1 /R 2 /O <" + b"ab" * 32 + b"> /U <" + b"cd" * 32 + b"> /P -4 >>"]
    body, offsets = b"%PDF-1.4\n", []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, content)
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    ids = b"<" + b"00" * 16 + b">"
    return body + b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [%s %s] >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, ids, ids, xref)


@dataclass
class FakePage:
    size: tuple[int, int]
    lines: tuple = ()

    def to_dict(self) -> dict:
        return {"width": self.size[0], "height": self.size[1], "text": "", "lines": []}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """Pages read as their sizes; at most 4 pages of 2.2 million pixels, 5 million in a request."""
    limits = Limits(max_upload_bytes=2**20, max_pixels=2_200_000, max_request_pixels=5_000_000, max_images=4)
    app = create_app(scripted_recognizer("1"), page_reader=lambda image: FakePage(image.size), limits=limits)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def two_pages() -> bytes:
    """640 x 400 and 320 x 200 pixels at 100 dpi: 1280 x 800 and 640 x 400 at the server's 200 dpi."""
    return pdf_of(Image.new("RGB", (640, 400), "white"), Image.new("RGB", (320, 200), "white"))


def pages_of(response) -> list[tuple[int, int, int, int]]:
    assert response.status_code == 200, response.text
    return [(page["image"], page["page"], page["width"], page["height"]) for page in response.json()["pages"]]


def assert_error(response, status: int, code: str, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == code and detail in response.json()["detail"], response.json()


def test_a_pdf_is_read_page_by_page_at_200_dpi(client, two_pages):
    assert pages_of(client.post("/v1/ocr", content=two_pages, headers=PDF)) == [(0, 1, 1280, 800), (0, 2, 640, 400)]


def test_sagemaker_invocations_read_a_pdf_as_pages(client, two_pages):
    expected = [(0, 1, 1280, 800), (0, 2, 640, 400)]
    assert pages_of(client.post("/invocations", content=two_pages, headers=PDF)) == expected
    attributes = {**PDF, "X-Amzn-SageMaker-Custom-Attributes": "mode=page"}
    assert pages_of(client.post("/invocations", content=two_pages, headers=attributes)) == expected
    assert pages_of(client.post("/invocations", json={"image": base64.b64encode(two_pages).decode()})) == expected


def test_images_and_pdfs_mix_in_one_upload_each_page_a_record(client, two_pages):
    png = io.BytesIO()
    Image.new("RGB", (300, 100), "white").save(png, format="PNG")
    files = [("images", ("a.png", png.getvalue(), "image/png")), ("images", ("b.pdf", two_pages, "application/pdf"))]
    assert pages_of(client.post("/v1/ocr", files=files)) == [(0, 1, 300, 100), (1, 1, 1280, 800), (1, 2, 640, 400)]


def test_a_pdf_is_never_read_as_lines(client, two_pages):
    assert_error(client.post("/v1/recognize", content=two_pages, headers=PDF), 400, "bad_mode", "/v1/ocr")
    attributes = {**PDF, "X-Amzn-SageMaker-Custom-Attributes": "mode=line"}
    assert_error(client.post("/invocations", content=two_pages, headers=attributes), 400, "bad_mode", "mode=page")


def test_pages_beyond_the_limits_are_413(client):
    page = Image.new("RGB", (500, 400), "white")  # 1000 x 800 at 200 dpi: 800,000 pixels
    assert_error(client.post("/v1/ocr", content=pdf_of(*[page] * 5), headers=PDF), 413, "too_many_images",
                 "5 pages in one request (each page of a PDF counts); the limit is 4")
    big = pdf_of(Image.new("RGB", (1000, 600), "white"))  # 2000 x 1200 at 200 dpi
    assert_error(client.post("/v1/ocr", content=big, headers=PDF), 413, "too_many_pixels",
                 "image 0 page 1: 2000x1200 is 2,400,000 pixels; the limit is 2,200,000 (--max-pixels)")
    together = pdf_of(*[Image.new("RGB", (800, 600), "white")] * 3)  # 1,920,000 pixels a page
    assert_error(client.post("/v1/ocr", content=together, headers=PDF), 413, "too_many_pixels",
                 "the request: 3 pages together is 5,760,000 pixels")


@pytest.mark.parametrize(("body", "detail"), [
    (b"%PDF-1.4 not really a PDF", "image 0: cannot open the PDF"),
    (encrypted_pdf(), "image 0: cannot open the PDF (it is encrypted; remove the password first)"),
    (b"\x89PNG\r\n\x1a\n", "does not start with %PDF-"),
])
def test_a_damaged_encrypted_or_false_pdf_is_400(client, body, detail):
    assert_error(client.post("/v1/ocr", content=body, headers=PDF), 400, "bad_pdf", detail)


def test_the_real_page_reader_reads_a_pdf_in_reading_order(fonts):
    """The detector and the shipped recogniser behind the server read a rendered two-column page
    sent as a PDF as `thaiocr ocr` reads the same page: columns one after the other."""
    from thaiocr.det.metrics import page_edits
    from thaiocr.page import PageReader

    page = column_page(font_named(fonts, "Garuda").path)
    reader = PageReader.from_paths()
    with TestClient(create_app(reader.recognizer, page_reader=reader)) as page_client:
        response = page_client.post("/v1/ocr", content=pdf_of(page.image, dpi=200), headers=PDF)
    (record,) = response.json()["pages"]
    assert (record["image"], record["page"], record["width"], record["height"]) == (0, 1, *page.image.size)
    edits, total = page_edits(record["text"], page.text)
    assert edits / total < 0.05 and [block["column"] for block in record["blocks"]] == [1, 1, 2]
