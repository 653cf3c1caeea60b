// Polls the status of an audit report being generated and shows its progress.
// Loaded as a file (the content security policy allows no inline script); without JavaScript the
// page refreshes itself through a <noscript> meta refresh and offers a reload link.
(function () {
  "use strict";

  var POLL_MS = 1500;
  var root = document.getElementById("report-progress");
  if (!root || root.dataset.finished === "true") {
    return;
  }
  var url = root.dataset.statusUrl;
  var label = root.querySelector("[data-role=status-label]");
  var percent = root.querySelector("[data-role=percent]");
  var bar = root.querySelector("[data-role=bar]");
  var pages = root.querySelector("[data-role=pages]");

  function show(status) {
    if (label) {
      label.textContent = status.status_label;
    }
    if (percent) {
      percent.textContent = status.progress + "%";
    }
    if (pages) {
      // Pages laid out so far: WeasyPrint's own page events, not a guess.
      pages.textContent = status.pages ? "page " + status.pages : "";
    }
    if (bar) {
      bar.value = status.progress;
      bar.textContent = status.progress + "%";
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (status) {
        show(status);
        if (status.finished) {
          // The page shows the checksum, the download link or the error once finished.
          window.location.reload();
        } else {
          window.setTimeout(poll, POLL_MS);
        }
      })
      .catch(function () {
        // Logged out (idle logoff) or offline: stop polling; the reload link stays.
        if (label) {
          label.textContent += " (status unavailable: reload the page)";
        }
      });
  }

  window.setTimeout(poll, POLL_MS);
})();
