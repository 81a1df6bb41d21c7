// Refreshes the drift page's <main> from `?part=main` every evaluation interval, without
// a reload. Pauses while the tab is hidden; on an error it keeps the last view and says so.
(function () {
  "use strict";
  var main = document.getElementById("live");
  var status = document.getElementById("status");
  if (!main || !window.fetch) return;
  function interval() {
    var holder = main.querySelector("[data-refresh]");
    var seconds = holder ? Number(holder.getAttribute("data-refresh")) : 15;
    return Math.max(2, seconds || 15) * 1000;
  }
  function refresh() {
    if (document.hidden) { schedule(); return; }
    fetch(main.getAttribute("data-src"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var y = window.scrollY;
        main.innerHTML = html;
        window.scrollTo(0, y);
        status.textContent = "Live: refreshed at " + new Date().toLocaleTimeString();
        status.removeAttribute("data-error");
      })
      .catch(function (err) {
        status.textContent = "Not refreshed (" + err.message + "); showing the last view.";
        status.setAttribute("data-error", "");
      })
      .then(schedule);
  }
  function schedule() { setTimeout(refresh, interval()); }
  status.textContent = "Live: refreshes every " + interval() / 1000 + " s";
  schedule();
})();
