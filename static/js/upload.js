// Pieces table (progressive enhancement; without JavaScript the form posts normally and the server decides).
// - Type and size are checked before sending; a JPEG/PNG photo over the limit is reduced with a canvas and
//   re-encoded as JPEG (preview shown), so a 4 MB phone photo goes through.
// - While sending: a named progress bar with its percentage and a "cancel" button; focus stays in the row.
// - The result and any refusal are announced in the piece's row (aria-live), and focus returns to that row.
// - A server saturated by a deadline rush answers 503 with the delay to wait: the file is kept and sent again by
//   itself after that delay (a little more, drawn at random, so that the refused uploads do not all come back at
//   once), at most MAX_RETRIES times, then the server's message is shown. The wait can be cancelled.
// - A connection that stops carrying the file without closing (a phone on a failing 3G line) would leave the row
//   "sending" forever: no progress for data-stall-ms (30 s) while sending, or no answer data-answer-ms (75 s) after
//   the last byte left (nginx answers within its proxy_read_timeout of 65 s, gunicorn kills a worker at 60 s), and
//   the sending is abandoned and said so in the row, which gets the focus: the file can be sent again. Once every
//   byte has left, the row says the file is being checked (the server's work), not that it is still being sent.
// Loaded with <script src defer>; no inline script (CSP); texts come from #upload-texts (translated by Django).
(function () {
  "use strict";
  var texts = document.getElementById("upload-texts");
  // What only this script does (reducing a photo too large) is said only when it runs.
  Array.prototype.forEach.call(document.querySelectorAll("[data-with-script]"), function (element) {
    element.hidden = false;
  });

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

  // "-" removes a piece's file: asked once before (a thumb slips on a phone). Without JavaScript the form posts
  // at once, as the guide describes; the file can be sent again.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  if (!texts || !window.XMLHttpRequest || !window.FormData) {
    return;
  }
  var MAX_BYTES = parseInt(texts.getAttribute("data-max-bytes"), 10);
  var MAX_PHOTOS = parseInt(texts.getAttribute("data-max-photos"), 10) || 10;
  var MAX_PIXELS = 16000000; // the server's image budget (documents/validation.py MAX_IMAGE_PIXELS)
  var TYPES = { pdf: "application/pdf", jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png" };
  var MAX_RETRIES = 5; // sent again by itself after a saturated server's 503: about a minute at Retry-After 10 s
  var STALL_MS = 30000; // no progress while sending for this long: the connection is taken for interrupted
  var ANSWER_MS = 75000; // no answer this long after the last byte left: nginx has given up (65 s) by then

  // A delay in milliseconds from #upload-texts (data-stall-ms, data-answer-ms), read at each sending.
  function delayOf(name, fallback) {
    var value = parseInt(texts.getAttribute("data-" + name), 10);
    return value > 0 ? value : fallback;
  }

  function text(name) {
    return texts.getAttribute("data-" + name) || "";
  }

  function humanSize(bytes) {
    var lang = document.documentElement.lang || "fr";
    var unit = lang === "fr" ? " Mo" : " MB";
    return (bytes / 1048576).toLocaleString(lang, { maximumFractionDigits: 1 }) + unit;
  }

  // "37 %" in French, "37%" in English: the page's language, as humanSize writes the sizes.
  function percentText(value) {
    var lang = document.documentElement.lang || "fr";
    return new Intl.NumberFormat(lang, { style: "percent" }).format(value / 100);
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

  function shrink(file, limit) {
    return dataUrl(file).then(function (url) { return new Promise(function (resolve, reject) {
      var image = new Image();
      image.onload = function () {
        var width = image.naturalWidth;
        var height = image.naturalHeight;
        var scale = Math.min(1, Math.sqrt(MAX_PIXELS / (width * height)), Math.sqrt((limit * 1.5) / file.size));
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
            if (blob && blob.size <= limit) {
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

  // Several photos of one document: each one over its share of the size limit is reduced as above; the server
  // puts them together in one PDF, one page per photo, in this order (documents/merge.py), and checks the result.
  function shrinkPages(files) {
    var share = Math.floor((MAX_BYTES * 0.8) / files.length);
    return Promise.all(files.map(function (file) {
      return file.size <= share ? Promise.resolve(file) : shrink(file, share);
    }));
  }

  function clearPreviews(form) {
    form.querySelectorAll(".pieces__preview, .pieces__pages").forEach(function (old) { old.remove(); });
  }

  function showPreview(form, file) {
    clearPreviews(form);
    var preview = document.createElement("img");
    preview.className = "pieces__preview";
    preview.alt = text("preview");
    preview.width = 96;
    dataUrl(file).then(function (url) {
      preview.src = url;
      form.appendChild(preview);
    });
  }

  // The photos in the order they will be sent, each captioned "Page 1", "Page 2"...
  function showPages(form, files) {
    clearPreviews(form);
    var list = document.createElement("ol");
    list.className = "pieces__pages";
    files.forEach(function (file, i) {
      var item = document.createElement("li");
      var figure = document.createElement("figure");
      var preview = document.createElement("img");
      var caption = document.createElement("figcaption");
      var label = text("page").replace("{number}", i + 1);
      preview.alt = label;
      preview.width = 96;
      caption.textContent = label;
      figure.appendChild(preview);
      figure.appendChild(caption);
      item.appendChild(figure);
      list.appendChild(item);
      dataUrl(file).then(function (url) { preview.src = url; });
    });
    form.appendChild(list);
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
    var ready = null; // what to send: the chosen file or its reduced copy, or the photos of one document in order
    var request = null;
    var waiting = null; // the timer of the next automatic sending after a 503
    var watchdog = null; // the timer that abandons a sending whose connection no longer moves
    var stalled = false; // the sending was abandoned by the watchdog (not cancelled by the candidate)

    var preparing = false;

    // Check the chosen file; resolves to the file to send without asking (null: refused, or reduced and shown
    // for the candidate to check before sending).
    function prepare() {
      ready = null;
      clearPreviews(form); // the previews of an earlier choice
      var file = input.files && input.files[0];
      if (!file) {
        return Promise.resolve(null);
      }
      if (input.files.length > 1) {
        var files = Array.prototype.slice.call(input.files);
        if (!files.every(function (f) { return kindOf(f) === "image/jpeg" || kindOf(f) === "image/png"; })) {
          input.value = "";
          clearPreviews(form);
          say(status, text("several-not-photos"), "error");
          return Promise.resolve(null);
        }
        if (files.length > MAX_PHOTOS) {
          input.value = "";
          clearPreviews(form);
          say(status, text("too-many-photos"), "error");
          return Promise.resolve(null);
        }
        say(status, text("resizing"), "busy");
        send.disabled = true;
        preparing = true;
        return shrinkPages(files).then(function (pages) {
          ready = pages;
          preparing = false;
          send.disabled = false;
          showPages(form, pages);
          say(status, text("pages").replace("{count}", pages.length), "ok");
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
      return shrink(file, MAX_BYTES).then(function (smaller) {
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

    input.addEventListener("change", prepare);

    function reset() {
      window.clearTimeout(watchdog);
      watchdog = null;
      request = null;
      waiting = null;
      box.hidden = true;
      send.disabled = false;
      input.disabled = false;
    }

    cancel.addEventListener("click", function () {
      if (waiting) {
        window.clearTimeout(waiting);
        reset();
        say(status, text("cancelled"), "error");
        input.focus();
      } else if (request) {
        request.abort();
      }
    });

    // Nothing stored: said in the row, which gets the focus (the file input is enabled again to send it again).
    function failed(name) {
      reset();
      say(status, text(name), "error");
      row.focus();
    }

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

    // ``file``: one file, or the photos of one document in page order (the server merges them into one PDF).
    // ``retriesLeft``: how many more times it is sent by itself if the server is saturated (told to the server).
    function upload(file, retriesLeft) {
      if (retriesLeft === undefined) {
        retriesLeft = MAX_RETRIES;
      }
      var data = new FormData(form);
      data.delete("file");
      [].concat(file).forEach(function (f) { data.append("file", f, f.name); });
      send.disabled = true;
      input.disabled = true;
      box.hidden = false;
      progress.value = 0;
      percent.textContent = percentText(0);
      say(status, text("sending"), "busy");
      cancel.focus(); // focus stays in the row, on the one control that still does something
      var xhr = new XMLHttpRequest();
      var stallMs = delayOf("stall-ms", STALL_MS);
      var sent = false; // every byte has left: now the server's answer is awaited
      request = xhr;
      stalled = false;
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Upload-Progress", "1");
      xhr.setRequestHeader("X-Upload-Retries-Left", String(retriesLeft));

      // (Re)armed at each sign of life: when it fires, the connection is taken for interrupted.
      function watch(ms) {
        window.clearTimeout(watchdog);
        watchdog = window.setTimeout(function () {
          watchdog = null;
          if (request === xhr) {
            stalled = true;
            xhr.abort();
          }
        }, ms);
      }

      function allSent() {
        if (sent) {
          return;
        }
        sent = true;
        progress.value = 100;
        progress.textContent = percentText(100);
        percent.textContent = percentText(100);
        say(status, text("checking"), "busy");
        watch(delayOf("answer-ms", ANSWER_MS));
      }

      xhr.upload.addEventListener("progress", function (e) {
        if (sent) {
          return;
        }
        if (e.lengthComputable) {
          var value = Math.round((e.loaded / e.total) * 100);
          progress.value = value;
          progress.textContent = percentText(value);
          percent.textContent = percentText(value);
          if (e.loaded >= e.total) {
            allSent();
            return;
          }
        }
        watch(stallMs);
      });
      xhr.upload.addEventListener("load", allSent);
      xhr.addEventListener("load", function () {
        window.clearTimeout(watchdog);
        watchdog = null;
        var answer = null;
        try {
          answer = JSON.parse(request.responseText);
        } catch (ignored) {
          answer = null;
        }
        var delay = request.status === 503 && answer ? parseInt(answer.retry_after, 10) : NaN;
        if (delay > 0 && retriesLeft > 0) {
          // Nothing was stored: wait, then send the same file again.
          var seconds = Math.round(delay * (1 + Math.random() * 0.5));
          request = null;
          progress.value = 0;
          progress.textContent = percentText(0);
          percent.textContent = percentText(0);
          say(status, text("saturated-retry").replace("{seconds}", seconds), "busy");
          waiting = window.setTimeout(function () {
            waiting = null;
            upload(file, retriesLeft - 1);
          }, seconds * 1000);
          return;
        }
        var location = answer && answer.location;
        if (!location) {
          // Not our JSON: the login page (the session ended) or a proxy's or server's error page.
          // 403: the CSRF check failed, which happens when the session and its cookies are gone.
          var ended = request.status === 403 || /\/accounts\/login\//.test(request.responseURL || "");
          failed(ended ? "session-ended" : "failed");
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
      xhr.addEventListener("abort", function () {
        if (stalled) {
          failed("stalled");
          return;
        }
        reset();
        say(status, text("cancelled"), "error");
        input.focus();
      });
      xhr.addEventListener("error", function () {
        failed("failed");
      });
      watch(stallMs); // until the first progress event
      xhr.send(data);
    }
  });
})();
