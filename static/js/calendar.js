/* Tend scheduling pages. Loaded with `defer` under `script-src 'self'` (no inline script).
 *
 *  - [data-autosubmit] inputs/selects submit their form on change (calendar date, filters)
 *  - [data-dialog-open="id"] opens <dialog id="id">; [data-dialog-close] closes it;
 *    a dialog with [data-open-on-load] opens at once (a form came back with errors)
 *  - booking form: an open slot button [data-pick-slot] fills the date and time fields;
 *    a ticked patient moves from the search results to "Booking for";
 *    the recurrence fields show only when a repeat is chosen
 */
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  function openDialog(dialog) {
    if (!dialog) return;
    if (typeof dialog.showModal === "function") {
      if (!dialog.open) dialog.showModal();
    } else {
      dialog.setAttribute("open", "");
    }
    var first = dialog.querySelector("input:not([type=hidden]), select, textarea");
    if (first) first.focus();
  }

  function toggleRepeat(form) {
    var repeat = form.querySelector("#id_repeat");
    if (!repeat) return;
    var on = repeat.value !== "none";
    var endSel = form.querySelector("#id_repeat_end");
    var byCount = !endSel || endSel.value !== "until";
    [["#id_repeat_end", on], ["#id_count", on && byCount], ["#id_until", on && !byCount]].forEach(function (pair) {
      var el = form.querySelector(pair[0]);
      var field = el && el.closest(".field");
      if (field) field.hidden = !pair[1];
    });
  }

  onReady(function () {
    document.addEventListener("change", function (event) {
      var el = event.target;
      if (el.matches && el.matches("[data-autosubmit]") && el.form) el.form.submit();
      if (el.id === "id_repeat" || el.id === "id_repeat_end") toggleRepeat(el.form);
      // A ticked search result moves to "Booking for", so a new search keeps it (group sessions).
      if (el.name === "patient" && el.checked && el.closest("#patient-choices")) {
        var chosen = document.getElementById("patient-selected");
        var label = el.closest("label");
        if (chosen && label && !chosen.querySelector("input[value='" + el.value + "']")) {
          chosen.appendChild(label);
          chosen.hidden = false;
        }
      }
    });

    document.addEventListener("click", function (event) {
      var opener = event.target.closest("[data-dialog-open]");
      if (opener) {
        openDialog(document.getElementById(opener.getAttribute("data-dialog-open")));
        return;
      }
      var closer = event.target.closest("[data-dialog-close]");
      if (closer) {
        var dialog = closer.closest("dialog");
        if (dialog) dialog.close();
        return;
      }
      var pick = event.target.closest("[data-pick-slot]");
      if (pick) {
        var day = document.getElementById("id_day");
        var time = document.getElementById("id_start_time");
        if (day) day.value = pick.getAttribute("data-day");
        if (time) time.value = pick.getAttribute("data-time");
        document.querySelectorAll("[data-pick-slot][aria-pressed]").forEach(function (b) {
          b.removeAttribute("aria-pressed");
        });
        pick.setAttribute("aria-pressed", "true");
      }
    });

    document.querySelectorAll("dialog[data-open-on-load]").forEach(openDialog);
    var booking = document.getElementById("booking-form");
    if (booking) toggleRepeat(booking);
  });
})();
