// The official socket.io-client against the reference server, as the Jarvis frontend uses it:
// connect, auth, chat:connect a new session, send a message, collect the reply.
// usage: node compat.js URL TOKEN [websocket|polling]
// prints one JSON line: {ok, sessionId, ready, historyEnd, events, reply}
const { io } = require("socket.io-client");

const [url, token, transport = "websocket"] = process.argv.slice(2);
const transports = transport === "polling" ? ["polling"] : ["websocket", "polling"];
const socket = io(url, { transports, timeout: 10000, reconnection: false });
const tempId = `new-${Date.now()}`;
const out = { ok: false, transport, tempId, events: [] };

const timer = setTimeout(() => finish(`timed out after: ${out.events.join(",")}`), 15000);

function finish(error) {
  clearTimeout(timer);
  if (error) out.error = error;
  socket.disconnect();
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(out.ok ? 0 : 1);
}

socket.onAny((event, data) => {
  out.events.push(event);
  if (event === "auth_success") {
    socket.emit("chat:connect", { session_id: tempId, working_dir: "/tmp", resume: null });
  } else if (event === "auth_failed") {
    finish(`auth failed: ${JSON.stringify(data)}`);
  } else if (event === "chat:ready") {
    out.ready = data;
    out.sessionId = data.session_id;
  } else if (event === "chat:history_end") {
    out.historyEnd = data;
    socket.emit("chat:message", { session_id: tempId, content: "hello from node" });
  } else if (event === "chat:stream") {
    out.reply = (out.reply || "") + data.content;
  } else if (event === "chat:result") {
    out.result = data.content;
    out.ok = out.reply === data.content && data.session_id === out.sessionId;
    finish();
  } else if (event === "chat:error") {
    finish(`chat:error ${JSON.stringify(data)}`);
  }
});
socket.on("connect", () => socket.emit("auth", { token }));
socket.on("connect_error", (err) => finish(`connect_error: ${err.message}`));
