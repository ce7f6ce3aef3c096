"""The Runpod emulator over real HTTP: run, poll, runsync, cancel, and its errors."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlsplit

import aiohttp

OUTPUT_KEYS = {"segments", "detected_language", "transcription", "translation", "device", "model"}
SEGMENT_KEYS = {
    "id",
    "seek",
    "start",
    "end",
    "text",
    "tokens",
    "temperature",
    "avg_logprob",
    "compression_ratio",
    "no_speech_prob",
}


async def test_run_then_poll_until_completed(runpod, file_server, poll, spoken):
    headers = {"Authorization": f"Bearer {runpod.key}"}
    job_input = {
        "audio": f"{file_server}/speech.wav",
        "model": "base",
        "word_timestamps": True,
        "language": "en",
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{runpod.base_url}/run", json={"input": job_input}, headers=headers
        ) as response:
            assert response.status == 200, await response.text()
            submitted = await response.json()
        assert submitted["status"] == "IN_QUEUE" and set(submitted) == {"id", "status"}
        job, seen = await poll(
            session,
            f"{runpod.base_url}/status/{submitted['id']}",
            headers,
            field="status",
            until={"COMPLETED", "FAILED"},
        )
    assert seen[-1] == "COMPLETED", job
    assert set(seen) <= {"IN_QUEUE", "IN_PROGRESS", "COMPLETED"}
    assert job["id"] == submitted["id"]
    assert isinstance(job["delayTime"], int) and isinstance(job["executionTime"], int)
    assert job["executionTime"] > 0

    output = job["output"]
    assert set(output) == OUTPUT_KEYS | {"word_timestamps"}
    assert output["detected_language"] == "en" and output["translation"] is None
    assert output["device"] == "cpu" and output["model"] == "base"
    spoken(output["transcription"])
    assert output["transcription"] == " ".join(s["text"].lstrip() for s in output["segments"])
    for segment in output["segments"]:
        assert set(segment) == SEGMENT_KEYS
        assert all(isinstance(t, int) for t in segment["tokens"])
    words = output["word_timestamps"]
    assert words and set(words[0]) == {"word", "start", "end"}
    spoken(" ".join(w["word"] for w in words))
    assert all(w["start"] <= w["end"] for w in words)

    runs = runpod.emulator.requests.matching("POST", urlsplit(runpod.base_url).path + "/run")
    assert runs[-1].api_key == runpod.key and runs[-1].json == {"input": job_input}


async def test_runsync_with_bare_key_and_base64_audio(runpod, speech_wav, spoken):
    headers = {"Authorization": runpod.key}  # the bare key, as Runpod also accepts
    audio = base64.b64encode(speech_wav.read_bytes()).decode()
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{runpod.base_url}/runsync",
            json={"input": {"audio_base64": audio, "language": "en", "transcription": "srt"}},
            headers=headers,
        ) as response:
            assert response.status == 200, await response.text()
            job = await response.json()
    assert job["status"] == "COMPLETED" and job["id"].startswith("sync-")
    output = job["output"]
    assert set(output) == OUTPUT_KEYS  # no word_timestamps unless asked for
    assert output["transcription"].startswith("1\n00:00:0")
    assert " --> " in output["transcription"]
    spoken(output["transcription"])


async def test_cancel_a_queued_job(runpod, file_server):
    runpod.emulator.queue_delay = 1.0
    headers = {"Authorization": f"Bearer {runpod.key}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{runpod.base_url}/run",
            json={"input": {"audio": f"{file_server}/speech.wav"}},
            headers=headers,
        ) as response:
            job_id = (await response.json())["id"]
        async with session.post(f"{runpod.base_url}/cancel/{job_id}", headers=headers) as r:
            assert r.status == 200
            assert await r.json() == {"id": job_id, "status": "CANCELLED"}
        async with session.get(f"{runpod.base_url}/status/{job_id}", headers=headers) as r:
            status = await r.json()
        assert status["status"] == "CANCELLED" and "output" not in status
        async with session.get(f"{runpod.base_url}/health", headers=headers) as r:
            health = await r.json()
        assert set(health["jobs"]) == {"completed", "failed", "inProgress", "inQueue", "retried"}
    assert runpod.emulator.cancelled_jobs[-1] == job_id


async def test_failures_end_as_failed_jobs(runpod, file_server):
    headers = {"Authorization": f"Bearer {runpod.key}"}
    inputs = [
        {"audio": f"{file_server}/speech.wav"},  # with the forced failure knob
        {"language": "en"},  # neither audio nor audio_base64
        {"audio": f"{file_server}/speech.wav", "colour": "blue"},  # not an input of the worker
        {"audio": f"{file_server}/missing.wav"},  # 404 from the file server
        {"audio": "https://audio.example.com/a.wav"},  # off this machine: never fetched
    ]
    runpod.emulator.fail_next = 1
    async with aiohttp.ClientSession() as session:
        errors = []
        for job_input in inputs:
            async with session.post(
                f"{runpod.base_url}/runsync", json={"input": job_input}, headers=headers
            ) as response:
                job = await response.json()
            assert job["status"] == "FAILED", (job_input, job)
            assert "output" not in job and isinstance(job["error"], str) and job["error"]
            errors.append(job["error"])
    assert json.loads(errors[0])["error_message"].startswith("forced failure")
    assert "audio_base64" in errors[1] and "colour" in errors[2]
    assert "404" in errors[3] and "loopback" in errors[4]


async def test_auth_endpoint_and_body_errors(runpod):
    base = runpod.base_url
    other = base.rsplit("/", 1)[0] + "/no-such-endpoint"
    good = {"Authorization": f"Bearer {runpod.key}"}
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "wrong"}):
            async with session.post(f"{base}/run", json={"input": {}}, headers=headers) as r:
                assert r.status == 401
        async with session.post(f"{other}/run", json={"input": {}}, headers=good) as r:
            assert r.status == 404
        async with session.post(f"{base}/run", json={"inputs": {}}, headers=good) as r:
            assert r.status == 400
        async with session.post(f"{base}/run", data=b"{not json", headers=good) as r:
            assert r.status == 400
        async with session.get(f"{base}/status/nope-u1", headers=good) as r:
            assert r.status == 404
        async with session.post(f"{base}/cancel/nope-u1", headers=good) as r:
            assert r.status == 404
    unauthorised = [r for r in runpod.emulator.requests.all() if r.status == 401][-3:]
    assert [r.api_key for r in unauthorised] == [None, "wrong", "wrong"]
