// Google Meet: the chat panel ("Chat with everyone") lists messages as items with
// data-message-id, the sender's name (the bot's own: "You") and the text. Meet's meeting chat has
// no private messages: every message is to everyone. null while the panel is closed.
if (!document.querySelector('textarea[aria-label="Send a message"]')) return null;
return Array.from(document.querySelectorAll("[data-message-id]")).map(item => {
  const sender = (item.querySelector(".sender") || {}).textContent || "";
  const body = item.querySelector(".text");
  return {id: item.getAttribute("data-message-id"), sender: sender.trim(),
          text: body ? body.textContent : null, to: "everyone", mine: sender.trim() === "You"};
});
