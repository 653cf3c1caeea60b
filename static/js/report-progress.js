// Polls the status of an audit report being generated and shows its progress (BAATracker.poll, app.js).
// Loaded as a file (the content security policy allows no inline script); without JavaScript the
// page refreshes itself through a <noscript> meta refresh and offers a reload link.
(function () {
  "use strict";

  var root = document.getElementById("report-progress");
  if (!root || root.dataset.finished === "true" || !window.BAATracker) {
    return;
  }
  var label = root.querySelector("[data-role=status-label]");
  var percent = root.querySelector("[data-role=percent]");
  var bar = root.querySelector("[data-role=bar]");
  var pages = root.querySelector("[data-role=pages]");

  window.BAATracker.poll(root.dataset.statusUrl, {
    intervalMs: 1500,
    onStatus: function (status) {
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
    },
    isDone: function (status) {
      return status.finished;
    },
    onDone: function () {
      // The page shows the checksum, the download link or the error once finished.
      window.location.reload();
    },
    onError: function () {
      if (label) {
        label.textContent += " (status unavailable: reload the page)";
      }
    },
  });
})();
