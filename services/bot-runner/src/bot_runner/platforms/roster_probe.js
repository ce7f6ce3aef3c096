// Polls who is in the call every 250 ms and records joins, leaves and updates with the page clock.
// arguments[0] is the body of a function returning [{key, name, host, extra}] for the remote
// participants the page shows now, or null while it cannot tell (a closed pane). A participant
// without a key of the platform's is keyed by name and rank among those of that name.
(function (rosterBody) {
  if (window.__mbRosterProbe) return;
  const roster = new Function(rosterBody);
  let current = new Map();
  window.__mbRoster = [];
  const same = (a, b) => a.name === b.name && a.host === b.host &&
    JSON.stringify(a.extra) === JSON.stringify(b.extra);
  window.__mbRosterProbe = setInterval(() => {
    let people = null;
    try { people = roster(); } catch (e) { return; }
    if (!Array.isArray(people)) return;
    const t = performance.now(), wall = Date.now();
    const ranks = new Map(), now = new Map();
    for (const p of people) {
      const name = (p.name || "").trim();
      if (!name && !p.key) continue;
      const rank = (ranks.get(name) || 0) + 1;
      ranks.set(name, rank);
      const key = p.key ? String(p.key) : name + "\u0000" + rank;
      if (now.has(key)) continue;
      now.set(key, {name, host: p.host === undefined ? null : p.host, extra: p.extra === undefined ? null : p.extra});
    }
    for (const [key, p] of now) {
      const before = current.get(key);
      if (!before) window.__mbRoster.push({action: "join", key, ...p, t, wall});
      else if (!same(before, p)) window.__mbRoster.push({action: "update", key, ...p, t, wall});
    }
    for (const [key, p] of current) {
      if (!now.has(key)) window.__mbRoster.push({action: "leave", key, ...p, t, wall});
    }
    current = now;
  }, 250);
})(arguments[0]);
