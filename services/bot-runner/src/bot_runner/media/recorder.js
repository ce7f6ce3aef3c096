// In-page audio recorder for the meeting bot.
//
// Injected before any page script (Page.addScriptToEvaluateOnNewDocument) and,
// as a fallback, evaluated into an already loaded document. It observes every
// sound source the page plays:
//   * <audio>/<video> elements fed by a MediaStream (srcObject) -- the way
//     Meet/Teams play remote participants; elements may be pooled, created or
//     re-assigned at any time;
//   * media elements playing a plain URL (join chimes, ...), via captureStream();
//   * Web Audio graphs connected to an AudioContext's destination (Zoom-style
//     playback).
// While recording, all of them are mixed in a private AudioContext into a
// MediaStreamAudioDestinationNode that a MediaRecorder encodes (webm/opus).
// Chunks are handed to the controlling process through a CDP binding.
// With `pcm` options the same mix is also handed over as raw PCM, live: for each, the recorded
// track is read as it plays (MediaStreamTrackProcessor), brought to the asked rate and cut into
// frames of 16-bit little-endian mono samples, each emitted as soon as it is complete.
// With a `channels` option each media element the page plays a stream on (Meet's pool of remote
// audio elements) is also handed over on its own as such PCM: a channel, rendered by the same
// context as the mix, so that it lines up with the recording.
// `videoSlot(slot, element, meta)` records the video an element plays (a participant's webcam or
// screenshare, as the roster probe finds it) on its own, as webm parts handed over like the chunks.
//
// The page itself is left alone: its elements keep playing as before.
(() => {
  'use strict';
  const KEY = '__mbRec';
  if (Object.prototype.hasOwnProperty.call(window, KEY)) return;

  // Same-origin child frames forward their sources to the top frame's mixer.
  let parentRec = null;
  try {
    if (window.top !== window && window.top[KEY]) parentRec = window.top[KEY];
  } catch (e) { /* cross-origin frame: nothing we can do from here */ }

  const MediaEl = window.HTMLMediaElement;
  const NodeProto = window.AudioNode && window.AudioNode.prototype;
  const log = [];
  const note = (msg) => { if (log.length < 200) log.push(String(msg)); };

  // ------------------------------------------------------------------ sources
  // A "source" is anything that contributes audio: a media element or a tap
  // on a page AudioContext's destination.
  const sources = new Set();
  let mixer = null; // set while recording (only in the top frame)

  function elementSource(el) {
    let src = el[KEY + 'Src'];
    if (src) return src;
    src = {
      kind: 'element', el, stream: null, captured: null, routed: false, nodes: new Map(),
      streamListener: () => refresh(src),
    };
    Object.defineProperty(el, KEY + 'Src', { value: src, enumerable: false });
    for (const ev of ['play', 'playing', 'pause', 'volumechange', 'emptied', 'ended', 'loadedmetadata']) {
      el.addEventListener(ev, () => refresh(src));
    }
    return src;
  }

  function currentStream(src) {
    const el = src.el;
    let so = null;
    try { so = el.srcObject; } catch (e) { so = null; }
    if (so && typeof so.getAudioTracks === 'function') return so;
    // Plain URL playback: tap it with captureStream() once it plays.
    if (!so && !el.paused && (el.currentSrc || el.src)) {
      if (!src.captured) {
        try {
          const cs = el.captureStream || el.mozCaptureStream;
          if (cs) {
            src.captured = cs.call(el);
            // Only the sound is wanted; do not keep video frames flowing.
            for (const t of src.captured.getVideoTracks()) t.stop();
          }
        } catch (e) { note('captureStream: ' + e); src.captured = null; }
      }
      return src.captured;
    }
    return null;
  }

  function wantedTracks(src) {
    if (src.kind === 'tap') return src.stream ? src.stream.getAudioTracks() : [];
    const el = src.el;
    const stream = currentStream(src);
    if (stream !== src.stream) {
      if (src.stream) {
        src.stream.removeEventListener('addtrack', src.streamListener);
        src.stream.removeEventListener('removetrack', src.streamListener);
      }
      src.stream = stream;
      if (stream) {
        stream.addEventListener('addtrack', src.streamListener);
        stream.addEventListener('removetrack', src.streamListener);
      }
    }
    // Audible as the page's user would hear it: playing, not muted, volume > 0
    // and not re-routed into Web Audio (that path is caught by the taps).
    if (!stream || src.routed || el.paused || el.muted || !(el.volume > 0)) return [];
    return stream.getAudioTracks().filter((t) => t.readyState === 'live');
  }

  function refresh(src) {
    if (parentRec) { parentRec.refreshForeign(src); return; }
    try {
      const tracks = mixer ? wantedTracks(src) : [];
      const ids = new Set(tracks.map((t) => t.id));
      for (const [id, n] of src.nodes) {
        if (!ids.has(id)) {
          try { n.source.disconnect(); n.gain.disconnect(); } catch (e) { /* already gone */ }
          src.nodes.delete(id);
        }
      }
      if (src.kind === 'element' && !src.nodes.size && !src.el.isConnected && src.el.paused &&
          !src.el.srcObject) {
        sources.delete(src); // forget detached, idle elements (re-added if used again)
      }
      if (!mixer) return;
      const vol = src.kind === 'element' ? src.el.volume : 1;
      for (const t of tracks) {
        let n = src.nodes.get(t.id);
        if (!n) {
          const source = mixer.ctx.createMediaStreamSource(new MediaStream([t]));
          const gain = mixer.ctx.createGain();
          source.connect(gain);
          gain.connect(mixer.bus);
          n = { source, gain };
          src.nodes.set(t.id, n);
          if (!t[KEY + 'Ended']) {
            Object.defineProperty(t, KEY + 'Ended', { value: true });
            t.addEventListener('ended', () => refresh(src));
          }
        }
        n.gain.gain.value = vol;
        const channel = channelOf(src);
        if (channel && !n.channel) {
          n.gain.connect(channel.dest);
          n.channel = channel;
        }
      }
    } catch (e) { note('refresh: ' + e); }
  }

  // The element's own channel in this recording, made when it first plays a stream.
  function channelOf(src) {
    if (!mixer || !mixer.channels || src.kind !== 'element' || !src.stream || src.captured) return null;
    if (src.channel && src.channel.mixer === mixer) return src.channel;
    const dest = mixer.ctx.createMediaStreamDestination();
    dest.channelCount = 1;
    dest.channelCountMode = 'explicit';
    const id = mixer.channelList.length;
    const handle = startPcm(dest.stream, mixer.ctx, mixer.segment, mixer.channels, { ch: id });
    src.channel = { mixer, dest, handle, id };
    mixer.channelList.push(src.channel);
    if (handle) emit({ t: 'channel', seg: mixer.segment, ch: id, date: handle.date });
    return src.channel;
  }

  function track(src) {
    if (parentRec) { parentRec.refreshForeign(src); return; }
    sources.add(src);
    refresh(src);
  }

  // ----------------------------------------------------------- element hooks
  if (MediaEl) {
    const desc = Object.getOwnPropertyDescriptor(MediaEl.prototype, 'srcObject');
    if (desc && desc.set) {
      Object.defineProperty(MediaEl.prototype, 'srcObject', {
        configurable: true,
        enumerable: desc.enumerable,
        get: desc.get,
        set: function (v) {
          desc.set.call(this, v);
          try { track(elementSource(this)); } catch (e) { note('srcObject: ' + e); }
        },
      });
    }
    // URL playback and elements we have not seen yet ('play' does not bubble,
    // but capturing listeners see it).
    window.addEventListener('play', (ev) => {
      const el = ev.target;
      if (el instanceof MediaEl) { try { track(elementSource(el)); } catch (e) { note('play: ' + e); } }
    }, true);
  }

  // ------------------------------------------------------------- Web Audio
  const taps = new WeakMap(); // page AudioContext -> tap source
  function tapFor(ctx) {
    let tap = taps.get(ctx);
    if (!tap) {
      const dest = ctx.createMediaStreamDestination();
      tap = { kind: 'tap', dest, stream: dest.stream, nodes: new Map() };
      taps.set(ctx, tap);
      track(tap);
    }
    return tap;
  }
  function isPageDestination(node) {
    return window.AudioDestinationNode && node instanceof window.AudioDestinationNode &&
      window.AudioContext && node.context instanceof window.AudioContext &&
      !(mixer && node.context === mixer.ctx) && !node.context[KEY + 'Own'];
  }
  if (NodeProto && window.AudioContext) {
    const origConnect = NodeProto.connect;
    const origDisconnect = NodeProto.disconnect;
    NodeProto.connect = function (dest, ...rest) {
      const r = origConnect.call(this, dest, ...rest);
      try {
        if (isPageDestination(dest)) {
          const tap = tapFor(dest.context);
          origConnect.call(this, tap.dest, rest.length ? rest[0] : 0);
        }
      } catch (e) { note('connect: ' + e); }
      return r;
    };
    NodeProto.disconnect = function (...args) {
      const r = origDisconnect.apply(this, args);
      try {
        if (args.length && isPageDestination(args[0])) {
          const tap = taps.get(args[0].context);
          if (tap) {
            try {
              if (args.length > 1) origDisconnect.call(this, tap.dest, args[1]);
              else origDisconnect.call(this, tap.dest);
            } catch (e) { /* was not connected to the tap */ }
          }
        }
      } catch (e) { note('disconnect: ' + e); }
      return r;
    };
    const origMES = window.AudioContext.prototype.createMediaElementSource;
    if (origMES) {
      window.AudioContext.prototype.createMediaElementSource = function (el) {
        const node = origMES.call(this, el);
        try {
          if (!this[KEY + 'Own']) {
            const src = elementSource(el);
            src.routed = true;
            track(src);
          }
        } catch (e) { note('createMediaElementSource: ' + e); }
        return node;
      };
    }
  }

  // --------------------------------------------------------------- recording
  let seq = 0;
  let sending = Promise.resolve();
  const EMIT = '__mbRecEmit';

  // Messages wait here while the binding is missing (e.g. right after a
  // navigation, until the controller has re-added it).
  const outbox = [];
  function emit(obj) {
    outbox.push(JSON.stringify(obj));
    const fn = window[EMIT];
    if (typeof fn !== 'function') return;
    while (outbox.length) fn(outbox.shift());
  }
  function flushOutbox() {
    if (outbox.length && typeof window[EMIT] === 'function') emit({ t: 'ping' });
  }

  function blobToBase64(blob) {
    return new Promise((resolve, reject) => {
      const fr = new FileReader();
      fr.onload = () => {
        const s = fr.result;
        resolve(s.slice(s.indexOf(',') + 1));
      };
      fr.onerror = () => reject(fr.error);
      fr.readAsDataURL(blob);
    });
  }

  function scanDocument() {
    try {
      for (const el of document.querySelectorAll('audio,video')) {
        let so = null;
        try { so = el.srcObject; } catch (e) { so = null; }
        if (so || !el.paused) track(elementSource(el));
      }
    } catch (e) { note('scan: ' + e); }
  }

  // A low-pass FIR (windowed sinc) and decimation by an integer factor: 48 kHz to 24 or 16 kHz,
  // flat to 94% of the new Nyquist frequency (the hiss of an "s" is kept), -37 dB at it.
  function decimator(factor) {
    if (factor === 1) return (input) => input;
    const taps = 64 * factor + 1;
    const cutoff = 0.47 / factor;
    const h = new Float32Array(taps);
    let sum = 0;
    for (let i = 0; i < taps; i++) {
      const x = i - (taps - 1) / 2;
      const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
      const blackman = 0.42 - 0.5 * Math.cos(2 * Math.PI * i / (taps - 1))
        + 0.08 * Math.cos(4 * Math.PI * i / (taps - 1));
      h[i] = sinc * blackman;
      sum += h[i];
    }
    for (let i = 0; i < taps; i++) h[i] /= sum;
    let history = new Float32Array(taps - 1);
    let next = 0; // index in the coming input of the sample that ends the next output's window
    return (input) => {
      const buf = new Float32Array(history.length + input.length);
      buf.set(history);
      buf.set(input, history.length);
      const out = new Float32Array(Math.max(0, Math.ceil((input.length - next) / factor)));
      let i = next;
      for (let o = 0; i < input.length; i += factor, o++) {
        let acc = 0;
        const last = i + taps - 1;
        for (let k = 0; k < taps; k++) acc += h[k] * buf[last - k];
        out[o] = acc;
      }
      next = i - input.length;
      history = buf.slice(buf.length - (taps - 1));
      return out;
    };
  }

  function bytesToBase64(bytes) {
    if (typeof bytes.toBase64 === 'function') return bytes.toBase64();
    let text = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(text);
  }

  // Where a context's rendering stands against the wall clock: a busy machine makes Chromium skip
  // render quanta it was late for, and what they would have carried is lost.
  function clockOf(ctx) { return { ctxTime: ctx.currentTime, perf: performance.now() }; }
  function renderedOf(ctx, clock) {
    return { rendered_s: ctx.currentTime - clock.ctxTime, elapsed_s: (performance.now() - clock.perf) / 1000 };
  }

  // Raw PCM of `stream` at `pcm.rate`, in frames of `pcm.frameMs`: {t: 'pcm', ...fields, seg, n,
  // data}, `fields` naming the stream (`tap` of the mix, or `ch`).
  // It is read from the recorded track itself (MediaStreamTrackProcessor), so it holds exactly
  // what the recording holds: a second AudioContext would render on its own and, on a busy
  // machine, skip render quanta the recording keeps. Up to 10 s queue while the page is busy.
  // Returns the stream's handle, or null (noted) if the page cannot run it.
  function startPcm(stream, ctx, segment, pcm, fields) {
    let track = null;
    try {
      track = stream.getAudioTracks()[0].clone();
      const reader = new MediaStreamTrackProcessor({ track, maxBufferSize: 1000 }).readable.getReader();
      const frameSamples = Math.round(pcm.rate * pcm.frameMs / 1000);
      const handle = {
        track, date: Date.now(), ctxTime: ctx.currentTime, rate: pcm.rate, samples: 0,
        limit: Infinity, done: null, lastRead: performance.now(),
      };
      let decimate = null;
      let frame = new Int16Array(frameSamples);
      let filled = 0;
      let n = 0;
      handle.done = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          handle.lastRead = performance.now();
          const input = new Float32Array(value.numberOfFrames);
          try {
            if (!decimate) {
              if (value.sampleRate % pcm.rate) throw new Error(`cannot resample ${value.sampleRate} Hz to ${pcm.rate} Hz`);
              decimate = decimator(value.sampleRate / pcm.rate);
            }
            value.copyTo(input, { planeIndex: 0, format: 'f32-planar' });
          } finally { value.close(); }
          for (let s of decimate(input)) {
            if (handle.samples + filled >= handle.limit) return;
            s = s < -1 ? -1 : (s > 1 ? 1 : s);
            frame[filled++] = s < 0 ? s * 0x8000 : s * 0x7fff;
            if (filled === frameSamples) {
              emit({ t: 'pcm', ...fields, seg: segment, n: n++, data: bytesToBase64(new Uint8Array(frame.buffer)) });
              handle.samples += frameSamples;
              frame = new Int16Array(frameSamples);
              filled = 0;
            }
          }
        }
      })().catch((e) => note('pcm: ' + e));
      return handle;
    } catch (e) {
      note('pcm: ' + e);
      if (track) track.stop();
      return null;
    }
  }

  // A PCM stream ends with the recording, when the mix had rendered `stopCtxTime`: once it has
  // handed over the sound rendered until then (what the page had yet to frame included), once
  // its track has delivered nothing for PCM_IDLE_MS (in calls the track was seen to stop
  // delivering a little short of the stop time: waiting longer brought nothing), or 2 s later.
  const PCM_IDLE_MS = 300;
  async function stopPcm(handle, stopCtxTime) {
    handle.limit = Math.round((stopCtxTime - handle.ctxTime) * handle.rate);
    let ended = false;
    handle.done.then(() => { ended = true; });
    const deadline = performance.now() + 2000;
    while (!ended && performance.now() < deadline
           && performance.now() - handle.lastRead < PCM_IDLE_MS) {
      await new Promise((r) => setTimeout(r, 20));
    }
    handle.track.stop();
    return { framed_s: handle.samples / handle.rate, rendered_s: stopCtxTime - handle.ctxTime };
  }

  async function start(opts) {
    if (parentRec) throw new Error('recorder runs in the top frame only');
    if (mixer) return mixer.info;
    opts = opts || {};
    const ctx = new AudioContext({ latencyHint: opts.latencyHint || 'interactive', sampleRate: 48000 });
    Object.defineProperty(ctx, KEY + 'Own', { value: true });
    const bus = ctx.createGain();
    const dest = ctx.createMediaStreamDestination();
    dest.channelCount = 1;
    dest.channelCountMode = 'explicit';
    dest.channelInterpretation = 'speakers';
    bus.connect(dest);
    if (ctx.state !== 'running') {
      try { await Promise.race([ctx.resume(), new Promise((r) => setTimeout(r, 2000))]); } catch (e) { note('resume: ' + e); }
    }
    const mime = ['audio/webm;codecs=opus', 'audio/webm'].find((m) => MediaRecorder.isTypeSupported(m));
    const rec = new MediaRecorder(dest.stream, { mimeType: mime, audioBitsPerSecond: opts.audioBitsPerSecond || 96000 });
    const segment = opts.segment || 0;
    mixer = {
      ctx, bus, dest, rec, segment, info: null, stopped: null, clock: clockOf(ctx),
      channels: opts.channels || null, channelList: [],
    };
    for (const src of sources) refresh(src);
    scanDocument();

    rec.ondataavailable = (ev) => {
      const n = seq++;
      const blob = ev.data;
      const date = Date.now();  // the chunk holds the audio up to about now
      sending = sending.then(async () => {
        if (blob && blob.size) emit({ t: 'chunk', seg: segment, n, date, data: await blobToBase64(blob) });
      }).catch((e) => note('emit: ' + e));
    };
    rec.onerror = (ev) => { note('recorder error: ' + (ev.error || ev)); emit({ t: 'error', seg: segment, msg: String(ev.error || ev) }); };
    // The recording begins with the first audio buffer the track delivers after
    // start(): take the clocks right before it. (The 'start' event fires some
    // 50 ms later, after the encoder is set up, and is used only as a signal.)
    const started = new Promise((resolve, reject) => {
      rec.onstart = () => resolve();
      setTimeout(() => reject(new Error('MediaRecorder did not start')), 10000);
    });
    const perf = performance.now();
    const date = Date.now();
    try {
      rec.start(opts.timesliceMs || 1000);
      await started;
    } catch (e) {
      for (const channel of mixer.channelList) if (channel.handle) channel.handle.track.stop();
      mixer = null;
      for (const src of sources) refresh(src);
      try { await ctx.close(); } catch (e2) { /* ignore */ }
      throw e;
    }
    mixer.info = {
      perf, date, timeOrigin: performance.timeOrigin, ctxState: ctx.state, mime,
      startEventDelayMs: performance.now() - perf,
    };
    mixer.pcm = [];
    mixer.info.pcm = [];
    for (const [tap, pcm] of (opts.pcm || []).entries()) {
      const started = startPcm(dest.stream, ctx, segment, pcm, { tap });
      if (started) mixer.pcm.push(started);
      mixer.info.pcm.push(started ? { date: started.date }
        : { error: log[log.length - 1] || 'pcm: not started' });
    }
    return mixer.info;
  }

  // ------------------------------------------------------- separate video parts
  // A slot (a participant's webcam or screenshare, named by the caller) records the video track
  // its element plays, on its own MediaRecorder (webm/vp8), from the moment the slot is given a
  // playing element to the moment it is given none, its track ends or the element plays another
  // track: each such stretch is a part of its own ('vstart', 'vchunk'..., 'vend').
  const VIDEO_PART_BPS = 300000;
  const videoSlots = new Map();  // slot -> {id, rec, track, done}
  let videoPartSeq = 0;

  function liveVideoTrack(element) {
    const stream = element && element.srcObject;
    if (!stream || typeof stream.getVideoTracks !== 'function') return null;
    return stream.getVideoTracks().find((t) => t.readyState === 'live') || null;
  }

  function endVideoPart(slot) {
    const part = videoSlots.get(slot);
    if (!part) return Promise.resolve();
    videoSlots.delete(slot);
    if (part.rec.state !== 'inactive') part.rec.stop();
    return part.done;
  }

  function videoSlot(slot, element, meta) {
    const track = mixer ? liveVideoTrack(element) : null;
    const part = videoSlots.get(slot);
    if (part && part.track === track && part.rec.state !== 'inactive') return true;
    endVideoPart(slot);
    if (!track) return false;
    const mime = ['video/webm;codecs=vp8', 'video/webm'].find((m) => MediaRecorder.isTypeSupported(m));
    let rec;
    try {
      rec = new MediaRecorder(new MediaStream([track]), { mimeType: mime, videoBitsPerSecond: VIDEO_PART_BPS });
    } catch (e) { note('video part: ' + e); return false; }
    const id = `${Math.round(performance.timeOrigin)}-${++videoPartSeq}`;  // unique across documents
    let chunks = Promise.resolve(), n = 0;
    const done = new Promise((resolve) => {
      rec.onstop = () => {
        const date = Date.now(), pt = performance.now();
        chunks.then(() => emit({ t: 'vend', id, pt, date })).then(resolve, resolve);
        if (videoSlots.get(slot) && videoSlots.get(slot).id === id) videoSlots.delete(slot);
      };
    });
    rec.ondataavailable = (ev) => {
      const blob = ev.data, i = n++;
      chunks = chunks.then(async () => {
        if (blob && blob.size) emit({ t: 'vchunk', id, n: i, data: await blobToBase64(blob) });
      }).catch((e) => note('video part: ' + e));
    };
    rec.onerror = (ev) => note('video part recorder: ' + (ev.error || ev));
    videoSlots.set(slot, { id, rec, track, done });
    emit({ t: 'vstart', id, ...(meta || {}), pt: performance.now(), date: Date.now() });
    rec.start(1000);
    return true;
  }

  async function stop() {
    if (!mixer) return null;
    const videosEnded = Promise.race([Promise.all([...videoSlots.keys()].map(endVideoPart)),
                                      new Promise((r) => setTimeout(r, 2000))]);
    const m = mixer;
    if (!m.stopped) {
      m.stopped = new Promise((resolve) => {
        m.rec.onstop = () => resolve({ perf: performance.now(), date: Date.now() });
      });
      m.stopInfo = { perf: performance.now(), date: Date.now(), mix: renderedOf(m.ctx, m.clock) };
      m.stopCtxTime = m.ctx.currentTime;
      m.rec.stop();
    }
    await m.stopped;
    await sending;
    m.stopInfo.pcm = await Promise.all((m.pcm || []).map((pcm) => stopPcm(pcm, m.stopCtxTime)));
    m.stopInfo.channels = await Promise.all(m.channelList.filter((c) => c.handle)
      .map((c) => stopPcm(c.handle, m.stopCtxTime)));
    await videosEnded;
    flushOutbox();
    mixer = null;
    for (const src of sources) refresh(src); // disconnects everything
    try { await m.ctx.close(); } catch (e) { /* ignore */ }
    return m.stopInfo;
  }

  function status() {
    return {
      recording: !!mixer, segment: mixer ? mixer.segment : null,
      state: mixer ? mixer.rec.state : null, ctxState: mixer ? mixer.ctx.state : null,
      sources: sources.size,
      ctxTime: mixer ? mixer.ctx.currentTime : null,
      perfNow: performance.now(),
      connected: [...sources].reduce((a, s) => a + s.nodes.size, 0),
      log: log.slice(-20),
    };
  }

  const api = {
    start, stop, status, videoSlot,
    // Called by same-origin child frames.
    refreshForeign(src) { sources.add(src); refresh(src); },
  };
  Object.defineProperty(window, KEY, { value: Object.freeze(api), enumerable: false, configurable: false });
})();
