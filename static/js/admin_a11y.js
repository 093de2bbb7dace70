// The back office: names for the widgets Django's admin draws in JavaScript, which axe-core (RGAA 11.1, 7.1) finds
// nameless. Loaded on every admin page (templates/admin/base_site.html); the widgets are drawn after this script
// runs (Select2 on jQuery's ready, the horizontal filter on load, both again for each inline row added), so it
// watches the page and fixes each widget as it appears. Without JavaScript neither widget exists: the plain
// <select> keeps its <label>. It also moves the focus to an operation form's error summary (below).
(function () {
  "use strict";

  // Select2 names its combobox by the text of the chosen option only (nothing when none is chosen): name it by
  // the field's <label> first, then the chosen option. The chosen option's text is no read-only text box of its
  // own (a nameless one when nothing is chosen): plain text inside the combobox.
  function nameSelect2(selection) {
    var rendered = selection.querySelector(".select2-selection__rendered");
    var select = selection.closest(".select2-container");
    select = select && select.previousElementSibling;
    if (!rendered || !select || select.tagName !== "SELECT" || !select.id) {
      return;
    }
    var label = document.querySelector('label[for="' + select.id + '"]');
    if (!label) {
      return;
    }
    if (!label.id) {
      label.id = select.id + "_label";
    }
    selection.setAttribute("aria-labelledby", label.id + " " + rendered.id);
    rendered.removeAttribute("role");
    rendered.removeAttribute("aria-readonly");
  }

  // The horizontal filter's magnifier is a <span> with an aria-label, which ARIA forbids on an element without a
  // role: it is the image that names the filter's text box, so say so.
  function nameFilterIcon(icon) {
    icon.setAttribute("role", "img");
  }

  // Django's date and time inputs: the time zone warning its calendar script adds beside them (only when the
  // browser's time zone is not the server's) describes them once it exists (ecandidat/admin_inputs.py).
  function describeByWarning(input) {
    var warning = input.getAttribute("data-timezone-warning");
    var ids = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (document.getElementById(warning) && ids.indexOf(warning) === -1) {
      input.setAttribute("aria-describedby", ids.concat(warning).join(" "));
    }
  }

  function fix(root) {
    if (root.nodeType !== 1) {
      return;
    }
    if (root.querySelector(".timezonewarning")) {
      document.querySelectorAll("[data-timezone-warning]").forEach(describeByWarning);
    }
    root.querySelectorAll('.select2-selection[role="combobox"]').forEach(nameSelect2);
    root.querySelectorAll(".search-label-icon[aria-label]:not([role])").forEach(nameFilterIcon);
  }

  // An open Select2: ARIA 1.2 has a combobox name the list it controls (Select2 says only aria-owns), and the
  // search box in the list is named by the field's label too.
  function followOpening(selection) {
    var results = selection.getAttribute("aria-owns");
    if (!results) {
      selection.removeAttribute("aria-controls");
      return;
    }
    selection.setAttribute("aria-controls", results);
    var search = document.querySelector('.select2-search__field[aria-controls="' + results + '"]');
    var label = (selection.getAttribute("aria-labelledby") || "").split(" ")[0];
    if (search && label && document.getElementById(label)) {
      search.setAttribute("aria-labelledby", label);
    }
  }

  // An operation's form sent back with errors (includes/operation_form.html: « Saisir un avis » on its own page, on
  // the dossier's, the bulk one): its error summary first, as the candidates' forms do (static/js/forms.js), so that
  // it is read and its links lead to the fields in error (RGAA 11.10). The script is deferred: the page is parsed.
  var errors = document.getElementById("operation-errors");
  if (errors) {
    errors.focus();
  }

  fix(document.documentElement);
  new MutationObserver(function (mutations) {
    mutations.forEach(function (mutation) {
      if (mutation.type === "attributes") {
        followOpening(mutation.target);
        return;
      }
      mutation.addedNodes.forEach(function (node) {
        if (node.nodeType === 1 && node.parentElement) {
          fix(node.parentElement);
        }
      });
    });
  }).observe(document.documentElement, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["aria-owns"],
  });
})();
