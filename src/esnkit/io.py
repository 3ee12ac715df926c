"""Model files without pickle: one safetensors file of tensors whose header holds a JSON config.

This module knows files, tensors and JSON, not models: a model writes its ``state_dict`` tensors
and a config through :func:`write`, and :func:`esnkit.load` reads them back through :func:`read`
and rebuilds the model (``esnkit.models.saving``). Reading parses JSON and raw tensors only, so it
never executes code from the file.

A file's header metadata holds two entries: ``"esnkit"``, the JSON config (with its
``format_version``), and ``"esnkit.checksum"``, ``"sha256:<hex>"`` over the config text and every
tensor's name, dtype, shape and raw bytes (see :func:`checksum`). :func:`read` verifies it, so a
file damaged on disk or in transit is refused before anything in it is used. A checksum does not
stop a deliberate edit (which can recompute it): what the tensors and config say is validated again
by the model that loads them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import stat
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from safetensors import deserialize
from safetensors.torch import save as serialize

FORMAT = "esnkit"
CHECKSUM = "esnkit.checksum"  # the metadata entry holding the checksum
# A safetensors header (JSON) longer than this is not one esnkit wrote (safetensors' own limit is 100 MB).
MAX_HEADER = 100_000_000
# safetensors' dtype names; a tensor of any other dtype is refused
DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool}


def jsonable(v: Any) -> Any:
    """``v`` as JSON can hold it (arrays as lists, dtypes and devices as their names)."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, torch.dtype):
        return str(v).replace("torch.", "")
    if isinstance(v, torch.device):
        return str(v)
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v).name
    if isinstance(v, np.dtype):
        return v.name
    return v


def checksum(config_text: str, tensors: Mapping[str, torch.Tensor]) -> str:
    """``"sha256:<hex>"`` of the config text and of each tensor (by name): name, dtype, shape, raw bytes.

    Every part is length-prefixed, so no two different contents hash the same bytes.
    """
    h = hashlib.sha256()

    def part(b: bytes | memoryview) -> None:
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)

    part(config_text.encode())
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        part(json.dumps([name, str(t.dtype).replace("torch.", ""), list(t.shape)]).encode())
        part(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
    return "sha256:" + h.hexdigest()


def save_file(tensors: Mapping[str, torch.Tensor], path: str, metadata: dict[str, str]) -> None:
    """Write ``tensors`` and ``metadata`` as safetensors to a new file ``path``, synced to disk.

    The file is created with mode 0o666 less the umask, as any file a program writes (safetensors'
    own ``save_file`` goes through a private temporary file of mode 0o600)."""
    blob = serialize(dict(tensors), metadata=metadata)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o666)
    with os.fdopen(fd, "wb") as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())


def _cannot_save(path: str, exc: OSError) -> OSError:
    """``exc`` (an I/O error about ``path`` or its temporary file) as one that names ``path``."""
    if exc.errno is None:
        return OSError(f"cannot save the model to {path!r}: {exc}")
    return OSError(exc.errno, f"cannot save the model to {path!r}: {exc.strerror or os.strerror(exc.errno)}")


def write(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> None:
    """Write ``tensors`` and the JSON ``config`` (with a checksum of both) to ``path``, atomically.

    The file is written under a temporary name in the same directory and moved into place, so a
    failed or interrupted write leaves an existing file at ``path`` as it was, and no temporary file
    behind. A missing directory, a directory at ``path`` or one that cannot be written raises
    ``OSError`` naming ``path``.
    """
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"cannot save the model to {path!r}: it is a directory")
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, f"cannot save the model to {path!r}: there is no directory {folder!r}")
    data = {k: _dense(v) for k, v in tensors.items()}
    text = json.dumps({"format": FORMAT, **config})
    metadata = {FORMAT: text, CHECKSUM: checksum(text, data)}
    tmp = os.path.join(folder, f".{os.path.basename(path)[:100]}.{secrets.token_hex(4)}.tmp")
    try:
        save_file(data, tmp, metadata)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.remove(tmp)
        except OSError:
            pass  # never created, or already moved into place
        if isinstance(exc, OSError):
            raise _cannot_save(path, exc) from exc
        raise
    _sync_folder(folder)


def _dense(t: torch.Tensor) -> torch.Tensor:
    """A CPU copy with standard strides: ``contiguous()`` keeps any stride on a size-1 axis (an
    indexed tensor's, say), which a byte view of the data refuses."""
    out = torch.empty(t.shape, dtype=t.dtype)
    return out.copy_(t.detach())


