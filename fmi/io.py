"""Files and text in and out: input checks that never hang, outputs that appear whole or not at
all, file digests, and the one parser of integers from text.

Every output is written to a temporary name beside its final one and renamed, so a file is
either complete or absent; it gets the permissions the user's umask gives (as ``cp`` would),
not ``mkstemp``'s private 0600. Every input file is checked to be a readable regular file
before it is opened, so a FIFO or a device gives a clear error instead of a read that never
returns.
"""
import contextlib
import datetime
import hashlib
import json
import math
import os
import re
import reprlib
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from fmi.errors import FmiError

PathLike = Union[str, os.PathLike[str]]

NAME_MAX = 255  # bytes in one path component on Linux, macOS and Windows file systems
PATH_MAX = 4096

_QUOTE = reprlib.Repr()
_QUOTE.maxstring = _QUOTE.maxother = 60
_QUOTE.maxlist = _QUOTE.maxtuple = _QUOTE.maxdict = _QUOTE.maxset = 4
_QUOTE.maxlevel = 2


INT_PATTERN = re.compile(r"[-+]?[0-9]+")


def parse_int(text: object) -> Optional[int]:
    """The integer spelled by ``text`` in ASCII digits (optional sign), else None: no ``0x``,
    ``1_000``, ``1e3`` or non-ASCII digits, wherever a number is read from text."""
    text = str(text).strip()
    if not INT_PATTERN.fullmatch(text):
        return None
    return int(text, 10)


def quote(value: object) -> str:
    """``repr(value)`` cut to a readable length, in bounded time whatever its size or nesting."""
    return _QUOTE.repr(value)


def file_mode() -> int:
    """The mode a new file gets from the user's umask (0644 under umask 022), as ``cp`` gives it."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


FILE_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
              (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def flatten(data: object, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one, their keys dotted: {"sgd": {"max_steps": 5}} -> {"sgd.max_steps": 5}."""
    if isinstance(data, dict):
        return {key: value for name, item in data.items() for key, value in flatten(item, f"{prefix}{name}.").items()}
    return {prefix[:-1]: data}


def changed(ours: dict[str, Any], theirs: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """[(dotted key, our value, theirs)] of every key of two nested mappings whose values differ, in
    the order of ours, then of keys only theirs has (a missing key's value is None)."""
    mine, other = flatten(ours), flatten(theirs)
    return [(key, mine.get(key), other.get(key)) for key in dict.fromkeys([*mine, *other])
            if mine.get(key) != other.get(key)]


def size_words(size: int) -> str:
    """A byte count as people say it: '64 KiB', '512 MiB'."""
    return f"{size // 2**20} MiB" if size >= 2**20 else f"{size // 2**10} KiB"


def read_file(path: Path, limit: int) -> tuple[Optional[bytes], Optional[str]]:
    """(the bytes of the regular file at ``path``, None), or (None, why not): missing, not a regular
    file (a FIFO would block the read), unreadable (with the system's reason) or larger than ``limit``."""
    too_large = f"is larger than the {size_words(limit)} fmi reads"
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            return None, "is not a regular file"
        if status.st_size > limit:
            return None, too_large
        with open(path, "rb") as stream:
            data = stream.read(limit + 1)
    except FileNotFoundError:
        return None, "no such file"
    except OSError as error:
        return None, f"cannot be read ({error.strerror or error})"
    return (None, too_large) if len(data) > limit else (data, None)


def read_bytes(path: Path, limit: int) -> Optional[bytes]:
    """The bytes of the regular file at ``path`` (at most ``limit``), or None if they cannot be had."""
    return read_file(path, limit)[0]


def check_input_file(path: PathLike, what: str, allow_empty: bool = False) -> Path:
    """Raise FmiError unless ``path`` is a readable, non-empty regular file; return it as a Path.

    ``what`` names the file in messages, e.g. "image" or "config".
    """
    path = Path(path)
    try:
        status = path.stat()
    except FileNotFoundError:
        raise FmiError(f"{what} {path}: no such file") from None
    except OSError as error:
        raise FmiError(f"{what} {path}: cannot be read ({error.strerror or error})") from None
    if stat.S_ISDIR(status.st_mode):
        raise FmiError(f"{what} {path}: is a directory, expected a file")
    for test, kind in FILE_KINDS:
        if test(status.st_mode):
            raise FmiError(f"{what} {path}: is {kind}, not a regular file")
    if not os.access(path, os.R_OK):
        raise FmiError(f"{what} {path}: no permission to read it")
    if status.st_size == 0 and not allow_empty:
        raise FmiError(f"{what} {path}: file is empty")
    return path


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".fmi-", suffix=f".part{path.suffix}", dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, file_mode())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def sha1_of_file(path: PathLike, prefix: bytes = b"") -> str:
    """The SHA-1 of ``prefix`` and a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha1(prefix)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_blob_id(path: PathLike) -> str:
    """The git blob id of a file, as ``git hash-object`` prints it: the SHA-1 of ``blob <size>\\0``
    followed by the file's bytes."""
    return sha1_of_file(path, b"blob %d\0" % Path(path).stat().st_size)


