// After an edit the rules engine re-runs in the background (compliance.services.schedule_compliance_run).
// While it runs, the page says that findings are being updated; when it has run, the parts of the page
// marked data-refresh-region are replaced by their current version, fetched from the same URL.
// Polls through BAATracker.poll (app.js), as the audit report page does.
(function () {
  "use strict";

  var notice = document.querySelector("[data-findings-updating]");
  if (!notice || notice.dataset.pending !== "true" || !window.BAATracker) {
    return;
  }
  var message = notice.querySelector("[data-role=message]");

  function say(text, done) {
    if (message) {
      message.textContent = text;
      message.classList.toggle("alert-info", !done);
      message.classList.toggle("alert-success", !!done);
    }
  }

  function refreshRegions() {
    return fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-refresh-region]").forEach(function (region) {
          var replacement = region.id ? fresh.getElementById(region.id) : null;
          if (replacement) {
            region.replaceWith(document.importNode(replacement, true));
          }
        });
        notice.dataset.pending = "false";
        say("Findings are up to date.", true);
      });
  }

  window.BAATracker.poll(notice.dataset.statusUrl, {
    intervalMs: 1000,
    isDone: function (status) {
      return !status.pending;
    },
    onDone: function () {
      refreshRegions().catch(function () {
        say("Findings have been updated: reload the page to see them.", true);
      });
    },
    onError: function () {
      say("Findings are being updated: reload the page in a moment to see them.", false);
    },
  });
})();
