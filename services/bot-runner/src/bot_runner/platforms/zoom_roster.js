// Zoom web client: the participants pane (kept open by the adapter) lists everyone as
// `.participants-item__display-name`, with labels "(Host)", "(Co-host)", "(Guest)", "(me)" after
// the name; each row's aria-label ends "video on" or "video off". No ids: people are told apart
// by name and rank. A shared screen shows with a bar "You are viewing <name>'s screen". null
// while the pane is closed.
const items = Array.from(document.querySelectorAll(".participants-item__display-name"));
if (!items.length) return null;
const label = /\s*\(((?:co-host|host|guest|me)(?:\s*,\s*(?:co-host|host|guest|me))*)\)\s*$/i;
const viewing = Array.from(document.querySelectorAll(".sharee-container__viewing-status, .sharee-container__indicator"))
  .map(e => (e.innerText || "").replace(/\s+/g, " ").match(/viewing (.+)'s screen/i))
  .find(Boolean);
let presenter = viewing ? viewing[1].trim() : null;
const people = [];
for (const item of items) {
  let name = (item.innerText || "").replace(/\s+/g, " ").trim();
  const labels = [];
  for (let m = name.match(label); m; m = name.match(label)) {
    labels.push(...m[1].toLowerCase().split(",").map(s => s.trim()));
    name = name.slice(0, m.index).trim();
  }
  if (labels.includes("me") || !name) continue;
  const extra = {};
  if (labels.includes("guest")) extra.guest = true;
  if (labels.includes("co-host")) extra.co_host = true;
  const row = item.closest(".participants-li");
  const video = ((row && row.getAttribute("aria-label")) || "").match(/\bvideo (on|off)\b/i);
  const sharing = name === presenter;
  if (sharing) presenter = null;  // the first of that name
  people.push({name, host: labels.includes("host"), extra: Object.keys(extra).length ? extra : null,
               camera: video ? video[1].toLowerCase() === "on" : null, sharing});
}
return people;
