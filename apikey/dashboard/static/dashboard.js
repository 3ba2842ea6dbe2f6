// gatekey dashboard: the copy button of a new key. The page works without
// it: the key is in a read-only field that can be selected and copied.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById("copy-status");
    if (!field) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function (text) {
        if (status) {
          status.textContent = text;
        }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(function () {
          done("Copied");
        }, function () {
          field.select();
          done("Press Ctrl+C to copy");
        });
      } else {
        field.select();
        done(document.execCommand("copy") ? "Copied" : "Press Ctrl+C to copy");
      }
    });
  });
});
