/* The reference chat page: token login, the session list, one conversation per session
 * with streamed replies, a connection indicator and the debug panel. Connection logic is
 * in connection.js; every diagnostic line goes through debuglog.js. */
(function (global) {
  'use strict';

  const {PROFILES, SocketClient, ConnectionManager, short} = global.JarvisConnection;
  const doc = global.document;
  const $ = (selector) => doc.querySelector(selector);
  const store = global.localStorage;

  const params = new URLSearchParams(global.location.search);
  const profileName = params.get('profile') || 'connmgr';
  // ?time_scale= multiplies the reconnect delays, ?connect_timeout_ms= sets the connection
  // timeout (simulate-mobile --browser runs the page as it runs its virtual phones).
  const timeScale = positiveParam('time_scale', 1);
  const profile = {
    ...(PROFILES[profileName] || PROFILES.connmgr),
    connectTimeoutMs: positiveParam('connect_timeout_ms', 10000),
  };
  profile.delayMs *= timeScale;
  profile.delayMaxMs *= timeScale;

  function positiveParam(name, fallback) {
    const value = Number(params.get(name));
    return params.has(name) && Number.isFinite(value) && value > 0 ? value : fallback;
  }

  const debugLog = new DebugLog();
  const log = (message) => debugLog.log(message);
  log.error = (message) => debugLog.error(message);

  const HISTORY_TYPES = new Set(['chat:user', 'chat:assistant', 'chat:tool_call', 'chat:tool_result']);
  const TOKEN_KEY = 'jarvis-diag.token';
  const SESSIONS_KEY = 'jarvis-diag.sessions';
  const WORKDIR_KEY = 'jarvis-diag.workdir';

  // What happened, as structured records with the page's clock (epoch seconds), for automation.
  const JOURNAL_MAX = 50000;
  const journalEntries = [];
  function journal(entry) {
    journalEntries.push({t: Date.now() / 1000, ...entry});
    if (journalEntries.length > JOURNAL_MAX) journalEntries.splice(0, journalEntries.length - JOURNAL_MAX);
  }

  const app = {
    client: null,
    manager: null,
    sessions: new Map(), // list id (temporary id or UUID, as first known) -> session
    current: null,
  };

  // ---- the page's own diagnostics ---------------------------------------------------
  global.addEventListener('error', (event) => log.error(`${event.message} at ${event.filename}:${event.lineno}`));
  global.addEventListener('unhandledrejection', (event) => {
    debugLog.log(`[UNHANDLED REJECTION] ${event.reason && event.reason.message ? event.reason.message : event.reason}`, 'ERROR');
  });
  if (global.visualViewport) {
    // Keep the composer above the on-screen keyboard on phones.
    const fit = () => doc.documentElement.style.setProperty('--viewport-height', `${global.visualViewport.height}px`);
    global.visualViewport.addEventListener('resize', fit);
    fit();
    log('initKeyboardHandler: visualViewport listener added');
  }
  doc.addEventListener('visibilitychange', () => {
    if (doc.visibilityState === 'hidden') debugLog.flush(); // the page may be frozen next
  });

  // ---- sessions ---------------------------------------------------------------------
  function newSessionRecord(id, workingDir, title, isNew) {
    return {
      id, // the id the list knows it by
      tempId: isNew ? id : null,
      uuid: isNew ? null : id,
      workingDir,
      title,
      container: null,
      opened: false,
      attached: false,
      readyCount: 0,
      readyAt: null,
      historyEndAt: null,
      muxStart: 0,
      replay: null,
      streaming: null,
      thinking: false,
      unread: 0,
      lastSeq: 0,
      liveSeqs: new Set(),
      duplicateSeqs: [],
      skippedBySeq: 0,
      results: 0,
      errors: [],
      lastUserText: null,
    };
  }

  function actualId(session) {
    return session.uuid || session.tempId || session.id;
  }

  function saveSessions() {
    const list = [...app.sessions.values()].map((s) => ({id: actualId(s), workingDir: s.workingDir, title: s.title}));
    store.setItem(SESSIONS_KEY, JSON.stringify(list));
  }

  function restoreSessions() {
    let list = [];
    try {
      list = JSON.parse(store.getItem(SESSIONS_KEY) || '[]');
    } catch (err) {
      list = [];
    }
    for (const item of list) {
      if (!item || !item.id || app.sessions.has(item.id)) continue;
      const isTemporary = String(item.id).startsWith('new-');
      app.sessions.set(item.id, newSessionRecord(item.id, item.workingDir || '/tmp', item.title || short(item.id), isTemporary));
    }
  }

  function createSession(workingDir) {
    const tempId = `new-${Date.now()}`;
    const stamp = new Date().toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
    const base = workingDir.replace(/\/+$/, '').split('/').pop() || workingDir;
    const session = newSessionRecord(tempId, workingDir, `#${app.sessions.size + 1} ${base} · ${stamp}`, true);
    connectSession(session, true);
    return session;
  }

  function connectSession(session, isNew) {
    log(`=== connectSession START at ${global.performance.now().toFixed(2)}ms ===`);
    log(`connectSession: isNew=${isNew}, workDir=${session.workingDir}, sessionId=${isNew ? 'undefined' : short(session.id)}, chatSid=undefined`);
    if (session.opened) {
      log('connectSession: session already connected, reuse it');
    } else {
      app.sessions.set(session.id, session);
      session.opened = true;
      log(`connectSession: session registered, sessions.size=${app.sessions.size}`);
      saveSessions();
    }
    chatConnect(session);
  }

  // A tap on a session in the list. The chat already on screen, attached on the current
  // socket, has nothing to switch to: no chat:connect (it would be a needless re-attach
  // and a history replay). One that is not attached is attached again, as a switch would.
  function openFromList(session) {
    if (session === app.current && session.attached && app.client && app.client.state === 'connected') {
      $('#composer-input').focus({preventScroll: true});
      return;
    }
    connectSession(session, false);
  }

  // The chat view ("[Chat]" lines): show the session's container and attach it.
  function chatConnect(session) {
    const previous = app.current;
    log(`[Chat] connect: sessionId=${short(session.id)}, workingDir=${session.workingDir}`);
    log(`[Chat] [DIAG] connect: current ChatMode.sessionId=${previous ? short(previous.id) : 'undefined'}, isStreaming=${Boolean(previous && previous.streaming)}`);
    const fresh = !session.container;
    if (fresh) {
      session.container = doc.createElement('div');
      session.container.className = 'conversation';
      session.container.dataset.session = session.id;
      $('#conversations').appendChild(session.container);
      log('[Chat] connect: rendered new container');
      // The real page measures onConnect from this first START, even after reconnects.
      session.muxStart = global.performance.now();
    } else {
      log(`[Chat] connect: using existing chatConnectionId=${short(actualId(session))} instead of sessionId=${short(session.id)}`);
      log(`[Chat] connect: restored container, messages=${session.container.querySelectorAll('.msg').length}`);
    }
    app.current = session;
    session.unread = 0;
    render();
    const callStart = global.performance.now();
    log(`[Chat] [TIMING] connectMux START: session=${short(session.id)}, workingDir=${session.workingDir}`);
    if (fresh) log(`[Chat] connectMux: stored chatConnectionId=${short(session.id)}`);
    log(`[Chat] [TIMING] connectMux calling muxWs.connectChat at +${(global.performance.now() - callStart).toFixed(1)}ms`);
    app.client.connectChat(actualId(session), session.workingDir, callbacksFor(session));
    $('#composer-input').focus({preventScroll: true});
  }

  function closeSession(session) {
    app.client.send('chat:close', {session_id: actualId(session)});
    app.client.removeChat(actualId(session));
    app.sessions.delete(session.id);
    if (session.container) session.container.remove();
    if (app.current === session) app.current = null;
    saveSessions();
    const next = [...app.sessions.values()].find((s) => s.opened);
    if (next) chatConnect(next);
    render();
  }

  function callbacksFor(session) {
    return {
      lastSeq: () => session.lastSeq,
      onConnect: (payload) => onConnect(session, payload),
      onEvent: (event, payload) => onEvent(session, event, payload),
      onDisconnect: () => {
        if (session.attached) log(`[Chat] [MuxWS] Chat disconnected for ${short(session.id)}`);
        session.attached = false;
        render();
      },
      onError: (message) => {
        session.errors.push(message);
        addBubble(session, 'error', message, {final: true});
        render();
      },
    };
  }

  function onConnect(session, payload) {
    log(`[Chat] [TIMING] onConnect callback received at +${(global.performance.now() - session.muxStart).toFixed(1)}ms`);
    const original = payload.original_session_id || session.id;
    log(`[Chat] [DIAG] onConnect: workingDir=${payload.working_dir || session.workingDir}, this.sessionId=${app.current ? short(app.current.id) : 'undefined'}, capturedSessionId=${short(session.id)}, original_session_id=${short(original)}`);
    log(`[Chat] [DIAG] onConnect: isCurrentSession=${app.current === session}, will set isConnected=true`);
    if (payload.session_id && session.uuid !== payload.session_id) {
      session.uuid = payload.session_id;
      if (session.container) session.container.dataset.uuid = session.uuid;
      saveSessions();
    }
    session.attached = true;
    session.readyCount += 1;
    session.readyAt = Date.now();
    const count = Number(payload.history_count) || 0;
    session.replay = {resumed: Boolean(payload.resumed), count, seen: 0, cursor: null, matched: new Set()};
    if (count > 0) {
      log(`[Chat] History loading for ${short(session.id)}, count=${count}, isReconnect=${session.readyCount > 1}`);
    }
    render();
  }

  function contentText(content) {
    if (content === undefined || content === null) return '';
    if (typeof content === 'string') return content;
    if (typeof content.text === 'string') return content.text;
    return JSON.stringify(content);
  }

  function onEvent(session, event, payload) {
    const seq = typeof payload.seq === 'number' ? payload.seq : null;
    if (seq !== null) {
      if (profile.resume && seq <= session.lastSeq) {
        session.skippedBySeq += 1; // already shown: the resume replay overlaps what arrived live
        // a replayed message already shown: the replay's next ones go after it, not above it
        const shown = session.replay && session.container.querySelector(`.msg[data-seq="${seq}"]`);
        if (shown && HISTORY_TYPES.has(event)) session.replay.cursor = shown;
        return;
      }
      session.lastSeq = Math.max(session.lastSeq, seq);
    }
    if (event === 'chat:history_end') {
      log(`[Chat] [DEBUG] _handleHistoryEnd: pendingMsgs.length=${session.replay ? session.replay.seen : 0}`);
      session.replay = null;
      session.historyEndAt = Date.now();
      journal({kind: 'history_end', session: actualId(session)});
      if (profile.mergeHistory) resendUnacknowledged(session);
      render();
      return;
    }
    if (event === 'chat:history_page_end') return;
    const inReplay = Boolean(session.replay && !session.replay.resumed && HISTORY_TYPES.has(event));
    if (event === 'chat:user_ack' || event === 'chat:user') session.lastUserText = contentText(payload.content);
    const keepsText = event === 'chat:assistant' || event === 'chat:result' || event === 'chat:user_ack' || event === 'chat:user';
    journal({
      kind: event === 'chat:user_ack' ? 'ack' : 'chat', event, session: actualId(session), seq, replay: inReplay,
      content: keepsText ? contentText(payload.content) : null, message: session.lastUserText,
    });
    if (inReplay) {
      applyHistory(session, event, payload);
    } else {
      if (seq !== null) {
        if (session.liveSeqs.has(seq)) session.duplicateSeqs.push(seq);
        session.liveSeqs.add(seq);
      }
      applyLive(session, event, payload);
    }
    if (app.current !== session) session.unread += 1;
    render();
  }

  function roleOf(event, payload) {
    return (payload.type || event.replace('chat:', '')).replace('user_ack', 'user');
  }

  // A replayed history message. connmgr/resume merge it with what is already shown;
  // legacy appends it, so a re-attach shows every message twice (the field bug).
  function applyHistory(session, event, payload) {
    const replay = session.replay;
    replay.seen += 1;
    const role = roleOf(event, payload);
    const text = contentText(payload.content);
    if (!profile.mergeHistory) {
      addBubble(session, role, text, {seq: payload.seq, final: true});
      return;
    }
    const bubbles = [...session.container.querySelectorAll('.msg')];
    const same = bubbles.find((b) => !replay.matched.has(b) && b.dataset.role === role && b.dataset.text === text);
    if (same) {
      replay.matched.add(same);
      replay.cursor = same;
      same.classList.remove('pending');
      if (payload.seq !== undefined) same.dataset.seq = payload.seq;
      return;
    }
    // A reply that was still streaming when the socket died: the replay has its whole text.
    const partial = session.streaming;
    if (role === 'assistant' && partial && text.startsWith(partial.dataset.text)) {
      finishBubble(partial, text, payload.seq);
      session.streaming = null;
      replay.matched.add(partial);
      replay.cursor = partial;
      return;
    }
    const bubble = addBubble(session, role, text, {seq: payload.seq, final: true, after: replay.cursor});
    replay.matched.add(bubble);
    replay.cursor = bubble;
  }

  function applyLive(session, event, payload) {
    const text = contentText(payload.content);
    switch (event) {
      case 'chat:user_ack': {
        const pending = [...session.container.querySelectorAll('.msg-user.pending')].find((b) => b.dataset.text === text);
        if (pending) {
          pending.classList.remove('pending');
          if (payload.seq !== undefined) pending.dataset.seq = payload.seq;
        } else {
          addBubble(session, 'user', text, {seq: payload.seq, final: true}); // sent from another device
        }
        break;
      }
      case 'chat:user':
        addBubble(session, 'user', text, {seq: payload.seq, final: true});
        break;
      case 'chat:thinking_start':
      case 'chat:thinking_delta':
        session.thinking = true;
        break;
      case 'chat:thinking_end':
        session.thinking = false;
        break;
      case 'chat:stream':
        session.thinking = false;
        if (!session.streaming) session.streaming = addBubble(session, 'assistant', '', {final: false});
        session.streaming.dataset.text += text;
        session.streaming.querySelector('.msg-text').textContent = session.streaming.dataset.text;
        session.streaming.dataset.seq = payload.seq;
        break;
      case 'chat:assistant':
        session.thinking = false;
        if (session.streaming) {
          finishBubble(session.streaming, text, payload.seq);
          session.streaming = null;
        } else {
          addBubble(session, 'assistant', text, {seq: payload.seq, final: true});
        }
        break;
      case 'chat:tool_call':
        addBubble(session, 'tool_call', text, {seq: payload.seq, final: true});
        break;
      case 'chat:tool_result':
        addBubble(session, 'tool_result', text, {seq: payload.seq, final: true});
        break;
      case 'chat:result':
        session.thinking = false;
        if (session.streaming) {
          finishBubble(session.streaming, text || session.streaming.dataset.text, payload.seq);
          session.streaming = null;
        }
        session.results += 1;
        break;
      default:
        break; // chat:system, chat:stream_end ...
    }
  }

  function finishBubble(bubble, text, seq) {
    bubble.dataset.text = text;
    bubble.querySelector('.msg-text').textContent = text;
    bubble.dataset.final = '1';
    bubble.classList.remove('streaming');
    if (seq !== undefined && seq !== null) bubble.dataset.seq = seq;
  }

  const ROLE_LABELS = {user: 'You', assistant: 'Assistant', tool_call: 'Tool', tool_result: 'Tool result', error: 'Error'};

  function addBubble(session, role, text, options) {
    const opts = options || {};
    const bubble = doc.createElement('div');
    bubble.className = `msg msg-${role}${opts.final ? '' : ' streaming'}${opts.pending ? ' pending' : ''}`;
    bubble.dataset.role = role;
    bubble.dataset.text = text;
    bubble.dataset.final = opts.final ? '1' : '0';
    if (opts.seq !== undefined && opts.seq !== null) bubble.dataset.seq = opts.seq;
    const label = doc.createElement('div');
    label.className = 'msg-role';
    label.textContent = ROLE_LABELS[role] || role;
    const body = doc.createElement('div');
    body.className = 'msg-text';
    body.textContent = text;
    bubble.append(label, body);
    const container = session.container;
    if (opts.after && opts.after.parentNode === container) opts.after.after(bubble);
    else if (opts.after === null && session.replay && container.firstChild) container.prepend(bubble);
    else container.appendChild(bubble);
    if (app.current === session) scrollToEnd();
    return bubble;
  }

  function scrollToEnd() {
    const pane = $('#conversations');
    pane.scrollTop = pane.scrollHeight;
  }

  function sendMessage(text) {
    const session = app.current;
    if (!session || !text.trim()) return;
    const bubble = addBubble(session, 'user', text, {final: true, pending: true});
    session.lastUserText = text;
    journal({kind: 'message.sent', session: actualId(session), content: text});
    emitMessage(session, bubble, text);
    render();
  }

  function emitMessage(session, bubble, text) {
    const handler = app.client.handlerFor(actualId(session));
    log(`[SocketIO] [DIAG] chatMessage: sessionId=${short(session.id)}, actualSessionId=${short(actualId(session))}, handler=${handler ? 'found' : 'missing'}, state=${app.client.state}`);
    const sent = app.client.send('chat:message', {session_id: actualId(session), content: text});
    // Which socket carried it: a queued message leaves on the next socket, after its re-attach.
    bubble.dataset.socket = sent ? String(app.client.authenticated) : 'queued';
  }

  // A message emitted on a socket that died before the server acknowledged it may never
  // have arrived. Once the re-attach's replay is in (it holds every message the server
  // did receive, which then lost its "pending" mark), send the others again.
  function resendUnacknowledged(session) {
    const current = app.client.authenticated;
    for (const bubble of session.container.querySelectorAll('.msg-user.pending')) {
      const socket = bubble.dataset.socket;
      if (socket === 'queued' || Number(socket) >= current) continue;
      journal({kind: 'message.resent', session: actualId(session), content: bubble.dataset.text});
      emitMessage(session, bubble, bubble.dataset.text);
    }
  }

  // ---- rendering ----------------------------------------------------------------------
  function connectionView() {
    const client = app.client;
    if (!client) return {state: 'offline', label: 'Signed out'};
    const managerState = app.manager ? app.manager.state : null;
    if (client.state === 'connected') return {state: 'online', label: 'Connected'};
    if (managerState === 'suspended') return {state: 'paused', label: 'Paused (in background)'};
    if (managerState === 'failed' || client.gaveUp) return {state: 'failed', label: 'Disconnected — tap to retry'};
    if (client.state === 'connecting' || client.state === 'authenticating' || managerState === 'reconnecting') {
      const attempt = app.manager ? app.manager.attempt : client.reconnectAttempt;
      return {state: 'connecting', label: attempt > 0 ? `Reconnecting… #${attempt}` : 'Connecting…'};
    }
    return {state: 'offline', label: 'Offline'};
  }

  function sessionStatus(session) {
    if (!session.opened) return 'closed';
    if (session.attached && app.client && app.client.state === 'connected') return 'ready';
    return 'waiting';
  }

  function render() {
    const view = connectionView();
    const indicator = $('#connection');
    indicator.dataset.state = view.state;
    $('#connection-label').textContent = view.label;
    doc.body.dataset.connection = view.state;

    const list = $('#session-list');
    list.replaceChildren();
    for (const session of app.sessions.values()) {
      const item = doc.createElement('li');
      item.className = `session${session === app.current ? ' current' : ''}`;
      item.dataset.session = session.id;
      item.dataset.status = sessionStatus(session);
      const open = doc.createElement('button');
      open.className = 'session-open';
      open.type = 'button';
      open.title = `${session.workingDir} (${short(actualId(session))})`;
      const dot = doc.createElement('span');
      dot.className = 'dot';
      const title = doc.createElement('span');
      title.className = 'session-title';
      title.textContent = session.title;
      open.append(dot, title);
      if (session.unread > 0 && session !== app.current) {
        const badge = doc.createElement('span');
        badge.className = 'badge';
        badge.textContent = session.unread > 99 ? '99+' : String(session.unread);
        open.append(badge);
      }
      open.addEventListener('click', () => openFromList(session));
      const close = doc.createElement('button');
      close.className = 'session-close';
      close.type = 'button';
      close.title = 'Close session';
      close.setAttribute('aria-label', `Close ${session.title}`);
      close.textContent = '×';
      close.addEventListener('click', () => closeSession(session));
      item.append(open, close);
      list.appendChild(item);
    }

    for (const session of app.sessions.values()) {
      if (session.container) session.container.hidden = session !== app.current;
    }
    const current = app.current;
    $('#empty').hidden = Boolean(current);
    $('#chat-title').textContent = current ? current.title : 'No session open';
    $('#chat-subtitle').textContent = current ? `${current.workingDir} · ${short(actualId(current))}` : 'Start one with “New session”';
    $('#thinking').hidden = !(current && current.thinking);
    $('#composer-input').disabled = !current;
    $('#composer-send').disabled = !current;
    $('#debug-stats').textContent = `${debugLog.entries.length} lines · ${debugLog.unsent.length} unsent`;
  }

  // ---- debug panel -----------------------------------------------------------------
  const MAX_PANEL_LINES = 600;
  function setupDebugPanel() {
    const lines = $('#debug-lines');
    debugLog.onLine((entry, time) => {
      const row = doc.createElement('div');
      row.className = `debug-line level-${entry.level.toLowerCase()}`;
      row.textContent = `[${time}] ${entry.message}`;
      const atEnd = lines.scrollTop + lines.clientHeight >= lines.scrollHeight - 8;
      lines.appendChild(row);
      while (lines.childElementCount > MAX_PANEL_LINES) lines.firstChild.remove();
      if (atEnd) lines.scrollTop = lines.scrollHeight;
    });
    $('#debug-toggle').addEventListener('click', () => {
      const panel = $('#debug');
      panel.hidden = !panel.hidden;
      $('#debug-toggle').setAttribute('aria-expanded', String(!panel.hidden));
      if (!panel.hidden) lines.scrollTop = lines.scrollHeight;
    });
    $('#debug-copy').addEventListener('click', () => {
      const text = debugLog.panelText();
      if (global.navigator.clipboard) global.navigator.clipboard.writeText(text).catch(() => {});
    });
    $('#debug-send').addEventListener('click', () => debugLog.flush().then(render));
    $('#debug-client').textContent = debugLog.clientId;
  }

  // ---- login and start -------------------------------------------------------------
  function showLogin(message) {
    $('#login').hidden = false;
    $('#main').hidden = true;
    $('#login-error').textContent = message || '';
    $('#login-error').hidden = !message;
    $('#login-token').focus();
  }

  function start(token) {
    $('#login').hidden = true;
    $('#main').hidden = false;
    app.client = new SocketClient({
      log,
      profile,
      token,
      journal,
      onAuthFailed: (reason) => {
        store.removeItem(TOKEN_KEY);
        if (app.manager) app.manager.stop();
        showLogin(`Sign-in refused: ${reason}`);
      },
    });
    app.client.onState((prev, next) => {
      if (next === 'connected') debugLog.startRemote(); // signed in: the remote log may start
      render();
    });
    app.client.onUnroutedError = (message) => log.error(`chat:error without session: ${message}`);
    if (profile.connMgr) {
      app.manager = new ConnectionManager({log, client: app.client, profile});
      app.manager.onChange(() => render());
      app.manager.start();
    } else {
      app.client.open();
    }
    restoreSessions();
    render();
  }

  function setup() {
    if (typeof global.io !== 'function') {
      showLogin('The Socket.IO client is missing from this server (run: make webclient).');
      log.error('socket.io client bundle not loaded');
      return;
    }
    $('#profile').textContent = profile.name;
    $('#profile').title = `Connection profile (?profile=legacy|connmgr|resume)`;
    if (!PROFILES[profileName]) log.error(`unknown profile ${profileName}, using connmgr`);
    for (const name of ['time_scale', 'connect_timeout_ms']) {
      if (params.has(name) && positiveParam(name, null) === null) log.error(`${name} must be a number > 0, not ${params.get(name)}`);
    }
    $('#new-workdir').value = store.getItem(WORKDIR_KEY) || '/tmp';
    setupDebugPanel();

    $('#login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = $('#login-token').value.trim();
      if (!token) return;
      store.setItem(TOKEN_KEY, token);
      start(token);
    });
    $('#new-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const workingDir = $('#new-workdir').value.trim() || '/tmp';
      store.setItem(WORKDIR_KEY, workingDir);
      createSession(workingDir);
    });
    $('#composer').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = $('#composer-input');
      sendMessage(input.value);
      input.value = '';
    });
    $('#composer-input').addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $('#composer').requestSubmit();
      }
    });
    $('#connection').addEventListener('click', () => {
      if (app.manager && app.manager.state === 'failed') app.manager.retry();
      else if (app.client && app.client.gaveUp) app.client.open();
    });
    $('#logout').addEventListener('click', () => {
      store.removeItem(TOKEN_KEY);
      global.location.reload();
    });

    const saved = store.getItem(TOKEN_KEY);
    if (saved) start(saved);
    else showLogin('');
  }

  // What automation (simulate-mobile --browser, tests) reads: the page's own view of itself.
  global.jarvisDiag = {
    profile: profile.name,
    timeScale,
    clientId: debugLog.clientId,
    log: debugLog,
    lines: (from) => debugLog.entries.slice(from || 0).map((e) => ({timestamp: e.timestamp, level: e.level, message: e.message})),
    connection: () => ({
      socket: app.client ? app.client.state : 'none',
      manager: app.manager ? app.manager.state : null,
      transport: app.client ? app.client.transport() : 'none',
      authenticated: app.client ? app.client.authenticated : 0,
    }),
    sessions: () => [...app.sessions.values()].map((s) => ({
      id: s.id,
      tempId: s.tempId,
      uuid: s.uuid,
      title: s.title,
      current: s === app.current,
      attached: s.attached,
      readyCount: s.readyCount,
      readyAt: s.readyAt,
      historyEndAt: s.historyEndAt,
      results: s.results,
      lastSeq: s.lastSeq,
      liveSeqs: [...s.liveSeqs].sort((a, b) => a - b),
      duplicateSeqs: s.duplicateSeqs.slice(),
      skippedBySeq: s.skippedBySeq,
      messages: s.container ? [...s.container.querySelectorAll('.msg')].map((b) => ({
        role: b.dataset.role, text: b.dataset.text, seq: b.dataset.seq ? Number(b.dataset.seq) : null,
        final: b.dataset.final === '1',
      })) : [],
    })),
    flushLogs: () => debugLog.flush(),
    journal: (from) => journalEntries.slice(from || 0),
    journalLength: () => journalEntries.length,
  };

  if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', setup);
  else setup();
})(window);
