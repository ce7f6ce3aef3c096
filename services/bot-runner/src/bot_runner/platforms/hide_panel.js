// Takes the side panel holding arguments[0] (an element of it) out of the page's layout, off
// screen: the call gets its whole width back, and the recording does not show the panel, while the
// panel stays in the DOM and keeps rendering. arguments[1] false puts it back.
const inside = arguments[0], hide = arguments[1] !== false;
if (!inside) return false;
let panel = inside;
for (let e = inside.parentElement; e && e !== document.body; e = e.parentElement) {
  if (e.getBoundingClientRect().width > window.innerWidth * 0.6) break;
  panel = e;
}
panel = inside.closest("aside") || panel;
if (hide) {
  if (!panel.hasAttribute("data-mb-hidden")) panel.setAttribute("data-mb-hidden", panel.getAttribute("style") || "");
  panel.style.cssText += ";position:fixed!important;left:-10000px!important;top:0!important;width:360px!important;height:100vh!important";
} else if (panel.hasAttribute("data-mb-hidden")) {
  panel.setAttribute("style", panel.getAttribute("data-mb-hidden"));
  panel.removeAttribute("data-mb-hidden");
}
return true;
