// The meeting poll page: join, paint, the live heatmap and the best windows.
// It speaks the WebSocket protocol through client.mjs; docs/client.md describes the page.

import { Client } from "./client.mjs";
import { Grid, el, fmt } from "./grid.mjs";

const $ = (id) => document.getElementById(id);
const share = decodeURIComponent(location.pathname.slice(location.pathname.lastIndexOf("/") + 1));
const LINK_KEY = `ht.link.${share}`; // this link -> the id of its poll
const guestKey = (meetingId) => `ht.guest.${meetingId}`; // a poll -> our participant token
const TOKEN_KEY = "ht.token"; // a signed-in user's bearer token, for this tab only
const local = storage(() => localStorage);
const session = storage(() => sessionStorage);
const TIERS = { available: "available", if_need_be: "if need be" };

const page = {
  client: null, user: null, identified: false, closed: false,
  tz: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
  meetingId: null, meeting: null, days: [], people: new Map(), you: null, tier: "available",
  required: new Set(), loading: false, queue: [], pendingOwn: 0, resultSeq: 0,
  loads: 0, replayed: 0, resultTimer: null, presence: null,
};
const grid = new Grid($("grid"), $("detail"), {
  canPaint: () => page.people.has(page.you),
  adds: (start) => ownTier(start) !== page.tier, // painting over your own tier erases
  onPaint: paint,
});
window.pollPage = page; // for the console and for tests

function storage(area) {
  // Storage may be off (privacy modes): the page then works for this visit only.
  const run = (fn) => { try { return fn(area()); } catch { return null; } };
  return {
    get: (key) => run((s) => s.getItem(key)),
    set: (key, value) => run((s) => s.setItem(key, value)),
    del: (key) => run((s) => s.removeItem(key)),
  };
}

// ---- who we are -------------------------------------------------------------------------

function takeFragmentToken() {
  const found = /^#token=(.+)$/.exec(location.hash);
  if (!found) return;
  session.set(TOKEN_KEY, decodeURIComponent(found[1]));
  // Out of the address bar, the history and any bookmark made from here on.
  history.replaceState(null, "", location.pathname + location.search);
}

function credentials() {
  const token = session.get(TOKEN_KEY);
  if (token) return { token };
  const known = local.get(LINK_KEY);
  const participantToken = known && local.get(guestKey(known));
  if (participantToken) return { guest: { meeting: share, participant_token: participantToken } };
  return { guest: { meeting: share } };
}

function restart() {
  page.identified = false;
  page.client.start();
}

async function onReady(ready) {
  page.connection = ready.connection;
  page.replayed = ready.replayed;
  showStatus({ state: "ready" });
  if (page.identified) return; // a resume: the replayed events brought the page up to date
  page.identified = true;
  page.user = ready.user;
  renderSignin();
  $("main").hidden = false;
  if (ready.guest) await identifyGuest(ready.guest);
  else await identifyUser(ready.user);
  renderYou();
}

async function identifyGuest({ meeting_id: meetingId, participant }) {
  local.set(LINK_KEY, meetingId);
  if (!participant && local.get(guestKey(meetingId))) return restart(); // joined via an older link
  page.you = participant ? participant.id : null;
  page.meetingId = meetingId;
  if (!(await load())) closePoll();
}

async function identifyUser(user) {
  $("join-name").value ||= user.display_name;
  page.you = null;
  let id = local.get(LINK_KEY);
  if (!id) {
    // The owner finds their poll by its link; anyone else learns its id by joining.
    const own = await page.client.send("meeting.list", { limit: 500 });
    id = own.items.find((m) => m.share_token === share)?.id;
  }
  if (id && (await openPoll(id))) return;
  page.meetingId = null;
  $("board").hidden = true;
}

async function openPoll(id) {
  try {
    await page.client.subscribe(`meeting:${id}`);
  } catch (err) {
    if (err.code === "not_found") return false;
    throw err;
  }
  page.meetingId = id;
  return load();
}

async function join(event) {
  event.preventDefault();
  const name = $("join-name").value.trim();
  if (!name) return;
  // A watching guest's op_ids are its connection's: re-sent on a new connection, a join
  // would make a second participant, so only a signed-in user's join is retried.
  const options = { retry: Boolean(page.user) };
  try {
    const data = { share_token: share, display_name: name };
    const joined = await page.client.send("meeting.join", data, options);
    const id = joined.meeting.id;
    local.set(LINK_KEY, id);
    if (joined.participant_token) local.set(guestKey(id), joined.participant_token);
    page.you = joined.participant.id;
    if (!page.people.has(page.you)) page.people.set(page.you, person(joined.participant));
    if (page.meetingId !== id && !(await openPoll(id))) return closePoll();
    render();
  } catch (err) {
    notice(`Could not join: ${err.message}`);
  }
}

