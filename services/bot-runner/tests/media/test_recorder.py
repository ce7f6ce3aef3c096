"""The tab recorder against a local stand-in meeting page in real headless Chromiums."""

from __future__ import annotations

import array
import base64
import json
import math
import os
import signal
import subprocess
import time
import wave
from pathlib import Path

import pytest

from bot_runner.media import (
    PcmTap,
    RecorderError,
    RecordingClock,
    TabRecorder,
    recorder_chromium_flags,
)

pytestmark = pytest.mark.timeout(120)


# ----------------------------------------------------------------- helpers
def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def volume(path: Path, start: float = 0.0, duration: float | None = None) -> tuple[float, float]:
    """(mean_volume, max_volume) in dB of an audio file or part of it."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-ss", f"{start:.3f}"]
    if duration is not None:
        cmd += ["-t", f"{duration:.3f}"]
    cmd += ["-i", str(path), "-vn", "-af", "volumedetect", "-f", "null", "-"]
    err = subprocess.run(cmd, check=True, capture_output=True, text=True).stderr
    values = {}
    for line in err.splitlines():
        for key in ("mean_volume", "max_volume"):
            if f"{key}:" in line:
                values[key] = float(line.split(f"{key}:")[1].split()[0])
    return values["mean_volume"], values["max_volume"]


def envelope(path: Path, step_s: float = 0.005) -> list[tuple[float, float]]:
    """(time, dBFS) of a 16-bit mono WAV in steps of step_s."""
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        rate = w.getframerate()
        samples = array.array("h", w.readframes(w.getnframes()))
    step = max(1, int(rate * step_s))
    env = []
    for i in range(0, len(samples) - step + 1, step):
        block = samples[i:i + step]
        power = sum(x * x for x in block) / step
        env.append((i / rate, 10 * math.log10(power / 32768**2 + 1e-12)))
    return env


def onset(env: list[tuple[float, float]], after: float, threshold_db: float = -30.0) -> float | None:
    for t, db in env:
        if t >= after and db > threshold_db:
            return t
    return None


def decode_to_wav(src: Path, dst: Path) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(src), "-vn", "-ac", "1",
         "-ar", "16000", str(dst)],
        check=True,
    )
    return dst


def video_frames(path: Path) -> list[tuple[float, float]]:
    """(pts, mean luma) of every video frame."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-f", "lavfi", "-i", f"movie={path},signalstats",
         "-show_entries", "frame=pts_time:frame_tags=lavfi.signalstats.YAVG",
         "-of", "csv=p=0"],
        check=True, capture_output=True, text=True,
    ).stdout
    frames = []
    for line in out.split():
        pts, yavg = line.split(",")[:2]
        frames.append((float(pts), float(yavg)))
    return frames


def distinct_frames(path: Path) -> int:
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v", "-f", "framemd5",
         "-"],
        check=True, capture_output=True, text=True,
    ).stdout
    return len({line.rsplit(",", 1)[-1] for line in out.splitlines() if not line.startswith("#")})


def child_ffmpegs() -> list[int]:
    """ffmpeg processes that are children of this test process."""
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == me and comm == "ffmpeg":
            found.append(int(entry))
    return found


def open_meeting(driver, url: str) -> None:
    driver.get(url)
    deadline = time.monotonic() + 10
    while driver.execute_script("return document.readyState") != "complete":
        assert time.monotonic() < deadline, "test page did not load"
        time.sleep(0.05)


def join(driver) -> None:
    driver.execute_async_script("joinMeeting().then(() => arguments[0](true))")


