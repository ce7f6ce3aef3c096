// Zoom web client: no per-tile speaking class. The main tile shows the active speaker (its
// `.video-avatar__avatar-footer` name; the self-view thumbnail has its own), and it keeps showing
// the last speaker after they stop; so the name counts as speaking only while the meeting's audio
// (one mixed stream, measured here with an AnalyserNode) carries sound. The main tile switches a
// moment after a new voice starts, so a voice onset waits up to HOLD_MS for the name to change.
// Returns [{name, speaking, since, el}] for the remote participant in the main tile (none when it
// shows the bot itself); `since` is the voice onset, which the name is confirmed for only later.
const HOLD_MS = 800, HANGOVER_MS = 350, THRESHOLD = 0.008;
const squash = (s) => (s || "").replace(/\s+/g, " ").trim();
const frame = document.querySelector(".speaker-active-container__video-frame") ||
  document.querySelector(".gallery-video-container__video-frame.active-speaker");
if (!frame) return [];
const footer = frame.querySelector(".video-avatar__avatar-footer");
const name = footer ? squash(footer.innerText) : "";
const selfFooter = document.querySelector(".speaker-bar-container__video-frame .video-avatar__avatar-footer");
const self = selfFooter ? squash(selfFooter.innerText) : "";
if (!name || name === self) return [];

const v = window.__mbZoomVoice || (window.__mbZoomVoice = {meters: new Map(), on: false, lastLoud: 0, onsetAt: 0, onsetName: null, released: false});
// One meter per remote audio stream the page plays (dropped with the stream).
let level = null;
const streams = new Set(Array.from(document.querySelectorAll("audio")).map((a) => a.srcObject)
  .filter((s) => s instanceof MediaStream && s.getAudioTracks().length));
for (const [stream, meter] of v.meters) {
  if (streams.has(stream)) continue;
  if (meter.ctx) meter.ctx.close().catch(() => {});
  v.meters.delete(stream);
}
for (const stream of streams) {
  let meter = v.meters.get(stream);
  if (!meter) {
    try {
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      ctx.createMediaStreamSource(stream).connect(analyser);
      if (ctx.state !== "running") ctx.resume().catch(() => {});
      meter = {ctx, analyser, buf: new Float32Array(analyser.fftSize)};
    } catch (e) { meter = {broken: true}; }
    v.meters.set(stream, meter);
  }
  if (meter.broken) continue;
  meter.analyser.getFloatTimeDomainData(meter.buf);
  let sum = 0;
  for (const x of meter.buf) sum += x * x;
  level = Math.max(level || 0, Math.sqrt(sum / meter.buf.length));
}
if (level === null) return [{name, speaking: true, el: frame}];  // no audio to check against

const now = performance.now();
if (level > THRESHOLD) v.lastLoud = now;
const voice = now - v.lastLoud < HANGOVER_MS;
if (voice && !v.on) { v.on = true; v.onsetAt = now; v.onsetName = name; v.released = false; }
if (!voice) v.on = false;
if (v.on && !v.released && (name !== v.onsetName || now - v.onsetAt >= HOLD_MS)) {
  v.released = true;
  v.releasedName = name;
}
// The onset is this name's only if the tile showed it when the wait ended (not a later switch).
return [{name, speaking: v.on && v.released, since: name === v.releasedName ? v.onsetAt : null, el: frame}];
