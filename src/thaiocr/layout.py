"""Reading order of a page from its line boxes alone: columns, tables and paragraphs.

A detector finds lines, not the order they are read in. Here the page is cut as in a recursive
XY-cut: its rows of lines, top to bottom, are gathered into runs that share a gutter (an empty
vertical strip that no line crosses, with lines level with each other on both sides). A run of
several rows with a gutter is split at it, either into columns of text, read one after another
from the left and each cut again in turn, or into the columns of a table, read row by row with
the cells of a row left to right. A run without a gutter is text that flows down the page; it is
parted into paragraphs where the gap above a row is clearly wider than the page's usual gap
between rows, or where a row is indented. So a full-width heading comes before the columns under
it, and a table inside a column stays in its column.

Everything is measured in line heights (the median height of the page's boxes), so the rules hold
at any resolution. Boxes much lower than that (a stray mark, a speck) take no part in the layout:
each joins the cell nearest to it. Pure geometry: numpy, no model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

PARAGRAPH, TABLE = "paragraph", "table"
GUTTER = 0.5  # an empty strip this many line heights wide, crossed by no line, parts columns or table cells
SMALL = 0.4  # boxes lower than this share of the median line height (specks, stray marks) are left out
PROSE_WIDTH = 8.0  # a column of text is at least this many line heights wide...
PROSE_FILL = 0.8  # ...and the lines of its rows cover, by the median, this share of its width (table columns do not)
ALIGNED_ROWS = 0.5  # a table: this share of its rows at least hold cells in more than one column
PARAGRAPH_GAP = 0.4  # a gap this many line heights wider than the page's usual gap between rows starts a paragraph
INDENT = 1.0  # a row this many line heights right of its text's left edge, after one that is not, starts one
COLUMN_GAP = 1.0  # within a cell, a gap wider than this many line heights joins two lines with a tab
TAIL_ROWS = 3  # the most rows at the end of a run of text that the next row may take to start columns with

Cell = tuple[int, ...]
Row = tuple[Cell, ...]


@dataclass(frozen=True)
class Block:
    """A paragraph or a table: its rows top to bottom, each a tuple of cells left to right (a
    paragraph's rows have one), each cell the indices of its lines left to right. ``column`` is 0
    outside columns, else the place of the block's column from the left (1, 2, ...) among the
    columns it was cut from."""

    kind: str
    rows: tuple[Row, ...]
    column: int = 0

    @property
    def lines(self) -> list[int]:
        """The block's lines in reading order."""
        return [index for row in self.rows for cell in row for index in cell]

    def cells(self) -> Iterator[tuple[int, int, Cell]]:
        """``(row, column, lines)`` of each cell that holds a line."""
        for r, row in enumerate(self.rows):
            for c, cell in enumerate(row):
                if cell:
                    yield r, c, cell


@dataclass
class _Flow:
    """Rows of text that flow down the page, before they are parted into paragraphs."""

    rows: list[list[int]]
    column: int


def box_bounds(quads: Sequence[np.ndarray]) -> np.ndarray:
    """``[left, top, right, bottom]`` of each quadrilateral, as an ``(N, 4)`` array."""
    points = [np.asarray(quad, dtype=np.float64).reshape(-1, 2) for quad in quads]
    return np.array([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()] for p in points]).reshape(-1, 4)


def layout(quads: Sequence[np.ndarray]) -> list[Block]:
    """The page's lines (their quadrilaterals, in any order) as blocks in reading order; the
    blocks' indices are those of ``quads``."""
    boxes = box_bounds(quads)
    if not len(boxes):
        return []
    page = _Page(boxes)
    small = page.heights < SMALL * page.height
    pieces = page.arrange([int(i) for i in np.flatnonzero(~small)], column=0)
    return page.attach(page.paragraphs(pieces), [int(i) for i in np.flatnonzero(small)])


