'use strict';
// The guest's microphone as the other participants hear it. Once a page's guest is in the call,
// its local audio track (the first of the stream; nothing happens without one) is recorded with a
// MediaRecorder (WebM/Opus, a chunk every 500 ms) and each chunk is posted, in order, to the
// simulator, which appends it to the guest's recording (`/_sim/api/<code>/guests/<guest>/microphone`).
// A muted microphone (its track disabled) is recorded as silence, as the others hear it. stop(),
// the track ending or the page going away stops the recorder; its last chunk is posted, then an
// empty post with `?last=1` closes the recording. It never throws into the page.
//
//   const microphone = window.SimMicrophone.start(stream, url);
//   microphone.stop();
window.SimMicrophone = (() => {
  const MIME_TYPE = 'audio/webm;codecs=opus';
  const TIMESLICE_MS = 500;
  const BITS_PER_SECOND = 64000;
  // A request made with keepalive survives the page going away, but Chromium refuses (rejects)
  // keepalive requests beyond 64 KiB in flight, counting ones it still considers in flight: only
  // the posts made once the recorder stopped use it.
  const KEEPALIVE_MAX_BYTES = 60 * 1024;

  function start(stream, url) {
    const handle = { stop() {}, running: false };
    try {
      const track = stream && typeof stream.getAudioTracks === 'function' ? stream.getAudioTracks()[0] : null;
      if (!track || track.readyState === 'ended') return handle;
      if (typeof MediaRecorder === 'undefined' || !MediaRecorder.isTypeSupported(MIME_TYPE)) {
        console.error('microphone: cannot record', MIME_TYPE);
        return handle;
      }
      return run(track, url);
    } catch (error) {
      console.error('microphone: not started', error);
      return handle;
    }
  }

  function run(track, url) {
    const recorder = new MediaRecorder(new MediaStream([track]), {
      mimeType: MIME_TYPE, audioBitsPerSecond: BITS_PER_SECOND,
    });
    const handle = { stop, running: true };
    // One chain: a chunk is posted only once the one before it has been answered, so the
    // simulator appends them in the order they were recorded.
    let chain = Promise.resolve();

    function post(blob, last) {
      let target = url;
      if (last) {
        const withLast = new URL(url, location.href);
        withLast.searchParams.set('last', '1');
        target = withLast.href;
      }
      const keepalive = recorder.state === 'inactive' && blob.size <= KEEPALIVE_MAX_BYTES;
      chain = chain.then(() => fetch(target, {
        method: 'POST', headers: { 'Content-Type': 'audio/webm' }, body: blob,
        cache: 'no-store', keepalive,
      })).then((response) => response.arrayBuffer()).catch((error) => {
        // A lost chunk leaves a hole in the stream; the next one is posted all the same.
        console.error('microphone: a chunk was lost', error);
      });
    }

    function stop() {
      if (!handle.running) return;
      handle.running = false;
      window.removeEventListener('pagehide', stop);
      try {
        if (recorder.state !== 'inactive') recorder.stop();
      } catch (error) {
        console.error('microphone: stop failed', error);
      }
    }

    recorder.addEventListener('dataavailable', (event) => {
      if (event.data && event.data.size > 0) post(event.data, false);
    });
    recorder.addEventListener('stop', () => {
      handle.running = false;
      window.removeEventListener('pagehide', stop);
      // The recorder's last chunk came just before this event (stopped, or its track ended):
      // close the recording. (A chunk already on its way when stop() was called may come after
      // the recorder turned inactive, so the state cannot tell which chunk is the last.)
      post(new Blob([], { type: 'audio/webm' }), true);
    });
    recorder.addEventListener('error', (event) => {
      console.error('microphone: recorder error', event.error || event);
    });
    window.addEventListener('pagehide', stop);
    recorder.start(TIMESLICE_MS);
    return handle;
  }

  return { start };
})();
