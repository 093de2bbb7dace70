// The back office: names for the widgets Django's admin draws in JavaScript, which axe-core (RGAA 11.1, 7.1) finds
// nameless. Loaded on every admin page (templates/admin/base_site.html); the widgets are drawn after this script
// runs (Select2 on jQuery's ready, the horizontal filter on load, both again for each inline row added), so it
// watches the page and fixes each widget as it appears. Without JavaScript neither widget exists: the plain
// <select> keeps its <label>.
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

  function fix(root) {
    if (root.nodeType !== 1) {
      return;
    }
    root.querySelectorAll('.select2-selection[role="combobox"]').forEach(nameSelect2);
    root.querySelectorAll(".search-label-icon[aria-label]:not([role])").forEach(nameFilterIcon);
  }

  fix(document.documentElement);
  new MutationObserver(function (mutations) {
    mutations.forEach(function (mutation) {
      mutation.addedNodes.forEach(function (node) {
        if (node.nodeType === 1 && node.parentElement) {
          fix(node.parentElement);
        }
      });
    });
  }).observe(document.documentElement, { childList: true, subtree: true });
})();
