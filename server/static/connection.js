/* The connection logic of the page, selectable with ?profile=legacy|connmgr|resume.
 *
 * SocketClient is the Socket.IO wrapper ("[SocketIO]" lines): authentication, one handler
 * per chat session, the emit queue. ConnectionManager ("[ConnMgr]" lines) is the newer
 * frontends' own reconnect state machine. The profiles reproduce the real frontends:
 *   legacy  - Socket.IO's built-in reconnection (1 s growing to 5 s, 10 attempts), and no
 *             chat:connect for a session it already has a handler for: after a reconnect
 *             the server has no callback for it and the session stays silent;
 *   connmgr - ConnectionManager (suspended while hidden, reconnect at once when visible or
 *             online, 100 ms doubling to 2 s, 20 attempts), re-sends chat:connect for every
 *             session, merges the replayed history into what it shows;
 *   resume  - connmgr plus the gap-free extension: chat:connect carries last_seq and events
 *             are de-duplicated by seq.
 */
(function (global) {
  'use strict';

  const PROFILES = {
    legacy: {
      name: 'legacy', connMgr: false, builtinReconnect: true, maxAttempts: 10, delayMs: 1000, delayMaxMs: 5000,
      resendExisting: false, resubscribe: false, mergeHistory: false, resume: false,
    },
    connmgr: {
      name: 'connmgr', connMgr: true, builtinReconnect: false, maxAttempts: 20, delayMs: 100, delayMaxMs: 2000,
      resendExisting: true, resubscribe: true, mergeHistory: true, resume: false,
    },
    resume: {
      name: 'resume', connMgr: true, builtinReconnect: false, maxAttempts: 20, delayMs: 100, delayMaxMs: 2000,
      resendExisting: true, resubscribe: true, mergeHistory: true, resume: true,
    },
  };

  // ConnectionManager's delay before attempt n (1-based): 100, 200, 400 ... capped at 2000 ms
  // (in whole ms: a profile's delays may be scaled).
  function reconnectDelay(profile, attempt) {
    return Math.round(Math.min(profile.delayMs * 2 ** (attempt - 1), profile.delayMaxMs));
  }

  // Ids in log lines are cut to 8 characters, like the real frontend's.
  function short(id) {
    return id === undefined || id === null || id === '' ? 'undefined' : String(id).slice(0, 8);
  }

  function handlerLabel(key) {
    return String(key).slice(0, 15);
  }

  const FORWARDING_KEEP_MS = 10000;

  class SocketClient {
    constructor(options) {
      this.log = options.log;
      this.profile = options.profile;
      this.token = options.token;
      this.socketPath = options.socketPath || '/socket.io/';
      this.onAuthFailed = options.onAuthFailed || (() => {});
      this.journal = options.journal || (() => {});
      this.stateListeners = [];
      this.state = 'disconnected';
      this.socket = null;
      this.handlers = new Map(); // 'chat:<session id>' -> handler
      this.forwarding = new Map(); // temporary id -> session UUID, kept a while after the remap
      this.pending = [];
      this.authenticated = 0; // how many times a socket authenticated (> 1: a reconnect)
      this.reconnectAttempt = 0;
      this.gaveUp = false;
    }

    onState(listener) {
      this.stateListeners.push(listener);
    }

    setState(next) {
      const prev = this.state;
      if (prev === next) return;
      this.state = next;
      this.log(`[SocketIO] State: ${prev} -> ${next}`);
      for (const listener of this.stateListeners) listener(prev, next);
    }

    transport() {
      const engine = this.socket && this.socket.io && this.socket.io.engine;
      return engine && engine.transport ? engine.transport.name : 'none';
    }

    open() {
      this.close();
      this.gaveUp = false;
      const builtin = this.profile.builtinReconnect;
      const socket = global.io({
        path: this.socketPath,
        transports: ['websocket', 'polling'],
        timeout: this.profile.connectTimeoutMs || 10000,
        forceNew: true,
        autoConnect: false,
        reconnection: builtin,
        reconnectionAttempts: this.profile.maxAttempts,
        reconnectionDelay: this.profile.delayMs,
        reconnectionDelayMax: this.profile.delayMaxMs,
      });
      this.socket = socket;
      socket.on('connect', () => this.handleConnect(socket));
      socket.on('disconnect', (reason) => this.handleDisconnect(socket, reason));
      socket.on('connect_error', (err) => this.handleConnectError(socket, err));
      socket.on('auth_success', () => this.handleAuthSuccess(socket));
      socket.on('auth_failed', (payload) => this.handleAuthFailed(socket, payload));
      socket.onAny((event, payload) => {
        if (String(event).startsWith('chat:')) this.handleChatEvent(event, payload || {});
      });
      if (builtin) {
        socket.io.on('reconnect_attempt', (attempt) => {
          this.reconnectAttempt = attempt;
          this.setState('connecting');
          this.log('[SocketIO] Connecting...');
        });
        socket.io.on('reconnect_failed', () => {
          this.gaveUp = true;
          this.journal({kind: 'reconnect.exhausted'});
          this.log.error(`Socket.IO gave up reconnecting after ${this.profile.maxAttempts} attempts`);
          this.setState('disconnected');
        });
      }
      this.setState('connecting');
      this.log('[SocketIO] Connecting...');
      socket.connect();
    }

    // Drop the current socket without letting its late events reach the page.
    close() {
      const socket = this.socket;
      if (!socket) return;
      this.socket = null;
      socket.off();
      socket.offAny();
      if (socket.io) socket.io.off();
      socket.disconnect();
      if (this.state !== 'disconnected') {
        this.setState('disconnected');
        this.notifyDetached();
      }
    }

    handleConnect(socket) {
      if (socket !== this.socket) return;
      this.log('[SocketIO] Connected, authenticating...');
      this.journal({kind: 'socket.connected', detail: {sid: socket.id}});
      this.setState('authenticating');
      socket.emit('auth', {token: this.token});
    }

    handleAuthSuccess(socket) {
      if (socket !== this.socket) return;
      this.log(`[SocketIO] [DIAG] Authentication successful, transport=${this.transport()}`);
      this.authenticated += 1;
      this.journal({kind: 'auth.ok', detail: {sid: socket.id}});
      this.reconnectAttempt = 0;
      this.setState('connected');
      if (this.authenticated > 1) {
        if (this.profile.resubscribe) this.resubscribeAll();
        else this.keepHandlers();
      }
      this.flushPending();
    }

    handleAuthFailed(socket, payload) {
      if (socket !== this.socket) return;
      const reason = (payload && payload.reason) || 'unknown';
      this.log(`[SocketIO] Authentication failed: ${reason}`);
      this.journal({kind: 'auth.failed', detail: {reason}});
      this.close();
      this.onAuthFailed(reason);
    }

    handleDisconnect(socket, reason) {
      if (socket !== this.socket) return;
      this.log(`[SocketIO] Disconnected: ${reason}`);
      this.journal({kind: 'socket.disconnected', detail: {reason}});
      this.setState('disconnected');
      this.notifyDetached();
    }

    handleConnectError(socket, err) {
      if (socket !== this.socket) return;
      this.log(`[SocketIO] Connection error: ${(err && err.message) || err}`);
      this.journal({kind: 'socket.error', detail: {reason: String((err && err.message) || err)}});
      this.setState('disconnected');
    }

    notifyDetached() {
      for (const handler of this.handlers.values()) handler.callbacks.onDisconnect();
    }

    resolve(sessionId) {
      return this.forwarding.get(sessionId) || sessionId;
    }

    handlerFor(sessionId) {
      return this.handlers.get(`chat:${this.resolve(sessionId)}`) || null;
    }

    // Attach this page to a chat session (create the handler, send chat:connect).
    connectChat(sessionId, workingDir, callbacks) {
      const started = global.performance.now();
      const at = () => (global.performance.now() - started).toFixed(1);
      this.log(`[SocketIO] [TIMING] connectChat START: sessionId=${short(sessionId)}, state=${this.state}`);
      const existing = this.handlerFor(sessionId);
      if (existing) {
        existing.callbacks = callbacks;
        existing.workingDir = workingDir;
        if (!this.profile.resendExisting) {
          // The field bug: the page believes it is attached and tells the server nothing.
          this.log(`[SocketIO] [TIMING] connectChat: handler EXISTS, updating callbacks at +${at()}ms`);
          this.log(`[SocketIO] Chat ${short(existing.sessionId)} already connected, updating callbacks`);
          this.journal({kind: 'connect.skipped', session: existing.sessionId});
          this.log(`[SocketIO] [TIMING] connectChat END at +${at()}ms`);
          return;
        }
        this.log(`[SocketIO] [TIMING] connectChat: handler EXISTS, sending connect to re-establish backend callback at +${at()}ms`);
        this.emitConnect(existing, 'switch');
        this.log(`[SocketIO] [TIMING] connectChat END at +${at()}ms`);
        return;
      }
      this.log(`[SocketIO] [TIMING] connectChat: NEW handler, subscribing at +${at()}ms`);
      const handler = {sessionId, workingDir, callbacks};
      this.handlers.set(`chat:${sessionId}`, handler);
      this.log(`[SocketIO] Subscribing to chat:${short(sessionId)}`);
      this.log(`[SocketIO] [TIMING] connectChat: calling send() at +${at()}ms`);
      this.emitConnect(handler, 'open');
      this.log(`[SocketIO] [TIMING] connectChat END at +${at()}ms`);
    }

    // cause: why the page attaches (open, switch: the user; resubscribe: after a reconnect)
    emitConnect(handler, cause) {
      const payload = {session_id: handler.sessionId, working_dir: handler.workingDir, resume: null};
      const lastSeq = handler.callbacks.lastSeq ? handler.callbacks.lastSeq() : 0;
      if (this.profile.resume && lastSeq > 0) payload.last_seq = lastSeq;
      handler.awaitingReady = true; // the next chat:ready answers this page's own request
      this.send('chat:connect', payload, {cause});
    }

    removeChat(sessionId) {
      const key = `chat:${this.resolve(sessionId)}`;
      this.handlers.delete(key);
      this.pending = this.pending.filter((op) => this.resolve(op.payload.session_id) !== this.resolve(sessionId));
    }

    // After a reconnect: attach every session again (connmgr, resume).
    resubscribeAll() {
      const queued = new Set(this.pending.filter((op) => op.event === 'chat:connect')
        .map((op) => this.resolve(op.payload.session_id)));
      const handlers = [...this.handlers.values()];
      const toSend = handlers.filter((h) => !queued.has(h.sessionId));
      this.log(`[SocketIO] Re-sending ${toSend.length} subscriptions after reconnect (skipped ${handlers.length - toSend.length})`);
      for (const handler of toSend) {
        this.log(`[SocketIO] Re-subscribing to chat:${short(handler.sessionId)}`);
        if (handler.callbacks.onResubscribe) handler.callbacks.onResubscribe();
        this.emitConnect(handler, 'resubscribe');
      }
    }

    // After a reconnect, the old frontend (legacy): every handler exists, so it believes
    // each session is still attached and sends nothing (the field bug).
    keepHandlers() {
      const handlers = [...this.handlers.values()];
      if (handlers.length === 0) return;
      this.log(`[SocketIO] Re-sending 0 subscriptions after reconnect (skipped ${handlers.length})`);
      for (const handler of handlers) {
        this.log(`[SocketIO] [TIMING] connectChat START: sessionId=${short(handler.sessionId)}, state=${this.state}`);
        this.log('[SocketIO] [TIMING] connectChat: handler EXISTS, updating callbacks at +0.0ms');
        this.log(`[SocketIO] Chat ${short(handler.sessionId)} already connected, updating callbacks`);
        this.journal({kind: 'connect.skipped', session: handler.sessionId, detail: {cause: 'resubscribe'}});
      }
    }

    send(event, payload, meta) {
      if (this.state === 'connected' && this.socket) {
        const target = payload && payload.session_id ? this.resolve(payload.session_id) : null;
        const body = target ? {...payload, session_id: target} : payload;
        if (target) this.log(`[SocketIO] [DIAG] send EMIT: ${event} to ${short(target)}, transport=${this.transport()}`);
        this.socket.emit(event, body);
        if (event === 'chat:connect') this.journal({kind: 'connect.sent', session: target, detail: meta || {}});
        return true;
      }
      this.log(`[SocketIO] [DIAG] send QUEUED: ${event} (state=${this.state}, pendingCount=${this.pending.length})`);
      this.pending.push({event, payload, meta});
      return false;
    }

    flushPending() {
      if (this.pending.length === 0) return;
      const ops = this.pending.splice(0);
      this.log(`[SocketIO] Processing ${ops.length} pending operations`);
      for (const op of ops) this.send(op.event, op.payload, op.meta);
    }

    handleChatEvent(event, payload) {
      const sessionId = payload.session_id;
      if (event === 'chat:ready') {
        this.handleReady(payload);
        return;
      }
      if (event === 'chat:error') {
        this.log(`[SocketIO] chat:error for ${sessionId ? short(sessionId) : 'none'}: ${payload.message || 'unknown'}`);
        const handler = sessionId ? this.handlerFor(sessionId) : null;
        if (handler && handler.callbacks.onError) handler.callbacks.onError(payload.message || 'unknown error');
        else if (this.onUnroutedError) this.onUnroutedError(payload.message || 'unknown error');
        return;
      }
      const handler = sessionId ? this.handlerFor(sessionId) : null;
      if (!handler) {
        this.log(`[SocketIO] [DIAG] No handler for ${event} session=${short(sessionId)}`);
        return;
      }
      if (event === 'chat:user_ack') {
        this.log(`[SocketIO] [DIAG] user_ack for ${short(sessionId)}`);
      } else {
        this.log(`[SocketIO] [DIAG] _handleMessage: ${event}, sessionId=${short(sessionId)}, handlerKey=${handlerLabel(`chat:${handler.sessionId}`)}`);
      }
      handler.callbacks.onEvent(event, payload);
    }

    handleReady(payload) {
      const clientMs = Date.now();
      const serverMs = Number(payload.server_ts);
      if (Number.isFinite(serverMs)) {
        this.log(`[SocketIO] [TIMING] Socket.IO delivered chat:ready, network_delay=${Math.round(clientMs - serverMs)}ms (server=${Math.round(serverMs)}, client=${clientMs})`);
      }
      const uuid = payload.session_id;
      const original = payload.original_session_id;
      let handler = this.handlerFor(uuid) || (original ? this.handlerFor(original) : null);
      if (!handler) {
        this.log(`[SocketIO] [DIAG] No handler for chat:ready session=${short(uuid)}`);
        return;
      }
      if (uuid && handler.sessionId !== uuid) {
        const temporary = handler.sessionId;
        this.log(`[SocketIO] Remapping handler: chat:${short(temporary)} -> chat:${short(uuid)}`);
        this.handlers.delete(`chat:${temporary}`);
        handler.sessionId = uuid;
        this.handlers.set(`chat:${uuid}`, handler);
        // Messages typed before the remap still name the temporary id: forward them a while.
        this.forwarding.set(temporary, uuid);
        global.setTimeout(() => {
          this.forwarding.delete(temporary);
          this.log(`[SocketIO] Cleaned up forwarding handler for chat:${temporary}`);
        }, FORWARDING_KEEP_MS);
      }
      this.log(`[SocketIO] [TIMING] _handleMessage: RECEIVED chat:ready, triggering onConnect for ${handlerLabel(`chat:${handler.sessionId}`)}`);
      // A chat:ready nobody asked for: the server attached the socket by itself (auto-connect on a message).
      this.journal({kind: 'ready', session: handler.sessionId, detail: {requested: Boolean(handler.awaitingReady), resumed: Boolean(payload.resumed), sid: this.socket && this.socket.id}});
      handler.awaitingReady = false;
      handler.callbacks.onConnect(payload);
    }
  }

  // Transitions of ConnectionManager: state -> event -> next state.
  const TRANSITIONS = {
    idle: {connect: 'connecting', suspend: 'suspended'},
    connecting: {connected: 'connected', disconnected: 'reconnecting', suspend: 'suspended', offline: 'reconnecting'},
    connected: {disconnected: 'reconnecting', suspend: 'suspended', offline: 'reconnecting'},
    reconnecting: {
      connected: 'connected', disconnected: 'reconnecting', suspend: 'suspended', resume: 'reconnecting',
      online: 'reconnecting', offline: 'reconnecting', give_up: 'failed',
    },
    suspended: {resume: 'reconnecting', disconnected: 'suspended', connected: 'suspended', online: 'suspended', offline: 'suspended'},
    failed: {resume: 'reconnecting', online: 'reconnecting', connect: 'reconnecting', suspend: 'suspended'},
  };

  class ConnectionManager {
    constructor(options) {
      this.log = options.log;
      this.client = options.client;
      this.profile = options.profile;
      this.doc = options.document || global.document;
      this.listeners = [];
      this.state = 'idle';
      this.attempt = 0;
      this.timer = null;
      this.log('[ConnMgr] ConnectionManager initialized');
      this.client.onState((prev, next) => {
        this.log(`[ConnMgr] SocketIO state: ${prev} -> ${next}`);
        if (next === 'connected') this.fire('connected');
        else if (next === 'disconnected') this.fire('disconnected');
      });
      this.doc.addEventListener('visibilitychange', () => {
        if (this.doc.visibilityState === 'hidden') {
          this.log('[ConnMgr] Page hidden');
          this.fire('suspend');
        } else {
          this.log('[ConnMgr] Page visible');
          this.fire('resume');
        }
      });
      global.addEventListener('online', () => {
        this.log('[ConnMgr] Network online');
        this.fire('online');
      });
      global.addEventListener('offline', () => {
        this.log('[ConnMgr] Network offline');
        this.fire('offline');
      });
    }

    onChange(listener) {
      this.listeners.push(listener);
    }

    start() {
      this.fire('connect');
    }

    // A user tapping "retry" after the manager gave up.
    retry() {
      this.fire(this.state === 'failed' ? 'connect' : 'resume');
    }

    // Signed out (token refused): this manager never reconnects again.
    stop() {
      this.stopped = true;
      this.clearTimer();
    }

    fire(event) {
      if (this.stopped) return;
      const prev = this.state;
      const next = (TRANSITIONS[prev] || {})[event];
      if (!next) {
        this.log(`[ConnMgr] Invalid transition: ${prev} + ${event}`);
        return;
      }
      this.state = next;
      if (prev !== next) {
        this.log(`[ConnMgr] State: ${prev} -> ${next} (${event})`);
        this.log(`[ConnMgr] ${prev} -> ${next} (${event})`);
      }
      this.enter(prev, next, event);
      for (const listener of this.listeners) listener(prev, next, event);
    }

    enter(prev, next, event) {
      if (next === 'connecting') {
        this.client.open();
      } else if (next === 'connected') {
        this.attempt = 0;
        this.clearTimer();
        if (prev !== 'connected') this.log('[ConnMgr] Connected');
      } else if (next === 'suspended') {
        this.clearTimer(); // no retries while the page is hidden
      } else if (next === 'failed') {
        this.clearTimer();
        this.log('[ConnMgr] Max retries reached');
        if (this.client.journal) this.client.journal({kind: 'reconnect.exhausted'});
      } else if (next === 'reconnecting') {
        if (event === 'resume' || event === 'online' || event === 'connect') {
          // Back in front (or on the network): the socket may be half-open after a freeze,
          // so do not trust it; start again at once.
          this.attempt = 0;
          this.clearTimer();
          if (this.client.socket) {
            this.log('[ConnMgr] Force disconnecting stale socket before reconnect');
            this.client.close(); // its disconnect may already have scheduled attempt 1
          }
          if (!this.timer) this.schedule();
        } else if (event === 'offline') {
          if (this.client.socket) this.client.close();
          if (!this.timer) this.schedule();
        } else if (!this.timer && this.client.state === 'disconnected') {
          this.schedule();
        }
      }
    }

    schedule() {
      this.attempt += 1;
      if (this.attempt > this.profile.maxAttempts) {
        this.fire('give_up');
        return;
      }
      const attempt = this.attempt;
      const delay = reconnectDelay(this.profile, attempt);
      this.log(`[ConnMgr] Scheduling reconnect in ${delay}ms (attempt ${attempt})`);
      this.timer = global.setTimeout(() => {
        this.timer = null;
        if (this.state !== 'reconnecting') return;
        this.log(`[ConnMgr] Reconnecting (attempt ${attempt}/${this.profile.maxAttempts})`);
        this.client.open();
      }, delay);
    }

    clearTimer() {
      if (this.timer) global.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  global.JarvisConnection = {PROFILES, reconnectDelay, short, SocketClient, ConnectionManager};
})(window);
