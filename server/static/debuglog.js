/* The page's debug log: every line is shown in the debug panel and posted in batches to
 * the server's remote-log endpoint, in the shapes of the real frontend (see
 * docs: LOG_FORMATS.md §2), so `jarvis-diag timeline` reads them like field logs.
 *
 * Posting starts only once the page has signed in (startRemote): a visitor who never
 * does leaves no log file on the server. The lines written before are kept and go with
 * the first batch after signing in. */
(function (global) {
  'use strict';

  const FLUSH_EVERY_MS = 2000;
  const BATCH_MAX = 100;
  const KEEP_IN_MEMORY = 5000; // lines kept for the panel and for automation
  const UNSENT_MAX = 5000; // a page offline for long drops its oldest unsent lines

  // <first 20 alphanumerics of the user agent>-<epoch ms base 36>-<4 random base-36 chars>
  function makeClientId(userAgent) {
    const alnum = String(userAgent || '').replace(/[^A-Za-z0-9]/g, '').slice(0, 20) || 'unknown';
    let rand = '';
    for (let i = 0; i < 4; i += 1) rand += Math.floor(Math.random() * 36).toString(36);
    return `${alnum}-${Date.now().toString(36)}-${rand}`;
  }

  function pad(n, width) {
    return String(n).padStart(width, '0');
  }

  // The debug panel's own form: browser local time, no date (LOG_FORMATS.md §3).
  function panelTime(date) {
    return `${pad(date.getHours(), 2)}:${pad(date.getMinutes(), 2)}:${pad(date.getSeconds(), 2)}.${pad(date.getMilliseconds(), 3)}`;
  }

  class DebugLog {
    constructor(options) {
      const opts = options || {};
      this.endpoint = opts.endpoint || '/api/debug/logs';
      this.clientId = opts.clientId || makeClientId(global.navigator && global.navigator.userAgent);
      this.entries = [];
      this.unsent = [];
      this.listeners = [];
      this.sending = false;
      this.remote = Boolean(opts.remote); // posting allowed (the page signed in)
      this.sent = 0;
      this.failedPosts = 0;
      this.timer = global.setInterval(() => this.flush(), opts.flushEveryMs || FLUSH_EVERY_MS);
    }

    log(message, level) {
      const date = new Date();
      const entry = {timestamp: date.toISOString(), level: level || 'DEBUG', message: String(message), clientId: this.clientId};
      this.entries.push(entry);
      if (this.entries.length > KEEP_IN_MEMORY) this.entries.splice(0, this.entries.length - KEEP_IN_MEMORY);
      this.unsent.push(entry);
      if (this.unsent.length > UNSENT_MAX) this.unsent.splice(0, this.unsent.length - UNSENT_MAX);
      if (global.console && global.console.debug) global.console.debug(message);
      for (const listener of this.listeners) listener(entry, panelTime(date));
      if (this.unsent.length >= BATCH_MAX) this.flush();
      return entry;
    }

    error(message) {
      return this.log(`[ERROR] ${message}`, 'ERROR');
    }

    onLine(listener) {
      this.listeners.push(listener);
    }

    panelText() {
      return this.entries.map((e) => `[${panelTime(new Date(e.timestamp))}] ${e.message}`).join('\n');
    }

    // The page signed in: post what was kept so far, and every line from now on.
    startRemote() {
      if (this.remote) return;
      this.remote = true;
      this.flush();
    }

    // One batch in flight at a time; a failed batch goes back to the front of the queue,
    // so lines written while offline arrive (late) once the network is back.
    async flush() {
      if (!this.remote || this.sending || this.unsent.length === 0) return;
      const batch = this.unsent.splice(0, BATCH_MAX);
      this.sending = true;
      try {
        const response = await global.fetch(this.endpoint, {
          method: 'POST',
          headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({clientId: this.clientId, logs: batch}),
          keepalive: true,
        });
        if (!response.ok && response.status >= 500) throw new Error(`HTTP ${response.status}`);
        this.sent += batch.length; // a 4xx will not get better by resending: drop it
      } catch (err) {
        this.failedPosts += 1;
        this.unsent.unshift(...batch);
        if (this.unsent.length > UNSENT_MAX) this.unsent.splice(UNSENT_MAX);
      } finally {
        this.sending = false;
      }
    }
  }

  global.DebugLog = DebugLog;
  global.makeClientId = makeClientId;
  global.panelTime = panelTime;
})(window);
