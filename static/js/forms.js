// Forms with errors: move the focus to the error summary so that it is read first (WCAG 3.3.1). Without
// JavaScript the summary is still the first thing in the form, with role="alert". No inline script (CSP).
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
})();
