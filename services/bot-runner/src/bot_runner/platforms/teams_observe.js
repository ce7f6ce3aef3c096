// Microsoft Teams: classify the page from its visible texts and in-call structures (platforms.md).
// arguments[0] is the bot's own display name (null before the pre-join form was filled): it is
// kept in the page so that the tiles script can leave the bot's own tile out.
if (arguments.length && arguments[0]) window.__mbSelfName = arguments[0];
const selfName = window.__mbSelfName || null;
const text = (document.body && document.body.innerText) || "";
const norm = (s) => (s || "").replace(/[\u2018\u2019]/g, "'");
const plain = norm(text);
const has = (s) => plain.includes(norm(s));
const first = (list) => list.find(has);
const shown = (e) => !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
const q = (sel) => Array.from(document.querySelectorAll(sel)).find(shown) || null;
const labelled = (labels) => Array.from(document.querySelectorAll("button[aria-label], [role=button][aria-label]"))
  .find(b => shown(b) && labels.includes(b.getAttribute("aria-label").trim())) || null;
const headline = (e) => (e ? norm(e.innerText).trim().split("\n")[0] : "");
// A short extract of the page's own words from a hit on: its line and the sentence after it (short
// button labels such as "Dismiss" left out).
const around = (hit) => {
  const lines = plain.split("\n").map(s => s.trim()).filter(Boolean);
  const i = Math.max(lines.findIndex(l => l.includes(norm(hit))), 0);
  const next = lines.slice(i + 1, i + 3).find(l => l.length > 20);
  const head = lines[i] || hit;
  return (next ? head + (/[.!?]$/.test(head) ? " " : ". ") + next : head).slice(0, 280);
};

// Sign-in walls: a redirect to Microsoft's login host, or the client asking for a sign-in.
if (/(^|\.)login\.microsoftonline\.com$/i.test(location.hostname) || /(^|\.)login\.live\.com$/i.test(location.hostname)) {
  return {state: "not_joinable", reason: "sign_in_required",
          evidence: "The meeting asks guests to sign in: redirected to " + location.hostname + " (" +
            (document.title || text.trim().split("\n")[0] || "") + ")"};
}

const hangup = q('[data-tid="hangup-main-btn"], #hangup-button') || labelled(["Leave", "Hang up"]);
const removedTitle = q("#calling-retry-screen-title");
if (removedTitle && /removed/i.test(removedTitle.innerText)) {
  return {state: "removed", reason: "removed", evidence: around(headline(removedTitle))};
}

// In the call: several structures at once, never one. Checked before the end texts, which a chat
// message could quote.
const markers = [
  hangup,
  q('[data-tid="roster-button"], #roster-button') || labelled(["People", "Show participants", "Participants"]),
  q("#chat-button") || labelled(["Chat", "Show conversation"]),
  q("#raisehands-button") || labelled(["Raise", "Lower", "Raise hand", "Lower hand"]),
  q("#reaction-menu-button") || labelled(["React", "Reactions"]),
].filter(Boolean).length;
if (markers >= 3) {
  const self = selfName ? selfName.trim() : null;
  const roster = Array.from(document.querySelectorAll('[data-tid^="participantsInCall-"]'))
    .map(e => e.getAttribute("data-tid").slice("participantsInCall-".length).trim());
  const tiles = Array.from(document.querySelectorAll('[data-stream-type="Video"][data-tid]'))
    .map(e => e.getAttribute("data-tid").trim());
  const names = (roster.length ? roster : tiles).filter(n => n && n !== self);
  return {state: "in_call", evidence: "in-call markers: " + markers,
          participants: Array.from(new Set(names))};
}

let hit = first(["We need to verify your info before you can join", "To join, sign in or use Teams on the web",
                 "Sign in to join this meeting", "Only people with an account can join"]);
if (hit) return {state: "not_joinable", reason: "sign_in_required", evidence: around(hit)};
hit = first(["Looks like the meeting URL is incorrect", "This meeting link is invalid", "We couldn't find this meeting"]);
if (hit) return {state: "not_joinable", reason: "meeting_not_found", evidence: around(hit)};
hit = first(["Verify you're a real person", "Verify you are a real person"]);
if (hit) return {state: "not_joinable", reason: "bot_wall", evidence: around(hit)};
hit = first(["Sorry, but you were denied access to the meeting", "Your request to join was declined",
             "Someone in the meeting denied your request to join"]);
if (hit) return {state: "denied", reason: "denied", evidence: around(hit)};
hit = first(["Sorry, no one responded to your request to join the meeting",
             "No one responded to your request to join"]);
if (hit) return {state: "no_response", reason: "waiting_room_timeout", evidence: around(hit)};
hit = first(["You've been removed from this meeting", "You have been removed from this meeting",
             "You've been removed from the meeting"]);
if (hit) return {state: "removed", reason: "removed", evidence: around(hit)};
hit = first(["Meeting ended", "Call ended", "The meeting has ended", "This meeting has ended"]);
if (hit) return {state: "ended", reason: "meeting_ended", evidence: around(hit)};

// The lobby keeps the pre-join form and a disabled "Join now": the lobby texts decide.
hit = first(["Someone will let you in shortly", "Someone will let you in soon", "Waiting to be admitted",
             "When the meeting starts, we'll let people know you're waiting",
             "We've let people in the meeting know you're waiting"]);
if (hit) return {state: "waiting_room", evidence: around(hit)};

const nameInput = q('[data-tid="prejoin-display-name-input"]');
const join = q('[data-tid="prejoin-join-button"]');
const modal = Array.from(document.querySelectorAll('[role="dialog"], [role="alertdialog"]'))
  .find(d => shown(d) && /Continue without audio or video/.test(d.innerText));
if (modal || (nameInput && !nameInput.disabled) || (join && !join.disabled && join.getAttribute("aria-disabled") !== "true")) {
  return {state: "pre_join", evidence: modal ? "audio/video modal" : "pre-join form"};
}
const launcher = Array.from(document.querySelectorAll("button, a, [role=button]"))
  .find(b => shown(b) && /^(Continue on this browser|Join on this browser|Join from browser|Join on the web instead)/i
    .test((b.innerText || "").trim()));
if (launcher) return {state: "loading", evidence: "launcher: " + headline(launcher)};
if (join) return {state: "loading", evidence: "join requested"};
return {state: "loading", evidence: text.trim().slice(0, 120)};
