// Pieces table (progressive enhancement; without JavaScript the form posts normally and the server decides).
// - Type and size are checked before sending; a JPEG/PNG photo over the limit is reduced with a canvas and
//   re-encoded as JPEG (preview shown), so a 4 MB phone photo goes through.
// - While sending: a named progress bar with its percentage and a "cancel" button; focus stays in the row.
// - The result and any refusal are announced in the piece's row (aria-live), and focus returns to that row.
// Loaded with <script src defer>; no inline script (CSP); texts come from #upload-texts (translated by Django).
(function () {
  "use strict";
  var texts = document.getElementById("upload-texts");

  // After the page reloads at #piece-<pk>: focus that row and announce its message again (a live region that is
  // already filled when the page loads is not read out).
  function focusTargetRow() {
    var match = /^#piece-(\d+)$/.exec(window.location.hash);
    var row = match && document.getElementById("piece-" + match[1]);
    if (!row) {
      return;
    }
    row.focus({ preventScroll: false });
    var status = document.getElementById("piece-status-" + match[1]);
    if (status && status.children.length) {
      var content = Array.prototype.slice.call(status.children);
      status.textContent = "";
      window.setTimeout(function () {
        content.forEach(function (node) { status.appendChild(node); });
      }, 150);
    }
  }
  focusTargetRow();

  if (!texts || !window.XMLHttpRequest || !window.FormData) {
    return;
  }
  var MAX_BYTES = parseInt(texts.getAttribute("data-max-bytes"), 10);
  var several = document.getElementById("upload-several");
  if (several) {
    several.hidden = false;
  }
  var MAX_PIXELS = 16000000; // the server's image budget (documents/validation.py MAX_IMAGE_PIXELS)
  var TYPES = { pdf: "application/pdf", jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png" };

  function text(name) {
    return texts.getAttribute("data-" + name) || "";
  }

  function humanSize(bytes) {
    var lang = document.documentElement.lang || "fr";
    var unit = lang === "fr" ? " Mo" : " MB";
    return (bytes / 1048576).toLocaleString(lang, { maximumFractionDigits: 1 }) + unit;
  }

  function say(status, message, kind) {
    status.textContent = "";
    var line = document.createElement("p");
    line.className = "pieces__status--" + kind;
    line.textContent = message;
    status.appendChild(line);
  }

  function kindOf(file) {
    var extension = (file.name.split(".").pop() || "").toLowerCase();
    var expected = TYPES[extension];
    if (!expected || (file.type && file.type !== expected)) {
      return null;
    }
    return expected;
  }

  // Draw the image at a scale that fits the pixel budget, then lower the scale and quality until the JPEG fits.
  // Files are read as data: URLs, not blob: ones, which the CSP (img-src 'self' data:) does not allow.
  function dataUrl(blob) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsDataURL(blob);
    });
  }

  function shrink(file) {
    return dataUrl(file).then(function (url) { return new Promise(function (resolve, reject) {
      var image = new Image();
      image.onload = function () {
        var width = image.naturalWidth;
        var height = image.naturalHeight;
        var scale = Math.min(1, Math.sqrt(MAX_PIXELS / (width * height)), Math.sqrt((MAX_BYTES * 1.5) / file.size));
        var quality = 0.85;
        var attempts = 0;
        function attempt() {
          attempts += 1;
          var canvas = document.createElement("canvas");
          canvas.width = Math.max(1, Math.round(width * scale));
          canvas.height = Math.max(1, Math.round(height * scale));
          var context = canvas.getContext("2d");
          context.fillStyle = "#fff"; // transparent PNG areas become white, not black
          context.fillRect(0, 0, canvas.width, canvas.height);
          context.drawImage(image, 0, 0, canvas.width, canvas.height);
          canvas.toBlob(function (blob) {
            if (blob && blob.size <= MAX_BYTES) {
              var name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
              resolve(new File([blob], name, { type: "image/jpeg" }));
            } else if (attempts < 8) {
              scale *= 0.8;
              quality = Math.max(0.6, quality - 0.05);
              attempt();
            } else {
              reject(new Error("too big"));
            }
          }, "image/jpeg", quality);
        }
        attempt();
      };
      image.onerror = function () {
        reject(new Error("unreadable"));
      };
      image.src = url;
    }); });
  }

  // Several photos of one document: each is reduced to its share of the size limit, then they become the pages
  // of one PDF (JPEG images, DCTDecode; nothing else in the file, so the server's PDF checks accept it).
  function jpegPage(file, budget) {
    return dataUrl(file).then(function (url) { return new Promise(function (resolve, reject) {
      var image = new Image();
      image.onload = function () {
        var scale = Math.min(1, 2480 / Math.max(image.naturalWidth, image.naturalHeight));
        var quality = 0.8;
        var attempts = 0;
        function attempt() {
          attempts += 1;
          var canvas = document.createElement("canvas");
          canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
          canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
          var context = canvas.getContext("2d");
          context.fillStyle = "#fff";
          context.fillRect(0, 0, canvas.width, canvas.height);
          context.drawImage(image, 0, 0, canvas.width, canvas.height);
          canvas.toBlob(function (blob) {
            if (blob && blob.size <= budget) {
              blob.arrayBuffer().then(function (buffer) {
                resolve({ width: canvas.width, height: canvas.height, bytes: new Uint8Array(buffer) });
              }, reject);
            } else if (attempts < 8) {
              scale *= 0.8;
              quality = Math.max(0.6, quality - 0.05);
              attempt();
            } else {
              reject(new Error("too big"));
            }
          }, "image/jpeg", quality);
        }
        attempt();
      };
      image.onerror = function () { reject(new Error("unreadable")); };
      image.src = url;
    }); });
  }

  function buildPdf(pages) {
    var parts = [];
    var offsets = [];
    var length = 0;
    function add(chunk) {
      var bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
      parts.push(bytes);
      length += bytes.length;
    }
    function object(number, body) {
      offsets[number] = length;
      add(number + " 0 obj\n" + body + "\nendobj\n");
    }
    add("%PDF-1.4\n");
    var kids = pages.map(function (_, i) { return (3 + i * 3) + " 0 R"; }).join(" ");
    object(1, "<< /Type /Catalog /Pages 2 0 R >>");
    object(2, "<< /Type /Pages /Kids [" + kids + "] /Count " + pages.length + " >>");
    pages.forEach(function (page, i) {
      var number = 3 + i * 3;
      var width = 595; // A4 width in points; the height follows the photo
      var height = Math.round(width * page.height / page.width);
      object(number, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " + width + " " + height + "] /Resources << /XObject << /Im0 " +
        (number + 1) + " 0 R >> >> /Contents " + (number + 2) + " 0 R >>");
      offsets[number + 1] = length;
      add((number + 1) + " 0 obj\n<< /Type /XObject /Subtype /Image /Width " + page.width + " /Height " + page.height +
        " /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length " + page.bytes.length + " >>\nstream\n");
      add(page.bytes);
      add("\nendstream\nendobj\n");
      var content = "q " + width + " 0 0 " + height + " 0 0 cm /Im0 Do Q";
      object(number + 2, "<< /Length " + content.length + " >>\nstream\n" + content + "\nendstream");
    });
    var count = 3 + pages.length * 3;
    var xref = length;
    var table = "xref\n0 " + count + "\n0000000000 65535 f \n";
    for (var n = 1; n < count; n += 1) {
      table += ("0000000000" + offsets[n]).slice(-10) + " 00000 n \n";
    }
    add(table + "trailer\n<< /Size " + count + " /Root 1 0 R >>\nstartxref\n" + xref + "\n%%EOF\n");
    return new Blob(parts, { type: "application/pdf" });
  }

  function mergePhotos(files) {
    var budget = Math.floor((MAX_BYTES * 0.95 - 2048) / files.length);
    return Promise.all(files.map(function (file) { return jpegPage(file, budget); })).then(function (pages) {
      var name = files[0].name.replace(/\.[^.]*$/, "") + ".pdf";
      return new File([buildPdf(pages)], name, { type: "application/pdf" });
    });
  }

  function showPreview(form, file, keep) {
    if (!keep) {
      form.querySelectorAll(".pieces__preview").forEach(function (old) { old.remove(); });
    }
    var preview = document.createElement("img");
    preview.className = "pieces__preview";
    preview.alt = text("preview");
    preview.width = 96;
    dataUrl(file).then(function (url) {
      preview.src = url;
      form.appendChild(preview);
    });
  }

  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    var input = form.querySelector("input[type=file]");
    var status = document.getElementById("piece-status-" + form.getAttribute("data-piece"));
    var row = form.closest("tr");
    var send = form.querySelector("button[type=submit]");
    var box = form.querySelector(".pieces__progress");
    var progress = box.querySelector("progress");
    var percent = box.querySelector("[data-percent]");
    var cancel = box.querySelector("[data-cancel]");
    var ready = null; // the file to send: the chosen one, or its reduced copy
    var request = null;

    var preparing = false;

    // Check the chosen file; resolves to the file to send without asking (null: refused, or reduced and shown
    // for the candidate to check before sending).
    function prepare() {
      ready = null;
      var file = input.files && input.files[0];
      if (!file) {
        return Promise.resolve(null);
      }
      if (input.files.length > 1) {
        var files = Array.prototype.slice.call(input.files);
        if (!files.every(function (f) { return kindOf(f) === "image/jpeg" || kindOf(f) === "image/png"; })) {
          input.value = "";
          say(status, text("several-not-photos"), "error");
          return Promise.resolve(null);
        }
        say(status, text("merging"), "busy");
        send.disabled = true;
        preparing = true;
        return mergePhotos(files).then(function (pdf) {
          ready = pdf;
          preparing = false;
          send.disabled = false;
          files.forEach(function (f, i) { showPreview(form, f, i > 0); });
          say(status, text("merged").replace("{count}", files.length).replace("{size}", humanSize(pdf.size)), "ok");
          return null;
        }, function () {
          input.value = "";
          preparing = false;
          send.disabled = false;
          say(status, text("resize-failed"), "error");
          return null;
        });
      }
      var kind = kindOf(file);
      if (!kind) {
        input.value = "";
        say(status, text("bad-type"), "error");
        return Promise.resolve(null);
      }
      if (file.size <= MAX_BYTES) {
        ready = file;
        status.textContent = "";
        return Promise.resolve(file);
      }
      if (kind === "application/pdf") {
        input.value = "";
        say(status, text("too-big"), "error");
        return Promise.resolve(null);
      }
      say(status, text("resizing"), "busy");
      send.disabled = true;
      preparing = true;
      return shrink(file).then(function (smaller) {
        ready = smaller;
        preparing = false;
        send.disabled = false;
        showPreview(form, smaller);
        say(status, text("resized").replace("{before}", humanSize(file.size)).replace("{after}", humanSize(smaller.size)), "ok");
        return null;
      }, function () {
        input.value = "";
        preparing = false;
        send.disabled = false;
        say(status, text("resize-failed"), "error");
        return null;
      });
    }

    input.multiple = true; // several photos of one document are merged into one PDF (only with JavaScript)
    input.addEventListener("change", prepare);

    function reset() {
      request = null;
      box.hidden = true;
      send.disabled = false;
      input.disabled = false;
    }

    cancel.addEventListener("click", function () {
      if (request) {
        request.abort();
      }
    });

    form.addEventListener("submit", function (event) {
      if (!input.files || input.files.length === 0) {
        return; // Let the browser say the field is required.
      }
      event.preventDefault();
      if (ready) {
        upload(ready);
      } else if (!preparing) {
        prepare().then(function (file) {
          if (file) {
            upload(file);
          }
        });
      }
    });

    function upload(file) {
      var data = new FormData(form);
      data.set("file", file, file.name);
      send.disabled = true;
      input.disabled = true;
      box.hidden = false;
      progress.value = 0;
      percent.textContent = "0 %";
      say(status, text("sending"), "busy");
      cancel.focus(); // focus stays in the row, on the one control that still does something
      request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("X-Upload-Progress", "1");
      request.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          var value = Math.round((e.loaded / e.total) * 100);
          progress.value = value;
          progress.textContent = value + " %";
          percent.textContent = value + " %";
        }
      });
      request.addEventListener("load", function () {
        var location = null;
        try {
          location = JSON.parse(request.responseText).location;
        } catch (ignored) {
          location = null;
        }
        if (!location) {
          // Not our JSON: the login page (the session ended) or a proxy's or server's error page.
          // 403: the CSRF check failed, which happens when the session and its cookies are gone.
          var ended = request.status === 403 || /\/accounts\/login\//.test(request.responseURL || "");
          reset();
          say(status, text(ended ? "session-ended" : "failed"), "error");
          row.focus();
          return;
        }
        var target = new URL(location, window.location.href);
        var here = new URL(window.location.href);
        if (target.pathname === here.pathname && target.search === here.search) {
          // Same page: changing only the fragment would not reload it, and the table would look unchanged.
          window.history.replaceState(null, "", target.hash);
          window.location.reload();
        } else {
          window.location.assign(target.href);
        }
      });
      request.addEventListener("abort", function () {
        reset();
        say(status, text("cancelled"), "error");
        input.focus();
      });
      request.addEventListener("error", function () {
        reset();
        say(status, text("failed"), "error");
        row.focus();
      });
      request.send(data);
    }
  });
})();
