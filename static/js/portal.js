// Progressive enhancement only: every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Move focus to a form's error summary so screen-reader users hear what went wrong at once.
  var summary = document.querySelector("[data-autofocus]");
  if (summary) {
    summary.focus();
  }
});
