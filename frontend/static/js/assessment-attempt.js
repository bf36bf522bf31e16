// The take page of an assessment attempt (assessments/agent/attempt.html).
//
// htmx saves each answer as it is given; this module only shows what is going
// on: the countdown, "Saving…" / "Saved" / error states, a lost connection
// (failed saves are sent again once it is back) and the end of time. The
// deadline itself is the server's: the countdown starts from the seconds the
// server had left when it rendered the page, and the server refuses any answer
// after the deadline, whatever this clock says.

const bar = document.getElementById("attempt");
const countdown = document.getElementById("countdown");
const timeUpNotice = document.getElementById("time-up");
const connection = document.getElementById("connection-status");
const submitForm = document.getElementById("submit-form");
const resultUrl = bar.dataset.resultUrl;

const ENDING_SECONDS = 5 * 60;
const REDIRECT_DELAY_MS = 3000;
const RETRY_MS = 10000;
const FLUSH_TIMEOUT_MS = 5000;

// Measured on the monotonic clock, so a changed system clock or a sleeping
// tab does not stretch the time left.
const deadline = performance.now() + Number(bar.dataset.secondsLeft || 0) * 1000;
let timeIsUp = false;

const unsaved = new Set(); // answer forms edited or failed since their last save
let inFlight = 0;

function formOf(element) {
  return element && element.closest ? element.closest(".answer-form") : null;
}

function statusOf(form) {
  return form.querySelector(".save-status");
}

function showStatus(form, className, text) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  statusOf(form).replaceChildren(span);
}

function clock(totalSeconds) {
  const seconds = Math.max(0, Math.ceil(totalSeconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

// --- The end of time ------------------------------------------------------------------

function timeUp(url = resultUrl) {
  if (timeIsUp) return;
  timeIsUp = true;
  countdown.textContent = "0:00";
  countdown.classList.add("ending");
  timeUpNotice.hidden = false;
  document.querySelectorAll(".answer-form input, .answer-form textarea, #submit-form button").forEach(
    (field) => {
      field.disabled = true;
    },
  );
  setTimeout(() => window.location.assign(url), REDIRECT_DELAY_MS);
}

function tick() {
  if (timeIsUp) return;
  const left = (deadline - performance.now()) / 1000;
  if (left <= 0) {
    timeUp();
    return;
  }
  countdown.textContent = clock(left);
  countdown.classList.toggle("ending", left <= ENDING_SECONDS);
  setTimeout(tick, 250);
}

// The server says the deadline passed (HX-Trigger on a refused save).
document.body.addEventListener("assessment-time-up", (event) => {
  timeUp((event.detail && event.detail.resultUrl) || resultUrl);
});

// --- Saving -----------------------------------------------------------------------------

// htmx leaves error responses unswapped; a refused answer's message belongs
// in the question's status line all the same.
document.body.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if (formOf(event.detail.elt) && (status === 400 || status === 409)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

document.body.addEventListener("input", (event) => {
  const form = formOf(event.target);
  if (form) unsaved.add(form);
});

document.body.addEventListener("htmx:beforeRequest", (event) => {
  const form = formOf(event.detail.elt);
  if (!form) return;
  inFlight += 1;
  unsaved.delete(form);
  showStatus(form, "save-pending", "Saving…");
});

document.body.addEventListener("htmx:afterRequest", (event) => {
  const form = formOf(event.detail.elt);
  if (!form) return;
  inFlight = Math.max(0, inFlight - 1);
  const status = event.detail.xhr ? event.detail.xhr.status : 0;
  // 0: aborted by a newer save of the same answer, or no connection (below).
  if (status === 0) return;
  if (status >= 500) {
    unsaved.add(form);
    showStatus(form, "save-error", "Not saved: the server had a problem. Trying again shortly.");
    return;
  }
  if (![...unsaved].some(failed)) {
    connection.replaceChildren();
    connection.className = "save-status";
  }
});

function lostConnection(event) {
  const form = formOf(event.detail.elt);
  if (!form) return;
  unsaved.add(form);
  showStatus(form, "save-error", "Not saved yet: no connection. It is sent again when you are back online.");
  connection.replaceChildren("Connection lost: your latest answers are not saved yet.");
  connection.className = "save-status save-error";
}

document.body.addEventListener("htmx:sendError", lostConnection);
document.body.addEventListener("htmx:timeout", lostConnection);

function failed(form) {
  return Boolean(statusOf(form).querySelector(".save-error"));
}

function resend() {
  if (timeIsUp || !window.htmx) return;
  unsaved.forEach((form) => window.htmx.trigger(form, "submit"));
}

window.addEventListener("online", resend);
setInterval(() => {
  // Only forms whose last save failed are sent again; plain edits save on their own.
  if ([...unsaved].some(failed)) resend();
}, RETRY_MS);

// --- Handing in -------------------------------------------------------------------------

function settled() {
  return new Promise((resolve) => {
    const started = performance.now();
    (function wait() {
      if (inFlight === 0 || performance.now() - started > FLUSH_TIMEOUT_MS) resolve();
      else setTimeout(wait, 100);
    })();
  });
}

let handingIn = false;
submitForm.addEventListener("submit", async (event) => {
  if (handingIn) return;
  event.preventDefault();
  if (!window.confirm(submitForm.dataset.confirm)) return;
  // Answers typed in the last moment are saved before the attempt closes.
  resend();
  await settled();
  handingIn = true;
  submitForm.submit();
});

// A page restored from the back/forward cache shows a stale clock: reload it.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) window.location.reload();
});

tick();
