/* "Saisir un avis" (applications/admin/forms.py, DecisionForm): only the fields of the chosen kind of avis are shown:
   the reason for an unfavourable decision, the rank for a complementary list, date, time and place for a
   preselection. Each such input says its kind (data-shown-for), each decision type its own (data-avis). Without this
   script every field is shown, and the form ignores what belongs to another kind. */
(function () {
  "use strict";

  function start() {
    var select = document.querySelector('select[name="decision_type"]');
    if (!select) {
      return;
    }
    var inputs = Array.prototype.slice.call(document.querySelectorAll("[data-shown-for]"));

    function update() {
      var option = select.options[select.selectedIndex];
      var avis = option ? option.getAttribute("data-avis") : null;
      inputs.forEach(function (input) {
        var row = input.closest(".form-row") || input.parentNode;
        var shown = avis !== null && input.getAttribute("data-shown-for") === avis;
        row.style.display = shown ? "" : "none";
      });
    }

    select.addEventListener("change", update);
    update();
  }

  // Loaded in the page's head (the form's media): wait for the form.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