def digest_of_bytes(data: bytes) -> str:
    """The SHA-1 of ``data``, as fingerprints and records spell it."""
    return hashlib.sha1(data).hexdigest()


def timestamp() -> str:
    """Now, as records and logs write it: local time with its offset, to the second."""
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def write_bytes(path: PathLike, data: bytes) -> None:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def printable(text: object) -> str:
    """``text`` (a string or a path) as printable UTF-8: the bytes of a file name that are not UTF-8
    (which Python reads as the surrogates U+DC80..U+DCFF) are written as \\xNN and any other lone
    surrogate as \\uXXXX, so logs, records and pages can show any name."""
    return SURROGATE.sub(_escaped, str(text))


SURROGATE = re.compile("[\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def printable_data(value: Any) -> Any:
    """``value`` (nested dicts and lists) with every string made ``printable``."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_data(key): printable_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable_data(item) for item in value]
    return value


def is_file_name_text(text: object) -> bool:
    """Whether ``text`` can name a file: UTF-8, where a name read from the file system may carry
    bytes that are not (Python's surrogate escapes); a lone surrogate typed into YAML cannot."""
    try:
        str(text).encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def write_text(path: PathLike, text: str) -> None:
    """Write ``text`` as UTF-8, whole or not at all; names in other encodings are shown ``printable``."""
    write_bytes(path, printable(text).encode("utf-8"))


def finite_json(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, so the JSON written is valid."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(item) for item in value]
    return value


def write_json(path: PathLike, value: Any) -> None:
    write_text(path, json.dumps(finite_json(value), indent=2, allow_nan=False) + "\n")


def write_yaml(path: PathLike, value: Any) -> None:
    write_text(path, yaml.safe_dump(finite_json(value), sort_keys=False))


def check_output_names(paths: Iterable[str], root: PathLike) -> None:
    """Raise FmiError if any path under ``root`` has a component or a total length the file
    system refuses, before anything is computed."""
    for path in paths:
        full = Path(root) / path
        too_long = [part for part in full.parts if len(os.fsencode(part)) > NAME_MAX]
        if too_long:
            raise FmiError(f"output name {quote(too_long[0])} is {len(os.fsencode(too_long[0]))} bytes, "
                           f"more than the {NAME_MAX} a file name may have; use shorter image names")
        if len(os.fsencode(str(full.absolute()))) >= PATH_MAX:
            raise FmiError(f"output path {quote(str(full))} is longer than the {PATH_MAX} bytes a path may "
                           f"have; choose a shorter --output")


def ensure_writable_dir(path: PathLike) -> Path:
    """Create ``path`` if needed and prove a file can be written there."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".fmi-write-test-"):
            pass
    except OSError as error:
        raise FmiError(
            f"output folder {path} is not writable ({error.strerror or error}); "
            "choose another with --output"
        ) from None
    return path


def check_writable_location(path: PathLike) -> None:
    """Raise FmiError unless ``path`` could be created (or is a writable folder), creating nothing."""
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise FmiError(f"output folder {path} is not writable ({probe} is a file, not a folder); "
                       f"choose another with --output")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise FmiError(f"output folder {path} is not writable ({probe}: permission denied); "
                       f"choose another with --output")
