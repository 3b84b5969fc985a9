/* Tend patients: picking an ICD-10-CM code from the search results fills the diagnosis form
 * instead of reloading the page (the link still works without JS: it reloads with ?code=). */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-pick-code]");
    if (!link) return;
    var input = document.getElementById("id_code");
    if (!input) return;
    event.preventDefault();
    input.value = link.dataset.pickCode;
    var description = document.querySelector("[data-picked-description]");
    if (description) description.textContent = link.dataset.pickDescription || "";
    input.focus();
  });
})();
