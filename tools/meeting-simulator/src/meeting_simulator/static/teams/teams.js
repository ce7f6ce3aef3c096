'use strict';
// The Teams web client as a guest bot sees it: the meeting comes from location.hash; then the
// pre-join screen (with its "no audio or video" modal), the lobby, the call, and the ends.
// Remote speech arrives mixed on one <audio> element (see mixed-audio.js).
(() => {
  const app = document.getElementById('app');

  const LOADING_MS = 600;
  const MODAL_BEFORE_DELAY_MS = 900;
  const RECORDING_BANNER_DELAY_MS = 1500;
  const TOAST_FIRST_MS = 2500;
  const TOAST_EVERY_MS = 9000;
  const TOAST_SHOWN_MS = 4000;
  const FINAL_STATUSES = new Set(['denied', 'no_response', 'cancelled', 'left', 'removed', 'ended']);
  const SIGN_IN_CLIENT_ID = '4b1c3f2e-9d7a-4c55-8e0b-2f6a1d9c7e31';
  const TOASTS = [
    'Your network connection is affecting call quality.',
    'You\'re muted. To unmute, press Ctrl+Shift+M.',
    'Live captions are available in this meeting.',
    'Someone shared a file in the meeting chat.',
  ];

  const state = {
    route: null,
    api: null,
    info: null,
    strict: false,
    view: null,
    guest: null,
    version: -1,
    offset: 0,
    polling: false,
    screen: null,
    micOn: true,
    camOn: true,
    stream: null,
    mediaTried: false,
    joining: false,
    afterModalDone: false,
    call: null,
  };

  // -- helpers ------------------------------------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child);
    }
    return node;
  }

  function on(node, type, handler) {
    node.addEventListener(type, (event) => {
      if (state.strict && !event.isTrusted) return;
      handler(event);
    });
    return node;
  }

  function textButton(text, cls = 'btn', attrs = {}) {
    return el('button', { type: 'button', class: cls, ...attrs }, el('span', { text }));
  }

  function toolbarButton(attrs, icon, label) {
    return el('button', { type: 'button', class: 'tool', ...attrs },
      el('span', { class: 'tool-icon', 'aria-hidden': 'true', 'data-icon': icon }),
      el('span', { class: 'tool-label', text: label }));
  }

  function initials(name) {
    return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('');
  }

  const serverNow = () => Date.now() / 1000 + state.offset;

  async function post(path, payload = {}) {
    const response = await fetch(state.api + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
      cache: 'no-store',
    });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  // "#/l/meetup-join/<thread>/<message>?context=…&anon=true" or "#/meet/<digits>?p=…&anon=true"
  function parseRoute(hash) {
    const raw = hash.replace(/^#/, '');
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    let match = path.match(/^\/l\/meetup-join\/([^/]+)\/([^/]+)\/?$/);
    if (match) {
      try {
        return { code: decodeURIComponent(match[1]), passcode: null };
      } catch (error) {
        return null;
      }
    }
    match = path.match(/^\/meet\/([0-9]+)\/?$/);
    if (match) return { code: match[1], passcode: params.get('p') };
    return null;
  }

  // -- entry --------------------------------------------------------------------------------------

  async function boot() {
    state.screen = 'loading';
    app.replaceChildren(el('div', { class: 'loading', role: 'progressbar', 'aria-label': 'Loading' },
      el('div', { class: 'brand', 'aria-hidden': 'true', text: 'Microsoft Teams' }),
      el('div', { class: 'spinner' })));
    const loaded = new Promise((resolve) => setTimeout(resolve, LOADING_MS));
    state.route = parseRoute(location.hash);
    if (!state.route) {
      await loaded;
      showIncorrect('not_found');
      return;
    }
    state.api = `/_sim/api/${encodeURIComponent(state.route.code)}`;
    let info;
    try {
      const query = state.route.passcode === null ? '' : `?p=${encodeURIComponent(state.route.passcode)}`;
      const response = await fetch(`${state.api}/meeting${query}`, { cache: 'no-store' });
      info = await response.json();
    } catch (error) {
      info = { ok: false, reason: 'not_found' };
    }
    await loaded;
    if (!info.ok) {
      showIncorrect(info.reason);
      return;
    }
    state.info = info;
    state.strict = !!info.reject_synthetic_input;
    if (info.require_sign_in) {
      const back = encodeURIComponent(`${location.origin}/v2/`);
      location.replace(`https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=${SIGN_IN_CLIENT_ID}`
        + `&response_type=code&scope=openid%20profile&redirect_uri=${back}&response_mode=fragment`);
      return;
    }
    if (info.captcha) {
      showCaptcha();
      return;
    }
    showPrejoin();
  }

  function showIncorrect(reason) {
    const details = {
      passcode_missing: 'This meeting needs a passcode. Use the full meeting link, which includes it.',
      passcode_wrong: 'The meeting ID or passcode is incorrect. Check the link and try again.',
    };
    showFinal({
      title: 'Looks like the meeting URL is incorrect',
      detail: details[reason] || 'Check the meeting link and try again.',
    });
  }

  function showCaptcha() {
    state.screen = 'captcha';
    const feedback = el('p', { class: 'captcha-feedback', role: 'status' });
    const puzzle = el('div', { class: 'captcha-puzzle hidden', role: 'img', 'aria-label': 'Puzzle' },
      ...Array.from({ length: 9 }, (_, i) => el('button', { type: 'button', class: 'cell', 'aria-label': `Image ${i + 1}` })));
    puzzle.querySelectorAll('.cell').forEach((cell) => on(cell, 'click', () => cell.classList.toggle('picked')));
    const start = textButton('Start puzzle', 'btn btn-primary');
    const submit = textButton('Submit', 'btn btn-primary hidden');
    on(start, 'click', () => {
      puzzle.classList.remove('hidden');
      start.classList.add('hidden');
      submit.classList.remove('hidden');
      feedback.textContent = 'Select every picture that shows a bicycle.';
    });
    on(submit, 'click', () => {
      puzzle.querySelectorAll('.cell').forEach((cell) => cell.classList.remove('picked'));
      feedback.textContent = 'That wasn\'t quite right. Try the new puzzle.';
    });
    app.replaceChildren(el('main', { class: 'captcha' },
      el('h1', { text: 'Verify you\'re a real person' }),
      el('p', { text: 'To protect this meeting, solve the puzzle before you join.' }),
      puzzle, feedback, el('div', { class: 'message-actions' }, start, submit)));
  }

  // -- local media --------------------------------------------------------------------------------

  async function acquireMedia() {
    if (state.mediaTried) return;
    state.mediaTried = true;
    try {
      state.stream = await navigator.mediaDevices.getUserMedia({
        audio: true, video: { width: 640, height: 360 },
      });
    } catch (error) {
      state.stream = null;
      state.micOn = false;
      state.camOn = false;
      if (state.screen === 'prejoin') showNoAvModal(null);
    }
    applyMedia();
  }

  function applyMedia() {
    if (state.stream) {
      state.stream.getAudioTracks().forEach((t) => { t.enabled = state.micOn; });
      state.stream.getVideoTracks().forEach((t) => { t.enabled = state.camOn; });
    }
    document.querySelectorAll('video[data-self-video]').forEach((video) => {
      const show = !!state.stream && state.camOn;
      if (show && video.srcObject !== state.stream) video.srcObject = state.stream;
      video.classList.toggle('hidden', !show);
    });
    document.querySelectorAll('.preview-off').forEach((note) => {
      note.classList.toggle('hidden', !!state.stream && state.camOn);
    });
    document.querySelectorAll('[role="switch"][data-tid^="toggle-"]').forEach((node) => {
      const enabled = node.dataset.tid === 'toggle-mute' ? state.micOn : state.camOn;
      node.setAttribute('aria-checked', enabled ? 'true' : 'false');
    });
    const mic = document.getElementById('microphone-button');
    if (mic) mic.setAttribute('aria-label', state.micOn ? 'Mute mic' : 'Unmute mic');
    const cam = document.getElementById('video-button');
    if (cam) cam.setAttribute('aria-label', state.camOn ? 'Turn camera off' : 'Turn camera on');
  }

  function toggleDevice(kind) {
    if (kind === 'mute') state.micOn = !state.micOn; else state.camOn = !state.camOn;
    applyMedia();
  }

  function selfVideo() {
    const video = el('video', { autoplay: true, playsinline: true, 'data-self-video': true });
    video.muted = true;
    return video;
  }

  function stopMedia() {
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.stream = null;
  }

  // -- pre-join -----------------------------------------------------------------------------------

  function deviceSwitch(kind) {
    const label = kind === 'mute' ? 'Microphone' : 'Camera';
    const node = el('button', {
      type: 'button', role: 'switch', class: 'switch', 'data-tid': `toggle-${kind}`, 'aria-label': label,
    }, el('span', { class: 'knob', 'aria-hidden': 'true' }));
    on(node, 'click', () => toggleDevice(kind));
    return el('label', { class: 'device' }, el('span', { class: 'device-name', text: label }), node);
  }

  function showPrejoin() {
    state.screen = 'prejoin';
    const preview = el('div', { class: 'preview' }, selfVideo(),
      el('div', { class: 'preview-off', text: 'Your camera is turned off' }));
    const name = el('input', {
      type: 'text', 'data-tid': 'prejoin-display-name-input', placeholder: 'Type your name',
      'aria-label': 'Type your name', autocomplete: 'off', maxlength: '60', spellcheck: 'false',
    });
    const join = textButton('Join now', 'btn btn-primary', { 'data-tid': 'prejoin-join-button' });
    join.disabled = true;
    on(name, 'input', () => { if (!state.joining) join.disabled = name.value.trim() === ''; });
    on(name, 'keydown', (event) => {
      if (event.key === 'Enter' && !join.disabled) requestJoin(name.value.trim());
    });
    on(join, 'click', () => { if (!join.disabled) requestJoin(name.value.trim()); });
    state.nameInput = name;
    state.joinButton = join;
    state.side = el('div', { class: 'prejoin-side' },
      el('h2', { text: 'Enter your name' }), name, join);
    app.replaceChildren(el('div', { class: 'prejoin', 'data-tid': 'prejoin-screen' },
      el('h1', { class: 'prejoin-title', text: 'Choose your audio and video settings' }),
      el('div', { class: 'prejoin-body' },
        el('div', { class: 'preview-wrap' }, preview,
          el('div', { class: 'devices' }, deviceSwitch('video'), deviceSwitch('mute'))),
        state.side)));
    applyMedia();
    acquireMedia();
    if (state.info.prejoin_modal === 'before') {
      setTimeout(() => { if (state.screen === 'prejoin') showNoAvModal(null); }, MODAL_BEFORE_DELAY_MS);
    }
  }

  function showNoAvModal(then) {
    if (document.querySelector('[data-av-modal]')) return;
    const go = textButton('Continue without audio or video', 'btn btn-primary');
    const close = el('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', 'data-icon': '\u00d7' });
    const scrim = el('div', { class: 'scrim', 'data-av-modal': true },
      el('div', { class: 'card', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'no-av-title' },
        el('div', { class: 'card-head' },
          el('h2', { id: 'no-av-title', text: 'Are you sure you don\'t want audio or video?' }), close),
        el('p', { text: 'Others in the meeting won\'t be able to see or hear you.' }),
        el('div', { class: 'actions' }, go)));
    on(go, 'click', () => {
      state.micOn = false;
      state.camOn = false;
      applyMedia();
      scrim.remove();
      if (then) then();
    });
    on(close, 'click', () => scrim.remove());
    document.body.append(scrim);
  }

  function requestJoin(name) {
    if (!name || state.guest || state.joining) return;
    if (document.querySelector('[data-av-modal]')) return;
    if (state.info.prejoin_modal === 'after' && !state.afterModalDone && !state.micOn && !state.camOn) {
      showNoAvModal(() => {
        state.afterModalDone = true;
        requestJoin(name);
      });
      return;
    }
    askToJoin(name);
  }

  async function askToJoin(name) {
    state.joining = true;
    state.joinButton.disabled = true;
    state.nameInput.disabled = true;
    let view;
    try {
      view = await post('/ask', { name, p: state.route.passcode });
    } catch (error) {
      showFinal({ title: 'Something went wrong', detail: 'We couldn\'t join you to the meeting.' });
      return;
    }
    state.guest = view.guest;
    applyView(view);
    state.polling = true;
    pollLoop();
  }

  // -- state from the simulator ------------------------------------------------------------------

  async function pollLoop() {
    while (state.polling) {
      try {
        const url = `${state.api}/view?guest=${encodeURIComponent(state.guest.id)}&since=${state.version}`;
        const response = await fetch(url, { cache: 'no-store' });
        if (response.status === 404) {
          state.polling = false;
          if (!FINAL_STATUSES.has(state.view.guest.status)) {
            applyView({ ...state.view, ended: true, guest: { ...state.view.guest, status: 'ended' } });
          }
          return;
        }
        if (!response.ok) throw new Error(String(response.status));
        applyView(await response.json());
      } catch (error) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  function applyView(view) {
    if (typeof view.server_time === 'number') state.offset = view.server_time - Date.now() / 1000;
    state.version = view.version;
    state.view = view;
    if (view.guest && FINAL_STATUSES.has(view.guest.status)) state.polling = false;
    render();
  }

  function render() {
    const view = state.view;
    if (!view || !view.guest) return;
    switch (view.guest.status) {
      case 'asking':
        if (state.screen !== 'lobby') showLobby();
        break;
      case 'admitted':
        if (state.screen !== 'call') showCall();
        updateCall(view);
        break;
      case 'denied':
        showFinal({ title: 'Sorry, but you were denied access to the meeting.' });
        break;
      case 'no_response':
        showFinal({ title: 'Sorry, no one responded to your request to join the meeting.' });
        break;
      case 'removed':
        showFinal({ title: 'You\'ve been removed from this meeting', retry: true, rejoin: true });
        break;
      case 'ended':
        showFinal({ title: 'Meeting ended', detail: 'The organizer ended the meeting for everyone.' });
        break;
      default:
        showFinal({ title: 'Call ended', detail: 'You left the meeting.', rejoin: true });
    }
  }

  // -- lobby --------------------------------------------------------------------------------------

  function showLobby() {
    state.screen = 'lobby';
    state.joinButton.disabled = true;
    const status = el('div', { class: 'lobby-status', role: 'status' },
      el('div', { class: 'spinner' }),
      el('h2', { text: 'Someone will let you in shortly' }),
      el('p', { text: 'Waiting to be admitted' }));
    state.side.replaceChildren(status, state.joinButton);
  }

  // -- final screens ------------------------------------------------------------------------------

  function showFinal({ title, detail = '', retry = false, rejoin = false }) {
    if (state.screen === 'final' && state.finalTitle === title) return;
    teardownCall();
    stopMedia();
    document.querySelectorAll('[data-av-modal]').forEach((n) => n.remove());
    state.screen = 'final';
    state.finalTitle = title;
    const heading = el('h1', { class: 'final-title', text: title });
    if (retry) heading.id = 'calling-retry-screen-title';
    const actions = el('div', { class: 'message-actions' });
    if (rejoin) {
      const again = textButton('Rejoin', 'btn btn-primary');
      on(again, 'click', () => location.reload());
      actions.append(again);
    }
    const dismiss = textButton('Dismiss');
    on(dismiss, 'click', () => { location.href = '/'; });
    actions.append(dismiss);
    app.replaceChildren(el('main', { class: 'final-screen' }, heading,
      detail ? el('p', { class: 'final-detail', text: detail }) : null, actions));
  }

  // -- in the call --------------------------------------------------------------------------------

  function makeTile(name, self, color) {
    const outline = el('div', { class: 'outline', 'data-tid': 'voice-level-stream-outline', 'aria-hidden': 'true' });
    const tile = el('div', { class: 'tile', 'data-stream-type': 'Video', 'data-tid': name },
      el('div', { class: 'avatar', 'aria-hidden': 'true', style: color ? `background: ${color}` : null, text: initials(name) }),
      self ? selfVideo() : null,
      el('div', { class: 'tile-name' }, el('span', { text: name })),
      outline);
    return { tile, outline };
  }

  function showCall() {
    state.screen = 'call';
    document.querySelectorAll('[data-av-modal]').forEach((n) => n.remove());
    const guest = state.view.guest;
    const call = {
      tiles: new Map(),
      panel: null,
      panelNode: null,
      unread: false,
      seenMessages: new Set(),
      renderedMessages: new Set(),
      messages: [],
      audio: new window.MixedAudio(() => state.offset),
      scheduled: new Set(),
      timers: [],
      intervals: [],
      toastIndex: 0,
      since: performance.now(),
    };
    state.call = call;

    call.gallery = el('div', { class: 'gallery' });
    call.gallery.append(makeTile(guest.name, true).tile);
    call.stage = el('div', { class: 'stage' }, call.gallery);

    call.chatButton = toolbarButton({ id: 'chat-button', 'aria-label': 'Chat' }, '\u{1F4AC}', 'Chat');
    call.chatBadge = el('span', { class: 'badge hidden', 'aria-hidden': 'true' });
    call.chatButton.append(call.chatBadge);
    on(call.chatButton, 'click', () => togglePanel('chat'));
    call.rosterButton = toolbarButton(
      { id: 'roster-button', 'data-tid': 'roster-button', 'aria-label': 'People' }, '\u{1F465}', 'People');
    call.rosterCount = el('span', { class: 'count' });
    call.rosterButton.append(call.rosterCount);
    on(call.rosterButton, 'click', () => togglePanel('roster'));
    const raise = toolbarButton({ id: 'raisehands-button', 'aria-label': 'Raise' }, '\u270B', 'Raise');
    on(raise, 'click', () => {
      const up = raise.classList.toggle('toggled');
      raise.setAttribute('aria-label', up ? 'Lower' : 'Raise');
    });
    const react = toolbarButton({ id: 'reaction-menu-button', 'aria-label': 'React' }, '\u{1F642}', 'React');
    const viewButton = toolbarButton({ id: 'view-mode-button', 'aria-label': 'View' }, '\u25A6', 'View');
    const more = toolbarButton({ id: 'callingButtons-showMoreBtn', 'aria-label': 'More' }, '\u2026', 'More');
    const camera = toolbarButton({ id: 'video-button' }, '\u{1F4F7}', 'Camera');
    on(camera, 'click', () => toggleDevice('video'));
    const mic = toolbarButton({ id: 'microphone-button' }, '\u{1F3A4}', 'Mic');
    on(mic, 'click', () => toggleDevice('mute'));
    const share = toolbarButton({ id: 'share-button', 'aria-label': 'Share' }, '\u2B06', 'Share');
    const hangup = el('button', {
      type: 'button', class: 'hangup', id: 'hangup-button', 'data-tid': 'hangup-main-btn', 'aria-label': 'Leave',
    }, el('span', { class: 'tool-icon', 'aria-hidden': 'true', 'data-icon': '\u260E' }), el('span', { text: 'Leave' }));
    on(hangup, 'click', async () => {
      try { applyView(await post(`/guests/${state.guest.id}/leave`)); } catch (error) { location.href = '/'; }
    });

    call.timer = el('span', { class: 'call-timer' });
    call.header = el('div', { class: 'call-header', role: 'toolbar', 'aria-label': 'Meeting controls' },
      call.timer,
      el('div', { class: 'tools' }, call.chatButton, call.rosterButton, raise, react, viewButton, more,
        camera, mic, share, hangup));
    call.toasts = el('div', { class: 'toasts' });
    call.audioBox = el('div', { class: 'audio-box' });
    call.root = el('div', { class: 'call' }, call.header, call.stage, call.toasts, call.audioBox);
    app.replaceChildren(call.root);
    applyMedia();

    const tick = () => {
      const seconds = Math.floor((performance.now() - call.since) / 1000);
      call.timer.textContent = `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
    };
    tick();
    call.intervals.push(setInterval(tick, 1000));
    call.intervals.push(setInterval(updateSpeaking, 100));
    if (state.view.recording_notice) {
      call.timers.push(setTimeout(showRecordingBanner, RECORDING_BANNER_DELAY_MS));
    }
    if (state.info.toasts) scheduleToast(TOAST_FIRST_MS);
    call.audioReady = call.audio.start(call.audioBox).catch((error) => {
      console.error('audio failed', error);
    });
    // In the call the others see the camera: post its frames while it is on (common/camera.js).
    call.camera = window.SimCamera.start(state.stream, () => state.call === call && state.camOn,
      `${state.api}/guests/${guest.id}/camera`);
    // And they hear its microphone: record it and post the chunks (common/microphone.js).
    call.microphone = window.SimMicrophone.start(state.stream, `${state.api}/guests/${guest.id}/microphone`);
  }

  function showRecordingBanner() {
    const call = state.call;
    if (!call) return;
    const dismiss = el('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Dismiss', 'data-icon': '\u00d7' });
    const banner = el('div', { class: 'banner' },
      el('span', {
        text: 'Recording has started. Joining the meeting indicates your consent to being recorded.',
      }),
      el('a', { href: '#', text: 'Privacy policy' }), dismiss);
    on(dismiss, 'click', () => {
      banner.remove();
      post(`/guests/${state.guest.id}/dialog`).catch(() => {});
    });
    call.root.insertBefore(banner, call.stage);
  }

  // Generic notifications: role="alert", and none of them means the call is over.
  function scheduleToast(delay) {
    const call = state.call;
    call.timers.push(setTimeout(() => {
      if (state.call !== call) return;
      const text = TOASTS[call.toastIndex % TOASTS.length];
      call.toastIndex += 1;
      const close = el('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Dismiss', 'data-icon': '\u00d7' });
      const toast = el('div', { class: 'toast', role: 'alert' }, el('span', { text }), close);
      on(close, 'click', () => toast.remove());
      call.toasts.append(toast);
      call.timers.push(setTimeout(() => toast.remove(), TOAST_SHOWN_MS));
      scheduleToast(TOAST_EVERY_MS);
    }, delay));
  }

  function updateCall(view) {
    const call = state.call;
    if (!call) return;
    const present = new Map(view.participants.map((p) => [p.id, p]));
    for (const [id, entry] of call.tiles) {
      if (!present.has(id) || present.get(id).name !== entry.name) {
        entry.tile.remove(); call.tiles.delete(id); window.SimVideo.release(id);
      }
    }
    for (const p of view.participants) {
      let entry = call.tiles.get(p.id);
      if (!entry) {
        entry = { ...makeTile(p.name, false, p.color), name: p.name };
        call.tiles.set(p.id, entry);
        call.gallery.append(entry.tile);
      }
      showCamera(entry, p);
    }
    showScreenShare(view.participants.find((p) => p.presentation_id));
    call.rosterCount.textContent = String(view.participants.length + 1);

    call.messages = state.info.guest_chat ? view.chat : [];
    for (const m of call.messages) {
      if (call.seenMessages.has(m.id)) continue;
      call.seenMessages.add(m.id);
      if (!m.mine && call.panel !== 'chat') call.unread = true;
    }
    call.chatBadge.classList.toggle('hidden', !call.unread);
    if (call.panel === 'roster') renderRoster();
    if (call.panel === 'chat') renderMessages();
    call.audioReady.then(() => scheduleUtterances(view));
  }

  // A tile says in its label whether the camera is on; the video plays over the avatar.
  function showCamera(entry, p) {
    entry.tile.setAttribute('aria-label',
      `${p.name}${p.camera ? ', video is on' : ''}, Context menu is available`);
    let video = entry.tile.querySelector('video');
    if (p.camera && !video) {
      video = el('video', { autoplay: true, playsinline: true });
      video.muted = true;
      video.srcObject = window.SimVideo.webcam(p.id, p.name, p.color);
      entry.tile.prepend(video);
      video.play().catch(() => {});
    } else if (!p.camera && video) {
      video.remove();
      window.SimVideo.release(p.id);
    }
  }

  // The one presentation of the call, on a tile of its own named after its presenter.
  function showScreenShare(presenter) {
    const call = state.call;
    const id = presenter ? presenter.presentation_id : null;
    if (call.share && call.share.id !== id) {
      call.share.tile.remove();
      window.SimVideo.release(call.share.id);
      call.share = null;
    }
    if (!presenter || call.share) return;
    const video = el('video', { autoplay: true, playsinline: true });
    video.muted = true;
    video.srcObject = window.SimVideo.screen(id, presenter.name);
    const tile = el('div', {
      class: 'tile screen-share', 'data-stream-type': 'ScreenSharing', 'data-tid': presenter.name,
      'aria-label': `${presenter.name} is sharing`,
    }, video, el('div', { class: 'tile-name' }, el('span', { text: presenter.name })));
    call.share = { id, tile };
    call.stage.prepend(tile);
    video.play().catch(() => {});
  }

  function togglePanel(kind) {
    const call = state.call;
    if (call.panelNode) { call.panelNode.remove(); call.panelNode = null; }
    if (call.panel === kind) { call.panel = null; return; }
    call.panel = kind;
    const close = el('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', 'data-icon': '\u00d7' });
    on(close, 'click', () => togglePanel(kind));
    if (kind === 'roster') {
      call.rosterTree = el('div', { role: 'tree', 'aria-label': 'Participants' });
      call.panelNode = el('aside', { class: 'panel', 'aria-label': 'Participants' },
        el('header', {}, el('h2', { text: 'Participants' }), close), call.rosterTree);
      renderRoster();
    } else {
      call.unread = false;
      call.chatBadge.classList.add('hidden');
      call.renderedMessages = new Set();
      call.messageList = el('div', { class: 'messages', 'aria-label': 'Chat content' });
      let compose;
      if (state.info.guest_chat) {
        const box = el('div', {
          class: 'rich-box', contenteditable: 'true', role: 'textbox', 'aria-multiline': 'true',
          'aria-label': 'Type a message', 'data-placeholder': 'Type a message',
        });
        const send = el('button', {
          type: 'button', class: 'icon-btn', 'aria-label': 'Send', 'data-tid': 'newMessageCommands-send', 'data-icon': '\u27A4',
        });
        send.disabled = true;
        on(box, 'input', () => { send.disabled = box.textContent.trim() === ''; });
        const submit = async () => {
          const text = box.innerText.trim();
          if (!text) return;
          box.replaceChildren();
          send.disabled = true;
          try { applyView(await post(`/guests/${state.guest.id}/chat`, { text })); } catch (error) { /* lost */ }
        };
        on(box, 'keydown', (event) => {
          if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); submit(); }
        });
        on(send, 'click', submit);
        compose = el('div', { class: 'compose' }, box, send);
      } else {
        call.messageList.append(el('div', { class: 'note', text: 'Chat is unavailable for guests in this meeting.' }));
        compose = el('div', {
          class: 'compose compose-disabled', 'aria-disabled': 'true',
          text: 'Only people in the organizer\'s organization can send messages.',
        });
      }
      call.panelNode = el('aside', { class: 'panel', 'aria-label': 'Meeting chat' },
        el('header', {}, el('h2', { text: 'Meeting chat' }), close), call.messageList, compose);
      renderMessages();
    }
    call.stage.append(call.panelNode);
  }

  function rosterItem(name, sub) {
    return el('div', { role: 'treeitem', class: 'roster-item', 'data-tid': `participantsInCall-${name}` },
      el('div', { class: 'avatar small', 'aria-hidden': 'true', text: initials(name) }),
      el('div', { class: 'roster-name' }, el('span', { text: name }),
        sub ? el('span', { class: 'roster-sub', text: sub }) : null));
  }

  function renderRoster() {
    const call = state.call;
    const view = state.view;
    const key = JSON.stringify(view.participants.map((p) => [p.id, p.name, p.host]));
    if (call.rosterTree.dataset.key === key) return;
    call.rosterTree.dataset.key = key;
    const items = [rosterItem(view.guest.name, '(Unverified)')];
    for (const p of view.participants) items.push(rosterItem(p.name, p.host ? 'Organizer' : null));
    call.rosterTree.replaceChildren(el('div', { role: 'treeitem', 'aria-expanded': 'true', class: 'roster-group' },
      el('div', { class: 'roster-heading', text: `In this meeting (${items.length})` }),
      el('div', { role: 'group' }, ...items)));
  }

  function renderMessages() {
    const call = state.call;
    for (const m of call.messages) {
      if (call.renderedMessages.has(m.id)) continue;
      call.renderedMessages.add(m.id);
      const when = new Date(m.sent_at * 1000).toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit' });
      call.messageList.append(el('div', { class: `chat-message${m.mine ? ' mine' : ''}`, 'data-tid': 'chat-pane-message' },
        el('div', { class: 'meta' },
          m.mine ? null : el('span', { class: 'author', 'data-tid': 'message-author-name', text: m.sender }),
          el('time', { text: when })),
        el('div', { class: 'body', 'data-tid': 'messageBodyContent' }, el('div', { text: m.text }))));
    }
  }

  function teardownCall() {
    const call = state.call;
    if (!call) return;
    state.call = null;
    call.timers.forEach(clearTimeout);
    call.intervals.forEach(clearInterval);
    call.audio.close();
    call.camera.stop();
    call.microphone.stop();
    window.SimVideo.releaseAll();
  }

  // -- remote speech ------------------------------------------------------------------------------

  function scheduleUtterances(view) {
    const call = state.call;
    if (!call || !view.started_at || !call.audio.ready) return;
    for (const u of view.utterances) {
      if (call.scheduled.has(u.index)) continue;
      call.scheduled.add(u.index);
      const start = view.started_at + u.at;
      if (serverNow() > start + u.duration - 0.2) continue;
      call.audio.load(u.audio_url).catch(() => {});
      const arm = () => {
        if (state.call !== call) return;
        const remaining = start - serverNow();
        if (remaining > 1.5) {
          call.timers.push(setTimeout(arm, (remaining - 1) * 1000));
          return;
        }
        call.audio.load(u.audio_url).then((buffer) => {
          if (state.call !== call) return;
          call.audio.play(u, buffer, start - serverNow(), report);
        }).catch((error) => console.error('utterance failed', u.index, error));
      };
      arm();
    }
  }

  function report(index, payload) {
    if (!state.guest) return;
    post(`/guests/${state.guest.id}/utterances/${index}`, payload).catch(() => {});
  }

  function currentSpeaker(utterance) {
    const now = state.view.utterances.find((u) => u.index === utterance.index);
    return (now || utterance).participant_id;
  }

  function updateSpeaking() {
    const call = state.call;
    if (!call) return;
    const levels = call.audio.levels(currentSpeaker);
    for (const [id, entry] of call.tiles) {
      entry.outline.classList.toggle('visible', levels.has(id));
    }
  }

  // A new meeting route in the same tab (the hash is all that changes): start over on it.
  window.addEventListener('hashchange', () => location.reload());
  boot();
})();
