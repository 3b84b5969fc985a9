// Coverage form: show the subscriber fields only when the patient is not the subscriber
// (relationship other than 18 "Self"; the 837P then carries the 2000C patient loop).
(function () {
  "use strict";
  function sync(form) {
    var select = form.querySelector('select[name="relationship"]');
    var block = form.querySelector("[data-subscriber-fields]");
    if (!select || !block) return;
    var self = select.value === "18";
    var hasErrors = block.querySelector(".field--error") !== null;
    block.hidden = self && !hasErrors;
  }
  document.querySelectorAll("form").forEach(function (form) {
    var select = form.querySelector('select[name="relationship"]');
    if (!select) return;
    sync(form);
    select.addEventListener("change", function () { sync(form); });
  });
})();
