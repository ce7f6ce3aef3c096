"""Scripted speech reaches the guest page as WebRTC remote audio, with speaking indicators."""

from __future__ import annotations

import time

ALICE_TEXT = "Hello everyone, this is Alice. Let us review the quarterly numbers together."
BOB_TEXT = "Thank you Alice."

# Injected into the guest page: samples every remote <audio> element with WebAudio analysers and
# records what the user would see on Alice's tile, every 50 ms.
PROBE = """
const audios = [...document.querySelectorAll('audio')];
const probe = {audios: audios.map(a => ({
    isStream: a.srcObject instanceof MediaStream,
    tracks: a.srcObject ? a.srcObject.getAudioTracks().map(t => t.readyState) : [],
    paused: a.paused,
  })), samples: []};
window.__probe = probe;
const ctx = new AudioContext();
const analysers = audios.filter(a => a.srcObject instanceof MediaStream).map(a => {
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  ctx.createMediaStreamSource(a.srcObject).connect(analyser);
  return analyser;
});
const buf = new Float32Array(2048);
const aliceTile = () => [...document.querySelectorAll('[data-participant-id]')]
  .find(t => [...t.querySelectorAll('span')].some(s => s.textContent === 'Alice'));
probe.timer = setInterval(() => {
  const rms = analysers.map(an => {
    an.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    return Math.sqrt(sum / buf.length);
  });
  const tile = aliceTile();
  probe.samples.push({
    t: Date.now() / 1000,
    rms,
    speaking: !!tile && tile.classList.contains('speaking'),
    level: tile ? Number(tile.getAttribute('data-audio-level')) : -1,
  });
}, 50);
probe.ctxState = ctx.state;
"""


def test_remote_audio_and_speaking_indicator(meet, client, code):
    client.create_meeting(
        code,
        participants=[{"name": "Alice"}, {"name": "Bob"}],
        admission={"action": "admit", "after": 0.5},
        script=[
            {"speaker": "Alice", "text": ALICE_TEXT, "at": 3.0},
            {"speaker": "Bob", "text": BOB_TEXT, "at": 11.0},
        ],
        end_after=60,
    )
    meet.join(code, "Listener Bot")
    meet.wait_in_call()
    meet.wait(5).until(lambda d: len(d.find_elements("css selector", "audio")) == 3)
    meet.wait(5).until(
        lambda d: d.execute_script(
            "return [...document.querySelectorAll('audio')].every(a => a.srcObject instanceof MediaStream)"
        )
    )
    meet.driver.execute_script(PROBE)

    state = client.wait_for(
        code, lambda s: s["utterances"][0]["actual_end"] is not None, timeout=20
    )
    alice = state["utterances"][0]
    time.sleep(1.5)
    probe = meet.driver.execute_script(
        "clearInterval(window.__probe.timer); return window.__probe;"
    )

    assert probe["ctxState"] == "running"
    assert len(probe["audios"]) == 3
    assert all(
        a["isStream"] and a["tracks"] == ["live"] and not a["paused"] for a in probe["audios"]
    )

    started, ended = alice["actual_start"], alice["actual_end"]
    assert alice["speaker"] == "Alice" and alice["text"] == ALICE_TEXT
    assert abs(started - alice["scheduled_start"]) < 0.5
    assert abs((ended - started) - alice["duration"]) < 0.5
    assert alice["scheduled_start"] == state["started_at"] + 3.0

    samples = probe["samples"]
    before = [s for s in samples if s["t"] < started - 0.3]
    during = [s for s in samples if started + 0.4 < s["t"] < ended - 0.4]
    after = [s for s in samples if s["t"] > ended + 0.6]
    assert before and during and after

    assert max(max(s["rms"]) for s in before) < 0.002, (
        "remote audio is not silent before Alice speaks"
    )
    loud = [s for s in during if max(s["rms"]) > 0.02]
    assert len(loud) > 0.6 * len(during), "Alice's speech did not arrive on the <audio> elements"
    assert max(max(s["rms"]) for s in after) < 0.002, "remote audio did not fall silent after Alice"

    assert all(s["speaking"] for s in during), (
        "Alice's tile lost its speaking class while she spoke"
    )
    assert any(s["level"] > 0 for s in during)
    assert not any(s["speaking"] for s in before)
    assert not any(s["speaking"] for s in after), "Alice's tile kept its speaking class"
    assert all(s["level"] == 0 for s in after)
