// Microsoft Teams: the meeting chat pane lists data-tid="chat-pane-message" items with the author
// (data-tid="message-author-name", absent on the bot's own) and the body
// (data-tid="messageBodyContent"). The meeting chat goes to everyone; items carry no id.
const items = Array.from(document.querySelectorAll('[data-tid="chat-pane-message"]'));
if (!items.length && !document.querySelector('[aria-label="Type a message"], [aria-label="Chat content"]')) return null;
return items.map(item => {
  const author = item.querySelector('[data-tid="message-author-name"]');
  const body = item.querySelector('[data-tid="messageBodyContent"]');
  return {sender: author ? author.textContent.trim() : "", text: body ? body.textContent : null,
          to: "everyone", mine: !author};
});
