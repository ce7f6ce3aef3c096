'use strict';
// The others' webcams and screenshares as a page plays them: each is a small canvas stream
// (the person's colour and name, a bar that moves; a screenshare is a slide with their name),
// played on a <video> element like the real pages play remote video. A stream is made once per
// id and stopped by release(id), releaseAll() (the call is over) or when the page goes away.
//
//   video.srcObject = window.SimVideo.webcam(id, name, color);
//   video.srcObject = window.SimVideo.screen(id, name);
//   window.SimVideo.release(id);
window.SimVideo = (() => {
  const WIDTH = 320, HEIGHT = 180, FPS = 5;
  const sources = new Map();

  function make(id, draw) {
    const existing = sources.get(id);
    if (existing) return existing.stream;
    const canvas = document.createElement('canvas');
    canvas.width = WIDTH;
    canvas.height = HEIGHT;
    const ctx = canvas.getContext('2d');
    let frame = 0;
    const paint = () => { draw(ctx, frame++); };
    paint();
    const stream = canvas.captureStream(FPS);
    sources.set(id, { stream, timer: setInterval(paint, 1000 / FPS) });
    return stream;
  }

  function webcam(id, name, color) {
    return make(id, (ctx, frame) => {
      ctx.fillStyle = color || '#5f6368';
      ctx.fillRect(0, 0, WIDTH, HEIGHT);
      ctx.fillStyle = '#ffffff';
      ctx.font = '20px sans-serif';
      ctx.fillText(name, 12, HEIGHT - 16);
      ctx.fillRect((frame * 8) % WIDTH, 20, 24, 24);
    });
  }

  function screen(id, name) {
    return make(id, (ctx, frame) => {
      ctx.fillStyle = '#f1f3f4';
      ctx.fillRect(0, 0, WIDTH, HEIGHT);
      ctx.fillStyle = '#202124';
      ctx.font = 'bold 18px sans-serif';
      ctx.fillText(`${name}: quarterly plan`, 16, 36);
      ctx.font = '14px sans-serif';
      for (let line = 0; line < 4; line++) ctx.fillText(`• point ${line + 1}`, 24, 70 + line * 22);
      ctx.fillRect(16, HEIGHT - 12, (frame * 4) % (WIDTH - 32), 4);
    });
  }

  function release(id) {
    const source = sources.get(id);
    if (!source) return;
    clearInterval(source.timer);
    source.stream.getTracks().forEach((t) => t.stop());
    sources.delete(id);
  }

  function releaseAll() { [...sources.keys()].forEach(release); }

  window.addEventListener('pagehide', releaseAll);
  return { webcam, screen, release, releaseAll };
})();
