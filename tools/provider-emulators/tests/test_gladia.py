"""The Gladia emulator over real HTTP: upload, job, poll, result, delete, and its errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp


def _form(path: Path, field: str = "audio") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field(field, path.read_bytes(), filename=path.name, content_type="audio/wav")
    return form


async def test_upload_transcribe_and_delete(gladia, speech_wav, poll, spoken):
    headers = {"x-gladia-key": gladia.key}
    logged_before = len(gladia.emulator.requests)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{gladia.base_url}/v2/upload", data=_form(speech_wav), headers=headers
        ) as response:
            assert response.status == 200, await response.text()
            upload = await response.json()
        meta = upload["audio_metadata"]
        assert upload["audio_url"] == f"{gladia.base_url}/file/{meta['id']}"
        assert meta["filename"] == "speech.wav" and meta["extension"] == "wav"
        assert meta["size"] == speech_wav.stat().st_size
        assert meta["number_of_channels"] == 1 and 1.5 < meta["audio_duration"] < 6

        options = {
            "audio_url": upload["audio_url"],
            "diarization": True,
            "detect_language": False,
            "language": "en",
            "custom_metadata": {"bot": "b-1"},
        }
        async with session.post(
            f"{gladia.base_url}/v2/pre-recorded", json=options, headers=headers
        ) as response:
            assert response.status == 201, await response.text()
            created = await response.json()
        job_id = created["id"]
        assert created["result_url"] == f"{gladia.base_url}/v2/pre-recorded/{job_id}"

        job, seen = await poll(
            session, created["result_url"], headers, field="status", until={"done", "error"}
        )
        assert seen[-1] == "done" and set(seen) <= {"queued", "processing", "done"}
        assert job["id"] == job_id and job["request_id"] == f"G-{job_id[:8]}"
        assert job["version"] == 2 and job["kind"] == "pre-recorded"
        assert job["error_code"] is None and job["completed_at"] and job["created_at"]
        assert job["custom_metadata"] == {"bot": "b-1"}
        assert job["request_params"]["diarization"] is True
        assert job["request_params"]["audio_url"] == upload["audio_url"]
        assert job["file"]["id"] == meta["id"]

        result = job["result"]
        assert result["metadata"]["audio_duration"] == meta["audio_duration"]
        assert result["metadata"]["number_of_distinct_channels"] == 1
        assert result["metadata"]["transcription_time"] > 0
        transcription = result["transcription"]
        assert transcription["languages"] == ["en"]
        spoken(transcription["full_transcript"])
        utterances = transcription["utterances"]
        assert utterances
        words = [w for u in utterances for w in u["words"]]
        spoken(" ".join(w["word"] for w in words))
        for utterance in utterances:
            assert utterance["language"] == "en"
            assert utterance["channel"] == 0 and utterance["speaker"] == 0
            assert 0 <= utterance["start"] <= utterance["end"] <= meta["audio_duration"] + 0.5
            assert 0 < utterance["confidence"] <= 1
        for word in words:
            assert word["word"].startswith(" ") and word["word"].strip()
            assert word["start"] <= word["end"] and 0 <= word["confidence"] <= 1
        assert [w["start"] for w in words] == sorted(w["start"] for w in words)

        async with session.get(
            f"{gladia.base_url}/v2/pre-recorded/{job_id}/file", headers=headers
        ) as response:
            assert response.status == 200
            assert await response.read() == speech_wav.read_bytes()

        async with session.delete(created["result_url"], headers=headers) as response:
            assert response.status == 202
        async with session.get(created["result_url"], headers=headers) as response:
            assert response.status == 404
            body = await response.json()
            assert body["statusCode"] == 404
        async with session.get(upload["audio_url"], headers=headers) as response:
            assert response.status == 404  # the uploaded file went with the job

    assert gladia.emulator.deleted_jobs[-1] == job_id
    deletes = gladia.emulator.requests.matching("DELETE", f"/v2/pre-recorded/{job_id}")
    assert [(r.status, r.api_key) for r in deletes] == [(202, gladia.key)]
    assert {r.api_key for r in gladia.emulator.requests.all()[logged_before:]} == {gladia.key}


async def test_plain_http_audio_url_and_queue(gladia, file_server, poll, spoken):
    gladia.emulator.queue_delay = 0.5
    headers = {"x-gladia-key": gladia.key}
    url = f"{file_server}/speech.wav"
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{gladia.base_url}/v2/pre-recorded",
            json={"audio_url": url, "language_config": {"languages": ["en"]}},
            headers=headers,
        ) as response:
            assert response.status == 201, await response.text()
            created = await response.json()
        job, seen = await poll(
            session, created["result_url"], headers, field="status", until={"done", "error"}
        )
    assert seen == ["queued", "processing", "done"]
    assert job["file"]["source"] == url and job["file"]["filename"] == "speech.wav"
    assert job["request_params"]["language_config"] == {"languages": ["en"]}
    spoken(job["result"]["transcription"]["full_transcript"])


async def test_forced_failure_and_delay(gladia, speech_wav, poll):
    gladia.emulator.fail_next = 1
    gladia.emulator.delay = 0.3
    headers = {"x-gladia-key": gladia.key}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{gladia.base_url}/v2/upload", data=_form(speech_wav), headers=headers
        ) as response:
            audio_url = (await response.json())["audio_url"]
        async with session.post(
            f"{gladia.base_url}/v2/pre-recorded", json={"audio_url": audio_url}, headers=headers
        ) as response:
            created = await response.json()
        job, seen = await poll(
            session, created["result_url"], headers, field="status", until={"done", "error"}
        )
    assert "processing" in seen and seen[-1] == "error"
    assert job["error_code"] == 500 and job["result"] is None and job["completed_at"]
    assert gladia.emulator.fail_next == 0


async def test_missing_and_unknown_key_are_401(gladia):
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"x-gladia-key": "not-a-key"}):
            async with session.get(
                f"{gladia.base_url}/v2/pre-recorded/{uuid.uuid4()}", headers=headers
            ) as response:
                assert response.status == 401
                body = await response.json()
            assert body["statusCode"] == 401 and body["path"].startswith("/v2/pre-recorded/")
            assert {"timestamp", "request_id", "message"} <= set(body)
    seen = gladia.emulator.requests.matching(prefix="/v2/pre-recorded/")[-2:]
    assert [(r.api_key, r.status) for r in seen] == [(None, 401), ("not-a-key", 401)]


async def test_bad_requests_are_400(gladia, files_dir):
    headers = {"x-gladia-key": gladia.key}
    base = gladia.base_url
    async with aiohttp.ClientSession() as session:
        # No file in the form, then a file that is not audio.
        form = aiohttp.FormData()
        form.add_field("something_else", "x")
        async with session.post(f"{base}/v2/upload", data=form, headers=headers) as response:
            assert response.status == 400
        async with session.post(
            f"{base}/v2/upload", data=_form(files_dir / "noise.bin"), headers=headers
        ) as response:
            assert response.status == 400
            assert (await response.json())["statusCode"] == 400

        bad_bodies = [
            {},
            {"audio_url": 42},
            {"audio_url": f"{base}/file/{uuid.uuid4()}"},  # not one of its uploads
            {"audio_url": "http://audio.example.com/a.wav"},  # off this machine: never fetched
            {"audio_url": "ftp://127.0.0.1/a.wav"},
            {"audio_url": f"{base}/file/{uuid.uuid4()}", "diarization": "yes"},
        ]
        for body in bad_bodies:
            async with session.post(
                f"{base}/v2/pre-recorded", json=body, headers=headers
            ) as response:
                assert response.status == 400, body
                error = await response.json()
            assert error["statusCode"] == 400 and error["validation_errors"], body

        job_id = uuid.uuid4()
        async with session.delete(f"{base}/v2/pre-recorded/{job_id}", headers=headers) as r:
            assert r.status == 404
        async with session.get(f"{base}/v2/pre-recorded/{job_id}", headers=headers) as r:
            assert r.status == 404
