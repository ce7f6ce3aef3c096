// Google Meet: each remote participant tile carries data-participant-id and the name in a span;
// a speaking tile gains a speaking class or a non-zero audio level. `el` is the tile itself, `key`
// its data-participant-id.
const self = document.querySelector("[data-self-name]");
return Array.from(document.querySelectorAll("[data-participant-id]"))
  .filter(t => t !== self && !t.contains(self) && !t.hasAttribute("data-self-name"))
  .map(t => {
    const nameEl = t.querySelector("[data-participant-name]") || t.querySelector("span");
    const levelEl = t.hasAttribute("data-audio-level") ? t : t.querySelector("[data-audio-level]");
    const level = levelEl ? parseFloat(levelEl.getAttribute("data-audio-level")) || 0 : 0;
    const speaking = /(^|\s)(speaking|is-speaking)(\s|$)/.test(t.className) || level > 0;
    return {name: nameEl ? nameEl.innerText.trim() : "", key: t.getAttribute("data-participant-id"), speaking, el: t};
  });
