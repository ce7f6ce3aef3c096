// Polls the platform's speaking indicators every 100 ms and records on/off changes with the page
// clock. arguments[0] is the body of a function returning [{name, speaking}] for the visible tiles.
(function (tilesBody) {
  if (window.__mbSpeakerProbe) return;
  const speakingTiles = new Function(tilesBody);
  const current = new Set();
  window.__mbSpeaking = [];
  window.__mbSpeakerProbe = setInterval(() => {
    let tiles = [];
    try { tiles = speakingTiles() || []; } catch (e) { return; }
    const now = performance.now();
    const speakingNow = new Set(tiles.filter(t => t.speaking && t.name).map(t => t.name));
    for (const name of speakingNow) {
      if (!current.has(name)) { current.add(name); window.__mbSpeaking.push({name, on: true, t: now, wall: Date.now()}); }
    }
    for (const name of Array.from(current)) {
      if (!speakingNow.has(name)) { current.delete(name); window.__mbSpeaking.push({name, on: false, t: now, wall: Date.now()}); }
    }
  }, 100);
})(arguments[0]);
