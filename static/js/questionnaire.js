/* Tend: questionnaire item form (public link page and clinician entry). Loaded with `defer`
 * under `script-src 'self'` (no inline script). Progressive enhancement only: without it every
 * question shows and the server scores questions skipped by the skip logic as 0.
 *
 *  - skip logic: a fieldset with data-show-if-item="2" data-show-if-equals="1" is shown only
 *    while question 2 is answered with value 1 (C-SSRS items 3-5 and 6b). Hiding a question
 *    clears its answer, so a changed mind never leaves a stale hidden answer behind.
 *  - error summary: after a failed submit, focus moves to the summary (links jump to each item).
 *  - submit: the button is disabled after the first click (the server stores one response
 *    anyway; this only spares the patient a confusing second wait).
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-questionnaire]");
  if (!root) return;
  var form = root.closest("form");

  function answerOf(key) {
    var set = root.querySelector('fieldset[data-item-key="' + key + '"]');
    if (!set || set.hidden) return null;
    var checked = set.querySelector("input[type=radio]:checked");
    return checked ? checked.value : null;
  }

  function applySkipLogic() {
    var dependents = root.querySelectorAll("fieldset[data-show-if-item]");
    // Items depend only on earlier items, so one pass in document order settles chains.
    Array.prototype.forEach.call(dependents, function (set) {
      var show = answerOf(set.getAttribute("data-show-if-item")) === set.getAttribute("data-show-if-equals");
      set.hidden = !show;
      Array.prototype.forEach.call(set.querySelectorAll("input[type=radio]"), function (input) {
        input.disabled = !show;
        if (!show) input.checked = false;
      });
    });
  }

  root.addEventListener("change", function (event) {
    if (event.target && event.target.type === "radio") applySkipLogic();
  });
  applySkipLogic();

  var summary = document.querySelector("[data-q-errors]");
  if (summary) summary.focus();

  if (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("[data-q-submit]");
      if (button) {
        window.setTimeout(function () {
          button.disabled = true;
          button.textContent = "Sending…";
        }, 0);
      }
    });
  }
})();
