"""thaiocr: build, judge and use Thai OCR models."""

__version__ = "0.1.0"