function onClosed({ code, error, retrying }) {
  if (retrying || page.closed) return;
  if (code === 4401 && session.get(TOKEN_KEY)) {
    session.del(TOKEN_KEY);
    notice("Your sign-in was refused (it may have expired); you are a guest again.");
    return restart();
  }
  const known = local.get(LINK_KEY);
  if (code === 4401 && error?.code === "unauthorized" && known && local.get(guestKey(known))) {
    local.del(guestKey(known)); // removed from the poll, or the poll is gone: watch instead
    return restart();
  }
  if (code === 4401) return closePoll();
  closePoll("Disconnected", `The server closed the connection (${code}). Reload to try again.`);
}

function closePoll(title = null, text = null) {
  page.closed = true;
  page.client.stop();
  if (title) $("gone-title").textContent = title;
  if (text) $("gone-text").textContent = text;
  $("main").hidden = true;
  $("gone").hidden = false;
}

// ---- the poll's state -------------------------------------------------------------------

function person(p) {
  return {
    id: p.id, name: p.display_name, nameVersion: p.version, cellsVersion: p.version,
    available: new Set(p.available ?? []), if_need_be: new Set(p.if_need_be ?? []),
  };
}

async function load() {
  page.loads += 1;
  page.loading = true;
  let detail;
  try {
    detail = await page.client.send("meeting.get", { id: page.meetingId, tz: page.tz });
  } catch (err) {
    page.loading = false;
    if (err.code === "validation_error" && page.tz !== "UTC") {
      page.tz = "UTC"; // a zone this server does not know: show UTC rather than nothing
      return load();
    }
    if (err.code === "not_found") return false;
    throw err;
  }
  page.meeting = detail.meeting;
  page.days = detail.days;
  page.you = detail.you ?? page.you;
  page.people = new Map(detail.participants.map((p) => [p.id, person(p)]));
  page.loading = false;
  // Events that came while reading: versions keep whichever is newer.
  for (const event of page.queue.splice(0)) apply(event);
  showMeeting();
  render();
  scheduleResult();
  return true;
}

function reload() {
  load().then((found) => found || closePoll(), fail);
}

function onEvent(event) {
  if (!page.meetingId || event.topic !== `meeting:${page.meetingId}`) return;
  if (page.loading) return void page.queue.push(event);
  apply(event);
  if (!page.closed) {
    render();
    scheduleResult();
  }
}

function apply({ name, data }) {
  if (name === "meeting_participant.created" && !page.people.has(data.id)) {
    page.people.set(data.id, person(data));
  } else if (name === "meeting_participant.updated") {
    const p = page.people.get(data.id);
    if (p && data.version > p.nameVersion) Object.assign(p, { name: data.display_name, nameVersion: data.version });
  } else if (name === "meeting_participant.deleted") {
    page.people.delete(data.id);
    page.required.delete(data.id);
    if (data.id === page.you) leftPoll();
  } else if (name === "meeting_availability.updated") {
    applyCells(data);
  } else if (name === "meeting.updated") {
    clearTimeout(page.reloadTimer);
    page.reloadTimer = setTimeout(reload, 100); // the grid may have changed: read it again
  } else if (name === "meeting.deleted") {
    local.del(guestKey(data.id));
    local.del(LINK_KEY);
    closePoll("This poll was deleted", "Its owner deleted it, with everyone's answers.");
  }
}

function applyCells(data) {
  const p = page.people.get(data.participant_id);
  if (!p || data.version <= p.cellsVersion) return;
  if (data.participant_id === page.you && page.pendingOwn > 0) return; // newer paint on its way
  Object.assign(p, {
    available: new Set(data.available), if_need_be: new Set(data.if_need_be), cellsVersion: data.version,
  });
}

function leftPoll() {
  // Removed by the owner, or left in another tab: this browser is no longer a participant.
  page.you = null;
  if (!page.user) {
    local.del(guestKey(page.meetingId));
    restart();
  }
}

// ---- showing the poll -------------------------------------------------------------------

function showMeeting() {
  const m = page.meeting;
  document.title = `${m.title} · Meeting poll`;
  $("title").textContent = m.title;
  $("description").textContent = m.description;
  $("description").hidden = !m.description;
  const theirs = page.tz === m.timezone ? "" : ` (the poll's is ${m.timezone})`;
  $("zone").textContent = `Times are in your time zone, ${page.tz}${theirs}.`;
  $("zone").hidden = false;
  $("board").hidden = false;
  const duration = $("duration");
  duration.step = duration.min = String(m.time_slot_minutes);
  if (!duration.value) duration.value = String(m.time_slot_minutes * Math.ceil(60 / m.time_slot_minutes));
  grid.build(page.days, page.tz, m.time_slot_minutes);
}