def _sync_folder(folder: str) -> None:
    """Make the rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _not_readable(path: str, why: str) -> ValueError:
    return ValueError(f"{path!r} is not a readable esnkit model file (damaged or another format): {why}")


def _header(path: str, f, size: int) -> tuple[bytes, dict[str, str]]:
    """The raw safetensors header (length prefix and JSON) of the open file ``f`` and its metadata."""
    prefix = f.read(8)
    n = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
    if not 0 < n <= min(size - 8, MAX_HEADER):
        raise _not_readable(path, "no safetensors header")
    raw = f.read(n)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _not_readable(path, f"the safetensors header is not JSON ({exc})") from None
    meta = header.get("__metadata__", {}) if isinstance(header, dict) else None
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise _not_readable(path, "the safetensors header is malformed")
    return prefix + raw, meta


def _tensors(path: str, data: bytes) -> dict[str, torch.Tensor]:
    """The tensors of the safetensors bytes ``data``, each in its own writable memory."""
    try:
        flat = deserialize(data)
    except Exception as exc:  # noqa: BLE001 (safetensors' parser: any failure means a malformed file)
        raise _not_readable(path, str(exc)) from None
    out = {}
    for name, info in flat:
        dtype = DTYPES.get(info["dtype"])
        if dtype is None:
            raise _not_readable(path, f"tensor {name!r} has dtype {info['dtype']}, which esnkit does not write")
        try:
            t = torch.frombuffer(bytearray(info["data"]), dtype=dtype) if info["data"] else torch.empty(0, dtype=dtype)
            t = t.reshape(info["shape"])
        except (ValueError, RuntimeError) as exc:
            raise _not_readable(path, f"tensor {name!r}: {exc}") from None
        if sys.byteorder == "big":  # safetensors stores little-endian
            t = torch.from_numpy(t.numpy().byteswap())
        out[name] = t
    return out


def read(
    path: str | os.PathLike, *, newest: int, checksum_since: int = 0
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors (on the CPU) and the config of a file :func:`write` wrote.

    ``newest`` is the newest format version the caller reads; files of versions ``checksum_since``
    and later must carry a checksum (older versions were written without one, and still read).
    A missing file raises ``FileNotFoundError`` and a directory ``IsADirectoryError``; an empty,
    damaged (checksum mismatch), foreign or newer file ``ValueError``, each naming the file.
    """
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"no model file at {path!r}") from None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, f"{path!r} is a directory, not an esnkit model file")
    if not stat.S_ISREG(mode):  # a pipe or a device: reading it could block or never end
        raise ValueError(f"{path!r} is not a regular file, so not an esnkit model file")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise ValueError(f"{path!r} is empty, not an esnkit model file")
        head, meta = _header(path, f, size)
        if FORMAT not in meta:
            raise ValueError(f"{path!r} is a safetensors file but not an esnkit model (no '{FORMAT}' metadata)")
        data = head + f.read()
    tensors = _tensors(path, data)
    text = meta[FORMAT]
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as exc:
        config = exc
    version = config.get("format_version") if isinstance(config, dict) else None
    if isinstance(version, bool) or not isinstance(version, int):
        version = None
    stored = meta.get(CHECKSUM)
    if stored is not None:
        if stored != checksum(text, tensors):
            if version is not None and version > newest:
                raise _newer(path, version, newest, " (or it is damaged: its checksum does not match)")
            raise ValueError(f"{path!r} is damaged: checksum mismatch (its contents changed after it was written)")
    if not isinstance(config, dict):
        raise ValueError(f"{path!r} has a damaged esnkit config: {config}")
    if config.get("format") != FORMAT or version is None or version < 1:
        raise ValueError(f"{path!r} has an unrecognised esnkit config (no format and format_version)")
    if version > newest:
        raise _newer(path, version, newest)
    if stored is None and version >= checksum_since:
        raise ValueError(f"{path!r} is damaged: format version {version} files carry a checksum, this one has none")
    return tensors, config


def _newer(path: str, version: int, newest: int, note: str = "") -> ValueError:
    return ValueError(f"{path!r} was written by a newer esnkit (format version {version}; this one reads up to "
                      f"{newest}): upgrade esnkit{note}")
