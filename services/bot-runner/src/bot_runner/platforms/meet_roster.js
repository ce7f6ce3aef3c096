// Google Meet: everyone in the call has a tile with data-participant-id (the bot's own carries
// data-self-name), the name in a child span; an avatar image where the person has one. The page
// shows no host outside the People panel, which would cover the recording: host stays unknown.
// A camera is on while the tile plays a video (with the camera off the tile keeps a hidden, empty
// <video> and shows the avatar). A presentation is a tile of its own, with an id of its own,
// named "<presenter> (Presentation)": it marks its presenter as sharing and is no participant.
// A playing camera's <video> and a presentation tile's <video> are the separate video parts'.
const self = document.querySelector("[data-self-name]");
if (!document.querySelector('[aria-label="Call controls"]')) return null;
const PRESENTATION = /\s*\(Presentation\)$/;
const nameOf = (t) => {
  const nameEl = t.querySelector("[data-participant-name]") || t.querySelector("span");
  return nameEl ? nameEl.innerText.trim() : "";
};
const playing = (v) => !!v && !v.hidden && v.getClientRects().length > 0 &&
  v.readyState >= 2 && v.videoWidth > 0;
const tiles = Array.from(document.querySelectorAll("[data-participant-id]"))
  .filter(t => t !== self && !t.contains(self) && !t.hasAttribute("data-self-name"))
  .map(t => ({t, name: nameOf(t)}));
const presentations = new Map(tiles.filter(({name}) => PRESENTATION.test(name))
  .map(({t, name}) => [name.replace(PRESENTATION, ""), t.querySelector("video")]));
const people = tiles.filter(({name}) => !PRESENTATION.test(name)).map(({t, name}) => {
  const img = t.querySelector("img[src]");
  const video = t.querySelector("video");
  const camera = playing(video);
  return {key: t.getAttribute("data-participant-id"), name,
          extra: img ? {avatar_url: img.getAttribute("src")} : null,
          camera, sharing: presentations.has(name),
          cameraVideo: camera ? video : null, shareVideo: presentations.get(name) || null};
});
// Two people of one name presenting cannot be told apart here: the first of them is marked.
const marked = new Set();
for (const p of people) {
  if (p.sharing && marked.has(p.name)) { p.sharing = false; p.shareVideo = null; }
  if (p.sharing) marked.add(p.name);
}
return people;
