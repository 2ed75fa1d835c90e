/* The issue page's live progress: while a send runs (or a request waits for a worker), ask
   the server for the counts every two seconds and update the bar in place; when it is over,
   reload once to show the final figures. Without this script the page has a reload link. */
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-progress");
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");
  var status = document.getElementById("issue-status");
  var live = document.getElementById("progress-live");

  function show(p) {
    bar.max = p.total || 1;
    bar.value = p.answered;
    bar.textContent = p.answered + " of " + p.total;
    text.textContent = p.answered + " of " + p.total;
    if (status.textContent !== p.status) {
      status.textContent = p.status;
      live.textContent = "Status: " + p.status + ".";
    }
  }

  function tick() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) { setTimeout(tick, 5000); return; }
        show(p);
        if (p.watch) { setTimeout(tick, 2000); } else { window.location.reload(); }
      })
      .catch(function () { setTimeout(tick, 5000); });
  }

  setTimeout(tick, 2000);
}());
