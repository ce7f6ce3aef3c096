// Microsoft Teams: the roster (a tree of data-tid="participantsInCall-<name>" items, "Organizer"
// under the organizer) when it is open, else the video tiles (data-stream-type="Video",
// data-tid="<name>"). Neither carries an id, so people are told apart by name and rank. One entry
// with the bot's own name (window.__mbSelfName) is the bot. A tile's label says ", video is on"
// while the camera is on (unknown for someone without a tile); a presentation is a tile of its
// own (data-stream-type="ScreenSharing") named after its presenter. Their <video> elements are
// the separate video parts'.
const self = (window.__mbSelfName || "").trim();
const items = Array.from(document.querySelectorAll('[data-tid^="participantsInCall-"]'));
const tiles = Array.from(document.querySelectorAll('[data-stream-type="Video"][data-tid]'));
let people;
if (items.length) {
  people = items.map(e => ({
    name: e.getAttribute("data-tid").slice("participantsInCall-".length).trim(),
    host: /\bOrganizer\b/.test(e.innerText || ""),
  }));
} else {
  if (!document.querySelector('[data-tid="hangup-main-btn"], #hangup-button')) return null;
  people = tiles.map(e => ({name: (e.getAttribute("data-tid") || "").trim()}));
}
const mine = people.findIndex(p => p.name === self);
if (mine >= 0) people.splice(mine, 1);
const presentations = new Map(Array.from(document.querySelectorAll('[data-stream-type="ScreenSharing"][data-tid]'))
  .map(e => [(e.getAttribute("data-tid") || "").trim(), e.querySelector("video")]));
// The n-th person of a name has the n-th tile of that name (the bot's own tile left out).
const tilesByName = new Map();
let selfSkipped = false;
for (const tile of tiles) {
  const name = (tile.getAttribute("data-tid") || "").trim();
  if (name === self && !selfSkipped) { selfSkipped = true; continue; }
  if (!tilesByName.has(name)) tilesByName.set(name, []);
  tilesByName.get(name).push(tile);
}
const seen = new Map();
return people.filter(p => p.name).map(p => {
  const rank = seen.get(p.name) || 0;
  seen.set(p.name, rank + 1);
  const tile = (tilesByName.get(p.name) || [])[rank];
  const camera = tile ? /,\s*video is on\b/i.test(tile.getAttribute("aria-label") || "") : null;
  const sharing = rank === 0 && presentations.has(p.name);
  return {...p, camera, sharing, cameraVideo: camera ? tile.querySelector("video") : null,
          shareVideo: sharing ? presentations.get(p.name) : null};
});
