'use strict';
// The Google Meet guest page, as a guest bot sees it: pre-join, waiting room, call, and the ends.
// Remote speech arrives as WebRTC audio: a loopback pair of RTCPeerConnections inside this page
// carries WebAudio-decoded clips into a small pool of <audio> elements, like Meet's remote audio.
(() => {
  const body = document.body;
  const code = body.dataset.code;
  const strictInput = body.dataset.strictInput === '1';
  const api = `/_sim/api/${code}`;
  const app = document.getElementById('app');

  const AUDIO_POOL_SIZE = 3;
  const BLACK_SCREEN_MS = 1200;
  const GOT_IT_DELAY_MS = 700;
  const RECORDING_NOTICE_DELAY_MS = 1500;
  const TOOLBAR_IDLE_MS = 3000;
  const FINAL_STATUSES = new Set(['denied', 'no_response', 'cancelled', 'left', 'removed', 'ended']);

  const state = {
    view: null,
    guest: null,
    version: -1,
    offset: 0,
    polling: false,
    screen: null,
    blackUntil: 0,
    blackTimer: null,
    micOn: true,
    camOn: true,
    stream: null,
    mediaTried: false,
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
      if (strictInput && !event.isTrusted) return;
      handler(event);
    });
    return node;
  }

  function button(label, text, attrs = {}) {
    return el('button', { type: 'button', 'aria-label': label, 'data-tooltip': label, ...attrs },
      el('i', { class: 'icon', 'aria-hidden': 'true', text }));
  }

  function textButton(text, cls = 'btn') {
    return el('button', { type: 'button', class: cls }, el('span', { text }));
  }

  const serverNow = () => Date.now() / 1000 + state.offset;

  async function post(path, payload = {}) {
    const response = await fetch(api + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
      cache: 'no-store',
    });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  function goHome() { location.href = '/'; }

  // -- local media (self view, mic and camera buttons) -------------------------------------------

  async function acquireMedia() {
    if (state.mediaTried) return;
    state.mediaTried = true;
    try {
      state.stream = await navigator.mediaDevices.getUserMedia({
        audio: true, video: { width: 640, height: 360 },
      });
    } catch (error) {
      state.stream = null;
      if (state.screen === 'prejoin') showNoDevicesDialog();
    }
    applyMedia();
  }

  function applyMedia() {
    if (state.stream) {
      state.stream.getAudioTracks().forEach((t) => { t.enabled = state.micOn; });
      state.stream.getVideoTracks().forEach((t) => { t.enabled = state.camOn; });
    }
    document.querySelectorAll('video[data-self-video]').forEach((video) => {
      if (state.stream && state.camOn) {
        if (video.srcObject !== state.stream) video.srcObject = state.stream;
        video.classList.remove('hidden');
      } else {
        video.classList.add('hidden');
      }
    });
    document.querySelectorAll('button[data-device]').forEach(renderDeviceButton);
  }

  function renderDeviceButton(node) {
    const mic = node.dataset.device === 'mic';
    const enabled = mic ? state.micOn : state.camOn;
    const what = mic ? 'microphone' : 'camera';
    const label = `${enabled ? 'Turn off' : 'Turn on'} ${what}`;
    node.setAttribute('aria-label', label);
    node.setAttribute('data-tooltip', label);
    node.setAttribute('data-is-muted', enabled ? 'false' : 'true');
    node.querySelector('i').textContent = mic ? (enabled ? 'mic' : 'mic_off')
      : (enabled ? 'videocam' : 'videocam_off');
  }

  function deviceButton(device) {
    const node = button('', device === 'mic' ? 'mic' : 'videocam', { class: 'round', 'data-device': device });
    on(node, 'click', () => {
      if (device === 'mic') state.micOn = !state.micOn; else state.camOn = !state.camOn;
      applyMedia();
    });
    renderDeviceButton(node);
    return node;
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

  function showPrejoin() {
    state.screen = 'prejoin';
    const preview = el('div', { class: 'preview' }, selfVideo(),
      el('div', { class: 'preview-controls' }, deviceButton('mic'), deviceButton('camera')));
    const name = el('input', {
      type: 'text', 'aria-label': 'Your name', placeholder: 'Your name',
      autocomplete: 'off', maxlength: '60', spellcheck: 'false',
    });
    const ask = textButton('Ask to join', 'btn btn-primary');
    ask.disabled = true;
    on(name, 'input', () => { ask.disabled = name.value.trim() === ''; });
    on(name, 'keydown', (event) => {
      if (event.key === 'Enter' && !ask.disabled) askToJoin(name.value.trim());
    });
    on(ask, 'click', () => { if (!ask.disabled) askToJoin(name.value.trim()); });
    const panel = el('div', { class: 'join-panel' },
      el('h2', { text: 'What\u2019s your name?' }), name, ask,
      el('div', { class: 'other-options', text: 'Other ways to join' }));
    app.replaceChildren(el('div', { class: 'prejoin' }, preview, panel));
    applyMedia();
    acquireMedia();
    showBanner();
    setTimeout(showGotIt, GOT_IT_DELAY_MS);
  }

  function showBanner() {
    const dismiss = textButton('Dismiss');
    const banner = el('div', { class: 'banner', role: 'status', 'data-popup': true },
      el('span', { text: 'Check your audio and video before joining.' }), dismiss);
    on(dismiss, 'click', () => banner.remove());
    body.append(banner);
  }

  function showGotIt() {
    if (state.screen !== 'prejoin') return;
    const ok = textButton('Got it', 'btn btn-primary');
    const scrim = el('div', { class: 'scrim', 'data-popup': true },
      el('div', { class: 'card', role: 'dialog', 'aria-labelledby': 'got-it-title' },
        el('h2', { id: 'got-it-title', text: 'Get the most out of Meet' }),
        el('p', { text: 'Sign in to your Google Account to use more features in video calls.' }),
        el('div', { class: 'actions' }, ok)));
    on(ok, 'click', () => scrim.remove());
    body.append(scrim);
  }

  function showNoDevicesDialog() {
    const go = textButton('Continue without microphone and camera', 'btn btn-primary');
    const scrim = el('div', { class: 'scrim', 'data-popup': true },
      el('div', { class: 'card', role: 'dialog', 'aria-labelledby': 'no-devices-title' },
        el('h2', { id: 'no-devices-title', text: 'Do you want people to see and hear you in the meeting?' }),
        el('p', { text: 'You can still turn on your microphone and camera at any time in the meeting.' }),
        el('div', { class: 'actions' }, go)));
    on(go, 'click', () => { state.micOn = false; state.camOn = false; applyMedia(); scrim.remove(); });
    body.append(scrim);
  }

  async function askToJoin(name) {
    if (!name || state.guest) return;
    document.querySelectorAll('[data-popup]').forEach((n) => n.remove());
    state.screen = 'black';
    state.blackUntil = performance.now() + BLACK_SCREEN_MS;
    app.replaceChildren(el('div', { class: 'black' }));
    let view;
    try {
      view = await post('/ask', { name });
    } catch (error) {
      showFinal('Something went wrong', 'Try again later.');
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
        const url = `${api}/view?guest=${encodeURIComponent(state.guest.id)}&since=${state.version}`;
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
    const wait = state.blackUntil - performance.now();
    if (wait > 0) {
      clearTimeout(state.blackTimer);
      state.blackTimer = setTimeout(render, wait + 5);
      return;
    }
    switch (view.guest.status) {
      case 'asking':
        if (state.screen !== 'waiting') showWaiting();
        break;
      case 'admitted':
        if (state.screen !== 'call') showCall();
        updateCall(view);
        break;
      case 'denied':
        showFinal('Someone in the call denied your request to join', '');
        break;
      case 'no_response':
        showFinal('No one responded to your request to join the call', '');
        break;
      case 'removed':
        showFinal("You've been removed from the meeting", '');
        break;
      case 'ended':
        showFinal('Your host ended the meeting for everyone', '');
        break;
      default:
        showFinal('You left the meeting', '', true);
    }
  }

  // -- waiting room -------------------------------------------------------------------------------

  function showWaiting() {
    state.screen = 'waiting';
    const guest = state.view.guest;
    const tile = el('div', { class: 'tile preview', 'data-participant-id': guest.participant_id },
      selfVideo(), el('div', { class: 'name-tag' }, el('span', { class: 'notranslate', text: guest.name })),
      el('div', { class: 'preview-controls' }, deviceButton('mic'), deviceButton('camera'),
        leaveButton()));
    const home = textButton('Return to home screen');
    on(home, 'click', async () => {
      try { await post(`/guests/${state.guest.id}/leave`); } catch (error) { /* going home anyway */ }
      goHome();
    });
    const status = el('div', { class: 'status' },
      el('h2', { text: 'Asking to be let in\u2026' }),
      el('div', { text: 'You\u2019ll join the call when someone lets you in' }),
      el('div', { class: 'message-actions' }, home));
    app.replaceChildren(el('div', { class: 'waiting' }, tile, status));
    applyMedia();
  }

  function leaveButton() {
    const node = button('Leave call', 'call_end', { class: 'round leave' });
    on(node, 'click', async () => {
      try { applyView(await post(`/guests/${state.guest.id}/leave`)); } catch (error) { goHome(); }
    });
    return node;
  }

  // -- final screens ------------------------------------------------------------------------------

  function showFinal(heading, detail, rejoin = false) {
    if (state.screen === 'final' && state.finalHeading === heading) return;
    teardownCall();
    stopMedia();
    document.querySelectorAll('[data-popup]').forEach((n) => n.remove());
    state.screen = 'final';
    state.finalHeading = heading;
    const actions = el('div', { class: 'message-actions' });
    if (rejoin) {
      const again = textButton('Rejoin');
      on(again, 'click', () => location.reload());
      actions.append(again);
    }
    const home = textButton('Return to home screen', 'btn btn-primary');
    on(home, 'click', goHome);
    actions.append(home);
    app.replaceChildren(el('main', { class: 'message-screen' },
      el('h1', { class: 'message-title', text: heading }),
      el('div', { class: 'message-detail', text: detail }), actions));
  }

  // -- in the call --------------------------------------------------------------------------------

  function showCall() {
    state.screen = 'call';
    const guest = state.view.guest;
    const call = {
      tiles: new Map(),
      panel: null,
      panelNode: null,
      unread: false,
      seenMessages: new Set(),
      messages: [],
      captionsOn: false,
      bridge: new AudioBridge(AUDIO_POOL_SIZE),
      scheduled: new Set(),
      timers: [],
      intervals: [],
    };
    state.call = call;

    call.grid = el('div', { class: 'grid' });
    const selfTile = el('div', {
      class: 'tile', 'data-participant-id': guest.participant_id, 'data-self-name': guest.name,
      'data-audio-level': '0',
    }, selfVideo(), el('div', { class: 'name-tag' }, el('span', { class: 'notranslate', text: 'You' })));
    call.grid.append(selfTile);
    call.stage = el('div', { class: 'stage' }, call.grid);

    call.peopleButton = button('People', 'people', { class: 'round' });
    call.peopleCount = el('span', { class: 'people-count' });
    call.peopleButton.append(call.peopleCount);
    on(call.peopleButton, 'click', () => togglePanel('people'));
    call.chatButton = button('Chat with everyone', 'chat', { class: 'round' });
    call.unreadDot = el('span', { class: 'unread-dot hidden' });
    call.chatButton.append(call.unreadDot);
    on(call.chatButton, 'click', () => togglePanel('chat'));
    call.captionsButton = button('Turn on captions', 'closed_caption_off', { class: 'round' });
    on(call.captionsButton, 'click', () => {
      call.captionsOn = !call.captionsOn;
      const label = call.captionsOn ? 'Turn off captions' : 'Turn on captions';
      call.captionsButton.setAttribute('aria-label', label);
      call.captionsButton.setAttribute('data-tooltip', label);
      call.captionsButton.classList.toggle('toggled', call.captionsOn);
      call.captions.classList.toggle('hidden', !call.captionsOn);
    });
    const raise = button('Raise hand', 'front_hand', { class: 'round' });
    on(raise, 'click', () => raise.classList.toggle('toggled'));
    const more = button('More options', 'more_vert', { class: 'round' });

    call.clock = el('span');
    call.controls = el('div', { class: 'controls', role: 'region', 'aria-label': 'Call controls' },
      el('div', { class: 'meeting-details' }, call.clock, el('span', { text: ` | ${code}` })),
      el('div', { class: 'center' }, deviceButton('mic'), deviceButton('camera'), call.captionsButton,
        raise, more, leaveButton()),
      el('div', { class: 'side' }, call.peopleButton, call.chatButton));

    call.captions = el('div', { class: 'captions hidden', role: 'region', 'aria-label': 'Captions' });
    call.audioPool = el('div', { class: 'audio-pool' });
    call.root = el('div', { class: 'call' }, call.stage, call.captions, call.controls, call.audioPool);
    app.replaceChildren(call.root);
    applyMedia();

    const poke = () => {
      call.controls.classList.remove('autohide');
      clearTimeout(call.hideTimer);
      call.hideTimer = setTimeout(function hide() {
        if (call.controls.matches(':hover')) {
          call.hideTimer = setTimeout(hide, TOOLBAR_IDLE_MS);
        } else {
          call.controls.classList.add('autohide');
        }
      }, TOOLBAR_IDLE_MS);
    };
    call.poke = poke;
    document.addEventListener('mousemove', poke);
    document.addEventListener('pointermove', poke);
    poke();

    const tick = () => {
      call.clock.textContent = new Date().toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit' });
    };
    tick();
    call.intervals.push(setInterval(tick, 10000));
    call.intervals.push(setInterval(updateSpeaking, 100));

    if (state.view.recording_notice) {
      call.timers.push(setTimeout(showRecordingNotice, RECORDING_NOTICE_DELAY_MS));
    }
    call.bridgeReady = call.bridge.start(call.audioPool).catch((error) => {
      console.error('audio bridge failed', error);
    });
    // In the call the others see the camera: post its frames while it is on (common/camera.js).
    call.camera = window.SimCamera.start(state.stream, () => state.call === call && state.camOn,
      `${api}/guests/${guest.id}/camera`);
    // And they hear its microphone: record it and post the chunks (common/microphone.js).
    call.microphone = window.SimMicrophone.start(state.stream, `${api}/guests/${guest.id}/microphone`);
  }

  function showRecordingNotice() {
    const call = state.call;
    if (!call) return;
    const ok = textButton('OK', 'btn btn-primary');
    const scrim = el('div', { class: 'scrim' },
      el('div', { class: 'card', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'rec-title' },
        el('h2', { id: 'rec-title', text: 'This call is being recorded' }),
        el('p', {
          text: 'The host is recording this video call. Everyone in the call, including you, may be '
            + 'in the recording. By staying in the call, you agree to being recorded.',
        }),
        el('div', { class: 'actions' }, ok)));
    on(ok, 'click', () => {
      scrim.remove();
      post(`/guests/${state.guest.id}/dialog`).catch(() => {});
    });
    call.root.append(scrim);
  }

  function updateCall(view) {
    const call = state.call;
    if (!call) return;
    const present = new Map(view.participants.map((p) => [p.id, p]));
    // A presentation is a tile of its own, with a device id of its own, named after its presenter.
    for (const p of view.participants) {
      if (p.presentation_id) present.set(p.presentation_id, { presenter: p });
    }
    for (const [id, tile] of call.tiles) {
      if (!present.has(id)) { tile.remove(); call.tiles.delete(id); window.SimVideo.release(id); }
    }
    for (const [id, entry] of present) {
      if (entry.presenter) {
        const label = `${entry.presenter.name} (Presentation)`;
        const tile = call.tiles.get(id) || addTile(id, label, null, false);
        showVideo(tile, id, () => window.SimVideo.screen(id, entry.presenter.name));
        tile.querySelector('.name-tag span').textContent = label;
        continue;
      }
      const p = entry;
      const tile = call.tiles.get(p.id) || addTile(p.id, p.name, p.color, true);
      const name = tile.querySelector('.name-tag span');
      if (name.textContent !== p.name) {
        name.textContent = p.name;
        tile.querySelector('.avatar').textContent = p.name.slice(0, 1).toUpperCase();
      }
      // With the camera off the tile keeps its <video>, hidden and empty, and shows the avatar.
      if (p.camera) showVideo(tile, p.id, () => window.SimVideo.webcam(p.id, p.name, p.color));
      else hideVideo(tile, p.id);
    }
    const count = view.participants.length + 1;
    call.peopleButton.setAttribute('aria-label', `People - ${count} joined`);
    call.peopleButton.setAttribute('data-tooltip', 'Show everyone');
    call.peopleCount.textContent = String(count);

    call.messages = view.chat;
    for (const m of view.chat) {
      if (call.seenMessages.has(m.id)) continue;
      call.seenMessages.add(m.id);
      if (!m.mine && call.panel !== 'chat') call.unread = true;
    }
    renderChatButton();
    if (call.panel === 'people') renderPeople();
    if (call.panel === 'chat') renderMessages();

    call.bridgeReady.then(() => scheduleUtterances(view));
  }

  function addTile(id, name, color, person) {
    const call = state.call;
    const tile = el('div', { class: 'tile', 'data-participant-id': id, 'data-audio-level': '0' },
      el('div', { class: 'avatar', 'aria-hidden': 'true', style: `background: ${color || '#5f6368'}`, text: name.slice(0, 1).toUpperCase() }),
      el('div', { class: 'name-tag' }, el('span', { class: 'notranslate', text: name })));
    if (!person) tile.classList.add('presentation');
    call.tiles.set(id, tile);
    call.grid.append(tile);
    return tile;
  }

  function showVideo(tile, id, source) {
    let video = tile.querySelector('video');
    if (!video) {
      video = el('video', { autoplay: '', playsinline: '' });
      video.muted = true;
      tile.prepend(video);
    }
    if (!video.srcObject) video.srcObject = source();
    video.hidden = false;
    if (video.paused) video.play().catch(() => {});
  }

  function hideVideo(tile, id) {
    const video = tile.querySelector('video');
    if (!video || video.hidden) return;
    video.hidden = true;
    video.srcObject = null;
    window.SimVideo.release(id);
  }

  function renderChatButton() {
    const call = state.call;
    const label = call.unread ? 'Chat with everyone - New message' : 'Chat with everyone';
    call.chatButton.setAttribute('aria-label', label);
    call.chatButton.setAttribute('data-tooltip', 'Chat with everyone');
    call.unreadDot.classList.toggle('hidden', !call.unread);
  }

  function togglePanel(kind) {
    const call = state.call;
    if (call.panelNode) { call.panelNode.remove(); call.panelNode = null; }
    if (call.panel === kind) { call.panel = null; return; }
    call.panel = kind;
    const close = button('Close', 'close', { class: 'close' });
    on(close, 'click', () => togglePanel(kind));
    if (kind === 'people') {
      call.peopleList = el('div', { role: 'list', 'aria-label': 'Participants' });
      call.panelNode = el('aside', { class: 'panel', 'aria-label': 'People' },
        el('header', {}, el('h2', { text: 'People' }), close),
        el('div', { class: 'section', text: 'In the meeting' }), call.peopleList);
      renderPeople();
    } else {
      call.unread = false;
      renderChatButton();
      call.messageList = el('div', { class: 'messages', 'aria-live': 'polite' });
      const input = el('textarea', { 'aria-label': 'Send a message', placeholder: 'Send a message', rows: '1' });
      const send = button('Send a message', 'send');
      send.disabled = true;
      on(input, 'input', () => { send.disabled = input.value.trim() === ''; });
      const submit = async () => {
        const text = input.value.trim();
        if (!text) return;
        input.value = '';
        send.disabled = true;
        try { applyView(await post(`/guests/${state.guest.id}/chat`, { text })); } catch (error) { /* lost */ }
      };
      on(input, 'keydown', (event) => {
        if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); submit(); }
      });
      on(send, 'click', submit);
      call.panelNode = el('aside', { class: 'panel', 'aria-label': 'In-call messages' },
        el('header', {}, el('h2', { text: 'In-call messages' }), close),
        el('div', { class: 'note', text: 'Messages can only be seen by people in the call and are deleted when the call ends.' }),
        call.messageList, el('div', { class: 'compose' }, input, send));
      renderMessages();
    }
    call.stage.append(call.panelNode);
  }

  function renderPeople() {
    const call = state.call;
    const guest = state.view.guest;
    const items = [el('div', { role: 'listitem', 'aria-label': guest.name },
      el('span', { text: guest.name }), el('span', { text: ' (You)' }))];
    for (const p of state.view.participants) {
      items.push(el('div', { role: 'listitem', 'aria-label': p.name }, el('span', { text: p.name }),
        p.host ? el('div', { class: 'role', text: 'Meeting host' }) : null));
    }
    call.peopleList.replaceChildren(...items);
  }

  function renderMessages() {
    const call = state.call;
    const shown = new Set([...call.messageList.querySelectorAll('[data-message-id]')]
      .map((n) => n.getAttribute('data-message-id')));
    for (const m of call.messages) {
      if (shown.has(m.id)) continue;
      const when = new Date(m.sent_at * 1000).toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit' });
      call.messageList.append(el('div', { class: 'message', 'data-message-id': m.id },
        el('div', {}, el('span', { class: 'sender', text: m.mine ? 'You' : m.sender }),
          el('span', { class: 'sent', text: when })),
        el('div', { class: 'text', text: m.text })));
    }
  }

  function teardownCall() {
    const call = state.call;
    if (!call) return;
    state.call = null;
    call.timers.forEach(clearTimeout);
    call.intervals.forEach(clearInterval);
    clearTimeout(call.hideTimer);
    document.removeEventListener('mousemove', call.poke);
    document.removeEventListener('pointermove', call.poke);
    call.bridge.close();
    call.camera.stop();
    call.microphone.stop();
    window.SimVideo.releaseAll();
  }

  // -- remote speech ------------------------------------------------------------------------------

  function scheduleUtterances(view) {
    const call = state.call;
    if (!call || !view.started_at || !call.bridge.ready) return;
    for (const u of view.utterances) {
      if (call.scheduled.has(u.index)) continue;
      call.scheduled.add(u.index);
      const start = view.started_at + u.at;
      if (serverNow() > start + u.duration - 0.2) continue;
      call.bridge.load(u.audio_url).catch(() => {});
      const arm = () => {
        if (state.call !== call) return;
        const remaining = start - serverNow();
        if (remaining > 1.5) {
          call.timers.push(setTimeout(arm, (remaining - 1) * 1000));
          return;
        }
        call.bridge.load(u.audio_url).then((buffer) => {
          if (state.call !== call) return;
          call.bridge.play(u, buffer, start - serverNow(), report);
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
    const levels = call.bridge.levels(currentSpeaker);
    const tiles = [...call.tiles.entries()];
    for (const [id, tile] of tiles) {
      const level = levels.get(id);
      const speaking = level !== undefined;
      tile.classList.toggle('speaking', speaking);
      const previous = Number(tile.getAttribute('data-audio-level')) || 0;
      const next = speaking ? Math.max(level, Math.floor(previous * 0.7)) : 0;
      tile.setAttribute('data-audio-level', String(next));
    }
    if (call.captionsOn) {
      const current = call.bridge.current();
      call.captions.replaceChildren(...current.map((u) => el('div', {},
        el('span', { class: 'who', text: u.speaker }), el('span', { text: u.text }))));
    }
  }

  class AudioBridge {
    constructor(size) {
      this.size = size;
      this.slots = [];
      this.buffers = new Map();
      this.playbacks = [];
      this.ready = false;
      this.closed = false;
    }

    async start(container) {
      const ctx = new AudioContext();
      this.ctx = ctx;
      this.pc1 = new RTCPeerConnection({ iceServers: [] });
      this.pc2 = new RTCPeerConnection({ iceServers: [] });
      this.pc1.onicecandidate = (e) => { if (e.candidate) this.pc2.addIceCandidate(e.candidate).catch(() => {}); };
      this.pc2.onicecandidate = (e) => { if (e.candidate) this.pc1.addIceCandidate(e.candidate).catch(() => {}); };
      for (let i = 0; i < this.size; i += 1) {
        const dest = ctx.createMediaStreamDestination();
        const audio = el('audio', { autoplay: true });
        container.append(audio);
        this.slots.push({ dest, audio, speaker: null, playing: 0, lastUsed: 0 });
        this.pc1.addTrack(dest.stream.getAudioTracks()[0], dest.stream);
      }
      this.pc2.ontrack = (event) => {
        const index = Number(event.transceiver.mid);
        const slot = this.slots[Number.isInteger(index) ? index : 0];
        if (!slot || this.closed) return;
        slot.audio.srcObject = new MediaStream([event.track]);
        slot.audio.play().catch(() => {});
      };
      const offer = await this.pc1.createOffer();
      await this.pc1.setLocalDescription(offer);
      await this.pc2.setRemoteDescription(offer);
      const answer = await this.pc2.createAnswer();
      await this.pc2.setLocalDescription(answer);
      await this.pc1.setRemoteDescription(answer);
      if (ctx.state !== 'running') {
        ctx.resume().catch(() => {});
        const resume = () => { if (!this.closed) ctx.resume().catch(() => {}); };
        document.addEventListener('click', resume, { once: true });
        document.addEventListener('keydown', resume, { once: true });
      }
      this.ready = true;
    }

    load(url) {
      if (!this.buffers.has(url)) {
        this.buffers.set(url, fetch(url, { cache: 'force-cache' })
          .then((r) => { if (!r.ok) throw new Error(`${url}: ${r.status}`); return r.arrayBuffer(); })
          .then((data) => this.ctx.decodeAudioData(data)));
      }
      return this.buffers.get(url);
    }

    pick(speaker) {
      const idle = this.slots.filter((s) => s.playing === 0);
      return idle.find((s) => s.speaker === speaker)
        || idle.sort((a, b) => a.lastUsed - b.lastUsed)[0]
        || [...this.slots].sort((a, b) => a.lastUsed - b.lastUsed)[0];
    }

    play(utterance, buffer, delay, onReport) {
      if (this.closed) return;
      const ctx = this.ctx;
      const offset = delay < -0.3 ? -delay : 0;
      if (offset >= buffer.duration) return;
      const wait = Math.max(0, delay);
      const slot = this.pick(utterance.participant_id);
      const source = ctx.createBufferSource();
      source.buffer = buffer;
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      source.connect(slot.dest);
      source.connect(analyser);
      const startCtx = ctx.currentTime + wait;
      const wallStart = Date.now() / 1000 + state.offset + wait - offset;
      const playback = {
        utterance, source, analyser, slot, startCtx, endCtx: startCtx + buffer.duration - offset,
        wallStart, started: false, ended: false, samples: new Float32Array(analyser.fftSize),
      };
      slot.playing += 1;
      slot.speaker = utterance.participant_id;
      slot.lastUsed = performance.now();
      source.onended = () => {
        playback.ended = true;
        slot.playing -= 1;
        source.disconnect();
        analyser.disconnect();
        this.playbacks = this.playbacks.filter((p) => p !== playback);
        if (playback.started && !this.closed) {
          onReport(utterance.index, { actual_end: Date.now() / 1000 + state.offset });
        }
      };
      playback.onReport = onReport;
      this.playbacks.push(playback);
      source.start(startCtx, offset);
    }

    active() {
      const now = this.ctx ? this.ctx.currentTime : 0;
      const playing = [];
      for (const p of this.playbacks) {
        if (p.ended || now < p.startCtx || now >= p.endCtx) continue;
        if (!p.started) {
          p.started = true;
          p.onReport(p.utterance.index, { actual_start: p.wallStart });
        }
        playing.push(p);
      }
      return playing;
    }

    // participant id -> level 0-100 for everyone whose clip plays now; `speakerOf` gives an
    // utterance's speaker as the page knows them now (someone who rejoined has a new id).
    levels(speakerOf) {
      const levels = new Map();
      if (!this.ready || this.closed) return levels;
      for (const p of this.active()) {
        p.analyser.getFloatTimeDomainData(p.samples);
        let sum = 0;
        for (const v of p.samples) sum += v * v;
        const level = Math.min(100, Math.round(Math.sqrt(sum / p.samples.length) * 400));
        const id = speakerOf(p.utterance);
        levels.set(id, Math.max(levels.get(id) || 0, level));
      }
      return levels;
    }

    current() {
      if (!this.ready || this.closed) return [];
      return this.active().map((p) => p.utterance);
    }

    close() {
      this.closed = true;
      for (const p of this.playbacks) {
        try { p.source.stop(); } catch (error) { /* not started */ }
      }
      this.playbacks = [];
      for (const slot of this.slots) {
        slot.audio.srcObject = null;
        slot.audio.remove();
      }
      if (this.pc1) this.pc1.close();
      if (this.pc2) this.pc2.close();
      if (this.ctx) this.ctx.close().catch(() => {});
    }
  }

  showPrejoin();
})();
