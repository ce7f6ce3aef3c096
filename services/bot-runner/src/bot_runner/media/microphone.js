// The bot's microphone: the audio the controlling process pushes is what the meeting hears.
//
// Injected before any page script. Every getUserMedia call that asks for audio gets a track of
// one private AudioContext (at the pushed audio's rate) in place of the device's: an
// AudioWorklet plays the pushed frames of 16-bit little-endian mono PCM from a small queue,
// silence when there is nothing to play. After running dry it waits for a little audio before
// playing again (a jitter buffer, from PREBUFFER_MS): when frames come back soon after it ran dry,
// they were late, not over, and it waits for twice as much from then on (up to MAX_PREBUFFER_MS),
// so that frames arriving unevenly do not make it stutter. Video, and calls without audio, go to
// the device as before.
//
//   window.__mbMic.push(base64Pcm)   (from the controlling process, through DevTools)
(() => {
  'use strict';
  const KEY = '__mbMic';
  if (Object.prototype.hasOwnProperty.call(window, KEY)) return;
  const RATE = __MB_MIC_RATE__;
  const PREBUFFER_MS = 80;
  const MAX_PREBUFFER_MS = 320;
  const log = [];
  const note = (msg) => { if (log.length < 100) log.push(String(msg)); };

  const WORKLET = `
    class MbMicPlayer extends AudioWorkletProcessor {
      constructor(options) {
        super();
        this.queue = [];
        this.head = 0;
        this.buffered = 0;
        this.playing = false;
        this.prebuffer = options.processorOptions.prebuffer;
        this.maxPrebuffer = options.processorOptions.maxPrebuffer;
        this.dryAt = null;
        this.underruns = 0;
        this.port.onmessage = (ev) => {
          const frame = new Int16Array(ev.data);
          if (this.dryAt !== null && currentTime - this.dryAt < 0.3) {
            this.underruns++;
            this.prebuffer = Math.min(this.maxPrebuffer, this.prebuffer * 2);
            this.port.postMessage({ underruns: this.underruns, prebuffer: this.prebuffer });
          }
          this.dryAt = null;
          this.queue.push(frame);
          this.buffered += frame.length;
        };
      }
      process(inputs, outputs) {
        const out = outputs[0][0];
        if (!this.playing && this.buffered >= this.prebuffer) this.playing = true;
        let i = 0;
        while (this.playing && i < out.length) {
          if (!this.queue.length) { this.playing = false; this.dryAt = currentTime; break; }
          const frame = this.queue[0];
          const n = Math.min(out.length - i, frame.length - this.head);
          for (let k = 0; k < n; k++) out[i + k] = frame[this.head + k] / 32768;
          i += n;
          this.head += n;
          this.buffered -= n;
          if (this.head >= frame.length) { this.queue.shift(); this.head = 0; }
        }
        for (; i < out.length; i++) out[i] = 0;
        return true;
      }
    }
    registerProcessor('mb-mic-player', MbMicPlayer);`;

  let mic = null;

  function microphone() {
    if (mic) return mic;
    const ctx = new AudioContext({ sampleRate: RATE, latencyHint: 'interactive' });
    Object.defineProperty(ctx, '__mbRecOwn', { value: true }); // the recorder leaves it alone
    const dest = ctx.createMediaStreamDestination();
    dest.channelCount = 1;
    mic = { ctx, dest, node: null, waiting: [], frames: 0,
            jitter: { underruns: 0, prebuffer: Math.round(RATE * PREBUFFER_MS / 1000) } };
    const url = URL.createObjectURL(new Blob([WORKLET], { type: 'application/javascript' }));
    ctx.audioWorklet.addModule(url).then(() => {
      const node = new AudioWorkletNode(ctx, 'mb-mic-player', {
        numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1],
        processorOptions: { prebuffer: Math.round(RATE * PREBUFFER_MS / 1000),
                            maxPrebuffer: Math.round(RATE * MAX_PREBUFFER_MS / 1000) },
      });
      node.port.onmessage = (ev) => { Object.assign(mic.jitter, ev.data); };
      node.connect(dest);
      mic.node = node;
      for (const buffer of mic.waiting.splice(0)) node.port.postMessage(buffer, [buffer]);
    }).catch((e) => note('worklet: ' + e)).finally(() => URL.revokeObjectURL(url));
    return mic;
  }

  function decode(base64) {
    if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(base64);
    const text = atob(base64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }

  function push(base64) {
    try {
      const m = microphone();
      const buffer = decode(base64).buffer;
      m.frames++;
      if (m.node) m.node.port.postMessage(buffer, [buffer]);
      else m.waiting.push(buffer);
      if (m.ctx.state !== 'running') m.ctx.resume().catch((e) => note('resume: ' + e));
    } catch (e) { note('push: ' + e); }
  }

  const devices = navigator.mediaDevices;
  const deviceGetUserMedia = devices && devices.getUserMedia;
  if (deviceGetUserMedia) {
    devices.getUserMedia = async function getUserMedia(constraints) {
      const wanted = constraints || {};
      if (!wanted.audio) return deviceGetUserMedia.call(this, constraints);
      const stream = wanted.video
        ? await deviceGetUserMedia.call(this, { ...wanted, audio: false })
        : new MediaStream();
      const m = microphone();
      if (m.ctx.state !== 'running') m.ctx.resume().catch((e) => note('resume: ' + e));
      stream.addTrack(m.dest.stream.getAudioTracks()[0].clone());
      return stream;
    };
  }

  function status() {
    return {
      frames: mic ? mic.frames : 0, ready: !!(mic && mic.node),
      underruns: mic ? mic.jitter.underruns : 0,
      prebufferMs: mic ? Math.round(mic.jitter.prebuffer * 1000 / RATE) : null,
      ctxState: mic ? mic.ctx.state : null, log: log.slice(-20),
    };
  }

  Object.defineProperty(window, KEY, {
    value: Object.freeze({ push, status }), enumerable: false, configurable: false,
  });
})();
