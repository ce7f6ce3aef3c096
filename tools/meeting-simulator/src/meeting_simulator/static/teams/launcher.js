'use strict';
// The Teams launcher: "How do you want to join your Teams meeting?". "Continue on this browser"
// opens the web client on the meeting; "Join on the Teams app" only tries the msteams: deep link.
(() => {
  const root = document.getElementById('launcher');

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    children.filter((c) => c !== null && c !== undefined).forEach((c) => node.append(c));
    return node;
  }

  // The meeting's client route, e.g. "/l/meetup-join/<thread>/<message>?context=…" or
  // "/meet/<digits>?p=…", from whichever link form brought the browser here.
  function clientRoute() {
    const path = location.pathname;
    if (path.startsWith('/l/meetup-join/') || path.startsWith('/meet/')) {
      return path + location.search;
    }
    const url = new URLSearchParams(location.search).get('url') || '';
    if (url.startsWith('/_#/')) return url.slice(3);
    if (url === '/_' && location.hash.startsWith('#/')) return location.hash.slice(1);
    return null;
  }

  const route = clientRoute();

  function webClientUrl() {
    const anon = /[?&]anon=true(&|$)/.test(route) ? '' : `${route.includes('?') ? '&' : '?'}anon=true`;
    return `/v2/?meetingjoin=true#${route}${anon}`;
  }

  function option(tid, title, detail, onClick) {
    const node = el('button', { type: 'button', class: 'launch-option', 'data-tid': tid },
      el('span', { class: 'launch-title', text: title }),
      el('span', { class: 'launch-detail', text: detail }));
    node.addEventListener('click', onClick);
    return node;
  }

  if (route === null) {
    root.replaceChildren(el('main', { class: 'message-screen' },
      el('h1', { text: 'Looks like the meeting URL is incorrect' }),
      el('p', { text: 'Check the link and try again.' })));
    return;
  }

  const app = option('joinOnApp', 'Join on the Teams app', 'Open Microsoft Teams', () => {
    // Like the real launcher: hand over to the desktop app. A browser without it gets nowhere.
    location.href = `msteams:${route}`;
  });
  const web = option('joinOnWeb', 'Continue on this browser', 'No download or installation required.', () => {
    location.href = webClientUrl();
  });
  root.replaceChildren(el('main', { class: 'launcher' },
    el('div', { class: 'brand', 'aria-hidden': 'true', text: 'Microsoft Teams' }),
    el('h1', { text: 'How do you want to join your Teams meeting?' }),
    el('div', { class: 'launch-options' }, app, web),
    el('p', { class: 'launch-note' }, el('span', { text: 'Don\u2019t have the app? ' }),
      el('a', { href: '#', text: 'Download it now' }))));
})();
