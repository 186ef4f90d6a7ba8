"""Join each @fontsource face's Thai and Latin subsets into one WOFF font (called by fetch-web-fonts.sh).

@fontsource splits every face by script. The Thai subset alone has no Arabic digits nor Latin
letters, so synthesis could give those families Thai-only text; joined, each face renders every
line the training mix holds (Thai with digits, English and punctuation), and its Arabic digits
add type designs that the Debian fonts lack (a slim, open 9 like Sawasdee's, for one).

    python scripts/merge_web_fonts.py WORK_DIR DEST_DIR

reads ``WORK_DIR/<family>/package/files/`` for each unpacked package and writes, for example,
``mitr-thai-400-normal.woff`` + ``mitr-latin-400-normal.woff`` -> ``DEST_DIR/mitr/Mitr-400.woff``
(fonts.py takes the family from the text before "-"). A face whose subsets cannot be joined
keeps its Thai subset alone, with a warning.
"""

from __future__ import annotations

import re
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from fontTools.merge import Merger

USAGE = "usage: merge_web_fonts.py WORK_DIR DEST_DIR"
SUBSET_FILE = re.compile(r"^(?P<prefix>.+)-thai-(?P<weight>\d+)-(?P<style>normal|italic)\.woff$")


def family_name(package: str) -> str:
    """``IbmPlexSansThai`` for the package folder ``ibm-plex-sans-thai``."""
    return "".join(part.capitalize() for part in package.split("-"))


def face_name(family: str, weight: str, style: str) -> str:
    """``Mitr-400`` or ``K2d-300Italic``."""
    return f"{family}-{weight}{'Italic' if style == 'italic' else ''}"


def merge_face(thai: Path, out: Path) -> str | None:
    """Write ``thai`` joined with its Latin twin into ``out`` (WOFF); a warning when it could not be joined."""
    latin = thai.with_name(SUBSET_FILE.sub(r"\g<prefix>-latin-\g<weight>-\g<style>.woff", thai.name))
    partial = out.with_suffix(".part")
    try:
        font = Merger().merge([str(thai), str(latin)])
        font.flavor = "woff"
        font.save(partial)
        warning = None
    except Exception as exc:  # fontTools raises many types; one face must not stop set-up
        partial.write_bytes(thai.read_bytes())
        warning = f"{thai.name}: Latin subset not joined ({exc}); Thai subset kept alone"
    partial.replace(out)
    return warning


def face_jobs(work: Path, dest: Path) -> list[tuple[Path, Path]]:
    """``(thai subset, merged output)`` for every face of every package unpacked under ``work``."""
    jobs = []
    for files in sorted(work.glob("*/package/files")):
        package = files.parent.parent.name
        for thai in sorted(files.glob("*-thai-*.woff")):
            if match := SUBSET_FILE.match(thai.name):
                name = face_name(family_name(package), match["weight"], match["style"])
                jobs.append((thai, dest / package / f"{name}.woff"))
    return jobs


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(USAGE)
    jobs = face_jobs(Path(sys.argv[1]), Path(sys.argv[2]))
    if not jobs:
        sys.exit(f"{sys.argv[1]}: no Thai subset files (*/package/files/*-thai-WEIGHT-STYLE.woff)")
    for _, out in jobs:
        out.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=2) as pool:  # the join is CPU-bound, ~0.3 s a face
        warnings = pool.map(merge_face, *zip(*jobs, strict=True))
    for warning in filter(None, warnings):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"joined the Thai and Latin subsets of {len(jobs)} faces")


if __name__ == "__main__":
    main()
