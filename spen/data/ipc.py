"""Arrow IPC files: written atomically (read back memory-mapped by their readers)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from spen.io import atomic_path


def write_table(table: pa.Table, path: Path) -> None:
    """Write `table` as an Arrow IPC file, atomically."""
    with (
        atomic_path(path) as tmp,
        pa.OSFile(str(tmp), "wb") as sink,
        ipc.new_file(sink, table.schema) as writer,
    ):
        writer.write_table(table)
