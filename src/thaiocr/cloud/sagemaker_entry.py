"""The program a job on a prebuilt SageMaker PyTorch image runs; thaiocr itself never imports it.

``thaiocr cloud train`` copies this file to the root of the source tarball it uploads, as
``thaiocr_entry.py``, and names it in the ``sagemaker_program`` hyperparameter. The image's training
toolkit unpacks the tarball and runs it; it installs thaiocr from the tarball (pip fetches the
dependencies the image lacks) and then becomes ``python -m thaiocr.cloud.container``.
"""

import os
import subprocess
import sys
from pathlib import Path


def install_thaiocr() -> bool:
    """``pip install`` the tarball's folder; on failure, leave SageMaker the reason."""
    here = Path(__file__).resolve().parent
    install = [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", str(here)]
    if subprocess.run(install).returncode == 0:
        return True
    failure = Path(os.environ.get("SM_ROOT", "/opt/ml")) / "output" / "failure"
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text("pip could not install thaiocr from the job's source tarball; see the job's logs")
    return False


if __name__ == "__main__":
    if not install_thaiocr():
        sys.exit(1)
    # Become the job (rather than wait for it) so that SageMaker's SIGTERM on a stop reaches it.
    os.execv(sys.executable, [sys.executable, "-m", "thaiocr.cloud.container"])
