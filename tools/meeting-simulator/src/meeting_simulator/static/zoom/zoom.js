'use strict';
// The Zoom web client, as a guest bot sees it: banners and permission prompts, pre-join, connecting,
// waiting room, the call, and the ends. Remote speech is one mixed stream: after "Join Audio by
// Computer" a loopback pair of RTCPeerConnections carries WebAudio-decoded clips into a single
// <audio> element; before that click there is no audio element at all.
(() => {
  const body = document.body;
  const code = body.dataset.meeting;
  const strictInput = body.dataset.strictInput === '1';
  const askPasscode = body.dataset.askPasscode === '1';
  const params = new URLSearchParams(location.search);
  const api = `/_sim/api/${code}`;
  const root = document.getElementById('root');

  const BANNER_DELAYS_MS = [300, 900, 1500];
  const FIRST_ALLOW_DELAY_MS = 1200;
  const SECOND_ALLOW_DELAY_MS = 700;
  const CONNECTING_MS = 1500;
  const JOIN_AUDIO_DELAY_MS = 800;
  const RECORDING_NOTICE_DELAY_MS = 1500;
  const FOOTER_IDLE_MS = 3000;
  const SPEAKER_SWITCH_S = 0.4;
  const FINAL_STATUSES = new Set(['denied', 'cancelled', 'left', 'removed', 'ended']);

  const state = {
    view: null,
    guest: null,
    version: -1,
    offset: 0,
    polling: false,
    screen: null,
    holdUntil: 0,
    holdTimer: null,
    micOn: true,
    camOn: true,
    stream: null,
    layers: [],
    call: null,
    app: null,
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

  function btn(text, cls = 'zm-btn', attrs = {}) {
    return el('button', { type: 'button', class: cls, ...attrs }, el('span', { text }));
  }

  const serverNow = () => Date.now() / 1000 + state.offset;

  async function post(path, payload = {}) {
    const response = await fetch(api + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
      cache: 'no-store',
    });
    let data = null;
    try { data = await response.json(); } catch (error) { /* no body */ }
    if (!response.ok) {
      const error = new Error(`${path}: ${response.status}`);
      error.status = response.status;
      error.reason = data && data.error;
      throw error;
    }
    return data;
  }

  // A field whose value counts only when it came from key presses: a value set from script (with or
  // without a bare input event) leaves the page's own copy behind, as a React-controlled input does.
  function keyedField(input, onChange) {
    const field = { accepted: '', armed: false };
    input.addEventListener('keydown', (event) => {
      if (strictInput && !event.isTrusted) return;
      if (event.key && (event.key.length === 1 || event.key === 'Backspace' || event.key === 'Delete')) {
        field.armed = true;
      }
    });
    input.addEventListener('input', (event) => {
      if (!(strictInput && !event.isTrusted) && field.armed) field.accepted = input.value;
      field.armed = false;
      onChange();
    });
    input.addEventListener('keyup', () => { field.armed = false; });
    field.value = () => (field.accepted === input.value ? field.accepted.trim() : '');
    return field;
  }

  // -- blocking layers: banners and permission prompts ---------------------------------------------

  function pushLayer(layer) {
    state.layers.push(layer);
    layer.style.zIndex = String(1000 + state.layers.length);
    body.append(layer);
    root.inert = true;
  }

  function popLayer(layer) {
    layer.remove();
    state.layers = state.layers.filter((l) => l !== layer);
    root.inert = state.layers.length > 0;
  }

  function cancelJoin() { location.href = '/'; }

  const BANNERS = {
    cookie() {
      const layer = el('div', { class: 'zm-layer zm-layer--cookie' });
      const accept = btn('Accept Cookies', 'zm-btn zm-btn--primary', { id: 'onetrust-accept-btn-handler' });
      const reject = btn('Reject All', 'zm-btn', { id: 'onetrust-reject-all-handler' });
      const settings = btn('Cookies Settings', 'zm-btn zm-btn--link', { id: 'onetrust-pc-btn-handler' });
      layer.append(el('div', { id: 'onetrust-banner-sdk', class: 'zm-cookie', role: 'region', 'aria-label': 'Cookie banner' },
        el('div', { class: 'zm-cookie__text', text: 'Zoom uses cookies and similar technologies as described in our '
          + 'cookie statement. You can manage your cookie settings or exercise your rights related to cookies '
          + 'through our Cookies Settings.' }),
        el('div', { class: 'zm-cookie__actions' }, settings, reject, accept)));
      on(accept, 'click', () => popLayer(layer));
      on(reject, 'click', () => popLayer(layer));
      return layer;
    },
    disclaimer() {
      const layer = el('div', { class: 'zm-layer zm-layer--dim' });
      const agree = btn('OK', 'zm-btn zm-btn--primary', { id: 'disclaimer_agree' });
      const cancel = btn('Cancel', 'zm-btn', { id: 'disclaimer_cancel' });
      layer.append(el('div', { class: 'zm-modal', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'disclaimer-title' },
        el('h2', { id: 'disclaimer-title', class: 'zm-modal__title', text: 'Disclaimer' }),
        el('p', { text: 'This meeting is hosted by an account that requires participants to acknowledge its '
          + 'terms of use. Meetings may be recorded and transcribed by the host.' }),
        el('div', { class: 'zm-modal__actions' }, cancel, agree)));
      on(agree, 'click', () => popLayer(layer));
      on(cancel, 'click', cancelJoin);
      return layer;
    },
    terms() {
      const layer = el('div', { class: 'zm-layer zm-layer--dim' });
      const agree = btn('I Agree', 'zm-btn zm-btn--primary', { id: 'wc_agree1' });
      const cancel = btn('Cancel', 'zm-btn', { id: 'wc_agree_cancel' });
      layer.append(el('div', { class: 'zm-modal', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'terms-title' },
        el('h2', { id: 'terms-title', class: 'zm-modal__title', text: 'Terms of Service and Privacy Statement' }),
        el('p', { text: 'To join the meeting, please agree to the Terms of Service and the Privacy Statement.' }),
        el('div', { class: 'zm-modal__actions' }, cancel, agree)));
      on(agree, 'click', () => popLayer(layer));
      on(cancel, 'click', cancelJoin);
      return layer;
    },
  };

  function shuffled(items) {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i -= 1) {
      const j = Math.floor(Math.random() * (i + 1));
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy;
  }

  function scheduleBanners() {
    shuffled(Object.keys(BANNERS)).forEach((kind, i) => {
      setTimeout(() => pushLayer(BANNERS[kind]()), BANNER_DELAYS_MS[i]);
    });
    const prompts = Math.random() < 0.5 ? 1 : 2;
    setTimeout(() => showAllowPrompt(1, prompts), FIRST_ALLOW_DELAY_MS);
  }

  function showAllowPrompt(n, total) {
    const layer = el('div', { class: 'zm-layer zm-layer--dim' });
    const allow = btn('Allow', 'zm-btn zm-btn--primary');
    const what = n === 1 ? 'camera and microphone' : 'microphone';
    layer.append(el('div', { class: 'zm-modal zm-permission', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': `allow-title-${n}` },
      el('h2', { id: `allow-title-${n}`, class: 'zm-modal__title', text: `Use your ${what}` }),
      el('p', { text: `Allow Zoom to use your ${what} so that others in the meeting can ${n === 1 ? 'see and hear' : 'hear'} you.` }),
      el('div', { class: 'zm-modal__actions' }, allow)));
    on(allow, 'click', () => {
      popLayer(layer);
      acquireMedia();
      if (n < total) setTimeout(() => showAllowPrompt(n + 1, total), SECOND_ALLOW_DELAY_MS);
    });
    pushLayer(layer);
  }

  // -- local media --------------------------------------------------------------------------------

  async function acquireMedia() {
    if (state.stream || state.mediaTried) return;
    state.mediaTried = true;
    try {
      state.stream = await navigator.mediaDevices.getUserMedia({
        audio: true, video: { width: 640, height: 360 },
      });
    } catch (error) {
      state.stream = null;
    }
    applyMedia();
  }

  function applyMedia() {
    if (state.stream) {
      // In the call nobody hears the microphone until audio is joined by computer, as in Zoom.
      const heard = state.micOn && !(state.call && !state.call.audio);
      state.stream.getAudioTracks().forEach((t) => { t.enabled = heard; });
      state.stream.getVideoTracks().forEach((t) => { t.enabled = state.camOn; });
    }
    document.querySelectorAll('video[data-self-video]').forEach((video) => {
      const show = state.stream && state.camOn;
      if (show && video.srcObject !== state.stream) video.srcObject = state.stream;
      video.classList.toggle('zm-hidden', !show);
    });
    const audioButton = document.getElementById('preview-audio-control-button');
    if (audioButton) {
      audioButton.setAttribute('aria-label', state.micOn ? 'Mute' : 'Unmute');
      audioButton.querySelector('span').textContent = state.micOn ? 'Mute' : 'Unmute';
      audioButton.classList.toggle('is-off', !state.micOn);
    }
    const videoButton = document.getElementById('preview-video-control-button');
    if (videoButton) {
      videoButton.setAttribute('aria-label', state.camOn ? 'Stop Video' : 'Start Video');
      videoButton.querySelector('span').textContent = state.camOn ? 'Stop Video' : 'Start Video';
      videoButton.classList.toggle('is-off', !state.camOn);
    }
    if (state.call) renderFooterDevices();
  }

  function stopMedia() {
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.stream = null;
  }

  function selfVideo(cls) {
    const video = el('video', { class: cls, autoplay: true, playsinline: true, 'data-self-video': true });
    video.muted = true;
    return video;
  }

  // -- pre-join -----------------------------------------------------------------------------------

  function showPrejoin() {
    state.screen = 'prejoin';
    const audioButton = btn('Mute', 'preview-video__control-button', { id: 'preview-audio-control-button', 'aria-label': 'Mute' });
    const videoButton = btn('Stop Video', 'preview-video__control-button', { id: 'preview-video-control-button', 'aria-label': 'Stop Video' });
    on(audioButton, 'click', () => { state.micOn = !state.micOn; applyMedia(); });
    on(videoButton, 'click', () => { state.camOn = !state.camOn; applyMedia(); });
    const preview = el('div', { class: 'preview-video-container', id: 'preview-video-container' },
      el('div', { class: 'preview-video__avatar', 'aria-hidden': 'true', text: '\u{1F464}' }),
      selfVideo('preview-video'),
      el('div', { class: 'preview-video__control-bar' }, audioButton, videoButton));

    const join = btn('Join', 'zm-btn zm-btn--primary preview-join-button disabled');
    const error = el('div', { class: 'preview-meeting-info__error', role: 'alert', hidden: true });
    const fields = el('div', { class: 'preview-meeting-info-fields' });
    const update = () => {
      const ok = nameField.value() !== '' && (!state.passField || state.passField.value() !== '');
      join.classList.toggle('disabled', !ok);
      return ok;
    };
    const name = el('input', {
      id: 'input-for-name', type: 'text', class: 'preview-meeting-info-field-input',
      placeholder: 'Your Name', autocomplete: 'off', maxlength: '64', spellcheck: 'false',
    });
    const nameField = keyedField(name, update);
    const tryJoin = () => { if (update()) joinMeeting(nameField.value(), state.passField ? state.passField.value() : null); };
    on(name, 'keydown', (event) => { if (event.key === 'Enter') tryJoin(); });
    on(join, 'click', tryJoin);
    state.prejoin = { fields, error, update, tryJoin };
    if (askPasscode) addPasscodeField();
    fields.append(el('label', { for: 'input-for-name', class: 'preview-meeting-info-field-label', text: 'Your Name' }), name);
    const remember = el('input', { type: 'checkbox', id: 'remember-name' });
    const info = el('div', { class: 'preview-meeting-info' },
      el('h1', { class: 'preview-meeting-info-title', text: 'Enter Meeting Info' }),
      fields,
      el('label', { class: 'zm-checkbox', for: 'remember-name' }, remember,
        el('span', { text: 'Remember my name for future meetings' })),
      el('div', { class: 'preview-agreement' },
        el('span', { text: 'By clicking "Join", you agree to our ' }), el('a', { href: '#', text: 'Terms of Service' }),
        el('span', { text: ' and ' }), el('a', { href: '#', text: 'Privacy Statement' })),
      error, join);
    root.replaceChildren(el('div', { class: 'preview-new-flow' }, preview, info));
    setInterval(update, 300);
    applyMedia();
  }

  function addPasscodeField() {
    const p = state.prejoin;
    if (state.passField) return;
    const input = el('input', {
      id: 'input-for-pwd', type: 'password', class: 'preview-meeting-info-field-input',
      placeholder: 'Meeting Passcode', autocomplete: 'off', maxlength: '32',
    });
    state.passField = keyedField(input, p.update);
    on(input, 'keydown', (event) => { if (event.key === 'Enter') p.tryJoin(); });
    p.fields.prepend(el('label', { for: 'input-for-pwd', class: 'preview-meeting-info-field-label', text: 'Meeting Passcode' }), input);
    p.update();
  }

  function prejoinError(text) {
    const p = state.prejoin;
    p.error.textContent = text;
    p.error.hidden = false;
  }

  async function joinMeeting(name, typedPasscode) {
    if (!name || state.guest || state.joining) return;
    state.joining = true;
    const payload = { name, audio_muted: !state.micOn, video_off: !state.camOn };
    const pwd = typedPasscode || params.get('pwd');
    if (pwd) payload.pwd = pwd;
    for (const key of ['zak', 'obf_token']) if (params.get(key)) payload[key] = params.get(key);
    state.prejoin.error.hidden = true;
    let view;
    try {
      view = await post('/ask', payload);
    } catch (error) {
      state.joining = false;
      refused(error.reason);
      return;
    }
    state.guest = view.guest;
    showConnecting();
    applyView(view);
    state.polling = true;
    pollLoop();
  }

  function refused(reason) {
    switch (reason) {
      case 'passcode_wrong':
        addPasscodeField();
        prejoinError('Incorrect meeting passcode. Please try again.');
        break;
      case 'passcode_required':
        addPasscodeField();
        prejoinError('Please enter the meeting passcode.');
        break;
      case 'invalid_token':
        prejoinError('Invalid token. Unable to join this meeting.');
        break;
      case 'bot_wall':
        showBotWall();
        break;
      case 'captcha':
        showCaptcha();
        break;
      case 'sign_in_required':
      case 'not_started':
      case 'invalid':
        location.reload();
        break;
      default:
        prejoinError('Unable to join this meeting. Please try again later.');
    }
  }

  function showBotWall() {
    state.screen = 'final';
    root.replaceChildren(el('main', { class: 'zm-message' },
      el('h1', { class: 'zm-message__title', text: 'Unable to join this meeting' }),
      el('div', { class: 'zm-message__detail', text: 'We detected you may be a bot and cannot let you join '
        + 'this meeting. If you think this is a mistake, contact the meeting host.' })));
  }

  function showCaptcha() {
    if (document.querySelector('.zm-captcha')) return;
    const layer = el('div', { class: 'zm-layer zm-layer--dim' });
    const verify = btn('Verify', 'zm-btn zm-btn--primary');
    const status = el('div', { class: 'zm-captcha__status', role: 'alert' });
    const frame = el('iframe', { title: 'reCAPTCHA', class: 'zm-captcha__frame', width: '304', height: '78' });
    frame.srcdoc = '<label style="font:14px Arial"><input type="checkbox"> I\'m not a robot</label>';
    layer.append(el('div', { class: 'zm-modal zm-captcha', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'captcha-title' },
      el('h2', { id: 'captcha-title', class: 'zm-modal__title', text: 'Security verification' }),
      el('p', { text: 'Please complete the verification below to join this meeting.' }),
      frame, status, el('div', { class: 'zm-modal__actions' }, verify)));
    on(verify, 'click', () => { status.textContent = 'Verification failed. Please try again.'; });
    pushLayer(layer);
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
    const wait = state.holdUntil - performance.now();
    if (wait > 0) {
      clearTimeout(state.holdTimer);
      state.holdTimer = setTimeout(render, wait + 5);
      return;
    }
    switch (view.guest.status) {
      case 'asking':
      case 'no_response':
        if (state.screen !== 'waiting') showWaitingRoom();
        updateWaitingRoom(view);
        break;
      case 'admitted':
        if (state.screen !== 'call') showCall();
        updateCall(view);
        break;
      case 'denied':
        showEnd('You have been removed from the waiting room by the host.', 'modal');
        break;
      case 'removed':
        showEnd('You have been removed from this meeting by the host.', 'modal');
        break;
      case 'ended':
        showEnd('This meeting has been ended by host', 'modal');
        break;
      default:
        showEnd('You have left the meeting', 'page');
    }
  }

  // -- the meeting app: connecting, waiting room ----------------------------------------------------

  function meetingApp() {
    if (state.app) return state.app;
    const video = el('video', { class: 'main-video', autoplay: true, playsinline: true });
    video.muted = true;
    const inner = el('div', { class: 'meeting-client-inner' }, video);
    const app = { video, inner, node: el('div', { class: 'meeting-app', id: 'wc-container-left' }, inner) };
    state.app = app;
    root.replaceChildren(el('div', { class: 'meeting-client' }, app.node));
    return app;
  }

  function showConnecting() {
    state.screen = 'connecting';
    state.holdUntil = performance.now() + CONNECTING_MS;
    const app = meetingApp();
    app.overlay = el('div', { class: 'zm-connecting', role: 'status' },
      el('div', { class: 'zm-spinner', 'aria-hidden': 'true' }),
      el('div', { class: 'zm-connecting__title', text: 'Joining Meeting\u2026' }),
      el('div', { class: 'zm-connecting__detail', text: 'Connecting to the meeting' }));
    app.node.append(app.overlay);
  }

  function showWaitingRoom() {
    state.screen = 'waiting';
    const app = meetingApp();
    if (app.overlay) app.overlay.remove();
    const leave = btn('Leave', 'zm-btn wr-leave-btn');
    on(leave, 'click', async () => {
      try { applyView(await post(`/guests/${state.guest.id}/leave`)); } catch (error) { location.href = '/'; }
    });
    app.hostNote = el('div', { class: 'wr-tile__host' });
    app.overlay = el('div', { class: 'wr-container' },
      el('div', { class: 'wr-header' }, leave),
      el('div', { class: 'wr-content' },
        el('h2', { class: 'wr-content__title', text: 'Please wait, the meeting host will let you in soon.' }),
        app.hostNote,
        el('div', { class: 'wr-content__meeting', text: `Meeting ID ${code}` })));
    app.node.append(app.overlay);
  }

  function updateWaitingRoom(view) {
    const app = state.app;
    if (!app || !app.hostNote) return;
    app.hostNote.textContent = view.host_present === false ? '' : 'Host has joined. We\'ve let them know you\'re here.';
  }

  // -- final screens ------------------------------------------------------------------------------

  function showEnd(title, kind) {
    if (state.screen === 'final' && state.finalTitle === title) return;
    teardownCall();
    stopMedia();
    state.layers.forEach((layer) => layer.remove());
    state.layers = [];
    root.inert = false;
    state.screen = 'final';
    state.finalTitle = title;
    state.app = null;
    const page = el('main', { class: 'zm-message' },
      el('h1', { class: 'zm-message__title', text: kind === 'modal' ? 'The meeting is over' : title }));
    root.replaceChildren(page);
    if (kind !== 'modal') return;
    const ok = btn('OK', 'zm-btn zm-btn--primary');
    const modal = el('div', { class: 'zm-layer zm-layer--dim zm-end' },
      el('div', { class: 'zm-modal', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'end-title' },
        el('div', { id: 'end-title', class: 'zm-modal__title', text: title }),
        el('div', { class: 'zm-modal__actions' }, ok)));
    on(ok, 'click', () => {
      modal.remove();
      page.querySelector('h1').textContent = title;
    });
    body.append(modal);
  }

  // -- in the call --------------------------------------------------------------------------------

  function footerButton(label, text, cls) {
    return el('button', { type: 'button', class: `footer-button ${cls || ''}`, 'aria-label': label },
      el('i', { class: 'footer-button__icon', 'aria-hidden': 'true' }), el('span', { class: 'footer-button__label', text }));
  }

  function showCall() {
    state.screen = 'call';
    const app = meetingApp();
    if (app.overlay) { app.overlay.remove(); app.overlay = null; }
    const guest = state.view.guest;
    const call = {
      audio: null,
      audioJoining: false,
      speaker: null,
      speakerSince: 0,
      panels: { participants: null, chat: null },
      seenMessages: new Set(),
      unread: 0,
      timers: [],
      intervals: [],
      scheduled: new Set(),
    };
    state.call = call;

    call.speakerName = el('span', { class: 'video-avatar__avatar-name' });
    call.speakerAvatar = el('div', { class: 'video-avatar__avatar-img', 'aria-hidden': 'true' });
    const mainFrame = el('div', { class: 'speaker-active-container__video-frame' },
      app.video,
      el('div', { class: 'video-avatar__avatar' }, call.speakerAvatar,
        el('div', { class: 'video-avatar__avatar-footer' }, call.speakerName)));
    const selfFrame = el('div', { class: 'speaker-bar-container__video-frame speaker-bar-container__video-frame--active' },
      selfVideo('self-video'),
      el('div', { class: 'video-avatar__avatar' },
        el('div', { class: 'video-avatar__avatar-footer' }, el('span', { class: 'video-avatar__avatar-name', text: guest.name }))));
    call.main = el('div', { class: 'speaker-view' },
      el('div', { class: 'speaker-active-container__wrap' }, mainFrame),
      el('div', { class: 'speaker-bar-container__wrap' }, selfFrame));

    call.audioButton = footerButton('join audio', 'Join Audio', 'join-audio-container__btn');
    on(call.audioButton, 'click', () => {
      if (call.audio) { state.micOn = !state.micOn; applyMedia(); } else showJoinAudio();
    });
    call.videoButton = footerButton('', '', 'send-video-container__btn');
    on(call.videoButton, 'click', () => { state.camOn = !state.camOn; applyMedia(); });
    call.participantsButton = footerButton('open the participants list pane', 'Participants', 'footer-button--participants');
    call.participantsCount = el('span', { class: 'footer-button__number-counter' });
    call.participantsButton.append(call.participantsCount);
    on(call.participantsButton, 'click', () => togglePanel('participants'));
    call.chatButton = footerButton('open the chat panel', 'Chat', 'footer-button--chat');
    call.chatBadge = el('span', { class: 'footer-button__chat-unread zm-hidden' });
    call.chatButton.append(call.chatBadge);
    on(call.chatButton, 'click', () => togglePanel('chat'));
    const leave = el('button', { type: 'button', class: 'zm-btn footer__leave-btn', 'aria-label': 'Leave' },
      el('span', { text: 'Leave' }));
    on(leave, 'click', (event) => { event.stopPropagation(); showLeaveConfirm(); });
    call.footer = el('div', { id: 'wc-footer', class: 'footer' },
      el('div', { class: 'footer__inner' },
        el('div', { class: 'footer__left' }, call.audioButton, call.videoButton),
        el('div', { class: 'footer__center' }, call.participantsButton, call.chatButton,
          footerButton('Share Screen', 'Share', 'footer-button--share'),
          footerButton('Reactions', 'React', 'footer-button--reactions'),
          footerButton('More meeting control', 'More', 'footer-button--more')),
        el('div', { class: 'footer__right' }, leave)));
    call.right = el('div', { id: 'wc-container-right', class: 'wc-container-right' });
    call.audioHost = el('div', { class: 'zm-audio-host' });
    app.inner.replaceChildren(call.main, call.footer);
    app.node.append(call.right, call.audioHost);
    applyMedia();
    renderFooterDevices();

    const wake = () => {
      call.footer.style.display = '';
      clearTimeout(call.hideTimer);
      call.hideTimer = setTimeout(function hide() {
        if (call.footer.matches(':hover') || call.leaveConfirm) {
          call.hideTimer = setTimeout(hide, FOOTER_IDLE_MS);
        } else {
          call.footer.style.display = 'none';
        }
      }, FOOTER_IDLE_MS);
    };
    call.wake = wake;
    document.addEventListener('mousemove', wake);
    document.addEventListener('pointermove', wake);
    wake();

    call.intervals.push(setInterval(updateSpeaker, 100));
    call.timers.push(setTimeout(showJoinAudio, JOIN_AUDIO_DELAY_MS));
    if (state.view.recording_notice) {
      call.timers.push(setTimeout(showRecordingNotice, RECORDING_NOTICE_DELAY_MS));
    }
    // In the call the others see the camera: post its frames while it is on (common/camera.js).
    call.camera = window.SimCamera.start(state.stream, () => state.call === call && state.camOn,
      `${api}/guests/${guest.id}/camera`);
    // And they hear its microphone: record it and post the chunks (common/microphone.js).
    call.microphone = window.SimMicrophone.start(state.stream, `${api}/guests/${guest.id}/microphone`);
  }

  function renderFooterDevices() {
    const call = state.call;
    if (!call) return;
    if (call.audio) {
      call.audioButton.setAttribute('aria-label', state.micOn ? 'mute my microphone' : 'unmute my microphone');
      call.audioButton.querySelector('.footer-button__label').textContent = state.micOn ? 'Mute' : 'Unmute';
    } else {
      call.audioButton.setAttribute('aria-label', 'join audio');
      call.audioButton.querySelector('.footer-button__label').textContent = 'Join Audio';
    }
    call.videoButton.setAttribute('aria-label', state.camOn ? 'stop my video' : 'start my video');
    call.videoButton.querySelector('.footer-button__label').textContent = state.camOn ? 'Stop Video' : 'Start Video';
  }

  function modalIn(container, node, cls = '') {
    const scrim = el('div', { class: `zm-scrim ${cls}` }, node);
    container.append(scrim);
    return scrim;
  }

  function showJoinAudio() {
    const call = state.call;
    if (!call || call.audio || call.joinAudioDialog) return;
    const joinButton = btn('Join Audio by Computer', 'zm-btn zm-btn--primary join-audio-by-voip__join-btn');
    const close = el('button', { type: 'button', class: 'zm-modal__close', 'aria-label': 'close' }, el('span', { text: '\u00d7' }));
    const auto = el('input', { type: 'checkbox', id: 'auto-join-audio' });
    const dialog = el('div', { class: 'zm-modal join-dialog', role: 'dialog', 'aria-label': 'Join Audio' },
      close,
      el('div', { class: 'join-dialog__tabs', role: 'tablist' },
        el('button', { type: 'button', role: 'tab', 'aria-selected': 'false', class: 'join-dialog__tab', text: 'Phone Call' }),
        el('button', { type: 'button', role: 'tab', 'aria-selected': 'true', class: 'join-dialog__tab is-active', text: 'Computer Audio' })),
      el('div', { class: 'join-audio-by-voip' }, joinButton),
      el('label', { class: 'zm-checkbox', for: 'auto-join-audio' }, auto,
        el('span', { text: 'Automatically join audio by computer when joining a meeting' })));
    const scrim = modalIn(state.app.node, dialog);
    call.joinAudioDialog = scrim;
    on(close, 'click', () => { scrim.remove(); call.joinAudioDialog = null; });
    on(joinButton, 'click', () => {
      scrim.remove();
      call.joinAudioDialog = null;
      joinComputerAudio();
    });
  }

  function joinComputerAudio() {
    const call = state.call;
    if (!call || call.audio || call.audioJoining) return;
    call.audioJoining = true;
    const audio = new MixedAudio();
    call.audio = audio;
    call.audioReady = Promise.all([audio.start(call.audioHost), post(`/guests/${state.guest.id}/audio`)])
      .then(() => { call.audioLive = true; })
      .catch((error) => console.error('audio failed', error));
    applyMedia();
    call.audioReady.then(() => scheduleUtterances(state.view));
  }

  function showRecordingNotice() {
    const call = state.call;
    if (!call) return;
    const ok = btn('Got it', 'zm-btn zm-btn--primary');
    const dialog = el('div', { class: 'zm-modal', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'rec-title' },
      el('h2', { id: 'rec-title', class: 'zm-modal__title', text: 'This meeting is being recorded' }),
      el('p', { text: 'The host is recording this meeting. By staying in the meeting, you consent to being recorded.' }),
      el('div', { class: 'zm-modal__actions' }, ok));
    const scrim = modalIn(state.app.node, dialog, 'zm-scrim--top');
    on(ok, 'click', () => {
      scrim.remove();
      post(`/guests/${state.guest.id}/dialog`).catch(() => {});
    });
  }

  function showLeaveConfirm() {
    const call = state.call;
    if (!call || call.leaveConfirm) return;
    const confirm = btn('Leave Meeting', 'zm-btn zm-btn--danger leave-meeting-options__btn');
    const popover = el('div', { class: 'leave-meeting-options', role: 'dialog', 'aria-label': 'Leave meeting' }, confirm);
    call.leaveConfirm = popover;
    const dismiss = (event) => {
      if (popover.contains(event.target)) return;
      popover.remove();
      call.leaveConfirm = null;
      document.removeEventListener('click', dismiss, true);
    };
    document.addEventListener('click', dismiss, true);
    on(confirm, 'click', async () => {
      document.removeEventListener('click', dismiss, true);
      try { applyView(await post(`/guests/${state.guest.id}/leave`)); } catch (error) { location.href = '/'; }
    });
    state.app.node.append(popover);
  }

  function updateCall(view) {
    const call = state.call;
    if (!call) return;
    const count = view.participants.length + 1;
    call.participantsButton.setAttribute('aria-label',
      `${call.panels.participants ? 'close' : 'open'} the participants list pane,[${count}] particpants`);
    call.participantsCount.textContent = String(count);
    for (const m of view.chat) {
      if (call.seenMessages.has(m.id)) continue;
      call.seenMessages.add(m.id);
      if (!m.mine && !call.panels.chat) call.unread += 1;
    }
    renderChatButton();
    if (call.panels.participants) renderParticipants();
    if (call.panels.chat) renderMessages();
    showShare(view.participants.find((p) => p.presentation_id));
    updateSpeaker();
    if (call.audio) call.audioReady.then(() => scheduleUtterances(view));
  }

  // Someone's shared screen takes the top of the view: painted on a canvas, as Zoom paints all
  // video, with a bar naming whose screen it is.
  function showShare(presenter) {
    const call = state.call;
    const id = presenter ? presenter.presentation_id : null;
    if (call.share && call.share.id !== id) {
      clearInterval(call.share.timer);
      call.share.node.remove();
      window.SimVideo.release(call.share.id);
      call.share = null;
    }
    if (!presenter || call.share) return;
    const source = el('video', { autoplay: true, playsinline: true });
    source.muted = true;
    source.srcObject = window.SimVideo.screen(id, presenter.name);
    source.play().catch(() => {});
    const canvas = el('canvas', { width: 320, height: 180, class: 'sharee-container__canvas' });
    const timer = setInterval(() => {
      if (source.readyState >= 2) canvas.getContext('2d').drawImage(source, 0, 0, canvas.width, canvas.height);
    }, 200);
    const node = el('div', { id: 'sharee-container', class: 'sharee-container' },
      el('div', { class: 'sharee-container__indicator' },
        el('span', { class: 'sharee-container__viewing-status', text: `You are viewing ${presenter.name}'s screen` })),
      el('video-player-container', { class: 'sharee-container__canvas-outline' },
        canvas, el('video-player', { name: 'share-content', 'media-type': 'share', 'node-id': id.split('/').pop() })));
    call.share = { id, node, timer };
    call.main.prepend(node);
  }

  function renderChatButton() {
    const call = state.call;
    call.chatButton.setAttribute('aria-label', `${call.panels.chat ? 'close' : 'open'} the chat panel`);
    call.chatBadge.textContent = call.unread ? String(call.unread) : '';
    call.chatBadge.classList.toggle('zm-hidden', !call.unread);
  }

  function togglePanel(kind) {
    const call = state.call;
    if (call.panels[kind]) {
      call.panels[kind].remove();
      call.panels[kind] = null;
    } else if (kind === 'participants') {
      call.participantsList = el('ul', { class: 'participants-ul', role: 'list', 'aria-label': 'participant list' });
      call.participantsTitle = el('h3', { class: 'participants-header__title' });
      call.panels.participants = el('div', { class: 'participants-section-container' },
        el('div', { class: 'participants-header' }, call.participantsTitle),
        call.participantsList);
      call.right.append(call.panels.participants);
      renderParticipants();
    } else {
      call.unread = 0;
      call.messageList = el('div', { class: 'chat-container__chat-list', role: 'log', 'aria-label': 'chat message list' });
      const parts = [el('div', { class: 'chat-header' }, el('h3', { class: 'chat-header__title', text: 'Chat' })), call.messageList];
      if (state.view.chat_allowed) {
        const editor = el('div', {
          class: 'chat-box__editor', contenteditable: 'true', role: 'textbox', 'aria-multiline': 'true',
          'aria-label': 'Type message here ...', 'data-placeholder': 'Type message here ...',
        });
        const send = el('button', { type: 'button', class: 'chat-box__send', 'aria-label': 'send' }, el('span', { text: 'Send' }));
        const submit = async () => {
          const text = editor.innerText.trim();
          if (!text) return;
          editor.textContent = '';
          try { applyView(await post(`/guests/${state.guest.id}/chat`, { text })); } catch (error) { /* lost */ }
        };
        on(editor, 'keydown', (event) => {
          if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); submit(); }
        });
        on(send, 'click', submit);
        parts.push(el('div', { class: 'chat-box' },
          el('div', { class: 'chat-receiver-list' }, el('span', { text: 'To: ' }), el('button', { type: 'button', class: 'chat-receiver-list__receiver', text: 'Everyone' })),
          el('div', { class: 'chat-box__editor-outer' }, editor, send)));
      } else {
        parts.push(el('div', { class: 'chat-box chat-box--disabled', text: 'Chat has been disabled by the host' }));
      }
      call.panels.chat = el('div', { class: 'chat-container' }, ...parts);
      call.right.append(call.panels.chat);
      renderMessages();
    }
    updateCall(state.view);
  }

  function renderParticipants() {
    const call = state.call;
    const guest = state.view.guest;
    // Each row's label says whether the person's video is on; an icon on the right shows it too.
    const item = (name, label, video) => el('li', {
      class: 'participants-li', role: 'application',
      'aria-label': `${name}${label ? ` (${label})` : ''},computer audio unmuted,video ${video ? 'on' : 'off'}`,
    },
      el('div', { class: 'participants-item__item-layout' },
        el('div', { class: 'participants-item__avatar', 'aria-hidden': 'true', text: name.slice(0, 1).toUpperCase() }),
        el('div', { class: 'participants-item__name-section' },
          el('span', { class: 'participants-item__display-name' }, name,
            label ? el('span', { class: 'participants-item__name-label', text: ` (${label})` }) : null)),
        el('span', { class: 'participants-item__right-section' },
          el('i', { class: `participants-icon__participant-video${video ? '' : ' participants-icon__participant-video--stopped'}`, 'aria-hidden': 'true' }))));
    const labels = { host: 'Host', guest: 'Guest', attendee: null };
    const ordered = [...state.view.participants].sort((a, b) => (a.role === 'host' ? -1 : 0) - (b.role === 'host' ? -1 : 0));
    const items = [item(guest.name, 'me', state.camOn),
      ...ordered.map((p) => item(p.name, labels[p.role], p.camera))];
    call.participantsTitle.textContent = `Participants (${items.length})`;
    call.participantsList.replaceChildren(...items);
  }

  function renderMessages() {
    const call = state.call;
    const shown = new Set([...call.messageList.querySelectorAll('[id^="chat-message-"]')].map((n) => n.id));
    for (const m of state.view.chat) {
      const id = `chat-message-${m.id.split('/').pop()}`;
      if (shown.has(id)) continue;
      const when = new Date(m.sent_at * 1000).toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit' });
      call.messageList.append(el('div', { class: 'chat-item-container', id },
        el('div', { class: 'chat-item__chat-info-header' },
          el('span', { class: 'chat-item__sender', text: m.mine ? 'Me' : m.sender }),
          el('span', { class: 'chat-item__receiver', text: m.private ? ' to Me (Direct Message)' : ' to Everyone' }),
          el('span', { class: 'chat-item__chat-info-time-stamp', text: when })),
        el('div', { class: 'chat-message__text-content', text: m.text })));
    }
  }

  function teardownCall() {
    const call = state.call;
    if (!call) return;
    state.call = null;
    call.timers.forEach(clearTimeout);
    call.intervals.forEach(clearInterval);
    clearTimeout(call.hideTimer);
    document.removeEventListener('mousemove', call.wake);
    document.removeEventListener('pointermove', call.wake);
    if (call.audio) call.audio.close();
    call.camera.stop();
    call.microphone.stop();
    if (call.share) clearInterval(call.share.timer);
    window.SimVideo.releaseAll();
  }

  // -- the active speaker fills the main tile (decided by the "server", not by the page's audio) ---

  function updateSpeaker() {
    const call = state.call;
    const view = state.view;
    if (!call || !view || !view.participants) return;
    const present = new Map(view.participants.map((p) => [p.id, p]));
    let speaker = call.speaker && present.get(call.speaker.id) ? call.speaker : null;
    if (view.started_at) {
      const now = serverNow();
      let latest = null;
      for (const u of view.utterances) {
        const start = view.started_at + u.at;
        if (now < start + SPEAKER_SWITCH_S || now >= start + u.duration + SPEAKER_SWITCH_S) continue;
        if (!present.has(u.participant_id)) continue;
        if (!latest || start > latest.start) latest = { start, id: u.participant_id };
      }
      if (latest) speaker = present.get(latest.id);
    }
    if (!speaker) speaker = view.participants.find((p) => p.role === 'host') || view.participants[0] || null;
    const name = speaker ? speaker.name : view.guest.name;
    if (call.speakerName.textContent !== name) {
      call.speaker = speaker;
      call.speakerName.textContent = name;
      call.speakerAvatar.textContent = name.slice(0, 1).toUpperCase();
    }
  }

  // -- remote speech: one mixed stream ------------------------------------------------------------

  function scheduleUtterances(view) {
    const call = state.call;
    if (!call || !call.audioLive || !view.started_at) return;
    for (const u of view.utterances) {
      if (call.scheduled.has(u.index)) continue;
      const start = view.started_at + u.at;
      if (serverNow() > start + u.duration - 0.2) continue;
      call.scheduled.add(u.index);
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
          call.audio.play(u, buffer, start - serverNow());
        }).catch((error) => console.error('utterance failed', u.index, error));
      };
      arm();
    }
  }

  function report(index, payload) {
    if (!state.guest) return;
    post(`/guests/${state.guest.id}/utterances/${index}`, payload).catch(() => {});
  }

  class MixedAudio {
    constructor() {
      this.buffers = new Map();
      this.playbacks = [];
      this.ready = false;
      this.closed = false;
    }

    async start(container) {
      const ctx = new AudioContext();
      this.ctx = ctx;
      this.dest = ctx.createMediaStreamDestination();
      this.element = el('audio', { autoplay: true });
      container.append(this.element);
      this.pc1 = new RTCPeerConnection({ iceServers: [] });
      this.pc2 = new RTCPeerConnection({ iceServers: [] });
      this.pc1.onicecandidate = (e) => { if (e.candidate) this.pc2.addIceCandidate(e.candidate).catch(() => {}); };
      this.pc2.onicecandidate = (e) => { if (e.candidate) this.pc1.addIceCandidate(e.candidate).catch(() => {}); };
      this.pc1.addTrack(this.dest.stream.getAudioTracks()[0], this.dest.stream);
      this.pc2.ontrack = (event) => {
        if (this.closed) return;
        this.element.srcObject = new MediaStream([event.track]);
        this.element.play().catch(() => {});
      };
      const offer = await this.pc1.createOffer();
      await this.pc1.setLocalDescription(offer);
      await this.pc2.setRemoteDescription(offer);
      const answer = await this.pc2.createAnswer();
      await this.pc2.setLocalDescription(answer);
      await this.pc1.setRemoteDescription(answer);
      if (ctx.state !== 'running') ctx.resume().catch(() => {});
      this.timer = setInterval(() => this.tick(), 50);
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

    play(utterance, buffer, delay) {
      if (this.closed) return;
      const ctx = this.ctx;
      const offset = delay < -0.3 ? -delay : 0;
      if (offset >= buffer.duration) return;
      const wait = Math.max(0, delay);
      const source = ctx.createBufferSource();
      source.buffer = buffer;
      source.connect(this.dest);
      const startCtx = ctx.currentTime + wait;
      const playback = {
        utterance, source, startCtx, endCtx: startCtx + buffer.duration - offset,
        wallStart: serverNow() + wait - offset, started: false,
      };
      source.onended = () => {
        source.disconnect();
        this.playbacks = this.playbacks.filter((p) => p !== playback);
        if (playback.started && !this.closed) report(utterance.index, { actual_end: serverNow() });
      };
      this.playbacks.push(playback);
      source.start(startCtx, offset);
    }

    tick() {
      if (this.closed) return;
      const now = this.ctx.currentTime;
      for (const p of this.playbacks) {
        if (!p.started && now >= p.startCtx && now < p.endCtx) {
          p.started = true;
          report(p.utterance.index, { actual_start: p.wallStart });
        }
      }
    }

    close() {
      this.closed = true;
      clearInterval(this.timer);
      for (const p of this.playbacks) {
        try { p.source.stop(); } catch (error) { /* not started */ }
      }
      this.playbacks = [];
      if (this.element) { this.element.srcObject = null; this.element.remove(); }
      if (this.pc1) this.pc1.close();
      if (this.pc2) this.pc2.close();
      if (this.ctx) this.ctx.close().catch(() => {});
    }
  }

  showPrejoin();
  scheduleBanners();
})();
