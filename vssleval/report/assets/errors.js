/* report.html's first script (vssleval/report/html.py inlines it in <head>): collects script errors,
   console errors and images that fail to load into #js-status, which reads "ready" once the page's
   script has run without any (docs/report.md, "report.html"; the browser test reads it). */
window.vssleval = (function () {
  "use strict";
  var errors = [], done = false;
  function show() {
    var s = document.getElementById("js-status");
    if (!s) { return; }
    s.setAttribute("data-errors", String(errors.length));
    s.textContent = errors.length ? "page errors: " + errors.join(" | ") : (done ? "ready" : "loading");
  }
  window.addEventListener("error", function (e) {
    var t = e.target;
    errors.push(t && t !== window && t.getAttribute ? "cannot load " + (t.getAttribute("src") || t.tagName)
                                                    : String(e.message));
    show();
  }, true);
  window.addEventListener("unhandledrejection", function (e) { errors.push(String(e.reason)); show(); });
  var original = console.error;
  console.error = function () {
    errors.push(Array.prototype.join.call(arguments, " "));
    show();
    return original.apply(console, arguments);
  };
  document.addEventListener("DOMContentLoaded", show);
  return {errors: errors, ready: function () { done = true; show(); }};
})();
