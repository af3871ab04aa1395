"""Resumable chunk store of a phase scan: a directory with a settings manifest and one file per chunk.

Layout of ``STORE/`` (the CLI uses ``FILE.nc.chunks/``)::

    manifest.json        every setting of the scan (grid, optimizer, statistics, chunking)
    chunk_000000.npz     raw kernel outputs of the cells of chunk 0
    ...

A chunk file is written to a temporary name and renamed (atomic on POSIX), so a scan killed
at any moment leaves only complete chunks. Resuming re-reads the manifest and refuses a store
written with different settings, naming the first setting that differs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

__all__ = ["ChunkStore"]

MANIFEST = "manifest.json"


class ChunkStore:
    """Directory of finished chunks (see module docstring)."""

    def __init__(self, path):
        self.path = Path(path)

    # ----------------------------------------------------------------- manifest
    def exists(self) -> bool:
        return (self.path / MANIFEST).exists()

    def read_manifest(self) -> dict:
        try:
            with open(self.path / MANIFEST) as fh:
                return json.load(fh)
        except (OSError, ValueError) as exc:
            raise ValueError(f"store {str(self.path)!r} has no readable {MANIFEST} ({exc}); allowed: a store written by phase_diagram") from None

    def check_settings(self, settings: dict) -> None:
        """Raise ValueError naming the first setting that differs from the manifest's."""
        old = self.read_manifest()
        for key in sorted(set(old) | set(settings)):
            a = old.get(key, "<missing>")
            b = json.loads(json.dumps(settings.get(key, "<missing>")))
            if a != b:
                raise ValueError(f"resume store {str(self.path)!r} was written with {key} = {a!r}, this scan has "
                                 f"{key} = {b!r}; allowed: the same settings, or a new output without --resume")

    def create(self, settings: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".{MANIFEST}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            json.dump(settings, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.path / MANIFEST)

    # ------------------------------------------------------------------- chunks
    def chunk_path(self, index: int) -> Path:
        return self.path / f"chunk_{index:06d}.npz"

    def finished(self) -> set:
        """Indices of the chunks present in the store."""
        out = set()
        if not self.path.is_dir():
            return out
        for name in os.listdir(self.path):
            if name.startswith("chunk_") and name.endswith(".npz"):
                try:
                    out.add(int(name[6:-4]))
                except ValueError:
                    pass
        return out

    def write(self, index: int, arrays: dict) -> None:
        final = self.chunk_path(index)
        tmp = self.path / f".chunk_{index:06d}.{os.getpid()}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, final)

    def read(self, index: int) -> dict:
        with np.load(self.chunk_path(index)) as data:
            return {key: data[key] for key in data.files}

    def remove(self) -> None:
        """Delete the store (after the assembled Dataset has been written)."""
        if not self.path.is_dir():
            return
        for name in os.listdir(self.path):
            if name == MANIFEST or (name.startswith("chunk_") or name.startswith(".chunk_") or name.startswith(f".{MANIFEST}")):
                os.remove(self.path / name)
        try:
            self.path.rmdir()
        except OSError:
            pass
