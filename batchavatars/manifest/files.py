"""Local files: reading the manifest and its CSV roster safely, resolving `file`/reference-image
values to FileRefs, and checking local media files (present, readable, and a photo a real image)."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..spec import FileRef
from .media import MIN_PHOTO_SIDE, PHOTO_EXTS, VIDEO_EXTS, Content, read_content
from .problems import Located

__all__ = ["PHOTO_EXTS", "VIDEO_EXTS", "FileChecker", "FileIssue", "file_ref", "read_source", "resolve_path"]

MAX_SOURCE_BYTES = 64 * 1024 * 1024

_OTHER_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_BAD_URL_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")
# The common case, settled without urlsplit: scheme, a plain host name, no port, then a path.
_PLAIN_URL = re.compile(
    r"[hH][tT][tT][pP][sS]?://[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?"
    r"(?:[/?#][^\s\x00-\x1f\x7f]*)?"
)


def read_source(path: str, what: str) -> bytes:
    """The bytes of a manifest/roster at `path` (absolute), BOM removed, checked to be UTF-8.

    Refuses missing files, directories, non-regular files (a FIFO would block), unreadable files,
    files over 64 MiB (before reading them) and empty ones."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise Located(
            f"{what} not found",
            "check the path (a roster's path is relative to the manifest's folder)"
            if what.startswith("roster")
            else "check the path (it is relative to the current folder)",
        ) from None
    except NotADirectoryError:
        raise Located(f"{what} not found (a part of its path is a file, not a folder)", "check the path") from None
    except PermissionError:
        raise Located(f"{what} cannot be reached (permission denied)", "check the permissions of its folders") from None
    except (OSError, ValueError) as exc:
        raise Located(f"{what} cannot be opened ({_reason(exc)})", "check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise Located(f"{what} is a directory, not a file", "pass the path of the YAML/CSV file itself")
    if not stat.S_ISREG(st.st_mode):
        raise Located(f"{what} is not a regular file (a device, pipe or socket)", "pass a regular file")
    if st.st_size > MAX_SOURCE_BYTES:
        raise Located(
            f"{what} is {st.st_size / 1048576:.1f} MiB; the limit is 64 MiB", "split it into several manifests"
        )
    if not os.access(path, os.R_OK):
        raise Located(f"{what} is not readable (permission denied)", f"chmod u+r {path}")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SOURCE_BYTES + 1)
    except IsADirectoryError:  # pragma: no cover - raced
        raise Located(f"{what} is a directory, not a file", "pass the path of the file itself") from None
    except OSError as exc:
        raise Located(f"{what} cannot be read ({_reason(exc)})", "check the file and its permissions") from None
    if len(data) > MAX_SOURCE_BYTES:
        raise Located(f"{what} is over 64 MiB", "split it into several manifests")
    return check_utf8(data, what)


_WORKBOOKS = (
    (b"PK\x03\x04", "a spreadsheet workbook (.xlsx, .ods: a zip file)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls)"),
)


def check_utf8(data: bytes, what: str) -> bytes:
    roster = what.startswith("roster")
    at = None if roster else 0  # a roster's problem is placed at its `avatars_from` line; a manifest's at 1:1
    for magic, kind in _WORKBOOKS:
        if data.startswith(magic):
            raise Located(
                f"{what} is {kind}, not {'CSV' if roster else 'YAML'} text",
                "save it as CSV: in Excel, File > Save As > CSV UTF-8 (Comma delimited) (*.csv), "
                "then point `avatars_from` at the .csv"
                if roster
                else "a manifest is YAML text: start from `batchavatars init`",
                at,
                at,
            )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Located(f"{what} is UTF-16 encoded", "save it as UTF-8", 0, 0)
    if not data.strip():
        raise Located(
            f"{what} is empty",
            "start from `batchavatars init`"
            if what.startswith("manifest")
            else "write a header row and at least one row",
            0,
            0,
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n")
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace"))
        raise Located(
            f"{what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            "save it as UTF-8",
            line,
            col,
        ) from None
    return data


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def is_url(value: str) -> bool:
    head = value[:8].lower()
    return head.startswith("http://") or head.startswith("https://")


def url_problem(value: str) -> str | None:
    """Why `value` is not a usable http(s) URL, or None. Syntax only: nothing is fetched."""
    if _PLAIN_URL.fullmatch(value):
        return None
    if _BAD_URL_CHARS.search(value):
        return "contains spaces or control characters (percent-encode them, e.g. %20)"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return "is not an http(s) URL"
    if not host:
        return "has no host name"
    return None


def resolve_path(value: str, base_dir: str) -> str:
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(value)))


