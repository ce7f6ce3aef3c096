// Polls the meeting chat every 250 ms and records each new message with the page clock.
// arguments[0] is the body of a function returning [{id, sender, text, to, mine}] for the messages
// the chat panel holds now (null while it is closed); `to` is "everyone" or "only_bot", `mine`
// marks the bot's own. A message without an id of the platform's is known by its place in the list
// (chat lists only grow).
(function (chatBody) {
  if (window.__mbChatProbe) return;
  const read = new Function(chatBody);
  const seen = new Set();
  window.__mbChat = [];
  window.__mbChatProbe = setInterval(() => {
    let messages = null;
    try { messages = read(); } catch (e) { return; }
    if (!Array.isArray(messages)) return;
    const t = performance.now(), wall = Date.now();
    messages.forEach((m, index) => {
      const id = m.id ? String(m.id) : "#" + index;
      if (seen.has(id)) return;
      seen.add(id);
      if (m.mine || typeof m.text !== "string") return;
      window.__mbChat.push({id, sender: (m.sender || "").trim(), text: m.text,
                            to: m.to === "only_bot" ? "only_bot" : "everyone", t, wall});
    });
  }, 250);
})(arguments[0]);
