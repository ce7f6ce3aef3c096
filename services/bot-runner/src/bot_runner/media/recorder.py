"""Record what a meeting tab shows and plays, from inside the bot's own Chromium.

Approach (see ``media/README.md`` for what was tried and why):

* **Audio** -- an init script (``recorder.js``) observes every sound source the
  page plays (media elements fed by a ``MediaStream`` via ``srcObject``, media
  elements playing URLs, Web Audio graphs connected to a destination) and, while
  recording, mixes them in a private ``AudioContext`` into a
  ``MediaStreamAudioDestinationNode`` encoded by ``MediaRecorder`` (webm/opus,
  1 s timeslice). Nothing goes through an OS audio device, so bots on one
  machine cannot hear each other and no PulseAudio/Xvfb is needed.
* **Video** -- CDP ``Page.startScreencast`` JPEG frames of the tab.
* **Live PCM** -- for each ``PcmTap`` in ``pcm``, the page also cuts the same mix into raw PCM
  frames at the tap's rate (read from the recorded track, see ``recorder.js``) and the recorder hands each one,
  with its place on the recording's timeline, to ``PcmTap.on_frame`` as soon as it arrives (the
  bot's live audio stream, the pieces transcribed during the call). It never waits on the
  receivers; the files do not depend on them.
* **Transport** -- the recorder opens its *own* DevTools websocket to the page
  (not Selenium's connection): audio chunks arrive through a ``Runtime``
  binding, frames as screencast events. A small per-document ffmpeg decodes the
  webm to PCM; Python paces video frames on the wall clock and places the PCM on
  the same timeline (padding silence across page navigations), and one ffmpeg
  encodes ``recording.mp4`` (H.264 + AAC) and ``audio.wav`` (16 kHz mono) as the
  meeting goes, so ``stop()`` only has to flush. These processes are the
  runner's, not the browser's: if the browser dies, ``salvage()`` flushes them
  the same way, without the page.

Selenium is used only in ``install()``/``start()``/``screenshot_png()``, on the
caller's thread; everything else runs on the recorder's own threads, so the
runner may keep using the driver freely between ``pump()`` calls.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import json
import logging
import os
import queue
import subprocess
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Self

from .cdp import CdpConnection, CdpError, page_ws_url

log = logging.getLogger(__name__)

AUDIO_RATE = 48_000  # Hz, PCM between the decoder and the encoder (s16le mono)
WAV_RATE = 16_000
_SAMPLE_BYTES = 2
SOUND_LEVEL = 328  # peak of a s16 sample (-40 dBFS) above which the meeting is not silent
_EMIT_BINDING = "__mbRecEmit"
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
# MediaRecorder's packet timestamps follow the wall clock, but the audio it
# encodes loses a buffer now and then when the machine is busy (measured: 29 ms
# and 122 ms holes in 3 min under load; an AudioContext render glitch). Put the
# decoded audio back on its timestamps: any accumulated error > 20 ms is filled
# with silence (or trimmed); the timestamps' own +-9 ms jitter is left alone.
# (Mixing in min_comp with first_pts makes ffmpeg 5.1 emit garbage: avoid.)
_RESYNC_FILTER = "aresample=async=1:min_hard_comp=0.02:first_pts=0"


@dataclass(frozen=True)
class PcmTap:
    """Live raw PCM of the recorded mix: 16-bit little-endian mono at `rate` Hz, in frames of
    `frame_ms`, each given to `on_frame(pcm, offset_s)` (offset: the frame's start on the
    recording's timeline) on the recorder's DevTools thread. `on_frame` must return at once."""

    rate: int
    frame_ms: int
    on_frame: Callable[[bytes, float], None]


@dataclass(frozen=True)
class ChannelTap:
    """Each media element the page plays a stream on, on its own, as live raw PCM like a
    `PcmTap`'s: `on_frame(channel, pcm, offset_s)`, `channel` naming the element within the
    recording (`"<segment>-<n>"`), called on the recorder's DevTools thread."""

    rate: int
    frame_ms: int
    on_frame: Callable[[str, bytes, float], None]


@dataclass(frozen=True)
class VideoTap:
    """The separate video parts the page records (a webcam or screenshare, see ``videoSlot`` in
    ``recorder.js``), on the recorder's DevTools thread: `on_start(part, meta, page_ms)` with
    what the roster probe said of it (`key`, `name`, `kind`), `on_chunk(part, webm)` in order,
    `on_end(part, page_ms)`. Page times are the page clock's (`performance.now()`)."""

    on_start: Callable[[str, dict[str, Any], float], None]
    on_chunk: Callable[[str, bytes], None]
    on_end: Callable[[str, float], None]


def shared_taps(taps: Sequence[PcmTap]) -> list[PcmTap]:
    """`taps` with one per rate and frame length, handing each frame to all of its receivers:
    the page runs one worklet for each."""
    receivers: dict[tuple[int, int], list[Callable[[bytes, float], None]]] = {}
    for tap in taps:
        receivers.setdefault((tap.rate, tap.frame_ms), []).append(tap.on_frame)

    def fan_out(each: list[Callable[[bytes, float], None]]) -> Callable[[bytes, float], None]:
        if len(each) == 1:
            return each[0]

        def on_frame(pcm: bytes, offset_s: float) -> None:
            for receiver in each:
                receiver(pcm, offset_s)
        return on_frame

    return [PcmTap(rate, frame_ms, fan_out(each))
            for (rate, frame_ms), each in receivers.items()]


ENCODER_NICENESS = 5
"""The encoder's input is buffered, so it may fall behind and catch up; the browser's audio
rendering cannot (a late render quantum is skipped and its sound lost): the encoder runs at a lower
CPU priority than the browsers."""


def _behind_the_browsers() -> None:
    os.nice(ENCODER_NICENESS)


class RecorderError(RuntimeError):
    """The recorder could not start, or a part of its pipeline failed."""


@dataclass(frozen=True)
class RecordingClock:
    """Where media time 0 lies on the wall clock and on the page's clocks.

    ``started_at_unix`` is the unix time (s) of the first recorded sample/frame,
    ``started_at_page_ms`` the page's ``performance.now()`` at that moment and
    ``page_time_origin_ms`` the page's ``performance.timeOrigin`` (unix ms).
    A speaker event seen in the page at ``performance.now() == p`` happened at
    media time ``(p - started_at_page_ms) / 1000``; one stamped with
    ``Date.now() == d`` at ``d / 1000 - started_at_unix``.
    """

    started_at_unix: float
    started_at_page_ms: float
    page_time_origin_ms: float

    def media_time_from_page_ms(self, page_ms: float) -> float:
        return (page_ms - self.started_at_page_ms) / 1000.0

    def media_time_from_unix(self, unix_s: float) -> float:
        return unix_s - self.started_at_unix

    def media_time_from_date_ms(self, date_ms: float) -> float:
        return date_ms / 1000.0 - self.started_at_unix


@dataclass(frozen=True)
class RecordingFiles:
    mp4: Path | None  # None when recording audio only
    wav: Path
    duration_s: float
    clock: RecordingClock
    segments: int = 1  # >1 when the page navigated while recording
    stats: dict[str, Any] = field(default_factory=dict)


def recorder_chromium_flags() -> list[str]:
    """Extra Chromium flags the recorder relies on (add to the caller's own).

    * keep timers, rAF and media of a headless/unfocused tab at full speed;
    * let AudioContext/MediaRecorder start without a user gesture;
    * ``--mute-audio``: nothing is sent to an audio device (there is none in
      headless, and on a workstation the bots must not play out loud); the
      recorder taps the page's streams directly, so muting does not affect it.
    """
    return [
        "--autoplay-policy=no-user-gesture-required",
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
        "--mute-audio",
    ]


def recorder_script() -> str:
    """The in-page recorder (for ``Page.addScriptToEvaluateOnNewDocument``)."""
    return resources.files(__package__).joinpath("recorder.js").read_text(encoding="utf-8")


class _Segment:
    """One page document's MediaRecorder stream and its webm -> PCM decoder."""

    def __init__(self, index: int, ffmpeg: str, log_path: Path, keep: Path | None = None) -> None:
        self.index = index
        self._keep = open(keep, "wb") if keep else None  # noqa: SIM115
        self.start_unix: float | None = None
        self.pcm_start_unix: dict[int, float] = {}  # tap -> unix time of its first sample
        self.chunks = 0
        self.bytes = 0
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [
                ffmpeg, "-hide_banner", "-loglevel", "warning",
                "-fflags", "nobuffer", "-f", "matroska", "-i", "pipe:0",
                "-vn", "-af", _RESYNC_FILTER,
                "-f", "s16le", "-ac", "1", "-ar", str(AUDIO_RATE), "-flush_packets", "1",
                "pipe:1",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )

    def feed(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        if self._keep is not None:
            self._keep.write(data)
        self.chunks += 1
        self.bytes += len(data)

    def end_input(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def close(self, *, kill: bool = False) -> None:
        if kill and self.proc.poll() is None:
            self.proc.kill()
        self.end_input()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()
        if self._keep is not None:
            self._keep.close()


class TabRecorder:
    """Records one Chromium tab (driven by Selenium) to mp4 + wav.

    Usage::

        rec = TabRecorder(driver, workdir)
        rec.install()            # before driver.get(meeting_url)
        ...join the meeting...
        clock = rec.start()
        while in_meeting:
            rec.pump()           # cheap health check; never touches the driver
            ...
        files = rec.stop()       # or, once the browser is gone: rec.salvage()

    ``close()`` (or the context manager) kills whatever is still running.
    """

    def __init__(
        self,
        driver,
        workdir: Path,
        *,
        video: bool = True,
        fps: int = 15,
        size: tuple[int, int] = (1280, 720),
        crf: int = 28,
        jpeg_quality: int = 70,
        x264_preset: str = "veryfast",
        audio_bitrate: str = "96k",
        timeslice_ms: int = 1000,
        ffmpeg: str = "ffmpeg",
        keep_webm: bool = False,
        pcm: Sequence[PcmTap] = (),
        channels: ChannelTap | None = None,
        videos: VideoTap | None = None,
    ) -> None:
        self._driver = driver
        self.workdir = Path(workdir)
        self.video = video
        self.fps = fps
        self.size = size
        self.crf = crf
        self.jpeg_quality = jpeg_quality
        self.x264_preset = x264_preset
        self.audio_bitrate = audio_bitrate
        self.timeslice_ms = timeslice_ms
        self.ffmpeg = ffmpeg
        self.keep_webm = keep_webm  # also save the page's raw webm (decoder-N.webm)
        self.pcm = tuple(shared_taps(pcm))
        self.channels = channels
        self.videos = videos
        self._channel_start_unix: dict[str, float] = {}
        self.mp4_path = self.workdir / "recording.mp4" if video else None
        # Written while recording (fragmented: what ffmpeg has written stays
        # playable, though it writes late), remuxed into a plain MP4 with the
        # index up front by stop()/salvage().
        self.live_mp4_path = self.workdir / "recording.fragmented.mp4" if video else None
        self.wav_path = self.workdir / "audio.wav"

        self._state = "idle"  # idle -> recording -> stopped
        self._lock = threading.Lock()
        self._errors: list[BaseException] = []
        self._cdp: CdpConnection | None = None
        self._encoder: subprocess.Popen | None = None
        self._encoder_log = None
        self._audio_pipe = None  # writable end of the encoder's PCM input
        self._segments: dict[int, _Segment] = {}
        self._current_seg = -1
        self._chunk_q: queue.Queue = queue.Queue()  # ("chunk", seg, bytes) | ("end", seg) | None
        self._seg_q: queue.Queue = queue.Queue()  # _Segment | None (end of recording)
        self._threads: list[threading.Thread] = []
        self._clock: RecordingClock | None = None
        self._t0_mono = 0.0
        self._final_duration: float | None = None
        self._final_frames: int | None = None
        self._wake = threading.Event()
        self._latest_frame: bytes | None = None
        self._latest_frame_shot = 0.0  # when the page showed it (screencast timestamp, unix s)
        self._frames_in = 0
        self._frames_stale = 0
        self._frames_out = 0
        self._samples_out = 0
        self._sound_until = 0
        self._last_ack = 0.0
        self._resuming = False
        self._start_info: dict[str, Any] = {}
        self._last_chunk_mono = 0.0
        # When the page made the latest media it handed over (unix s, page's clock).
        self._last_media_unix = 0.0
        self._stall_warned = False

    # ------------------------------------------------------------------ API
    def install(self) -> None:
        """Register the in-page recorder for every document the tab loads.

        Call before navigating to the meeting so that media elements created by
        the page's first scripts are seen. (``start()`` also injects it into an
        already loaded page, but then sources created earlier are only found if
        they are attached to the DOM.)
        """
        self._driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": recorder_script()}
        )

    def start(self) -> RecordingClock:
        if self._state != "idle":
            raise RecorderError(f"recorder already {self._state}")
        self._state = "recording"
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            ws_url = page_ws_url(self._driver)
            self._spawn_encoder()
            self._start_thread(self._feed_chunks, "rec-feed")
            self._start_thread(self._mux_audio, "rec-audio")

            cdp = self._cdp = CdpConnection(ws_url)
            cdp.on("Runtime.bindingCalled", self._on_binding)
            cdp.on("Page.frameNavigated", self._on_navigated)
            cdp.on("Page.screencastFrame", self._on_frame)
            cdp.open()
            cdp.call("Runtime.addBinding", {"name": _EMIT_BINDING})
            cdp.call("Page.enable")
            cdp.call("Page.addScriptToEvaluateOnNewDocument", {"source": recorder_script()})
            if self.video:
                shot = cdp.call(
                    "Page.captureScreenshot",
                    {"format": "jpeg", "quality": self.jpeg_quality},
                    timeout=15,
                )
                self._latest_frame = base64.b64decode(shot["data"])
                cdp.call(
                    "Page.startScreencast",
                    {
                        "format": "jpeg",
                        "quality": self.jpeg_quality,
                        "maxWidth": self.size[0],
                        "maxHeight": self.size[1],
                        "everyNthFrame": 1,
                    },
                )
            seg = self._new_segment()
            info = cdp.evaluate(self._start_expression(seg.index), timeout=20)
            self._start_info = info
            self._started_segment(seg, info)
            self._seg_q.put(seg)
            self._clock = RecordingClock(
                started_at_unix=info["date"] / 1000.0,
                started_at_page_ms=float(info["perf"]),
                page_time_origin_ms=float(info["timeOrigin"]),
            )
            if info.get("ctxState") != "running":
                log.warning("recorder AudioContext is %s", info.get("ctxState"))
            self._t0_mono = time.monotonic() - (time.time() - self._clock.started_at_unix)
            self._last_chunk_mono = self._t0_mono
            if self.video:
                self._start_thread(self._pace_video, "rec-video")
            log.info("recording started at %.3f (page %.1f ms)", info["date"] / 1000.0, info["perf"])
            return self._clock
        except BaseException as exc:
            self._state = "failed"
            self.close()
            if isinstance(exc, Exception) and not isinstance(exc, RecorderError):
                raise RecorderError(f"could not start recording: {exc}") from exc
            raise

    @property
    def clock(self) -> RecordingClock | None:
        return self._clock

    def pump(self) -> dict[str, Any]:
        """Check the pipeline's health; raise RecorderError if a part failed.

        The recorder moves data on its own threads, so calling this is not
        needed for recording to progress; it never uses the Selenium driver.
        Returns counters (seconds of audio/video encoded so far, ...).
        """
        self._raise_if_failed()
        stats = self.stats()
        # The page delivers a chunk every timeslice; a long silence from it means
        # its recorder is gone (the gap becomes silence in the files).
        stalled = stats["last_chunk_age_s"] > 5 + self.timeslice_ms / 1000
        if stalled and not self._stall_warned:
            log.warning("recorder: no audio from the page for %.1f s", stats["last_chunk_age_s"])
        self._stall_warned = stalled
        return stats

    def stats(self) -> dict[str, Any]:
        elapsed = time.time() - self._clock.started_at_unix if self._clock else 0.0
        return {
            "elapsed_s": round(elapsed, 3),
            "audio_s": round(self._samples_out / AUDIO_RATE, 3),
            "audio_chunks": sum(s.chunks for s in self._segments.values()),
            "frames_received": self._frames_in,
            "frames_stale": self._frames_stale,
            "frames_written": self._frames_out,
            "segments": len(self._segments),
            "sound_until_s": round(self._sound_until / AUDIO_RATE, 3),
            "last_chunk_age_s": round(time.monotonic() - self._last_chunk_mono, 3)
            if self._last_chunk_mono
            else round(elapsed, 3),
        }

    def stop(self, timeout: float | None = None) -> RecordingFiles:
        """Stop recording and wait until recording.mp4/audio.wav are complete."""
        if self._state != "recording":
            raise RecorderError(f"recorder is {self._state}, not recording")
        self._state = "stopping"
        try:
            stop_unix = None
            cdp = self._cdp
            assert cdp is not None and self._clock is not None
            try:
                res = cdp.evaluate("window.__mbRec ? window.__mbRec.stop() : null", timeout=10)
                if res:
                    stop_unix = res["date"] / 1000.0
                    log.info("recorder: the page rendered its mix %s, its PCM taps %s and its "
                             "channels %s", res.get("mix"), res.get("pcm"), res.get("channels"))
            except (CdpError, TimeoutError, OSError) as exc:
                log.warning("recorder: could not stop the page recorder cleanly: %s", exc)
            if stop_unix is None:
                stop_unix = time.time()
            if self.video:
                with contextlib.suppress(Exception):
                    cdp.call("Page.stopScreencast", timeout=5)
            return self._finish(stop_unix, timeout)
        except BaseException:
            self._state = "failed"
            raise
        finally:
            self.close()

    def salvage(self, timeout: float | None = None) -> RecordingFiles | None:
        """Finish the files from what reached the recorder before the page died.

        For a tab or browser that crashed, was killed or ran out of memory: no
        DevTools call is made. The recorder's own processes (decoders, encoder)
        are not the browser's and outlive it, so everything the page handed over
        -- every audio chunk and screencast frame received -- is decoded and
        encoded exactly as ``stop()`` would, into the same files. The recording
        ends when the page made the last media it handed over (that chunk's or
        frame's own time).

        What can be lost is what was still inside the page: the audio its
        MediaRecorder had not yet handed over, at most one timeslice
        (``timeslice_ms``, 1 s; silence in the files if frames came later), and
        frames Chromium had not sent.
        ``pump()`` does not move media (the recorder's threads do, all the time),
        so how often it is called does not matter.

        Returns None if nothing was handed over after ``start()``, or if the
        recorder's own pipeline failed too (see ``ffmpeg.log``).
        """
        if self._state != "recording":
            raise RecorderError(f"recorder is {self._state}, not recording")
        self._state = "stopping"
        try:
            assert self._clock is not None
            duration = self._last_media_unix - self._clock.started_at_unix
            if duration <= 0:
                log.warning("recorder: the page handed over nothing before it was lost")
                self._state = "failed"
                return None
            log.info("recorder: salvaging %.1f s recorded before the page was lost", duration)
            return self._finish(self._last_media_unix, timeout)
        except RecorderError:
            log.exception("recorder: could not salvage the recording")
            self._state = "failed"
            return None
        except BaseException:
            self._state = "failed"
            raise
        finally:
            self.close()

    def _finish(self, stop_unix: float, timeout: float | None) -> RecordingFiles:
        """End the inputs at `stop_unix` and wait for the files (the page is not used).

        The video frames the pacer wrote past `stop_unix` are cut: it repeats the last frame
        until told to stop, which comes later than `stop_unix` when the page took its time to
        stop (it hands over its live PCM first) or was lost."""
        assert self._clock is not None
        duration = max(0.0, stop_unix - self._clock.started_at_unix)
        with self._lock:
            self._final_duration = duration
            self._final_frames = max(1, round(duration * self.fps))
            if self._current_seg >= 0:
                self._chunk_q.put(("end", self._current_seg))
            self._current_seg = -2  # ignore late chunks/navigations
        self._chunk_q.put(None)
        self._seg_q.put(None)
        self._wake.set()

        deadline = time.monotonic() + (timeout or max(60.0, duration))
        assert self._encoder is not None
        try:
            self._encoder.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired as exc:
            raise RecorderError("encoder did not finish in time") from exc
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        self._raise_if_failed()
        if self._encoder.returncode != 0:
            raise RecorderError(
                f"ffmpeg exited with {self._encoder.returncode}, see {self._encoder_log_path}"
            )
        self._finalize_mp4(deadline, duration)
        self._state = "stopped"
        return RecordingFiles(
            mp4=self.mp4_path,
            wav=self.wav_path,
            duration_s=duration,
            clock=self._clock,
            segments=len(self._segments),
            stats=self.stats(),
        )

    def _finalize_mp4(self, deadline: float, duration: float) -> None:
        """Fragmented MP4 -> plain MP4 (duration in the header, index first), cut at
        `duration` if given."""
        if self.live_mp4_path is None or self.mp4_path is None:
            return
        cut = ["-t", f"{duration:.3f}"]
        cmd = [
            self.ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-i", str(self.live_mp4_path), "-map", "0", "-c", "copy", *cut,
            "-movflags", "+faststart", "-f", "mp4", str(self.mp4_path),
        ]
        try:
            with open(self._encoder_log_path, "ab") as log_file:
                subprocess.run(
                    cmd, stdout=subprocess.DEVNULL, stderr=log_file, check=True,
                    timeout=max(10.0, deadline - time.monotonic()),
                )
        except (subprocess.SubprocessError, OSError) as exc:
            # The fragmented file is a valid MP4 too: deliver that one.
            log.warning("recorder: remux to plain MP4 failed (%s); keeping fragmented MP4", exc)
            os.replace(self.live_mp4_path, self.mp4_path)
            return
        self.live_mp4_path.unlink(missing_ok=True)

    def screenshot_png(self) -> bytes:
        """A PNG of the tab as it is now (uses the driver: call from the runner's thread)."""
        return self._driver.get_screenshot_as_png()

    def close(self) -> None:
        """Release everything (kills ffmpeg if still running). Idempotent."""
        if self._state == "recording":
            self._state = "failed"
        self._wake.set()
        self._chunk_q.put(None)
        self._seg_q.put(None)
        if self._cdp is not None:
            self._cdp.close()
            self._cdp = None
        for seg in list(self._segments.values()):
            seg.close(kill=self._state != "stopped")
        if self._encoder is not None and self._encoder.poll() is None:
            if self._state != "stopped":
                self._encoder.kill()
            try:
                self._encoder.wait(10)
            except subprocess.TimeoutExpired:
                self._encoder.kill()
                self._encoder.wait(5)
        if self._audio_pipe is not None:
            with contextlib.suppress(OSError):
                self._audio_pipe.close()
        if self._encoder is not None and self._encoder.stdin is not None:
            with contextlib.suppress(OSError):
                self._encoder.stdin.close()
        for t in self._threads:
            t.join(5)
        if self._encoder_log is not None:
            self._encoder_log.close()
            self._encoder_log = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ internals
    def _started_segment(self, seg: _Segment, info: dict[str, Any]) -> None:
        seg.start_unix = info["date"] / 1000.0
        for tap, started in enumerate(info.get("pcm") or []):
            if started.get("date") is not None:
                seg.pcm_start_unix[tap] = started["date"] / 1000.0
            else:
                log.warning("recorder: no live PCM %d in segment %d: %s", tap, seg.index,
                            started.get("error"))

    def _start_expression(self, segment: int) -> str:
        options: dict[str, Any] = {"segment": segment, "timesliceMs": self.timeslice_ms}
        if self.pcm:
            options["pcm"] = [{"rate": tap.rate, "frameMs": tap.frame_ms} for tap in self.pcm]
        if self.channels:
            options["channels"] = {"rate": self.channels.rate, "frameMs": self.channels.frame_ms}
        opts = json.dumps(options)
        return (
            "(async () => {"
            f" if (!window.__mbRec) {{ {recorder_script()} }}"
            f" return await window.__mbRec.start({opts}); }})()"
        )

    def _spawn_encoder(self) -> None:
        r, w = os.pipe()
        with contextlib.suppress(OSError):
            fcntl.fcntl(w, _F_SETPIPE_SZ, 1 << 20)
        audio_in = [
            "-thread_queue_size", "4096",
            "-f", "s16le", "-ar", str(AUDIO_RATE), "-ac", "1", "-i", f"pipe:{r}",
        ]
        wav_out = [
            "-ac", "1", "-ar", str(WAV_RATE), "-c:a", "pcm_s16le", "-f", "wav", str(self.wav_path),
        ]
        cmd = [self.ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
        if self.video:
            w_, h_ = self.size
            vf = (
                f"scale={w_}:{h_}:force_original_aspect_ratio=decrease,"
                f"pad={w_}:{h_}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p"
            )
            cmd += [
                "-thread_queue_size", "512",
                "-f", "image2pipe", "-c:v", "mjpeg", "-framerate", str(self.fps), "-i", "pipe:0",
                *audio_in,
                "-map", "0:v", "-map", "1:a", "-vf", vf,
                "-c:v", "libx264", "-preset", self.x264_preset, "-crf", str(self.crf),
                "-g", str(self.fps * 2), "-bf", "0", "-r", str(self.fps),
                "-c:a", "aac", "-b:a", self.audio_bitrate, "-ac", "1", "-ar", str(AUDIO_RATE),
                "-movflags", "+frag_keyframe+empty_moov+default_base_moof",
                "-f", "mp4", str(self.live_mp4_path),
                "-map", "1:a", *wav_out,
            ]
        else:
            cmd += [*audio_in, "-map", "0:a", *wav_out]
        self._encoder_log_path = self.workdir / "ffmpeg.log"
        self._encoder_log = open(self._encoder_log_path, "wb")  # noqa: SIM115
        try:
            self._encoder = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE if self.video else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._encoder_log,
                pass_fds=(r,),
                preexec_fn=_behind_the_browsers,
            )
        finally:
            os.close(r)
        self._audio_pipe = os.fdopen(w, "wb")
        if self.video and self._encoder.stdin is not None:
            with contextlib.suppress(OSError):
                fcntl.fcntl(self._encoder.stdin.fileno(), _F_SETPIPE_SZ, 1 << 20)

    def _new_segment(self) -> _Segment:
        with self._lock:
            index = len(self._segments)
            seg = _Segment(
                index,
                self.ffmpeg,
                self.workdir / f"decoder-{index}.log",
                self.workdir / f"decoder-{index}.webm" if self.keep_webm else None,
            )
            self._segments[index] = seg
            if self._current_seg >= 0:
                self._chunk_q.put(("end", self._current_seg))
            self._current_seg = index
            return seg

    def _start_thread(self, target, name: str) -> None:
        def run() -> None:
            try:
                target()
            except BaseException as exc:
                log.exception("recorder thread %s failed", name)
                self._errors.append(exc)

        t = threading.Thread(target=run, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def _raise_if_failed(self) -> None:
        if self._errors:
            raise RecorderError(f"recorder pipeline failed: {self._errors[0]!r}") from self._errors[0]
        if self._encoder is not None and self._encoder.poll() not in (None, 0):
            raise RecorderError(f"ffmpeg exited with {self._encoder.returncode}")
        if self._state == "recording" and self._cdp is not None and self._cdp.closed.is_set():
            raise RecorderError("DevTools connection to the page was lost")

    # --- CDP event handlers (run on the CDP loop thread; keep them quick)
    def _on_binding(self, params: dict[str, Any]) -> None:
        if params.get("name") != _EMIT_BINDING:
            return
        msg = json.loads(params["payload"])
        if msg.get("t") == "chunk":
            self._last_chunk_mono = time.monotonic()
            self._media_made_at(msg.get("date", time.time() * 1000) / 1000.0)
            self._chunk_q.put(("chunk", int(msg["seg"]), base64.b64decode(msg["data"])))
        elif msg.get("t") == "pcm" and "ch" in msg:
            self._on_channel_pcm(msg)
        elif msg.get("t") == "pcm":
            self._on_pcm(msg)
        elif msg.get("t") == "channel":
            self._channel_start_unix[f"{msg['seg']}-{msg['ch']}"] = msg["date"] / 1000.0
        elif msg.get("t") in ("vstart", "vchunk", "vend") and self.videos is not None:
            self._on_video(msg)
        elif msg.get("t") == "error":
            log.warning("page MediaRecorder error: %s", msg.get("msg"))

    def _on_video(self, msg: dict[str, Any]) -> None:
        tap, part = self.videos, str(msg["id"])
        assert tap is not None
        try:
            if msg["t"] == "vstart":
                meta = {k: msg.get(k) for k in ("key", "name", "kind")}
                tap.on_start(part, meta, float(msg["pt"]))
            elif msg["t"] == "vchunk":
                tap.on_chunk(part, base64.b64decode(msg["data"]))
            else:
                tap.on_end(part, float(msg["pt"]))
        except Exception:
            log.exception("recorder: the video part receiver failed")

    def _on_pcm(self, msg: dict[str, Any]) -> None:
        index, clock = int(msg.get("tap", 0)), self._clock
        seg = self._segments.get(int(msg["seg"]))
        if (clock is None or seg is None or not 0 <= index < len(self.pcm)
                or index not in seg.pcm_start_unix):
            return  # before start() has the segment's clocks: not on the timeline yet
        tap = self.pcm[index]
        offset = (seg.pcm_start_unix[index] - clock.started_at_unix
                  + int(msg["n"]) * tap.frame_ms / 1000.0)
        try:
            tap.on_frame(base64.b64decode(msg["data"]), offset)
        except Exception:
            log.exception("recorder: the live PCM receiver failed")

    def _on_channel_pcm(self, msg: dict[str, Any]) -> None:
        channel, clock, tap = f"{msg['seg']}-{msg['ch']}", self._clock, self.channels
        start_unix = self._channel_start_unix.get(channel)
        if clock is None or tap is None or start_unix is None:
            return  # before start() has the clock: not on the timeline yet
        offset = start_unix - clock.started_at_unix + int(msg["n"]) * tap.frame_ms / 1000.0
        try:
            tap.on_frame(channel, base64.b64decode(msg["data"]), offset)
        except Exception:
            log.exception("recorder: the channel receiver failed")

    def _media_made_at(self, unix: float) -> None:
        self._last_media_unix = max(self._last_media_unix, min(unix, time.time()))

    def _on_frame(self, params: dict[str, Any]) -> None:
        self._frames_in += 1
        shot = (params.get("metadata") or {}).get("timestamp")
        # On a busy machine screencast frames can arrive out of order (measured: up to 0.3 s
        # back): a frame painted before the one already taken would show the page going back in
        # time, e.g. a dialog the bot already closed coming back. Keep the newer one.
        if shot is not None and shot < self._latest_frame_shot:
            self._frames_stale += 1
        else:
            self._latest_frame = base64.b64decode(params["data"])
            self._latest_frame_shot = shot if shot is not None else self._latest_frame_shot
        self._media_made_at(shot or time.time())
        cdp = self._cdp
        if cdp is None:
            return
        # Pace acknowledgements so Chromium encodes at most ~fps frames a second.
        now = time.monotonic()
        due = max(now, self._last_ack + 1.0 / self.fps)
        self._last_ack = due
        ack = {"sessionId": params["sessionId"]}
        asyncio.get_running_loop().call_later(
            due - now, lambda: cdp.send_nowait("Page.screencastFrameAck", ack)
        )

    def _on_navigated(self, params: dict[str, Any]) -> None:
        frame = params.get("frame", {})
        if frame.get("parentId") or self._state != "recording" or self._resuming:
            return
        # A new document replaced the recorded one: its MediaRecorder is gone.
        # Start a new segment in the new document once it has loaded.
        self._resuming = True
        assert self._cdp is not None
        self._cdp.spawn(self._resume_after_navigation())

    async def _resume_after_navigation(self) -> None:
        cdp = self._cdp
        seg: _Segment | None = None
        try:
            for _attempt in range(40):
                await asyncio.sleep(0.25)
                if self._state != "recording" or cdp is None:
                    break
                if seg is None:
                    seg = self._new_segment()
                try:
                    # Bindings do not carry over to a new document by themselves.
                    await cdp.send("Runtime.addBinding", {"name": _EMIT_BINDING})
                    info = await cdp.aevaluate(self._start_expression(seg.index), timeout=10)
                except (CdpError, TimeoutError) as exc:
                    log.debug("recorder: resume attempt failed: %s", exc)
                    continue
                self._started_segment(seg, info)
                self._seg_q.put(seg)
                log.info("recorder: resumed after navigation (segment %d)", seg.index)
                return
            log.warning("recorder: could not resume after navigation; recording silence")
            if seg is not None:
                self._chunk_q.put(("end", seg.index))
        finally:
            self._resuming = False

    # --- worker threads
    def _feed_chunks(self) -> None:
        """Chunks from the page -> the segment's webm decoder."""
        while True:
            item = self._chunk_q.get()
            if item is None:
                return
            kind, index = item[0], item[1]
            seg = self._segments.get(index)
            if seg is None:
                continue
            if kind == "end":
                seg.end_input()
                continue
            if seg.proc.stdin is None or seg.proc.stdin.closed:
                log.debug("recorder: late chunk for finished segment %d dropped", index)
                continue
            try:
                seg.feed(item[2])
            except (BrokenPipeError, ValueError) as exc:
                raise RecorderError(f"audio decoder {index} died: {exc}") from exc

    def _mux_audio(self) -> None:
        """Decoded PCM of each segment -> the encoder, on the recording's timeline."""
        assert self._audio_pipe is not None
        out = self._audio_pipe
        written = 0
        zero = bytes(AUDIO_RATE * _SAMPLE_BYTES // 10)

        def pad(samples: int) -> None:
            nonlocal written
            left = samples * _SAMPLE_BYTES
            while left > 0:
                n = min(left, len(zero))
                out.write(zero[:n])
                left -= n
            written += samples
            self._samples_out = written

        try:
            while True:
                seg = self._seg_q.get()
                if seg is None:
                    break
                assert self._clock is not None and seg.start_unix is not None
                offset = round((seg.start_unix - self._clock.started_at_unix) * AUDIO_RATE)
                drop = 0
                if offset > written:
                    pad(offset - written)
                else:
                    drop = (written - offset) * _SAMPLE_BYTES
                stdout = seg.proc.stdout
                assert stdout is not None
                carry = b""
                while True:
                    data = stdout.read1(65536)
                    if not data:
                        break
                    if drop:
                        cut = min(drop, len(data))
                        data, drop = data[cut:], drop - cut
                    data = carry + data
                    usable = len(data) - (len(data) % _SAMPLE_BYTES)
                    data, carry = data[:usable], data[usable:]
                    if data:
                        out.write(data)
                        written += len(data) // _SAMPLE_BYTES
                        self._samples_out = written
                        if _is_sound(data):
                            self._sound_until = written
                seg.proc.wait()
            if self._final_duration is not None:
                target = round(self._final_duration * AUDIO_RATE)
                if target > written:
                    pad(target - written)
            out.flush()
        finally:
            with contextlib.suppress(OSError):
                out.close()

    def silent_for_s(self) -> float:
        """Seconds of the recording since the last sound anyone made (all of it if none)."""
        return (self._samples_out - self._sound_until) / AUDIO_RATE

    def _pace_video(self) -> None:
        """Latest screencast frame -> the encoder at a constant rate on the wall clock."""
        assert self._encoder is not None and self._encoder.stdin is not None
        out = self._encoder.stdin
        i = 0
        try:
            while True:
                limit = self._final_frames
                if limit is not None and i >= limit:
                    break
                if self._state not in ("recording", "stopping"):
                    return
                target = self._t0_mono + i / self.fps
                wait = target - time.monotonic()
                if limit is None and wait > 0:
                    self._wake.wait(wait)
                    continue
                frame = self._latest_frame
                assert frame is not None
                out.write(frame)
                out.flush()
                i += 1
                self._frames_out = i
        finally:
            with contextlib.suppress(OSError):
                out.close()


def _is_sound(pcm: bytes) -> bool:
    samples = array("h", pcm)
    return max(samples, default=0) > SOUND_LEVEL or -min(samples, default=0) > SOUND_LEVEL
