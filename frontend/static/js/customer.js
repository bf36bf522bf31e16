// The customer page, live. live.js keeps the WebSocket to /ws/customer/<token>/
// (named by the page's <meta name="gigdesk-live-path">), reconnects with
// backoff and re-dispatches every server event on document as "gigdesk:<type>".
// The server renders every message (escaped, never internal notes); this file
// only asks htmx to fetch again the parts of the page that changed. Without it
// the page works by reloading and posting its forms.

import "./live.js";

const page = document.getElementById("customer-page");

const STATUS_LABELS = {
  queued: "Waiting for an agent",
  offered: "Waiting for an agent",
  claimed: "An agent is on it",
  resolved: "Resolved",
};
const CLOSED = new Set(["resolved", "escalated", "cancelled"]);
const LINK_INVALID = 4404;

function refresh(selector) {
  const el = document.querySelector(selector);
  if (el && window.htmx) window.htmx.trigger(el, "refresh");
}

function note(text) {
  const el = document.getElementById("live-note");
  if (!el) return;
  el.textContent = text;
  el.hidden = !text;
}

function on(type, handler) {
  document.addEventListener(`gigdesk:${type}`, (event) => handler(event.detail || {}));
}

if (page) {
  let status = page.dataset.status;
  let rated = page.dataset.rated === "true";

  const statusChanged = (next) => {
    if (!next || next === status) return;
    status = next;
    const label = document.querySelector("[data-status-label]");
    if (label && STATUS_LABELS[status]) label.textContent = STATUS_LABELS[status];
    // Only a closing changes what the customer can do (reply → rate); a claim
    // or a release must not wipe a reply they are typing.
    if (CLOSED.has(status)) refresh("#customer-state");
  };

  const ratedNow = () => {
    if (rated) return;
    rated = true;
    refresh("#customer-state");
  };

  // The first frame of every (re)connection: catch up on anything missed.
  on("snapshot", (event) => {
    refresh("#messages");
    const task = event.task || {};
    if (task.csat_score !== null && task.csat_score !== undefined) ratedNow();
    statusChanged(task.status);
  });
  on("message", () => refresh("#messages"));
  on("task.status", (event) => statusChanged(event.status));
  on("task.rated", ratedNow);
  on("connection", (event) => {
    if (event.state === "open") note("");
    else if (event.state === "closed" && event.code === LINK_INVALID) {
      note("This link is no longer valid. Reload the page to check.");
    } else if (event.state === "reconnecting" && event.retryInMs > 4000) {
      note("Reconnecting… reload the page to see new replies meanwhile.");
    }
  });
}
