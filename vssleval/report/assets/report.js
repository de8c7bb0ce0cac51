/* report.html's script (vssleval/report/html.py inlines this file; docs/report.md, "report.html"):
   sortable tables, the per-sample browser (filters, order, paging) and the page's state in the URL
   hash, e.g. report.html#class=dog&outcome=failure&order=worst&page=2&sort=0.3.d */
(function () {
  "use strict";
  var state = {model: "", class: "", size: "", outcome: "", order: "worst", page: 1, sort: ""};
  var PER_PAGE = 20;
  var data, entries = [];

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function fmt(v) { return v === null || v === undefined ? "n/a" : String(v); }

  function readHash() {
    var h = location.hash.replace(/^#/, "");
    h.split("&").forEach(function (kv) {
      if (!kv) { return; }
      var i = kv.indexOf("="), k = decodeURIComponent(i < 0 ? kv : kv.slice(0, i));
      var v = i < 0 ? "" : decodeURIComponent(kv.slice(i + 1));
      if (k in state) { state[k] = k === "page" ? Math.max(1, parseInt(v, 10) || 1) : v; }
    });
  }
  function writeHash() {
    var parts = [];
    for (var k in state) {
      if (state[k] !== "" && !(k === "page" && state[k] === 1)) {
        parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(state[k]));
      }
    }
    history.replaceState(null, "", "#" + parts.join("&"));
  }

  /* ---- sortable tables ---- */
  function sortKey(text) {
    var t = text.trim();
    if (t === "" || t === "n/a" || t === "--") { return null; }
    var m = t.match(/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?/i);
    return m ? parseFloat(m[0]) : t.toLowerCase();
  }
  function sortTable(table, col, dir) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = sortKey(a.cells[col] ? a.cells[col].textContent : ""),
          y = sortKey(b.cells[col] ? b.cells[col].textContent : "");
      if (x === null || y === null) { return x === y ? 0 : (x === null ? 1 : -1); }  // n/a last
      if (typeof x !== typeof y) { return typeof x === "number" ? -1 : 1; }
      return (x < y ? -1 : x > y ? 1 : 0) * (dir === "d" ? -1 : 1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, j) {
      if (j === col) { th.setAttribute("aria-sort", dir === "d" ? "descending" : "ascending"); }
      else { th.removeAttribute("aria-sort"); }
    });
  }
  function setupTables() {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (table, i) {
      table.setAttribute("data-table", i);
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, j) {
        th.addEventListener("click", function () {
          var dir = th.getAttribute("aria-sort") === "ascending" ? "d" : "a";
          sortTable(table, j, dir);
          state.sort = i + "." + j + "." + dir;
          writeHash();
        });
      });
    });
    var m = /^(\d+)\.(\d+)\.([ad])$/.exec(state.sort);
    if (m && tables[+m[1]]) { sortTable(tables[+m[1]], +m[2], m[3]); }
  }

  /* ---- per-sample browser ---- */
  function negMax(e) {
    var best = null;
    e.run.variants.forEach(function (v, k) {
      if (v !== "positive" && e.row.max[k] !== null && (best === null || e.row.max[k] > best)) { best = e.row.max[k]; }
    });
    return best;
  }
  var ORDERS = {
    worst: function (a, b) { return nullLast(a.row.iou, b.row.iou, 1) || a.i - b.i; },
    best: function (a, b) { return nullLast(a.row.iou, b.row.iou, -1) || a.i - b.i; },
    negmax: function (a, b) { return nullLast(negMax(a), negMax(b), -1) || a.i - b.i; },
    dataset: function (a, b) { return a.i - b.i; }
  };
  function nullLast(x, y, sign) {
    if (x === null || y === null) { return x === y ? 0 : (x === null ? 1 : -1); }
    return (x - y) * sign;
  }
  function outcome(row) { return row.ok === null ? "" : (row.ok ? "success" : "failure"); }
  function matches(e) {
    return (!state.model || e.run.label === state.model) && (!state.class || e.row.cls === state.class)
      && (!state.size || e.row.size === state.size) && (!state.outcome || outcome(e.row) === state.outcome);
  }
  function fillSelect(id, values, key) {
    var sel = $(id);
    values.forEach(function (v) { sel.appendChild(el("option", {value: v}, v)); });
    sel.value = state[key];
    if (sel.value !== state[key]) { state[key] = ""; sel.value = ""; }
    sel.addEventListener("change", function () { state[key] = sel.value; state.page = 1; render(); });
  }
  function distinct(f) {
    var seen = {};
    entries.forEach(function (e) { var v = f(e); if (v) { seen[v] = true; } });
    return Object.keys(seen).sort();
  }
  function picture(e, k) {
    var frame = e.row.frame, pic = el("div", {"class": "pic"});
    if (frame >= 0 && data.images[frame]) {
      pic.appendChild(el("img", {"class": "frame", src: data.side + "/frames/" + frame + ".jpg", loading: "lazy",
                                 alt: "frame"}));
    } else { pic.className += " noimg"; }
    if (k !== null && e.row.tile >= 0) {
      var tile = el("div", {"class": "tile"}), n = e.run.variants.length;
      var img = el("img", {src: data.side + "/maps/" + e.run.slug + "/" + e.row.tile + ".png", loading: "lazy",
                           alt: e.run.variants[k]});
      img.style.width = (100 * n) + "%";
      img.style.marginLeft = (-100 * k) + "%";
      tile.appendChild(img);
      pic.appendChild(tile);
    }
    (frame >= 0 ? data.boxes[frame] : []).forEach(function (b) {
      var box = el("div", {"class": "box"});
      box.style.left = (100 * b[0]) + "%"; box.style.top = (100 * b[1]) + "%";
      box.style.width = (100 * (b[2] - b[0])) + "%"; box.style.height = (100 * (b[3] - b[1])) + "%";
      pic.appendChild(box);
    });
    return pic;
  }
  function colourBar(scale) {
    var wrap = el("div", {"class": "cbar-wrap"}), bar = el("div", {"class": "cbar", title: "one colour scale for the row"});
    bar.style.background = "linear-gradient(to top, " + data.colours.join(", ") + ")";
    var labels = el("div", {"class": "cbar-labels"});
    labels.appendChild(el("span", {}, fmt(scale[1])));
    labels.appendChild(el("span", {}, fmt(scale[0])));
    wrap.appendChild(bar); wrap.appendChild(labels);
    return wrap;
  }
  function card(e) {
    var row = e.row, box = el("div", {"class": "sample" + (row.ok === null ? "" : row.ok ? " ok" : " fail")});
    var head = el("div", {"class": "head"});
    head.appendChild(el("b", {}, row.id));
    var bits = [e.run.label, row.cls && "class " + row.cls, row.size && "size " + row.size,
                (e.run.iou_key || "IoU") + " " + fmt(row.iou) + (row.ok === null ? "" : row.ok ? " (success)" : " (failure)")];
    head.appendChild(document.createTextNode(" \u00b7 " + bits.filter(Boolean).join(" \u00b7 ")));
    box.appendChild(head);
    var cells = el("div", {"class": "cells"}), c = el("div", {"class": "cell"});
    c.appendChild(picture(e, null)); c.appendChild(el("span", {}, "image + ground truth"));
    cells.appendChild(c);
    e.run.variants.forEach(function (v, k) {
      var cell = el("div", {"class": "cell"});
      cell.appendChild(picture(e, k));
      cell.appendChild(el("span", {}, v + " max " + fmt(row.max[k])));
      cells.appendChild(cell);
    });
    if (row.scale) { cells.appendChild(colourBar(row.scale)); }
    box.appendChild(cells);
    return box;
  }
  function render() {
    var shown = entries.filter(matches).sort(ORDERS[state.order] || ORDERS.worst);
    var pages = Math.max(1, Math.ceil(shown.length / PER_PAGE));
    state.page = Math.min(state.page, pages);
    var start = (state.page - 1) * PER_PAGE, list = $("sample-list");
    list.textContent = "";
    shown.slice(start, start + PER_PAGE).forEach(function (e) { list.appendChild(card(e)); });
    var count = $("sample-count");
    count.setAttribute("data-count", shown.length);
    count.setAttribute("data-total", entries.length);
    count.setAttribute("data-first", shown.length ? shown[start].row.id : "");
    count.textContent = shown.length + " of " + entries.length + " samples" +
      (shown.length ? ", " + (start + 1) + "\u2013" + Math.min(start + PER_PAGE, shown.length) + " shown" : "");
    $("page-info").textContent = "page " + state.page + " of " + pages;
    $("prev-page").disabled = state.page <= 1;
    $("next-page").disabled = state.page >= pages;
    writeHash();
  }
  function setupBrowser() {
    var node = $("sample-data");
    if (!node) { return; }
    data = JSON.parse(node.textContent);
    data.runs.forEach(function (run) {
      run.rows.forEach(function (row, i) { entries.push({run: run, row: row, i: entries.length}); });
    });
    fillSelect("f-model", data.runs.map(function (r) { return r.label; }), "model");
    fillSelect("f-class", distinct(function (e) { return e.row.cls; }), "class");
    fillSelect("f-size", distinct(function (e) { return e.row.size; }), "size");
    fillSelect("f-outcome", ["success", "failure"], "outcome");
    var order = $("f-order");
    order.value = state.order in ORDERS ? state.order : "worst";
    state.order = order.value;
    order.addEventListener("change", function () { state.order = order.value; state.page = 1; render(); });
    $("prev-page").addEventListener("click", function () { state.page -= 1; render(); });
    $("next-page").addEventListener("click", function () { state.page += 1; render(); });
    render();
  }

  function start() {
    readHash();
    setupTables();
    setupBrowser();
    window.vssleval.ready();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