function ownTier(start) {
  const me = page.people.get(page.you);
  if (!me) return null;
  if (me.available.has(start)) return "available";
  return me.if_need_be.has(start) ? "if_need_be" : null;
}

function tally() {
  const counts = new Map();
  for (const p of page.people.values()) {
    for (const tier of ["available", "if_need_be"]) {
      for (const start of p[tier]) {
        if (!counts.has(start)) counts.set(start, { available: [], if_need_be: [] });
        counts.get(start)[tier].push(p.name);
      }
    }
  }
  return counts;
}

function describe(count, total) {
  for (const names of [count.available, count.if_need_be]) names.sort((a, b) => a.localeCompare(b));
  const free = count.available.length;
  let text = `${free} of ${total} free${free ? `: ${count.available.join(", ")}` : ""}`;
  if (count.if_need_be.length) text += `; if need be: ${count.if_need_be.join(", ")}`;
  return text;
}

function render() {
  renderYou();
  renderPeople();
  renderViewers();
  const counts = tally();
  const total = page.people.size;
  const editable = page.people.has(page.you);
  for (const start of grid.buttons.keys()) {
    const count = counts.get(start) ?? { available: [], if_need_be: [] };
    const weight = count.available.length + count.if_need_be.length / 2;
    const mine = ownTier(start);
    const you = editable ? ` You: ${mine ? TIERS[mine] : "not free"}.` : "";
    const tip = describe(count, total);
    grid.show(start, {
      heat: total ? Math.ceil((5 * weight) / total) : 0,
      mine, editable, tip, label: `${grid.when(start)}. ${tip}.${you}`,
    });
  }
  grid.refreshDetail();
}

function renderYou() {
  const me = page.people.get(page.you);
  $("join").hidden = Boolean(me);
  $("me").hidden = !me;
  $("me-name").textContent = me ? me.name : "";
  $("grid").classList.toggle("readonly", !me);
}

function renderSignin() {
  $("signin-summary").textContent = page.user ? `Signed in as ${page.user.display_name}` : "Sign in instead";
  $("signin-form").hidden = Boolean(page.user);
  $("signout").hidden = !page.user;
}

function renderPeople() {
  const people = [...page.people.values()];
  const signature = JSON.stringify(people.map((p) => [p.id, p.name, p.id === page.you]));
  if (signature === page.peopleShown) return; // rebuilding would steal a checkbox's focus
  page.peopleShown = signature;
  const boxes = people.map((p) => {
    const box = el("input", { type: "checkbox", value: p.id });
    box.checked = page.required.has(p.id);
    return el("label", { class: "check" }, box, ` ${p.name}${p.id === page.you ? " (you)" : ""}`);
  });
  $("people-list").replaceChildren(...boxes);
  $("nobody").hidden = boxes.length > 0;
}

// ---- who is viewing -------------------------------------------------------------------------

// A presence frame may come before the event that adds its participant to the list: the
// last frame is kept and shown again whenever the list is rendered.
function onPresence(frame) {
  if (frame.topic !== `meeting:${page.meetingId}`) return;
  page.presence = frame;
  renderViewers();
}

function renderViewers() {
  const frame = page.presence;
  if (!frame || frame.topic !== `meeting:${page.meetingId}`) return;
  const names = frame.viewers.map((v) => {
    const who = v.participant_id && page.people.get(v.participant_id);
    if (v.connection === page.connection) return "you";
    return who ? who.name : "someone who has not joined";
  });
  const box = $("viewers");
  box.replaceChildren(el("p", {}, `Viewing now (${names.length}): ${names.join(", ")}`));
  box.hidden = false;
}

// ---- painting -----------------------------------------------------------------------------

function paint(cells, add) {
  const me = page.people.get(page.you);
  const tier = page.tier;
  const other = tier === "available" ? "if_need_be" : "available";
  for (const start of cells) {
    if (add) me[other].delete(start);
    if (add) me[tier].add(start);
    else me[tier].delete(start);
  }
  render();
  scheduleResult();
  sendOwn(me, tier);
}

