// A hipster-timer protocol client: connect, hello, auth (token or meeting guest), ready,
// resume cursors with their epoch, commands with ids and op_ids (re-sent with the same
// op_id after a reconnect), events to listeners, reconnection with backoff and jitter that
// honours the server's close codes, and a ping that notices a dead socket.
// No dependencies: any runtime with a WebSocket (pass one in `options.WebSocket`).
// The API is documented in docs/client.md.

// Closes after which reconnecting with the same credentials cannot help (docs/protocol.md,
// "Close codes"): the session ended (1000), the client is broken (1002, 1007, 1008, 1009),
// authentication failed (4401), or the server forbids it (4403).
export const FINAL_CLOSES = new Set([1000, 1002, 1007, 1008, 1009, 4401, 4403]);
// Too many rate-limited commands: wait the longest delay before trying again.
export const SLOW_DOWN_CLOSES = new Set([4429]);
// The server was busy signing others in: come back when it said (its error frame's
// details.retry_after_ms, jittered by the server; else the close reason's "retry after N ms").
export const TRY_LATER_CLOSE = 1013;
// Close code this client uses when it gives up on a socket that stopped answering pings.
export const CLOSE_UNRESPONSIVE = 4000;

const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 30000, factor: 2 };

/** A command's error result (or the client's own `disconnected` / `stopped`). */
export class CommandError extends Error {
  constructor(error) {
    super(error.message);
    this.name = "CommandError";
    this.code = error.code;
    this.details = error.details ?? {};
  }
}

/** Return a random UUID (version 4); unlike crypto.randomUUID it works outside https. */
export function uuid4() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Return the wait before reconnect attempt `attempt` (0-based): half the ceiling plus jitter. */
export function backoffDelay(attempt, backoff = DEFAULT_BACKOFF, random = Math.random) {
  const { initialMs, maxMs, factor } = { ...DEFAULT_BACKOFF, ...backoff };
  const ceiling = Math.min(maxMs, initialMs * factor ** attempt);
  // "Equal jitter": never an instant retry, and clients that dropped together spread out.
  return ceiling / 2 + random() * (ceiling / 2);
}

/** Return the wait a turned-away client was told (ms), or null when it was told none. */
export function retryAfterMs(error, reason = "") {
  const told = error?.details?.retry_after_ms ?? Number(/retry after (\d+) ms/.exec(reason)?.[1]);
  return Number.isFinite(told) && told > 0 ? told : null;
}

