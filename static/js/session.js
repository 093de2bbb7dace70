// Session-expiry warning (WCAG 2.2.1): two minutes before the sliding session ends, offer "Rester connecté".
// When it has ended, say which fields were not saved, keep them in this tab (sessionStorage) and put them back
// after the login. Progressive enhancement: without JavaScript nothing shows. No inline script (CSP).
(function () {
  "use strict";
  var box = document.getElementById("session-warning");
  if (!box || !window.fetch || !window.sessionStorage) {
    return;
  }
  var WARN_BEFORE = 120; // seconds
  // Seconds this session had left when the page was served: the server renews it every few minutes, not on every
  // page (ecandidat/sessions.py), so this is not always the full 45 minutes.
  var age = parseInt(box.getAttribute("data-session-age"), 10);
  var text = document.getElementById("session-warning-text");
  var keepForm = box.querySelector("form[data-session-keep]");
  var keepButton = keepForm.querySelector("button");
  var loginLink = box.querySelector("[data-session-login]");
  var draftKey = "ecandidat:draft:" + window.location.pathname;
  var endKey = "ecandidat:session-ends";
  var timers = [];
  var ended = false;
  var endsAt = 0;
  var focusBefore = null; // where the candidate was (typing, tabbing) when the warning took the focus

  // Other tabs of the same browser share the session, so they share its end (the latest one any tab was told).
  function markEnd(seconds) {
    endsAt = Date.now() + seconds * 1000;
    try { window.localStorage.setItem(endKey, String(endsAt)); } catch (ignored) { /* private mode */ }
  }
  function sessionEnd() {
    var value = 0;
    try { value = parseInt(window.localStorage.getItem(endKey), 10) || 0; } catch (ignored) { /* private mode */ }
    return Math.max(value, endsAt);
  }
  markEnd(age);

  function secondsLeft() {
    return (sessionEnd() - Date.now()) / 1000;
  }

  function schedule() {
    timers.forEach(window.clearTimeout);
    timers = [];
    var left = secondsLeft();
    timers.push(window.setTimeout(check, Math.max(0, (left - WARN_BEFORE) * 1000)));
    timers.push(window.setTimeout(check, Math.max(0, left * 1000 + 1000)));
  }

  function check() {
    var left = secondsLeft();
    if (left <= 0) {
      end();
    } else if (left <= WARN_BEFORE + 1) {
      warn();
      schedule();
    } else {
      hideWarning(); // another tab renewed the session
      schedule();
    }
  }

  function warn() {
    if (!box.hidden) {
      return;
    }
    text.textContent = text.getAttribute("data-soon");
    keepButton.hidden = false;
    loginLink.hidden = true;
    focusBefore = box.contains(document.activeElement) ? null : document.activeElement;
    box.hidden = false;
    keepButton.focus();
  }

  // Hides the warning. If the focus was still in it, the keyboard or screen reader user is put back where they were
  // (typing in a field, tabbing through the page), not at the top of the page: the button that had it is hidden.
  function hideWarning() {
    var target = focusBefore;
    var active = document.activeElement;
    var focusInBox = !active || active === document.body || box.contains(active);
    focusBefore = null;
    box.hidden = true;
    if (focusInBox && target && target !== document.body && document.contains(target)) {
      target.focus();
    }
  }

  // The fields of the page's forms that hold something the candidate typed (never passwords, files or tokens).
  function draftFields() {
    var fields = [];
    document.querySelectorAll("main form[method=post]").forEach(function (form) {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!field.name || field.disabled || field.name === "csrfmiddlewaretoken") {
          return;
        }
        if (/^(password|file|hidden|submit|button)$/.test(field.type)) {
          return;
        }
        if ((field.type === "checkbox" || field.type === "radio") ? field.checked === field.defaultChecked
            : field.tagName === "SELECT" ? !Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; })
            : field.value === field.defaultValue) {
          return; // unchanged since the page loaded: it is saved already
        }
        fields.push(field);
      });
    });
    return fields;
  }

  function labelOf(field) {
    var label = field.labels && field.labels[0];
    return (label ? label.textContent : field.name).replace(/\s+/g, " ").replace(/^\*\s*/, "").trim();
  }

  function end() {
    if (ended) {
      return;
    }
    ended = true;
    var fields = draftFields();
    box.hidden = false;
    keepButton.hidden = true;
    loginLink.hidden = false;
    if (fields.length) {
      var draft = {};
      fields.forEach(function (field) {
        draft[field.name] = (field.type === "checkbox" || field.type === "radio") ? (field.checked ? field.value : null) : field.value;
      });
      try { window.sessionStorage.setItem(draftKey, JSON.stringify(draft)); } catch (ignored) { /* full or private */ }
      text.textContent = "";
      var intro = document.createElement("span");
      intro.textContent = text.getAttribute("data-kept") + " ";
      var list = document.createElement("ul");
      fields.forEach(function (field) {
        var item = document.createElement("li");
        item.textContent = labelOf(field);
        list.appendChild(item);
      });
      var after = document.createElement("span");
      after.textContent = text.getAttribute("data-kept-after");
      text.appendChild(intro);
      text.appendChild(list);
      text.appendChild(after);
    } else {
      text.textContent = text.getAttribute("data-ended");
    }
    loginLink.focus();
  }

  keepForm.addEventListener("submit", function (event) {
    event.preventDefault();
    fetch(keepForm.action, { method: "POST", body: new FormData(keepForm), credentials: "same-origin", redirect: "follow" })
      .then(function (response) {
        var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        if (!response.ok || !json) {
          throw new Error("session over");
        }
        return response.json();
      })
      .then(function (body) {
        markEnd(body.expires_in);
        hideWarning();
        schedule();
      })
      .catch(function () {
        end();
      });
  });

  // A form posted after the end would be lost behind the login page: stop it and say what to do.
  document.addEventListener("submit", function (event) {
    if (event.target !== keepForm && secondsLeft() <= 0) {
      event.preventDefault();
      end();
    }
  }, true);

  // After the login: put back what was typed before the session ended.
  var saved = null;
  try { saved = JSON.parse(window.sessionStorage.getItem(draftKey) || "null"); } catch (ignored) { saved = null; }
  if (saved) {
    window.sessionStorage.removeItem(draftKey);
    var restored = null;
    document.querySelectorAll("main form[method=post]").forEach(function (form) {
      Object.keys(saved).forEach(function (name) {
        var field = form.elements.namedItem(name);
        if (!field || field.disabled) {
          return;
        }
        if (field.type === "checkbox") {
          field.checked = saved[name] !== null;
        } else if (field.length && field.item && field[0] && field[0].type === "radio") {
          Array.prototype.forEach.call(field, function (radio) { radio.checked = radio.value === saved[name]; });
        } else {
          field.value = saved[name];
        }
        restored = restored || form;
      });
    });
    var note = document.getElementById("session-restored");
    if (restored && note) {
      note.textContent = note.getAttribute("data-text");
      note.hidden = false;
      restored.parentNode.insertBefore(note, restored);
    }
  }

  schedule();
})();
