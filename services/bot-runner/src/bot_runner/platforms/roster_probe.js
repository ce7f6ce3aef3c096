// Polls who is in the call every 250 ms and records joins, leaves, updates and camera and
// screenshare switches with the page clock. arguments[0] is the body of a function returning
// [{key, name, host, extra, camera, sharing}] for the remote participants the page shows now, or
// null while it cannot tell (a closed pane); `camera` and `sharing` are true, false, or null where
// the page does not show them. A participant without a key of the platform's is keyed by name
// and rank among those of that name. With arguments[1], the <video> elements an entry names as
// `cameraVideo` and `shareVideo` are recorded, while on, as separate video parts (the recorder's
// `videoSlot`).
(function (rosterBody, recordVideo) {
  if (window.__mbRosterProbe) return;
  const roster = new Function(rosterBody);
  let current = new Map();
  const shown = new Map();  // key -> {camera, sharing}: the last state the page showed
  window.__mbRoster = [];
  const same = (a, b) => a.name === b.name && a.host === b.host &&
    JSON.stringify(a.extra) === JSON.stringify(b.extra);
  const known = (v) => v === true || v === false;
  window.__mbRosterProbe = setInterval(() => {
    let people = null;
    try { people = roster(); } catch (e) { return; }
    if (!Array.isArray(people)) return;
    const t = performance.now(), wall = Date.now();
    const ranks = new Map(), now = new Map(), media = new Map();
    for (const p of people) {
      const name = (p.name || "").trim();
      if (!name && !p.key) continue;
      const rank = (ranks.get(name) || 0) + 1;
      ranks.set(name, rank);
      const key = p.key ? String(p.key) : name + "\u0000" + rank;
      if (now.has(key)) continue;
      now.set(key, {name, host: p.host === undefined ? null : p.host, extra: p.extra === undefined ? null : p.extra});
      media.set(key, {camera: p.camera, sharing: p.sharing,
                      cameraVideo: p.cameraVideo, shareVideo: p.shareVideo});
    }
    for (const [key, p] of now) {
      const before = current.get(key);
      if (!before) window.__mbRoster.push({action: "join", key, ...p, t, wall});
      else if (!same(before, p)) window.__mbRoster.push({action: "update", key, ...p, t, wall});
      const was = shown.get(key) || {camera: false, sharing: false};
      const is = media.get(key);
      for (const [field, action] of [["camera", "camera"], ["sharing", "screenshare"]]) {
        if (known(is[field]) && is[field] !== was[field]) {
          window.__mbRoster.push({action, key, name: p.name, on: is[field], t, wall});
          was[field] = is[field];
        }
      }
      shown.set(key, was);
    }
    for (const [key, p] of current) {
      if (!now.has(key)) {
        window.__mbRoster.push({action: "leave", key, ...p, t, wall});
        shown.delete(key);
      }
    }
    current = now;
    if (recordVideo) recordVideos(now, media);
  }, 250);

  const recording = new Set();  // the video slots being recorded
  function recordVideos(now, media) {
    const rec = window.__mbRec;
    if (!rec || typeof rec.videoSlot !== "function") return;
    const wanted = new Map();
    for (const [key, p] of now) {
      const is = media.get(key);
      if (is.camera === true && is.cameraVideo)
        wanted.set(key + "\u0001webcam", [is.cameraVideo, {key, name: p.name, kind: "webcam"}]);
      if (is.sharing === true && is.shareVideo)
        wanted.set(key + "\u0001screenshare", [is.shareVideo, {key, name: p.name, kind: "screenshare"}]);
    }
    for (const slot of recording) if (!wanted.has(slot)) rec.videoSlot(slot, null);
    recording.clear();
    for (const [slot, [element, meta]] of wanted) {
      if (rec.videoSlot(slot, element, meta)) recording.add(slot);
    }
  }
})(arguments[0], arguments[1]);
