"""One bot's visit: join, wait to be admitted, record, notice the end, leave, upload.

Runs in a worker thread (Selenium is blocking). Everything it tells the platform goes through
`SessionEffects`, so the session knows nothing of NATS or the object store. Its files (the
recording as it is made, the browser's profile) live in a work directory of the bot's own,
removed when the visit ends: what is kept is in the object store.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from bot_runner.browser import Browser
from bot_runner.camera import ImagePolicy, camera_chromium_flags, prepare_camera
from bot_runner.media import PcmTap, RecordingFiles, TabRecorder, recorder_chromium_flags
from bot_runner.media.live_audio import LiveAudio
from bot_runner.media.microphone import TabMicrophone
from bot_runner.participants import MeetingRoster
from bot_runner.platforms import adapter_for
from bot_runner.platforms.base import InputDriver, PageState, PlatformAdapter
from bot_runner.separate_audio import ChannelAudio, separate, write_voices
from bot_runner.separate_video import VideoParts
from bot_runner.timeline import SpeakerTimelineBuilder
from bot_runner.transcript_feed import TranscriptFeed
from mb_shared.contracts.bot import (
    BotDispatched,
    BotError,
    BotParams,
    BotStatus,
    EndReason,
    Platform,
    RecordingMode,
)
from mb_shared.contracts.queries import QueryError
from mb_shared.contracts.recording import RecordingArtifacts, RecordingPiece
from mb_shared.contracts.separate_parts import StoredAudioPart, StoredVideoPart
from mb_shared.meeting_urls import parse_meeting_url

log = logging.getLogger(__name__)

FAILURES: dict[PageState, BotError] = {
    PageState.NOT_JOINABLE: BotError.CANNOT_JOIN_MEETING,
    PageState.DENIED: BotError.BOT_NOT_ACCEPTED,
    PageState.NO_RESPONSE: BotError.TIMEOUT_WAITING_TO_START,
}
END_STATES = {PageState.ENDED, PageState.REMOVED, PageState.NOT_JOINABLE}
ENTRY_MESSAGE_DEADLINE_S = 15.0
CHAT_OPEN_DEADLINE_S = 30.0
LIVE_FRAME_MS = 40
"""Length of each live audio frame sent to `streaming.output`."""
ASK_RETRY_DELAYS_S = (1.0, 3.0, None)
"""Pauses between asks for what a bot needs to join while the service that has it does not
answer."""


def encode_mp3(wav: Path) -> Path:
    """The recording of an audio-only bot, as users download it."""
    mp3 = wav.with_suffix(".mp3")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(wav), "-codec:a", "libmp3lame",
         "-b:a", "64k", str(mp3)],
        check=True, timeout=600,
    )
    return mp3


class SessionEffects(Protocol):
    def status(self, status: BotStatus, *, error: BotError | None = None,
               reason: EndReason | None = None, message: str | None = None) -> None: ...
    def note(self, message: str) -> None: ...
    def piece(self, event: RecordingPiece) -> None: ...
    def upload(self, name: str, path: Path, content_type: str) -> str: ...
    def upload_bytes(self, name: str, data: bytes, content_type: str) -> str: ...
    def recording_uploaded(self, artifacts: RecordingArtifacts, started_at: datetime | None,
                           duration_s: float, end_reason: EndReason, speakers: list[str]) -> None: ...
    def join_secrets(self) -> dict[str, str] | QueryError: ...
    def zoom_obf_token(self, zoom_user_id: str, meeting_id: str) -> str | QueryError: ...


@dataclass
class SessionConfig:
    chromium_path: str
    chromedriver_path: str
    extra_chromium_args: list[str]
    work_dir: Path
    screenshot_interval_s: float = 30.0
    dismiss_interval_s: float = 1.0
    everyone_left_grace_s: float = 15.0
    poll_s: float = 0.5
    separate_video: bool = True
    """Record each webcam and screenshare on its own where the page plays them apart."""
    image_policy: ImagePolicy = field(default_factory=ImagePolicy)


class BotFailure(Exception):
    def __init__(self, error: BotError, reason: EndReason, message: str) -> None:
        super().__init__(message)
        self.error, self.reason, self.message = error, reason, message


@dataclass
class BotSession:
    dispatch: BotDispatched
    config: SessionConfig
    effects: SessionEffects
    leave_requested: threading.Event = field(default_factory=threading.Event)
    live: LiveAudio | None = field(default=None, init=False)
    microphone: TabMicrophone | None = field(default=None, init=False)
    feed: TranscriptFeed | None = field(default=None, init=False)
    channels: ChannelAudio | None = field(default=None, init=False)
    videos: VideoParts | None = field(default=None, init=False)

    def run(self) -> None:
        params = self.dispatch.params
        self.effects.status(BotStatus.JOINING_CALL)
        workdir = self.config.work_dir / str(self.dispatch.bot_id)
        workdir.mkdir(parents=True, exist_ok=True)
        browser: Browser | None = None
        recorder: TabRecorder | None = None
        try:
            video = params.recording_mode != RecordingMode.AUDIO_ONLY
            camera = prepare_camera(params.bot_image, params.bot_name, workdir,
                                    self.config.image_policy)
            browser = Browser(
                self.config.chromium_path,
                self.config.chromedriver_path,
                [*recorder_chromium_flags(), *camera_chromium_flags(camera),
                 *self.config.extra_chromium_args],
                workdir,
            )
            self.live = self._live_audio(browser)
            pcm = ([PcmTap(self.live.sample_rate, self.live.frame_ms, self.live.push)]
                   if self.live is not None and self.live.sends else [])
            stt = params.speech_to_text
            if stt is not None:
                self.feed = TranscriptFeed(self.dispatch.bot_id, self.effects, stt.provider,
                                           live_transcript=stt.live_transcript,
                                           language=params.language)
                pcm.append(self.feed.tap)
            platform = adapter_for(params.platform)
            if platform.voices_apart:
                self.channels = ChannelAudio(workdir / "channels")
            if platform.videos_apart and video and self.config.separate_video:
                self.videos = VideoParts(workdir / "videos")
            recorder = TabRecorder(browser.driver, workdir, video=video, pcm=pcm,
                                   channels=self.channels.tap() if self.channels else None,
                                   videos=self.videos.tap() if self.videos else None)
            recorder.install()
            adapter = platform(browser.driver, InputDriver(browser.driver),
                               self.config.image_policy.outbound)
            adapter.microphone = self.microphone is not None
            browser.driver.get(adapter.join_url(self._with_join_secrets(params)))
            self._screenshot(browser, "joining")
            if not self._wait_for_admission(adapter, browser):
                return
            self._record(adapter, recorder, browser)
        except BotFailure as failure:
            if browser is not None:
                self._screenshot(browser, "failure")
            self.effects.status(BotStatus.FAILED, error=failure.error, reason=failure.reason,
                                message=failure.message)
        except Exception as exc:
            if browser is not None and not browser.responds():
                log.error("the bot's browser crashed: %s", exc, extra={"bot_id": self.dispatch.bot_id})
                self.effects.status(BotStatus.FAILED, error=BotError.INTERNAL_ERROR,
                                    reason=EndReason.BROWSER_CRASHED,
                                    message="The bot's browser crashed, so the bot left the meeting.")
                return
            log.exception("bot session crashed", extra={"bot_id": self.dispatch.bot_id})
            if browser is not None:
                self._screenshot(browser, "failure")
            self.effects.status(BotStatus.FAILED, error=BotError.INTERNAL_ERROR,
                                reason=EndReason.INTERNAL_ERROR,
                                message=f"The bot hit an internal error: {type(exc).__name__}")
        finally:
            self._end_live_audio()
            if self.feed is not None:
                self.feed.finish(None)
            if recorder is not None:
                recorder.close()
            if self.channels is not None:
                self.channels.close()
            if self.videos is not None:
                self.videos.close()
            if browser is not None:
                browser.close()
            shutil.rmtree(workdir, ignore_errors=True)

    def _live_audio(self, browser: Browser) -> LiveAudio | None:
        """The bot's live audio sockets, if it has `streaming.output` or `streaming.input`; with
        an input, the microphone they feed, installed in the tab before the meeting loads."""
        streaming = self.dispatch.params.streaming or {}
        output, input_ = streaming.get("output"), streaming.get("input")
        if not output and not input_:
            return None
        rate = 24_000 if streaming.get("audio_frequency") == "24khz" else 16_000
        if input_:
            self.microphone = TabMicrophone(browser.driver, rate)
            self.microphone.install()
        return LiveAudio(
            self.dispatch.bot_id, output=output, input=input_, sample_rate=rate,
            frame_ms=LIVE_FRAME_MS, policy=self.config.image_policy.outbound,
            on_input=self.microphone.speak if self.microphone is not None else None,
        )

    def _tell_speakers(self, events: list[dict], recorder: TabRecorder) -> None:
        """Who started or stopped speaking, to the live audio's receiver."""
        clock = recorder.clock
        if self.live is None or clock is None:
            return
        for event in events:
            self.live.speaker(event["name"], bool(event["on"]),
                              max(0.0, clock.media_time_from_page_ms(float(event["t"]))))

    def _note_live_audio(self) -> None:
        """What happened to the live audio sockets, into the bot's status history."""
        if self.live is not None:
            for message in self.live.take_notes():
                self.effects.note(message)

    def _end_live_audio(self) -> None:
        if self.live is not None:
            self.live.close()
            log.info("live audio: %s", self.live.stats(), extra={"bot_id": self.dispatch.bot_id})
            self._note_live_audio()
            self.live = None
        if self.microphone is not None:
            try:
                log.info("microphone: %s", self.microphone.status(),
                         extra={"bot_id": self.dispatch.bot_id})
            except Exception:
                pass  # the page is gone: nothing to report
            self.microphone.close()
            self.microphone = None

    def _screenshot(self, browser: Browser, label: str) -> None:
        try:
            png = browser.driver.get_screenshot_as_png()
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            self.effects.upload_bytes(f"screenshots/{stamp}-{label}.png", png, "image/png")
        except Exception:
            log.warning("screenshot %s failed", label, extra={"bot_id": self.dispatch.bot_id})

    def _with_join_secrets(self, params: BotParams) -> BotParams:
        """A Zoom bot joins with its secrets, asked for now (the scheduler keeps them; events
        never carry them); one with `zoom_obf_token_user_id` and no token of its own, with an
        OBF token of that user's Zoom OAuth connection. A service that does not answer is asked
        again twice; a refusal fails the bot at once."""
        if params.platform != Platform.ZOOM:
            return params
        zoom = {**(params.zoom or {}), **self._asked(
            self.effects.join_secrets, "its Zoom secrets",
            BotError.INTERNAL_ERROR, EndReason.INTERNAL_ERROR)}
        user_id = zoom.get("zoom_obf_token_user_id")
        if user_id and not zoom.get("zoom_obf_token") and not zoom.get("zoom_obf_token_url"):
            meeting_id = parse_meeting_url(params.meeting_url).meeting_id
            zoom["zoom_obf_token"] = self._asked(
                lambda: self.effects.zoom_obf_token(str(user_id), meeting_id), "a Zoom OBF token",
                BotError.CANNOT_JOIN_MEETING, EndReason.SIGN_IN_REQUIRED)
        return params.model_copy(update={"zoom": zoom or None})

    def _asked(self, ask, what: str, error: BotError, reason: EndReason):
        for delay in ASK_RETRY_DELAYS_S:
            reply = ask()
            if not isinstance(reply, QueryError):
                return reply
            if reply.status != 503 or delay is None:
                break
            time.sleep(delay)
        raise BotFailure(error, reason, f"The bot could not get {what}: {reply.message}")

    def _wait_for_admission(self, adapter: PlatformAdapter, browser: Browser) -> bool:
        """True once in the call; False if the user asked the bot to leave first."""
        timeout = self.dispatch.params.automatic_leave.waiting_room_timeout
        deadline = time.monotonic() + timeout
        asked_at: float | None = None
        waiting_reported = False
        while True:
            if self.leave_requested.is_set():
                self.effects.status(BotStatus.CALL_ENDED, reason=EndReason.LEFT_ON_REQUEST)
                self.effects.recording_uploaded(RecordingArtifacts(), None, 0.0,
                                                EndReason.LEFT_ON_REQUEST, [])
                return False
            seen = adapter.observe()
            if seen.state in FAILURES:
                raise BotFailure(FAILURES[seen.state], seen.reason or EndReason.INTERNAL_ERROR,
                                 seen.evidence or seen.state.value)
            if seen.state in (PageState.REMOVED, PageState.ENDED):
                raise BotFailure(BotError.CANNOT_JOIN_MEETING, seen.reason or EndReason.MEETING_ENDED,
                                 seen.evidence)
            if seen.state == PageState.IN_CALL:
                return True
            adapter.tend(seen)
            if seen.state == PageState.PRE_JOIN and (asked_at is None or time.monotonic() - asked_at > 10):
                if adapter.ask_to_join(self.dispatch.params.bot_name):
                    asked_at = time.monotonic()
            if seen.state == PageState.WAITING_ROOM and not waiting_reported:
                waiting_reported = True
                self.effects.status(BotStatus.IN_WAITING_ROOM)
                self._screenshot(browser, "waiting-room")
            if time.monotonic() > deadline:
                adapter.leave()
                raise BotFailure(
                    BotError.TIMEOUT_WAITING_TO_START, EndReason.WAITING_ROOM_TIMEOUT,
                    f"The bot was not admitted within {timeout} s.",
                )
            time.sleep(self.config.poll_s)

    def _record(self, adapter: PlatformAdapter, recorder: TabRecorder, browser: Browser) -> None:
        self.effects.status(BotStatus.IN_CALL_NOT_RECORDING)
        adapter.dismiss_dialogs()
        adapter.arrange(self.dispatch.params.recording_mode)
        if self.microphone is not None:
            try:
                self.microphone.open()
            except Exception as exc:  # the bot records all the same, silent
                log.warning("microphone not opened: %s", exc, extra={"bot_id": self.dispatch.bot_id})
                self.effects.note("streaming.input: the bot's microphone could not be opened")
        if self.live is not None:
            self.live.start()
        if self.feed is not None:
            self.feed.start()
        clock = recorder.start()
        if self.live is not None:
            self.live.recording_started(clock.started_at_unix)
        started_at = datetime.fromtimestamp(clock.started_at_unix, UTC)
        timeline = SpeakerTimelineBuilder(MeetingRoster(
            clock.started_at_page_ms, clock.started_at_unix, self.dispatch.params.platform))
        try:
            # Starting the recorder takes a while (seconds on a busy machine): a notice that came
            # over the call meanwhile is in the recording from its first frame. Accept it first.
            if adapter.observe().dialog:
                adapter.dismiss_dialogs()
            self._screenshot(browser, "admitted")
            adapter.start_speaker_probe()
            adapter.start_roster_probe(record_video=self.videos is not None)
            adapter.start_chat_probe()
            self.effects.status(BotStatus.IN_CALL_RECORDING)
            reason = self._watch_call(adapter, recorder, browser, timeline)
        except Exception as exc:
            files = self._salvage(recorder, browser, exc)
            reason = EndReason.BROWSER_CRASHED
        else:
            if reason == EndReason.NO_ONE_JOINED:
                self._screenshot(browser, "alone")
                adapter.leave()
                timeout = self.dispatch.params.automatic_leave.noone_joined_timeout
                raise BotFailure(BotError.TIMEOUT_WAITING_TO_START, reason,
                                 f"No other participant joined within {timeout} s, so the bot left.")
            files = recorder.stop()
            self._end_live_audio()
            self._take_page_events(adapter, timeline)
            if reason not in (EndReason.REMOVED, EndReason.MEETING_ENDED):
                adapter.leave()
        pieces = self.feed.finish(timeline) if self.feed is not None else None
        timeline.close(files.duration_s)
        self.effects.status(BotStatus.CALL_ENDED, reason=reason)
        self._deliver(files, timeline, started_at, reason, pieces)

    def _salvage(self, recorder: TabRecorder, browser: Browser, exc: Exception) -> RecordingFiles:
        """What was recorded until the browser died (crashed, killed, out of memory). Re-raises
        `exc` if the browser is fine, or if nothing usable was recorded: the bot then fails."""
        if browser.responds():
            raise exc
        log.error("the bot's browser crashed while recording: %s", exc,
                  extra={"bot_id": self.dispatch.bot_id})
        files = recorder.salvage()
        if files is None:
            raise exc
        return files

    def _deliver(self, files: RecordingFiles, timeline: SpeakerTimelineBuilder,
                 started_at: datetime, reason: EndReason, pieces: int | None) -> None:
        mp3 = None if files.mp4 else encode_mp3(files.wav)
        artifacts = RecordingArtifacts(
            mp4=self.effects.upload("recording.mp4", files.mp4, "video/mp4") if files.mp4 else None,
            mp3=self.effects.upload("recording.mp3", mp3, "audio/mpeg") if mp3 else None,
            audio=self.effects.upload("audio.wav", files.wav, "audio/wav") if files.wav else None,
            pieces=pieces,
            separate_audio=self._upload_separate_audio(timeline, workdir=files.wav.parent),
            separate_video=self._upload_separate_video(timeline, files.duration_s),
            **self._upload_meeting_data(timeline),
        )
        self.effects.recording_uploaded(artifacts, started_at, files.duration_s, reason,
                                        timeline.speakers())

    def _upload_separate_audio(self, timeline: SpeakerTimelineBuilder,
                               workdir: Path) -> list[StoredAudioPart]:
        """Each participant's own voice, where the page played voices apart. Without it (it
        could not be made) the bot delivers the rest, with a note saying so."""
        if self.channels is None:
            return []
        try:
            voices = separate(self.channels.close(), timeline.entries())
            parts = write_voices(self.channels, voices, timeline.roster.started_at_unix,
                                 workdir / "channels")
        except (OSError, subprocess.SubprocessError, RuntimeError):
            log.exception("separate audio not made", extra={"bot_id": self.dispatch.bot_id})
            self.effects.note("separate_audio: each participant's audio could not be made")
            return []
        return [part.model_copy(update={"key": self.effects.upload(
                    f"separate_audio/{part.id}.flac", path, "audio/flac")})
                for part, path in parts]

    def _upload_separate_video(self, timeline: SpeakerTimelineBuilder,
                               duration_s: float) -> list[StoredVideoPart]:
        """Each webcam and screenshare the page played apart. Without them (they could not be
        made) the bot delivers the rest, with a note saying so."""
        if self.videos is None:
            return []
        try:
            parts = self.videos.write(timeline.roster, duration_s)
        except OSError:
            log.exception("separate video not made", extra={"bot_id": self.dispatch.bot_id})
            self.effects.note("separate_video: the webcams and screenshares could not be made")
            return []
        return [part.model_copy(update={"key": self.effects.upload(
                    f"separate_video/{part.id}.webm", path, "video/webm")})
                for part, path in parts]

    def _upload_meeting_data(self, timeline: SpeakerTimelineBuilder) -> dict[str, str]:
        """What the bot saw so far (during the call too: a runner that dies mid-call leaves it
        behind): object keys by `RecordingArtifacts` field."""
        roster = timeline.roster
        files = {"speaker_timeline": ("speaker_timeline.json", timeline.to_json()),
                 "participants": ("participants.json", roster.participants_json()),
                 "participant_events": ("participant_events.json", roster.events_json()),
                 "speaker_diarization": ("speaker_diarization.json", roster.diarization_json())}
        return {field: self.effects.upload_bytes(name, data, "application/json")
                for field, (name, data) in files.items()}

    def _open_chat(self, adapter: PlatformAdapter, since_admission_s: float) -> bool:
        """Open the meeting chat for the chat probe; True once open, or once given up."""
        try:
            if adapter.open_chat():
                return True
        except Exception as exc:
            log.debug("chat not opened yet: %s", type(exc).__name__,
                      extra={"bot_id": self.dispatch.bot_id})
        if since_admission_s > CHAT_OPEN_DEADLINE_S:
            log.info("the meeting chat could not be opened within %.0f s: its messages are not "
                     "read", CHAT_OPEN_DEADLINE_S, extra={"bot_id": self.dispatch.bot_id})
            return True
        return False

    def _post_entry_message(self, adapter: PlatformAdapter, text: str,
                            since_admission_s: float) -> str | None:
        """Try to post `entry_message`; what is still to post (None once done or given up).
        Platforms where guests have no chat are said so in the log, not failed."""
        bot = {"bot_id": self.dispatch.bot_id}
        try:
            if adapter.send_chat(text):
                log.info("entry message posted %.1f s after admission", since_admission_s,
                         extra=bot)
            else:
                log.info("entry message not posted: guests have no chat on %s",
                         self.dispatch.params.platform.value, extra=bot)
            return None
        except Exception as exc:
            if since_admission_s > ENTRY_MESSAGE_DEADLINE_S:
                log.warning("entry message not posted within %.0f s: %s",
                            ENTRY_MESSAGE_DEADLINE_S, type(exc).__name__, extra=bot)
                return None
            return text

    @staticmethod
    def _take_page_events(adapter: PlatformAdapter, timeline: SpeakerTimelineBuilder) -> list[dict]:
        """What the page's probes saw since the last look, into the roster and the timeline
        (joins first, so that a newcomer's first words are theirs); the speaking events."""
        try:
            speech, people, chat = adapter.drain_page_events()
        except Exception:
            return []
        timeline.roster.add_roster_events(people)
        timeline.add_events(speech)
        for message in chat:
            timeline.roster.chat(message)
        return speech

    def _watch_call(self, adapter: PlatformAdapter, recorder: TabRecorder, browser: Browser,
                    timeline: SpeakerTimelineBuilder) -> EndReason:
        """Why the bot leaves: the meeting's end, a leave request, or one of the automatic-leave
        rules (no one else arrived, everyone else left, no one spoke for too long)."""
        leave = self.dispatch.params.automatic_leave
        admitted = last_shot = last_dismissal = time.monotonic()
        alone_since: float | None = None
        someone_seen = chat_open = False
        entry_message = self.dispatch.params.entry_message
        while True:
            recorder.pump()
            self._note_live_audio()
            self._tell_speakers(self._take_page_events(adapter, timeline), recorder)
            if self.feed is not None and recorder.clock is not None:
                self.feed.send_ready(timeline, time.time() - recorder.clock.started_at_unix)
            if self.leave_requested.is_set():
                return EndReason.LEFT_ON_REQUEST
            seen = adapter.observe()
            if seen.state in END_STATES:
                return seen.reason or EndReason.MEETING_ENDED
            if seen.state == PageState.IN_CALL:
                if seen.participants:
                    someone_seen, alone_since = True, None
                elif someone_seen:
                    alone_since = alone_since or time.monotonic()
                    if time.monotonic() - alone_since > self.config.everyone_left_grace_s:
                        return EndReason.EVERYONE_LEFT
                elif time.monotonic() - admitted > leave.noone_joined_timeout:
                    return EndReason.NO_ONE_JOINED
            if recorder.silent_for_s() > leave.silence_timeout:
                return EndReason.SILENCE_TIMEOUT
            # A dialog seen over the call is accepted now: until then it is in the recording.
            if seen.dialog or time.monotonic() - last_dismissal > self.config.dismiss_interval_s:
                last_dismissal = time.monotonic()
                adapter.dismiss_dialogs()
            if entry_message and seen.state == PageState.IN_CALL:
                entry_message = self._post_entry_message(adapter, entry_message,
                                                         time.monotonic() - admitted)
            if not chat_open and entry_message is None and seen.state == PageState.IN_CALL:
                chat_open = self._open_chat(adapter, time.monotonic() - admitted)
            if time.monotonic() - last_shot > self.config.screenshot_interval_s:
                last_shot = time.monotonic()
                self._screenshot(browser, "in-call")
                self._upload_meeting_data(timeline)
            time.sleep(self.config.poll_s)
