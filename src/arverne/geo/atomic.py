"""Atomic writes: a file or directory appears complete under its final name, or not at all.

Everything is first written into a temporary sibling (same file system, so the final
``os.replace`` is atomic), flushed with ``fsync``, then renamed. A failure removes the
temporary and leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path


def fsync_path(path: Path) -> None:
    """Flush a file, or a directory entry list, to disk."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temporary_sibling(target: Path, kind: str) -> Path:
    return target.parent / f".{target.name}.{kind}-{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def atomic_directory(target: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``target`` when the block succeeds.

    Parameters
    ----------
    target
        Final directory path; its parent must exist.
    overwrite
        Replace an existing ``target``; otherwise an existing target raises.

    Raises
    ------
    FileExistsError
        When ``target`` exists and ``overwrite`` is False.
    FileNotFoundError
        When the parent directory of ``target`` does not exist.
    """
    target = Path(target)
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"{target.parent} does not exist; create the parent directory of {target} first"
        )
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; remove it or choose another path")
    temp = _temporary_sibling(target, "tmp")
    temp.mkdir()
    try:
        yield temp
        for child in temp.rglob("*"):
            if child.is_file():
                fsync_path(child)
        fsync_path(temp)
        old = None
        if target.exists():
            old = _temporary_sibling(target, "old")
            target.rename(old)
        temp.rename(target)
        fsync_path(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """Yield a temporary file path that replaces ``target`` when the block succeeds."""
    target = Path(target)
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"{target.parent} does not exist; create the parent directory of {target} first"
        )
    temp = _temporary_sibling(target, "part")
    try:
        yield temp
        fsync_path(temp)
        os.replace(temp, target)
        fsync_path(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


def write_chunks_atomic(target: Path, chunks: Iterable[bytes]) -> int:
    """Write byte chunks to ``target`` atomically and return the number of bytes written."""
    size = 0
    with atomic_file(target) as temp, temp.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
            size += len(chunk)
    return size
