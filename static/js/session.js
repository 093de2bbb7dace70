// Session-expiry warning (WCAG 2.2.1): two minutes before the sliding session ends, offer "Rester connecté".
// When it has ended, say which fields were not saved, keep them in this tab (sessionStorage) and put them back
// after the login. A form posted as the maintenance starts (the nightly window or the switch) gets the maintenance
// page instead (HTTP 503, ecandidat/maintenance.py): what it held is kept the same way and put back when the candidate
// comes back to the form after the maintenance. Progressive enhancement: without JavaScript nothing shows. No inline
// script (CSP).
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
  var draftPrefix = "ecandidat:draft:";
  var draftKey = draftPrefix + window.location.pathname;
  // Why a page's draft was kept ("session" or "maintenance"), for the note that says it was put back.
  var reasonPrefix = "ecandidat:draft-reason:";
  // The fields of the form being posted, {path, draft}, until the next page says how the post was answered.
  var postedKey = "ecandidat:posted";
  var endKey = "ecandidat:session-ends";
  // Only the maintenance page has it (templates/ecandidat/maintenance.html).
  var maintenanceNote = document.getElementById("maintenance-draft");
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

  // The fields of the page's forms (or of ``forms``) that hold something the candidate typed (never passwords,
  // files or tokens).
  function draftFields(forms) {
    var fields = [];
    (forms || document.querySelectorAll("main form[method=post]")).forEach(function (form) {
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

  // {name: value} of ``fields``, as the restore below puts them back (a checkbox or radio: its value, or null).
  function draftOf(fields) {
    var draft = {};
    fields.forEach(function (field) {
      draft[field.name] = (field.type === "checkbox" || field.type === "radio") ? (field.checked ? field.value : null) : field.value;
    });
    return draft;
  }

  function keepItem(key, value) {
    try { window.sessionStorage.setItem(key, JSON.stringify(value)); } catch (ignored) { /* full or private */ }
  }

  // Keep ``draft`` for the page at ``path``, to put back when it is opened again.
  function keepDraft(path, draft, reason) {
    keepItem(draftPrefix + path, draft);
    keepItem(reasonPrefix + path, reason);
  }

  function readItem(key) {
    try { return JSON.parse(window.sessionStorage.getItem(key) || "null"); } catch (ignored) { return null; }
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
      keepDraft(window.location.pathname, draftOf(fields), "session");
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

  // « Rester connecté » answered by the maintenance page: the session has not ended, the application has closed.
  // What was typed is kept as end() keeps it, and comes back when this page is opened again after the maintenance.
  function maintenance() {
    var fields = draftFields();
    if (fields.length) {
      keepDraft(window.location.pathname, draftOf(fields), "maintenance");
    }
    box.hidden = false;
    keepButton.hidden = true;
    loginLink.hidden = true;
    text.textContent = text.getAttribute("data-maintenance");
    // The button that had the focus is hidden: the focus goes to the message rather than to the top of the page.
    text.setAttribute("tabindex", "-1");
    text.focus();
  }

  keepForm.addEventListener("submit", function (event) {
    event.preventDefault();
    fetch(keepForm.action, { method: "POST", body: new FormData(keepForm), credentials: "same-origin", redirect: "follow" })
      .then(function (response) {
        if (response.status === 503) {
          maintenance(); // the maintenance page (its 503): not the end of the session
          return null;
        }
        var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        if (!response.ok || !json) {
          throw new Error("session over");
        }
        return response.json();
      })
      .then(function (body) {
        if (!body) {
          return;
        }
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

  // A form of the page really posted (not stopped above, nor sent by another script): keep what it holds until the
  // next page, in case that is the maintenance page.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || form === keepForm || !form.matches || !form.matches("main form[method=post]")) {
      return;
    }
    var fields = draftFields([form]);
    if (fields.length) {
      keepItem(postedKey, { path: window.location.pathname, draft: draftOf(fields) });
    }
  });

  var posted = readItem(postedKey);
  window.sessionStorage.removeItem(postedKey); // any other page answered the post: nothing was lost
  if (maintenanceNote) {
    // The maintenance page answered the post: keep its fields for that form's page, after the maintenance. This
    // page may have that form's address: the restore below is not for it.
    if (posted && posted.path && posted.draft && Object.keys(posted.draft).length) {
      var kept = readItem(draftPrefix + posted.path) || {};
      Object.keys(posted.draft).forEach(function (name) { kept[name] = posted.draft[name]; });
      keepDraft(posted.path, kept, "maintenance");
      maintenanceNote.textContent = maintenanceNote.getAttribute("data-text");
      maintenanceNote.hidden = false;
    }
    schedule();
    return;
  }

  // After the login, or after the maintenance: put back what was typed before the session ended or the application
  // closed.
  var saved = readItem(draftKey);
  var reason = readItem(reasonPrefix + window.location.pathname);
  window.sessionStorage.removeItem(reasonPrefix + window.location.pathname);
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
      note.textContent = note.getAttribute(reason === "maintenance" ? "data-text-maintenance" : "data-text");
      note.hidden = false;
      restored.parentNode.insertBefore(note, restored);
    }
  }

  schedule();
})();
