// The agent's live queue page (frontend/templates/agent/queue.html): offers
// with Claim and Pass, held tasks with their workspace links, presence, and
// the connection's state. Every change arrives from live.js; a snapshot
// replaces the whole view, events adjust it by task id.

import { send } from "./live.js";

const $ = (id) => document.getElementById(id);
const offersList = $("offers");
const heldList = $("held");
const notice = $("queue-notice");
const statusLabel = $("live-status");
const presenceLabel = $("presence-label");
const presenceToggle = $("presence-toggle");

const offers = new Map(); // task id -> {task, element}
const held = new Map(); // task id -> {task, element, billableSeconds, countedAt}
const pendingClaims = new Map(); // ref -> task id
const pendingPasses = new Map(); // ref -> task id
let presence = null;
let presenceRequest = null;
let clockSkewMs = 0; // server clock minus ours

const PRIORITY = { 10: "Low", 20: "Normal", 30: "High", 40: "Urgent" };
const PRESENCE = {
  online: "online",
  paused: "paused",
  away: "away (you missed offers)",
  offline: "offline",
};
const languageNames = new Intl.DisplayNames(["en"], { type: "language" });

// --- Formatting ---------------------------------------------------------------------

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function languageName(code) {
  try {
    return languageNames.of(code) || code;
  } catch {
    return code;
  }
}

function payLabel(gig) {
  let amount;
  try {
    const format = new Intl.NumberFormat(undefined, { style: "currency", currency: gig.currency });
    const digits = format.resolvedOptions().maximumFractionDigits;
    amount = format.format(gig.rate_minor / 10 ** digits);
  } catch {
    amount = `${gig.rate_minor} ${gig.currency} (minor units)`;
  }
  return `${amount} per ${gig.pay_model === "per_minute" ? "minute" : "resolution"}`;
}

function duration(totalSeconds) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function secondsUntil(iso) {
  return (Date.parse(iso) - (Date.now() + clockSkewMs)) / 1000;
}

function workspaceUrl(task) {
  return task.workspace_url || `/agent/work/${task.id}/`;
}

function showNotice(text, kind = "", link = null) {
  notice.replaceChildren(text);
  if (link) {
    notice.append(" ");
    const anchor = element("a", "", link.label);
    anchor.href = link.href;
    notice.append(anchor);
  }
  notice.className = `flash${kind ? ` flash-${kind}` : ""}`;
  notice.hidden = false;
}

// --- Offers ---------------------------------------------------------------------------

function renderOffer(task) {
  const item = element("li");
  item.dataset.taskId = task.id;
  item.append(element("h3", "offer-title", task.subject));
  const meta = element("div", "offer-meta");
  const priority = PRIORITY[task.priority] || String(task.priority);
  meta.append(
    element("span", "", task.brand.name),
    element("span", "", task.gig.title),
    element("span", "", languageName(task.language)),
    element("span", `priority-${priority.toLowerCase()}`, `${priority} priority`),
    element("span", "", payLabel(task.gig)),
  );
  if (task.status === "offered" && task.reservation_expires_at) {
    const countdown = element("span", "countdown");
    countdown.dataset.expiresAt = task.reservation_expires_at;
    countdown.title = "Reserved for you until then";
    meta.append(countdown);
  }
  item.append(meta);
  const actions = element("div", "offer-actions");
  const claim = element("button", "", "Claim");
  claim.type = "button";
  claim.addEventListener("click", () => {
    setBusy(item, true);
    pendingClaims.set(send("claim", { task_id: task.id }), task.id);
  });
  const pass = element("button", "secondary outline", "Pass");
  pass.type = "button";
  pass.addEventListener("click", () => {
    setBusy(item, true);
    pendingPasses.set(send("reject", { task_id: task.id }), task.id);
  });
  actions.append(claim, pass);
  item.append(actions);
  return item;
}

function setBusy(item, busy) {
  for (const button of item.querySelectorAll("button")) button.disabled = busy;
  if (busy) item.querySelector(".offer-error")?.remove();
}

function addOffer(task) {
  if (held.has(task.id)) return;
  const previous = offers.get(task.id);
  const item = renderOffer(task);
  if (previous) previous.element.replaceWith(item);
  else offersList.append(item);
  offers.set(task.id, { task, element: item });
}

function removeOffer(taskId) {
  const offer = offers.get(taskId);
  if (!offer) return;
  offer.element.remove();
  offers.delete(taskId);
}

// --- Held tasks ---------------------------------------------------------------------------

function renderHeld(task) {
  const item = element("li");
  item.dataset.taskId = task.id;
  item.append(element("h3", "held-title", task.subject));
  const meta = element("div", "held-meta");
  const time = element("span", "held-time");
  meta.append(element("span", "", task.brand.name), element("span", "", task.gig.title), time);
  item.append(meta);
  const open = element("a", "", "Open workspace");
  open.href = workspaceUrl(task);
  open.setAttribute("role", "button");
  item.append(open);
  return item;
}

function addHeld(task, billableSeconds = 0) {
  removeOffer(task.id);
  const previous = held.get(task.id);
  const item = renderHeld(task);
  if (previous) previous.element.replaceWith(item);
  else heldList.append(item);
  held.set(task.id, { task, element: item, billableSeconds, countedAt: Date.now() });
  return item;
}

function removeHeld(taskId) {
  const entry = held.get(taskId);
  if (!entry) return;
  entry.element.remove();
  held.delete(taskId);
}

