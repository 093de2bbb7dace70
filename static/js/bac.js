// The baccalaureate form: the spécialités of the bac reform are asked only for the bac général obtained from 2021
// on (the form's data-reform-series and data-reform-year). Elsewhere their fieldset is hidden and disabled, so that
// its values are not sent (the server would refuse them). Without JavaScript the fields stay visible and optional,
// with a help text saying when to fill them. No inline script (CSP).
(function () {
  "use strict";
  var form = document.querySelector("form[data-reform-series]");
  var group = document.getElementById("bac-specialities");
  if (!form || !group) {
    return;
  }
  var series = form.querySelector("[name=series]");
  var year = form.querySelector("[name=year]");
  var codes = form.getAttribute("data-reform-series").split(" ");
  var firstYear = parseInt(form.getAttribute("data-reform-year"), 10);

  // A field the server refused stays in sight until the candidate fixes it.
  var refused = group.querySelector("[aria-invalid=true]") !== null;

  function update() {
    var typed = parseInt(year.value, 10);
    // A year not typed yet does not hide them: a bac général is most often a recent one.
    var asked = refused || (codes.indexOf(series.value) !== -1 && !(typed < firstYear));
    group.hidden = !asked;
    group.disabled = !asked;
  }

  series.addEventListener("change", update);
  year.addEventListener("input", update);
  update();
})();