async function sendOwn(me, tier) {
  // The whole tier, sorted: a later send carries every earlier change, so the last reply wins.
  const data = { participant_id: me.id, cells: [...me[tier]].sort(), tier };
  page.pendingOwn += 1;
  try {
    const reply = await page.client.send("meeting.availability.set", data);
    page.pendingOwn -= 1;
    if (page.pendingOwn === 0) applyCells(reply);
  } catch (err) {
    page.pendingOwn -= 1;
    notice(`Your change was not saved: ${err.message}`);
    if (!page.closed) reload();
  }
  if (!page.closed) render();
}

// ---- best windows -------------------------------------------------------------------------

function scheduleResult() {
  clearTimeout(page.resultTimer);
  $("windows").setAttribute("aria-busy", "true"); // until windows of the latest state are shown
  page.resultTimer = setTimeout(() => fetchResult().catch(fail), 250);
}

async function fetchResult() {
  page.resultTimer = null;
  if (!page.meeting || page.closed || !$("controls").checkValidity()) return;
  const seq = ++page.resultSeq;
  const data = {
    id: page.meeting.id,
    duration_minutes: Number($("duration").value),
    min_people: Number($("min-people").value),
    required: [...page.required].filter((id) => page.people.has(id)),
    tier: $("count-inb").checked ? "if_need_be" : "available",
  };
  const result = await page.client.send("meeting.result", data);
  if (seq !== page.resultSeq) return;
  renderWindows(result.windows);
  if (page.resultTimer === null) $("windows").setAttribute("aria-busy", "false");
}

function renderWindows(windows) {
  const name = (id) => page.people.get(id)?.name ?? "someone who left";
  const items = windows.map((w) => {
    const free = w.available.length + w.if_need_be.length;
    const day = fmt({ weekday: "short", day: "numeric", month: "short", timeZone: page.tz });
    const when = `${day.format(new Date(w.start))}, ${grid.time.format(new Date(w.start))}–${grid.time.format(new Date(w.end))}`;
    const details = [];
    if (w.missing.length) details.push(`Missing: ${w.missing.map(name).join(", ")}`);
    if (w.if_need_be.length) details.push(`If need be: ${w.if_need_be.map(name).join(", ")}`);
    const who = el("span", { class: "muted" }, ` · ${details.join(" · ") || "everyone can come"}`);
    return el("li", {}, el("strong", {}, when), el("span", { class: "count" }, `${free} of ${page.people.size} free`, who));
  });
  if (!items.length) items.push(el("li", { class: "empty" }, "No time suits these settings yet."));
  $("windows").replaceChildren(...items);
}

// ---- status and notices -------------------------------------------------------------------

function showStatus({ state, delayMs }) {
  const status = $("status");
  const waiting = page.pendingOwn ? " Your changes will be sent then." : "";
  const texts = {
    idle: "Connecting…",
    connecting: page.identified ? "Reconnecting…" : "Connecting…",
    ready: page.replayed ? `Live · caught up on ${page.replayed} change${page.replayed > 1 ? "s" : ""}` : "Live",
    waiting: `Offline · retrying in ${Math.ceil((delayMs ?? 0) / 1000)} s.${waiting}`,
    stopped: "Closed",
  };
  status.dataset.state = state;
  status.textContent = texts[state];
}

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = false;
}

function fail(err) {
  console.error(err);
  notice(`Something went wrong: ${err.message}`);
}

// ---- start ------------------------------------------------------------------------------

function wire() {
  $("join").addEventListener("submit", join);
  $("controls").addEventListener("input", scheduleResult);
  $("controls").addEventListener("submit", (event) => event.preventDefault());
  $("people").addEventListener("change", (event) => {
    if (event.target.checked) page.required.add(event.target.value);
    else page.required.delete(event.target.value);
  });
  for (const radio of document.querySelectorAll("input[name=tier]")) {
    radio.addEventListener("change", () => { page.tier = radio.value; });
  }
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    session.set(TOKEN_KEY, $("signin-token").value.trim());
    $("signin-token").value = "";
    restart();
  });
  $("signout").addEventListener("click", () => {
    session.del(TOKEN_KEY);
    restart();
  });
}

function connect() {
  const client = new Client({ auth: credentials });
  page.client = client;
  client.on("state", showStatus);
  client.on("ready", (ready) => onReady(ready).catch(fail));
  client.on("event", onEvent);
  client.on("presence", onPresence);
  client.on("reset", (topic) => topic === `meeting:${page.meetingId}` && reload());
  client.on("denied", (topic) => topic === `meeting:${page.meetingId}` && closePoll());
  client.on("closed", onClosed);
  // Back online: try now rather than at the end of the backoff.
  addEventListener("online", () => client.state === "waiting" && client.start());
  client.start();
}

takeFragmentToken();
wire();
connect();