// --- The whole view -------------------------------------------------------------------

function setPresence(status) {
  presence = status;
  presenceLabel.textContent = PRESENCE[status] || status;
  presenceToggle.textContent = status === "online" ? "Pause" : "Go online";
  presenceToggle.disabled = false;
}

function refresh() {
  $("offers-count").textContent = offers.size;
  $("held-count").textContent = held.size;
  $("held-empty").hidden = held.size > 0;
  const empty = $("offers-empty");
  empty.hidden = offers.size > 0;
  if (presence && presence !== "online") {
    empty.textContent = "You are not online, so no work is offered to you. Go online to receive work.";
  } else {
    empty.textContent = "Nothing is offered to you right now. New work appears here the moment it arrives.";
  }
}

function tick() {
  for (const countdown of offersList.querySelectorAll(".countdown")) {
    const left = secondsUntil(countdown.dataset.expiresAt);
    countdown.textContent = left > 0 ? `${duration(left)} left to accept` : "Reservation ended";
  }
  for (const entry of held.values()) {
    const seconds = entry.billableSeconds + (Date.now() - entry.countedAt) / 1000;
    entry.element.querySelector(".held-time").textContent = `${duration(seconds)} worked`;
  }
}

function on(type, handler) {
  document.addEventListener(`gigdesk:${type}`, (event) => {
    handler(event.detail);
    refresh();
    tick();
  });
}

on("snapshot", (snapshot) => {
  clockSkewMs = Date.parse(snapshot.server_time) - Date.now();
  offers.clear();
  held.clear();
  offersList.replaceChildren();
  heldList.replaceChildren();
  offersList.classList.remove("stale");
  heldList.classList.remove("stale");
  for (const task of snapshot.held) addHeld(task, task.billable_seconds);
  for (const task of snapshot.offers) addOffer(task);
  setPresence(snapshot.presence);
  if (presenceRequest && snapshot.ref === presenceRequest) presenceRequest = null;
});

on("offer", (event) => addOffer(event.task));

on("withdraw", (event) => {
  // A refused claim is followed by the withdraw when the offer is gone: keep
  // the reason in view once the card goes.
  const refusal = offers.get(event.task_id)?.element.querySelector(".offer-error");
  if (refusal) showNotice(refusal.textContent, "warning");
  removeOffer(event.task_id);
  if (event.ref) pendingPasses.delete(event.ref);
});

on("claim.result", (result) => {
  pendingClaims.delete(result.ref);
  const item = addHeld(result.task);
  item.classList.add("just-claimed");
  showNotice(`You have “${result.task.subject}”.`, "success", {
    href: result.workspace_url,
    label: "Open the workspace",
  });
});

on("task.held", (event) => addHeld(event.task));
on("task.lost", (event) => {
  const entry = held.get(event.task_id);
  removeHeld(event.task_id);
  if (entry && event.reason === "lease_expired") {
    showNotice(`“${entry.task.subject}” went back to the queue: your page was silent too long.`, "warning");
  }
});
on("task.status", (event) => {
  if (event.status !== "claimed") removeHeld(event.task_id);
});

on("presence", (event) => {
  const wasOnline = presence === "online";
  setPresence(event.status);
  if (event.status === "away") {
    showNotice("You were set to away after missing offers. Go online when you are back.", "warning");
  }
  // Gone online elsewhere (another tab): what may be offered has changed.
  if (event.status === "online" && !wasOnline && !presenceRequest) send("sync");
});

on("heartbeat.ack", (ack) => {
  clockSkewMs = Date.parse(ack.server_time) - Date.now();
  for (const [taskId, seconds] of Object.entries(ack.billable_seconds)) {
    const entry = held.get(Number(taskId));
    if (entry) Object.assign(entry, { billableSeconds: seconds, countedAt: Date.now() });
  }
  if (ack.presence !== presence) setPresence(ack.presence);
});

on("error", (error) => {
  const claimed = pendingClaims.get(error.ref);
  const passed = pendingPasses.get(error.ref);
  pendingClaims.delete(error.ref);
  pendingPasses.delete(error.ref);
  if (error.ref && error.ref === presenceRequest) {
    presenceRequest = null;
    presenceToggle.disabled = false;
  }
  const offer = offers.get(claimed ?? passed);
  if (offer) {
    setBusy(offer.element, false);
    offer.element.append(element("p", "offer-error", error.message));
    return;
  }
  if (error.code === "session_ended" || error.code === "not_authenticated") {
    showNotice(error.message, "error", { href: location.pathname, label: "Log in again" });
    return;
  }
  showNotice(error.message, "error");
});

on("connection", ({ state, retryInMs }) => {
  statusLabel.dataset.state = state;
  if (state === "open") {
    statusLabel.textContent = "Live";
  } else if (state === "reconnecting") {
    statusLabel.textContent = `Reconnecting… (next try in ${Math.ceil(retryInMs / 1000)} s)`;
    // What is shown may be out of date until the next snapshot.
    offersList.classList.add("stale");
    heldList.classList.add("stale");
    presenceToggle.disabled = true;
  } else if (state === "closed") {
    statusLabel.textContent = "Disconnected: log in again to see your queue";
    presenceToggle.disabled = true;
  } else {
    statusLabel.textContent = "Connecting…";
  }
});

presenceToggle.addEventListener("click", () => {
  presenceToggle.disabled = true;
  presenceRequest = send(presence === "online" ? "pause" : "resume");
});

setInterval(tick, 1000);
refresh();
