// Forms with errors: move the focus to the error summary so that it is read first (WCAG 3.3.1). Without
// JavaScript the summary is still the first thing in the form, with role="alert". No inline script (CSP).
//
// A form sent once ignores further submits until its answer replaces the page: on a slow line a second tap posted
// it again, and the page shown was the second answer's ("already done") instead of the first's. Its submit buttons
// say so (aria-disabled; not disabled, which would drop the tapped button's name from the data sent). A submit that
// another script cancelled (a "no" to a confirmation, an upload the script sends itself) is not a sending: the form
// is marked only once the event has been through every listener and nobody prevented it. A form that came back
// with errors is a new page, sent freely; a page shown again from the back-forward cache is released (pageshow).
// Only forms sent by POST in this window (a form opening another window leaves this page as it is).
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }

  var SENT = "data-sent";

  function submitButtons(form) {
    return Array.prototype.filter.call(form.elements, function (element) {
      return element.type === "submit" || element.type === "image";
    });
  }

  function guarded(form, submitter) {
    var target = (submitter && submitter.getAttribute("formtarget")) || form.getAttribute("target") || "_self";
    var method = (submitter && submitter.getAttribute("formmethod")) || form.getAttribute("method") || "get";
    return method.toLowerCase() === "post" && target === "_self";
  }

  function release(form) {
    form.removeAttribute(SENT);
    submitButtons(form).forEach(function (button) {
      button.removeAttribute("aria-disabled");
    });
  }

  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || !guarded(form, event.submitter)) {
        return;
      }
      if (form.hasAttribute(SENT)) {
        event.preventDefault();
        event.stopImmediatePropagation(); // nor asked again, nor sent by another script
        return;
      }
      window.setTimeout(function () {
        if (!event.defaultPrevented) {
          form.setAttribute(SENT, "");
          submitButtons(form).forEach(function (button) {
            button.setAttribute("aria-disabled", "true");
          });
        }
      }, 0);
    },
    true
  );

  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      Array.prototype.forEach.call(document.querySelectorAll("form[" + SENT + "]"), release);
    }
  });
})();
