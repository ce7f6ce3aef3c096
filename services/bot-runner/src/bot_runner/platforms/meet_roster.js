// Google Meet: everyone in the call has a tile with data-participant-id (the bot's own carries
// data-self-name), the name in a child span; an avatar image where the person has one. The page
// shows no host outside the People panel, which would cover the recording: host stays unknown.
const self = document.querySelector("[data-self-name]");
if (!document.querySelector('[aria-label="Call controls"]')) return null;
return Array.from(document.querySelectorAll("[data-participant-id]"))
  .filter(t => t !== self && !t.contains(self) && !t.hasAttribute("data-self-name"))
  .map(t => {
    const nameEl = t.querySelector("[data-participant-name]") || t.querySelector("span");
    const img = t.querySelector("img[src]");
    return {key: t.getAttribute("data-participant-id"), name: nameEl ? nameEl.innerText.trim() : "",
            extra: img ? {avatar_url: img.getAttribute("src")} : null};
  });