def group_rows(boxes: np.ndarray, indices: Sequence[int]) -> list[list[int]]:
    """The boxes (rows of :func:`box_bounds`) grouped into rows, top to bottom, each left to right.

    Boxes go through in order of their vertical centres; one joins the current row when its
    centre is within half a height (the smaller of its own and the row's) of the row's centre.
    """
    centres, heights = (boxes[:, 1] + boxes[:, 3]) / 2, boxes[:, 3] - boxes[:, 1]
    rows: list[list[int]] = []
    for i in sorted(indices, key=lambda k: centres[k]):
        if rows:
            row = rows[-1]
            if abs(centres[i] - centres[row].mean()) <= min(heights[i], heights[row].mean()) / 2:
                row.append(i)
                continue
        rows.append([i])
    return [sorted(row, key=lambda k: boxes[k, 0]) for row in rows]


def reorder(blocks: Sequence[Block]) -> tuple[list[int], list[Block]]:
    """The lines' indices in reading order, and the blocks renumbered to count in that order."""
    order = [index for block in blocks for index in block.lines]
    place = {old: new for new, old in enumerate(order)}
    renumbered = [replace(block, rows=tuple(tuple(tuple(place[i] for i in cell) for cell in row) for row in block.rows))
                  for block in blocks]
    return order, renumbered


def layout_text(blocks: Sequence[Block], texts: Sequence[str], quads: Sequence[np.ndarray]) -> str:
    """The blocks' texts with a blank line between blocks (see :func:`block_text`)."""
    boxes = box_bounds(quads)
    return "\n\n".join(text for block in blocks if (text := block_text(block, texts, boxes)))


def block_text(block: Block, texts: Sequence[str], boxes: np.ndarray) -> str:
    """A block's rows on their own lines, a table's cells split by tabs; within a cell, lines split
    by a space or, across a gap wider than :data:`COLUMN_GAP` line heights, a tab. Lines without
    text are left out."""
    rows = ("\t".join(cell_text(cell, texts, boxes) for cell in row).rstrip("\t") for row in block.rows)
    return "\n".join(row for row in rows if row)


def cell_text(cell: Cell, texts: Sequence[str], boxes: np.ndarray) -> str:
    read = [i for i in cell if texts[i]]
    parts = [texts[read[0]]] if read else []
    for before, after in zip(read, read[1:], strict=False):
        height = (boxes[before, 3] - boxes[before, 1] + boxes[after, 3] - boxes[after, 1]) / 2
        parts.append(("\t" if boxes[after, 0] - boxes[before, 2] > COLUMN_GAP * height else " ") + texts[after])
    return "".join(parts)


def page_text(texts: Sequence[str], quads: Sequence[np.ndarray]) -> str:
    """The texts of a page's lines (their quadrilaterals in any order) in reading order."""
    return layout_text(layout(quads), texts, quads)


