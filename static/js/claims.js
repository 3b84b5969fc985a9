// Claims queue: "select all" for the bulk-action checkboxes, and a confirmation before voiding.
(function () {
  "use strict";
  function init() {
    var all = document.querySelector("[data-select-all]");
    var boxes = Array.prototype.slice.call(document.querySelectorAll("[data-claim-check]"));
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
      });
      boxes.forEach(function (box) {
        box.addEventListener("change", function () {
          var checked = boxes.filter(function (b) { return b.checked; }).length;
          all.checked = checked === boxes.length;
          all.indeterminate = checked > 0 && checked < boxes.length;
        });
      });
    }
    var bulk = document.querySelector("[data-claim-bulk]");
    if (bulk) {
      bulk.addEventListener("submit", function (event) {
        var action = bulk.querySelector("select[name=action]");
        if (action && action.value === "void" && !window.confirm("Void the selected claims?")) {
          event.preventDefault();
        }
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
