"""Reading a PDF: the safety check, the text layer per page, and OCR of the pages without one.

The Celery worker reads each document in a child process it forks (``read_pdf`` below), under
limits on address space, CPU time and wall time, so a hostile or broken PDF costs at most those
limits and never the worker (let alone the web process, which never parses uploads). The child
touches no database; it writes one JSON object per line to a pipe: ``safety`` first, then one
``page`` per page, then ``done``. ``python -m documents.reader FILE`` prints the same events.

Text layer: pypdfium2 (PDFium). A page with fewer than ``MIN_TEXT_CHARS`` characters of text is a
scan: it is rasterised at ``OCR_DPI`` into an uncompressed greyscale image (PGM: nothing to encode,
where PNG cost 0.17 s a page) and read by Tesseract (Debian's tesseract-ocr) with page segmentation
mode 3, automatic layout without orientation detection. Tesseract's layout analysis deskews slightly
skewed lines itself. A page scanned sideways or upside down reads as nonsense with low confidence:
only such a page is asked its rotation by orientation and script detection (``--psm 0``) and read
again turned. Running OSD on every page (mode 1) cost 0.2 s a page for the few that need it. The TSV
output gives the words with their confidence.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

from documents.pdfsafety import check_pdf

MIN_TEXT_CHARS = 25
#: Below this mean word confidence a page is checked for being turned (OSD) and read again.
LOW_CONFIDENCE = 60
OCR_DPI = 300
TESSERACT = "tesseract"
#: Tesseract parallelises with OpenMP; one thread per page keeps a 2-core machine responsive.
TESSERACT_ENV = {"OMP_THREAD_LIMIT": "1"}


@dataclass(frozen=True)
class Limits:
    """Per document. Address space for the reader and for each Tesseract it starts (inherited)."""

    memory_mb: int = 1536
    cpu_seconds: int = 300
    wall_seconds: int = 600


class ReadingFailed(Exception):
    pass


def page_text_layer(page) -> str:
    textpage = page.get_textpage()
    try:
        return textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
    finally:
        textpage.close()


def tesseract_tsv(image_path: str, *, psm: int = 3) -> tuple[str, float | None]:
    """Text and mean word confidence (0-100) of one image, from Tesseract's TSV output."""
    result = subprocess.run(
        [TESSERACT, image_path, "stdout", "--psm", str(psm), "-l", "eng", "tsv"],
        capture_output=True,
        check=False,
        env={**os.environ, **TESSERACT_ENV},
    )
    if result.returncode != 0:
        raise ReadingFailed(f"tesseract failed: {result.stderr.decode(errors='replace')[-300:]}")
    return parse_tsv(result.stdout.decode("utf-8", errors="replace"))


def tesseract_osd_rotation(image_path: str) -> int:
    """Degrees (clockwise) OSD says the page must be rotated by to be upright: 0, 90, 180 or 270."""
    result = subprocess.run(
        [TESSERACT, image_path, "stdout", "--psm", "0"],
        capture_output=True,
        check=False,
        env={**os.environ, **TESSERACT_ENV},
    )
    match = re.search(r"Rotate: (\d+)", result.stdout.decode(errors="replace"))
    return int(match.group(1)) if match else 0


def parse_tsv(tsv: str) -> tuple[str, float | None]:
    lines: dict[tuple[int, int, int, int], list[str]] = {}
    confidences: list[float] = []
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5":
            continue
        word = cells[11].strip()
        if not word:
            continue
        key = tuple(int(c) for c in cells[1:5])
        lines.setdefault(key, []).append(word)
        conf = float(cells[10])
        if conf >= 0:
            confidences.append(conf)
    text = "\n".join(" ".join(words) for _, words in sorted(lines.items()))
    return text, (round(sum(confidences) / len(confidences), 1) if confidences else None)


