// Progressive enhancement only: every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Move focus to a form's error summary so screen-reader users hear what went wrong at once.
  var summary = document.querySelector("[data-autofocus]");
  if (summary) {
    summary.focus();
  }
});

document.addEventListener("DOMContentLoaded", function () {
  // A print button where a page offers one; without scripts the browser's own print menu does the same.
  var button = document.querySelector("[data-print]");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  }
});
