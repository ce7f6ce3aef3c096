// Zoom web client: the chat panel lists messages with id="chat-message-…": the sender (the bot's
// own: "Me"), the receiver (" to Everyone", or " to Me (Direct Message)" when sent to the bot
// alone) and the text. null while the panel is closed.
if (!document.querySelector('[aria-label="chat message list"], .chat-container__chat-list')) return null;
return Array.from(document.querySelectorAll('[id^="chat-message-"]')).map(item => {
  const sender = ((item.querySelector(".chat-item__sender") || {}).textContent || "").trim();
  const receiver = (item.querySelector(".chat-item__receiver") || {}).textContent || "";
  const body = item.querySelector(".chat-message__text-content");
  return {id: item.id, sender, text: body ? body.textContent : null,
          to: /everyone/i.test(receiver) ? "everyone" : "only_bot", mine: sender === "Me"};
});
