// Checks of client.mjs against a scripted WebSocket, run in Chromium by test_client_module.py.
// Each exported check_* throws on failure. The scripted socket is the server's side:
// it records what the client sent and delivers frames or closes when a check says so.

import { Client, backoffDelay, retryAfterMs, uuid4 } from "/m/static/client.mjs";

class FakeSocket {
  static opened = [];

  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 1;
    this.closedWith = null;
    FakeSocket.opened.push(this);
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close(code = 1000, reason = "") {
    this.closedWith = code;
    this.readyState = 3;
  }

  deliver(frame) {
    this.onmessage({ data: JSON.stringify(frame) });
  }

  drop(code, reason = "") {
    this.readyState = 3;
    this.onclose({ code, reason });
  }
}

const HELLO = { type: "hello", protocol: 1, epoch: "e1", heartbeat_s: 25, limits: {} };

function ready(topics = {}, extra = {}) {
  return { type: "ready", user: null, epoch: "e1", topics, replayed: 0, reset: [], denied: [], ...extra };
}

function event(topic, seq, name = "meeting_availability.updated") {
  return { type: "event", topic, seq, name, data: {}, op_id: null, actor: null, at: "2026-03-01T00:00:00.000Z" };
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function same(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(a === e, `${what}: got ${a}, expected ${e}`);
}

async function until(condition, what, ms = 2000) {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function client(options = {}) {
  FakeSocket.opened = [];
  const log = [];
  const c = new Client({
    url: "ws://test/v1/ws",
    auth: () => ({ token: "t" }),
    WebSocket: FakeSocket,
    backoff: { initialMs: 20, maxMs: 80, factor: 2 },
    ...options,
  });
  for (const kind of ["closed", "state", "reset", "denied", "event"]) c.on(kind, (v) => log.push([kind, v]));
  c.log = log;
  return c;
}

const socket = (n) => FakeSocket.opened[n];

async function connected(c, n, topics = {}, extra = {}) {
  await until(() => FakeSocket.opened.length > n, `connection ${n}`);
  socket(n).deliver(HELLO);
  await until(() => socket(n).sent.length > 0, `auth on connection ${n}`);
  socket(n).deliver(ready(topics, extra));
  return socket(n).sent[0];
}

export async function check_auth_resumes_every_cursor_with_its_epoch() {
  const c = client();
  c.start();
  same(await connected(c, 0, { "user:a": { seq: 5 } }), { type: "auth", token: "t" }, "first auth");
  socket(0).deliver(event("meeting:m", 7));
  socket(0).deliver(event("user:a", 6));
  socket(0).drop(1006);
  const auth = await connected(c, 1, { "user:a": { seq: 6 }, "meeting:m": { seq: 9 } });
  same(auth, { type: "auth", token: "t", resume: { "user:a": 6, "meeting:m": 7 }, epoch: "e1" }, "resumed auth");
  same(Object.fromEntries(c.cursors), { "user:a": 6, "meeting:m": 9 }, "cursors after ready");
  c.stop();
}

export async function check_reset_and_denied_topics_are_reported() {
  const c = client();
  c.start();
  await connected(c, 0, { "meeting:m": { seq: 3 }, "user:b": { seq: 1 } });
  socket(0).drop(1012);
  await connected(c, 1, { "meeting:m": { seq: 40 } }, { reset: ["meeting:m"], denied: ["user:b"] });
  same(c.log.filter(([k]) => k === "reset" || k === "denied"), [["reset", "meeting:m"], ["denied", "user:b"]], "reports");
  check(!c.cursors.has("user:b"), "a denied topic's cursor is forgotten");
  c.stop();
}

export async function check_a_command_in_flight_is_sent_again_with_its_op_id() {
  const c = client();
  c.start();
  await connected(c, 0);
  const answer = c.send("meeting.availability.set", { participant_id: "p", cells: [] });
  const first = socket(0).sent[1];
  check(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(first.op_id), `op_id ${first.op_id}`);
  socket(0).drop(1006);
  await connected(c, 1);
  await until(() => socket(1).sent.length === 2, "the command sent again");
  same(socket(1).sent[1], first, "the same frame, op_id included");
  socket(1).deliver({ id: first.id, type: "result", ok: true, replayed: true, data: { version: 2 } });
  same(await answer, { version: 2 }, "its answer");
  c.stop();
}

export async function check_commands_wait_for_ready_and_opted_out_ones_fail_on_a_drop() {
  const c = client();
  c.start();
  const early = c.send("ping");
  await connected(c, 0);
  await until(() => socket(0).sent.length === 2, "the queued command");
  same(socket(0).sent[1].type, "ping", "sent after ready");
  socket(0).deliver({ id: socket(0).sent[1].id, type: "result", ok: true, data: { server_time: "x" } });
  await early;
  const once = c.send("meeting.join", { share_token: "s", display_name: "Gus" }, { retry: false });
  socket(0).drop(1006);
  const error = await once.then(() => null, (err) => err);
  same([error?.name, error?.code], ["CommandError", "disconnected"], "rejected");
  const refused = c.send("meeting.get", { id: "m" });
  await connected(c, 1);
  await until(() => socket(1).sent.length === 2, "the read");
  socket(1).deliver({ id: socket(1).sent[1].id, type: "result", ok: false, error: { code: "not_found", message: "no", details: { id: "m" } } });
  const notFound = await refused.then(() => null, (err) => err);
  same([notFound.code, notFound.details], ["not_found", { id: "m" }], "an error result");
  c.stop();
}

export async function check_final_close_codes_stop_and_others_reconnect() {
  for (const [code, retrying] of [[4401, false], [4403, false], [1008, false], [1000, false], [1012, true], [4409, true], [4408, true], [1006, true]]) {
    const c = client();
    c.start();
    await connected(c, 0);
    const pending = c.send("ping").catch((err) => err.code);
    socket(0).drop(code);
    const closed = c.log.find(([k]) => k === "closed")[1];
    same([code, closed.retrying], [code, retrying], "retrying");
    if (retrying) {
      await until(() => FakeSocket.opened.length === 2, `a reconnect after ${code}`);
    } else {
      same([c.state, await pending], ["stopped", "stopped"], `after ${code}`);
      await new Promise((resolve) => setTimeout(resolve, 120));
      same(FakeSocket.opened.length, 1, `no reconnect after ${code}`);
    }
    c.stop();
  }
}

export async function check_an_auth_refusal_reaches_the_closed_listener() {
  const c = client();
  c.start();
  await until(() => FakeSocket.opened.length === 1, "a connection");
  socket(0).deliver(HELLO);
  socket(0).deliver({ type: "error", error: { code: "not_found", message: "no poll", details: {} } });
  socket(0).drop(4401);
  const closed = c.log.find(([k]) => k === "closed")[1];
  same([closed.code, closed.retrying, closed.error.code], [4401, false, "not_found"], "closed");
}

export async function check_a_closed_listener_may_start_again_with_other_credentials() {
  let credentials = { token: "expired" };
  const c = client({ auth: () => credentials });
  c.on("closed", ({ code }) => {
    if (code !== 4401) return;
    credentials = { guest: { meeting: "link" } };
    c.start();
  });
  c.start();
  await connected(c, 0);
  socket(0).drop(4401);
  same(c.state, "connecting", "started again, not stopped");
  const auth = await connected(c, 1);
  same(auth, { type: "auth", guest: { meeting: "link" } }, "the new credentials");
  same(c.state, "ready", "ready");
  c.stop();
}

export async function check_backoff_grows_with_jitter_and_resets_after_ready() {
  for (let attempt = 0; attempt < 8; attempt++) {
    const ceiling = Math.min(30000, 500 * 2 ** attempt);
    same([backoffDelay(attempt, {}, () => 0), backoffDelay(attempt, {}, () => 0.999999)].map(Math.round), [ceiling / 2, ceiling], `bounds of attempt ${attempt}`);
  }
  const c = client({ random: () => 1 });
  c.start();
  await connected(c, 0);
  for (let n = 1; n <= 3; n++) {
    socket(n - 1).drop(1006);
    await until(() => FakeSocket.opened.length === n + 1, `attempt ${n}`);
  }
  socket(3).drop(1006); // never ready since: the waits grew 20, 40, 80, then stay at the cap
  await connected(c, 4); // ready: the next wait starts small again
  socket(4).drop(1006);
  await connected(c, 5);
  socket(5).drop(4429); // rate limited: the longest wait
  const waits = c.log.filter(([k, v]) => k === "state" && v.state === "waiting").map(([, v]) => v.delayMs);
  same(waits, [20, 40, 80, 80, 20, 80], "waits");
  c.stop();
}

export async function check_a_turned_away_client_returns_when_the_server_said() {
  same(retryAfterMs(null, "too many connections are signing in; retry after 41 ms"), 41, "from the reason");
  same([retryAfterMs(null, ""), retryAfterMs({ details: {} }, "busy")], [null, null], "told nothing");
  const c = client({ random: () => 1 });
  c.start();
  await until(() => FakeSocket.opened.length === 1, "connection 0");
  socket(0).deliver({ type: "error", error: { code: "unavailable", message: "busy", details: { retry_after_ms: 37 } } });
  socket(0).drop(1013, "too many connections are signing in; retry after 37 ms");
  await until(() => FakeSocket.opened.length === 2, "connection 1");
  socket(1).drop(1013, "retry after 55 ms"); // no error frame this time: the reason tells
  await until(() => FakeSocket.opened.length === 3, "connection 2");
  socket(2).drop(1013); // told nothing: the usual backoff, from its first step
  await connected(c, 3);
  const waits = c.log.filter(([k, v]) => k === "state" && v.state === "waiting").map(([, v]) => v.delayMs);
  same(waits, [37, 55, 20], "waits");
  c.stop();
}

export async function check_a_silent_socket_is_abandoned_after_a_ping() {
  const c = client({ pingIntervalMs: 30, pingTimeoutMs: 30 });
  c.start();
  await connected(c, 0);
  await until(() => socket(0).sent.some((f) => f.type === "ping"), "a ping");
  await until(() => FakeSocket.opened.length === 2, "a new connection");
  same(socket(0).closedWith, 4000, "the silent socket was closed");
  same(c.log.find(([k]) => k === "closed")[1].code, 4000, "reported");
  c.stop();
}

export async function check_events_reach_listeners_by_name_and_a_failing_listener_spares_the_rest() {
  const c = client();
  const seen = [];
  c.on("meeting.deleted", () => { throw new Error("listener fault (expected in this check)"); });
  c.on("meeting.deleted", (e) => seen.push(e.seq));
  c.start();
  await connected(c, 0);
  socket(0).deliver(event("meeting:m", 3, "meeting.deleted"));
  same(seen, [3], "the second listener ran");
  c.stop();
}

export async function check_subscribe_sends_the_cursor_and_epoch_it_has() {
  const c = client();
  c.start();
  await connected(c, 0, { "meeting:m": { seq: 4 } });
  const answer = c.subscribe("meeting:m");
  const frame = socket(0).sent[1];
  same(frame.data, { topic: "meeting:m", since: 4, epoch: "e1" }, "subscribe data");
  socket(0).deliver({ id: frame.id, type: "result", ok: true, data: { topic: "meeting:m", seq: 9, replayed: 5, reset: false } });
  await answer;
  same(c.cursors.get("meeting:m"), 9, "cursor");
  const fresh = c.subscribe("meeting:n");
  same(socket(0).sent[2].data, { topic: "meeting:n", since: null, epoch: null }, "a new topic");
  socket(0).deliver({ id: socket(0).sent[2].id, type: "result", ok: true, data: { topic: "meeting:n", seq: 2, replayed: 0, reset: true } });
  await fresh;
  same(c.log.filter(([k]) => k === "reset"), [["reset", "meeting:n"]], "reset reported");
  c.stop();
}

export async function check_uuid4_is_random_and_well_formed() {
  const ids = new Set(Array.from({ length: 200 }, uuid4));
  same(ids.size, 200, "distinct");
  for (const id of ids) check(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id), id);
}