def read_pages(path: str) -> Iterator[dict]:
    """The events of reading one PDF (see the module docstring)."""
    data = Path(path).read_bytes()
    verdict = check_pdf(data)
    yield {"event": "safety", "accepted": verdict.accepted, "message": verdict.message, "pages": verdict.pages}
    if not verdict.accepted:
        return
    pdf = pdfium.PdfDocument(data)
    with tempfile.TemporaryDirectory(prefix="baat-ocr-") as scratch:
        for index in range(len(pdf)):
            page = pdf[index]
            text = page_text_layer(page)
            if len(text.strip()) >= MIN_TEXT_CHARS:
                yield {"event": "page", "number": index + 1, "text": text, "method": "text_layer", "confidence": None}
                continue
            image = page.render(scale=OCR_DPI / 72, grayscale=True).to_pil()
            image_path = os.path.join(scratch, f"page-{index + 1}.pgm")
            image.save(image_path)
            ocr_text, confidence = tesseract_tsv(image_path)
            if confidence is None or confidence < LOW_CONFIDENCE:
                # Scanned sideways or upside down (or simply poor): ask OSD for the rotation.
                rotate = tesseract_osd_rotation(image_path)
                if rotate:
                    image.rotate(-rotate, expand=True, fillcolor=255).save(image_path)
                    turned_text, turned_confidence = tesseract_tsv(image_path)
                    if (turned_confidence or 0) > (confidence or 0):
                        ocr_text, confidence = turned_text, turned_confidence
            os.unlink(image_path)
            yield {"event": "page", "number": index + 1, "text": ocr_text, "method": "ocr", "confidence": confidence}
    yield {"event": "done"}


def _child(path: str, limits: Limits, out_fd: int) -> None:
    """In the forked child: apply the limits, read, write the events, exit. Never returns."""
    code = 0
    try:
        memory = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
        with os.fdopen(out_fd, "w", encoding="utf-8") as out:
            try:
                for event in read_pages(path):
                    out.write(json.dumps(event) + "\n")
                    out.flush()
            except MemoryError:
                out.write(json.dumps({"event": "error", "message": "memory"}) + "\n")
                code = 3
            except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
                out.write(json.dumps({"event": "error", "message": f"{type(exc).__name__}: {exc}"[:300]}) + "\n")
                code = 1
    except BaseException:  # noqa: BLE001 - nothing may escape a forked child
        code = 2
    finally:
        os._exit(code)


def read_pdf(path: str, *, limits: Limits = Limits(), on_event: Callable[[dict], None] = lambda e: None) -> list[dict]:
    """Read ``path`` in a child process under ``limits``; call ``on_event`` for each event as it comes.

    The child is forked from the worker (the reading modules are already imported, so a document
    costs no interpreter start-up), gets its own address-space and CPU limits, and is killed at the
    wall-time limit. It touches no database: it only writes events to a pipe.
    Raises ReadingFailed when the child dies, runs out of time or memory, or says nothing sensible.
    """
    started = time.monotonic()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its work is read_pages
        os.close(read_end)
        _child(path, limits, write_end)
    os.close(write_end)
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(limits.wall_seconds, kill)
    timer.start()
    events: list[dict] = []
    error = ""
    try:
        with os.fdopen(read_end, encoding="utf-8") as stream:
            for line in stream:
                event = json.loads(line)
                if event["event"] == "error":
                    error = event["message"]
                    continue
                events.append(event)
                on_event(event)
    finally:
        timer.cancel()
        _, status = os.waitpid(pid, 0)
    signalled = os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGKILL, signal.SIGXCPU)
    # The timer thread can be scheduled late on a busy machine: a reading that outlasted the limit is
    # stopped at the limit even if the child finished before the timer fired.
    overran = time.monotonic() - started > limits.wall_seconds
    if killed.is_set() or overran or signalled or error == "memory" or os.WEXITSTATUS(status) == 3:
        raise ReadingFailed(
            f"Reading stopped at a limit ({limits.wall_seconds} s wall, {limits.cpu_seconds} s CPU, "
            f"{limits.memory_mb} MB memory per document)."
        )
    if error or status != 0 or not events:
        raise ReadingFailed(f"Reading failed: {error or f'the reader exited with status {status}'}.")
    if events[0].get("accepted") and events[-1].get("event") != "done":
        raise ReadingFailed("Reading stopped before the last page.")
    return events


def main(argv: list[str]) -> int:
    for event in read_pages(argv[1]):
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
