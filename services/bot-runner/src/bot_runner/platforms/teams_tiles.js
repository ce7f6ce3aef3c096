// Microsoft Teams: remote video tiles are data-stream-type="Video" with the display name in
// data-tid; a tile speaks while its voice-level outline (or speaker ring) is displayed. The bot's
// own tile (window.__mbSelfName, set by the observe script) is left out. `el` is the tile itself.
const self = (window.__mbSelfName || "").trim();
const shown = (e) => {
  if (!e || e.getClientRects().length === 0) return false;
  const style = getComputedStyle(e);
  return style.visibility !== "hidden" && parseFloat(style.opacity || "1") > 0;
};
return Array.from(document.querySelectorAll('[data-stream-type="Video"][data-tid]'))
  .map(t => ({tile: t, name: (t.getAttribute("data-tid") || "").trim()}))
  .filter(({name}) => name && name !== self)
  .map(({tile, name}) => {
    const rings = tile.querySelectorAll('[data-tid="voice-level-stream-outline"], [data-tid="participant-speaker-ring"]');
    return {name, speaking: Array.from(rings).some(shown), el: tile};
  });
