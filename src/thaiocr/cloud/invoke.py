"""``thaiocr cloud invoke``: read images with a deployed endpoint, through boto3's ``sagemaker-runtime``.

One ``InvokeEndpoint`` per image, its bytes as the body (what ``/invocations`` reads as raw image
bytes); ``--page`` asks for page OCR with SageMaker's custom attributes header (``mode=page``),
which the server reads. The answer is ``thaiocr serve``'s JSON: ``{"lines": [...]}`` or
``{"pages": [...]}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thaiocr.cloud.aws import Aws, AwsError, aws_errors
from thaiocr.cloud.deploy import describe_endpoint
from thaiocr.errors import ThaiOCRError

CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
                 ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff"}


@dataclass(frozen=True)
class Reading:
    image: Path
    answer: dict[str, Any]

    def lines(self) -> list[str]:
        """The text lines the endpoint read: a line image's line, or a page's lines in reading order."""
        if "pages" in self.answer:
            return [line["text"] for page in self.answer["pages"] for line in page.get("lines", [])]
        return [line["text"] for line in self.answer.get("lines", [])]

    def text(self) -> str:
        return "\n".join(f"{self.image}\t{line}" for line in self.lines()) or f"{self.image}\t"


def _body(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ThaiOCRError(f"{path}: cannot read the image ({exc.strerror or exc})") from None


def _answer(raw: bytes, endpoint: str) -> dict[str, Any]:
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not ({"lines", "pages"} & answer.keys()):
        raise AwsError(f"endpoint {endpoint} did not answer as thaiocr serve does ({raw[:200]!r}): "
                       "is it serving a thaiocr image?")
    return answer


def invoke(aws: Aws, endpoint: str, images: list[Path], page: bool = False) -> list[Reading]:
    """Read each image with the endpoint; it must exist (checked first, for a clear message)."""
    bodies = [(Path(path), _body(path)) for path in images]
    describe_endpoint(aws.client("sagemaker"), endpoint)
    runtime = aws.client("sagemaker-runtime")
    readings = []
    for path, body in bodies:
        request: dict[str, Any] = {"EndpointName": endpoint, "Body": body, "Accept": "application/json",
                                   "ContentType": CONTENT_TYPES.get(path.suffix.lower(), "application/x-image")}
        if page:
            request["CustomAttributes"] = "mode=page"
        with aws_errors(f"invoking endpoint {endpoint} with {path}"):
            raw = runtime.invoke_endpoint(**request)["Body"].read()
        readings.append(Reading(path, _answer(raw, endpoint)))
    return readings


def readings_json(readings: list[Reading]) -> str:
    return json.dumps([{"image": str(r.image), **r.answer} for r in readings], ensure_ascii=False, indent=2)
