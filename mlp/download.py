"""Download the data set files from public mirrors: verified, bounded, written atomically.

Each file is checked against its published MD5 before it enters the cache (pooch writes it to a
temporary file and moves it into place only then). A mirror that hangs, drips bytes or sends
too many is given up after a short time, and the next one is tried.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import urlsplit

import pooch
import requests  # pooch depends on it
import urllib3

from .data import ENV_CACHE, ENV_DATA, ENV_MIRRORS, FILES, TITLES, ChecksumError, DatasetError, DownloadError

MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
}
# MD5 of the published .gz files: checks a download before it enters the cache.
MD5 = {
    "mnist": dict(zip(FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                              "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
    "fashion-mnist": dict(zip(FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                      "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
}
# Size in bytes of the published .gz files: the progress bar's weights, and each download's byte cap.
GZ_SIZES = {
    "mnist": dict(zip(FILES, (9_912_422, 28_881, 1_648_877, 4_542))),
    "fashion-mnist": dict(zip(FILES, (26_421_880, 29_515, 4_422_102, 5_148))),
}
MAX_GROWTH = 4  # a download past 4x the published size is abandoned (other mirrors recompress)


@dataclass(frozen=True)
class Timeouts:
    """How long a download may wait, in seconds."""

    connect: float = 5.0     # to open the connection to a mirror
    read: float = 15.0       # for the mirror's next bytes (its first answer, or more of the file)
    per_file: float = 180.0  # for one whole file, however slowly the bytes come


TIMEOUTS = Timeouts()  # the default of `download(timeouts=...)`; a server may replace it


class _Abandoned(OSError):
    """A download given up on; the message says why."""


class _Progress:
    """Report ``progress(fraction, message)`` over all files, rising, at most once per 1 %."""

    def __init__(self, callback: Callable[[float, str], None] | None):
        self.callback, self.last, self.message = callback, -1.0, ""

    def __call__(self, fraction: float, force: bool = False) -> None:
        fraction = min(max(fraction, self.last), 1.0)
        if self.callback is not None and (force or fraction >= self.last + 0.01):
            self.last = fraction
            self.callback(fraction, self.message)


def _downloader(timeouts: Timeouts, size: int, report: Callable[[float], None]) -> Callable:
    """Return a pooch downloader that streams one file of about `size` bytes within the limits."""
    max_bytes = MAX_GROWTH * size

    def download(url: str, output_file: str, pooch_obj=None, check_only: bool = False) -> None:
        deadline = time.monotonic() + timeouts.per_file
        try:
            with requests.get(url, stream=True, timeout=(timeouts.connect, timeouts.read)) as r:
                r.raise_for_status()
                total = int(r.headers.get("Content-Length") or 0)
                if total > max_bytes:
                    raise _Abandoned(f"announced {total:,} bytes, more than the {max_bytes:,} allowed")
                count = 0
                with open(output_file, "wb") as out:
                    # read1 returns what has arrived, so a slow drip still meets the checks below
                    while chunk := r.raw.read1(65536, decode_content=True):
                        count += len(chunk)
                        if count > max_bytes:
                            raise _Abandoned(f"sent more than the {max_bytes:,} bytes allowed")
                        if time.monotonic() > deadline:
                            raise _Abandoned(f"timed out (the file took longer than {timeouts.per_file:g} s)")
                        out.write(chunk)
                        report(count / (total or size))
        except requests.ConnectTimeout as exc:
            raise _Abandoned(f"timed out (no connection within {timeouts.connect:g} s)") from exc
        except (requests.ReadTimeout, urllib3.exceptions.ReadTimeoutError) as exc:
            raise _Abandoned(f"timed out (no data for {timeouts.read:g} s)") from exc
        except urllib3.exceptions.ProtocolError as exc:
            raise _Abandoned("connection closed before the file was complete") from exc
        except urllib3.exceptions.HTTPError as exc:  # e.g. a body that fails to decode
            raise _Abandoned(str(exc)[:120]) from exc

    return download


def download(name: str, folder: Path, missing: list[str], mirrors: Sequence[str] | None = None,
             progress: Callable[[float, str], None] | None = None, timeouts: Timeouts | None = None) -> str:
    """Download the ``missing`` files of data set ``name`` into ``folder``; return the mirror used.

    ``mirrors`` default to ``MNIST_PLAYGROUND_MIRRORS`` (space-separated), else `MIRRORS`;
    ``timeouts`` to `TIMEOUTS`. Raises DownloadError or ChecksumError, saying what to do.
    """
    title, timeouts = TITLES[name], timeouts or TIMEOUTS
    if mirrors is None:
        mirrors = os.environ.get(ENV_MIRRORS, "").split() or MIRRORS[name]
    mirrors = list(mirrors)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"Cannot write to the cache folder {folder} ({exc.strerror or exc}). Set "
                           f"{ENV_CACHE} to a writable folder, or point {ENV_DATA} (or --data-dir) "
                           f"at a folder holding the four {title} files.") from exc
    sizes = [GZ_SIZES[name][f] for f in missing]
    bar = _Progress(progress)
    offset, used = 0.0, ""
    for i, fname in enumerate(missing):
        span, errors = sizes[i] / sum(sizes), []
        for base in mirrors:
            url = f"{base.rstrip('/')}/{fname}.gz"
            host = urlsplit(url).netloc or base
            bar.message = f"Downloading {title} {fname}.gz ({i + 1}/{len(missing)}) from {host}"
            bar(offset, force=True)
            downloader = _downloader(timeouts, sizes[i], lambda done: bar(offset + span * min(done, 1.0)))
            try:
                pooch.retrieve(url, known_hash=f"md5:{MD5[name][fname]}", fname=f"{fname}.gz",
                               path=folder, downloader=downloader)
            except (ValueError, OSError) as exc:  # a hash mismatch, a requests error, or _Abandoned
                errors.append((host, exc))
                continue
            used, mirrors = base, [base] + [m for m in mirrors if m != base]
            break
        else:
            raise _download_error(title, fname, folder, errors)
        offset += span
    return used


def _download_error(title: str, fname: str, folder: Path, errors: list) -> DatasetError:
    reasons = "; ".join(f"{host}: {_reason(exc)}" for host, exc in errors) or "no mirror configured"
    advice = (f"Put the four files in {folder} or point {ENV_DATA} (or --data-dir) "
              f"at a folder holding them.")
    if any(isinstance(exc, ValueError) for _, exc in errors):
        return ChecksumError(f"The download of {title} ({fname}.gz) did not match its published MD5 "
                             f"checksum and was discarded ({reasons}). {advice}")
    return DownloadError(f"Could not download {title} ({fname}.gz) from any mirror: {reasons}. {advice}")


def _reason(exc: Exception) -> str:
    if isinstance(exc, _Abandoned):
        return str(exc)
    if isinstance(exc, ValueError):
        return "checksum mismatch"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    return match.group(1).strip() if match else (str(exc)[:120] or type(exc).__name__)