/** Return the WebSocket URL of the server that served `location`. */
export function defaultUrl(location = globalThis.location) {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`;
}

export class Client {
  /**
   * `auth` is a function returning (or resolving to) the auth frame's credentials,
   * `{token}` or `{guest: {meeting, participant_token?}}`; it is called for every connection.
   */
  constructor({
    url = defaultUrl(),
    auth,
    WebSocket: Socket = globalThis.WebSocket,
    backoff = {},
    pingIntervalMs = 20000,
    pingTimeoutMs = 10000,
    random = Math.random,
  } = {}) {
    Object.assign(this, { url, auth, Socket, random, pingIntervalMs, pingTimeoutMs });
    this.backoff = { ...DEFAULT_BACKOFF, ...backoff };
    this.state = "idle"; // idle | connecting | ready | waiting | stopped
    this.cursors = new Map(); // topic -> last seq processed
    this.epoch = null; // the epoch the cursors belong to
    this.hello = null;
    this.attempt = 0;
    this._listeners = new Map();
    this._pending = new Map(); // command id -> {frame, resolve, reject, retry, sent}
    this._nextId = 1;
    this._ws = null;
    this._timer = null;
    this._pinger = null;
    this._lastError = null;
  }

  /** Call `fn` for each `kind` (an event name, "event", "ready", "reset", ...); return an off(). */
  on(kind, fn) {
    if (!this._listeners.has(kind)) this._listeners.set(kind, new Set());
    this._listeners.get(kind).add(fn);
    return () => this._listeners.get(kind).delete(fn);
  }

  /** Connect (or reconnect now, with the current credentials and cursors). */
  start() {
    this._teardown();
    this.attempt = 0;
    this._connect();
  }

  /** Close for good: pending commands are rejected with `stopped`. */
  stop() {
    this._teardown();
    this._setState("stopped");
    this._rejectPending(() => true, "stopped", "the client was stopped");
  }

  /** Send a command; resolve with its result's data, reject with a CommandError. */
  send(type, data = {}, { opId = uuid4(), retry = true } = {}) {
    // Every command carries an op_id (read commands ignore it), so any of them can be
    // re-sent after a reconnect without running twice; retry: false opts out.
    const frame = { id: this._nextId++, type, data, op_id: opId };
    return new Promise((resolve, reject) => {
      if (this.state === "stopped") {
        reject(new CommandError({ code: "stopped", message: "the client is stopped" }));
        return;
      }
      this._pending.set(frame.id, { frame, resolve, reject, retry, sent: false });
      if (this.state === "ready") this._transmit(frame.id);
    });
  }

  /** Subscribe to a topic, replaying from its cursor; it is resumed on every reconnect. */
  async subscribe(topic) {
    const since = this.cursors.has(topic) ? this.cursors.get(topic) : null;
    const epoch = since === null ? null : this.epoch;
    const result = await this.send("subscribe", { topic, since, epoch });
    this._advance(topic, result.seq);
    if (result.reset) this._emit("reset", topic);
    return result;
  }

  /** Stop receiving a topic and forget its cursor. */
  async unsubscribe(topic) {
    this.cursors.delete(topic);
    return this.send("unsubscribe", { topic });
  }

  _connect() {
    this._setState("connecting");
    this._lastError = null;
    const ws = new this.Socket(this.url);
    this._ws = ws;
    ws.onmessage = (msg) => this._onFrame(ws, msg.data);
    ws.onclose = (ev) => this._onClose(ws, ev.code, ev.reason);
    ws.onerror = () => {}; // a close event follows and carries what matters
  }

  async _onFrame(ws, text) {
    if (ws !== this._ws) return;
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    this._emit("frame", frame);
    if (frame.type === "hello") await this._sendAuth(ws, frame);
    else if (frame.type === "ready") this._onReady(frame);
    else if (frame.type === "event") this._onEvent(frame);
    else if (frame.type === "result") this._onResult(frame);
    else if (frame.type === "error") this._onError(frame.error);
    else this._emit(frame.type, frame); // tick, auth.expiring
  }

  async _sendAuth(ws, hello) {
    this.hello = hello;
    const credentials = await this.auth();
    if (ws !== this._ws) return;
    const frame = { type: "auth", ...credentials };
    if (this.cursors.size) {
      frame.resume = Object.fromEntries(this.cursors);
      if (this.epoch) frame.epoch = this.epoch;
    }
    ws.send(JSON.stringify(frame));
  }

  _onReady(ready) {
    this.epoch = ready.epoch;
    for (const [topic, { seq }] of Object.entries(ready.topics)) this.cursors.set(topic, seq);
    for (const topic of ready.denied) this.cursors.delete(topic);
    this.attempt = 0;
    this._setState("ready");
    this._emit("ready", ready);
    for (const topic of ready.reset) this._emit("reset", topic);
    for (const topic of ready.denied) this._emit("denied", topic);
    for (const [id, pending] of this._pending) if (!pending.sent) this._transmit(id);
    this._schedulePing();
  }

  _onEvent(event) {
    this._advance(event.topic, event.seq);
    this._emit("event", event);
    this._emit(event.name, event);
  }

  _onResult(result) {
    const pending = this._pending.get(result.id);
    if (!pending) return;
    this._pending.delete(result.id);
    if (result.ok) pending.resolve(result.data);
    else pending.reject(new CommandError(result.error));
  }

  _onError(error) {
    this._lastError = error; // an auth refusal arrives as this frame, then the close
    this._emit("error", error);
  }

  _onClose(ws, code, reason) {
    if (ws !== this._ws) return;
    this._ws = null;
    clearTimeout(this._pinger);
    // Unanswered commands that may run again wait for the next ready; the others fail.
    for (const pending of this._pending.values()) pending.sent = false;
    this._rejectPending((p) => !p.retry, "disconnected", "the connection dropped");
    const retrying = !FINAL_CLOSES.has(code);
    const delayMs = retrying ? this._nextDelay(code, reason) : null;
    if (retrying) {
      this._timer = setTimeout(() => this._connect(), delayMs);
      this._setState("waiting", { delayMs });
    } else {
      this._setState("stopped");
      this._rejectPending(() => true, "stopped", `the server closed the connection (${code})`);
    }
    // Last, so that a listener may start() again (say, with other credentials).
    this._emit("closed", { code, reason, error: this._lastError, retrying, delayMs });
  }

  _nextDelay(code, reason) {
    const told = code === TRY_LATER_CLOSE ? retryAfterMs(this._lastError, reason) : null;
    if (told !== null) return told;
    if (SLOW_DOWN_CLOSES.has(code)) return this.backoff.maxMs;
    return backoffDelay(this.attempt++, this.backoff, this.random);
  }

  _transmit(id) {
    const pending = this._pending.get(id);
    pending.sent = true;
    this._ws.send(JSON.stringify(pending.frame));
  }

  _schedulePing() {
    clearTimeout(this._pinger);
    this._pinger = setTimeout(() => this._ping(), this.pingIntervalMs);
  }

  async _ping() {
    const ws = this._ws;
    const timeout = setTimeout(() => this._abandon(ws), this.pingTimeoutMs);
    try {
      await this.send("ping", {}, { retry: false });
    } catch {
      // The close that rejected it schedules the reconnect.
    } finally {
      clearTimeout(timeout);
    }
    if (ws === this._ws && this.state === "ready") this._schedulePing();
  }

  _abandon(ws) {
    // A socket that answers nothing may take minutes to report its close: drop it now.
    if (ws !== this._ws) return;
    ws.close(CLOSE_UNRESPONSIVE, "no answer to ping");
    this._onClose(ws, CLOSE_UNRESPONSIVE, "no answer to ping");
  }

  _teardown() {
    clearTimeout(this._timer);
    clearTimeout(this._pinger);
    const ws = this._ws;
    this._ws = null;
    for (const pending of this._pending.values()) pending.sent = false;
    this._rejectPending((p) => !p.retry, "disconnected", "the client reconnected");
    if (ws && ws.readyState <= 1) ws.close(1000, "client closed");
  }

  _advance(topic, seq) {
    if (!(this.cursors.get(topic) >= seq)) this.cursors.set(topic, seq);
  }

  _rejectPending(which, code, message) {
    for (const [id, pending] of this._pending) {
      if (!which(pending)) continue;
      this._pending.delete(id);
      pending.reject(new CommandError({ code, message }));
    }
  }

  _setState(state, extra = {}) {
    this.state = state;
    this._emit("state", { state, attempt: this.attempt, ...extra });
  }

  _emit(kind, value) {
    for (const fn of this._listeners.get(kind) ?? []) {
      try {
        fn(value);
      } catch (err) {
        console.error(err); // one listener's fault must not stop the others, nor the client
      }
    }
  }
}
