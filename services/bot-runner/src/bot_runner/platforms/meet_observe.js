// Google Meet: classify the page from its visible texts and in-call structures (platforms.md).
const text = (document.body && document.body.innerText) || "";
const has = (s) => text.includes(s);
const first = (list) => list.find(has);
const participants = Array.from(document.querySelectorAll('[role="list"][aria-label="Participants"] [role="listitem"]'))
  .map(e => e.getAttribute("aria-label")).filter(Boolean);
if (location.hostname === "accounts.google.com" ||
    (Array.from(document.querySelectorAll("h1")).some(h => h.innerText.trim() === "Sign in") && has("Google Account"))) {
  return {state: "not_joinable", reason: "sign_in_required", evidence: text.slice(0, 200)};
}
let hit = first(["Check your meeting code", "Invalid video call name", "Your meeting code has expired"]);
if (hit) return {state: "not_joinable", reason: "meeting_not_found", evidence: hit};
hit = first(["You can't join this video call", "You can\u2019t join this video call"]);
if (hit) return {state: "not_joinable", reason: "meeting_not_found", evidence: hit};
hit = first(["Someone in the call denied your request to join"]);
if (hit) return {state: "denied", reason: "denied", evidence: hit};
hit = first(["No one responded to your request to join the call"]);
if (hit) return {state: "no_response", reason: "waiting_room_timeout", evidence: hit};
hit = first(["You've been removed from the meeting", "You\u2019ve been removed from the meeting"]);
if (hit) return {state: "removed", reason: "removed", evidence: hit};
hit = first(["Your host ended the meeting for everyone", "The meeting has ended", "Meeting ended"]);
if (hit && !document.querySelector('[aria-label="Call controls"]')) return {state: "ended", reason: "meeting_ended", evidence: hit};
hit = first(["Asking to be let in", "You'll join the call when someone lets you in", "You\u2019ll join the call when someone lets you in"]);
if (hit) return {state: "waiting_room", evidence: hit};
const markers = [
  document.querySelector('[aria-label="Call controls"]'),
  Array.from(document.querySelectorAll("button[aria-label]")).find(b => b.getAttribute("aria-label").startsWith("People")),
  Array.from(document.querySelectorAll("button[aria-label]")).find(b => b.getAttribute("aria-label").startsWith("Chat with everyone")),
  document.querySelector('button[aria-label="Turn on captions"], button[aria-label="Turn off captions"]'),
  document.querySelectorAll("[data-participant-id]").length > 1 ? true : null,
  document.querySelector("[data-self-name]"),
].filter(Boolean).length;
if (markers >= 3) {
  const tiles = Array.from(document.querySelectorAll("[data-participant-id]"))
    .filter(t => !t.hasAttribute("data-self-name") && !t.querySelector("[data-self-name]"));
  const names = participants.length ? participants : tiles.map(t => (t.querySelector("span") || t).innerText.trim()).filter(Boolean);
  // A modal over the call that the adapter accepts (DIALOG_LABELS in meet.py): the recording
  // shows it until then, so the session accepts it as soon as it is seen.
  const accepts = ["OK", "Got it", "Dismiss", "Join now"];
  const dialog = Array.from(document.querySelectorAll('[role="dialog"][aria-modal="true"]'))
    .some(d => Array.from(d.querySelectorAll("button")).some(b => accepts.includes(b.innerText.trim())));
  return {state: "in_call", evidence: "in-call markers: " + markers, participants: names, dialog};
}
const joinButton = Array.from(document.querySelectorAll("button")).find(b =>
  ["Ask to join", "Join now", "Join anyway", "Join here too"].includes(b.innerText.trim()));
if (document.querySelector('input[aria-label="Your name"]') || joinButton) return {state: "pre_join"};
return {state: "loading", evidence: text.slice(0, 120)};
