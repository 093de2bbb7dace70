// Upload progress for the pieces table (progressive enhancement): without JavaScript the form posts normally.
// Loaded with <script src defer>; no inline script (CSP).
(function () {
  "use strict";
  if (!window.XMLHttpRequest || !window.FormData) {
    return;
  }
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var input = form.querySelector("input[type=file]");
      if (!input || !input.files || input.files.length === 0) {
        return; // Let the browser say the field is required.
      }
      event.preventDefault();
      var progress = form.querySelector("progress");
      var buttons = form.querySelectorAll("button");
      buttons.forEach(function (button) { button.disabled = true; });
      if (progress) {
        progress.hidden = false;
        progress.value = 0;
      }
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("X-Upload-Progress", "1");
      request.upload.addEventListener("progress", function (e) {
        if (progress && e.lengthComputable) {
          progress.value = Math.round((e.loaded / e.total) * 100);
        }
      });
      request.addEventListener("load", function () {
        // The server answers {"location": recap page}; its messages are read when that page opens.
        var location = window.location.href;
        try {
          location = JSON.parse(request.responseText).location || location;
        } catch (ignored) {
          // Not JSON (e.g. a proxy's error page): reload the current page.
        }
        var target = new URL(location, window.location.href);
        var here = new URL(window.location.href);
        if (target.pathname === here.pathname && target.search === here.search) {
          // Same page: changing only the fragment would not reload it, and the table would look unchanged.
          window.location.hash = target.hash;
          window.location.reload();
        } else {
          window.location.assign(target.href);
        }
      });
      request.addEventListener("error", function () {
        // Network failure: fall back to the ordinary form post, which shows the browser's own error.
        buttons.forEach(function (button) { button.disabled = false; });
        form.submit();
      });
      request.send(new FormData(form));
    });
  });
})();
