// Polls the platform's speaking indicators every 100 ms and records on/off changes with the page
// clock. arguments[0] is the body of a function returning [{name, key, speaking, since}] for the
// visible tiles (`key`: the platform's id of the participant, where the tile shows one; `since`:
// when the speaking began, page clock, where the tile learns it late).
(function (tilesBody) {
  if (window.__mbSpeakerProbe) return;
  const speakingTiles = new Function(tilesBody);
  const current = new Map(), lastOff = new Map();
  window.__mbSpeaking = [];
  window.__mbSpeakerProbe = setInterval(() => {
    let tiles = [];
    try { tiles = speakingTiles() || []; } catch (e) { return; }
    const now = performance.now(), wall = Date.now();
    const speakingNow = new Map();
    for (const t of tiles) {
      if (t.speaking && t.name) speakingNow.set(t.key || t.name, {name: t.name, key: t.key || null, since: t.since});
    }
    for (const [id, {since, ...who}] of speakingNow) {
      if (current.has(id)) continue;
      current.set(id, who);
      const t = since && since < now ? Math.max(since, lastOff.get(id) || 0) : now;
      window.__mbSpeaking.push({...who, on: true, t, wall: wall - (now - t)});
    }
    for (const [id, who] of Array.from(current)) {
      if (!speakingNow.has(id)) {
        current.delete(id);
        lastOff.set(id, now);
        window.__mbSpeaking.push({...who, on: false, t: now, wall});
      }
    }
  }, 100);
})(arguments[0]);
