'use strict';
// Remote speech as one mixed WebRTC track: every utterance's decoded clip is scheduled on the
// AudioContext clock into a single MediaStreamDestination, sent through a loopback pair of
// RTCPeerConnections, and played by one <audio> element (one remote MediaStream), as platforms
// that mix the meeting's audio on the server deliver it. Who is speaking is known per clip.
window.MixedAudio = class MixedAudio {
  // serverOffset(): seconds to add to Date.now()/1000 to get the simulator's clock.
  constructor(serverOffset) {
    this.serverOffset = serverOffset;
    this.buffers = new Map();
    this.playbacks = [];
    this.ready = false;
    this.closed = false;
    this.audio = null;
  }

  async start(container) {
    const ctx = new AudioContext();
    this.ctx = ctx;
    this.dest = ctx.createMediaStreamDestination();
    this.pc1 = new RTCPeerConnection({ iceServers: [] });
    this.pc2 = new RTCPeerConnection({ iceServers: [] });
    this.pc1.onicecandidate = (e) => { if (e.candidate) this.pc2.addIceCandidate(e.candidate).catch(() => {}); };
    this.pc2.onicecandidate = (e) => { if (e.candidate) this.pc1.addIceCandidate(e.candidate).catch(() => {}); };
    this.pc1.addTrack(this.dest.stream.getAudioTracks()[0], this.dest.stream);
    this.audio = document.createElement('audio');
    this.audio.autoplay = true;
    container.append(this.audio);
    this.pc2.ontrack = (event) => {
      if (this.closed) return;
      this.audio.srcObject = event.streams[0] || new MediaStream([event.track]);
      this.audio.play().catch(() => {});
    };
    const offer = await this.pc1.createOffer();
    await this.pc1.setLocalDescription(offer);
    await this.pc2.setRemoteDescription(offer);
    const answer = await this.pc2.createAnswer();
    await this.pc2.setLocalDescription(answer);
    await this.pc1.setRemoteDescription(answer);
    if (ctx.state !== 'running') {
      ctx.resume().catch(() => {});
      const resume = () => { if (!this.closed) ctx.resume().catch(() => {}); };
      document.addEventListener('click', resume, { once: true });
      document.addEventListener('keydown', resume, { once: true });
    }
    this.ready = true;
  }

  now() {
    return Date.now() / 1000 + this.serverOffset();
  }

  load(url) {
    if (!this.buffers.has(url)) {
      this.buffers.set(url, fetch(url, { cache: 'force-cache' })
        .then((r) => { if (!r.ok) throw new Error(`${url}: ${r.status}`); return r.arrayBuffer(); })
        .then((data) => this.ctx.decodeAudioData(data)));
    }
    return this.buffers.get(url);
  }

  // Plays `buffer` into the mix `delay` seconds from now (a negative delay skips the clip's start).
  // onReport(index, {actual_start} | {actual_end}) tells the simulator when it really played.
  play(utterance, buffer, delay, onReport) {
    if (this.closed) return;
    const ctx = this.ctx;
    const offset = delay < -0.3 ? -delay : 0;
    if (offset >= buffer.duration) return;
    const wait = Math.max(0, delay);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(this.dest);
    source.connect(analyser);
    const startCtx = ctx.currentTime + wait;
    const playback = {
      utterance, source, analyser, onReport, startCtx,
      endCtx: startCtx + buffer.duration - offset,
      wallStart: this.now() + wait - offset,
      started: false, ended: false, samples: new Float32Array(analyser.fftSize),
    };
    source.onended = () => {
      playback.ended = true;
      source.disconnect();
      analyser.disconnect();
      this.playbacks = this.playbacks.filter((p) => p !== playback);
      if (playback.started && !this.closed) onReport(utterance.index, { actual_end: this.now() });
    };
    this.playbacks.push(playback);
    source.start(startCtx, offset);
  }

  active() {
    const now = this.ctx ? this.ctx.currentTime : 0;
    const playing = [];
    for (const p of this.playbacks) {
      if (p.ended || now < p.startCtx || now >= p.endCtx) continue;
      if (!p.started) {
        p.started = true;
        p.onReport(p.utterance.index, { actual_start: p.wallStart });
      }
      playing.push(p);
    }
    return playing;
  }

  // participant id -> level 0-100, for everyone whose clip is playing now; `speakerOf` gives an
  // utterance's speaker as the page knows them now.
  levels(speakerOf) {
    const levels = new Map();
    if (!this.ready || this.closed) return levels;
    for (const p of this.active()) {
      p.analyser.getFloatTimeDomainData(p.samples);
      let sum = 0;
      for (const v of p.samples) sum += v * v;
      const level = Math.min(100, Math.round(Math.sqrt(sum / p.samples.length) * 400));
      const id = speakerOf(p.utterance);
      levels.set(id, Math.max(levels.get(id) || 0, level));
    }
    return levels;
  }

  close() {
    this.closed = true;
    for (const p of this.playbacks) {
      try { p.source.stop(); } catch (error) { /* not started */ }
    }
    this.playbacks = [];
    if (this.audio) { this.audio.srcObject = null; this.audio.remove(); }
    if (this.pc1) this.pc1.close();
    if (this.pc2) this.pc2.close();
    if (this.ctx) this.ctx.close().catch(() => {});
  }
};
