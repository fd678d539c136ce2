// famlink: keyboard shortcuts and live batch progress. Progressive enhancement:
// every page works without this script.
(function () {
  "use strict";
  function typing(e) {
    var t = e.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
    var rows = Array.prototype.slice.call(document.querySelectorAll("table[data-keys=queue] a.row-link"));
    if (rows.length && (e.key === "j" || e.key === "k")) {
      var i = rows.indexOf(document.activeElement);
      i = e.key === "j" ? Math.min(rows.length - 1, i + 1) : Math.max(0, i - 1);
      rows[i].focus();
      e.preventDefault();
      return;
    }
    var form = document.querySelector("form[data-keys=decide]");
    if (form) {
      var b = form.querySelector("button[data-key='" + e.key + "']");
      if (b) { b.click(); e.preventDefault(); return; }
      if (e.key === "n") { form.querySelector("textarea").focus(); e.preventDefault(); return; }
    }
    if (e.key === "j") {
      var next = document.getElementById("next-proposal");
      if (next) { next.click(); e.preventDefault(); }
    }
  });
  var progress = document.getElementById("progress");
  function poll() {
    if (!progress || progress.getAttribute("data-live") !== "1") return;
    setTimeout(function () {
      fetch(location.href, { credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("progress");
          if (fresh) { progress.replaceWith(fresh); progress = fresh; }
          poll();
        })
        .catch(poll);
    }, 1000);
  }
  poll();
})();
