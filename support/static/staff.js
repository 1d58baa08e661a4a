// Staff ticket page: a canned answer chosen from the list is put into the answer box.
(function () {
  "use strict";
  var picker = document.getElementById("canned-picker");
  var target = document.getElementById("body");
  if (!picker || !target) {
    return;
  }
  picker.addEventListener("change", function () {
    var option = picker.options[picker.selectedIndex];
    var text = option ? option.getAttribute("data-body") : "";
    if (text) {
      target.value = target.value ? target.value.replace(/\s*$/, "\n\n") + text : text;
      target.focus();
    }
    picker.selectedIndex = 0;
  });
})();
