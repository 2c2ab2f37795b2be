// itsmbridge console: progressive enhancement only. Times are localised,
// the overview refreshes in place, and action buttons call the admin API
// after a confirmation. No inline script anywhere (the CSP forbids it).
(function () {
  "use strict";

  // localiseTimes shows each <time datetime="…UTC…"> in the viewer's zone;
  // the title attribute keeps the UTC text for hover.
  function localiseTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      el.textContent = d.toLocaleString(undefined, {
        year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
      });
    });
  }

  function flash(text, isError) {
    var el = document.getElementById("flash");
    if (!el) return;
    el.textContent = text;
    el.className = "flash " + (isError ? "flash-error" : "flash-ok");
  }

  // announce shows a message and moves focus to it, so keyboard users do
  // not lose their place when the row holding the button disappears.
  function announce(text, isError) {
    flash(text, isError);
    var el = document.getElementById("flash");
    if (el) { el.setAttribute("tabindex", "-1"); el.focus(); }
  }

  // startRefresh reloads the overview's live fragment every interval while
  // the page is visible and the checkbox is ticked.
  function startRefresh() {
    var live = document.getElementById("live");
    if (!live) return;
    var box = document.getElementById("autorefresh");
    var interval = parseInt(live.getAttribute("data-interval"), 10) || 5000;
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden || (box && !box.checked)) return;
      busy = true;
      fetch(live.getAttribute("data-src"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (!r.ok) throw new Error("refresh failed: HTTP " + r.status);
          return r.text();
        })
        .then(function (html) {
          live.innerHTML = html; // server-rendered by html/template
          localiseTimes(live);
          live.removeAttribute("aria-busy");
        })
        .catch(function (e) { flash(e.message, true); })
        .then(function () { busy = false; });
    }, interval);
  }

  // errorText extracts the admin API's {"error": "..."} message.
  function errorText(r) {
    return r.text().then(function (t) {
      try { var j = JSON.parse(t); if (j && j.error) return j.error; } catch (e) { /* not JSON */ }
      return t || ("HTTP " + r.status);
    });
  }

  // Action buttons: data-action is the admin API endpoint to POST,
  // data-confirm the question, data-done the message on success,
  // data-row the id of the element to remove on success, data-reload
  // reloads the page afterwards.
  function onAction(ev) {
    var btn = ev.target.closest("button[data-action]");
    if (!btn) return;
    ev.preventDefault();
    if (!window.confirm(btn.getAttribute("data-confirm") || "Are you sure?")) return;
    btn.disabled = true;
    fetch(btn.getAttribute("data-action"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) {
      if (btn.hasAttribute("data-reload")) {
        window.location.reload();
        return;
      }
      if (!r.ok) {
        return errorText(r).then(function (msg) {
          announce("Failed: " + msg, true);
          btn.disabled = false;
        });
      }
      announce(btn.getAttribute("data-done") || "Done.", false);
      var row = btn.getAttribute("data-row") && document.getElementById(btn.getAttribute("data-row"));
      if (row) row.remove();
    }).catch(function (e) {
      announce("Failed: " + e.message, true);
      btn.disabled = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localiseTimes(document);
    startRefresh();
    document.addEventListener("click", onAction);
  });
})();
