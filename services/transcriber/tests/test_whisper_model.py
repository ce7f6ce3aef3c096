"""Assembly and verification of the packaged Whisper base model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from transcriber.whisper_model import (
    AUX_FILES_SHA256,
    MODEL_BIN_SHA256,
    MODEL_DIR_NAME,
    ModelSourceFiles,
    WhisperModelIntegrityError,
    ensure_whisper_model,
    locate_packaged_model_files,
    verify_model_dir,
)

EXPECTED_FILES = {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"}


def flip_byte(path: Path, offset: int) -> None:
    with path.open("r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0x01]))


def copy_source(item, dest_dir: Path) -> Path:
    """Copy one packaged file (a Traversable) into ``dest_dir``; returns the copy."""
    dest = dest_dir / item.name
    with item.open("rb") as src, dest.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return dest


def listing(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def test_packaged_files_are_found_through_importlib():
    files = locate_packaged_model_files()
    assert [p.name for p in files.model_bin_parts] == ["model.bin.part1", "model.bin.part2"]
    assert set(files.aux_files) == set(AUX_FILES_SHA256)
    assert all(p.is_file() for p in files.model_bin_parts)


def test_assembled_directory_loads_in_faster_whisper(tmp_path):
    model_dir = ensure_whisper_model(tmp_path / "cache")
    assert model_dir == tmp_path / "cache" / MODEL_DIR_NAME
    assert listing(model_dir) == EXPECTED_FILES
    assert listing(tmp_path / "cache") == {MODEL_DIR_NAME}  # no temporaries left behind
    verify_model_dir(model_dir)

    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=1)
    assert model.model.is_multilingual
    assert model.hf_tokenizer.token_to_id("<|en|>") == 50259
    assert model.model.n_mels == 80

    # Reused as it is when already assembled and intact ...
    inode = (model_dir / "model.bin").stat().st_ino
    assert ensure_whisper_model(tmp_path / "cache") == model_dir
    assert (model_dir / "model.bin").stat().st_ino == inode

    # ... and rebuilt when the cached copy was damaged.
    flip_byte(model_dir / "model.bin", 1234)
    with pytest.raises(WhisperModelIntegrityError):
        verify_model_dir(model_dir)
    assert ensure_whisper_model(tmp_path / "cache") == model_dir
    verify_model_dir(model_dir)
    assert listing(tmp_path / "cache") == {MODEL_DIR_NAME}

    (model_dir / "tokenizer.json").unlink()
    assert ensure_whisper_model(tmp_path / "cache") == model_dir
    assert listing(model_dir) == EXPECTED_FILES


def test_corrupted_part_is_refused(tmp_path):
    packaged = locate_packaged_model_files()
    copies = tmp_path / "copies"
    copies.mkdir()
    bad_part2 = copy_source(packaged.model_bin_parts[1], copies)
    flip_byte(bad_part2, 10_000_000)
    files = ModelSourceFiles(
        model_bin_parts=(packaged.model_bin_parts[0], bad_part2),
        aux_files=packaged.aux_files,
    )
    cache = tmp_path / "cache"
    with pytest.raises(WhisperModelIntegrityError) as err:
        ensure_whisper_model(cache, files=files)
    message = str(err.value)
    assert "model.bin.part2" in message
    assert "sha256" in message
    assert "corrupted or have been tampered with" in message
    # Nothing half-built is left, under the final name or otherwise.
    assert listing(cache) == set()


def test_corrupted_auxiliary_file_is_refused(tmp_path):
    packaged = locate_packaged_model_files()
    copies = tmp_path / "copies"
    copies.mkdir()
    bad_config = copy_source(packaged.aux_files["config.json"], copies)
    bad_config.write_text(bad_config.read_text().replace("50259", "50260", 1))
    files = ModelSourceFiles(
        model_bin_parts=packaged.model_bin_parts,
        aux_files={**packaged.aux_files, "config.json": bad_config},
    )
    with pytest.raises(WhisperModelIntegrityError, match="config.json"):
        ensure_whisper_model(tmp_path / "cache", files=files)
    assert listing(tmp_path / "cache") == set()


def test_parts_in_wrong_order_are_refused(tmp_path):
    packaged = locate_packaged_model_files()
    files = ModelSourceFiles(
        model_bin_parts=tuple(reversed(packaged.model_bin_parts)),
        aux_files=packaged.aux_files,
    )
    with pytest.raises(WhisperModelIntegrityError, match="model.bin.part1"):
        ensure_whisper_model(tmp_path / "cache", files=files)


def test_pinned_hash_is_a_sha256():
    assert len(MODEL_BIN_SHA256) == 64
    int(MODEL_BIN_SHA256, 16)
