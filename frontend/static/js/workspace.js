// The agent workspace, live: billable-time timers and updates from the events
// live.js dispatches on document ("gigdesk:<type>", detail = the server event).
// live.js also sends the heartbeats that keep the leases and the billing going.
// Without a connection the page still works through its forms; the timers then
// stop once the grace period has passed, which is when the server stops billing.

import "./live.js";

const workspace = document.getElementById("workspace");
const currentTaskId = workspace ? Number(workspace.dataset.taskId) : null;

// --- Timers ------------------------------------------------------------------------------
// One state per task: the server's billable seconds and when we learnt them.
// Between heartbeat answers the clock runs on locally; a heartbeat answer (or a
// snapshot) resets it to the server's figure.

const timers = new Map();

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

function timerFor(taskId) {
  let state = timers.get(taskId);
  if (!state) {
    state = { seconds: 0, at: performance.now(), running: false, grace: 60, cap: 0 };
    timers.set(taskId, state);
  }
  return state;
}

function adoptTimers(root) {
  // Elements rendered by the server carry its figure as of the render.
  root.querySelectorAll("[data-timer]").forEach((el) => {
    const state = timerFor(Number(el.dataset.taskId));
    state.seconds = Number(el.dataset.seconds) || 0;
    state.at = performance.now();
    state.running = el.dataset.running === "true";
    state.grace = Number(el.dataset.grace) || 60;
    state.cap = Number(el.dataset.cap) || 0;
  });
  render();
}

function serverSays(taskId, seconds) {
  const state = timerFor(taskId);
  state.seconds = seconds;
  state.at = performance.now();
  state.running = !state.cap || seconds < state.cap;
}

function stop(taskId) {
  const state = timers.get(taskId);
  if (state && state.running) {
    state.seconds = shown(state);
    state.running = false;
  }
}

function shown(state) {
  if (!state.running) return state.seconds;
  const elapsed = (performance.now() - state.at) / 1000;
  const value = state.seconds + elapsed;
  return state.cap ? Math.min(value, state.cap) : value;
}

function render() {
  const now = performance.now();
  for (const [taskId, state] of timers) {
    if (state.running && now - state.at > state.grace * 1000) {
      // No heartbeat answer for the grace period: the server stopped billing
      // at the last heartbeat, which is the figure we last heard.
      state.running = false;
    }
    if (state.running && state.cap && shown(state) >= state.cap) {
      state.seconds = state.cap;
      state.running = false;
    }
    document.querySelectorAll(`[data-timer][data-task-id="${taskId}"]`).forEach((el) => {
      el.textContent = clock(shown(state));
      el.classList.toggle("timer-stopped", !state.running);
      el.title = state.running ? "Billing" : "Not billing: no heartbeat from your workspace";
    });
  }
}

adoptTimers(document);
setInterval(render, 1000);
document.body.addEventListener("htmx:afterSettle", (event) => adoptTimers(event.target));

// --- Live events -----------------------------------------------------------------------

function refresh(selector) {
  const el = document.querySelector(selector);
  if (el && window.htmx) window.htmx.trigger(el, "refresh");
}

function refreshHeldTasks() {
  refresh("#work-tabs");
  refresh("#held-tasks");
}

// A form that leaves the page (resolve, escalate, release) is under way: its
// own events must not reload the page in the middle of that navigation.
let leaving = false;
document.addEventListener("submit", (event) => {
  if (!event.target.hasAttribute("hx-post")) leaving = true;
});

function reloadPage() {
  if (!leaving) window.location.reload();
}

function on(type, handler) {
  document.addEventListener(`gigdesk:${type}`, (event) => handler(event.detail || {}));
}

on("heartbeat.ack", (event) => {
  const billable = event.billable_seconds || {};
  for (const taskId of timers.keys()) {
    if (String(taskId) in billable) serverSays(taskId, billable[taskId]);
    else stop(taskId); // not held any more, or its lease ran out
  }
  render();
});

on("snapshot", (event) => {
  const held = new Map((event.held || []).map((task) => [task.id, task]));
  for (const taskId of timers.keys()) {
    const task = held.get(taskId);
    if (task && task.billable_seconds !== undefined) serverSays(taskId, task.billable_seconds);
    else if (!task) stop(taskId);
  }
  render();
  if (currentTaskId && !held.has(currentTaskId)) {
    reloadPage(); // the page explains what happened to it
    return;
  }
  // After a reconnect: catch up on anything missed while disconnected.
  refresh("#conversation");
  refreshHeldTasks();
});

on("message", (event) => {
  if (event.task_id === currentTaskId) {
    refresh("#conversation");
    return;
  }
  document
    .querySelectorAll(`[data-tab-task="${event.task_id}"] .new-dot`)
    .forEach((dot) => dot.removeAttribute("hidden"));
});

on("task.held", refreshHeldTasks);

on("task.lost", (event) => {
  stop(event.task_id);
  render();
  if (event.task_id === currentTaskId) reloadPage();
  else refreshHeldTasks();
});

on("task.status", (event) => {
  if (event.status === "claimed") return;
  stop(event.task_id);
  render();
  if (event.task_id === currentTaskId) reloadPage();
  else refreshHeldTasks();
});
