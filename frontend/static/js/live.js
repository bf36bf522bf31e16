// Gigdesk's live connection: one WebSocket per page, reconnected with backoff.
//
// Every server event is re-dispatched on `document` as a CustomEvent named
// "gigdesk:<type>" (for example "gigdesk:message"), its detail the event
// itself. Connection changes come as "gigdesk:connection", detail
// {state: "connecting" | "open" | "reconnecting" | "closed", code, retryInMs}.
// `send(type, fields)` returns the message's "ref", which the server echoes
// on its answer. Protocol: docs/protocols/agent-websocket.md.
//
// The socket is /ws/agent/ unless the page names another with
// <meta name="gigdesk-live-path" content="/ws/customer/<token>/">. Agent
// sockets send a heartbeat every 15 s.
//
// Import it from a page's module (`import { send } from "./live.js"`). One
// connection per page however many modules import it, even under two URLs.

const HEARTBEAT_MS = 15000;
const FIRST_RETRY_MS = 1000;
const LONGEST_RETRY_MS = 30000;
// Closed on purpose by the server (not signed in, not an agent, a bad link):
// trying again would fail the same way.
const FINAL_CLOSE_CODES = new Set([4403, 4404]);

function livePath() {
  const meta = document.querySelector('meta[name="gigdesk-live-path"]');
  return meta ? meta.content : "/ws/agent/";
}

function emit(type, detail) {
  document.dispatchEvent(new CustomEvent(`gigdesk:${type}`, { detail }));
}

function createConnection() {
  const path = livePath();
  const sendsHeartbeats = path.startsWith("/ws/agent/");
  const refPrefix = Math.random().toString(36).slice(2, 8);
  let socket = null;
  let failures = 0;
  let heartbeatTimer = null;
  let retryTimer = null;
  let refCount = 0;
  let state = "connecting";

  function setState(next, extra = {}) {
    state = next;
    emit("connection", { state: next, ...extra });
  }

  // Full jitter: a server restart must not bring every page back at once.
  function retryDelay() {
    const ceiling = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** failures);
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  function open() {
    clearTimeout(retryTimer);
    retryTimer = null;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${path}`);
    socket = ws;
    if (state !== "reconnecting") setState("connecting");
    ws.addEventListener("open", () => {
      setState("open");
      if (sendsHeartbeats) {
        heartbeatTimer = setInterval(() => send("heartbeat"), HEARTBEAT_MS);
      }
    });
    ws.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (!event || typeof event.type !== "string") return;
      // A snapshot means the connection really works: start backing off afresh.
      if (event.type === "snapshot") failures = 0;
      emit(event.type, event);
    });
    ws.addEventListener("close", (closing) => {
      clearInterval(heartbeatTimer);
      heartbeatTimer = null;
      if (socket !== ws) return;
      socket = null;
      if (FINAL_CLOSE_CODES.has(closing.code)) {
        setState("closed", { code: closing.code });
        return;
      }
      const retryInMs = retryDelay();
      failures += 1;
      setState("reconnecting", { code: closing.code, retryInMs });
      retryTimer = setTimeout(open, retryInMs);
    });
  }

  // Back on the network, or back on the tab: no reason to wait out the backoff.
  function retryNow() {
    if (retryTimer !== null) open();
  }
  window.addEventListener("online", retryNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") retryNow();
  });

  function send(type, fields = {}) {
    refCount += 1;
    const ref = `${refPrefix}-${refCount}`;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      // Answered like any refusal, so pages handle one kind of failure.
      queueMicrotask(() =>
        emit("error", {
          type: "error",
          ref,
          code: "not_connected",
          message: "Not connected right now; reconnecting…",
        }),
      );
      return ref;
    }
    socket.send(JSON.stringify({ ...fields, type, ref }));
    return ref;
  }

  open();
  return { send, state: () => state, retryNow };
}

const connection = (window.gigdeskLive ??= createConnection());

export function send(type, fields = {}) {
  return connection.send(type, fields);
}

export function connectionState() {
  return connection.state();
}

export function reconnectNow() {
  connection.retryNow();
}
