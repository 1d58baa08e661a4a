/*
 * The key confirms a reorder request as it is saved. Once the quantities, comment or
 * address are edited on the page, the confirm button waits for "Save and recalculate",
 * so that nobody approves one thing while looking at another.
 */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-reorder-edit]");
    var button = document.getElementById("confirm-reorder");
    var hint = document.getElementById("save-first");
    if (!form || !button) return;
    function edited() {
      button.disabled = true;
      if (hint) hint.hidden = false;
    }
    form.addEventListener("input", edited);
    form.addEventListener("change", edited);
  });
})();