@dataclass(frozen=True, slots=True)
class FileIssue:
    message: str
    fix: str


class FileChecker:
    """Checks local media files: each distinct path is stat-ed once and read once (its image header
    and its SHA-256, which the ItemSpec's hash takes)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[FileIssue | None, Content | None]] = {}

    def check(self, path: str, exts: tuple[str, ...], what: str) -> tuple[FileIssue | None, str | None]:
        """What is wrong with the file at `path` as a `what`, if anything, and its SHA-256."""
        ext = os.path.splitext(path)[1].lower()
        if ext not in exts:
            return _ext_issue(path, ext, exts, what), None
        if path not in self._seen:
            issue = _stat_issue(path)
            self._seen[path] = (issue, None) if issue else _read(path)
        issue, content = self._seen[path]
        if content is None:
            return issue, None
        if exts == PHOTO_EXTS:
            issue = _image_issue(path, content, what)
        return issue, content.sha256


def _read(path: str) -> tuple[FileIssue | None, Content | None]:
    try:
        return None, read_content(path)
    except OSError as exc:
        return FileIssue(f"{path}: cannot be read ({_reason(exc)})", "check the file and its permissions"), None


def _image_issue(path: str, content: Content, what: str) -> FileIssue | None:
    """A photo must be a PNG or JPEG by content, and (for a photo avatar) at least 512x512."""
    if content.size is None:
        kind = content.kind
        if kind in ("a PNG image", "a JPEG image"):
            return FileIssue(f"{path}: is {kind} with a broken header", "export it again as PNG or JPEG")
        return FileIssue(
            f"{path}: is not a PNG or JPEG image, whatever its name says (its content is {kind})",
            "convert it to PNG or JPEG",
        )
    width, height = content.size
    if what == "photo" and min(width, height) < MIN_PHOTO_SIDE:
        return FileIssue(
            f"{path}: is {width}x{height} pixels; HeyGen needs a photo of at least {MIN_PHOTO_SIDE}x{MIN_PHOTO_SIDE}",
            f"use a larger original photo (at least {MIN_PHOTO_SIDE} pixels on each side)",
        )
    return None


def _ext_issue(path: str, ext: str, exts: tuple[str, ...], what: str) -> FileIssue:
    allowed = ", ".join(exts)
    shown = ext or "no extension"
    if exts == VIDEO_EXTS and ext in (".mov", ".m4v", ".avi", ".mkv", ".qt"):
        return FileIssue(
            f"{path}: {shown} footage is not accepted by HeyGen's asset upload (mp4 and webm only)",
            f"convert it, e.g. `ffmpeg -i {os.path.basename(path)} "
            f"{os.path.splitext(os.path.basename(path))[0]}.mp4`, and point `file` at the .mp4",
        )
    if exts == PHOTO_EXTS and ext in (".heic", ".webp", ".gif", ".bmp", ".tif", ".tiff"):
        return FileIssue(
            f"{path}: {shown} images are not accepted ({what} must be {allowed})", "convert it to JPEG or PNG"
        )
    return FileIssue(f"{path}: {shown} is not a supported {what} type ({allowed})", f"use a {allowed} file")


def _stat_issue(path: str) -> FileIssue | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return FileIssue(
            f"{path}: no such file",
            "check the path; relative paths start at the folder of the manifest (or of the CSV roster for its rows)",
        )
    except NotADirectoryError:
        return FileIssue(f"{path}: no such file (a part of the path is a file)", "check the path")
    except (OSError, ValueError) as exc:
        return FileIssue(f"{path}: cannot be checked ({_reason(exc)})", "check the path and its permissions")
    if stat.S_ISDIR(st.st_mode):
        return FileIssue(f"{path}: is a directory", "point at the media file itself")
    if not stat.S_ISREG(st.st_mode):
        return FileIssue(f"{path}: is not a regular file", "point at a regular media file")
    if st.st_size == 0:
        return FileIssue(f"{path}: is empty (0 bytes)", "replace it with the real media file")
    if not os.access(path, os.R_OK):
        return FileIssue(f"{path}: is not readable (permission denied)", f"chmod u+r {path}")
    return None


def file_ref(value: str, base_dir: str) -> tuple[FileRef, str | None]:
    """A string `file`/reference image: URL when http(s)://, else a path relative to base_dir.
    Returns the FileRef and a syntax problem (for URLs and other schemes) or None."""
    if is_url(value):
        return FileRef("url", value), url_problem(value)
    if _OTHER_SCHEME.match(value):
        return FileRef("url", value), "uses a scheme other than http(s)"
    return FileRef("path", resolve_path(value, base_dir), written=value), None
