// BAA Tracker: behaviour shared by every page. Loaded as a file: the content security policy allows
// no inline script.

// Polling a JSON status URL until the work it describes is done: the audit report being generated
// (report-progress.js) and the findings being updated after an edit (findings-refresh.js).
// BAATracker.poll(url, {intervalMs, onStatus(status), isDone(status), onDone(status), onError(error)})
(function () {
  "use strict";

  function poll(url, options) {
    var interval = options.intervalMs || 1500;
    function once() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (status) {
          if (options.onStatus) {
            options.onStatus(status);
          }
          if (options.isDone(status)) {
            options.onDone(status);
          } else {
            window.setTimeout(once, interval);
          }
        })
        .catch(function (error) {
          // Logged out (idle logoff) or offline: stop polling; the page keeps its reload link.
          if (options.onError) {
            options.onError(error);
          }
        });
    }
    window.setTimeout(once, interval);
  }

  window.BAATracker = window.BAATracker || {};
  window.BAATracker.poll = poll;
})();

//
// After a failed submit the page comes back with an error summary: move the focus to it, so that a
// keyboard or screen-reader user starts from what to fix (WCAG 2.1 3.3.1, 2.4.3).
(function () {
  "use strict";

  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
  }
})();

// A table wider than a phone's screen scrolls sideways inside its .table-responsive wrapper; a
// keyboard user can scroll it only if the wrapper, or something in it, takes the focus (WCAG 2.1
// 2.1.1). Wrappers that overflow and hold no link or control become focusable regions, named after
// the table's caption or the heading of its section; checked again when the window is resized.
(function () {
  "use strict";

  // tabindex="-1" takes the focus from scripts only, not from the Tab key.
  var FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])';

  function nameOf(wrapper) {
    var caption = wrapper.querySelector("caption");
    if (caption && caption.textContent.trim()) {
      return caption.textContent.trim();
    }
    var section = wrapper.closest("section[aria-labelledby]");
    var heading = section ? document.getElementById(section.getAttribute("aria-labelledby")) : null;
    return (heading ? heading.textContent.trim() + ": " : "") + "table (scrolls sideways)";
  }

  function update() {
    document.querySelectorAll(".table-responsive").forEach(function (wrapper) {
      var made = wrapper.hasAttribute("data-scroll-focus");
      if (wrapper.hasAttribute("tabindex") && !made) {
        return; // the template made it focusable itself
      }
      var needs = wrapper.scrollWidth > wrapper.clientWidth && !wrapper.querySelector(FOCUSABLE);
      if (needs && !made) {
        wrapper.setAttribute("tabindex", "0");
        wrapper.setAttribute("role", "region");
        wrapper.setAttribute("aria-label", nameOf(wrapper));
        wrapper.setAttribute("data-scroll-focus", "");
      } else if (!needs && made) {
        ["tabindex", "role", "aria-label", "data-scroll-focus"].forEach(function (name) {
          wrapper.removeAttribute(name);
        });
      }
    });
  }

  update();
  window.addEventListener("resize", update);
})();

// Automatic logoff, 45 CFR 164.312(a)(2)(iii). The server ends the session IDLE_LOGOFF_MINUTES
// after the last request (SESSION_COOKIE_AGE with SESSION_SAVE_EVERY_REQUEST); this timer makes the
// screen follow it, so that an unattended browser does not keep showing the organization's data.
// The time of the last request is shared by the tabs through localStorage: a request made in one
// tab renews the session of all of them.
(function () {
  "use strict";

  var body = document.body;
  var minutes = parseFloat(body.dataset.idleLogoffMinutes || "");
  if (!(minutes > 0)) {
    return; // signed out: nothing to time
  }
  var IDLE_MS = minutes * 60 * 1000;
  var WARN_MS = Math.min(60 * 1000, IDLE_MS / 4);
  var KEY = "baatracker.lastRequestAt";
  var warning = document.getElementById("idle-warning");
  var countdown = warning ? warning.querySelector("[data-idle-countdown]") : null;
  var stay = warning ? warning.querySelector("[data-idle-stay]") : null;
  var keepaliveUrl = body.dataset.keepaliveUrl;
  var lastRequestAt = Date.now();
  var signingOut = false;

  function remember(at) {
    lastRequestAt = at;
    try {
      window.localStorage.setItem(KEY, String(at));
    } catch (e) {
      // storage disabled: this tab keeps its own time
    }
  }

  function latestRequest() {
    var shared = 0;
    try {
      shared = parseInt(window.localStorage.getItem(KEY) || "0", 10) || 0;
    } catch (e) {
      shared = 0;
    }
    return Math.max(lastRequestAt, shared);
  }

  function signOut() {
    if (signingOut) {
      return;
    }
    signingOut = true;
    // The server may have ended the session already (then the sign-out answers with a redirect to
    // the sign-in page, which is fine): post the sign-out, then show the sign-in page with a message.
    var form = document.getElementById(body.dataset.logoutForm || "logout-form");
    var done = function () {
      window.location.assign(body.dataset.idleLoginUrl || "/accounts/login/?idle=1");
    };
    if (form && window.fetch) {
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        redirect: "manual",
        cache: "no-store",
      }).then(done, done);
    } else {
      done();
    }
  }

  function tick() {
    var left = latestRequest() + IDLE_MS - Date.now();
    if (left <= 0) {
      signOut();
      return;
    }
    if (warning) {
      if (left <= WARN_MS) {
        if (countdown) {
          countdown.textContent = String(Math.ceil(left / 1000));
        }
        warning.classList.remove("d-none");
      } else {
        warning.classList.add("d-none");
      }
    }
  }

  if (stay && keepaliveUrl) {
    stay.addEventListener("click", function () {
      fetch(keepaliveUrl, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.ok) {
            remember(Date.now());
            tick();
          } else {
            signOut();
          }
        })
        .catch(function () {
          tick();
        });
    });
  }

  remember(Date.now());
  window.setInterval(tick, Math.min(1000, Math.max(250, IDLE_MS / 20)));
})();