class _Page:
    """The boxes of one page and its line height, and the steps of :func:`layout` on them."""

    def __init__(self, boxes: np.ndarray) -> None:
        self.boxes = boxes
        self.heights = boxes[:, 3] - boxes[:, 1]
        self.height = max(float(np.median(self.heights)), 1.0)

    # --- cutting --------------------------------------------------------------------------------

    def arrange(self, indices: list[int], column: int) -> list[_Flow | Block]:
        """The boxes as flows and tables in reading order: runs of rows without a gutter flow, runs
        with one are split into a table or into columns, each arranged in turn."""
        pieces: list[_Flow | Block] = []
        flow = _Flow([], column)
        for run in self.runs(group_rows(self.boxes, indices)):
            cuts = self.gutters([i for row in run for i in row]) if len(run) > 1 else []
            if not cuts:
                flow.rows += run
                continue
            parts = self.split(run, cuts)
            core = self.table_rows(run, parts)
            if core is None:
                pieces += [flow] if flow.rows else []
                pieces += [piece for k, part in enumerate(parts, 1) for piece in self.arrange(part, k)]
                flow = _Flow([], column)
                continue
            first, last = core
            flow.rows += run[:first]
            pieces += [flow] if flow.rows else []
            pieces.append(self.table(run[first : last + 1], cuts, column))
            flow = _Flow(run[last + 1 :], column)
        return pieces + ([flow] if flow.rows else [])

    def runs(self, rows: list[list[int]]) -> list[list[list[int]]]:
        """Consecutive rows gathered while a gutter runs through all of them (or, rows without a
        gutter of their own, while none does).

        Where the lines of two columns are not level, each row holds one line, and no row has a
        gutter of its own: so a row that makes a gutter with the last rows of a run without one
        (at most :data:`TAIL_ROWS`) starts a run with them.
        """
        runs: list[list[list[int]]] = []
        for row in rows:
            if runs:
                run = [i for r in runs[-1] for i in r]
                joined, alone, before = self.gutters(run + row), self.gutters(row), self.gutters(run)
                tail = 0 if joined or before else self.tail_with_gutter(runs[-1], row)
                if tail:
                    runs[-1], start = runs[-1][:-tail], runs[-1][-tail:]
                    runs.append(start + [row])
                    continue
                if joined or not (alone or before):
                    runs[-1].append(row)
                    continue
            runs.append([row])
        return runs

    def tail_with_gutter(self, run: list[list[int]], row: list[int]) -> int:
        """The most of the run's last rows (up to :data:`TAIL_ROWS`, never all) that have a gutter
        with ``row``; 0: none do."""
        found = 0
        for count in range(1, min(TAIL_ROWS, len(run) - 1) + 1):
            if self.gutters([i for r in run[-count:] for i in r] + row):
                found = count
        return found

    def gutters(self, indices: list[int]) -> list[float]:
        """The x of the middle of each gutter among the boxes: a gap at least :data:`GUTTER` line
        heights wide that no box crosses, with boxes level with each other on its two sides (boxes
        that are only above or below each other are read top to bottom, not cut apart)."""
        boxes = self.boxes[sorted(indices, key=lambda i: self.boxes[i, 0])]
        reach = np.maximum.accumulate(boxes[:, 2])
        tops, bottoms = np.minimum.accumulate(boxes[:, 1]), np.maximum.accumulate(boxes[:, 3])
        tops_after = np.minimum.accumulate(boxes[::-1, 1])[::-1]
        bottoms_after = np.maximum.accumulate(boxes[::-1, 3])[::-1]
        cuts = []
        for j in range(1, len(boxes)):
            level = min(bottoms[j - 1], bottoms_after[j]) > max(tops[j - 1], tops_after[j])
            if boxes[j, 0] - reach[j - 1] >= GUTTER * self.height and level:
                cuts.append(float(boxes[j, 0] + reach[j - 1]) / 2)
        return cuts

    def split(self, run: list[list[int]], cuts: list[float]) -> list[list[int]]:
        """The run's boxes parted at the cuts, left to right."""
        parts: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
        for index in (i for row in run for i in row):
            parts[self.part_of(index, cuts)].append(index)
        return parts

    def part_of(self, index: int, cuts: list[float]) -> int:
        return int(np.searchsorted(cuts, (self.boxes[index, 0] + self.boxes[index, 2]) / 2))

    # --- tables ---------------------------------------------------------------------------------

    def table_rows(self, run: list[list[int]], parts: list[list[int]]) -> tuple[int, int] | None:
        """The first and last row of the table a split run holds, or None when its parts are
        columns: all of them text (see :meth:`is_prose`), or rows that seldom hold cells in more
        than one part. Rows before the first such row and after the last stay text
        (a caption, a note)."""
        if all(self.is_prose(part) for part in parts):
            return None
        places = {index: k for k, part in enumerate(parts) for index in part}
        aligned = [r for r, row in enumerate(run) if len({places[i] for i in row}) > 1]
        if not aligned or len(aligned) < ALIGNED_ROWS * (aligned[-1] - aligned[0] + 1):
            return None
        return aligned[0], aligned[-1]

    def is_prose(self, part: list[int]) -> bool:
        """Whether a part is a column of text: wide, filled by its rows, no gutter of its own."""
        if self.gutters(part):
            return False
        boxes = self.boxes[part]
        width = boxes[:, 2].max() - boxes[:, 0].min()
        widths = self.boxes[:, 2] - self.boxes[:, 0]
        fills = [widths[row].sum() / width for row in group_rows(self.boxes, part)]
        return width >= PROSE_WIDTH * self.height and float(np.median(fills)) >= PROSE_FILL

    def table(self, rows: list[list[int]], cuts: list[float], column: int) -> Block:
        cells = []
        for row in rows:
            cell: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
            for index in row:
                cell[self.part_of(index, cuts)].append(index)
            cells.append(tuple(tuple(c) for c in cell))
        return Block(TABLE, tuple(cells), column)

    # --- paragraphs -----------------------------------------------------------------------------

    def paragraphs(self, pieces: list[_Flow | Block]) -> list[Block]:
        """Flows parted into paragraphs; tables kept as they are."""
        gaps = [self.gap(above, below) for piece in pieces if isinstance(piece, _Flow)
                for above, below in zip(piece.rows, piece.rows[1:], strict=False)]
        usual = float(np.percentile(gaps, 25)) if gaps else 0.0
        blocks = []
        for piece in pieces:
            if isinstance(piece, Block):
                blocks.append(piece)
                continue
            left = min(self.boxes[row, 0].min() for row in piece.rows)
            paragraph = [piece.rows[0]]
            for above, below in zip(piece.rows, piece.rows[1:], strict=False):
                if self.starts_paragraph(above, below, left, usual):
                    blocks.append(_paragraph(paragraph, piece.column))
                    paragraph = []
                paragraph.append(below)
            blocks.append(_paragraph(paragraph, piece.column))
        return blocks

    def gap(self, above: list[int], below: list[int]) -> float:
        return float(self.boxes[below, 1].min() - self.boxes[above, 3].max())

    def starts_paragraph(self, above: list[int], below: list[int], left: float, usual: float) -> bool:
        """Whether ``below`` starts a paragraph: after a wide gap, or indented.

        Not where the height of the lines changes: a Thai line without marks above or below its
        letters is half as high as one with stacked marks, in the same font."""
        indents = self.boxes[above, 0].min() - left, self.boxes[below, 0].min() - left
        return (self.gap(above, below) > usual + PARAGRAPH_GAP * self.height
                or indents[1] >= INDENT * self.height > 2 * indents[0])

    # --- small boxes ----------------------------------------------------------------------------

    def attach(self, blocks: list[Block], small: list[int]) -> list[Block]:
        """Each small box put into the cell nearest to it, in its place from the left."""
        if not small:
            return blocks
        cells = [[[list(cell) for cell in row] for row in block.rows] for block in blocks]
        places = [(b, r, c) for b, block in enumerate(cells) for r, row in enumerate(block)
                  for c, cell in enumerate(row) if cell]
        for index in small:
            b, r, c = min(places, key=lambda place: self.distance(index, cells[place[0]][place[1]][place[2]]))
            cell = cells[b][r][c]
            cell.append(index)
            cell.sort(key=lambda k: self.boxes[k, 0])
        return [replace(block, rows=tuple(tuple(tuple(cell) for cell in row) for row in rows))
                for block, rows in zip(blocks, cells, strict=True)]

    def distance(self, index: int, cell: list[int]) -> float:
        """From the centre of box ``index`` to the rectangle around the boxes of ``cell``."""
        x, y = (self.boxes[index, 0] + self.boxes[index, 2]) / 2, (self.boxes[index, 1] + self.boxes[index, 3]) / 2
        left, top = self.boxes[cell, 0].min(), self.boxes[cell, 1].min()
        right, bottom = self.boxes[cell, 2].max(), self.boxes[cell, 3].max()
        return float(np.hypot(max(left - x, 0, x - right), max(top - y, 0, y - bottom)))


def _paragraph(rows: list[list[int]], column: int) -> Block:
    return Block(PARAGRAPH, tuple((tuple(row),) for row in rows), column)