def wait_recording(driver, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not driver.execute_script(
        "return !!(window.__mbRec && window.__mbRec.status().recording)"
    ):
        assert time.monotonic() < deadline, "recorder did not (re)start in the page"
        time.sleep(0.1)


def keep_pumping(rec: TabRecorder, timeout: float = 10.0) -> None:
    """pump() until it raises (what the runner's loop does); fails if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec.pump()
        time.sleep(0.1)
    pytest.fail(f"pump() did not notice in {timeout} s")


def keep_busy(driver, rec: TabRecorder, until: float) -> None:
    """What the runner does meanwhile: pump() plus its own Selenium calls."""
    while time.time() < until:
        rec.pump()
        driver.execute_script("return document.getElementById('speaker').textContent")
        time.sleep(0.5)


# ------------------------------------------------------------- unit tests
def test_clock_conversions() -> None:
    clock = RecordingClock(
        started_at_unix=1_700_000_010.0, started_at_page_ms=2_500.0,
        page_time_origin_ms=1_700_000_007_500.0,
    )
    assert clock.media_time_from_page_ms(4_000.0) == pytest.approx(1.5)
    assert clock.media_time_from_unix(1_700_000_012.25) == pytest.approx(2.25)
    assert clock.media_time_from_date_ms(1_700_000_013_000.0) == pytest.approx(3.0)


def test_flags() -> None:
    flags = recorder_chromium_flags()
    assert "--autoplay-policy=no-user-gesture-required" in flags
    assert "--disable-background-timer-throttling" in flags
    assert not any("fake" in f for f in flags)


def test_start_without_devtools_fails_cleanly(tmp_path: Path) -> None:
    class NotChromium:
        current_window_handle = "x"

        @property
        def capabilities(self) -> dict:
            return {"browserName": "firefox"}

    rec = TabRecorder(NotChromium(), tmp_path)
    with pytest.raises(RecorderError):
        rec.start()
    with pytest.raises(RecorderError):
        rec.stop()
    rec.close()
    assert child_ffmpegs() == []


def test_a_frame_painted_before_the_latest_one_does_not_replace_it(tmp_path: Path) -> None:
    """Screencast frames can arrive out of order: the video never goes back in time."""
    rec = TabRecorder(None, tmp_path)

    def frame(data: bytes, shot: float | None) -> dict:
        metadata = {} if shot is None else {"timestamp": shot}
        return {"data": base64.b64encode(data).decode(), "metadata": metadata, "sessionId": 1}

    rec._on_frame(frame(b"dialog", 100.0))
    rec._on_frame(frame(b"closed", 100.5))
    rec._on_frame(frame(b"dialog again", 100.3))  # painted before "closed", arrived after it
    assert rec._latest_frame == b"closed"
    rec._on_frame(frame(b"later", 100.7))
    rec._on_frame(frame(b"no timestamp", None))
    assert rec._latest_frame == b"no timestamp"
    assert rec.stats()["frames_received"] == 5 and rec.stats()["frames_stale"] == 1
    rec.close()


def test_stop_before_start_is_an_error(tmp_path: Path) -> None:
    rec = TabRecorder(None, tmp_path)
    with pytest.raises(RecorderError):
        rec.stop()
    with pytest.raises(RecorderError):
        rec.salvage()
    rec.close()


# ------------------------------------------------------- browser tests
def test_records_meeting_tab(chromium, meeting_server: str, tmp_path: Path) -> None:
    driver = chromium()
    rec = TabRecorder(driver, tmp_path / "rec")
    try:
        rec.install()
        open_meeting(driver, f"{meeting_server}/?path=webrtc&speech=/speech.wav")
        clock = rec.start()
        # The meeting's <audio> element is created and fed only now, while recording.
        join(driver)
        time.sleep(0.5)
        speech = driver.execute_script("return playSpeech()")
        time.sleep(2.0)
        flash = driver.execute_script("return flash(600)")
        keep_busy(driver, rec, clock.started_at_unix + 8.0)
        png = rec.screenshot_png()
        events = driver.execute_script("return window.speakerEvents")
        stop_called = time.time()
        files = rec.stop()
        stop_seconds = time.time() - stop_called
    finally:
        rec.close()

    recorded = stop_called - clock.started_at_unix
    assert png.startswith(b"\x89PNG")
    assert stop_seconds < 5, f"stop() took {stop_seconds:.2f} s"
    assert child_ffmpegs() == []
    assert abs(files.duration_s - recorded) < 1.0
    assert files.segments == 1

    # recording.mp4: one H.264 video (1280x720) + one AAC audio, as long as recorded.
    assert files.mp4 is not None and files.mp4.exists()
    probe = ffprobe(files.mp4)
    kinds = sorted(s["codec_type"] for s in probe["streams"])
    assert kinds == ["audio", "video"]
    v = next(s for s in probe["streams"] if s["codec_type"] == "video")
    a = next(s for s in probe["streams"] if s["codec_type"] == "audio")
    assert v["codec_name"] == "h264" and (v["width"], v["height"]) == (1280, 720)
    assert a["codec_name"] == "aac"
    assert abs(float(probe["format"]["duration"]) - recorded) < 1.0
    assert abs(float(v["duration"]) - recorded) < 1.0
    assert abs(float(a["duration"]) - recorded) < 1.0

    # audio.wav: 16 kHz mono PCM, as long as recorded, speech audible.
    wprobe = ffprobe(files.wav)
    (ws,) = wprobe["streams"]
    assert ws["codec_name"] == "pcm_s16le"
    assert int(ws["sample_rate"]) == 16000 and ws["channels"] == 1
    assert abs(float(wprobe["format"]["duration"]) - recorded) < 1.0
    speech_at = clock.media_time_from_page_ms(speech["perf"])
    mean_db, _max_db = volume(files.wav, speech_at, 3.0)
    assert mean_db > -50, f"speech is silent in audio.wav ({mean_db} dB)"
    mean_db, _ = volume(files.mp4, speech_at, 3.0)
    assert mean_db > -50, f"speech is silent in recording.mp4 ({mean_db} dB)"
    # Before anything played, the recording is silent.
    assert volume(files.wav, 0.0, 0.3)[1] < -60

    # Speaker timeline seen in the page (performance.now and Date.now) lines up
    # with the media at 0.1 s.
    env = envelope(files.wav)
    starts = [e for e in events if e["kind"] == "start"]
    assert starts, "the page never saw the speaker"
    seen_at = clock.media_time_from_page_ms(starts[0]["perf"])
    heard_at = onset(env, seen_at - 0.5)
    assert heard_at is not None
    assert abs(heard_at - seen_at) < 0.1, (heard_at, seen_at)
    assert abs(clock.media_time_from_date_ms(starts[0]["date"]) - heard_at) < 0.1
    # ...and recording.mp4's audio is on the same timeline as audio.wav.
    mp4_env = envelope(decode_to_wav(files.mp4, tmp_path / "from_mp4.wav"))
    assert abs(onset(mp4_env, seen_at - 0.5) - heard_at) < 0.1

    # The video moves, and shows the white flash when it happened.
    assert distinct_frames(files.mp4) > 20
    flash_at = clock.media_time_from_page_ms(flash["perf"])
    white = [t for t, y in video_frames(files.mp4) if y > 160 and t > flash_at - 0.5]
    assert white, "flash not in the video"
    # Frames are placed on the wall clock as Chromium presents them: ~0.1 s after
    # the DOM change when idle, more when the machine is starved (paint is late).
    assert -0.05 < white[0] - flash_at < 0.5, (white[0], flash_at)


def write_wav(path: Path, pcm: bytes, rate: int) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return path


def test_live_pcm_is_the_recorded_mix_as_it_plays(chromium, meeting_server: str,
                                                  tmp_path: Path) -> None:
    """Two taps at once, at 24 kHz and 16 kHz, as a bot that streams and transcribes has."""
    frame_ms = 40
    frames: dict[int, list[tuple[float, float, bytes]]] = {24_000: [], 16_000: []}  # (arrived, offset, pcm)
    taps = [PcmTap(rate, frame_ms, lambda pcm, offset, rate=rate: frames[rate].append(
        (time.time(), offset, pcm))) for rate in frames]
    driver = chromium()
    rec = TabRecorder(driver, tmp_path / "rec", video=False, pcm=taps)
    try:
        rec.install()
        open_meeting(driver, f"{meeting_server}/?path=webrtc&speech=/speech.wav")
        clock = rec.start()
        join(driver)
        time.sleep(0.5)
        driver.execute_script("return playSpeech()")
        keep_busy(driver, rec, clock.started_at_unix + 6.0)
        files = rec.stop()
    finally:
        rec.close()

    heard_file = onset(envelope(files.wav), 0.0)
    assert heard_file is not None
    for rate, received in frames.items():
        # Frames of 40 ms of s16le at the tap's rate, one after the other on the timeline.
        assert len(received) > 100, rate
        assert {len(pcm) for _, _, pcm in received} == {rate * frame_ms // 1000 * 2}
        offsets = [offset for _, offset, _ in received]
        assert all(abs(b - a - frame_ms / 1000) < 1e-6 for a, b in zip(offsets, offsets[1:]))
        assert offsets[0] < 0.5
        # As much sound as the recording holds: none skipped, none added.
        assert abs(offsets[-1] + frame_ms / 1000 - files.duration_s) < 0.3, (
            rate, offsets[-1], files.duration_s)
        # Laid on their offsets, they hold the recording's sound at the same moments.
        lead = b"\0" * (round(offsets[0] * rate) * 2)
        live = write_wav(tmp_path / f"live-{rate}.wav",
                         lead + b"".join(pcm for _, _, pcm in received), rate)
        live_16k = decode_to_wav(live, tmp_path / f"live-{rate}-16k.wav")
        heard_live = onset(envelope(live_16k), 0.0)
        assert heard_live is not None
        assert abs(heard_live - heard_file) < 0.1, (rate, heard_live, heard_file)
        assert volume(live_16k, heard_live, 2.0)[0] > -50
        # How late each frame reached the runner after its last sample was played (not
        # asserted: the machine is shared).
        late = sorted(arrived - (clock.started_at_unix + offset + frame_ms / 1000)
                      for arrived, offset, _ in received)
        print(f"\nlive PCM at {rate} Hz, frame delay: median {late[len(late) // 2] * 1000:.0f} ms, "
              f"p95 {late[int(len(late) * 0.95)] * 1000:.0f} ms")


PAINT_VIDEO = """
const [id, color, done] = arguments;
const canvas = document.createElement('canvas');
canvas.width = 160; canvas.height = 90;
const ctx = canvas.getContext('2d');
const paint = () => { ctx.fillStyle = color; ctx.fillRect(0, 0, 160, 90); };
paint(); setInterval(paint, 100);
let video = document.getElementById(id);
if (!video) {
  video = document.createElement('video');
  video.id = id; video.muted = true; video.autoplay = true;
  document.body.appendChild(video);
}
video.srcObject = canvas.captureStream(10);
video.play().then(() => done(true), (e) => done(String(e)));
"""


def test_a_video_slot_records_each_stream_its_element_plays_as_a_part(
        chromium, meeting_server: str, tmp_path: Path) -> None:
    """A webcam whose element is given another stream (Teams reassigns its few video elements)
    ends one part and starts another; a slot given no element ends its part; one still on when
    the recording stops ends with it."""
    from bot_runner.participants import MeetingRoster
    from bot_runner.separate_video import VideoParts
    from mb_shared.contracts.bot import Platform

    parts = VideoParts(tmp_path / "videos")
    driver = chromium()
    rec = TabRecorder(driver, tmp_path / "rec", video=False, videos=parts.tap())
    slot = "return window.__mbRec.videoSlot(arguments[0], document.getElementById(arguments[1]), " \
           "{key: arguments[2], name: arguments[2], kind: arguments[3]})"
    try:
        rec.install()
        open_meeting(driver, f"{meeting_server}/?path=webrtc&speech=/speech.wav")
        clock = rec.start()
        assert driver.execute_async_script(PAINT_VIDEO, "cam", "#ff0000") is True
        for _ in range(8):  # the roster probe names the element every 250 ms
            assert driver.execute_script(slot, "a-webcam", "cam", "a", "webcam") is True
            time.sleep(0.25)
        assert driver.execute_async_script(PAINT_VIDEO, "cam", "#0000ff") is True
        assert driver.execute_async_script(PAINT_VIDEO, "share", "#00ff00") is True
        for _ in range(8):
            assert driver.execute_script(slot, "a-webcam", "cam", "a", "webcam") is True
            assert driver.execute_script(slot, "b-share", "share", "b", "screenshare") is True
            time.sleep(0.25)
        assert driver.execute_script(slot, "a-webcam", "missing", "a", "webcam") is False
        keep_busy(driver, rec, time.time() + 1.0)
        files = rec.stop()
    finally:
        rec.close()

    roster = MeetingRoster(clock.started_at_page_ms, clock.started_at_unix, Platform.GOOGLE_MEET)
    roster.add_roster_events([{"action": "join", "key": k, "name": k, "t": clock.started_at_page_ms}
                              for k in ("a", "b")])
    made = parts.write(roster, files.duration_s)
    assert [(p.participant.name, p.type) for p, _ in made] == [
        ("a", "webcam"), ("a", "webcam"), ("b", "screenshare")]
    red, blue, green = made
    assert abs(red[0].duration - 2.0) < 0.5 and abs(blue[0].duration - 2.0) < 0.5, made
    assert abs(red[0].start_timestamp.relative + red[0].duration
               - blue[0].start_timestamp.relative) < 0.3
    assert abs(green[0].start_timestamp.relative + green[0].duration - files.duration_s) < 0.5
    for (part, path), rgb in ((red, (255, 0, 0)), (blue, (0, 0, 255)), (green, (0, 255, 0))):
        info = ffprobe(path)
        assert abs(float(info["format"]["duration"]) - part.duration) < 0.5, (part, info)
        pixels = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(path), "-vf", "fps=2,scale=1:1", "-f", "rawvideo",
             "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
        frames = [tuple(pixels[i:i + 3]) for i in range(0, len(pixels), 3)]
        assert len(frames) >= 2
        assert all(max(abs(a - b) for a, b in zip(frame, rgb, strict=True)) < 40
                   for frame in frames), (part.type, frames)


def test_two_bots_do_not_mix_audio(chromium, meeting_server: str, tmp_path: Path) -> None:
    speaking, silent = chromium(), chromium()
    rec_a = TabRecorder(speaking, tmp_path / "a", video=True)
    rec_b = TabRecorder(silent, tmp_path / "b", video=False)
    try:
        for driver, rec, query in (
            (speaking, rec_a, "path=webrtc&speech=/speech.wav"),
            (silent, rec_b, "path=webrtc"),
        ):
            rec.install()
            open_meeting(driver, f"{meeting_server}/?{query}")
        clock_a = rec_a.start()
        rec_b.start()
        join(speaking)
        join(silent)
        speech = speaking.execute_script("return playSpeech()")
        until = time.time() + 6.0
        while time.time() < until:
            rec_a.pump()
            rec_b.pump()
            time.sleep(0.5)
        files_a = rec_a.stop()
        files_b = rec_b.stop()
    finally:
        rec_a.close()
        rec_b.close()

    speech_at = clock_a.media_time_from_page_ms(speech["perf"])
    mean_a, _ = volume(files_a.wav, speech_at, 4.0)
    assert mean_a > -50, f"speaking bot recorded silence ({mean_a} dB)"
    assert files_b.mp4 is None
    mean_b, max_b = volume(files_b.wav)
    assert max_b < -60, f"silent bot recorded sound (max {max_b} dB, mean {mean_b} dB)"
    assert abs(float(ffprobe(files_b.wav)["format"]["duration"]) - files_b.duration_s) < 1.0
    assert child_ffmpegs() == []


def test_survives_navigation_and_web_audio(chromium, meeting_server: str, tmp_path: Path) -> None:
    """A new document mid-recording becomes a new segment on the same timeline;
    sound played straight into an AudioContext is recorded too."""
    driver = chromium()
    rec = TabRecorder(driver, tmp_path / "nav", video=False)
    try:
        rec.install()
        open_meeting(driver, f"{meeting_server}/?path=local")
        clock = rec.start()
        join(driver)
        time.sleep(0.3)
        beep1 = driver.execute_script("return playBeep(300)")
        time.sleep(1.0)
        open_meeting(driver, f"{meeting_server}/?path=webaudio")
        wait_recording(driver)
        join(driver)
        time.sleep(0.3)
        beep2 = driver.execute_script("return playBeep(300)")
        keep_busy(driver, rec, time.time() + 1.5)
        stop_called = time.time()
        files = rec.stop()
    finally:
        rec.close()

    assert files.mp4 is None
    assert files.segments == 2
    recorded = stop_called - clock.started_at_unix
    assert abs(files.duration_s - recorded) < 1.0
    assert abs(float(ffprobe(files.wav)["format"]["duration"]) - recorded) < 1.0
    env = envelope(files.wav)
    for beep in (beep1, beep2):
        # performance.now() restarts with each document: map Date.now() instead.
        at = clock.media_time_from_date_ms(beep["date"])
        heard = onset(env, at - 0.5)
        assert heard is not None and abs(heard - at) < 0.1, (heard, at)
    assert child_ffmpegs() == []



@pytest.mark.parametrize("video", [True, False], ids=["video", "audio_only"])
def test_a_killed_browser_keeps_what_was_recorded(
    chromium, meeting_server: str, tmp_path: Path, video: bool
) -> None:
    """The browser's whole process group is killed mid-recording (as a crash or an out-of-memory
    kill would end it): pump() notices, and salvage() delivers playable files of everything the
    page handed over, short of the kill by at most one timeslice of audio."""
    driver = chromium(own_process_group=True)
    rec = TabRecorder(driver, tmp_path / "crash", video=video)
    try:
        rec.install()
        open_meeting(driver, f"{meeting_server}/?path=webrtc&speech=/speech.wav")
        clock = rec.start()
        join(driver)
        speech = driver.execute_script("return playSpeech()")
        keep_busy(driver, rec, clock.started_at_unix + 5.0)
        killed_at = time.time()
        os.killpg(driver.service.process.pid, signal.SIGKILL)
        with pytest.raises(RecorderError):
            keep_pumping(rec)
        files = rec.salvage()
    finally:
        rec.close()

    recorded = killed_at - clock.started_at_unix
    lost_at_most = rec.timeslice_ms / 1000 + 0.5  # the page's last timeslice, and slack
    assert files is not None
    assert child_ffmpegs() == []
    print(f"\nrecorded {recorded:.2f} s before the kill, salvaged {files.duration_s:.2f} s")
    # The page made nothing after the kill (its clock and the test's are the system's).
    assert recorded - lost_at_most <= files.duration_s <= recorded + 0.05

    wprobe = ffprobe(files.wav)
    (ws,) = wprobe["streams"]
    assert ws["codec_name"] == "pcm_s16le" and int(ws["sample_rate"]) == 16000
    assert abs(float(wprobe["format"]["duration"]) - files.duration_s) < 0.2
    # The speech the page played before the kill is in the file.
    speech_at = clock.media_time_from_page_ms(speech["perf"])
    mean_db, _ = volume(files.wav, speech_at, files.duration_s - speech_at)
    assert mean_db > -50, f"speech is silent in the salvaged audio.wav ({mean_db} dB)"

    if not video:
        assert files.mp4 is None
        return
    assert files.mp4 is not None and files.mp4.exists()
    assert not rec.live_mp4_path.exists()
    probe = ffprobe(files.mp4)
    kinds = {s["codec_type"]: s["codec_name"] for s in probe["streams"]}
    assert kinds == {"video": "h264", "audio": "aac"}, kinds
    assert abs(float(probe["format"]["duration"]) - files.duration_s) < 0.2
    for stream in probe["streams"]:
        assert abs(float(stream["duration"]) - files.duration_s) < 0.2, stream
    mean_db, _ = volume(files.mp4, speech_at, files.duration_s - speech_at)
    assert mean_db > -50, f"speech is silent in the salvaged recording.mp4 ({mean_db} dB)"
    assert distinct_frames(files.mp4) > 10
