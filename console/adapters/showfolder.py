"""The files of a per-show folder: feed parts, notes, meta, a copy of the script.

This is the I/O half of :mod:`console.showfolder`. A folder looks like::

    var/shows/2026-11-22_2000_demo-room/
        meta.json          room, mode, speed, script, start/end, counts (rewritten atomically)
        feed.jsonl.gz      the accepted events, canonical lines (a recording: replayable)
        feed.001.jsonl.gz  ... further parts once a part passes ``rotate_bytes``
        notes.jsonl        every note the engine published, one JSON object per line
        show.yaml          a copy of the show script, when there was one

Feed and notes go through :class:`~console.adapters.recording.RecordingWriter`,
so both survive a crash of the console the way recordings do: every batch is
one ``write(2)`` of whole lines (a gzip part is sync-flushed), and a torn tail
is skipped by the reader. Rotation closes the current part (finishing its gzip
member) before the next is opened, so every part but the last is a complete
gzip file and the order of the parts is the order of their names.

``meta.json`` is replaced atomically (written beside, fsynced, renamed): a
reader sees the old or the new meta, never half of one.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

from console.adapters.recording import ReadReport, RecordingWriter, iter_frames

FEED_STEM: Final = "feed"
FEED_SUFFIX: Final = ".jsonl.gz"
NOTES_FILE: Final = "notes.jsonl"
META_FILE: Final = "meta.json"
SCRIPT_COPY: Final = "show.yaml"

_PART_RE: Final = re.compile(r"^feed(?:\.(\d{3,}))?\.jsonl(?:\.gz)?$")


def create_folder(root: Path, name: str) -> Path:
    """Make ``root/name`` (or ``name-2``, ``name-3``... if taken) and return it.

    ``mkdir`` is the atomic test: two consoles started in the same minute for
    the same room never share a folder.
    """
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = root / (name if n == 1 else f"{name}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free folder name for {name!r} under {root}")


def feed_parts(folder: Path) -> list[Path]:
    """The feed parts of a folder, in the order they were written."""
    parts = []
    for p in folder.iterdir():
        m = _PART_RE.match(p.name)
        if m:
            parts.append((int(m.group(1) or 0), p))
    return [p for _, p in sorted(parts)]


def iter_feed(folder: Path, report: ReadReport | None = None) -> Iterator[bytes]:
    """Every recorded feed line of a folder, part after part (torn tails skipped)."""
    for part in feed_parts(folder):
        yield from iter_frames(part, report)


def iter_notes(folder: Path, report: ReadReport | None = None) -> Iterator[bytes]:
    """Every line of ``notes.jsonl`` (none when the file is missing)."""
    path = folder / NOTES_FILE
    if path.is_file():
        yield from iter_frames(path, report)


class RotatingRecording:
    """A gzip recording split into parts of about ``rotate_bytes`` each.

    Part 0 is ``feed.jsonl.gz``, then ``feed.001.jsonl.gz``, ``feed.002...``.
    The size is checked after each batch, so a part ends a little past the
    limit rather than in the middle of a batch.
    """

    def __init__(self, folder: Path, rotate_bytes: int, *, level: int = 6) -> None:
        self.folder = folder
        self.rotate_bytes = rotate_bytes
        self.level = level
        self.parts: list[Path] = []
        self.lines_written = 0
        self._writer = self._open()

    def _open(self) -> RecordingWriter:
        n = len(self.parts)
        name = f"{FEED_STEM}{FEED_SUFFIX}" if n == 0 else f"{FEED_STEM}.{n:03d}{FEED_SUFFIX}"
        path = self.folder / name
        self.parts.append(path)
        return RecordingWriter(path, level=self.level)

    def write_many(self, lines: Iterable[bytes]) -> None:
        before = self._writer.lines_written
        self._writer.write_many(lines)
        self.lines_written += self._writer.lines_written - before
        if self._writer.path.stat().st_size >= self.rotate_bytes:
            self._writer.close()
            self._writer = self._open()

    def close(self) -> None:
        self._writer.close()


class FolderWriter:
    """Writes one show folder; the :class:`~console.showfolder.ShowRecorder` decides what and when."""

    def __init__(self, folder: Path, *, rotate_bytes: int = 256 * 1024 * 1024) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.feed = RotatingRecording(folder, rotate_bytes)
        self.notes = RecordingWriter(folder / NOTES_FILE)
        self.closed = False

    def write_feed(self, lines: list[bytes]) -> None:
        if lines:
            self.feed.write_many(lines)

    def write_notes(self, lines: list[bytes]) -> None:
        if lines:
            self.notes.write_many(lines)

    def write_meta(self, data: bytes) -> None:
        """Replace ``meta.json`` atomically."""
        path = self.folder / META_FILE
        tmp = path.with_name(META_FILE + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def copy_script(self, source: Path) -> str:
        """Copy the show script into the folder; the copy's name."""
        shutil.copyfile(source, self.folder / SCRIPT_COPY)
        return SCRIPT_COPY

    @property
    def feed_part_names(self) -> list[str]:
        return [p.name for p in self.feed.parts]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.feed.close()
        finally:
            self.notes.close()
