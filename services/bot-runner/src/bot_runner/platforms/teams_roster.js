// Microsoft Teams: the roster (a tree of data-tid="participantsInCall-<name>" items, "Organizer"
// under the organizer) when it is open, else the video tiles (data-stream-type="Video",
// data-tid="<name>"). Neither carries an id, so people are told apart by name and rank. One entry
// with the bot's own name (window.__mbSelfName) is the bot.
const self = (window.__mbSelfName || "").trim();
const items = Array.from(document.querySelectorAll('[data-tid^="participantsInCall-"]'));
let people;
if (items.length) {
  people = items.map(e => ({
    name: e.getAttribute("data-tid").slice("participantsInCall-".length).trim(),
    host: /\bOrganizer\b/.test(e.innerText || ""),
  }));
} else {
  if (!document.querySelector('[data-tid="hangup-main-btn"], #hangup-button')) return null;
  people = Array.from(document.querySelectorAll('[data-stream-type="Video"][data-tid]'))
    .map(e => ({name: (e.getAttribute("data-tid") || "").trim()}));
}
const mine = people.findIndex(p => p.name === self);
if (mine >= 0) people.splice(mine, 1);
return people.filter(p => p.name);
