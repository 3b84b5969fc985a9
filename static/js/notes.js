/* Tend: the note editor. Loaded with `defer` under `script-src 'self'` (no inline script).
 *
 *  - autosave: htmx posts the form (hx-trigger="input changed delay:2s, ...") and swaps in the
 *    server's status line. When the request fails (network drop, server error) this shows
 *    "Not saved — retrying" and re-sends with backoff (2, 4, 8 … 60 s). The text stays in the
 *    page: nothing is ever written to localStorage or sessionStorage (no PHI in browser storage).
 *  - unsaved changes: leaving the page while a save is pending or failed asks first.
 *  - duration: derived from start and end time as they are typed (past midnight allowed).
 *  - modality: shows the telehealth place of service or the location, as fits.
 *  - Enter in the signature field signs (instead of saving the draft).
 */
(function () {
  "use strict";

  var form = document.querySelector("form[data-autosave]");
  if (!form) return;
  var statusBox = document.querySelector("[data-autosave-status]");

  var RETRY_FIRST_MS = 2000;
  var RETRY_MAX_MS = 60000;
  var retryDelay = RETRY_FIRST_MS;
  var retryTimer = null;
  var dirty = false; // typed since the last successful save

  function showStatus(state, text) {
    if (!statusBox) return;
    statusBox.textContent = "";
    var span = document.createElement("span");
    span.className = "autosave autosave--" + state;
    span.setAttribute("data-autosave-state", state);
    span.textContent = text;
    statusBox.appendChild(span);
  }

  function scheduleRetry() {
    if (retryTimer) return;
    var seconds = Math.round(retryDelay / 1000);
    showStatus("error", "Not saved — retrying in " + seconds + " s. Your text is still here.");
    retryTimer = window.setTimeout(function () {
      retryTimer = null;
      showStatus("pending", "Not saved — retrying…");
      window.htmx.trigger(form, "tend:autosave-retry");
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
  }

  function resetRetry() {
    retryDelay = RETRY_FIRST_MS;
    if (retryTimer) {
      window.clearTimeout(retryTimer);
      retryTimer = null;
    }
  }

  function isOurForm(evt) {
    return evt.detail && evt.detail.elt === form;
  }

  form.addEventListener("input", function () {
    dirty = true;
  });
  form.addEventListener("change", function () {
    dirty = true;
  });

  document.body.addEventListener("htmx:beforeRequest", function (evt) {
    if (!isOurForm(evt)) return;
    if (!retryTimer) showStatus("pending", "Saving…");
  });

  // Only a real status fragment may replace the status line: a redirect to the sign-in page
  // (session ended) must not be swapped in, and must not be taken for a save.
  document.body.addEventListener("htmx:beforeSwap", function (evt) {
    if (!isOurForm(evt)) return;
    var xhr = evt.detail.xhr;
    var body = xhr.responseText || "";
    if (body.indexOf("data-autosave-state") === -1) {
      evt.detail.shouldSwap = false;
      if (xhr.status >= 500 || xhr.status === 0) {
        scheduleRetry();
      } else {
        showStatus("error", "Not saved — you may have been signed out. Copy your text, sign in again in another tab, then save.");
      }
      return;
    }
    if (xhr.status >= 400) {
      // 400/403/409 with our fragment: a refusal, not a network problem; show it, do not retry.
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
      resetRetry();
    }
  });

  document.body.addEventListener("htmx:afterSwap", function (evt) {
    if (!isOurForm(evt)) return;
    var state = statusBox && statusBox.querySelector("[data-autosave-state]");
    if (state && (state.dataset.autosaveState === "saved" || state.dataset.autosaveState === "unchanged")) {
      dirty = false;
      resetRetry();
    }
  });

  document.body.addEventListener("htmx:sendError", function (evt) {
    if (isOurForm(evt)) scheduleRetry();
  });
  document.body.addEventListener("htmx:timeout", function (evt) {
    if (isOurForm(evt)) scheduleRetry();
  });

  window.addEventListener("beforeunload", function (evt) {
    if (dirty && !form.dataset.submitting) {
      evt.preventDefault();
      evt.returnValue = "";
    }
  });
  form.addEventListener("submit", function () {
    form.dataset.submitting = "1"; // a real submit (Save draft / Sign) carries the text
  });

  // --- Signing: Enter in the credential field signs --------------------------------------------
  var credential = document.querySelector("[data-sign-credential]");
  var signButton = document.querySelector("[data-sign-button]");
  if (credential && signButton) {
    credential.addEventListener("keydown", function (evt) {
      if (evt.key === "Enter") {
        evt.preventDefault();
        signButton.click();
      }
    });
  }

  // --- Duration, derived from start and end ----------------------------------------------------
  var start = form.querySelector("[name=start_time]");
  var end = form.querySelector("[name=end_time]");
  var duration = document.querySelector("[data-duration]");

  function minutes(value) {
    var m = /^(\d{1,2}):(\d{2})/.exec(value || "");
    return m ? parseInt(m[1], 10) * 60 + parseInt(m[2], 10) : null;
  }

  function updateDuration() {
    if (!duration) return;
    var a = minutes(start && start.value);
    var b = minutes(end && end.value);
    if (a === null || b === null) {
      duration.textContent = "—";
      return;
    }
    var diff = b - a;
    if (diff <= 0) diff += 24 * 60; // past midnight
    duration.textContent = diff + " min";
  }

  if (start && end) {
    start.addEventListener("input", updateDuration);
    end.addEventListener("input", updateDuration);
  }

  // --- Modality: telehealth place of service or location ---------------------------------------
  var modality = form.querySelector("[name=modality]");
  function updateModality() {
    if (!modality) return;
    form.querySelectorAll("[data-when-modality]").forEach(function (el) {
      el.hidden = el.dataset.whenModality !== modality.value;
    });
  }
  if (modality) {
    modality.addEventListener("change", updateModality);
    updateModality();
  }
})();
