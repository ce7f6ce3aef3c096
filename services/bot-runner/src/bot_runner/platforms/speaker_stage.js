// Speaker view: the tile of whoever speaks (or spoke last) fills the viewport the recording
// captures; the others stay underneath. arguments[0] is the body of a function returning
// [{name, speaking, el}] for the remote tiles (the adapter's tiles script).
(function (tilesBody) {
  if (window.__mbSpeakerStage) return;
  const tilesNow = new Function(tilesBody);
  const style = document.createElement("style");
  style.textContent = "[data-mb-stage]{position:fixed!important;inset:0!important;" +
    "width:100vw!important;height:100vh!important;max-width:none!important;" +
    "max-height:none!important;margin:0!important;border-radius:0!important;" +
    "transform:none!important;z-index:2147483646!important}";
  document.documentElement.appendChild(style);
  let staged = null;
  let lastSpeaker = null;
  const stageSpeaker = () => {
    let tiles = [];
    try { tiles = (tilesNow() || []).filter(t => t.el); } catch (e) { return; }
    const speaking = tiles.find(t => t.speaking);
    if (speaking) lastSpeaker = speaking.name;
    const pick = speaking || tiles.find(t => t.name === lastSpeaker) || tiles[0];
    const el = pick ? pick.el : null;
    if (el === staged) return;
    if (staged) staged.removeAttribute("data-mb-stage");
    if (el) el.setAttribute("data-mb-stage", "");
    staged = el;
  };
  stageSpeaker();  // before the caller starts recording: the first frame is already staged
  window.__mbSpeakerStage = setInterval(stageSpeaker, 150);
})(arguments[0]);
