'use strict';
// The guest's camera as the other participants see it. Once a page's guest is in the call, about
// once a second the current frame of its local camera track is drawn to a canvas at the track's
// own size and posted as a JPEG to the simulator, which keeps the latest one for tests
// (`/_sim/api/<code>/guests/<guest>/camera`). Nothing is posted while the camera is off (the page
// says so, or its track is disabled or muted); it stops for good when the track ends, when stop()
// is called or when the page goes away. It never throws into the page.
//
//   const camera = window.SimCamera.start(stream, () => inCall && camOn, url);
//   camera.stop();
window.SimCamera = (() => {
  const INTERVAL_MS = 1000;
  const QUALITY = 0.9;

  function start(stream, isOn, url) {
    const handle = { stop() {}, running: false };
    try {
      const track = stream && typeof stream.getVideoTracks === 'function' ? stream.getVideoTracks()[0] : null;
      if (!track || track.readyState === 'ended') return handle;
      return run(track, isOn, url);
    } catch (error) {
      console.error('camera: not started', error);
      return handle;
    }
  }

  function run(track, isOn, url) {
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.srcObject = new MediaStream([track]);
    const canvas = document.createElement('canvas');
    const aborter = new AbortController();
    const handle = { stop, running: true };
    let timer = null;

    function stop() {
      if (!handle.running) return;
      handle.running = false;
      clearTimeout(timer);
      window.removeEventListener('pagehide', stop);
      aborter.abort();
      video.pause();
      video.srcObject = null;
    }

    function on() {
      try {
        return !!isOn() && track.enabled && !track.muted && track.readyState === 'live';
      } catch (error) {
        return false;
      }
    }

    function encode() {
      return new Promise((resolve) => {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(resolve, 'image/jpeg', QUALITY);
      });
    }

    async function tick() {
      if (track.readyState === 'ended') { stop(); return; }
      if (!on()) return;
      if (video.paused) video.play().catch(() => {});
      // Until the element holds a decoded frame, drawing it gives a black picture.
      if (video.paused || video.readyState < video.HAVE_CURRENT_DATA || !video.videoWidth) return;
      const blob = await encode();
      // The camera may have been turned off while the frame was being encoded.
      if (!blob || !handle.running || !on()) return;
      await fetch(url, {
        method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: blob,
        cache: 'no-store', signal: aborter.signal,
      });
    }

    async function loop() {
      try {
        await tick();
      } catch (error) {
        // A lost post or frame: the next tick tries again.
      }
      if (handle.running) timer = setTimeout(loop, INTERVAL_MS);
    }

    window.addEventListener('pagehide', stop);
    video.play().catch(() => {});
    timer = setTimeout(loop, 0);
    return handle;
  }

  return { start };
})();
