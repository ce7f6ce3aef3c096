// Zoom web client: classify the page from its own words and in-call structures (platforms.md).
// `retry` tells the adapter which pages only a reload gets past ("host" not started yet,
// "invalid" link that may still turn into the meeting); `self` is the bot's own name as shown.
const visible = (e) => !!e && e.getClientRects().length > 0 &&
  getComputedStyle(e).visibility !== "hidden";
// The page's own words: visible text, without what people type (chat) or are called (names).
const OWN_WORDS_SKIP = '[id^="chat-message-"], .participants-item__display-name, .video-avatar__avatar-footer, [contenteditable="true"]';
const parts = [];
if (document.body) {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || !node.nodeValue.trim() || parent.closest("script, style, " + OWN_WORDS_SKIP)) continue;
    if (parent.getClientRects().length === 0) continue;
    parts.push(node.nodeValue);
  }
}
const text = parts.join(" ").replace(/\s+/g, " ").trim();
const lower = text.toLowerCase();
const first = (list) => list.find((s) => lower.includes(s.toLowerCase()));
const squash = (s) => (s || "").replace(/\s+/g, " ").trim();

// Ends, as the meeting says them (denial first: it also reads "You have been removed").
let hit = first(["You have been removed from the waiting room", "removed you from the waiting room"]);
if (hit) return {state: "denied", reason: "denied", evidence: "Zoom: " + hit};
hit = first(["You have been removed from this meeting", "You have been removed", "The host has removed you"]);
if (hit) return {state: "removed", reason: "removed", evidence: "Zoom: " + hit};
hit = first(["This meeting has been ended by host", "The meeting has been ended by host",
  "This meeting has been ended", "The host has ended this meeting"]);
if (hit) return {state: "ended", reason: "meeting_ended", evidence: "Zoom: " + hit};
hit = first(["You have left the meeting"]);
if (hit) return {state: "ended", reason: "meeting_ended", evidence: "Zoom: " + hit};

// Before the pre-join: not started yet, invalid link (checked before sign-in: the host-wait page
// offers "sign in to start this meeting").
hit = first(["Waiting for the host to start this meeting", "The meeting has not started",
  "Waiting for the host to start the meeting"]);
if (hit) return {state: "waiting_room", evidence: "Zoom: " + hit, retry: "host"};
hit = first(["This meeting link is invalid", "(3,001)", "Meeting does not exist",
  "This meeting ID is not valid", "Invalid meeting ID"]);
if (hit || document.title.trim() === "Error - Zoom") {
  const heading = document.querySelector("h1, h2");
  const said = heading && hit && heading.innerText.includes(hit) ? heading.innerText : hit;
  return {state: "not_joinable", reason: "meeting_not_found", retry: "invalid",
          evidence: "Zoom: " + squash(said || text.slice(0, 160))};
}

// Not joinable as a guest bot.
hit = first(["We detected you may be a bot", "detected you may be a bot"]);
if (hit) {
  const detail = Array.from(document.querySelectorAll("div, p")).find((e) => e.children.length === 0 &&
    e.innerText.toLowerCase().includes(hit.toLowerCase()));
  return {state: "not_joinable", reason: "bot_wall", evidence: "Zoom: " + squash(detail ? detail.innerText : hit)};
}
const captcha = document.querySelector('iframe[title*="recaptcha" i], iframe[src*="recaptcha"], iframe[src*="hcaptcha"], .g-recaptcha');
if (captcha || first(["Security verification", "I'm not a robot"])) {
  const box = captcha && captcha.closest('[role="dialog"], [role="alertdialog"]');
  return {state: "not_joinable", reason: "bot_wall",
          evidence: "Zoom asks for a captcha: " + squash(box ? box.innerText : text).slice(0, 200)};
}
hit = first(["sign in to join this meeting", "only authenticated users can join",
  "This meeting is for authorized attendees only", "Invalid token. Unable to join this meeting",
  "Sign in to join"]);
if (hit) return {state: "not_joinable", reason: "sign_in_required", evidence: "Zoom: " + hit};
if (/^\/signin/.test(location.pathname)) {
  return {state: "not_joinable", reason: "sign_in_required", evidence: "Zoom sent the bot to its Sign In page"};
}
hit = first(["Incorrect meeting passcode", "Wrong meeting passcode", "passcode is incorrect", "passcode is wrong"]);
if (hit) return {state: "not_joinable", reason: "passcode_required", evidence: "Zoom: " + hit};
const passcode = Array.from(document.querySelectorAll('input[placeholder*="passcode" i], #input-for-pwd')).find(visible);
if (passcode) {
  const said = first(["Please enter the meeting passcode"]);
  return {state: "not_joinable", reason: "passcode_required",
          evidence: "Zoom: " + (said || "the meeting asks for a passcode (\"" +
            (passcode.getAttribute("placeholder") || "passcode") + "\" field) and the link carries none")};
}

// Inside the meeting app: connecting and the waiting room are not the call.
hit = first(["Joining Meeting", "Connecting to the meeting"]);
if (hit) return {state: "loading", evidence: "Zoom: " + hit};
hit = first(["Please wait, the meeting host will let you in soon", "Host has joined. We've let them know you're here",
  "Host has joined. We\u2019ve let them know you\u2019re here", "the meeting host will let you in soon"]);
if (hit) return {state: "waiting_room", evidence: "Zoom: " + hit};

const buttons = Array.from(document.querySelectorAll("button[aria-label]"));
const labelled = (part) => buttons.find((b) => b.getAttribute("aria-label").toLowerCase().includes(part));
const leave = document.querySelector('button[aria-label="Leave"]');
const mainFrame = document.querySelector(".speaker-active-container__video-frame, .gallery-video-container__video-frame");
const participantsButton = labelled("participants list");
const markers = [leave, mainFrame, participantsButton, labelled("chat panel"),
  document.querySelector("#wc-footer")].filter(Boolean).length;
if (markers >= 2) {
  const footerName = (sel) => {
    const e = document.querySelector(sel + " .video-avatar__avatar-footer");
    return e ? squash(e.innerText) : "";
  };
  const label = /\s*\(((?:co-host|host|guest|me)(?:\s*,\s*(?:co-host|host|guest|me))*)\)\s*$/i;
  let self = footerName(".speaker-bar-container__video-frame");
  const names = [];
  const items = Array.from(document.querySelectorAll(".participants-item__display-name"));
  for (const item of items) {
    let name = squash(item.innerText);
    let me = false;
    for (let m = name.match(label); m; m = name.match(label)) {
      if (/\bme\b/i.test(m[1])) me = true;
      name = name.slice(0, m.index).trim();
    }
    if (me) { self = self || name; continue; }
    if (name) names.push(name);
  }
  let participants = names.filter((n) => n !== self);
  if (!items.length && participantsButton) {
    // The pane is closed: its button still says how many are in the call, the bot included.
    const count = parseInt((participantsButton.getAttribute("aria-label").match(/\[(\d+)\]/) || [])[1] || "0", 10);
    const speaker = footerName(".speaker-active-container__video-frame");
    participants = Array.from({length: Math.max(0, count - 1)},
      (_, i) => (i === 0 && speaker && speaker !== self ? speaker : "participant " + (i + 1)));
  }
  return {state: "in_call", evidence: "in-call markers: " + markers, participants, self};
}

if (document.querySelector('#input-for-name, #inputname, input[placeholder="Your Name" i], button.preview-join-button, #joinBtn')) {
  return {state: "pre_join"};
}
return {state: "loading", evidence: squash(text).slice(0, 120)};
