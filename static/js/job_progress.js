// The pages of work built in the background (a release of decisions, a commission pack, a large export): while the
// work runs, its live region (the section marked data-job-progress) is read again from the server every few seconds
// and only what changed in it is written, so the focus and the screen reader stay where they are and the change is
// announced (aria-live). It stops by itself once the work has ended (data-job-state no longer "running"), and a
// button before the region pauses and resumes it (WCAG 2.2.1, 2.2.2). Without JavaScript nothing of this exists: the
// page says so, and its « Actualiser » link reloads it. Loaded with <script src defer>; no inline script (CSP); the
// button's texts come from the region's data attributes (translated by Django).
(function () {
  "use strict";
  var region = document.querySelector("[data-job-progress]");
  if (!region || !window.fetch || !window.DOMParser || region.getAttribute("data-job-state") !== "running") {
    return;
  }
  var seconds = parseInt(region.getAttribute("data-refresh-seconds"), 10) || 3;
  var url = window.location.href.split("#")[0];
  var timer = null;
  var paused = false;
  var stopped = false;
  var pending = false; // a request is on its way: resuming does not start a second one

  var holder = document.createElement("p");
  var button = document.createElement("button");
  button.type = "button";
  button.className = "button";
  button.setAttribute("data-job-toggle", "");
  button.textContent = region.getAttribute("data-pause-label");
  holder.appendChild(button);
  region.parentNode.insertBefore(holder, region);

  function running() {
    return region.getAttribute("data-job-state") === "running";
  }

  // Writes into ``live`` what differs in ``fresh`` (the same region as the server now draws it): a text changed in
  // place, an attribute set, an element replaced only when it is another one. What did not change stays the same
  // node, so the focus on a link or a button of the region stays on it and only the new words are announced.
  function sameElement(a, b) {
    return a.nodeType === b.nodeType && a.nodeName === b.nodeName;
  }
  function syncAttributes(live, fresh) {
    Array.prototype.slice.call(live.attributes).forEach(function (attribute) {
      if (!fresh.hasAttribute(attribute.name)) {
        live.removeAttribute(attribute.name);
      }
    });
    Array.prototype.forEach.call(fresh.attributes, function (attribute) {
      if (live.getAttribute(attribute.name) !== attribute.value) {
        live.setAttribute(attribute.name, attribute.value);
      }
    });
    if (live.nodeName === "PROGRESS" && fresh.hasAttribute("value")) {
      live.value = parseFloat(fresh.getAttribute("value"));
    }
  }
  function morph(live, fresh) {
    var liveChildren = Array.prototype.slice.call(live.childNodes);
    var freshChildren = Array.prototype.slice.call(fresh.childNodes);
    if (liveChildren.length !== freshChildren.length) {
      while (live.firstChild) {
        live.removeChild(live.firstChild);
      }
      freshChildren.forEach(function (node) { live.appendChild(document.importNode(node, true)); });
      return;
    }
    liveChildren.forEach(function (node, index) {
      var other = freshChildren[index];
      if (!sameElement(node, other)) {
        live.replaceChild(document.importNode(other, true), node);
      } else if (node.nodeType === 1) {
        syncAttributes(node, other);
        morph(node, other);
      } else if (node.nodeValue !== other.nodeValue) {
        node.nodeValue = other.nodeValue;
      }
    });
  }

  // The focus was on something gone (the button, the « Actualiser » link once the work has ended): it goes to what
  // the region now offers (the file's link), else to the region itself, not to the top of the page.
  function focusInRegion() {
    var target = region.querySelector("a[href], button, input:not([type=hidden])");
    if (!target) {
      region.setAttribute("tabindex", "-1");
      target = region;
    }
    target.focus();
  }

  function finish() {
    if (stopped) {
      return;
    }
    stopped = true;
    window.clearTimeout(timer);
    var hadFocus = document.activeElement === button;
    holder.parentNode.removeChild(holder);
    if (hadFocus) {
      focusInRegion();
    }
  }

  function update(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-job-progress]");
    if (!fresh) {
      finish(); // not the page any more (the session ended: the login page): the « Actualiser » link stays
      return;
    }
    var focused = region.contains(document.activeElement) ? document.activeElement : null;
    syncAttributes(region, fresh);
    morph(region, fresh);
    if (focused && !region.contains(focused)) {
      focusInRegion();
    }
    if (!running()) {
      finish();
    }
  }

  function schedule() {
    window.clearTimeout(timer);
    if (!paused && !stopped) {
      timer = window.setTimeout(poll, seconds * 1000);
    }
  }

  function poll() {
    if (pending || stopped) {
      return;
    }
    pending = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.status >= 400 && response.status < 500) {
          throw new Error("gone"); // no longer the requester's (rights withdrawn): stop
        }
        if (!response.ok) {
          return null; // the server is busy or restarting: asked again next time
        }
        return response.text();
      })
      .then(function (html) {
        pending = false;
        if (html !== null && !paused && !stopped) {
          update(html);
        }
        schedule();
      })
      .catch(function (error) {
        pending = false;
        if (error && error.message === "gone") {
          finish();
        } else {
          schedule(); // the network: asked again next time
        }
      });
  }

  button.addEventListener("click", function () {
    paused = !paused;
    button.textContent = region.getAttribute(paused ? "data-resume-label" : "data-pause-label");
    if (paused) {
      window.clearTimeout(timer);
    } else {
      poll();
    }
  });

  schedule();
})();
